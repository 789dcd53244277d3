"""The samples table's optional ``group`` and ``simulate`` columns, read while Snakemake parses.

- ``group``: movies of one group share one model, trained on all their patches
  (``results/groups/<group>/<model>/model.pt``); each is then encoded, tracked and analysed in
  its own jobs, and the group's movies are compared (``results/groups/<group>/``). STEM only.
- ``simulate``: for a simulated sample (path ``simulate``), a YAML mapping of settings of its
  modality's simulator (``simulate_stem`` or ``simulate_pfm``) that this sample changes, e.g.
  ``{seed: 2, n_dopants: 6, hop_probability: 0.2}``. The table's ``frame_time_s`` and
  ``dose_e_per_A2_per_frame`` of a simulated sample are the simulator's keys of the same name
  (the movie's metadata). The simulators take any other keyword of theirs, as in the config.

Only yaml and jsonschema are imported: ``common.smk`` calls this while Snakemake parses.

>>> group_members([("a", "stem", "g"), ("b", "stem", ""), ("c", "stem", "g")])
{'g': ['a', 'c']}
>>> simulator_overrides("{seed: 2, n_frames: 4}", "s1")
{'seed': 2, 'n_frames': 4}
"""

from __future__ import annotations

import yaml

# results/groups/ holds the groups' outputs, beside results/<sample>/
RESERVED_SAMPLE = "groups"
# the samples table's columns a simulated sample passes to its simulator, by modality
ACQUISITION_KEYS = {"stem": ("frame_time_s", "dose_e_per_A2_per_frame"), "pfm": ("frame_time_s",)}


def group_members(rows) -> dict[str, list[str]]:
    """The movies of every group, in the table's order, from ``(sample, modality, group)`` rows
    (group empty or None: in no group). ValueError: a PFM sample in a group, or a sample named
    :data:`RESERVED_SAMPLE`."""
    groups: dict[str, list[str]] = {}
    for sample, modality, group in rows:
        if sample == RESERVED_SAMPLE:
            raise ValueError(f"sample name '{RESERVED_SAMPLE}' is reserved: results/{RESERVED_SAMPLE}/ holds the "
                             "groups' outputs; rename the sample")
        if not group:
            continue
        if modality != "stem":
            raise ValueError(f"sample '{sample}': only STEM movies form groups (a PFM sample trains one model per "
                             f"window size); empty its group '{group}'")
        groups.setdefault(group, []).append(sample)
    return groups


def simulator_overrides(text, sample: str) -> dict:
    """The settings a sample's ``simulate`` cell changes: a YAML mapping of names to values (empty:
    none). ValueError naming the sample when it is not a mapping of names."""
    text = (text or "").strip()
    if not text:
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"sample '{sample}': simulate must be a YAML mapping such as {{seed: 2, n_dopants: 6}}, "
                         f"got '{text}' ({str(err).splitlines()[0]})") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"sample '{sample}': simulate must be a YAML mapping such as {{seed: 2, n_dopants: 6}}, "
                         f"got '{text}'")
    return value


def simulator_settings(sample: str, modality: str, section: dict, section_schema: dict, text="",
                       acquisition: dict | None = None) -> dict:
    """A simulated sample's simulator settings: the config's ``section`` (``simulate_stem`` or
    ``simulate_pfm``, defaults filled in), changed by the table's acquisition columns of that
    modality (:data:`ACQUISITION_KEYS`; None or NaN: not given) and its ``simulate`` cell, checked against
    the section's schema. ValueError naming the sample and the key."""
    import jsonschema

    from .errors import table_number  # numpy: not at parse time
    from .vocabulary import ACQUISITION_UNITS

    changes = {k: v for k, v in (acquisition or {}).items()
               if k in ACQUISITION_KEYS[modality] and table_number(v, k, ACQUISITION_UNITS[k], positive=True) is not None}
    changes.update(simulator_overrides(text, sample))
    settings = {**section, **changes}
    validator = jsonschema.validators.validator_for(section_schema)(section_schema)
    for error in validator.iter_errors(settings):
        where = ".".join(str(p) for p in error.absolute_path) or "simulate"
        raise ValueError(f"sample '{sample}': simulator setting {where}: {error.message}")
    return settings

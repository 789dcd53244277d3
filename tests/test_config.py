"""One parameter contract: every default in the config schema, and nowhere else."""

from __future__ import annotations

import ast
import copy

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import ROOT
from rvae_pathways.core.config import CONFIG_SCHEMA, SAMPLES_SCHEMA, defaults, unknown_columns, unknown_keys

LIBRARY = ROOT / "workflow" / "scripts" / "rvae_pathways"
SHIPPED = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())

# Parameters named like a config key that are not that key: (sub-package or module, name) and why.
NOT_CONFIG_KEYS = {
    ("pathways", "seed"): "the class fit's seed defaults to 0; the rules pass rvae.seed",
    ("scores", "seed"): "the scores' own classifier seeds",
    ("figures", "seed"): "which tracks a figure samples",
    ("stem", "seed"): "the GMM baseline's seed",
    ("rvae", "batch_size"): "evaluation and encoding batches bound memory; rvae.hyper.batch_size is the training batch",
    ("sim.physics", "*"): "the physics corpus cases (sim.physics_*) are not configured by the workflow (their own frames, dose, seed)",
    ("sim", "background"): "the simulators' background level in counts, not atoms.background",
}


def excused(module: str, name: str) -> bool:
    """Whether a module (``sim.physics_au``) is excused for a name by an entry naming a prefix of it."""
    return any(module.startswith(prefix) and key in (name, "*") for prefix, key in NOT_CONFIG_KEYS)


def leaves(node: dict, path=()) -> dict:
    out = {}
    for key, value in node.items():
        if isinstance(value, dict) and value:
            out.update(leaves(value, path + (key,)))
        else:
            out[path + (key,)] = value
    return out


def test_an_empty_config_is_filled_with_the_shipped_values():
    # deleting a line from config.yaml must not change the science: the schema's default is the shipped value
    config = {"samples": SHIPPED["samples"]}
    validate(config, str(CONFIG_SCHEMA))
    filled_in = leaves(config)
    for path, value in leaves(SHIPPED).items():
        assert filled_in[path] == value, f"{'.'.join(path)}: schema default {filled_in[path]!r}, config.yaml {value!r}"
    assert config == defaults() | {"samples": SHIPPED["samples"]}


def test_every_config_key_has_a_default_and_a_description():
    def walk(node, path):
        for key, child in node.get("properties", {}).items():
            assert "description" in child, f"{path}{key} has no description"
            assert "default" in child, f"{path}{key} has no default"
            walk(child, f"{path}{key}.")

    walk(yaml.safe_load(CONFIG_SCHEMA.read_text()), "")


def test_a_partial_section_keeps_the_defaults_of_its_other_keys():
    config = {"samples": "s.tsv", "atoms": {"smooth": 0.4}, "rvae": {"hyper": {"restarts": 1}}}
    validate(config, str(CONFIG_SCHEMA))
    assert config["atoms"] == defaults("atoms") | {"smooth": 0.4}
    assert config["rvae"]["hyper"] == defaults("rvae", "hyper") | {"restarts": 1}
    assert config["rvae"]["epochs"] == defaults("rvae")["epochs"]


@pytest.mark.parametrize("config", [{"atoms": {"smoth": 0.4}}, {"atomz": {"smooth": 0.4}}])
def test_a_misspelt_key_is_refused(config):
    with pytest.raises(WorkflowError):
        validate({"samples": "s.tsv", **config}, str(CONFIG_SCHEMA))


def test_unknown_keys_and_columns_are_named_with_the_nearest_valid_one():
    config = {"samples": "s.tsv", "atomz": {}, "atoms": {"smoth": 1}, "rvae": {"hyper": {"restart": 1}},
              "simulate_stem": {"hop_probability": 0.2}}  # the simulators take any keyword of theirs
    assert unknown_keys(config) == ["unknown config key 'atomz'; did you mean 'atoms'?",
                                    "unknown config key 'atoms.smoth'; did you mean 'smooth'?",
                                    "unknown config key 'rvae.hyper.restart'; did you mean 'restarts'?"]
    assert unknown_keys(defaults()) == []
    assert unknown_columns(["sample", "path", "frame_time", "qqq"]) == [
        "unknown column 'frame_time'; did you mean 'frame_time_s'?",
        "unknown column 'qqq'; valid: contrast, dose_e_per_A2_per_frame, frame_time_s, group, modality, path, "
        "pixel_size_nm, sample, simulate, spacing_nm"]


def test_the_config_readme_describes_every_key_and_column():
    readme = (ROOT / "config" / "README.md").read_text()
    missing = [".".join(path) for path in leaves(defaults()) if f"`{'.'.join(path)}`" not in readme
               and not (path[:2] == ("pfm", "hyper"))]
    missing += [f"column {name}" for name in yaml.safe_load(SAMPLES_SCHEMA.read_text())["properties"]
                if f"| `{name}` |" not in readme]
    assert not missing, f"config/README.md does not describe: {missing}"


def test_defaults_are_copies():
    a = defaults("rvae")
    a["hyper"]["restarts"] = 99
    assert defaults("rvae")["hyper"]["restarts"] == SHIPPED["rvae"]["hyper"]["restarts"]
    assert copy.deepcopy(defaults()) == defaults()


def test_no_library_signature_holds_a_second_default():
    """A keyword default of a parameter named like a config key reads the schema, never a literal."""
    names = {path[-1] for path in leaves(defaults())}
    literal = []
    for path in LIBRARY.rglob("*.py"):
        module = ".".join(path.relative_to(LIBRARY).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            args = node.args.posonlyargs + node.args.args
            pairs = list(zip(args[len(args) - len(node.args.defaults):], node.args.defaults))
            pairs += [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
            for arg, default in pairs:
                if arg.arg in names and not excused(module, arg.arg) and isinstance(
                        default, (ast.Constant, ast.Tuple, ast.List)) and not (
                        isinstance(default, ast.Constant) and default.value is None):
                    literal.append(f"{path.relative_to(LIBRARY)}:{node.name}({arg.arg}={ast.unparse(default)})")
    assert not literal, "literal defaults of config keys (read them from rvae_pathways.core.config.defaults):\n" + \
        "\n".join(literal)

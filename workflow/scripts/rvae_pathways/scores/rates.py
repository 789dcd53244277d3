"""Rates estimated along tracks against the simulator's settings (``rate_scores.json``).

The estimates come from the pipeline alone: the Gaussian classes of ``analyse_pathways``, merged
into structural units by the name each class gets from the truth's majority structure
(:func:`~rvae_pathways.scores.pathways.majority_structure`: the only use of the truth besides the
true rates), the Markov model and formation counts of :mod:`rvae_pathways.pathways.rates`.

- **Dopant hop.** The simulator moves each Si, with probability ``hop_probability`` per frame,
  to a bonded carbon's site (:mod:`rvae_pathways.sim.stem_sheet`). Tracks follow sites, so the
  Si's old site leaves the Si unit in the frame of the hop: the estimate is the Markov model's
  probability per frame of leaving the Si unit (``leave``), its 95 % interval the Dirichlet
  posterior's; the true rate is ``hop_probability``, per Si and frame, the same quantity. (A
  hop needs a carbon neighbour inside the image; on the demo every Si has one.) The realised
  share, true hops over the Si atoms of the frames before, says how far chance took the movie
  from the setting.
- **Stone-Wales formation.** The simulator forms Poisson(``stone_wales_per_frame``) defects per
  frame in the field of view. The estimate counts the unit changes "pristine C" -> "C in 5-7
  defect" that persist (``find_events`` on the units, ``min_persist`` frames), clustered per
  frame within ``formation_radius_spacings`` (one cluster per defect), over the frames in which
  a formation can be confirmed (``n_frames - min_persist``), with the Jeffreys interval of a
  Poisson count. It is judged only where at least ``rate_min_events`` formations were found.
"""

from __future__ import annotations

import numpy as np

from ..core.config import defaults
from ..core.vocabulary import CLASS_NAMES, EVENT_KINDS
from ..pathways.kinetics import DEFECT, PRISTINE, SILICON, find_events, physical_rates
from ..pathways.rates import INTERVAL_METHOD, count_formations, dwell_times, markov_model, poisson_rate
from ..pathways.units import unit_labels, units_from_names

__all__ = ["realised_rates", "score_rates"]

PATHWAYS = defaults("pathways")


def _truth(truth, key):
    value = truth[key]
    return np.asarray(getattr(value, "values", value))


def realised_rates(truth) -> dict:
    """What the simulated movie holds: true hops per Si atom and frame, Stone-Wales defects per frame."""
    frame = _truth(truth, "true_frame").astype(np.int64)
    n_frames = int(frame.max()) + 1 if len(frame) else 0
    kind = _truth(truth, "true_event_kind").astype(np.int64)
    ev_frame = _truth(truth, "true_event_frame").astype(np.int64)
    si_frames = int(((_truth(truth, "true_class") == CLASS_NAMES.index(SILICON)) & (frame < n_frames - 1)).sum())
    hops = int(((kind == EVENT_KINDS.index("dopant hop")) & (ev_frame >= 1)).sum())
    rotations = int((kind == EVENT_KINDS.index("Stone-Wales")).sum())
    return {
        "dopant_hop": {"n_true": hops, "si_frames": si_frames, "per_frame": hops / si_frames if si_frames else None},
        "stone_wales": {"n_true": rotations, "frames": max(n_frames - 1, 0),
                        "per_frame": rotations / (n_frames - 1) if n_frames > 1 else None},
    }


def _interval_block(estimate, low, high, true_rate, frame_time_s, dose) -> dict:
    """The per-frame estimate and interval, whether the interval covers the truth, and the physical units."""
    block = {"estimate_per_frame": estimate, "ci95_per_frame": [low, high],
             "covered": None if estimate is None or true_rate is None else bool(low <= true_rate <= high)}
    for unit, scale in (("per_second", frame_time_s), ("per_dose", dose)):
        scaled = physical_rates([estimate, low, high], frame_time_s, dose)[unit]
        block[unit] = None if scale is None else {"estimate": scaled[0], "ci95": scaled[1:]}
    return block


def _hop(markov, names, true_rate, realised, acq) -> dict:
    block = {"definition": "probability per frame that a site of the Si unit leaves it (the dopant hopped away); "
                           "true: the simulator's hop_probability, per Si atom and frame",
             "true_rate_per_frame": true_rate, "realised_per_frame": realised["per_frame"],
             "n_true": realised["n_true"]}
    if SILICON not in names:
        return {**block, **_interval_block(None, None, None, true_rate, **acq), "n_steps": 0, "n_left": 0}
    leave = markov["leave"][names.index(SILICON)]
    return {**block, **_interval_block(leave["estimate"], leave["low"], leave["high"], true_rate, **acq),
            "n_steps": leave["n_steps"], "n_left": leave["n_left"]}


def _stone_wales(units, track, frame, y, x, names, true_rate, realised, settings, acq) -> dict:
    block = {"definition": "Stone-Wales defects formed per frame in the field of view: persistent unit changes "
                           "pristine C -> C in 5-7 defect clustered per frame; true: the simulator's "
                           "stone_wales_per_frame", "true_rate_per_frame": true_rate,
             "realised_per_frame": realised["per_frame"], "n_true": realised["n_true"],
             "min_events": settings["min_events"]}
    exposure = int(frame.max() - frame.min() + 1 - settings["min_persist"]) if len(frame) else 0
    if PRISTINE not in names or DEFECT not in names or exposure <= 0:
        return {**block, **_interval_block(None, None, None, true_rate, **acq), "n_found": 0, "enough": False}
    events = find_events(units, track, frame, y, x, min_persist=settings["min_persist"])
    found = count_formations(events, [names.index(PRISTINE)], [names.index(DEFECT)], settings["radius_px"])
    rate = poisson_rate(len(found), exposure)
    enough = len(found) >= settings["min_events"]
    out = {**block, **_interval_block(rate["estimate"], rate["low"], rate["high"], true_rate, **acq),
           "n_found": len(found), "frames_exposed": exposure, "enough": enough,
           "formations": found}
    if not enough:
        out["covered"] = None  # too few to judge
    return out


def score_rates(labels, track, frame, y, x, class_structure, truth, spacing_px,
                min_persist=PATHWAYS["min_persist_frames"],
                formation_radius_spacings=PATHWAYS["formation_radius_spacings"],
                min_events=PATHWAYS["rate_min_events"], frame_time_s=None, dose_e_per_A2_per_frame=None) -> dict:
    """``rate_scores.json``: the dopant hop and Stone-Wales formation rates against the simulator's.

    Parameters
    ----------
    labels, track, frame : (n,) int arrays, one row per observation: Gaussian class, track (< 0:
        none), recorded frame
    y, x : (n,) float arrays, positions (px)
    class_structure : dict {class: structure name} (``majority_structure``)
    truth : xarray.Dataset or mapping: the simulator's output (attrs ``hop_probability`` and
        ``stone_wales_per_frame``; ``true_*`` for the realised counts)
    spacing_px : float, the atom spacing in pixels
    min_persist, formation_radius_spacings, min_events : see the config's ``pathways``
    frame_time_s, dose_e_per_A2_per_frame : float or None

    Returns
    -------
    dict (JSON-ready): ``interval``, ``units`` (how they were made, their names and the class of
    each), ``dopant_hop`` and ``stone_wales`` (``true_rate_per_frame``, ``estimate_per_frame``,
    ``ci95_per_frame`` [low, high], ``covered``, ``realised_per_frame``, counts, and
    ``per_second`` / ``per_dose`` where known), ``markov`` and ``dwell_times`` on these units.
    """
    unit_of_class, names = units_from_names(class_structure, CLASS_NAMES)
    units = unit_labels(labels, unit_of_class)
    track, frame = np.asarray(track, np.int64), np.asarray(frame, np.int64)
    y, x = np.asarray(y, float), np.asarray(x, float)
    acq = {"frame_time_s": frame_time_s, "dose": dose_e_per_A2_per_frame}
    markov = markov_model(units, track, frame, len(names), names, frame_time_s=frame_time_s,
                          dose_e_per_A2_per_frame=dose_e_per_A2_per_frame)
    attrs = getattr(truth, "attrs", {})
    realised = realised_rates(truth)
    settings = {"min_persist": int(min_persist), "min_events": int(min_events),
                "radius_px": float(formation_radius_spacings) * float(spacing_px)}
    return {
        "interval": INTERVAL_METHOD + "; formations: Jeffreys interval of a Poisson count",
        "units": {"method": "classes named by the truth's majority structure, one unit per name",
                  "names": names, "unit_of_class": unit_of_class.tolist()},
        "dopant_hop": _hop(markov, names, _attr(attrs, "hop_probability"), realised["dopant_hop"], acq),
        "stone_wales": _stone_wales(units, track, frame, y, x, names, _attr(attrs, "stone_wales_per_frame"),
                                    realised["stone_wales"], settings, acq),
        "markov": markov,
        "dwell_times": dwell_times(units, track, frame, len(names), names),
    }


def _attr(attrs, key):
    value = attrs.get(key)
    return None if value is None else float(value)

"""Rates with uncertainty: a Markov model of the structural units along tracks, dwell times, and
event rates.

The unit of every observation (an atom seen in a frame; :mod:`rvae_pathways.pathways.units`) along
its track is read as a discrete-time Markov chain with one step per frame:

- :func:`markov_model`: ``counts[i, j]``, the steps from unit ``i`` in one frame to unit ``j`` in
  the next (steps over an unseen or skipped frame are left out and counted apart), the
  transition probabilities per frame ``counts[i, j] / n_i`` (the maximum-likelihood estimate)
  and their 95 % intervals from the **Dirichlet posterior** of each row. The likelihood of a
  Markov chain is a product of one multinomial per row, so with a Dirichlet prior each row's
  posterior is ``Dirichlet(counts[i] + a)``; the prior ``a = 1/K`` per cell (K units) adds one
  pseudo-step per row, spread evenly (for two units it is the Jeffreys prior). The marginal of
  one entry is ``Beta(c_ij + a, n_i - c_ij + (K - 1) a)``, that of leaving unit ``i``
  ``Beta(n_i - c_ii + (K - 1) a, c_ii + a)``: the intervals are their 2.5 % and 97.5 %
  quantiles, exact, no sampling. Why not a bootstrap over tracks: the rare units (Si, defects)
  live on a handful of tracks, and a bootstrap over a handful of tracks gives a zero-width
  interval wherever no transition was seen; the posterior does not, and for a binomial
  proportion its interval keeps close to its nominal coverage down to a few events.
  Probabilities per frame become rates per second and per dose (``physical_rates``) where the
  frame time and the dose are known: ``p / t`` and ``p / D``.
- :func:`dwell_times`: the runs of one unit along a track. A run ends when the track is seen in
  another unit (its length: the frames from its first observation to that change); a run that
  reaches the track's last observation (the end of the movie, or the track lost) is
  right-censored: it lasted at least that long. Kaplan-Meier survival per unit. A run that
  begins with its track (the movie's first frame, or the atom first found) is counted from its
  first observation: for a memoryless unit, as the Markov model assumes, the time still to go
  does not depend on the time already spent.
- :func:`poisson_rate`: events per frame (e.g. defects formed in the field of view) with the
  Jeffreys interval of a Poisson count, ``Gamma(n + 1/2)`` quantiles over the exposure.
- :func:`count_formations`: unit changes of one kind in one frame clustered in space (single
  linkage), one cluster per formation: a Stone-Wales defect changes up to 16 atoms at once.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError, check_int_array, check_number
from .kinetics import RATE_UNITS, physical_rates

__all__ = ["INTERVAL_METHOD", "count_formations", "dwell_times", "leave_probability", "markov_model",
           "poisson_rate", "unit_steps"]

LEVEL = 0.95
INTERVAL_METHOD = ("Dirichlet posterior per row of the transition matrix (prior 1/K per cell for K units), "
                   "equal-tailed 95 % interval of each entry's Beta marginal")


def _json(value):
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _sorted_rows(units, track, frame):
    units = check_int_array("units", units)
    track = check_int_array("track", track, len(units))
    frame = check_int_array("frame", frame, len(units))
    rows = np.flatnonzero((track >= 0) & (units >= 0))
    rows = rows[np.lexsort((frame[rows], track[rows]))]
    if np.any((track[rows[1:]] == track[rows[:-1]]) & (frame[rows[1:]] == frame[rows[:-1]])):
        raise InputError("a track holds two observations in one frame; tracks must be one atom per frame")
    return units, track, frame, rows


def unit_steps(units, track, frame):
    """Steps between consecutive observations of each track: ``(from_row, to_row, gap in frames)``.

    Rows with a negative track or unit are left out.
    """
    units, track, frame, rows = _sorted_rows(units, track, frame)
    a, b = rows[:-1], rows[1:]
    same = track[a] == track[b]
    a, b = a[same], b[same]
    return a, b, frame[b] - frame[a]


def _beta_interval(x, y, level=LEVEL):
    """Equal-tailed interval of Beta(x, y)."""
    from scipy.stats import beta

    tail = (1 - level) / 2
    return float(beta.ppf(tail, x, y)), float(beta.ppf(1 - tail, x, y))


def leave_probability(counts, unit, level=LEVEL) -> dict:
    """Probability per frame of leaving ``unit`` (any other unit next frame) with its posterior interval.

    ``counts``: the (K, K) single-frame step counts. Returns ``estimate`` (share of the unit's
    steps that left it; None without steps), ``low``, ``high`` (the Beta marginal of the
    row's Dirichlet posterior, see the module docstring), ``n_steps`` and ``n_left``.
    """
    counts = np.asarray(counts, dtype=float)
    k = counts.shape[0]
    a = 1.0 / k
    n = counts[unit].sum()
    left = n - counts[unit, unit]
    low, high = _beta_interval(left + (k - 1) * a, counts[unit, unit] + a, level) if k > 1 else (0.0, 0.0)
    return {"estimate": _json(left / n) if n else None, "low": low, "high": high,
            "n_steps": int(n), "n_left": int(left)}


def markov_model(units, track, frame, n_units, names=None, level=LEVEL, frame_time_s=None,
                 dose_e_per_A2_per_frame=None) -> dict:
    """The Markov model of the units along tracks: counts, probabilities per frame, 95 % intervals.

    Parameters
    ----------
    units, track, frame : (n,) int arrays, one row per observation (negative unit or track: left
        out); ``frame`` in recorded frames (skipped frames counted), so a step over a skipped
        frame is a gap.
    n_units : int
    names : list of str, optional (default ``"unit <i>"``)
    level : float, the intervals' probability
    frame_time_s, dose_e_per_A2_per_frame : float, optional

    Returns
    -------
    dict (JSON-ready): ``interval`` (the method), ``prior_per_cell``, ``level``, ``units``
    (names), ``counts`` (K x K single-frame steps), ``n_steps``, ``n_gap_steps`` (left out),
    ``per_frame`` ({``estimate``, ``low``, ``high``}: K x K, None for a unit without steps),
    ``leave`` (per unit, :func:`leave_probability` plus ``mean_dwell_frames`` = 1 / estimate),
    ``per_second`` and ``per_dose`` (``per_frame`` and the ``leave`` estimates and intervals
    scaled, None where unknown), ``rate_units``.
    """
    n_units = check_number("n_units", n_units, low=1, integer=True)
    level = check_number("level", level, low=0, high=1, low_open=True)
    units = check_int_array("units", units)
    if len(units) and units.max() >= n_units:
        raise InputError(f"units must lie below n_units={n_units}, got {units.max()}")
    a, b, gap = unit_steps(units, track, frame)
    one = gap == 1
    counts = np.zeros((n_units, n_units), np.int64)
    np.add.at(counts, (units[a[one]], units[b[one]]), 1)
    prior = 1.0 / n_units
    est, low, high = (np.full((n_units, n_units), np.nan) for _ in range(3))
    for i in range(n_units):
        n = counts[i].sum()
        for j in range(n_units):
            low[i, j], high[i, j] = _beta_interval(counts[i, j] + prior, n - counts[i, j] + (n_units - 1) * prior,
                                                   level)
            if n:
                est[i, j] = counts[i, j] / n
    leave = [leave_probability(counts, i, level) for i in range(n_units)]
    for row in leave:
        row["mean_dwell_frames"] = None if not row["estimate"] else 1.0 / row["estimate"]
    per_frame = {"estimate": [[_json(v) for v in r] for r in est], "low": low.tolist(), "high": high.tolist()}
    scaled = {key: [[row[key] for row in leave]] for key in ("estimate", "low", "high")}
    acq = {"frame_time_s": frame_time_s, "dose_e_per_A2_per_frame": dose_e_per_A2_per_frame}
    physical = {key: physical_rates(value, **acq) for key, value in per_frame.items()}
    left = {key: physical_rates(value[0], **acq) for key, value in scaled.items()}
    return {
        "interval": INTERVAL_METHOD, "prior_per_cell": prior, "level": level,
        "units": list(names) if names is not None else [f"unit {u}" for u in range(n_units)],
        "counts": counts.tolist(), "n_steps": int(one.sum()), "n_gap_steps": int((~one).sum()),
        "per_frame": per_frame, "leave": leave, "rate_units": RATE_UNITS, **acq,
        **{unit: None if physical["estimate"][unit] is None else {
            **{key: physical[key][unit] for key in per_frame},
            "leave": {key: left[key][unit] for key in scaled}} for unit in ("per_second", "per_dose")},
    }


def _runs(units, track, frame):
    """Runs of one unit along each track: unit, length (frames until the change seen, or seen
    without a change) and whether it ended with a change (else right-censored)."""
    units, track, frame, rows = _sorted_rows(units, track, frame)
    if len(rows) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    t, u, f = track[rows], units[rows], frame[rows]
    start = np.flatnonzero(np.r_[True, (t[1:] != t[:-1]) | (u[1:] != u[:-1])])
    end = np.r_[start[1:], len(rows)]  # one past each run's last observation
    changed = np.zeros(len(start), bool)
    changed[:-1] = t[start[1:]] == t[start[:-1]]  # the next run is on the same track
    length = np.where(changed, f[np.minimum(end, len(rows) - 1)] - f[start], f[end - 1] - f[start])
    return u[start], length.astype(np.int64), changed


def dwell_times(units, track, frame, n_units, names=None) -> dict:
    """Dwell times per unit with the movie's (and the track's) ends as censoring: Kaplan-Meier.

    A run lasting ``d`` frames until its unit changed is an event at ``d``; a run that reaches its
    track's last observation after ``c`` frames is censored at ``c`` (it lasted longer than
    ``c``). Survival ``S(d)`` = the probability that a stay in the unit lasts longer than ``d``
    frames, ``prod_{t <= d} (1 - ended at t / at risk at t)``.

    Returns
    -------
    dict (JSON-ready): ``units`` (names) and ``per_unit``, one dict per unit: ``n_runs``,
    ``n_ended``, ``n_censored``, ``frames`` (1..longest run), ``survival`` and ``at_risk`` at
    each, ``median_frames`` (first ``d`` with ``S(d) <= 0.5``; None if never) and ``ended``
    and ``censored`` (the run lengths).
    """
    n_units = check_number("n_units", n_units, low=1, integer=True)
    unit, length, ended = _runs(units, track, frame)
    out = []
    for k in range(n_units):
        mine = unit == k
        d_end, d_cens = length[mine & ended], length[mine & ~ended]
        longest = int(max(d_end.max(initial=0), d_cens.max(initial=0)))
        frames = np.arange(1, longest + 1)
        at_risk = np.array([(d_end >= t).sum() + (d_cens >= t).sum() for t in frames], dtype=float)
        died = np.array([(d_end == t).sum() for t in frames], dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            survival = np.cumprod(np.where(at_risk > 0, 1 - died / np.where(at_risk > 0, at_risk, 1), 1.0))
        below = np.flatnonzero(survival <= 0.5)
        out.append({
            "n_runs": int(mine.sum()), "n_ended": int(len(d_end)), "n_censored": int(len(d_cens)),
            "frames": frames.tolist(), "survival": survival.tolist(), "at_risk": at_risk.astype(int).tolist(),
            "median_frames": int(frames[below[0]]) if len(below) else None,
            "ended": sorted(d_end.tolist()), "censored": sorted(d_cens.tolist()),
        })
    return {"units": list(names) if names is not None else [f"unit {u}" for u in range(n_units)],
            "censoring": "a run that reaches its track's last observation (movie end, track lost) is "
                         "right-censored; a run that begins with its track counts from its first observation",
            "per_unit": out}


def poisson_rate(n_events, exposure, level=LEVEL) -> dict:
    """Events per unit of exposure (e.g. per frame) with the Jeffreys interval of a Poisson count.

    Returns ``estimate`` (``n / exposure``), ``low`` and ``high`` (``Gamma(n + 1/2, 1)``
    quantiles over the exposure; ``low`` is 0 for no event), ``n_events`` and ``exposure``.
    """
    from scipy.stats import gamma

    n_events = check_number("n_events", n_events, low=0, integer=True)
    exposure = check_number("exposure", exposure, low=0, low_open=True)
    tail = (1 - level) / 2
    low = 0.0 if n_events == 0 else float(gamma.ppf(tail, n_events + 0.5)) / exposure
    high = float(gamma.ppf(1 - tail, n_events + 0.5)) / exposure
    return {"estimate": n_events / exposure, "low": low, "high": high, "n_events": int(n_events),
            "exposure": float(exposure)}


def count_formations(events, from_units, to_units, radius_px) -> list[dict]:
    """Unit changes ``from_units -> to_units`` clustered per frame: one formation per cluster.

    Two changes of one frame within ``radius_px`` of each other join one cluster (single
    linkage). ``events``: a table with ``frame``, ``y``, ``x``, ``from_class``, ``to_class``
    (``find_events`` run on units). Returns one dict per formation: ``frame``, ``y``, ``x`` (the
    cluster's mean) and ``n_changes``, by frame.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    radius_px = check_number("radius_px", radius_px, low=0)
    pick = np.isin(np.asarray(events["from_class"]), list(from_units)) & \
        np.isin(np.asarray(events["to_class"]), list(to_units))
    frame = np.asarray(events["frame"])[pick]
    yx = np.stack([np.asarray(events["y"], float)[pick], np.asarray(events["x"], float)[pick]], axis=1)
    out = []
    for f in np.unique(frame):
        here = yx[frame == f]
        pairs = cKDTree(here).query_pairs(radius_px, output_type="ndarray")
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(here), len(here)))
        n, label = connected_components(graph, directed=False)
        for c in range(n):
            members = here[label == c]
            out.append({"frame": int(f), "y": float(members[:, 0].mean()), "x": float(members[:, 1].mean()),
                        "n_changes": int(len(members))})
    return out

"""Structural classes, class kinetics, transitions and events from content latents along tracks.

The steps, each a pure function on arrays (one row per observation: an atom seen in a frame that
has a patch, hence a latent; ``track`` from :mod:`rvae_pathways.pathways.tracking`):

1. :func:`fit_classes`: a Gaussian mixture on the standardised content latents cuts the latent
   space into classes (the number fixed, or chosen by BIC); class 0 is the most populous.
   Optionally one mixture per group of atoms (:func:`coordination_groups`: lattice atoms with
   three neighbours, under-coordinated atoms at edges), so that no class mixes the groups.
2. :func:`class_fractions`: the share of each class per frame (the kinetics curve).
3. :func:`transitions`: class-to-class counts and per-frame rates between consecutive
   observations of one track.
4. :func:`find_events`: class changes along a track that persist (a one-frame flicker is no
   event).
5. :func:`rvae_pathways.scores.pathways.score_events` (simulated data only): found events against
   the simulator's dopant hops and Stone-Wales rotations, after naming each latent class by the
   structure most of its patches have (:func:`~rvae_pathways.scores.pathways.majority_structure`).

What one true event looks like in tracks (see :mod:`rvae_pathways.sim.stem`):

- **Dopant hop.** The Si swaps site with a bonded carbon and keeps its id: the Si id moves from
  site A to site B and the carbon's id from B to A. Tracks that follow *sites* (a tracker whose
  largest step is under a bond length, as :mod:`rvae_pathways.pathways.tracking`) see two class changes
  one bond apart in the same frame: A goes out of the Si class, B comes into it. Tracks that
  follow the simulator's *ids* (``true_id`` as an oracle) see no Si class change at all (the Si
  stays Si, the carbon stays carbon); only neighbours of the Si change environment.
- **Stone-Wales rotation.** Two carbons turn about their bond's midpoint (each moves ~0.7 bond
  lengths) and they and their four bonded carbons become "C in 5-7 defect" (0.5 to 1.3 bond
  lengths from the midpoint). The two hexagons beside the bond become pentagons and the two at
  its ends heptagons: their other ten atoms stay "pristine C" in the simulator's labels, but
  their rings changed and a patch two spacings across shows it, so an rVAE class may change
  there too. A site tracker loses the two turned atoms (they start new tracks, which have no
  earlier class), so up to 14 changes remain, within about two bonds of the rotated pair.

:func:`find_events` drops flicker by persistence (``min_persist`` observations in the new
class); optionally (``swap_radius_px``) it also keeps a short-lived change that is one half of a
swap between neighbouring tracks, which is what a hop and its hop back look like.

:func:`~rvae_pathways.scores.pathways.score_events` therefore matches a predicted event to a true one when it lies within the
tolerance of any site of the true event's *footprint* (hop: both sites; Stone-Wales: the 16 atoms
of its two pentagons and two heptagons), and lets one true event absorb several predicted events
(2 for a hop, 16 for a Stone-Wales defect), all counting as true positives; a predicted event beyond that is a false
positive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.config import defaults
from ..core.errors import InputError, check_int_array, check_number

__all__ = ["fit_classes", "coordination_groups", "class_fractions", "transitions", "physical_rates", "find_events"]


PRISTINE, SILICON, DEFECT = "pristine C", "Si", "C in 5-7 defect"
PATHWAYS = defaults("pathways")  # keyword defaults: the config schema's
N_INIT = 3  # Gaussian mixture restarts per number of components
MIN_ROWS_PER_CLASS = 20  # with groups: a group of n rows gets at most n // 20 classes

# --------------------------------------------------------------------------------------------
# input checks


def _json_float(v):
    return None if v is None or not np.isfinite(v) else float(v)


# --------------------------------------------------------------------------------------------
# 1. classes


def fit_classes(z, n_components=PATHWAYS["n_classes"], bic_range=tuple(PATHWAYS["bic_range"]), seed=0, groups=None):
    """Cut the content latents into classes with a Gaussian mixture, optionally within groups.

    Each latent is standardised (zero mean, unit standard deviation) before fitting a
    full-covariance :class:`sklearn.mixture.GaussianMixture` (3 restarts, ``random_state=seed``),
    so the result depends only on the input and the seed.

    With ``groups`` (one value per row, e.g. each atom's coordination: see
    :func:`coordination_groups`), every group gets a mixture of its own (standardised on its own
    rows), so no class mixes groups: the latents describe the structure, the groups say what the
    atom finder already knows for sure. A group of n rows gets at most ``n //``
    :data:`MIN_ROWS_PER_CLASS` components (at least 1), and fewer than the low end of
    ``bic_range`` when that is more.

    Parameters
    ----------
    z : (n, k) array
        Content latents (e.g. ``z_mean`` of ``latents.zarr``); a 1-D array is one latent.
    n_components : int or None
        Number of classes (per group); None chooses the number with the lowest BIC in
        ``bic_range`` (per group).
    bic_range : (int, int)
        Smallest and largest number of components tried (both included) when
        ``n_components`` is None.
    seed : int
    groups : (n,) int array or None

    Returns
    -------
    labels : (n,) int64 array
        Class of each row (the component of highest posterior), renumbered by population:
        class 0 holds the most rows, class 1 the next, ...; ties keep the fitting order (groups
        in increasing value, then the mixture's order).
    info : dict (JSON-ready)
        ``k`` (classes), ``chosen_by`` ("bic" or "fixed"), ``bic`` ({k as str: BIC}; with
        groups, {group as str: {k as str: BIC}}), ``counts``, ``weights`` (share of all rows),
        ``means`` and ``covariances`` (in the units of ``z``) in class order, ``group`` of
        each class (None without groups), ``standardise`` ({"mean", "scale"}, per group with
        groups) and ``seed``.
    """
    z = np.asarray(z, dtype=float)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2 or len(z) == 0:
        raise InputError(f"z must be an (n, k) array with n > 0, got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise InputError("z holds NaN or infinite values")
    seed = check_number("seed", seed, low=0, integer=True)
    if n_components is not None:
        n_components = check_number("n_components", n_components, low=1, integer=True)
        ks = [n_components]
    else:
        try:
            lo, hi = (int(v) for v in bic_range)
        except (TypeError, ValueError):
            raise InputError(f"bic_range must be two whole numbers, got {bic_range!r}") from None
        if lo < 1 or hi < lo:
            raise InputError(f"bic_range must be (low, high) with 1 <= low <= high, got {bic_range!r}")
        ks = list(range(lo, hi + 1))
    if groups is None:
        if max(ks) > len(z):
            raise InputError(f"{max(ks)} classes need at least as many rows of z, got {len(z)}")
        group_of = np.zeros(len(z), np.int64)
    else:
        group_of = check_int_array("groups", groups, len(z))

    raw = np.empty(len(z), np.int64)
    parts, bic, standardise = [], {}, {}
    for g in np.unique(group_of):
        rows = np.flatnonzero(group_of == g)
        cap = len(z) if groups is None else max(1, len(rows) // MIN_ROWS_PER_CLASS)
        ks_g = sorted({min(k, cap) for k in ks})
        labels_g, gm, bic_g, mean, scale = _fit_mixture(z[rows], ks_g, seed)
        raw[rows] = labels_g + sum(len(p["weights"]) for p in parts)
        parts.append({"group": None if groups is None else int(g), "rows": len(rows), "weights": gm.weights_,
                      "means": gm.means_ * scale + mean, "covariances": gm.covariances_ * np.outer(scale, scale)[None]})
        bic[str(int(g))] = bic_g
        standardise[str(int(g))] = {"mean": mean.tolist(), "scale": scale.tolist()}
    k_total = int(raw.max()) + 1
    counts = np.bincount(raw, minlength=k_total)
    order = np.lexsort((np.arange(k_total), -counts))  # most populous first
    rank = np.empty(k_total, np.int64)
    rank[order] = np.arange(k_total)
    weights = np.concatenate([p["weights"] * p["rows"] / len(z) for p in parts])
    means = np.concatenate([p["means"] for p in parts])
    covariances = np.concatenate([p["covariances"] for p in parts])
    class_group = [p["group"] for p in parts for _ in range(len(p["weights"]))]
    info = {
        "k": k_total,
        "chosen_by": "fixed" if n_components is not None else "bic",
        "bic": bic["0"] if groups is None else bic,
        "counts": counts[order].tolist(),
        "weights": weights[order].tolist(),
        "means": means[order].tolist(),
        "covariances": covariances[order].tolist(),
        "group": [class_group[i] for i in order],
        "standardise": standardise["0"] if groups is None else standardise,
        "seed": int(seed),
    }
    return rank[raw], info


def _fit_mixture(z, ks, seed):
    """The Gaussian mixture of lowest BIC over ``ks`` on standardised ``z``: labels, model, BICs, mean, scale."""
    from sklearn.mixture import GaussianMixture

    mean = z.mean(axis=0)
    scale = z.std(axis=0)
    scale[scale == 0] = 1.0
    zs = (z - mean) / scale
    bic, models = {}, {}
    for k in ks:
        gm = GaussianMixture(k, covariance_type="full", n_init=N_INIT, random_state=seed)
        gm.fit(zs)
        bic[k] = float(gm.bic(zs))
        models[k] = gm
    best = min(ks, key=lambda k: (bic[k], k))
    return models[best].predict(zs), models[best], {str(k): bic[k] for k in ks}, mean, scale


def coordination_groups(neighbours, full=3):
    """0 for atoms with at least ``full`` neighbours (in the lattice), 1 for fewer (at an edge or a vacancy).

    ``neighbours`` is the atom table's count within ``atoms.neighbour_radius`` spacings
    (:func:`rvae_pathways.stem.atoms.find_atoms`); graphene's lattice atoms have 3. A negative count
    (an atom at the frame's border, whose neighbourhood is partly outside the field of view) is
    not evidence of an edge: such atoms join the lattice group.
    """
    neighbours = np.asarray(neighbours)
    return ((neighbours >= 0) & (neighbours < full)).astype(np.int64)


# --------------------------------------------------------------------------------------------
# 2. kinetics


def class_fractions(labels, frame, n_frames, n_classes):
    """Share of each class among the observations of each frame (the kinetics curve).

    Parameters
    ----------
    labels : (n,) int array, classes in ``[0, n_classes)``
    frame : (n,) int array, frames in ``[0, n_frames)``
    n_frames, n_classes : int

    Returns
    -------
    (n_frames, n_classes) float array; each row sums to 1, or is NaN for a frame without
    observations.
    """
    n_frames = check_number("n_frames", n_frames, low=1, integer=True)
    n_classes = check_number("n_classes", n_classes, low=1, integer=True)
    labels = check_int_array("labels", labels)
    frame = check_int_array("frame", frame, len(labels))
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise InputError(f"labels must lie in [0, {n_classes}), got {labels.min()}..{labels.max()}")
    if len(frame) and (frame.min() < 0 or frame.max() >= n_frames):
        raise InputError(f"frame must lie in [0, {n_frames}), got {frame.min()}..{frame.max()}")
    counts = np.zeros((n_frames, n_classes))
    np.add.at(counts, (frame, labels), 1.0)
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts / np.where(total > 0, total, 1), np.nan)


# --------------------------------------------------------------------------------------------
# tracks


def _track_order(labels, track, frame):
    """Rows with a track (>= 0) sorted by (track, frame); InputError on a track seen twice in a frame."""
    labels = check_int_array("labels", labels)
    track = check_int_array("track", track, len(labels))
    frame = check_int_array("frame", frame, len(labels))
    rows = np.flatnonzero(track >= 0)
    rows = rows[np.lexsort((frame[rows], track[rows]))]
    same = track[rows[1:]] == track[rows[:-1]]
    if np.any(same & (frame[rows[1:]] == frame[rows[:-1]])):
        raise InputError("a track holds two observations in one frame; tracks must be one atom per frame")
    return labels, track, frame, rows


def transitions(labels, track, frame, n_classes):
    """Class changes between consecutive observations of each track.

    A *step* joins two consecutive observations of one track: the next frame in which the track
    is seen, so a step may span a gap of several frames. Rows with a negative track (untracked)
    are ignored.

    Parameters
    ----------
    labels : (n,) int array, classes in ``[0, n_classes)``
    track : (n,) int array, track id per observation (< 0: none)
    frame : (n,) int array
    n_classes : int

    Returns
    -------
    dict (JSON-ready):

    - ``counts``: (n_classes x n_classes) list, steps from class i to class j;
    - ``frames_in_class``: per class i, the frames spanned by the steps that start in i (the
      exposure: a step with a gap of g frames counts g);
    - ``rates``: per frame probability of going i -> j, ``counts[i][j] / frames_in_class[i]``
      off the diagonal; the diagonal is 1 minus the row's off-diagonal sum (staying), so rows
      sum to 1; None for a class no step starts in;
    - ``step_probabilities``: ``counts`` normalised per row (per observed step, gaps ignored);
    - ``n_steps``, ``n_tracks``, ``n_classes``.
    """
    n_classes = check_number("n_classes", n_classes, low=1, integer=True)
    labels, track, frame, rows = _track_order(labels, track, frame)
    if len(rows) and (labels[rows].min() < 0 or labels[rows].max() >= n_classes):
        raise InputError(f"labels must lie in [0, {n_classes})")
    a, b = rows[:-1], rows[1:]
    step = track[a] == track[b]
    a, b = a[step], b[step]
    gap = (frame[b] - frame[a]).astype(float)
    counts = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(counts, (labels[a], labels[b]), 1)
    exposure = np.bincount(labels[a], weights=gap, minlength=n_classes)
    rates = np.full((n_classes, n_classes), np.nan)
    steps_from = counts.sum(axis=1)
    for i in np.flatnonzero(exposure > 0):
        rates[i] = counts[i] / exposure[i]
        rates[i, i] = 0.0
        rates[i, i] = 1.0 - rates[i].sum()
    probs = np.full((n_classes, n_classes), np.nan)
    has = steps_from > 0
    probs[has] = counts[has] / steps_from[has, None]
    return {
        "n_classes": int(n_classes),
        "n_steps": int(len(a)),
        "n_tracks": int(len(np.unique(track[rows]))),
        "counts": counts.tolist(),
        "frames_in_class": exposure.tolist(),
        "rates": [[_json_float(v) for v in row] for row in rates],
        "step_probabilities": [[_json_float(v) for v in row] for row in probs],
    }


RATE_UNITS = {"per_frame": "1/frame", "per_second": "1/s", "per_dose": "A^2/e"}


def physical_rates(per_frame, frame_time_s=None, dose_e_per_A2_per_frame=None) -> dict:
    """A rate per frame also per second and per unit electron dose, where the acquisition is known.

    Beam-driven transformations are compared per dose: a probability ``r`` per frame at a dose
    ``D`` e-/A^2 per frame is ``r / D`` per e-/A^2 (a cross-section, in A^2 per electron); per
    second it is ``r / t`` for a frame time ``t``.

    Parameters
    ----------
    per_frame : float, None, or nested lists of them
        Rates per frame (None where undefined, kept None).
    frame_time_s, dose_e_per_A2_per_frame : float, optional
        Seconds and electrons per square angstrom per frame; None when unknown.

    Returns
    -------
    dict
        ``per_frame`` (as given), ``per_second`` and ``per_dose`` (the same shape, or None
        when the frame time or the dose is unknown); units in :data:`RATE_UNITS`.
    """
    def scaled(value, by):
        if isinstance(value, (list, tuple)):
            return [scaled(v, by) for v in value]
        return None if value is None else _json_float(float(value) / by)

    return {
        "per_frame": per_frame,
        "per_second": None if frame_time_s is None else scaled(per_frame, check_number(
            "frame_time_s", frame_time_s, low=0, low_open=True)),
        "per_dose": None if dose_e_per_A2_per_frame is None else scaled(per_frame, check_number(
            "dose_e_per_A2_per_frame", dose_e_per_A2_per_frame, low=0, low_open=True)),
    }


def find_events(labels, track, frame, y, x, min_persist=2, swap_radius_px=None, latents=None):
    """Persistent class changes along tracks.

    Each track's observations (in frame order) are cut into runs of equal class. A run is
    *confirmed* when it

    - lasts at least ``min_persist`` observations, or
    - is the track's first run (its initial class: what came before the track's first
      observation is unknown, so it is not asked to persist), or
    - with ``swap_radius_px`` set, is one half of a *swap*: in the frame the run starts, another
      track within ``swap_radius_px`` changes class so that the class this track left appears
      there, or the class this track entered leaves there (a dopant trading sites with a
      carbon). A hop and its hop back one frame later, or a hop in the movie's last frame, are
      swaps that no persistence could confirm. With ``latents`` given, two changes also pair
      when they move in opposite directions between the classes' mean latents (cosine at most
      :data:`SWAP_COSINE`, lengths within a factor 2): a model may give the same species on the
      two sublattices of a lattice two classes (Si on A, Si on B), and a dopant trading sites
      then leaves one and enters the other, while the content moved, Si to C and C to Si, is
      opposite.

    Shorter runs are flicker and are dropped: the track keeps the class of its last confirmed
    run. An event is a confirmed run whose class differs from the track's previous confirmed
    run; its frame and position are those of the first observation in the new class after the
    previous confirmed run (the first frame in the new class, flicker in between skipped).
    Hence, with ``min_persist=2`` and no swap:

    - a one-frame flicker ``A A B A A`` is no event;
    - ``A A B C C`` gives one event, A -> C at the first C (the flicker B is skipped);
    - ``A A C B C C`` gives one event, A -> C dated at the first C (the change began there);
    - a change whose new class ends, with the track or the movie, before ``min_persist``
      observations (``A A A B``) is never confirmed and gives no event.

    Persistence counts observations, not frames: a track missed in a frame (a gap) still
    confirms with its next observations. Rows with a negative track are ignored.

    Parameters
    ----------
    labels, track, frame : (n,) int arrays
    y, x : (n,) float arrays, positions (px)
    min_persist : int (>= 1); 1 makes every class change an event
    swap_radius_px : float or None
        Largest distance (px) between the two tracks of a swap (about 1.25 atom spacings);
        None: no swap rule.
    latents : (n, d) float array, optional
        The observations' latents; their class means let swaps pair by opposite moves.

    Returns
    -------
    pandas.DataFrame with columns ``frame``, ``track``, ``y``, ``x``, ``from_class``,
    ``to_class`` and ``row`` (the event's observation, an index into the inputs), sorted by
    frame then track.
    """
    min_persist = check_number("min_persist", min_persist, low=1, integer=True)
    if swap_radius_px is not None:
        swap_radius_px = check_number("swap_radius_px", swap_radius_px, low=0)
    labels, track, frame, rows = _track_order(labels, track, frame)
    y = np.asarray(y, dtype=float).ravel()
    x = np.asarray(x, dtype=float).ravel()
    if len(y) != len(labels) or len(x) != len(labels):
        raise InputError("y and x need one entry per observation")
    columns = ["frame", "track", "y", "x", "from_class", "to_class", "row"]
    if len(rows) == 0:
        return pd.DataFrame({c: np.zeros(0, float if c in ("y", "x") else np.int64) for c in columns})
    t, c = track[rows], labels[rows]
    new_run = np.ones(len(rows), bool)
    new_run[1:] = (t[1:] != t[:-1]) | (c[1:] != c[:-1])
    start = np.flatnonzero(new_run)  # runs, in (track, frame) order
    length = np.diff(np.append(start, len(rows)))
    first = np.ones(len(start), bool)
    first[1:] = t[start[1:]] != t[start[:-1]]
    confirmed = (length >= min_persist) | first
    if swap_radius_px is not None:
        means = None if latents is None else _class_means(latents, labels)
        confirmed |= _swaps(start, first, c, frame[rows], y[rows], x[rows], swap_radius_px, means)
    ends = np.append(start[1:], len(rows))[confirmed]  # one past each confirmed run's end
    start = start[confirmed]
    rt, rc = t[start], c[start]
    change = np.zeros(len(start), bool)
    change[1:] = (rt[1:] == rt[:-1]) & (rc[1:] != rc[:-1])
    idx = np.flatnonzero(change)
    # the event is the first observation in the new class after the previous confirmed run
    # (A A B C B B: the change to B is dated at the first B, the flicker C in between)
    first_new = [ends[k - 1] + np.flatnonzero(c[ends[k - 1] : start[k] + 1] == rc[k])[0] for k in idx]
    ev_rows = rows[np.asarray(first_new, dtype=np.int64)]
    out = pd.DataFrame(
        {
            "frame": frame[ev_rows],
            "track": track[ev_rows],
            "y": y[ev_rows],
            "x": x[ev_rows],
            "from_class": rc[idx - 1].astype(np.int64),
            "to_class": rc[idx].astype(np.int64),
            "row": ev_rows.astype(np.int64),
        }
    )
    return out.sort_values(["frame", "track"], kind="stable").reset_index(drop=True)


#: Two class changes at neighbouring sites pair as a swap when their moves between class means
#: point this opposite or more (cosine; -1 is exactly opposite). See :func:`find_events`.
SWAP_COSINE = -0.8


def _class_means(latents, labels):
    """Mean latent of every class, (k, d); rows of classes without members are NaN."""
    latents = np.asarray(latents, dtype=float).reshape(len(labels), -1)
    labels = np.asarray(labels)
    k = int(labels.max()) + 1 if len(labels) else 0
    means = np.full((k, latents.shape[1]), np.nan)
    for cls in np.unique(labels[labels >= 0]):
        means[cls] = latents[labels == cls].mean(axis=0)
    return means


def _swaps(start, first, c, f, y, x, radius, means=None):
    """Runs (by index into ``start``) that begin with one half of a swap (see :func:`find_events`).

    ``start``: first sorted observation of each run; ``first``: run opens its track; ``c``,
    ``f``, ``y``, ``x``: class, frame and position of each sorted observation.
    """
    from scipy.spatial import cKDTree

    out = np.zeros(len(start), bool)
    chg = np.flatnonzero(~first)  # runs that start with a class change
    old, new = c[start[chg] - 1], c[start[chg]]
    fr = f[start[chg]]
    pos = np.stack([y[start[chg]], x[start[chg]]], axis=1)
    for value in np.unique(fr):
        i = np.flatnonzero(fr == value)
        if len(i) < 2:
            continue
        pairs = cKDTree(pos[i]).query_pairs(radius, output_type="ndarray")
        if len(pairs) == 0:
            continue
        a, b = i[pairs[:, 0]], i[pairs[:, 1]]
        swap = (old[a] == new[b]) | (new[a] == old[b])
        if means is not None:
            move_a, move_b = means[new[a]] - means[old[a]], means[new[b]] - means[old[b]]
            len_a, len_b = np.linalg.norm(move_a, axis=1), np.linalg.norm(move_b, axis=1)
            cosine = np.sum(move_a * move_b, axis=1) / np.maximum(len_a * len_b, 1e-12)
            similar = (len_a <= 2 * len_b) & (len_b <= 2 * len_a)
            swap |= (cosine <= SWAP_COSINE) & similar
        out[chg[a[swap]]] = True
        out[chg[b[swap]]] = True
    return out

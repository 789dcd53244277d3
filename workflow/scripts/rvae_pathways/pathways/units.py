"""Structural units: the Gaussian classes of :mod:`rvae_pathways.pathways.kinetics` merged into the
structures they show, so that a track counts as changed only when its structure changes.

A Gaussian mixture cuts one structure into several classes wherever its latents are not one
Gaussian (pristine carbon on the demo gets four classes); an atom moving between them has not
changed. Two ways to merge the classes into *units*:

- **By name** (:func:`units_from_names`): classes that carry the same name form one unit. On
  simulated data :mod:`rvae_pathways.scores.pathways` names each class by the true structure most
  of its patches have (``majority_structure``); the names come in from outside, this module
  never reads a truth.
- **By overlap in latent space** (:func:`merge_classes`, real data, no names): agglomerative
  merging of the mixture's components. The two components of one coordination group (see
  ``coordination_groups``) whose Gaussians overlap most, by the Bhattacharyya coefficient
  :math:`BC = \\exp(-D_B)` with

  .. math:: D_B = \\tfrac18 (\\mu_1-\\mu_2)^T \\Sigma^{-1} (\\mu_1-\\mu_2)
                  + \\tfrac12 \\ln \\frac{\\det \\Sigma}{\\sqrt{\\det\\Sigma_1 \\det\\Sigma_2}},
     \\quad \\Sigma = (\\Sigma_1+\\Sigma_2)/2,

  are merged into one component of the same weight, mean and covariance (moment matching) while
  the largest coefficient reaches ``min_overlap`` (``pathways.unit_overlap``). BC is 1 for
  equal Gaussians and 0 for disjoint ones; components of one structure split by its non-Gaussian
  shape overlap (0.3-0.7 on the demo), different structures do not (Si against the rest < 0.1).
  Components of different coordination groups never merge (the atom finder knows the
  coordination for sure). ``min_overlap`` null keeps every class its own unit.

Units are numbered by population (unit 0 holds the most observations) for the overlap merge,
and in the order of the given names for the merge by name.
"""

from __future__ import annotations

import numpy as np

from ..core.config import defaults
from ..core.errors import InputError, check_int_array, check_number
from .kinetics import fit_classes

__all__ = ["bhattacharyya_coefficient", "changed_tracks", "fit_units", "merge_classes", "unit_agreement",
           "unit_labels", "unit_means", "units_from_names"]

PATHWAYS = defaults("pathways")


def bhattacharyya_coefficient(mean_a, cov_a, mean_b, cov_b) -> float:
    """Overlap of two Gaussians, ``exp(-D_B)`` (see the module docstring): 1 for equal ones, 0 for disjoint."""
    mean_a, mean_b = np.atleast_1d(np.asarray(mean_a, float)), np.atleast_1d(np.asarray(mean_b, float))
    cov_a = np.atleast_2d(np.asarray(cov_a, float))
    cov_b = np.atleast_2d(np.asarray(cov_b, float))
    cov = (cov_a + cov_b) / 2
    d = mean_a - mean_b
    _, logdet = np.linalg.slogdet(cov)
    _, logdet_a = np.linalg.slogdet(cov_a)
    _, logdet_b = np.linalg.slogdet(cov_b)
    distance = d @ np.linalg.solve(cov, d) / 8 + 0.5 * (logdet - 0.5 * (logdet_a + logdet_b))
    return float(np.exp(-distance))


def _moment_match(w, m, c, a, b):
    """One Gaussian of the weight, mean and covariance of components ``a`` and ``b`` together."""
    total = w[a] + w[b]
    mean = (w[a] * m[a] + w[b] * m[b]) / total
    cov = sum(w[i] * (c[i] + np.outer(m[i] - mean, m[i] - mean)) for i in (a, b)) / total
    return total, mean, cov


def merge_classes(means, covariances, weights, group=None, min_overlap=PATHWAYS["unit_overlap"]):
    """Merge Gaussian classes into units by their overlap in latent space (see the module docstring).

    Parameters
    ----------
    means : (k, d) array; covariances : (k, d, d) array; weights : (k,) array
        The mixture's components (``fit_classes``' info: ``means``, ``covariances``, ``weights``).
    group : sequence of k values or None
        Coordination group of each class (``info["group"]``); classes of different groups never
        merge. None (or None entries): one group.
    min_overlap : float in (0, 1] or None
        Merge while the largest Bhattacharyya coefficient reaches it; None: no merge.

    Returns
    -------
    unit_of_class : (k,) int64 array
        Units numbered by population (summed weight; ties: the unit of the lowest class first).
    info : dict (JSON-ready)
        ``method``, ``min_overlap``, ``members`` (classes of each unit) and ``merges`` (in
        order: the two units' classes and their coefficient).
    """
    m = [np.atleast_1d(np.asarray(v, float)) for v in means]
    c = [np.atleast_2d(np.asarray(v, float)) for v in covariances]
    w = [float(v) for v in weights]
    k = len(m)
    if len(c) != k or len(w) != k:
        raise InputError(f"{k} means, {len(c)} covariances and {len(w)} weights: one of each per class")
    if min_overlap is not None:
        min_overlap = check_number("min_overlap", min_overlap, low=0, high=1, low_open=True)
    groups = [None] * k if group is None else list(group)
    members = [[i] for i in range(k)]
    merges = []
    while min_overlap is not None:
        best, pair = -1.0, None
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                if groups[a] == groups[b]:
                    bc = bhattacharyya_coefficient(m[a], c[a], m[b], c[b])
                    if bc > best:
                        best, pair = bc, (a, b)
        if pair is None or best < min_overlap:
            break
        a, b = pair
        merges.append({"classes": [members[a], members[b]], "overlap": round(best, 4)})
        w[a], m[a], c[a] = _moment_match(w, m, c, a, b)
        members[a] = sorted(members[a] + members[b])
        for seq in (w, m, c, members, groups):
            del seq[b]
    order = sorted(range(len(members)), key=lambda u: (-w[u], members[u][0]))
    unit_of_class = np.empty(k, np.int64)
    for rank, u in enumerate(order):
        unit_of_class[members[u]] = rank
    info = {
        "method": "overlap" if min_overlap is not None else "none",
        "min_overlap": min_overlap,
        "members": [members[u] for u in order],
        "merges": merges,
    }
    return unit_of_class, info


def fit_units(z, groups=None, *, n_classes=PATHWAYS["n_classes"], bic_range=tuple(PATHWAYS["bic_range"]), seed=0,
              min_overlap=PATHWAYS["unit_overlap"]):
    """The classes and structural units of latents without a truth: ``fit_classes`` on ``z``
    (within the coordination ``groups``, or None), its classes merged by overlap (:func:`merge_classes`).

    Returns ``labels`` (the class of each row), ``info`` (``fit_classes``'), ``unit_of_class`` and
    the merge's info; ``unit_labels(labels, unit_of_class)`` gives each row's unit.
    """
    labels, info = fit_classes(z, n_classes, tuple(bic_range), seed=seed, groups=groups)
    unit_of_class, merge = merge_classes(info["means"], info["covariances"], info["weights"], info["group"],
                                         min_overlap)
    return labels, info, unit_of_class, merge


def units_from_names(class_names, order=None):
    """One unit per distinct class name: classes of the same name merge.

    Parameters
    ----------
    class_names : dict {class: name} or sequence of names (None: a class without a name, its own
        unit named ``"class <c>"``)
    order : sequence of str, optional
        The order of the units (e.g. the vocabulary's ``CLASS_NAMES``); names not in it follow in
        the order of their first class.

    Returns
    -------
    unit_of_class : (k,) int64 array; names : list of str, one per unit
    """
    pairs = class_names.items() if isinstance(class_names, dict) else enumerate(class_names)
    named = {int(c): n for c, n in pairs}
    k = max(named) + 1 if named else 0
    label = [named.get(c) if named.get(c) is not None else f"class {c}" for c in range(k)]
    known = [n for n in (order or ()) if n in label]
    names = known + [n for n in dict.fromkeys(label) if n not in known]
    return np.array([names.index(n) for n in label], np.int64), names


def unit_labels(labels, unit_of_class):
    """The unit of each observation from its class (negative labels, e.g. unseen, stay -1)."""
    labels = np.asarray(labels)
    unit_of_class = check_int_array("unit_of_class", unit_of_class)
    flat = labels.ravel().astype(np.int64)
    if flat.size and flat.max() >= len(unit_of_class):
        raise InputError(f"labels reach class {flat.max()}, but only {len(unit_of_class)} classes have a unit")
    out = np.where(flat >= 0, unit_of_class[np.clip(flat, 0, None)] if len(unit_of_class) else -1, -1)
    return out.reshape(labels.shape).astype(np.int64)


def unit_means(class_means, weights, unit_of_class) -> np.ndarray:
    """Weighted mean of the class means in each unit, (n_units, d)."""
    class_means = np.asarray(class_means, float).reshape(len(unit_of_class), -1)
    weights = np.asarray(weights, float).ravel()
    unit_of_class = check_int_array("unit_of_class", unit_of_class, len(class_means))
    n = int(unit_of_class.max()) + 1 if len(unit_of_class) else 0
    out = np.full((n, class_means.shape[1]), np.nan)
    for u in range(n):
        rows = unit_of_class == u
        w = weights[rows] if weights[rows].sum() > 0 else np.ones(rows.sum())
        out[u] = (w[:, None] * class_means[rows]).sum(axis=0) / w.sum()
    return out


def changed_tracks(unit_grid, min_persist=PATHWAYS["min_persist_frames"]) -> np.ndarray:
    """Whether each track's unit changed: a change that persists ``min_persist`` observations
    (``find_events`` on the units), so a one-frame flicker does not count.

    ``unit_grid``: (track, frame) int array of units, negative where the track is unseen.
    Returns a bool array, one per track (row).
    """
    from .kinetics import find_events

    grid = np.asarray(unit_grid)
    t, f = np.nonzero(grid >= 0)
    zeros = np.zeros(len(t))
    events = find_events(grid[t, f], t, f, zeros, zeros, min_persist=min_persist)
    return np.isin(np.arange(grid.shape[0]), events["track"].to_numpy())


def unit_agreement(assignments) -> dict:
    """How alike several unit assignments of the same observations are (e.g. one per training seed).

    ``assignments``: a list of (n,) int arrays (negative: no unit, left out where any is
    negative). Returns ``pairs`` (``[i, j, adjusted Rand index]`` for every pair), ``mean`` and
    ``min`` (None with fewer than two assignments), and ``n_observations``.
    """
    from sklearn.metrics import adjusted_rand_score

    arrays = [np.asarray(a, np.int64).ravel() for a in assignments]
    if len({len(a) for a in arrays}) > 1:
        raise InputError("the assignments must cover the same observations (one entry each)")
    keep = np.all([a >= 0 for a in arrays], axis=0) if arrays else np.zeros(0, bool)
    pairs = [[i, j, float(adjusted_rand_score(arrays[i][keep], arrays[j][keep]))]
             for i in range(len(arrays)) for j in range(i + 1, len(arrays))]
    scores = [p[2] for p in pairs]
    return {"pairs": pairs, "mean": float(np.mean(scores)) if scores else None,
            "min": float(np.min(scores)) if scores else None, "n_observations": int(keep.sum())}

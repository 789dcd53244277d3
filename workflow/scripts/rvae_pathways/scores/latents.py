"""Scores of a latent space against the simulator's truth (pure functions on arrays).

- sublattice: is graphene's sublattice (A/B) recoverable from the rotation latent?
- chemistry: do the content latents separate Si from pristine C, and 5-7 defect C from pristine C?
- rotation invariance: do the content latents stay put when the patches are rotated?
- collapse: does every content latent carry information?
"""

from __future__ import annotations

import numpy as np
from ..rvae.encode import encode

TARGETS = {"sublattice": 0.99, "si_vs_c_auc": 0.98, "defect_vs_c_auc": 0.9, "rotation_ratio": 0.1}
PRISTINE_C, SI, DEFECT_C = 0, 1, 2  # simulator classes (rvae_pathways.core.vocabulary.CLASS_NAMES)


def sublattice_accuracy(theta_deg: np.ndarray, sublattice: np.ndarray, symmetry_deg: float = 120.0) -> float:
    """Share of atoms whose sublattice (0/1) is recovered from theta, modulo the lattice symmetry.

    The two sublattices of graphene look alike rotated by 60 degrees, half the 120-degree
    symmetry of each site. On the circle of angle ``2 pi theta / symmetry`` they sit opposite
    each other: doubling that angle merges them, the doubled angles' circular mean gives the
    axis, and the side of the axis each atom falls on is its predicted sublattice. Labels are
    arbitrary, so the better of the two assignments is scored.

    Parameters
    ----------
    theta_deg : (n,) array
    sublattice : (n,) int array, 0 or 1 (other values are ignored)
    symmetry_deg : float
    """
    theta_deg = np.asarray(theta_deg, dtype=float)
    sublattice = np.asarray(sublattice)
    keep = (sublattice == 0) | (sublattice == 1)
    if not keep.any():
        return float("nan")
    phase = 2 * np.pi * theta_deg[keep] / symmetry_deg
    axis = 0.5 * np.angle(np.mean(np.exp(2j * phase)))
    predicted = (np.cos(phase - axis) > 0).astype(int)
    agree = np.mean(predicted == sublattice[keep])
    return float(max(agree, 1 - agree))


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the boolean labels ``positive`` (ties count half)."""
    scores = np.asarray(scores, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    mean_rank = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mean_rank, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def separation_scores(z: np.ndarray, positive: np.ndarray, seed: int = 0) -> dict:
    """How well latents ``z`` (n, k) separate positives from negatives.

    Returns ``best_single_auc`` (the best latent alone, either direction), ``best_latent``
    (its index) and ``logistic_auc`` (a logistic classifier on all latents trained on a random
    half, stratified, and tested on the other half; None when a half lacks a class), plus the
    class sizes. The scores are None when only one class is present.
    """
    from sklearn.linear_model import LogisticRegression

    z = np.asarray(z, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():  # one class only: nothing to separate
        return {"best_single_auc": None, "best_latent": None, "logistic_auc": None,
                "n_positive": int(positive.sum()), "n_negative": int((~positive).sum())}
    single = [roc_auc(z[:, j], positive) for j in range(z.shape[1])]
    single = [max(a, 1 - a) for a in single]
    rng = np.random.default_rng(seed)
    train = np.zeros(len(z), bool)
    for cls in (True, False):
        idx = np.flatnonzero(positive == cls)
        train[rng.permutation(idx)[: len(idx) // 2]] = True
    test = ~train
    logistic = None
    if positive[train].any() and (~positive[train]).any() and positive[test].any() and (~positive[test]).any():
        model = LogisticRegression(class_weight="balanced").fit(z[train], positive[train])
        logistic = roc_auc(model.decision_function(z[test]), positive[test])
    return {
        "best_single_auc": float(np.nanmax(single)),
        "best_latent": int(np.nanargmax(single)),
        "logistic_auc": logistic,
        "n_positive": int(positive.sum()),
        "n_negative": int((~positive).sum()),
    }


def rotation_invariance(
    z: np.ndarray, z_rotated: np.ndarray, theta_deg: np.ndarray, theta_rotated_deg: np.ndarray,
    rotation_deg: float, class_a: np.ndarray, class_b: np.ndarray, symmetry_deg: float = 120.0,
) -> dict:
    """How much the content latents move when every patch is rotated by ``rotation_deg``.

    Returns ``ratio``: the mean distance |z_rotated - z| over the distance between the means of
    two classes (``class_a``, ``class_b`` boolean masks, e.g. Si and pristine C) in z; and
    ``theta_error_deg``: the mean absolute difference between (theta_rotated - theta) and
    ``rotation_deg``, folded into (-symmetry/2, symmetry/2].
    """
    z, z_rotated = np.asarray(z, float), np.asarray(z_rotated, float)
    moved = np.mean(np.linalg.norm(z_rotated - z, axis=1))
    if not (np.any(class_a) and np.any(class_b)):
        gap = float("nan")
    else:
        gap = np.linalg.norm(z[class_a].mean(axis=0) - z[class_b].mean(axis=0))
    turn = np.asarray(theta_rotated_deg, float) - np.asarray(theta_deg, float) - rotation_deg
    folded = (turn + symmetry_deg / 2) % symmetry_deg - symmetry_deg / 2
    return {
        "ratio": float(moved / gap) if gap > 0 else None,
        "mean_z_shift": float(moved),
        "class_gap": float(gap) if np.isfinite(gap) else None,
        "theta_error_deg": float(np.mean(np.abs(folded))),
    }


def collapse_scores(z_mean: np.ndarray, z_std: np.ndarray) -> dict:
    """Per content latent: spread of the posterior means, mean posterior std, and KL to N(0, 1).

    A latent "collapsed" onto the prior has means that barely move between patches compared
    with its posterior width; ``active`` is True where the spread is at least the mean std.
    """
    z_mean, z_std = np.asarray(z_mean, float), np.asarray(z_std, float)
    spread = z_mean.std(axis=0)
    width = z_std.mean(axis=0)
    kl = np.mean(0.5 * (z_mean**2 + z_std**2 - 1) - np.log(z_std), axis=0)
    return {
        "spread": spread.tolist(),
        "mean_std": width.tolist(),
        "kl_per_latent": kl.tolist(),
        "active": (spread >= width).tolist(),
        "all_active": bool(np.all(spread >= width)),
    }


def _at_least(value, target) -> bool:
    """True where a score exists and reaches its target (None: the class is absent, no verdict)."""
    return value is not None and value >= target


def score_against_truth(model, images: np.ndarray, latents: dict) -> dict:
    """Every score above for a trained model, with a verdict per target (:data:`TARGETS`).

    Parameters
    ----------
    model : rvae_pathways.rvae.model.RVAE
    images : (N, n, n) array
        The patches, scaled as the model was trained (encoded again turned by +90 degrees).
    latents : dict-like
        ``z_mean`` and ``z_std`` (N, k), ``true_class`` and ``true_sublattice`` (N,), and
        ``theta_deg`` (N,) for a model with a rotation latent.

    Returns
    -------
    dict: ``n_patches``, ``targets``, ``si_vs_c`` and ``defect_vs_c`` (:func:`separation_scores`),
    ``rotation_90`` (:func:`rotation_invariance`), ``sublattice``, ``collapse``
    (:func:`collapse_scores`) and ``passes`` (name -> bool).
    """

    z, z_std = np.asarray(latents["z_mean"]), np.asarray(latents["z_std"])
    cls = np.asarray(latents["true_class"])
    pristine, si, defect = cls == PRISTINE_C, cls == SI, cls == DEFECT_C
    scores = {"n_patches": int(len(z)), "targets": TARGETS}
    scores["si_vs_c"] = separation_scores(z[si | pristine], si[si | pristine])
    scores["defect_vs_c"] = separation_scores(z[defect | pristine], defect[defect | pristine])
    rotated = encode(model, np.rot90(images, k=1, axes=(1, 2)).copy())  # +90 deg as displayed
    has_theta = "theta_deg" in latents
    theta = np.asarray(latents["theta_deg"]) if has_theta else np.zeros(len(z))
    theta_rot = rotated.get("theta_deg", np.zeros(len(z)))
    scores["rotation_90"] = rotation_invariance(z, rotated["z"], theta, theta_rot, 90.0, si, pristine)
    if has_theta:
        sub = np.asarray(latents["true_sublattice"])
        lattice = (pristine | si) & (sub >= 0)
        scores["sublattice"] = sublattice_accuracy(theta[lattice], sub[lattice])
    else:
        scores["sublattice"] = None
        scores["rotation_90"]["theta_error_deg"] = None
    scores["collapse"] = collapse_scores(z, z_std)
    si_auc, defect_auc, ratio = scores["si_vs_c"], scores["defect_vs_c"], scores["rotation_90"]["ratio"]
    scores["passes"] = {
        "sublattice": _at_least(scores["sublattice"], TARGETS["sublattice"]),
        "si_vs_c": _at_least(si_auc["best_single_auc"], TARGETS["si_vs_c_auc"])
        and _at_least(si_auc["logistic_auc"], TARGETS["si_vs_c_auc"]),
        "defect_vs_c": _at_least(defect_auc["best_single_auc"], TARGETS["defect_vs_c_auc"])
        and _at_least(defect_auc["logistic_auc"], TARGETS["defect_vs_c_auc"]),
        "rotation_invariance": ratio is not None and ratio <= TARGETS["rotation_ratio"],
        "no_collapse": scores["collapse"]["all_active"],
    }
    return scores

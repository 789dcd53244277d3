import numpy as np
import pytest

from rvae_pathways.scores.latents import (
    collapse_scores,
    roc_auc,
    rotation_invariance,
    separation_scores,
    sublattice_accuracy,
)


def test_sublattice_accuracy_reads_sublattices_60_degrees_apart_modulo_120():
    rng = np.random.default_rng(0)
    sub = rng.integers(0, 2, 500)
    theta = 17 + 60 * sub + 120 * rng.integers(-2, 3, 500) + rng.normal(0, 5, 500)
    assert sublattice_accuracy(theta, sub) == 1.0
    assert sublattice_accuracy(theta, 1 - sub) == 1.0  # labels are arbitrary
    assert sublattice_accuracy(rng.uniform(0, 360, 500), sub) < 0.6
    ignored = np.where(rng.random(500) < 0.2, -1, sub)
    assert sublattice_accuracy(theta, ignored) == 1.0


def test_roc_auc_against_known_values():
    assert roc_auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert roc_auc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0
    assert roc_auc([1, 1, 1, 1], [0, 1, 0, 1]) == 0.5
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert np.isnan(roc_auc([1, 2], [1, 1]))


def test_separation_scores_find_the_informative_latent():
    rng = np.random.default_rng(1)
    positive = rng.random(400) < 0.1
    z = rng.normal(size=(400, 2))
    z[:, 1] += 4 * positive
    s = separation_scores(z, positive)
    assert s["best_latent"] == 1 and s["best_single_auc"] > 0.98 and s["logistic_auc"] > 0.98
    assert s["n_positive"] == positive.sum()
    z[:, 1] = rng.normal(size=400)
    assert separation_scores(z, positive)["best_single_auc"] < 0.7


def test_rotation_invariance_ratio_and_theta_error():
    rng = np.random.default_rng(2)
    a = rng.random(300) < 0.5
    z = rng.normal(size=(300, 2)) * 0.1 + np.where(a[:, None], [2.0, 0.0], [0.0, 0.0])
    theta = rng.uniform(0, 360, 300)
    s = rotation_invariance(z, z + 0.02, theta, theta + 90 + 120, 90, a, ~a)
    assert s["ratio"] == pytest.approx(np.hypot(0.02, 0.02) / 2.0, rel=0.1)
    assert s["theta_error_deg"] == pytest.approx(0, abs=1e-9)
    s = rotation_invariance(z, z, theta, theta + 30, 90, a, ~a)
    assert s["theta_error_deg"] == pytest.approx(60)


def test_collapse_scores_flag_a_dead_latent():
    rng = np.random.default_rng(3)
    mean = np.stack([rng.normal(0, 1, 1000), rng.normal(0, 0.01, 1000)], 1)
    std = np.stack([np.full(1000, 0.1), np.full(1000, 1.0)], 1)
    s = collapse_scores(mean, std)
    assert s["active"] == [True, False] and not s["all_active"]
    assert s["kl_per_latent"][1] == pytest.approx(0, abs=1e-3)
    assert s["kl_per_latent"][0] > 1


def test_scores_with_a_class_missing_are_none_not_errors():
    z = np.random.default_rng(4).normal(size=(20, 2))
    s = separation_scores(z, np.zeros(20, bool))
    assert s["best_single_auc"] is None and s["logistic_auc"] is None and s["n_positive"] == 0
    r = rotation_invariance(z, z, np.zeros(20), np.zeros(20) + 90, 90, np.zeros(20, bool), np.ones(20, bool))
    assert r["ratio"] is None

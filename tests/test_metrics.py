import numpy as np
import pytest

from rvae_pathways.scores.atoms import detection_counts, detection_scores
from rvae_pathways.core.geometry import inside, match_points


def test_match_points_is_one_to_one_and_closest_first():
    found = np.array([[0.0, 0.0], [0.0, 0.5], [10.0, 10.0]])
    truth = np.array([[0.0, 0.4], [20.0, 20.0]])
    i_f, i_t = match_points(found, truth, 1.0)
    assert i_f.tolist() == [1] and i_t.tolist() == [0]
    assert match_points(np.zeros((0, 2)), truth, 1.0)[0].size == 0


def test_detection_counts_ignore_points_in_the_margin():
    truth = np.array([[1.0, 1.0], [10.0, 10.0], [12.0, 12.0]])
    found = np.array([[10.1, 10.0], [1.0, 1.5], [15.0, 5.0]])
    counts = detection_counts(found, truth, 1.0, (20, 20), margin=2.0)
    assert counts["tp"] == 1  # (1, 1) is in the margin, its match is not scored
    assert counts["fp"] == 1  # (15, 5)
    assert counts["fn"] == 1  # (12, 12)
    np.testing.assert_allclose(counts["sq_errors"], [0.01])


def test_detection_scores():
    s = detection_scores(tp=8, fp=2, fn=0, sq_errors=np.array([0.04, 0.0]))
    assert s["precision"] == pytest.approx(0.8)
    assert s["recall"] == 1.0
    assert s["f1"] == pytest.approx(2 * 0.8 / 1.8)
    assert s["rmse_px"] == pytest.approx(np.sqrt(0.02))
    assert detection_scores(0, 0, 0, np.array([]))["f1"] == 0.0


def test_inside():
    pts = np.array([[0.0, 5.0], [5.0, 5.0], [9.0, 9.0]])
    assert inside(pts, (10, 10), 1.0).tolist() == [False, True, False]

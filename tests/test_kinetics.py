import numpy as np
import pandas as pd
import pytest

from rvae_pathways.core.errors import InputError
from rvae_pathways.pathways.kinetics import (class_fractions, coordination_groups, find_events, fit_classes,
                                             physical_rates, transitions)
from rvae_pathways.scores.pathways import class_composition, event_footprints, majority_structure, score_events

NAMES = ("pristine C", "Si", "C in 5-7 defect", "edge C")


# --------------------------------------------------------------------------------------------
# classes


def _three_clusters(seed=0):
    rng = np.random.default_rng(seed)
    sizes, centres = (100, 300, 200), ((0.0, 8.0), (0.0, 0.0), (8.0, 0.0))
    z = np.concatenate([rng.normal(c, 0.5, (n, 2)) for c, n in zip(centres, sizes)])
    truth = np.repeat([0, 1, 2], sizes)
    order = rng.permutation(len(z))
    return z[order], truth[order]


def test_fit_classes_recovers_three_clusters_chosen_by_bic_and_ordered_by_population():
    z, truth = _three_clusters()
    labels, info = fit_classes(z, bic_range=(2, 6), seed=0)
    assert info["k"] == 3 and info["chosen_by"] == "bic"
    assert sorted(info["bic"]) == ["2", "3", "4", "5", "6"]
    assert min(info["bic"], key=info["bic"].get) == "3"
    # the 300-atom cluster is class 0, the 200 class 1, the 100 class 2, every atom right
    expected = np.array([2, 0, 1])[truth]
    np.testing.assert_array_equal(labels, expected)
    assert info["counts"] == [300, 200, 100]
    np.testing.assert_allclose(info["weights"], [0.5, 1 / 3, 1 / 6], atol=0.01)
    np.testing.assert_allclose(info["means"], [[0, 0], [8, 0], [0, 8]], atol=0.15)  # units of z


def test_fit_classes_within_groups_never_mixes_groups_and_caps_small_groups():
    z, truth = _three_clusters()
    # group 1: 40 rows sitting inside the 300-row cluster (as edge atoms whose latents look like
    # lattice atoms'); 40 // MIN_ROWS_PER_CLASS = 2 classes at most
    group = np.zeros(len(z), np.int64)
    group[np.flatnonzero(truth == 1)[:40]] = 1
    labels, info = fit_classes(z, bic_range=(2, 6), seed=0, groups=group)
    for c in range(info["k"]):
        assert len(np.unique(group[labels == c])) == 1  # a class holds one group only
    assert sorted(info["bic"]) == ["0", "1"] and sorted(info["bic"]["1"]) == ["2"]
    assert info["group"].count(1) <= 2 and info["group"].count(0) == 3
    assert info["counts"] == sorted(info["counts"], reverse=True) and sum(info["counts"]) == len(z)
    np.testing.assert_allclose(sum(info["weights"]), 1.0)
    assert coordination_groups([1, 2, 3, 4]).tolist() == [1, 1, 0, 0]
    assert coordination_groups([-1, 0]).tolist() == [0, 1]  # -1: at the frame's border, not known
    # without groups, the same rows give the three clusters and no group
    _, plain = fit_classes(z, bic_range=(2, 6), seed=0)
    assert plain["k"] == 3 and plain["group"] == [None, None, None]
    with pytest.raises(InputError, match="groups"):
        fit_classes(z, groups=group[:10])


def test_fit_classes_is_deterministic_by_seed_and_takes_a_fixed_number():
    z, _ = _three_clusters(seed=1)
    a, info_a = fit_classes(z, bic_range=(2, 5), seed=3)
    b, info_b = fit_classes(z, bic_range=(2, 5), seed=3)
    np.testing.assert_array_equal(a, b)
    assert info_a == info_b
    two, info = fit_classes(z, n_components=2)
    assert info["k"] == 2 and info["chosen_by"] == "fixed" and list(info["bic"]) == ["2"]
    assert np.bincount(two)[0] >= np.bincount(two)[1]
    with pytest.raises(InputError):
        fit_classes(z[:3], n_components=4)
    with pytest.raises(InputError):
        fit_classes(z, bic_range=(5, 2))


def test_majority_structure_and_purity():
    labels = np.array([0, 0, 0, 1, 1, 2])
    true_class = np.array([0, 0, 2, 1, 1, -1])  # -1: no truth, ignored
    assert majority_structure(labels, true_class, NAMES) == {0: "pristine C", 1: "Si", 2: None}
    comp = class_composition(labels, true_class, NAMES)
    assert comp[0]["purity"] == pytest.approx(2 / 3) and comp[0]["counts"]["C in 5-7 defect"] == 1
    assert comp[1]["purity"] == 1.0 and comp[2]["n"] == 0


# --------------------------------------------------------------------------------------------
# kinetics and transitions


def test_class_fractions_sum_to_one_per_frame():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 500)
    frame = rng.integers(0, 6, 500)
    fr = class_fractions(labels, frame, 7, 4)  # frame 6 and class 3 are empty
    assert fr.shape == (7, 4)
    np.testing.assert_allclose(fr[:6].sum(axis=1), 1.0)
    assert np.all(np.isnan(fr[6])) and np.all(fr[:6, 3] == 0)
    f0 = labels[frame == 0]
    np.testing.assert_allclose(fr[0, :3], np.bincount(f0, minlength=3) / len(f0))
    with pytest.raises(InputError):
        class_fractions([0, 3], [0, 0], 2, 3)


def _hand_tracks():
    # track 0: frames 0 1 2 3, classes 0 0 1 1; track 1: frames 0 2 3 (a gap of 2), classes 0 1 1;
    # track 2: one observation; one untracked row (-1)
    rows = [(0, 0, 0), (0, 1, 0), (0, 2, 1), (0, 3, 1), (1, 0, 0), (1, 2, 1), (1, 3, 1), (2, 5, 2), (-1, 1, 2)]
    track, frame, labels = (np.array(v) for v in zip(*rows))
    order = np.random.default_rng(0).permutation(len(rows))  # input order must not matter
    return labels[order], track[order], frame[order]


def test_transitions_counts_and_rates_with_a_gap():
    labels, track, frame = _hand_tracks()
    t = transitions(labels, track, frame, 3)
    assert t["n_steps"] == 5 and t["n_tracks"] == 3
    assert t["counts"] == [[1, 2, 0], [0, 2, 0], [0, 0, 0]]
    # class 0: steps of 1, 1 and 2 frames -> 4 frames; two changes to class 1 -> 0.5 per frame
    assert t["frames_in_class"] == [4.0, 2.0, 0.0]
    assert t["rates"][0] == pytest.approx([0.5, 0.5, 0.0])
    assert t["rates"][1] == pytest.approx([0.0, 1.0, 0.0])
    assert t["rates"][2] == [None, None, None]
    assert t["step_probabilities"][0] == pytest.approx([1 / 3, 2 / 3, 0.0])
    with pytest.raises(InputError):  # one track seen twice in a frame
        transitions([0, 1], [4, 4], [2, 2], 2)


# --------------------------------------------------------------------------------------------
# events


def _one_track(classes, frames=None, track=0):
    classes = np.asarray(classes)
    frames = np.arange(len(classes)) if frames is None else np.asarray(frames)
    y = 10.0 + frames
    x = 20.0 + 2.0 * frames
    return classes, np.full(len(classes), track), frames, y, x


def test_find_events_one_frame_flicker_is_no_event():
    ev = find_events(*_one_track([0, 0, 1, 0, 0]), min_persist=2)
    assert len(ev) == 0
    assert list(ev.columns[:6]) == ["frame", "track", "y", "x", "from_class", "to_class"]
    assert len(find_events(*_one_track([0, 0, 1, 0, 0]), min_persist=1)) == 2  # both edges


def test_find_events_persistent_change_is_one_event_at_its_first_frame():
    ev = find_events(*_one_track([0, 0, 0, 1, 1, 1], track=7), min_persist=2)
    assert len(ev) == 1
    e = ev.iloc[0]
    assert (e.frame, e.track, e.from_class, e.to_class, e.row) == (3, 7, 0, 1, 3)
    assert (e.y, e.x) == (13.0, 26.0)
    # a flicker between old and new class is skipped; the event is dated at the first new class
    ev = find_events(*_one_track([0, 0, 2, 1, 1]), min_persist=2)
    assert ev[["frame", "from_class", "to_class"]].values.tolist() == [[3, 0, 1]]
    ev = find_events(*_one_track([0, 0, 1, 2, 1, 1]), min_persist=2)
    assert ev[["frame", "from_class", "to_class"]].values.tolist() == [[2, 0, 1]]
    # a track's first run is its initial class, however short (its past is unknown)
    ev = find_events(*_one_track([0, 1, 1, 1]), min_persist=2)
    assert ev[["frame", "from_class", "to_class"]].values.tolist() == [[1, 0, 1]]
    # persistence counts observations: a gap in frames does not matter
    ev = find_events(*_one_track([0, 0, 1, 1], frames=[0, 1, 4, 5]), min_persist=2)
    assert ev.frame.tolist() == [4]
    # min_persist=3 needs three observations in the new class
    assert len(find_events(*_one_track([0, 0, 0, 1, 1]), min_persist=3)) == 0
    assert len(find_events(*_one_track([0, 0, 0, 1, 1, 1]), min_persist=3)) == 1


def test_find_events_track_ending_too_soon_gives_none():
    assert len(find_events(*_one_track([0, 0, 0, 1]), min_persist=2)) == 0
    assert len(find_events(*_one_track([0, 0, 0, 1, 1]), min_persist=3)) == 0
    assert len(find_events(*_one_track([0, 0, 0, 1]), min_persist=1)) == 1


def test_find_events_several_tracks_and_untracked_rows():
    a = _one_track([0, 0, 1, 1], track=0)
    b = _one_track([2, 2, 2, 0, 0], track=1)
    c = _one_track([1, 0, 1], track=-1)  # untracked: ignored
    labels, track, frame, y, x = (np.concatenate(v) for v in zip(a, b, c))
    ev = find_events(labels, track, frame, y, x, min_persist=2)
    assert ev[["frame", "track", "from_class", "to_class"]].values.tolist() == [[2, 0, 0, 1], [3, 1, 2, 0]]


def test_find_events_swap_rule_keeps_a_hop_and_its_hop_back():
    # a dopant (class 1) at site P hops to the neighbouring site Q at frame 3 and back at frame 4
    p = [1, 1, 1, 0, 1, 1]
    q = [0, 0, 0, 1, 0, 0]
    frames = np.arange(6)

    def run(dist, **kw):
        labels = np.r_[p, q]
        track = np.repeat([0, 1], 6)
        frame = np.r_[frames, frames]
        y = np.r_[np.zeros(6), np.full(6, dist)]
        return find_events(labels, track, frame, y, np.zeros(12), min_persist=2, **kw)

    assert len(run(14.2)) == 0  # plain persistence: both one-frame states are flicker
    ev = run(14.2, swap_radius_px=18.0)
    assert ev[["frame", "track", "from_class", "to_class"]].values.tolist() == [
        [3, 0, 1, 0], [3, 1, 0, 1], [4, 0, 0, 1], [4, 1, 1, 0]]
    assert len(run(30.0, swap_radius_px=18.0)) == 0  # too far apart to be a swap
    # two neighbours flickering into the same new class is no swap
    labels = np.r_[[0, 0, 2, 0, 0], [0, 0, 2, 0, 0]]
    ev = find_events(labels, np.repeat([0, 1], 5), np.r_[np.arange(5), np.arange(5)],
                     np.r_[np.zeros(5), np.full(5, 14.0)], np.zeros(10), min_persist=2, swap_radius_px=18.0)
    assert len(ev) == 0


# --------------------------------------------------------------------------------------------
# scoring


def _truth():
    # kinds (simulate_stem.EVENT_KINDS): 0 dopant hop, 1 atom removed, 2 Stone-Wales
    return {
        "true_event_frame": np.array([5, 10, 7, 3]),
        "true_event_kind": np.array([0, 0, 2, 1]),
        "true_event_atom": np.array([1, 2, 3, 4]),
        "true_event_y": np.array([100.0, 50.0, 200.0, 0.0]),
        "true_event_x": np.array([100.0, 50.0, 200.0, 0.0]),
    }


CLASS_TO_STRUCTURE = {0: "pristine C", 1: "Si", 2: "C in 5-7 defect", 3: "pristine C", 4: "Si", 5: "edge C"}


def _events(rows):
    return pd.DataFrame(rows, columns=["frame", "y", "x", "from_class", "to_class"])


def test_score_events_exact_precision_and_recall():
    events = _events([
        (5, 100, 101, 1, 0),  # hop: Si leaves -> matches the hop at frame 5
        (5, 100, 112, 0, 1),  # hop: Si arrives next door -> the same true hop absorbs it
        (6, 100, 114.5, 3, 1),  # a third, farther one for that hop: beyond 2 per hop -> false positive
        (10, 300, 300, 0, 1),  # far from any hop -> false positive
        (7, 201, 200, 0, 2),  # defect formation -> matches the Stone-Wales at frame 7
        (9, 200, 200, 0, 2),  # two frames late -> false positive
        (7, 200, 200, 2, 0),  # defect -> pristine: not scored
        (4, 0, 0, 0, 3),  # pristine -> pristine: not scored
        (5, 100, 100, 1, 4),  # Si -> Si (two latent classes of one structure): not scored
        (7, 200, 200, 5, 2),  # edge -> defect: not a formation from pristine, not scored
    ])
    s = score_events(events, _truth(), CLASS_TO_STRUCTURE, tolerance_px=15, frame_tolerance=1)
    hop, sw = s["kinds"]["dopant hop"], s["kinds"]["defect formation"]
    assert (hop["n_predicted"], hop["n_matched_predicted"], hop["n_true"], hop["n_matched_true"]) == (4, 2, 2, 1)
    assert hop["precision"] == 0.5 and hop["recall"] == 0.5
    assert (sw["n_predicted"], sw["n_matched_predicted"], sw["n_true"], sw["n_matched_true"]) == (2, 1, 1, 1)
    assert sw["precision"] == 0.5 and sw["recall"] == 1.0
    assert s["n_unscored"] == 4
    assert s["passes"] == {"dopant hop": False, "defect formation": False}
    assert hop["unmatched_true"] == [{"frame": 10, "y": 50.0, "x": 50.0}]
    assert {(e["frame"], e["x"]) for e in hop["unmatched_predicted"]} == {(6, 114.5), (10, 300.0)}
    assert s["targets"] == {"precision": 0.9, "recall": 0.9}

    # the hop at frame 10, left out of the recall, is not expected any more
    s = score_events(events, _truth(), CLASS_TO_STRUCTURE, 15, 1, exclude_true_after=9)
    assert s["kinds"]["dopant hop"]["recall"] == 1.0 and s["kinds"]["dopant hop"]["n_censored"] == 1

    # only the good ones: every target reached
    good = events.iloc[[0, 1, 4]]
    truth = {k: v[[0, 2, 3]] for k, v in _truth().items()}
    s = score_events(good, truth, CLASS_TO_STRUCTURE, 15, 1)
    assert s["passes"] == {"dopant hop": True, "defect formation": True}
    # a tighter tolerance loses the event next door (12 px away)
    s = score_events(good, truth, CLASS_TO_STRUCTURE, 5, 1)
    assert s["kinds"]["dopant hop"]["precision"] == 0.5


def test_score_events_without_predictions_has_no_precision():
    s = score_events(_events([]), _truth(), CLASS_TO_STRUCTURE, 15)
    assert s["kinds"]["dopant hop"]["precision"] is None and s["kinds"]["dopant hop"]["recall"] == 0.0
    assert s["passes"]["dopant hop"] is False


def test_hop_footprint_includes_the_old_site():
    truth = _truth()
    # per-atom truth: the Si (id 1) sat at (100, 86) in frame 4 and at (100, 100) in frame 5
    truth.update({
        "true_frame": np.array([4, 5]), "true_id": np.array([1, 1]),
        "true_y": np.array([100.0, 100.0]), "true_x": np.array([86.0, 100.0]),
        "true_class": np.array([1, 1]),
        "true_drift_y": np.zeros(11), "true_drift_x": np.r_[np.zeros(5), np.full(6, 0.5)],
    })
    fp = event_footprints(truth)
    np.testing.assert_allclose(fp[0], [[100, 100], [100, 86.5]])  # old site moved by the drift step
    events = _events([(5, 100, 86, 1, 0)])  # the Si leaving the old site, 14 px from the record
    assert score_events(events, truth, CLASS_TO_STRUCTURE, 3)["kinds"]["dopant hop"]["n_matched_predicted"] == 1
    assert score_events(events, _truth(), CLASS_TO_STRUCTURE, 3)["kinds"]["dopant hop"]["n_matched_predicted"] == 0


def test_stone_wales_footprint_holds_the_defect_atoms_and_the_atoms_bonded_to_them():
    truth = _truth()
    b = 14.2
    # frame 7, SW midpoint (200, 200): two "C in 5-7 defect" atoms 0.5 bond from it, a pristine C
    # bonded to one of them (a heptagon member), a pristine C two bonds out, and a defect atom
    # of another defect, 3 bonds away (not this event's)
    truth.update({
        "true_frame": np.array([7, 7, 7, 7, 7, 6]),
        "true_id": np.arange(6),
        "true_y": np.array([200.0, 200.0, 200.0, 200.0, 200.0, 200.0]),
        "true_x": np.array([200 - b / 2, 200 + b / 2, 200 + 1.5 * b, 200 + 2.5 * b, 200 - 3.5 * b, 200.0]),
        "true_class": np.array([2, 2, 0, 0, 2, 2]),
    })
    fp = event_footprints(truth, bond_px=b)[2]
    np.testing.assert_allclose(fp[:, 1], [200, 200 - b / 2, 200 + b / 2, 200 + 1.5 * b])
    # a change at the heptagon member is the event's; two bonds out, with a tolerance under a bond, it is not
    events = _events([(7, 200, 200 + 1.5 * b, 0, 2), (7, 200, 200 + 2.5 * b, 0, 2)])
    sw = score_events(events, truth, CLASS_TO_STRUCTURE, 3)["kinds"]["defect formation"]
    assert (sw["n_matched_predicted"], sw["n_predicted"], sw["recall"]) == (1, 2, 1.0)


def test_find_events_swap_pairs_opposite_moves_between_sublattice_classes():
    # The model gives Si and C on sublattice A classes 0 and 1, on sublattice B classes 2 and 3
    # (the latents: content along z1, sublattice along z2). The dopant at P (A) hops to Q (B) at
    # frame 3 and back at frame 4: P goes 0 -> 1, Q goes 3 -> 2, no class is traded, but the
    # content moves are opposite.
    means = {0: (1.0, 0.0), 1: (0.0, 0.0), 2: (1.0, 1.0), 3: (0.0, 1.0)}
    p = [0, 0, 0, 1, 0, 0]
    q = [3, 3, 3, 2, 3, 3]
    labels = np.r_[p, q]
    latents = np.array([means[c] for c in labels])
    track = np.repeat([0, 1], 6)
    frame = np.r_[np.arange(6), np.arange(6)]
    y, x = np.r_[np.zeros(6), np.full(6, 14.2)], np.zeros(12)
    assert len(find_events(labels, track, frame, y, x, min_persist=2, swap_radius_px=18.0)) == 0
    ev = find_events(labels, track, frame, y, x, min_persist=2, swap_radius_px=18.0, latents=latents)
    assert ev[["frame", "track", "from_class", "to_class"]].values.tolist() == [
        [3, 0, 0, 1], [3, 1, 3, 2], [4, 0, 1, 0], [4, 1, 2, 3]]
    # moves in the same direction (both sites losing the same content) are no swap
    labels = np.r_[[0, 0, 0, 1, 0, 0], [2, 2, 2, 3, 2, 2]]
    latents = np.array([means[c] for c in labels])
    assert len(find_events(labels, track, frame, y, x, min_persist=2, swap_radius_px=18.0, latents=latents)) == 0


def test_rates_per_frame_become_rates_per_second_and_per_dose():
    per_frame = [[None, 0.1], [0.02, None]]
    r = physical_rates(per_frame, frame_time_s=2.0, dose_e_per_A2_per_frame=1e5)
    assert r["per_frame"] == per_frame
    assert r["per_second"] == [[None, pytest.approx(0.05)], [pytest.approx(0.01), None]]
    # a probability per frame over the frame's dose: a cross-section in A^2 per electron
    assert r["per_dose"] == [[None, pytest.approx(1e-6)], [pytest.approx(2e-7), None]]
    unknown = physical_rates(0.3)
    assert unknown == {"per_frame": 0.3, "per_second": None, "per_dose": None}
    with pytest.raises(InputError, match="frame_time_s"):
        physical_rates(0.3, frame_time_s=0.0)

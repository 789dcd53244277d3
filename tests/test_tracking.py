import numpy as np
import pytest
import xarray as xr

import rvae_pathways.pathways.tracking as tracking
from rvae_pathways.core.errors import InputError
from rvae_pathways.pathways.tracking import link_frames, track_atoms
from rvae_pathways.scores.pathways import linking_accuracy


def _greedy(prev: np.ndarray, cur: np.ndarray, max_d: float) -> dict:
    """Closest-pair-first linking (the method optimal assignment must beat): {cur index: prev index}."""
    d = np.hypot(*(prev[:, None, :] - cur[None, :, :]).transpose(2, 0, 1))
    links, used_p, used_c = {}, set(), set()
    for flat in np.argsort(d, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, d.shape)
        if d[i, j] <= max_d and i not in used_p and j not in used_c:
            links[int(j)] = int(i)
            used_p.add(i)
            used_c.add(j)
    return links


def test_gap_closing_keeps_the_track_only_within_max_gap():
    a, b = np.array([[0.0, 0.0]]), np.array([[20.0, 0.0]])
    frames = [np.concatenate([a, b]), b + 0.2, np.concatenate([a + 0.3, b + 0.4])]
    with_gap = link_frames(frames, 2.0, max_gap_frames=1)
    assert [t.tolist() for t in with_gap] == [[0, 1], [1], [0, 1]]
    no_gap = link_frames(frames, 2.0, max_gap_frames=0)
    assert [t.tolist() for t in no_gap] == [[0, 1], [1], [2, 1]]
    # An empty frame counts as a missed frame too.
    frames = [a, np.zeros((0, 2)), a + 0.5]
    assert [t.tolist() for t in link_frames(frames, 2.0, 1)] == [[0], [], [0]]
    assert [t.tolist() for t in link_frames(frames, 2.0, 0)] == [[0], [], [1]]
    # Two missed frames need max_gap_frames >= 2.
    frames = [a, np.zeros((0, 2)), np.zeros((0, 2)), a]
    assert link_frames(frames, 2.0, 1)[3].tolist() == [1]
    assert link_frames(frames, 2.0, 2)[3].tolist() == [0]


def test_gap_closing_allows_more_distance_after_a_gap_but_not_beyond():
    a = np.array([[0.0, 0.0]])
    # After one missed frame the allowed distance is max_d * sqrt(2) = 2.83 for max_d = 2.
    near = [a, np.zeros((0, 2)), a + [[0.0, 2.7]]]
    far = [a, np.zeros((0, 2)), a + [[0.0, 2.9]]]
    assert link_frames(near, 2.0, 1)[2].tolist() == [0]
    assert link_frames(far, 2.0, 1)[2].tolist() == [1]


def test_optimal_assignment_beats_greedy_nearest_first():
    # Two atoms moving in step along x: the trailer lands 1 px from the leader's old place.
    prev = np.array([[0.0, 0.0], [0.0, 4.0]])  # A, B
    cur = np.array([[0.0, 3.0], [0.0, 7.0]])  # A', B'
    max_d = 3.5
    greedy = _greedy(prev, cur, max_d)
    assert greedy == {0: 1}  # greedy links B -> A' and loses both identities
    ids = link_frames([prev, cur], max_d, 0)
    assert ids[1].tolist() == [0, 1]  # optimal: A -> A', B -> B'
    # The same with a slight crossing geometry and the rows listed in another order.
    prev = np.array([[0.0, 0.0], [0.5, 4.0]])
    cur = np.array([[0.5, 7.0], [0.0, 3.0]])
    assert _greedy(prev, cur, max_d) == {1: 1}  # greedy: B -> A', A lost
    assert link_frames([prev, cur], max_d, 0)[1].tolist() == [1, 0]


def test_forbidden_pair_is_never_returned():
    # Tracks A and B can reach only P; C can reach P, Q and R. All six form one component, and
    # its 3 x 3 assignment must include one forbidden pair (B -> R), which must be dropped.
    prev = np.array([[-0.9, -0.5], [1.0, -0.5], [0.0, 1.0]])  # A, B, C
    cur = np.array([[0.0, 0.0], [0.0, 2.2], [1.0, 1.8]])  # P, Q, R
    ids = link_frames([prev, cur], 1.5, 1)
    assert ids[1].tolist() == [0, 2, 3]  # P <- A (closest), Q <- C, R new; B ends
    # Displacements just beyond the limit are never linked, just within always are.
    a = np.array([[5.0, 5.0]])
    assert link_frames([a, a + [[3.0, 4.0 + 1e-6]]], 5.0, 0)[1].tolist() == [1]
    assert link_frames([a, a + [[3.0, 4.0 - 1e-6]]], 5.0, 0)[1].tolist() == [0]


def test_no_link_is_longer_than_allowed_in_a_crowded_random_cloud():
    rng = np.random.default_rng(3)
    frames = [rng.uniform(0, 30, size=(rng.integers(40, 80), 2)) for _ in range(6)]
    max_d, gap = 2.0, 2
    ids = link_frames(frames, max_d, gap)
    last = {}
    for f, (p, t) in enumerate(zip(frames, ids)):
        assert len(np.unique(t)) == len(t)  # one atom per track per frame
        for xy, k in zip(p, t.tolist()):
            if k in last:
                f0, xy0 = last[k]
                assert 1 <= f - f0 <= gap + 1
                assert np.hypot(*(xy - xy0)) <= max_d * np.sqrt(f - f0) + 1e-9
            last[k] = (f, xy)


def test_new_atom_gets_a_new_id_and_steals_nothing():
    a, b = np.array([[0.0, 0.0]]), np.array([[0.0, 6.0]])
    frames = [
        np.concatenate([a, b]),
        np.concatenate([a + 0.1, b - 0.1]),
        # a new atom appears between them, within reach of both tracks
        np.concatenate([[[0.0, 3.0]], a + 0.3, b + 0.2]),
        np.concatenate([a + 0.2, [[0.0, 3.1]], b]),
    ]
    ids = link_frames(frames, 3.5, 1)
    assert [t.tolist() for t in ids] == [[0, 1], [0, 1], [2, 0, 1], [0, 2, 1]]


def test_drift_is_removed_by_linking_aligned_positions():
    rng = np.random.default_rng(0)
    yy, xx = np.meshgrid(np.arange(5) * 14.2, np.arange(6) * 14.2, indexing="ij")
    lattice = np.stack([yy.ravel(), xx.ravel()], 1) + 30
    n_frames, n = 4, len(lattice)
    drift = np.array([[8.0, -6.0]]) * np.arange(n_frames)[:, None]  # 10 px per frame, > max_d
    rows = []
    for f in range(n_frames):
        order = rng.permutation(n)
        aligned = lattice[order] + rng.normal(0, 0.3, (n, 2))
        raw = aligned + drift[f]
        rows.append((np.full(n, f), raw, aligned, order))
    frame = np.concatenate([r[0] for r in rows])
    raw = np.concatenate([r[1] for r in rows])
    aligned = np.concatenate([r[2] for r in rows])
    truth = np.concatenate([r[3] for r in rows])
    shuffle = rng.permutation(len(frame))  # rows need not be sorted by frame
    atoms = xr.Dataset(
        {
            "frame": ("atom", frame[shuffle].astype(np.int32)),
            "y": ("atom", raw[shuffle, 0].astype(np.float32)),
            "x": ("atom", raw[shuffle, 1].astype(np.float32)),
            "y_aligned": ("atom", aligned[shuffle, 0].astype(np.float32)),
            "x_aligned": ("atom", aligned[shuffle, 1].astype(np.float32)),
        },
        attrs={"n_frames": n_frames, "pixel_size_nm": 0.01},
    )
    track = track_atoms(atoms, 7.0, 1)
    assert track.dtype == np.int64 and track.shape == (len(frame),)
    scores = linking_accuracy(track, frame[shuffle], truth[shuffle], 1)
    assert scores["accuracy"] == 1.0 and scores["false_links"] == 0
    assert scores["n_tracks"] == n and scores["mean_track_length"] == n_frames
    # Linking the raw (drifting) positions instead breaks every track.
    raw_ids = link_frames([raw[frame == f] for f in range(n_frames)], 7.0, 1)
    raw_track = np.concatenate(raw_ids)
    assert linking_accuracy(raw_track, frame, truth, 1)["accuracy"] < 0.1


def test_ids_run_in_order_of_first_appearance_and_are_deterministic():
    rng = np.random.default_rng(7)
    base = rng.uniform(0, 200, (60, 2))
    frames = []
    for f in range(8):
        keep = rng.random(len(base)) < 0.8
        born = rng.uniform(0, 200, (rng.integers(0, 5), 2))
        frames.append(np.concatenate([base[keep] + rng.normal(0, 0.3, (keep.sum(), 2)), born]))
    frames.insert(3, np.zeros((0, 2)))
    first = link_frames(frames, 2.0, 2)
    again = link_frames([p.copy() for p in frames], 2.0, 2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    flat = np.concatenate(first)
    assert all(t.dtype == np.int64 for t in first)
    _, first_seen = np.unique(flat, return_index=True)
    assert np.array_equal(flat[np.sort(first_seen)], np.arange(flat.max() + 1))
    # a single frame, and no frames at all
    assert link_frames([base], 1.0)[0].tolist() == list(range(len(base)))
    assert link_frames([], 1.0) == []
    assert link_frames([np.zeros((0, 2))], 1.0)[0].tolist() == []
    with pytest.raises(InputError):
        link_frames([base], 0.0)
    with pytest.raises(InputError):
        link_frames([base], 1.0, max_gap_frames=-1)


def test_large_frames_link_correctly_without_dense_matrices(monkeypatch):
    rng = np.random.default_rng(11)
    n = 20_000
    points = rng.uniform(0, 1414, (3 * n, 2))
    # keep points at least 1.5 px apart, so pairs between 1.5 and max_d = 2 px form small
    # ambiguous components that the solver must resolve
    from scipy.spatial import cKDTree

    close = cKDTree(points).query_pairs(1.5, output_type="ndarray")
    drop = np.zeros(len(points), bool)
    drop[close[:, 1]] = True
    points = points[~drop][:n]
    assert len(points) == n
    sizes = []
    real = tracking.linear_sum_assignment

    def recording(matrix):
        sizes.append(matrix.shape)
        return real(matrix)

    monkeypatch.setattr(tracking, "linear_sum_assignment", recording)
    frames, truth = [], []
    for f in range(3):
        order = np.arange(n) if f == 0 else rng.permutation(n)
        frames.append(points[order] + rng.normal(0, 0.05, (n, 2)))
        truth.append(order)
    ids = link_frames(frames, 2.0, 1)
    for t, order in zip(ids, truth):
        assert np.array_equal(t, order)  # frame 0 is in point order, so track id = point index
    assert sizes, "the ambiguous components were never solved"
    assert max(max(s) for s in sizes) < 50


def test_linking_accuracy_counts_true_and_false_links():
    #           atom 5 in frames 0,1,2,4 ; atom 6 in frames 0,1,2
    frame = np.array([0, 1, 2, 4, 0, 1, 2])
    true_id = np.array([5, 5, 5, 5, 6, 6, 6])
    perfect = np.array([0, 0, 0, 0, 1, 1, 1])
    s = linking_accuracy(perfect, frame, true_id, max_gap_frames=1)
    assert s["n_true_links"] == 5 and s["accuracy"] == 1.0 and s["false_links"] == 0 and s["passes"]
    assert s["n_tracks"] == 2 and s["mean_track_length"] == 3.5
    # The 2 -> 4 link spans one missed frame: not a true link without gap closing.
    assert linking_accuracy(perfect, frame, true_id, max_gap_frames=0)["n_true_links"] == 4
    # Swap identities in frame 2: two true links lost, and the two tracks make two false links.
    swapped = np.array([0, 0, 1, 0, 1, 1, 0])
    s = linking_accuracy(swapped, frame, true_id, 1)
    assert s["n_recovered"] == 2 and s["accuracy"] == pytest.approx(2 / 5) and not s["passes"]
    assert s["false_links"] == 3  # track 0: 5 -> 6 -> 5; track 1: 6 -> 5
    # One wrong link: track 0 follows atom 5 in frames 0, 1, then takes atom 6 in frame 2.
    frame = np.array([0, 1, 0, 1, 2])
    true_id = np.array([5, 5, 6, 6, 6])
    one_wrong = np.array([0, 0, 1, 1, 0])
    s = linking_accuracy(one_wrong, frame, true_id, 1)
    assert s["n_true_links"] == 3 and s["n_recovered"] == 2 and s["accuracy"] < 1
    assert s["false_links"] == 1
    # Unmatched detections (true_id -1) make neither true nor false links.
    s = linking_accuracy([0, 0, 0], [0, 1, 2], [-1, 3, -1], 1)
    assert s["n_true_links"] == 0 and s["false_links"] == 0 and s["accuracy"] is None
    with pytest.raises(InputError):
        linking_accuracy([0, 1], [0], [0, 1], 1)


def test_latent_trajectories_place_each_patch_in_its_track_row_and_frame_column():
    from rvae_pathways.pathways.tracking import latent_trajectories

    track = np.array([7, 3, 7, 3, 9])
    frame = np.array([0, 0, 1, 2, 2])
    z = np.arange(10, dtype=float).reshape(5, 2)
    ds = latent_trajectories(track, frame, 3, z, label=np.array([0, 1, 0, 2, 1]), theta_deg=np.arange(5.0))
    assert ds["track"].values.tolist() == [3, 7, 9]  # rows in order of the track ids
    assert ds["label"].values.tolist() == [[1, -1, 2], [0, 0, -1], [-1, -1, 1]]
    assert ds["patch"].values.tolist() == [[1, -1, 3], [0, 2, -1], [-1, -1, 4]]
    np.testing.assert_array_equal(ds["z"].values[1, 1], [4.0, 5.0])
    assert np.isnan(ds["z"].values[0, 1]).all() and np.isnan(ds["theta_deg"].values[2, 0])
    with pytest.raises(ValueError, match="twice in one frame"):
        latent_trajectories(np.array([1, 1]), np.array([0, 0]), 1, np.zeros((2, 2)), np.zeros(2))

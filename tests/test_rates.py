"""Issue #18, points 1, 2 and 6: structural units, the Markov model of units along tracks with 95 %
intervals, dwell times with censoring, rates against the simulator, label placement, and the
units' agreement across seeds.

The last test runs five simulator seeds through the chain in the library (simulate, prepare, find
atoms, sample patches, track) with a cheaper latent step than the rVAE: the principal components
of the raw patches, cut into Gaussian classes as ``analyse_pathways`` cuts the rVAE latents (a
fixed number per coordination group). Si is four times brighter than carbon, so these classes
find the dopants as the rVAE's do (on the demo the rVAE chain gives the same hop count, 12 of
76 Si steps); training an rVAE per seed would take minutes each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import beta

from figure_checks import all_text, assert_inside_canvas, check_png, panels
from rvae_pathways.core.vocabulary import CLASS_NAMES
from rvae_pathways.figures import pathway_graph, rates as rate_figures, trajectories
from rvae_pathways.figures.labels import overlapping_labels, spread_labels
from rvae_pathways.core.errors import InputError
from rvae_pathways.pathways.rates import count_formations, dwell_times, markov_model, poisson_rate
from rvae_pathways.pathways.units import (bhattacharyya_coefficient, changed_tracks, merge_classes, unit_agreement,
                                          unit_labels, unit_means, units_from_names)
from rvae_pathways.pathways.seeds import seed_agreement
from rvae_pathways.scores.rates import realised_rates, score_rates

SPACING_PX = 14.2
LIBRARY_FIGURES = Path(__file__).resolve().parents[1] / "workflow" / "scripts" / "rvae_pathways" / "figures"


# --------------------------------------------------------------------------------------------
# units


def test_overlapping_classes_of_one_group_merge_and_others_stay_apart():
    eye = np.eye(2)
    means = [[0, 0], [0.5, 0], [6, 0], [0.2, 0.1]]
    covs = [eye, eye, eye, eye]
    assert bhattacharyya_coefficient(means[0], eye, means[1], eye) == pytest.approx(np.exp(-0.25 / 8))
    unit, info = merge_classes(means, covs, [0.2, 0.3, 0.1, 0.4], group=[0, 0, 0, 1], min_overlap=0.2)
    # classes 0 and 1 merge (same group, close); class 3 is as close but in the other group; 2 is far
    assert unit[0] == unit[1] and len(set(unit.tolist())) == 3
    assert info["members"] == [[0, 1], [3], [2]]  # by population: 0.5, 0.4, 0.1
    assert info["merges"][0]["classes"] == [[0], [1]]
    same, none = merge_classes(means, covs, [0.25] * 4, min_overlap=None)
    assert sorted(same.tolist()) == [0, 1, 2, 3] and none["method"] == "none"
    np.testing.assert_allclose(unit_means(means, [0.2, 0.3, 0.1, 0.4], unit)[0], [0.3, 0.0])


def test_units_from_names_follow_the_vocabulary_and_label_observations():
    unit, names = units_from_names({0: "pristine C", 1: "edge C", 2: "pristine C", 3: "Si", 4: None}, CLASS_NAMES)
    assert names == ["pristine C", "Si", "edge C", "class 4"]
    assert unit.tolist() == [0, 2, 0, 1, 3]
    np.testing.assert_array_equal(unit_labels(np.array([[0, -1], [3, 2]]), unit), [[0, -1], [1, 0]])


def test_a_track_changes_only_when_its_unit_changes_and_the_change_persists():
    unit_of_class = np.array([0, 0, 1])  # classes 0 and 1: one structure
    classes = np.array([
        [0, 1, 0, 1, 0, 1],  # flips between two classes of one unit: unchanged
        [0, 0, 2, 0, 0, 0],  # a one-frame flicker into unit 1: unchanged
        [0, 0, 0, 2, 2, 2],  # a persistent change: changed
        [-1, 1, 1, -1, 2, 2],  # unseen frames, then a change: changed
    ])
    changed = changed_tracks(unit_labels(classes, unit_of_class), min_persist=2)
    assert changed.tolist() == [False, False, True, True]


def test_unit_agreement_is_one_for_relabelled_assignments():
    a = np.repeat([0, 1, 2], 30)
    result = unit_agreement([a, (a + 1) % 3, np.where(np.arange(90) == 5, -1, a)])
    assert result["mean"] == pytest.approx(1.0) and result["n_observations"] == 89
    assert len(result["pairs"]) == 3
    noise = unit_agreement([a, np.random.default_rng(0).integers(0, 3, 90)])
    assert abs(noise["mean"]) < 0.1
    assert unit_agreement([a])["mean"] is None


def _blobs(centres, n=120, seed=0):
    """Latents of n points around each centre (2-D), blob by blob."""
    rng = np.random.default_rng(seed)
    return np.concatenate([np.asarray(c, float) + 0.3 * rng.standard_normal((n, 2)) for c in centres])


def test_seed_agreement_sees_the_same_structures_in_moved_latent_spaces_and_not_in_noise():
    centres = [(0, 0), (6, 0), (0, 6)]
    first = _blobs(centres)
    # another seed's latent space: the same three structures, moved, turned and in another order
    turned = _blobs([(5, 5), (-3, 4), (2, -6)], seed=1) @ np.array([[0.6, -0.8], [0.8, 0.6]])
    noise = np.random.default_rng(2).standard_normal(first.shape)  # a model that learnt nothing
    result = seed_agreement([first, turned, noise], seeds=[0, 1, 2], n_classes=3, min_overlap=0.2)
    assert result["seeds"] == [0, 1, 2] and result["n_classes"] == [3, 3, 3]
    (a, b, same), (_, _, vs_noise), _ = result["units"]["pairs"]
    assert (a, b) == (0, 1) and same == pytest.approx(1.0)
    assert vs_noise < 0.2 and result["units"]["min"] < 0.2
    assert result["n_units"][:2] == [3, 3] and result["units"]["n_observations"] == len(first)
    with pytest.raises(InputError, match="same patches"):
        seed_agreement([first, first[:-1]], seeds=[0, 1])
    with pytest.raises(InputError, match="2 latent sets but 1 seeds"):
        seed_agreement([first, first], seeds=[0])


# --------------------------------------------------------------------------------------------
# the Markov model


def test_markov_counts_single_frame_steps_and_gives_beta_marginal_intervals():
    # track 0: 0 0 1 1 (frames 0-3); track 1: 0 _ 0 (a gap, left out); track 2: 1 0 (frames 5, 6)
    units = np.array([0, 0, 1, 1, 0, 0, 1, 0])
    track = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    frame = np.array([0, 1, 2, 3, 0, 2, 5, 6])
    m = markov_model(units, track, frame, 2, ["a", "b"], frame_time_s=2.0, dose_e_per_A2_per_frame=10.0)
    assert m["counts"] == [[1, 1], [1, 1]] and m["n_steps"] == 4 and m["n_gap_steps"] == 1
    assert m["per_frame"]["estimate"][0] == [0.5, 0.5]
    # prior 1/2 per cell: Beta(1 + 1/2, 2 - 1 + 1/2)
    assert m["per_frame"]["low"][0][1] == pytest.approx(beta.ppf(0.025, 1.5, 1.5))
    assert m["per_frame"]["high"][0][1] == pytest.approx(beta.ppf(0.975, 1.5, 1.5))
    leave = m["leave"][1]
    assert leave["estimate"] == 0.5 and leave["n_steps"] == 2 and leave["mean_dwell_frames"] == 2.0
    assert m["per_second"]["leave"]["estimate"] == [0.25, 0.25]
    assert m["per_dose"]["estimate"][0][1] == pytest.approx(0.05)
    empty = markov_model(np.array([0, 0]), np.array([0, 0]), np.array([0, 1]), 3)
    assert empty["per_frame"]["estimate"][2] == [None, None, None] and empty["leave"][2]["estimate"] is None
    assert empty["per_second"] is None


def test_the_posterior_interval_keeps_its_coverage_on_simulated_chains():
    rng = np.random.default_rng(0)
    p_leave, covered, runs = 0.1, 0, 400
    for _ in range(runs):
        # 4 sites watched 10 frames: in unit 1 they leave with p_leave, in unit 0 they enter with 0.02
        state = np.ones(4, np.int64)
        units, track, frame = [], [], []
        for f in range(10):
            units += state.tolist()
            track += list(range(4))
            frame += [f] * 4
            go = rng.random(4)
            state = np.where(state == 1, (go >= p_leave).astype(np.int64), (go < 0.02).astype(np.int64))
        leave = markov_model(np.array(units), np.array(track), np.array(frame), 2)["leave"][1]
        covered += leave["low"] <= p_leave <= leave["high"]
    # 0.92 here; 0.93-0.95 over 1,500 runs of this and of p = 0.3 or 20 frames (the Jeffreys
    # interval of a proportion dips a little under 95 % at some small counts)
    assert covered / runs >= 0.9


def test_dwell_times_censor_runs_at_the_track_end():
    # track 0: unit 0 for frames 0-2, then unit 1 (frames 3-4, censored at the end)
    # track 1: unit 0 for frames 0-4 (censored); track 2: unit 0 frame 0, unit 1 frame 1 (ended after 1)
    units = np.array([0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1])
    track = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2])
    frame = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
    dwell = dwell_times(units, track, frame, 2, ["a", "b"])
    a, b = dwell["per_unit"]
    assert a["ended"] == [1, 3] and a["censored"] == [4]
    assert a["n_runs"] == 3 and b["n_runs"] == 2 and b["censored"] == [0, 1]
    # Kaplan-Meier: at d=1, 3 at risk, 1 ended -> 2/3; at d=3, 2 at risk, 1 ended -> 1/3
    np.testing.assert_allclose(a["survival"], [2 / 3, 2 / 3, 1 / 3, 1 / 3])
    assert a["at_risk"] == [3, 2, 2, 1] and a["median_frames"] == 3
    assert b["survival"] == [1.0] and b["median_frames"] is None


def test_poisson_rate_uses_the_jeffreys_interval():
    from scipy.stats import gamma

    rate = poisson_rate(3, 18)
    assert rate["estimate"] == pytest.approx(3 / 18)
    assert rate["low"] == pytest.approx(gamma.ppf(0.025, 3.5) / 18)
    assert rate["high"] == pytest.approx(gamma.ppf(0.975, 3.5) / 18)
    assert poisson_rate(0, 10)["low"] == 0.0


def test_formations_cluster_the_changes_of_one_frame():
    events = pd.DataFrame({"frame": [3, 3, 3, 3, 5, 5], "y": [10, 20, 12, 200, 50, 52], "x": [10, 12, 25, 200, 50, 50],
                           "from_class": [0, 0, 0, 0, 0, 2], "to_class": [2, 2, 2, 2, 2, 0]})
    found = count_formations(events, [0], [2], radius_px=2 * SPACING_PX)
    assert [(f["frame"], f["n_changes"]) for f in found] == [(3, 3), (3, 1), (5, 1)]


# --------------------------------------------------------------------------------------------
# scores against a synthetic truth


def _toy_truth(n_frames=11, hop=0.2):
    """Two Si atoms over ``n_frames`` frames with two recorded hops, as the simulator's output."""
    frames = np.repeat(np.arange(n_frames), 3)
    ds = xr.Dataset({
        "true_frame": ("true_atom", frames), "true_class": ("true_atom", np.tile([1, 1, 0], n_frames)),
        "true_event_frame": ("true_event", np.array([3, 7])), "true_event_kind": ("true_event", np.array([0, 0])),
    }, attrs={"hop_probability": hop, "stone_wales_per_frame": 0.0})
    return ds


def test_score_rates_reports_the_hop_against_the_simulators_setting():
    # site tracks: two Si sites over 11 frames; site 0 loses its Si at frame 3, site 2 gains it
    n = 11
    classes = {0: "pristine C", 1: "Si", 2: "Si", 3: "pristine C"}  # two Si classes: one unit
    label = np.array([[1] * 3 + [0] * 8, [2] * n, [3] * 3 + [1] * 8, [0] * n])
    t, f = np.nonzero(label >= 0)
    scores = score_rates(label[t, f], t, f, np.zeros(len(t)), np.zeros(len(t)), classes, _toy_truth(n), SPACING_PX,
                         frame_time_s=0.5)
    hop = scores["dopant_hop"]
    assert scores["units"]["names"] == ["pristine C", "Si"]
    assert hop["n_steps"] == 3 + 10 + 8 - 1 and hop["n_left"] == 1
    assert hop["estimate_per_frame"] == pytest.approx(1 / 20)
    assert hop["true_rate_per_frame"] == 0.2 and hop["realised_per_frame"] == pytest.approx(2 / 20)
    low, high = hop["ci95_per_frame"]
    assert low < 0.05 < high and hop["covered"] == (low <= 0.2 <= high)
    assert hop["per_second"]["estimate"] == pytest.approx(0.1) and hop["per_dose"] is None
    sw = scores["stone_wales"]
    assert sw["enough"] is False and sw["covered"] is None and set(sw) >= {"true_rate_per_frame", "ci95_per_frame"}
    assert realised_rates(_toy_truth(n))["dopant_hop"]["si_frames"] == 20


# --------------------------------------------------------------------------------------------
# figures: labels never hide one another


def _crowded_figure():
    from rvae_pathways.figures.kit import new_figure

    fig = new_figure(4, 3)
    ax = fig.subplots()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    texts = [ax.annotate(f"label number {i}", (0.5, 0.5), xytext=(3, 3), textcoords="offset points") for i in range(6)]
    texts.append(ax.text(0.5, 0.52, "a plain text"))
    return fig, texts


def test_spread_labels_leaves_no_two_labels_overlapping():
    fig, texts = _crowded_figure()
    assert overlapping_labels(fig, texts)  # all on one spot
    leaders = spread_labels(fig, texts)
    assert not overlapping_labels(fig, texts)
    assert leaders and all(line.get_gid() == "label-leader" for line in leaders)


def test_unit_means_in_the_latent_plane_are_named_without_overlap():
    from test_plots_pathways import make_trajectories

    ds, changed, _ = make_trajectories()
    means = np.array([[0.0, 0.0], [0.02, 0.01], [0.01, -0.02]])  # three units on one spot
    names = ["pristine C", "Si", "C in 5-7 defect"]
    fig = trajectories.latent_trajectories_figure(ds, changed, class_means=means, class_names=names, what="unit")
    (ax,) = panels(fig)
    labels = [t for t in ax.texts if t.get_gid() == "mean-label"]
    assert [t.get_text() for t in labels] == names and not overlapping_labels(fig, labels)
    assert_inside_canvas(fig)
    text = all_text(fig)
    assert "unit changed (5 of 5 shown)" in text and "unit mean" in text and "whose unit changed" in text


def test_rate_graph_and_dwell_times_figures(tmp_path):
    units = np.array([0, 0, 1, 1, 1, 1, 1, 0, 0, 0])
    track = np.repeat([0, 1], 5)
    frame = np.tile(np.arange(5), 2)
    markov = markov_model(units, track, frame, 2, ["pristine C", "Si"])
    labels = pathway_graph.rate_labels(markov)
    assert labels[0][1].startswith("0.25 [") and labels[0][1].endswith("n = 1")
    fig = pathway_graph.pathway_graph_figure(np.array(markov["counts"]), markov["units"], edge_labels=labels,
                                             noun="unit", node_notes=pathway_graph.leave_notes(markov))
    (ax,) = panels(fig)
    arrows = [t for t in ax.texts if t.get_gid() == "count"]
    assert sorted(t.get_text() for t in arrows) == sorted([labels[0][1], labels[1][0]])
    assert not overlapping_labels(fig, ax.texts)
    assert_inside_canvas(fig)
    assert "structural units" in fig.get_suptitle() and "Dirichlet posterior" in all_text(fig)
    dwell = dwell_times(units, track, frame, 2, markov["units"])
    rate_figures.plot_dwell_times(dwell, tmp_path / "dwell.png", markov=markov)
    check_png(tmp_path / "dwell.png")
    fig = rate_figures.dwell_times_figure(dwell, markov)
    first = panels(fig)[0]
    assert "pristine C: 1 ended, 1 censored" in first.get_title()
    assert [line.get_gid() for line in first.lines][:3] == ["km", "censored", "geometric"]


# --------------------------------------------------------------------------------------------
# five simulator seeds: the 95 % interval of the hop rate covers the true rate


def _hop_scores(seed, folder):
    """The chain on a 10-frame movie of the demo's imaging and hop setting; rate_scores' dopant_hop."""
    from sklearn.decomposition import PCA

    from rvae_pathways.core.frames import write_frames
    from rvae_pathways.pathways.kinetics import coordination_groups, fit_classes
    from rvae_pathways.pathways.tracking import track_atoms
    from rvae_pathways.scores.atoms import label_atoms_with_truth
    from rvae_pathways.scores.pathways import majority_structure
    from rvae_pathways.sim.stem import simulate_stem_movie
    from rvae_pathways.stem.align import prepare_movie
    from rvae_pathways.stem.movie import find_atoms_in_movie
    from rvae_pathways.stem.patches import default_window_px, extract_movie_patches
    from test_rvae_scores import CONFIG, IMAGING

    movie = simulate_stem_movie(n_frames=10, shape=(256, 256), seed=seed, **IMAGING)
    folder.mkdir()
    write_frames(movie, folder / "frames.zarr")
    prepare_movie(xr.open_zarr(folder / "frames.zarr"), folder / "aligned.zarr", max_shift=0.5 * SPACING_PX)
    aligned = xr.open_zarr(folder / "aligned.zarr")
    find_atoms_in_movie(aligned, folder / "atoms.zarr", SPACING_PX)
    label_atoms_with_truth(folder / "atoms.zarr", aligned, tolerance_px=3.0)
    extract_movie_patches(aligned, xr.open_zarr(folder / "atoms.zarr"), folder / "patches.zarr",
                          default_window_px(SPACING_PX, CONFIG["patches"]["window_factor"]),
                          CONFIG["patches"]["patch_px"])
    patches, atoms = xr.open_zarr(folder / "patches.zarr").load(), xr.open_zarr(folder / "atoms.zarr").load()
    settings = CONFIG["pathways"]
    track = track_atoms(atoms, settings["max_displacement_a"] * 0.1 / movie.attrs["pixel_size_nm"],
                        settings["max_gap_frames"])[patches["atom"].values]
    z = PCA(4, random_state=0).fit_transform(patches["image"].values.reshape(patches.sizes["patch"], -1))
    groups = coordination_groups(atoms["neighbours"].values[patches["atom"].values])
    labels, _ = fit_classes(z, 4, seed=0, groups=groups)
    names = majority_structure(labels, patches["true_class"].values, CLASS_NAMES)  # scoring only
    return score_rates(labels, track, patches["frame"].values, patches["y"].values, patches["x"].values, names,
                       movie, SPACING_PX)["dopant_hop"]


def test_the_hop_rate_interval_covers_the_simulators_rate_in_at_least_four_of_five_seeds(tmp_path):
    hops = [_hop_scores(seed, tmp_path / f"seed{seed}") for seed in range(5)]
    for hop in hops:
        assert hop["true_rate_per_frame"] == 0.1 and hop["n_steps"] >= 30
        assert set(hop) >= {"estimate_per_frame", "ci95_per_frame", "covered"}
    covered = [hop["covered"] for hop in hops]
    assert sum(covered) >= 4, [(h["estimate_per_frame"], h["ci95_per_frame"]) for h in hops]


def test_the_new_figure_modules_never_import_pyplot(tmp_path):
    from figure_checks import run_without_pyplot

    run_without_pyplot(
        "import numpy as np; "
        "from rvae_pathways.pathways.rates import dwell_times, markov_model; "
        "from rvae_pathways.figures import rates; "
        "u = np.array([0, 0, 1, 1]); t = np.zeros(4, int); f = np.arange(4); "
        f"rates.plot_dwell_times(dwell_times(u, t, f, 2), r'{tmp_path / 'd.png'}', markov=markov_model(u, t, f, 2))"
    )
    assert (tmp_path / "d.png").is_file()
    for module in ("rates", "labels"):
        source = (LIBRARY_FIGURES / f"{module}.py").read_text()
        assert "import pyplot" not in source and "matplotlib.pyplot" not in source

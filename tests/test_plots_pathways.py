"""Tests of the pathway figures (latent trajectories, track patches, kinetics, pathway graph)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from matplotlib.patches import FancyArrowPatch

from figure_checks import all_text, check_png, colorbar_labels, panels, run_without_pyplot
from rvae_pathways.figures import kinetics, kit, pathway_graph, track_patches, trajectories

N_TRACKS, N_FRAMES, N_CLASSES, PATCH = 40, 6, 3, 12
CHANGED = (3, 11, 17, 25, 38)
CLASS_NAMES = "class 0 (pristine C),class 1 (Si),class 2 (5-7 defect)"
MEANS = np.array([[-1.5, 0.0], [1.5, 0.5], [0.0, 2.0]])


# ------------------------------------------------------------------------------------------
# synthetic tracks: 40 atoms over 6 frames, 3 classes, 5 tracks change class


def make_trajectories(n_tracks=N_TRACKS, n_frames=N_FRAMES, seed=0):
    """Trajectories Dataset, changed flags and patch images.

    Track t is in class ``t % 3`` except the changed tracks, which go from class 0 to class 1
    at frame 3 (track 17 at frame 4). Tracks 5 and 17 miss frames 1 and 2; track 9 is seen from
    frame 2 on. z is the class mean plus noise; each patch is a constant image equal to its class
    plus 0.1 times its frame, so a cell's class can be read back from its pixels.
    """
    rng = np.random.default_rng(seed)
    label = np.repeat((np.arange(n_tracks) % N_CLASSES)[:, None], n_frames, axis=1)
    changed = np.zeros(n_tracks, bool)
    for t in CHANGED:
        label[t] = 0
        label[t, (4 if t == 17 else 3):] = 1
        changed[t] = True
    label[[5, 17], 1:3] = -1
    label[9, :2] = -1
    seen = label >= 0
    z = MEANS[np.clip(label, 0, None)] + rng.normal(0, 0.3, (n_tracks, n_frames, 2))
    z[~seen] = np.nan
    patch = np.full((n_tracks, n_frames), -1, np.int64)
    patch[seen] = np.arange(seen.sum())
    images = np.zeros((seen.sum(), PATCH, PATCH), np.float32)
    images += (label[seen] + 0.1 * np.broadcast_to(np.arange(n_frames), label.shape)[seen])[:, None, None]
    images += rng.normal(0, 0.02, images.shape).astype(np.float32)
    pos = rng.uniform(0, 64, (n_tracks, 2))
    ds = xr.Dataset(
        {"z": (("track", "frame", "latent"), z.astype(np.float32)),
         "theta_deg": (("track", "frame"), np.where(seen, rng.uniform(-180, 180, seen.shape), np.nan)
                       .astype(np.float32)),
         "label": (("track", "frame"), label.astype(np.int16)),
         "patch": (("track", "frame"), patch),
         "y": (("track", "frame"), np.where(seen, pos[:, :1], np.nan).astype(np.float32)),
         "x": (("track", "frame"), np.where(seen, pos[:, 1:], np.nan).astype(np.float32))},
        coords={"frame": np.arange(n_frames)},
        attrs={"class_names": CLASS_NAMES, "n_classes": N_CLASSES, "pixel_size_nm": 0.02},
    )
    return ds, changed, images


def fractions_of(ds):
    label = ds["label"].values
    seen = (label >= 0).sum(axis=0)
    return np.stack([(label == c).sum(axis=0) / seen for c in range(N_CLASSES)], axis=1)


def transition_counts(ds):
    counts = np.zeros((N_CLASSES, N_CLASSES), int)
    for row in ds["label"].values:
        seen = row[row >= 0]
        np.add.at(counts, (seen[:-1], seen[1:]), 1)
    return counts


@pytest.fixture(scope="module")
def tracks():
    return make_trajectories()


# ------------------------------------------------------------------------------------------
# checks












def by_gid(ax, gid, kind="lines"):
    return [a for a in getattr(ax, kind) if a.get_gid() == gid]


# ------------------------------------------------------------------------------------------
# helpers


def test_track_summary_lists_the_class_changes():
    assert track_patches.track_summary([0, 0, 0, 1, 1, 1]) == "0 -> 1 at frame 3"
    assert track_patches.track_summary([2, -1, 2, 2]) == "2 throughout"
    assert track_patches.track_summary([0, -1, 1, 1, 0], frames=[10, 11, 12, 13, 14]) == \
        "0 -> 1 at frame 12\n-> 0 at frame 14"
    assert track_patches.track_summary([-1, -1]) == "never seen"


def test_select_tracks_keeps_every_changed_track_and_is_seeded():
    changed = np.zeros(100, bool)
    changed[[4, 50, 77]] = True
    stayed, moved = trajectories.select_tracks(changed, max_tracks=10, seed=1)
    assert list(moved) == [4, 50, 77] and stayed.size == 7 and not changed[stayed].any()
    again, _ = trajectories.select_tracks(changed, max_tracks=10, seed=1)
    np.testing.assert_array_equal(stayed, again)
    stayed, moved = trajectories.select_tracks(changed, max_tracks=2, seed=0)
    assert stayed.size == 0 and moved.size == 2
    usable = np.ones(100, bool)
    usable[50] = False
    _, moved = trajectories.select_tracks(changed, max_tracks=10, usable=usable)
    assert list(moved) == [4, 77]


def test_class_names_come_from_the_attrs(tracks):
    ds, _, _ = tracks
    assert kit.pathway_class_names(ds) == ["class 0 (pristine C)", "class 1 (Si)",
                                           "class 2 (5-7 defect)"]
    assert kit.pathway_class_names(ds, 4)[3] == "class 3"


def test_choose_columns_spreads_frames_evenly():
    np.testing.assert_array_equal(track_patches.choose_columns(6, 10), np.arange(6))
    cols = track_patches.choose_columns(100, 10)
    assert cols.size == 10 and cols[0] == 0 and cols[-1] == 99 and np.all(np.diff(cols) > 0)


def test_plotting_never_imports_pyplot(tmp_path):
    run_without_pyplot(
        "import test_plots_pathways as t; "
        "from rvae_pathways.figures import kinetics, pathway_graph, track_patches, trajectories; "
        "ds, changed, images = t.make_trajectories(); "
        f"trajectories.plot_latent_trajectories(ds, changed, r'{tmp_path / 'a.png'}'); "
        f"track_patches.plot_track_patches(images, ds, [3, 5], r'{tmp_path / 'b.png'}'); "
        f"kinetics.plot_kinetics(t.fractions_of(ds), ['a', 'b', 'c'], r'{tmp_path / 'c.png'}'); "
        f"pathway_graph.plot_pathway_graph(t.transition_counts(ds), ['a', 'b', 'c'], r'{tmp_path / 'd.png'}')"
    )
    assert all((tmp_path / f"{n}.png").is_file() for n in "abcd")
    figures = Path(__file__).resolve().parents[1] / "workflow/scripts/rvae_pathways/figures"
    for module in ("trajectories", "track_patches", "kinetics", "pathway_graph"):
        source = (figures / f"{module}.py").read_text()
        assert "import pyplot" not in source and "matplotlib.pyplot" not in source


# ------------------------------------------------------------------------------------------
# 1. latent trajectories


def test_latent_trajectories_highlight_the_changed_tracks(tracks, tmp_path):
    ds, changed, _ = tracks
    background = np.random.default_rng(1).normal(0, 1.5, (3000, 2))
    assert trajectories.plot_latent_trajectories(ds, changed, tmp_path / "traj.png", background_z=background,
                                                 class_means=MEANS) is None
    check_png(tmp_path / "traj.png")
    fig = trajectories.latent_trajectories_figure(ds, changed, background_z=background, class_means=MEANS)
    (ax,) = panels(fig)
    labels = colorbar_labels(fig)
    assert "frame (index)" in labels
    assert any("all patches per bin" in label for label in labels)  # the background histogram
    assert ax.get_xlabel() == "$z_1$ (a.u.)" and ax.get_ylabel() == "$z_2$ (a.u.)"
    thick = by_gid(ax, "track-changed")
    thin = by_gid(ax, "track-unchanged")
    assert len(thick) == len(CHANGED) and len(thin) == N_TRACKS - len(CHANGED)
    assert min(line.get_linewidth() for line in thick) > 2 * max(line.get_linewidth() for line in thin)
    assert all(line.get_path_effects() for line in thick)  # outlined
    # each line runs through the track's seen points in frame order (track 17 misses frames 1, 2)
    z17 = ds["z"].values[17]
    seen = np.isfinite(z17).all(axis=1)
    assert any(len(line.get_xdata()) == seen.sum() and np.allclose(line.get_xdata(), z17[seen, 0])
               and np.allclose(line.get_ydata(), z17[seen, 1]) for line in thick)
    first = by_gid(ax, "first-point", "collections")[0].get_offsets()
    last = by_gid(ax, "last-point", "collections")[0].get_offsets()
    assert len(first) == len(last) == len(CHANGED)
    np.testing.assert_allclose(first[0], ds["z"].values[CHANGED[0], 0])
    np.testing.assert_allclose(last[0], ds["z"].values[CHANGED[0], -1])
    legend = all_text(fig)
    assert "class changed (5 of 5 shown)" in legend and "unchanged track (35 of 35 shown)" in legend
    assert "first point (changed track)" in legend and "class 1 (Si)" in legend  # class means named


def test_latent_trajectories_subsample_to_max_tracks(tracks):
    ds, changed, _ = tracks
    fig = trajectories.latent_trajectories_figure(ds, changed, max_tracks=12, seed=3)
    (ax,) = panels(fig)
    assert len(by_gid(ax, "track-changed")) == len(CHANGED)
    assert len(by_gid(ax, "track-unchanged")) == 12 - len(CHANGED)
    assert colorbar_labels(fig) == ["frame (index)"]  # no background given
    none = trajectories.latent_trajectories_figure(ds, np.zeros(N_TRACKS, bool), max_tracks=5)
    assert not by_gid(panels(none)[0], "track-changed") and len(by_gid(panels(none)[0], "track-unchanged")) == 5
    with pytest.raises(ValueError, match="changed flags"):
        trajectories.latent_trajectories_figure(ds, changed[:-1])


# ------------------------------------------------------------------------------------------
# 2. track patches


def test_track_patches_grid_rows_columns_and_blank_cells(tracks, tmp_path):
    ds, _, images = tracks
    shown = [17, 5, 9, 0]
    assert track_patches.plot_track_patches(images, ds, shown, tmp_path / "patches.png") is None
    check_png(tmp_path / "patches.png")
    fig = track_patches.track_patches_figure(images, ds, shown)
    axes = np.array(panels(fig)).reshape(len(shown), N_FRAMES)
    assert colorbar_labels(fig) == ["patch intensity (normalised)"]
    label = ds["label"].values
    for r, t in enumerate(shown):
        for f in range(N_FRAMES):
            ax = axes[r, f]
            if label[t, f] < 0:
                assert not ax.get_images() and ax.get_title() == "not seen"
            else:
                (im,) = ax.get_images()
                assert ax.get_title() == f"class {label[t, f]}"
                np.testing.assert_allclose(np.median(np.asarray(im.get_array())), label[t, f] + 0.1 * f, atol=0.05)
    assert axes[0, 0].get_ylabel() == "track 17:\n0 -> 1 at frame 4"
    assert axes[3, 0].get_ylabel() == "track 0:\n0 throughout"
    assert [ax.get_xlabel() for ax in axes[-1]] == [str(f) for f in range(N_FRAMES)]
    assert fig.get_supxlabel().startswith("frame (index)\nClasses: class 0 (pristine C); class 1 (Si)")
    assert sum(not ax.get_images() for ax in axes.ravel()) == 2 + 2 + 2  # tracks 17, 5 and 9


def test_track_patches_limit_tracks_and_frames(tmp_path):
    ds, _, images = make_trajectories(n_frames=25)
    fig = track_patches.track_patches_figure(images, ds, list(range(12)), max_tracks=8, max_frames=10)
    axes = np.array(panels(fig)).reshape(8, 10)
    frames = [int(ax.get_xlabel()) for ax in axes[-1]]
    assert frames[0] == 0 and frames[-1] == 24 and len(set(frames)) == 10
    assert "8 of 12 tracks" in fig.get_suptitle() and "10 of 25 frames" in fig.get_suptitle()
    track_patches.plot_track_patches(images, ds, list(range(12)), tmp_path / "big.png")
    check_png(tmp_path / "big.png")
    with pytest.raises(ValueError, match="track ids"):
        track_patches.track_patches_figure(images, ds, [99])


# ------------------------------------------------------------------------------------------
# 3. kinetics


def test_kinetics_lines_are_the_fractions(tracks, tmp_path):
    ds, _, _ = tracks
    fractions = fractions_of(ds)
    names = kit.pathway_class_names(ds)
    truth = fractions[:, :2] + 0.02
    kinetics.plot_kinetics(fractions, names, tmp_path / "kin.png", truth, ["pristine C", "Si"])
    check_png(tmp_path / "kin.png")
    fig = kinetics.kinetics_figure(fractions, names, truth, ["pristine C", "Si"])
    ax_all, ax_min = panels(fig)
    assert ax_all.get_ylim() == (0.0, 1.0)
    assert ax_all.get_xlabel() == "frame (index)" and "fraction" in ax_all.get_ylabel()
    colours = kit.discrete_colours(N_CLASSES)
    for c in range(N_CLASSES):
        (line,) = by_gid(ax_all, f"class-{c}")
        np.testing.assert_allclose(line.get_xdata(), np.arange(N_FRAMES))
        np.testing.assert_allclose(line.get_ydata(), fractions[:, c])
        assert np.allclose(plots_colour(line.get_color()), colours[c])
    # the most populous class (0) is left out of the zoom, the others zoomed in
    major = int(np.argmax(fractions.mean(axis=0)))
    assert not by_gid(ax_min, f"class-{major}")
    for c in set(range(N_CLASSES)) - {major}:
        np.testing.assert_allclose(by_gid(ax_min, f"class-{c}")[0].get_ydata(), fractions[:, c])
    assert ax_min.get_ylim()[1] < 1.0
    # dashed truth in the colour of the class of the same name
    (t_si,) = by_gid(ax_all, "truth-1")
    assert t_si.get_linestyle() == "--" and np.allclose(plots_colour(t_si.get_color()), colours[1])
    np.testing.assert_allclose(t_si.get_ydata(), truth[:, 1])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]  # found classes above their truth
    assert legend == [names[0], "truth: pristine C", names[1], "truth: Si", names[2], ""]
    assert "Zoom on the minority classes" in ax_min.get_title() and names[major] in ax_min.get_title()


def plots_colour(colour):
    from matplotlib.colors import to_rgba

    return to_rgba(colour)


def test_kinetics_gain_time_and_dose_axes_where_they_are_known():
    fractions = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    assert "time since frame 0 (s)" not in all_text(kinetics.kinetics_figure(fractions, ["a", "b"]))
    fig = kinetics.kinetics_figure(fractions, ["a", "b"], frame_time_s=2.0, dose_e_per_A2_per_frame=1e5)
    left, right = fig.axes[:2]
    top_left = [c for c in left.child_axes][0]
    assert top_left.get_xlabel() == "time since frame 0 (s)"
    top_right = [c for c in right.child_axes][0]
    assert top_right.get_xlabel() == "dose since frame 0 (10⁵ e⁻/Å²)".replace("10⁵", "10³")
    # frame 2 of the frame axis is 4 s on the time axis, and 200 x 10^3 e-/A^2 on the dose axis
    assert top_left._functions[0](np.array([2.0]))[0] == 4.0
    assert top_right._functions[0](np.array([2.0]))[0] == pytest.approx(200.0)
    only_time = kinetics.kinetics_figure(fractions, ["a", "b"], frame_time_s=2.0)
    assert [c.get_xlabel() for ax in only_time.axes[:2] for c in ax.child_axes] == ["time since frame 0 (s)"] * 2


def test_kinetics_of_one_class_says_there_is_no_minority(tmp_path):
    fig = kinetics.kinetics_figure(np.ones((4, 1)), ["all"])
    assert kinetics.NO_MINORITY_TEXT in all_text(fig)
    kinetics.plot_kinetics(np.ones((4, 1)), ["all"], tmp_path / "one.png")
    check_png(tmp_path / "one.png")


# ------------------------------------------------------------------------------------------
# 4. pathway graph


def test_pathway_graph_one_arrow_per_transition(tracks, tmp_path):
    ds, _, _ = tracks
    counts = transition_counts(ds)
    counts[1, 2] = 7  # one more pathway, and a pair of opposite arrows
    counts[2, 1] = 2
    names = kit.pathway_class_names(ds)
    pathway_graph.plot_pathway_graph(counts, names, tmp_path / "graph.png", populations=[120, 80, 40])
    check_png(tmp_path / "graph.png")
    fig = pathway_graph.pathway_graph_figure(counts, names)
    (ax,) = panels(fig)
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch) and p.get_gid() == "transition"]
    off = counts - np.diag(np.diag(counts))
    assert len(arrows) == np.count_nonzero(off) == 3
    texts = sorted(t.get_text() for t in ax.texts if t.get_gid() == "count")
    assert texts == sorted(str(v) for v in off[off > 0])
    widths = {round(a.get_linewidth(), 6) for a in arrows}
    assert len(widths) == 3  # width grows with the count
    assert "consecutive observations" in all_text(fig)
    assert pathway_graph.NO_TRANSITIONS_TEXT not in all_text(fig)
    # the two opposite arrows bow to opposite sides: their count labels do not coincide
    positions = [t.get_position() for t in ax.texts if t.get_gid() == "count"]
    assert len({(round(x, 3), round(y, 3)) for x, y in positions}) == len(positions)


def test_pathway_graph_without_transitions(tmp_path):
    counts = np.diag([30, 5, 0])
    pathway_graph.plot_pathway_graph(counts, ["a", "b", "c"], tmp_path / "none.png")
    check_png(tmp_path / "none.png")
    fig = pathway_graph.pathway_graph_figure(counts, ["a", "b", "c"])
    (ax,) = panels(fig)
    assert not [p for p in ax.patches if p.get_gid() == "transition"]
    assert pathway_graph.NO_TRANSITIONS_TEXT in all_text(fig)
    one = pathway_graph.pathway_graph_figure(np.array([[4]]), ["only"])
    assert pathway_graph.NO_TRANSITIONS_TEXT in all_text(one)
    with pytest.raises(ValueError, match="square"):
        pathway_graph.pathway_graph_figure(np.ones((2, 3)), ["a", "b"])

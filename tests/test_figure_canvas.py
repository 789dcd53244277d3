"""Every figure keeps its titles, labels and colour bars inside the canvas of its PNG, for any
number of frames (1, 3, 20) and any frame shape (square, tall, wide), and with long class names.

The check (:func:`figure_checks.assert_inside_canvas`) saves each figure as ``save_figure`` does
and measures what the renderer of that save drew, after its layout.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import test_plots as stem
import test_plots_pathways as paths
import test_plots_pfm as pfm
import test_plots_qc as qc_data
from figure_checks import assert_inside_canvas, drawn_extents
from rvae_pathways.figures import (
    gmm_baseline as gmm_figure,
    kinetics,
    kit,
    latent_manifold,
    latents,
    overview,
    pathway_graph,
    pfm_distributions,
    pfm_sweep,
    qc,
    track_patches,
    trajectories,
    training,
)
from rvae_pathways.stem import gmm_baseline

N_FRAMES = (1, 3, 20)
SHAPES = {"square": (64, 64), "tall": (200, 60), "wide": (60, 200)}
# frame counts x frame shapes; 3 and 20 frames both draw the first, middle and last frame, so
# the tall and wide frames are drawn with 1 and 20 frames only (20 has the longer counts)
FRAMES_AND_SHAPES = [(n, "square") for n in N_FRAMES] + [(n, s) for n in (1, 20) for s in ("tall", "wide")]
LONG_NAMES = ["pristine graphene carbon far from any defect", "substitutional silicon dopant (Si)",
              "carbon in a 5-7 Stone-Wales defect", "edge carbon next to a hole"]


@functools.lru_cache(maxsize=None)
def movie(n_frames, shape):
    return stem.make_movie(n_frames=n_frames, size=SHAPES[shape], seed=n_frames)


@functools.lru_cache(maxsize=None)
def sweep(n_frames, shape):
    return pfm.make_sweep(n_frames=n_frames, size=SHAPES[shape])


@functools.lru_cache(maxsize=None)
def tracks(n_frames):
    return paths.make_trajectories(n_frames=n_frames)


@pytest.fixture(autouse=True)
def saved_once(monkeypatch):
    """The ``plot_*`` functions that return their figure skip their own save: the check saves it."""
    for module in (overview, latents, gmm_figure, latent_manifold, training):
        monkeypatch.setattr(module, "save_figure", lambda fig, path: fig)


# ------------------------------------------------------------------------------------------
# the check can fail


def test_the_check_finds_what_the_canvas_cuts(monkeypatch):
    # without the kit's fitting, the title of a one-frame overview is cut at both ends (issue #16)
    frames, atoms, _, _ = movie(1, "square")
    with monkeypatch.context() as patch:
        patch.setattr(kit, "fit_to_canvas", lambda fig: None)
        with pytest.raises(AssertionError, match=r"text 'Aligned frames and found atoms .* at x -"):
            assert_inside_canvas(overview.plot_data_overview(frames, atoms, "unused.png"))
    # a word that cannot be wrapped, on a page-wide figure
    fig = kit.new_figure(kit.PAGE_WIDTH_IN, 2.0)
    ax = fig.subplots()
    ax.set_title("an_unbreakable_title_" * 5)
    with pytest.raises(AssertionError, match="unbreakable"):
        assert_inside_canvas(fig)
    # a colour bar pushed off the canvas
    fig = kit.new_figure(3.0, 2.0)
    ax = fig.subplots()
    bar = fig.colorbar(ax.imshow(np.eye(3)), cax=fig.add_axes((0.97, 0.1, 0.05, 0.8)))
    with pytest.raises(AssertionError, match="colour bar"):
        assert_inside_canvas(fig)
    # what the check measures: the PNG's canvas, the texts drawn (tick labels included), the colour bar
    (width, height), drawn = drawn_extents(fig)
    assert (width, height) == (3 * kit.DPI, 2 * kit.DPI)
    texts = [a.get_text() for a, _ in drawn if hasattr(a, "get_text")]
    assert "0.0" in texts and "" not in texts and bar.ax in [a for a, _ in drawn]


# ------------------------------------------------------------------------------------------
# figures of frames: every frame count and frame shape


@pytest.mark.parametrize("n_frames, shape", FRAMES_AND_SHAPES)
def test_overview(n_frames, shape, tmp_path):
    frames, atoms, _, _ = movie(n_frames, shape)
    assert_inside_canvas(overview.plot_data_overview(frames, atoms, tmp_path / "a.png"))


@pytest.mark.parametrize("n_frames, shape", FRAMES_AND_SHAPES)
def test_latent_maps(n_frames, shape, tmp_path):
    frames, _, _, lat = movie(n_frames, shape)
    assert_inside_canvas(latents.plot_latent_maps(frames, lat, tmp_path / "a.png"))


@pytest.mark.parametrize("n_frames, shape", FRAMES_AND_SHAPES)
def test_window_sweep(n_frames, shape):
    frames, lat, _ = sweep(n_frames, shape)
    assert_inside_canvas(pfm_sweep.window_sweep_figure(frames, lat))


@pytest.mark.parametrize("shape", SHAPES)
def test_cluster_baseline(shape, tmp_path):
    frames, _, patches, _ = movie(1, shape)
    labels, means = gmm_baseline.gmm_on_patches(patches["image"].values, 4, seed=0)
    xy, fl = gmm_baseline.frame_cluster_positions(patches, labels, 0)
    fig = gmm_figure.plot_cluster_baseline(patches, labels, means, frames["image"][0].values, xy, fl,
                                           tmp_path / "a.png", frame_number=0)
    assert_inside_canvas(fig)


# ------------------------------------------------------------------------------------------
# figures per frame: every frame count


@pytest.mark.parametrize("n_frames", N_FRAMES)
def test_latent_vs_frame(n_frames, tmp_path):
    _, _, _, lat = movie(n_frames, "square")
    assert_inside_canvas(latents.plot_latent_vs_frame(lat, tmp_path / "a.png"))


@pytest.mark.parametrize("n_frames", N_FRAMES)
def test_atom_qc(n_frames):
    report = qc_data.make_qc(n_frames=n_frames, sample="SrTiO3_frames_of_a_long_file_name_2024-05-17_0933")
    assert_inside_canvas(qc.atom_qc_figure(report))


@pytest.mark.parametrize("n_frames", N_FRAMES)
def test_switching_path_and_latent_histograms(n_frames):
    frames, lat, labels = sweep(n_frames, "square")
    truth = frames["true_switched_fraction"].values
    assert_inside_canvas(pfm_distributions.switching_path_figure(lat, labels, truth))
    assert_inside_canvas(pfm_distributions.latent_histograms_figure(lat))


@pytest.mark.parametrize("n_frames", N_FRAMES)
def test_pathway_figures_per_frame(n_frames):
    ds, changed, images = tracks(n_frames)
    ds = ds.assign_attrs(class_names=",".join(LONG_NAMES[:paths.N_CLASSES]))
    assert_inside_canvas(trajectories.latent_trajectories_figure(ds, changed, class_means=paths.MEANS))
    assert_inside_canvas(track_patches.track_patches_figure(images, ds, [3, 5, 11, 17]))
    fractions = paths.fractions_of(ds)
    assert_inside_canvas(kinetics.kinetics_figure(fractions, LONG_NAMES[:paths.N_CLASSES], fractions[:, :2],
                                                  LONG_NAMES[:2], frame_time_s=2.0,
                                                  dose_e_per_A2_per_frame=1e4))


# ------------------------------------------------------------------------------------------
# figures without frames: once, with long class names


def test_latent_scatter_and_angle_histograms_with_long_class_names(tmp_path):
    _, _, _, lat = movie(3, "square")
    lat = lat.assign_attrs(true_class_names=",".join(LONG_NAMES))
    assert_inside_canvas(latents.plot_latent_scatter(lat, tmp_path / "a.png"))
    assert_inside_canvas(latents.plot_angle_shift_histograms(lat, tmp_path / "b.png"))


def test_pathway_graph_with_long_class_names():
    ds, _, _ = tracks(3)
    counts = paths.transition_counts(ds)
    assert_inside_canvas(pathway_graph.pathway_graph_figure(counts, LONG_NAMES[:paths.N_CLASSES],
                                                            populations=[120, 80, 40]))


@pytest.mark.parametrize("patch", ["square", "tall", "wide"])
def test_latent_manifold(patch, tmp_path):
    images, z1, z2 = stem.manifold_grid()
    images = {"square": images, "tall": images[..., :, 3:9], "wide": images[..., 3:9, :]}[patch]
    fig = latent_manifold.plot_latent_manifold(images, z1, z2, tmp_path / "a.png",
                                               "rVAE manifold of a long sample name, decoded on a grid",
                                               pixel_size_nm=stem.PIXEL_NM)
    assert_inside_canvas(fig)


def test_training_history(tmp_path):
    fig = training.plot_training_history(stem.history(), tmp_path / "a.png", loss_units="nats per patch",
                                         title="Training history of the rVAE on a long sample name")
    assert_inside_canvas(fig)

"""Tests of the figures: each PNG is written, valid, page-sized and not blank, and shows what it should."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from figure_checks import (
    all_text,
    check_png,
    colorbar_labels,
    colorbars,
    panels,
    run_without_pyplot,
    scale_bar_labels,
)
from rvae_pathways.figures import kit
from rvae_pathways.figures.gmm_baseline import plot_cluster_baseline
from rvae_pathways.figures.latent_manifold import plot_latent_manifold
from rvae_pathways.figures.latents import (
    plot_angle_shift_histograms,
    plot_latent_maps,
    plot_latent_scatter,
    plot_latent_vs_frame,
)
from rvae_pathways.figures.overview import plot_data_overview
from rvae_pathways.figures.training import _use_log_scale, plot_training_history
from rvae_pathways.stem import gmm_baseline
from rvae_pathways.stem.patches import sample_patches

CLASS_NAMES = "pristine C,Si,C in 5-7 defect,edge C"
PIXEL_NM = 0.02
WINDOW = 10


# ------------------------------------------------------------------------------------------
# synthetic data in the workflow's layouts


def honeycomb(size, bond_px: float = 6.0, margin: float = 3.0):
    """(y, x, sublattice) of a graphene-like honeycomb inside a ``size`` square (or ``(ny, nx)``)."""
    ny, nx = (size, size) if np.isscalar(size) else size
    a = bond_px * np.sqrt(3)
    points = []
    for i in range(-int(ny / a) - 2, int((nx + ny) / a) + 3):
        for j in range(-2, int(ny / (a * np.sqrt(3) / 2)) + 3):
            x0, y0 = i * a + j * a / 2, j * a * np.sqrt(3) / 2
            points.append((y0, x0, 0))
            points.append((y0 + bond_px, x0, 1))
    p = np.array(points)
    inside = (p[:, 0] > margin) & (p[:, 0] < ny - margin) & (p[:, 1] > margin) & (p[:, 1] < nx - margin)
    return p[inside, 0], p[inside, 1], p[inside, 2].astype(int)


def make_movie(n_frames=3, size=64, seed=0, with_truth=True):
    """Frames, atoms, patches and rVAE latents of a small synthetic movie (class 2 never occurs);
    ``size`` is the side of a square frame or its ``(ny, nx)``."""
    rng = np.random.default_rng(seed)
    ny, nx = (size, size) if np.isscalar(size) else size
    y0, x0, sub0 = honeycomb((ny, nx))
    rows_px, cols_px = np.arange(ny)[:, None], np.arange(nx)[:, None]
    images, rows = [], []
    for f in range(n_frames):
        y = y0 + rng.normal(0, 0.2, y0.size)
        x = x0 + rng.normal(0, 0.2, x0.size)
        cls = np.zeros(y.size, int)
        cls[rng.choice(y.size, 3, replace=False)] = 1  # Si
        cls[(y < 8) | (x < 8)] = np.where(cls[(y < 8) | (x < 8)] == 1, 1, 3)  # "edge"
        amp = np.where(cls == 1, 2.5, 1.0)
        gy = np.exp(-((rows_px - y) ** 2) / (2 * 1.3**2))  # (ny, n_atoms), separable spots
        gx = np.exp(-((cols_px - x) ** 2) / (2 * 1.3**2))
        img = (gy * amp) @ gx.T + rng.normal(0, 0.05, (ny, nx))
        img = (img - img.min()) / (img.max() - img.min())
        images.append(img.astype(np.float32))
        rows.append((np.full(y.size, f), y, x, amp, cls, sub0))
    frame, y, x, amp, cls, sub = (np.concatenate(c) for c in zip(*rows))
    frames = xr.Dataset({"image": (("frame", "y", "x"), np.stack(images))},
                        coords={"frame": np.arange(n_frames)}, attrs={"pixel_size_nm": PIXEL_NM})
    atoms = xr.Dataset(
        {"frame": ("atom", frame.astype(np.int32)), "y": ("atom", y.astype(np.float32)),
         "x": ("atom", x.astype(np.float32)), "intensity": ("atom", amp.astype(np.float32)),
         "neighbours": ("atom", np.full(frame.size, 3, np.int32))},
        attrs={"pixel_size_nm": PIXEL_NM},
    )
    if with_truth:
        atoms["true_class"] = ("atom", cls.astype(np.int32))
        atoms["true_sublattice"] = ("atom", sub.astype(np.int8))
        atoms.attrs["true_class_names"] = CLASS_NAMES

    cuts, keep_rows = [], []
    for f in range(n_frames):
        idx = np.flatnonzero(frame == f)
        cut, kept = sample_patches(images[f], y[idx], x[idx], float(WINDOW), WINDOW)
        cuts.append(cut)
        keep_rows.append(idx[kept])
    keep = np.concatenate(keep_rows)
    per_patch = {c: ("patch", atoms[c].values[keep]) for c in atoms.data_vars if c != "intensity"}
    patches = xr.Dataset({"image": (("patch", "py", "px"), np.concatenate(cuts)), "atom": ("patch", keep), **per_patch},
                         attrs={"window_px": WINDOW, "pixel_size_nm": PIXEL_NM, "true_class_names": CLASS_NAMES})
    return frames, atoms, patches, make_latents(patches, seed=seed)


def make_latents(patches, model="rvae", seed=0):
    """Latents shaped like ``latents.zarr``: z drifts with the frame, θ follows the sublattice."""
    rng = np.random.default_rng(seed + 1)
    n = patches.sizes["patch"]
    frame = patches["frame"].values
    z = rng.normal(0, 1, (n, 2)) + np.column_stack([0.5 * frame, -0.3 * frame])
    if "true_class" in patches:
        z[patches["true_class"].values == 1] += [3.0, 3.0]
    if model == "rvae":
        sub = patches["true_sublattice"].values if "true_sublattice" in patches else rng.integers(0, 2, n)
        theta = 15 + 60 * sub + 120 * rng.integers(-1, 2, n) + rng.normal(0, 4, n)
        dx, dy = rng.normal(0, 0.5, n), rng.normal(0.2, 0.4, n)
    else:
        theta, dx, dy = np.zeros(n), np.zeros(n), np.zeros(n)
    latents = xr.Dataset(
        {"z_mean": (("patch", "latent"), z.astype(np.float32)),
         "z_std": (("patch", "latent"), np.full((n, 2), 0.3, np.float32)),
         "theta_deg": ("patch", theta.astype(np.float32)), "dx_px": ("patch", dx.astype(np.float32)),
         "dy_px": ("patch", dy.astype(np.float32))},
        attrs={"model": model, "true_class_names": CLASS_NAMES},
    )
    for c in ("frame", "atom", "y", "x", "true_class", "true_sublattice"):
        if c in patches:
            latents[c] = ("patch", patches[c].values)
    return latents


def history(n_epochs=25, with_rotation=True):
    epoch = np.arange(1, n_epochs + 1)
    rec = 800 * np.exp(-epoch / 5) + 20
    h = {"epoch": epoch.tolist(), "reconstruction": rec.tolist(), "kl_z": (5 + 2 * np.log(epoch)).tolist(),
         "kl_theta": (0.5 + 0.1 * epoch).tolist() if with_rotation else [0.0] * n_epochs,
         "kl_shift": (0.2 + 0.02 * epoch).tolist()}
    h["loss"] = [a + b + c + d for a, b, c, d in zip(h["reconstruction"], h["kl_z"], h["kl_theta"], h["kl_shift"])]
    return h


def manifold_grid(n=6, h=12, seed=0):
    """Blobs whose width follows z_1 and brightness z_2 (rows follow z_2, columns z_1)."""
    z1 = np.linspace(-2, 2, n)
    z2 = np.linspace(-1.5, 1.5, n)
    yy, xx = np.mgrid[0:h, 0:h] - (h - 1) / 2
    images = np.array([[(1.2 + 0.3 * b) * np.exp(-(yy**2 + xx**2) / (2 * (1.5 + 0.5 * (a + 2)) ** 2))
                        for a in z1] for b in z2])
    return images, z1, z2


@pytest.fixture(scope="module")
def movie():
    return make_movie()


# ------------------------------------------------------------------------------------------
# checks














# ------------------------------------------------------------------------------------------
# helpers


@pytest.mark.parametrize(
    "width_nm, length, label",
    [(25.6, 5.0, "5 nm"), (12.0, 2.0, "2 nm"), (2.56, 0.5, "5 Å"), (0.2, 0.02, "0.2 Å"), (100.0, 20.0, "20 nm")],
)
def test_scale_bar_is_a_round_length_near_a_fifth_of_the_width(width_nm, length, label):
    got_length, got_label = kit.scale_bar_length(width_nm)
    assert got_length == pytest.approx(length)
    assert got_label == label


def test_choose_frames_defaults_to_first_middle_last_and_checks_indices():
    assert kit.choose_frames(1) == [0]
    assert kit.choose_frames(2) == [0, 1]
    assert kit.choose_frames(9) == [0, 4, 8]
    with pytest.raises(ValueError, match="frames_to_show"):
        kit.choose_frames(3, [5])


def test_plotting_never_imports_pyplot(tmp_path):
    run_without_pyplot(
        "from rvae_pathways.figures import gmm_baseline, latent_manifold, latents, overview, training; "
        f"training.plot_training_history({{'loss': [3.0, 2.0, 1.0]}}, r'{tmp_path / 'h.png'}')"
    )
    assert (tmp_path / "h.png").is_file()


# ------------------------------------------------------------------------------------------
# 1. overview


def test_data_overview_shows_three_frames_with_atoms_and_a_scale_bar(movie, tmp_path):
    frames, atoms, _, _ = movie
    fig = plot_data_overview(frames, atoms, tmp_path / "overview.png")
    check_png(tmp_path / "overview.png")
    images = panels(fig)
    assert len(images) == 3 and len(colorbars(fig)) == 1
    assert "intensity" in colorbar_labels(fig)[0]
    counts = np.bincount(atoms["frame"].values)
    for ax, f in zip(images, (0, 1, 2)):
        assert ax.get_title() == f"frame {f}: {counts[f]} atoms"
        assert len(ax.collections[0].get_offsets()) == counts[f]
        assert ax.collections[0].get_facecolors().size == 0  # hollow circles
    # 64 px at 0.02 nm = 1.28 nm wide: a fifth is 0.256 nm, rounded down to 2 Å
    assert scale_bar_labels(images[0]) == ["2 Å"]


def test_data_overview_of_one_frame_has_one_panel(tmp_path):
    frames, atoms, _, _ = make_movie(n_frames=1, with_truth=False)
    fig = plot_data_overview(frames, atoms, tmp_path / "one.png")
    check_png(tmp_path / "one.png")
    assert len(panels(fig)) == 1
    assert "skipped" not in fig.get_suptitle()
    frames.attrs["skipped_frames"] = [3, 7]
    fig = plot_data_overview(frames, atoms, tmp_path / "skipped.png")
    assert "skipped as unusable (prepare.skip_bad_frames): frames 3, 7 of the file" in fig.get_suptitle()


# ------------------------------------------------------------------------------------------
# 2. Gaussian-mixture baseline


def two_families(n_each=30, size=9, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] - size // 2
    spot = np.exp(-(yy**2 + xx**2) / 4.0)
    bright = 0.2 + 0.7 * spot + rng.normal(0, 0.05, (n_each, size, size))
    dark = 0.8 - 0.7 * spot + rng.normal(0, 0.05, (n_each, size, size))
    images = np.concatenate([bright, dark])
    truth = np.repeat([0, 1], n_each)
    order = rng.permutation(2 * n_each)
    return images[order].astype(np.float32), truth[order]


def test_gmm_separates_bright_and_dark_centred_patches_perfectly():
    images, truth = two_families()
    labels, means = gmm_baseline.gmm_on_patches(images, n_clusters=2, seed=3)
    assert labels.shape == truth.shape and means.shape == (2, 9, 9)
    # one cluster per family, exactly
    assert {(t, l) for t, l in zip(truth, labels)} in ({(0, 0), (1, 1)}, {(0, 1), (1, 0)})
    bright = labels[truth == 0][0]
    assert means[bright, 4, 4] > 0.8 and means[1 - bright, 4, 4] < 0.2


def test_gmm_is_deterministic_by_seed_and_numbers_clusters_by_size():
    rng = np.random.default_rng(1)
    images = rng.normal(0.5, 0.2, (80, 8, 8)).astype(np.float32)
    images[:50, 3:5, 3:5] += 1.0
    first = gmm_baseline.gmm_on_patches(images, 3, seed=7)
    second = gmm_baseline.gmm_on_patches(images, 3, seed=7)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    counts = np.bincount(first[0], minlength=3)
    assert list(counts) == sorted(counts, reverse=True)
    np.testing.assert_allclose(first[1][0], images[first[0] == 0].mean(axis=0), atol=1e-5)


def test_gmm_on_fewer_patches_than_clusters_uses_one_cluster_per_patch():
    images = np.random.default_rng(0).random((3, 6, 6))
    labels, means = gmm_baseline.gmm_on_patches(images, 5, seed=0)
    assert means.shape == (3, 6, 6) and sorted(labels) == [0, 1, 2]


def test_cluster_baseline_has_gallery_map_and_discrete_colorbar(movie, tmp_path):
    frames, _, patches, _ = movie
    labels, means = gmm_baseline.gmm_on_patches(patches["image"].values, 4, seed=0)
    xy, frame_labels = gmm_baseline.frame_cluster_positions(patches, labels, 1)
    assert len(xy) == int((patches["frame"] == 1).sum())
    fig = plot_cluster_baseline(patches, labels, means, frames["image"][1].values, xy, frame_labels,
                                tmp_path / "gmm.png", frame_number=1)
    check_png(tmp_path / "gmm.png")
    assert len(panels(fig)) == 4 + 1 and len(colorbars(fig)) == 2
    cluster_bar = [ax for ax in colorbars(fig) if "cluster" in ax.get_ylabel()]
    assert len(cluster_bar) == 1
    ticks = [t.get_text() for t in cluster_bar[0].get_yticklabels()]
    counts = np.bincount(labels, minlength=4)
    assert ticks == [f"{c} (n={counts[c]})" for c in range(4)]
    assert "frame 1" in all_text(fig)
    # markers sit at the given x (columns) and y (rows)
    offsets = panels(fig)[-1].collections[0].get_offsets()
    np.testing.assert_allclose(offsets, xy)


# ------------------------------------------------------------------------------------------
# 3. manifold


def test_manifold_ticks_follow_z_values_with_z2_increasing_upwards(tmp_path):
    images, z1, z2 = manifold_grid()
    fig = plot_latent_manifold(images, z1, z2, tmp_path / "manifold.png", "rVAE manifold",
                               pixel_size_nm=PIXEL_NM)
    check_png(tmp_path / "manifold.png")
    (ax,) = panels(fig)
    assert len(colorbars(fig)) == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{v:.3g}" for v in z1]
    # image rows count downwards, so the top row (first y tick) is the largest z_2
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{v:.3g}" for v in z2[::-1]]
    assert "z_1" in ax.get_xlabel() and "z_2" in ax.get_ylabel()
    mosaic = ax.get_images()[0].get_array()
    np.testing.assert_allclose(mosaic[:12, :12], images[-1, 0])  # top-left: largest z_2, smallest z_1
    assert ax.get_title() == "rVAE manifold"


def test_manifold_refuses_values_that_do_not_match_the_grid(tmp_path):
    images, z1, z2 = manifold_grid()
    with pytest.raises(ValueError, match="z_1"):
        plot_latent_manifold(images, z1[:-1], z2, tmp_path / "bad.png", "x")


# ------------------------------------------------------------------------------------------
# 4. angle and shift histograms


def test_angle_histograms_show_theta_mod_120_and_shifts(movie, tmp_path):
    latents = movie[3]
    fig = plot_angle_shift_histograms(latents, tmp_path / "angles.png")
    check_png(tmp_path / "angles.png")
    axes = panels(fig)
    assert len(axes) == 4
    assert [ax.get_xlabel() for ax in axes] == ["θ (deg)", "θ mod 120 (deg)", "dx (px)", "dy (px)"]
    assert "60°" in axes[1].get_title()
    # every patch counted once in the theta histogram, and split by sublattice modulo 120
    assert sum(p.get_height() for p in axes[0].patches) == latents.sizes["patch"]
    assert len(axes[1].get_legend().get_texts()) == 2
    assert kit.NO_ROTATION_TEXT not in all_text(fig)


@pytest.mark.parametrize("drop", [False, True])
def test_angle_histograms_of_a_vae_say_there_is_no_rotation_latent(movie, tmp_path, drop):
    latents = make_latents(movie[2], model="vae")
    if drop:
        latents = latents.drop_vars(["theta_deg", "dx_px", "dy_px"])
        latents.attrs["model"] = "unknown"
    fig = plot_angle_shift_histograms(latents, tmp_path / "vae.png")
    check_png(tmp_path / "vae.png")
    text = all_text(fig)
    assert text.count(kit.NO_ROTATION_TEXT) == 2 and text.count(kit.NO_SHIFT_TEXT) == 2


# ------------------------------------------------------------------------------------------
# 5. latent maps


def test_latent_maps_share_one_colour_scale_per_variable(movie, tmp_path):
    frames, _, _, latents = movie
    fig = plot_latent_maps(frames, latents, tmp_path / "maps.png", frames_to_show=[0, 2])
    check_png(tmp_path / "maps.png")
    axes = np.array(panels(fig)).reshape(2, 3)
    labels = colorbar_labels(fig)
    assert len(labels) == 3 and "deg" in labels[2] and all("a.u." in lab for lab in labels[:2])
    for c in range(3):
        limits = {axes[r, c].collections[0].get_clim() for r in range(2)}
        assert len(limits) == 1
    assert axes[0, 2].collections[0].get_clim() == (-180.0, 180.0)
    assert axes[1, 0].get_ylabel().startswith("frame 2")
    assert scale_bar_labels(axes[0, 0]) == ["2 Å"]
    n_frame2 = int((latents["frame"] == 2).sum())
    assert len(axes[1, 1].collections[0].get_offsets()) == n_frame2


def test_latent_maps_of_a_vae_have_no_angle_colour_bar(movie, tmp_path):
    frames, _, patches, _ = movie
    fig = plot_latent_maps(frames, make_latents(patches, model="vae"), tmp_path / "vae_maps.png",
                           theta_period_deg=120)
    check_png(tmp_path / "vae_maps.png")
    assert len(colorbars(fig)) == 2
    assert all_text(fig).count(kit.NO_ROTATION_TEXT) == 3


def test_latent_maps_modulo_120(movie, tmp_path):
    frames, _, _, latents = movie
    fig = plot_latent_maps(frames, latents, tmp_path / "maps120.png", theta_period_deg=120)
    assert "θ mod 120 (deg)" in colorbar_labels(fig)
    values = panels(fig)[2].collections[0].get_array()
    assert values.min() >= 0 and values.max() < 120


# ------------------------------------------------------------------------------------------
# 6. latents vs frame


def test_latent_vs_frame_medians_track_the_drift(movie, tmp_path):
    latents = movie[3]
    fig = plot_latent_vs_frame(latents, tmp_path / "vs_frame.png")
    check_png(tmp_path / "vs_frame.png")
    axes = panels(fig)
    assert len(axes) == 2 and len(colorbars(fig)) == 2
    assert axes[1].get_xlabel().startswith("frame")
    median_z1 = axes[0].lines[0].get_ydata()
    expected = [np.median(latents["z_mean"].values[latents["frame"].values == f, 0]) for f in range(3)]
    np.testing.assert_allclose(median_z1, expected)
    assert median_z1[2] > median_z1[0]  # z_1 drifts up in the synthetic movie


def test_latent_vs_frame_of_one_frame(tmp_path):
    latents = make_movie(n_frames=1)[3]
    fig = plot_latent_vs_frame(latents, tmp_path / "one.png")
    check_png(tmp_path / "one.png")
    assert panels(fig)[1].get_xlim() == (-0.5, 0.5)


# ------------------------------------------------------------------------------------------
# 7. scatter


def test_latent_scatter_legend_names_the_classes_present(movie, tmp_path):
    latents = movie[3]
    fig = plot_latent_scatter(latents, tmp_path / "scatter.png")
    check_png(tmp_path / "scatter.png")
    ax_f, ax_c = panels(fig)
    assert colorbar_labels(fig) == ["frame (index)"]
    legend = [t.get_text() for t in ax_c.get_legend().get_texts()]
    counts = np.bincount(latents["true_class"].values, minlength=4)
    assert sorted(legend) == sorted(f"{n} (n={counts[c]})" for c, n in enumerate(CLASS_NAMES.split(",")) if counts[c])
    assert "absent: C in 5-7 defect" in ax_c.get_title()
    # the Si points keep the colour of class 1 whatever else is present
    si = [col for col in ax_c.collections if col.get_label().startswith("Si")][0]
    np.testing.assert_allclose(si.get_facecolors()[0], kit.class_colour(1))


def test_latent_scatter_without_truth_shows_density(movie, tmp_path):
    latents = movie[3].drop_vars(["true_class"])
    fig = plot_latent_scatter(latents, tmp_path / "density.png")
    check_png(tmp_path / "density.png")
    assert colorbar_labels(fig) == ["frame (index)", "patches per bin"]
    assert panels(fig)[1].get_legend() is None


# ------------------------------------------------------------------------------------------
# 8. training history


def test_training_history_uses_log_scale_for_a_falling_loss(tmp_path):
    fig = plot_training_history(history(), tmp_path / "history.png", loss_units="nats per patch")
    check_png(tmp_path / "history.png")
    ax_l, ax_r = panels(fig)
    assert ax_l.get_yscale() == "log" and ax_l.get_ylabel() == "loss (nats per patch)"
    assert ax_r.get_yscale() == "log"  # the KL terms run from 0.2 (shift) to 11 (z)
    legend = [t.get_text() for t in ax_r.get_legend().get_texts()]
    assert legend == ["KL of z", "KL of θ", "KL of shift"]
    assert [t.get_text() for t in ax_l.get_legend().get_texts()] == ["reconstruction", "total"]


def test_training_history_of_a_vae_from_a_dataframe(tmp_path):
    import pandas as pd

    # as train.fit records it: "total" for the loss, timings beside the terms
    frame = pd.DataFrame(history(4, with_rotation=False)).drop(columns=["kl_shift"]).rename(columns={"loss": "total"})
    frame["val_total"] = frame["total"] * 1.1
    frame["seconds"] = 2.0
    fig = plot_training_history(frame, tmp_path / "vae_history.png")
    check_png(tmp_path / "vae_history.png")
    ax_l, ax_r = panels(fig)
    assert [t.get_text() for t in ax_r.get_legend().get_texts()] == ["KL of z", "KL of θ: zero throughout"]
    assert len(ax_r.lines) == 1  # the zero term is named, not drawn
    assert [t.get_text() for t in ax_l.get_legend().get_texts()] == ["reconstruction", "total", "total (validation)"]
    assert ax_l.get_xlabel() == "epoch"
    assert ax_l.get_yscale() == "linear"  # 4 epochs: the loss falls by less than a factor of ten


def test_log_scale_only_for_positive_values_spanning_a_decade():
    assert _use_log_scale([np.array([100.0, 5.0])])
    assert not _use_log_scale([np.array([100.0, 20.0])])
    assert not _use_log_scale([np.array([100.0, -1.0])])


# ------------------------------------------------------------------------------------------
# tiny inputs through every figure


def test_every_figure_copes_with_five_patches_in_one_frame(tmp_path):
    frames, atoms, patches, _ = make_movie(n_frames=1, size=40, seed=2)
    patches = patches.isel(patch=slice(0, 5))
    latents = make_latents(patches)
    atoms = atoms.isel(atom=slice(0, 5))
    plot_data_overview(frames, atoms, tmp_path / "a.png")
    labels, means = gmm_baseline.gmm_on_patches(patches["image"].values, 4, seed=0)
    xy, fl = gmm_baseline.frame_cluster_positions(patches, labels, 0)
    plot_cluster_baseline(patches, labels, means, frames["image"][0].values, xy, fl, tmp_path / "b.png")
    plot_latent_manifold(*manifold_grid(n=2, h=WINDOW), tmp_path / "c.png", "tiny")
    plot_angle_shift_histograms(latents, tmp_path / "d.png")
    plot_latent_maps(frames, latents, tmp_path / "e.png")
    plot_latent_vs_frame(latents, tmp_path / "f.png")
    plot_latent_scatter(latents, tmp_path / "g.png")
    plot_training_history({"loss": [1.0]}, tmp_path / "h.png")
    for name in "abcdefgh":
        check_png(tmp_path / f"{name}.png", min_px=250)

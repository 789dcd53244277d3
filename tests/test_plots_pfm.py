"""Tests of the PFM figures (window-size sweep, switching pathway, latent histograms)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from figure_checks import (
    all_text, check_png, colorbar_labels, colorbars, panels, run_without_pyplot, scale_bar_labels,
)
from rvae_pathways.figures import kit, pfm_distributions, pfm_sweep, pfm_windows

PIXEL_NM = 20.0
SIZE = 64
STRIDE = 4
WINDOWS = (8, 16)


# ------------------------------------------------------------------------------------------
# synthetic data: a disc domain growing in a 64 x 64 movie


def make_frames(n_frames=3, size=SIZE, seed=0):
    """Piezoresponse +1 outside a disc, -1 inside it (radius growing with the frame), with noise;
    ``size`` is the side of a square frame or its ``(ny, nx)``."""
    rng = np.random.default_rng(seed)
    ny, nx = (size, size) if np.isscalar(size) else size
    yy, xx = np.mgrid[0:ny, 0:nx]
    radius = [10.0 + 8.0 * f for f in range(n_frames)]
    domain = np.stack([np.where((yy - 30) ** 2 + (xx - 34) ** 2 < r**2, -1, 1) for r in radius]).astype(np.int8)
    image = domain + rng.normal(0, 0.15, domain.shape)
    wall = np.zeros(domain.shape, bool)
    wall[:, 1:, :] |= domain[:, 1:, :] != domain[:, :-1, :]
    wall[:, :, 1:] |= domain[:, :, 1:] != domain[:, :, :-1]
    return xr.Dataset(
        {"image": (("frame", "y", "x"), image.astype(np.float32)),
         "true_domain": (("frame", "y", "x"), domain), "true_wall": (("frame", "y", "x"), wall),
         "true_switched_fraction": ("frame", (domain == -1).mean(axis=(1, 2)))},
        coords={"frame": np.arange(n_frames)},
        attrs={"pixel_size_nm": PIXEL_NM, "intensity_units": "a.u.", "modality": "pfm"},
    )


def make_latents(frames, window, stride=STRIDE, seed=0, theta=True):
    """Latents of a window grid: z1 = window mean + noise, z2 = window std + noise."""
    rng = np.random.default_rng(seed + window)
    image = frames["image"].values
    n_frames, ny, nx = image.shape
    rows, cols = (ny - window) // stride + 1, (nx - window) // stride + 1
    records = []
    for f in range(n_frames):
        for r in range(rows):
            for c in range(cols):
                cut = image[f, r * stride:r * stride + window, c * stride:c * stride + window]
                records.append((f, r, c, cut.mean(), cut.std()))
    f, r, c, mean, std = (np.array(v) for v in zip(*records))
    n = f.size
    z = np.column_stack([mean + rng.normal(0, 0.05, n), std + rng.normal(0, 0.05, n)])
    ds = xr.Dataset(
        {"z_mean": (("patch", "latent"), z.astype(np.float32)),
         "z_std": (("patch", "latent"), np.full((n, 2), 0.1, np.float32)),
         "frame": ("patch", f.astype(np.int32)), "row": ("patch", r.astype(np.int32)),
         "col": ("patch", c.astype(np.int32)),
         "y": ("patch", (r * stride + (window - 1) / 2).astype(np.float32)),
         "x": ("patch", (c * stride + (window - 1) / 2).astype(np.float32))},
        attrs={"window_px": window, "stride_px": stride, "grid_rows": rows, "grid_cols": cols,
               "frame_pixel_size_nm": PIXEL_NM, "pixel_size_nm": PIXEL_NM, "model": "rvae"},
    )
    if theta:
        ds["theta_deg"] = ("patch", rng.uniform(-180, 180, n).astype(np.float32))
    return ds


def make_sweep(n_frames=3, theta=True, size=SIZE):
    frames = make_frames(n_frames, size)
    latents = {w: make_latents(frames, w, theta=theta) for w in WINDOWS}
    labels = {w: np.where(ds["z_mean"].values[:, 0] < 0, -1, 1) for w, ds in latents.items()}
    return frames, latents, labels


@pytest.fixture(scope="module")
def sweep():
    return make_sweep()


# ------------------------------------------------------------------------------------------
# checks














# ------------------------------------------------------------------------------------------
# helpers


def test_latent_grid_places_each_value_at_its_row_and_col(sweep):
    _, latents, _ = sweep
    ds = latents[8]
    values = np.arange(ds.sizes["patch"], dtype=float)
    grid = pfm_sweep.latent_grid(ds, values, frame=1)
    assert grid.shape == (ds.attrs["grid_rows"], ds.attrs["grid_cols"]) == (15, 15)
    frame, row, col = (ds[c].values for c in ("frame", "row", "col"))
    for k in np.flatnonzero(frame == 1)[::17]:
        assert grid[row[k], col[k]] == values[k]
    assert grid[0, 0] == values[np.flatnonzero((frame == 1) & (row == 0) & (col == 0))[0]]
    # by name, and NaN where the frame has no window
    z1 = pfm_sweep.latent_grid(ds, "z1", 0)
    np.testing.assert_allclose(z1.ravel(), ds["z_mean"].values[frame == 0, 0])
    missing = ds.isel(patch=np.flatnonzero(~((frame == 2) & (row == 3) & (col == 5))))
    grid = pfm_sweep.latent_grid(missing, "z1", 2)
    assert np.isnan(grid[3, 5]) and np.isfinite(grid).sum() == grid.size - 1
    with pytest.raises(ValueError, match="values for"):
        pfm_sweep.latent_grid(ds, values[:-1], 0)


def test_grid_extent_puts_map_cells_on_the_window_centres(sweep):
    _, latents, _ = sweep
    # window 16, stride 4, 13 x 13 grid: centres 7.5 .. 55.5, cells 4 px wide
    left, right, bottom, top = pfm_sweep.grid_extent(latents[16])
    assert (left, right, bottom, top) == (5.5, 57.5, 57.5, 5.5)
    # the same from the patch centres alone
    ds = latents[16].copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in ("stride_px", "window_px", "grid_rows", "grid_cols")}
    np.testing.assert_allclose(pfm_sweep.grid_extent(ds), (5.5, 57.5, 57.5, 5.5))


def test_lengths_and_window_labels():
    assert pfm_windows.length_text(320) == "320 nm"
    assert pfm_windows.length_text(1280) == "1.28 µm"
    assert pfm_windows.window_label(16, 20.0) == "window 16 px (320 nm)"
    assert pfm_windows.window_label(16, None) == "window 16 px"


def test_plotting_never_imports_pyplot(tmp_path):
    run_without_pyplot(
        "import test_plots_pfm as t; from rvae_pathways.figures import pfm_distributions, pfm_sweep; "
        "frames, lat, lab = t.make_sweep(2); "
        f"pfm_sweep.plot_window_sweep(frames, lat, r'{tmp_path / 'a.png'}'); "
        f"pfm_distributions.plot_switching_path(lat, r'{tmp_path / 'b.png'}', lab); "
        f"pfm_distributions.plot_latent_histograms(lat, r'{tmp_path / 'c.png'}')"
    )
    assert all((tmp_path / f"{n}.png").is_file() for n in "abc")


# ------------------------------------------------------------------------------------------
# 1. window-size sweep


def test_window_sweep_rows_line_up_with_the_frames(sweep, tmp_path):
    frames, latents, _ = sweep
    assert pfm_sweep.plot_window_sweep(frames, latents, tmp_path / "sweep.png") is None
    check_png(tmp_path / "sweep.png")
    fig = pfm_sweep.window_sweep_figure(frames, latents)
    axes = np.array(panels(fig)).reshape(3, 3)  # image row + two window sizes, frames 0, 1, 2
    # one colour bar for the image row and one per latent row, all labelled
    labels = colorbar_labels(fig)
    assert len(labels) == 1 + len(WINDOWS)
    assert labels[0] == "piezoresponse (a.u.)" and labels[1:] == ["$z_1$ (a.u.)"] * 2
    assert scale_bar_labels(axes[0, 0]) == ["200 nm"]  # 64 px x 20 nm = 1.28 µm wide
    assert [ax.get_title() for ax in axes[0]] == ["frame 0", "frame 1", "frame 2"]
    assert axes[1, 0].get_ylabel() == "window 8 px\n(160 nm)"
    assert axes[2, 0].get_ylabel() == "window 16 px\n(320 nm)"
    assert len(axes[0, 0].collections) >= 1  # true walls as contours
    for r, window in ((1, 8), (2, 16)):
        images = [ax.get_images()[0] for ax in axes[r]]
        assert len({im.get_clim() for im in images}) == 1  # one colour scale per row
        assert images[2].get_extent() == list(pfm_sweep.grid_extent(latents[window]))
        np.testing.assert_array_equal(images[2].get_array().filled(np.nan),
                                      pfm_sweep.latent_grid(latents[window], "z1", 2))
        assert axes[r, 0].get_xlim() == axes[0, 0].get_xlim() == (-0.5, SIZE - 0.5)
    # the disc is switched (z1 < 0) at its centre in the last frame, not in the corner
    z1 = pfm_sweep.latent_grid(latents[16], "z1", 2)
    assert z1[6, 7] < 0 < z1[0, 0]


def test_window_sweep_of_theta_uses_a_cyclic_map(sweep, tmp_path):
    frames, latents, _ = sweep
    fig = pfm_sweep.window_sweep_figure(frames, latents, frames_to_show=[0, 2], variable="theta")
    axes = np.array(panels(fig)).reshape(3, 2)
    image = axes[1, 0].get_images()[0]
    assert image.get_cmap().name.startswith("twilight") and image.get_clim() == (-180.0, 180.0)
    assert colorbar_labels(fig)[1:] == ["θ (deg)"] * 2
    with pytest.raises(ValueError, match="variable"):
        pfm_sweep.window_sweep_figure(frames, latents, variable="z3")


def test_window_sweep_of_one_frame_shows_z1_z2_and_theta(tmp_path):
    frames, latents, _ = make_sweep(n_frames=1)
    pfm_sweep.plot_window_sweep(frames, latents, tmp_path / "one.png")
    check_png(tmp_path / "one.png")
    fig = pfm_sweep.window_sweep_figure(frames, latents)
    axes = panels(fig)
    assert len(axes) == 1 + 3 * len(WINDOWS)  # the image, then z1, z2, theta per window size
    assert [ax.get_title() for ax in axes[1:4]] == ["latent $z_1$", "latent $z_2$", "rotation θ"]
    assert colorbar_labels(fig) == ["piezoresponse (a.u.)"] + ["$z_1$ (a.u.)", "$z_2$ (a.u.)", "θ (deg)"] * 2
    assert scale_bar_labels(axes[0]) == ["200 nm"]


def test_window_sweep_without_theta_says_so(tmp_path):
    frames, latents, _ = make_sweep(n_frames=1, theta=False)
    pfm_sweep.plot_window_sweep(frames, latents, tmp_path / "no_theta.png")
    check_png(tmp_path / "no_theta.png")
    fig = pfm_sweep.window_sweep_figure(frames, latents)
    assert all_text(fig).count(kit.NO_ROTATION_TEXT) == len(WINDOWS)
    assert len(colorbars(fig)) == 1 + 2 * len(WINDOWS)
    frames, latents, _ = make_sweep(n_frames=3, theta=False)
    fig = pfm_sweep.window_sweep_figure(frames, latents, variable="theta")
    assert all_text(fig).count(kit.NO_ROTATION_TEXT) == 3 * len(WINDOWS)
    assert len(colorbars(fig)) == 1


def test_window_sweep_scale_bar_in_micrometres(tmp_path):
    frames, latents, _ = make_sweep(n_frames=2)
    frames.attrs["pixel_size_nm"] = 80.0  # 5.12 µm wide: a 1 µm bar
    for ds in latents.values():
        ds.attrs["frame_pixel_size_nm"] = 80.0
    fig = pfm_sweep.window_sweep_figure(frames, latents)
    assert scale_bar_labels(panels(fig)[0]) == ["1 µm"]
    assert "window 16 px\n(1.28 µm)" in all_text(fig)


# ------------------------------------------------------------------------------------------
# 2. switching pathway


def test_switching_path_histograms_and_fraction_against_truth(sweep, tmp_path):
    frames, latents, labels = sweep
    truth = frames["true_switched_fraction"].values
    pfm_distributions.plot_switching_path(latents, tmp_path / "path.png", labels, truth)
    check_png(tmp_path / "path.png")
    fig = pfm_distributions.switching_path_figure(latents, labels, truth)
    axes = panels(fig)
    assert len(axes) == len(WINDOWS) + 1
    assert colorbar_labels(fig) == ["fraction of the\nframe's windows"] * len(WINDOWS)
    assert "window 8 px (160 nm)" in axes[0].get_title()
    for ax in axes[:-1]:
        mesh = ax.collections[0].get_array()
        np.testing.assert_allclose(np.asarray(mesh).reshape(-1, 3).sum(axis=0), 1.0)  # per frame
    frac = axes[-1]
    assert frac.get_ylim() == (0.0, 1.0) and frac.get_xlabel() == "frame (index)"
    legend = [t.get_text() for t in frac.get_legend().get_texts()]
    assert legend == ["window 8 px (160 nm)", "window 16 px (320 nm)", "truth (area fraction)"]
    found = frac.lines[1].get_ydata()
    assert found[0] < found[1] < found[2]  # the disc grows
    np.testing.assert_allclose(frac.lines[2].get_ydata(), truth)


def test_switching_path_without_labels_or_truth(sweep, tmp_path):
    _, latents, _ = sweep
    pfm_distributions.plot_switching_path(latents, tmp_path / "no_labels.png")
    check_png(tmp_path / "no_labels.png")
    fig = pfm_distributions.switching_path_figure(latents)
    assert len(panels(fig)) == len(WINDOWS)
    assert pfm_distributions.NO_LABELS_TEXT in fig.get_suptitle()


def test_switching_path_of_one_frame(tmp_path):
    frames, latents, labels = make_sweep(n_frames=1, theta=False)
    truth = frames["true_switched_fraction"].values
    pfm_distributions.plot_switching_path(latents, tmp_path / "one.png", labels, truth)
    check_png(tmp_path / "one.png")
    fig = pfm_distributions.switching_path_figure(latents, labels, truth)
    axes = panels(fig)
    assert len(axes) == len(WINDOWS) + 1 and not colorbars(fig)
    assert axes[0].get_xlabel() == "$z_1$ (a.u.)"  # a 1-D histogram
    assert sum(p.get_height() for p in axes[0].patches) == pytest.approx(1.0)
    bars = [p.get_height() for p in axes[-1].patches]  # one bar per window size and the truth
    assert len(bars) == len(WINDOWS) + 1 and bars[-1] == pytest.approx(truth[0])
    assert all(0 < b < 0.5 for b in bars)  # the minority state


# ------------------------------------------------------------------------------------------
# 3. histograms


def test_latent_histograms_share_bins_per_column(sweep, tmp_path):
    _, latents, _ = sweep
    pfm_distributions.plot_latent_histograms(latents, tmp_path / "hist.png")
    check_png(tmp_path / "hist.png")
    fig = pfm_distributions.latent_histograms_figure(latents)
    axes = np.array(panels(fig)).reshape(len(WINDOWS), 3)
    assert [ax.get_xlabel() for ax in axes[-1]] == ["$z_1$ (a.u.)", "$z_2$ (a.u.)", "θ (deg)"]
    for c in range(3):
        edges = [[p.get_x() for p in ax.patches] for ax in axes[:, c]]
        assert edges[0] == edges[1]
        assert sum(p.get_height() for p in axes[0, c].patches) == pytest.approx(1.0)
    assert "window 16 px (320 nm): 507 windows" in all_text(fig)


def test_latent_histograms_of_one_frame_without_theta(tmp_path):
    _, latents, _ = make_sweep(n_frames=1, theta=False)
    pfm_distributions.plot_latent_histograms(latents, tmp_path / "one.png")
    check_png(tmp_path / "one.png")
    fig = pfm_distributions.latent_histograms_figure(latents)
    assert all_text(fig).count(kit.NO_ROTATION_TEXT) == len(WINDOWS)

"""Exports: HyperSpy latent maps and domains, the trackpy/napari table of the tracks, the domains store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from rsciio.hspy import file_reader

from rvae_pathways.exports.domains import domains_dataset, write_domains_hspy
from rvae_pathways.exports.hyperspy import axis, frame_axis, frame_timing, signal_dict, write_hspy
from rvae_pathways.exports.latent_maps import atom_cells, paint_cells, values_per_atom, write_latent_maps
from rvae_pathways.exports.tracks import tracks_table
from rvae_pathways.pfm.domains import switched_fraction, wall_points

PIXEL_NM = 0.02
SPACING_PX = 6.0


@pytest.fixture
def stem():
    """Two frames of 20 x 24 px; five atoms, three of them with a patch (atoms 2 and 4 have none)."""
    frames = xr.Dataset({"image": (("frame", "y", "x"), np.zeros((2, 20, 24), np.float32))},
                        attrs={"pixel_size_nm": PIXEL_NM, "frame_time_s": 0.5})
    atom_y = np.array([5.0, 5.0, 14.0, 5.2, 14.0])
    atom_x = np.array([5.0, 11.0, 5.0, 5.1, 18.0])
    atom_frame = np.array([0, 0, 0, 1, 1], np.int32)
    atoms = xr.Dataset({"frame": ("atom", atom_frame), "y": ("atom", atom_y), "x": ("atom", atom_x)},
                       attrs={"spacing_px": SPACING_PX, "pixel_size_nm": PIXEL_NM})
    patch_atom = np.array([0, 1, 3])
    latents = xr.Dataset(
        {"z_mean": (("patch", "latent"), np.array([[1.0, -1.0], [2.0, -2.0], [3.0, -3.0]], np.float32)),
         "atom": ("patch", patch_atom), "frame": ("patch", atom_frame[patch_atom]),
         "y": ("patch", atom_y[patch_atom]), "x": ("patch", atom_x[patch_atom]),
         "theta_deg": ("patch", np.array([10.0, 20.0, 30.0], np.float32)),
         "true_class": ("patch", np.array([0, 1, 0]))},
        coords={"latent": [1, 2]}, attrs={"model": "rvae"})
    tracks = xr.Dataset(
        {"track": ("atom", np.array([0, 1, 2, 0, 3], np.int32)), "frame": ("atom", atom_frame),
         "y": ("atom", atom_y), "x": ("atom", atom_x), "y_aligned": ("atom", atom_y - 0.5),
         "x_aligned": ("atom", atom_x + 0.25), "true_id": ("atom", np.arange(5))},
        attrs={"pixel_size_nm": PIXEL_NM, "n_frames": 2})
    trajectories = xr.Dataset({"class_of_patch": ("patch_order", np.array([1, 0, 2], np.int16))})
    return frames, atoms, latents, tracks, trajectories


def read_one(path):
    (signal,) = file_reader(str(path))
    return signal


# --------------------------------------------------------------------------------------------
# latent maps


def test_atom_cells_are_the_nearest_atom_within_the_radius():
    cells = atom_cells((10, 20), np.array([4.0, 4.0]), np.array([4.0, 10.0]), radius_px=3.0)
    assert cells[4, 4] == 0 and cells[4, 10] == 1
    assert cells[4, 6] == 0 and cells[4, 8] == 1  # nearer to one atom than the other
    assert cells[4, 16] == -1 and cells[9, 4] == -1  # 6 and 5 px away from every atom
    assert atom_cells((3, 3), np.zeros(0), np.zeros(0), 2.0).tolist() == [[-1] * 3] * 3


def test_paint_cells_puts_each_atoms_values_on_its_cell_and_nan_elsewhere():
    cells = np.array([[0, -1], [1, 1]])
    images = paint_cells(cells, np.array([[1.0, 10.0], [2.0, 20.0]]))
    assert images.shape == (2, 2, 2) and images.dtype == np.float32
    np.testing.assert_array_equal(images[1], [[10.0, np.nan], [20.0, 20.0]])
    per_atom = values_per_atom(3, np.array([2, 0]), np.array([[5.0], [6.0]]))
    np.testing.assert_array_equal(per_atom[:, 0], [6.0, np.nan, 5.0])


def test_latent_maps_file_holds_each_atoms_latent_on_its_cell(stem, tmp_path):
    frames, atoms, latents, _, _ = stem
    path = tmp_path / "latent_maps.hspy"
    info = write_latent_maps(path, frames, atoms, latents, "demo rvae latent maps")
    assert info["radius_px"] == pytest.approx(SPACING_PX / 2)
    signal = read_one(path)
    data = np.asarray(signal["data"])
    assert data.shape == (2, 2, 20, 24) and data.dtype == np.float32
    assert data[0, :, 5, 5].tolist() == [1.0, -1.0]  # atom 0, frame 0
    assert data[0, :, 6, 4].tolist() == [1.0, -1.0]  # inside atom 0's cell
    assert data[0, 1, 5, 11] == -2.0 and data[0, 1, 5, 9] == -2.0  # atom 1: nearer to it than to atom 0
    assert np.isnan(data[0, :, 14, 5]).all()  # atom 2 has no patch: its cell is NaN
    assert np.isnan(data[0, :, 19, 23]).all()  # far from every atom
    assert data[1, 0, 5, 5] == 3.0 and np.isnan(data[1, :, 14, 18]).all()  # frame 1: atoms 3 and 4
    assert signal["metadata"]["General"]["title"] == "demo rvae latent maps"
    assert "true" not in str(signal["original_metadata"])


def test_latent_maps_axes_are_calibrated(stem, tmp_path):
    frames, atoms, latents, _, _ = stem
    write_latent_maps(tmp_path / "a.hspy", frames, atoms, latents, "a")
    axes = read_one(tmp_path / "a.hspy")["axes"]
    assert [a["name"] for a in axes] == ["frame", "latent", "y", "x"]
    assert [bool(a["navigate"]) for a in axes] == [True, True, False, False]
    assert (axes[0]["units"], float(axes[0]["scale"])) == ("s", 0.5)
    assert (float(axes[1]["offset"]), float(axes[1]["scale"]), int(axes[1]["size"])) == (1.0, 1.0, 2)
    for a, size in zip(axes[2:], (20, 24)):
        assert (a["units"], float(a["scale"]), float(a["offset"]), int(a["size"])) == ("nm", PIXEL_NM, 0.0, size)

    untimed = frames.copy()
    untimed.attrs = {"pixel_size_nm": PIXEL_NM}
    write_latent_maps(tmp_path / "b.hspy", untimed, atoms, latents, "b")
    frame = read_one(tmp_path / "b.hspy")["axes"][0]
    assert (frame["units"], float(frame["scale"]), int(frame["size"])) == ("", 1.0, 2)


def test_latent_maps_are_the_same_bytes_every_time(stem, tmp_path):
    frames, atoms, latents, _, _ = stem
    for name in ("a.hspy", "b.hspy"):
        write_latent_maps(tmp_path / name, frames, atoms, latents, "same")
    assert (tmp_path / "a.hspy").read_bytes() == (tmp_path / "b.hspy").read_bytes()


def test_write_hspy_takes_frames_one_at_a_time_and_checks_their_number(tmp_path):
    axes = [axis("frame", 3), axis("y", 2, navigate=False), axis("x", 2, navigate=False)]
    taken = []

    def frames(n):
        for i in range(n):
            taken.append(i)
            yield np.full((2, 2), i)

    assert write_hspy(tmp_path / "ok.hspy", signal_dict(axes, "ok"), frames(3)) == 3
    assert np.asarray(read_one(tmp_path / "ok.hspy")["data"])[:, 0, 0].tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="2 frames written"):
        write_hspy(tmp_path / "short.hspy", signal_dict(axes, "short"), frames(2))
    with pytest.raises(ValueError, match="shape"):
        write_hspy(tmp_path / "wrong.hspy", signal_dict(axes, "wrong"), [np.zeros((3, 2))])


def test_frame_axis_follows_the_recorded_frames_where_it_can():
    assert frame_axis(3, 0.5) == axis("frame", 3, scale=0.5, units="s")
    assert frame_axis(3, None) == axis("frame", 3)
    assert frame_axis(3, 0.5, source_frame=[2, 4, 6]) == axis("frame", 3, scale=1.0, offset=1.0, units="s")
    assert frame_axis(3, 0.5, source_frame=[0, 1, 3]) == axis("frame", 3)  # uneven gaps: frames kept
    assert frame_axis(1, 0.5, source_frame=[7]) == axis("frame", 1, scale=0.5, offset=3.5, units="s")


def test_frame_timing_reads_the_frames_then_the_others(stem):
    frames, _, latents, _, _ = stem
    assert frame_timing(frames, latents) == (0.5, None)
    untimed = frames.assign_coords(source_frame=("frame", [3, 5]))
    untimed.attrs = {}
    timed = latents.copy()
    timed.attrs["frame_time_s"] = 2.0
    time, source = frame_timing(untimed, timed)
    assert time == 2.0 and source.tolist() == [3, 5]
    assert frame_timing(untimed)[0] is None


# --------------------------------------------------------------------------------------------
# tracks table


def test_tracks_table_has_trackpys_columns_and_every_models_class_and_latents(stem):
    _, _, latents, tracks, trajectories = stem
    table = tracks_table(tracks, {"rvae": (latents, trajectories)})
    assert list(table.columns) == ["particle", "frame", "y", "x", "y_nm", "x_nm", "y_aligned", "x_aligned",
                                   "rvae_class", "rvae_z1", "rvae_z2", "rvae_theta_deg"]
    assert not any(c.startswith("true") for c in table.columns)
    assert len(table) == tracks.sizes["atom"]
    np.testing.assert_allclose(table["y_nm"], table["y"] * PIXEL_NM)
    np.testing.assert_allclose(table["x_nm"], table["x"] * PIXEL_NM)
    # particle 0 is atoms 0 (frame 0) and 3 (frame 1), in time order, with their patches' latents
    track = table[table["particle"] == 0]
    assert track["frame"].tolist() == [0, 1]
    assert track["x"].tolist() == [5.0, 5.1]
    assert track["rvae_class"].tolist() == [1, 2] and track["rvae_z1"].tolist() == [1.0, 3.0]
    assert track["rvae_theta_deg"].tolist() == [10.0, 30.0]
    no_patch = table[table["particle"].isin([2, 3])]  # atoms 2 and 4
    assert no_patch["rvae_class"].tolist() == [-1, -1] and no_patch["rvae_z2"].isna().all()
    assert table[["particle", "frame"]].apply(tuple, axis=1).is_monotonic_increasing


def test_tracks_csv_reads_back_as_trackpy_and_napari_take_it(stem, tmp_path):
    _, _, latents, tracks, trajectories = stem
    table = tracks_table(tracks, {"rvae": (latents, trajectories), "vae": (latents, trajectories)})
    table.to_csv(tmp_path / "tracks.csv", index=False)
    back = pd.read_csv(tmp_path / "tracks.csv")
    assert back["particle"].dtype.kind == "i" and back["frame"].dtype.kind == "i"
    assert back["vae_class"].dtype.kind == "i"
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    napari_tracks = back[["particle", "frame", "y", "x"]].values  # ID, T, Y, X
    assert napari_tracks.shape == (5, 4)


def test_tracks_table_gives_times_of_the_recorded_frames(stem):
    _, _, latents, tracks, trajectories = stem
    assert "time_s" not in tracks_table(tracks, {"rvae": (latents, trajectories)})
    table = tracks_table(tracks, {"rvae": (latents, trajectories)}, frame_time_s=0.5, source_frame=[0, 4])
    np.testing.assert_allclose(table["time_s"], np.where(table["frame"] == 1, 2.0, 0.0))
    np.testing.assert_array_equal(table["source_frame"], np.where(table["frame"] == 1, 4, 0))


def test_tracks_table_rejects_classes_of_another_length(stem):
    _, _, latents, tracks, _ = stem
    wrong = xr.Dataset({"class_of_patch": ("patch_order", np.zeros(2, np.int16))})
    with pytest.raises(ValueError, match="2 classes for 3 patches"):
        tracks_table(tracks, {"vae": (latents, wrong)})


# --------------------------------------------------------------------------------------------
# PFM domains


@pytest.fixture
def pfm_latents():
    """Two frames of a 2 x 3 window grid (8 px windows every 4 px); frame 1 lacks window (1, 0)."""
    rows, cols = np.meshgrid(np.arange(2), np.arange(3), indexing="ij")
    labels = {0: [[1, 1, -1], [1, 1, -1]], 1: [[1, -1, -1], [0, -1, -1]]}
    frame, row, col, domain = [], [], [], []
    for f in (0, 1):
        for r, c in zip(rows.ravel(), cols.ravel()):
            if labels[f][r][c]:
                frame.append(f), row.append(r), col.append(c), domain.append(labels[f][r][c])
    row, col = np.array(row), np.array(col)
    return xr.Dataset(
        {"frame": ("patch", np.array(frame, np.int32)), "row": ("patch", row.astype(np.int32)),
         "col": ("patch", col.astype(np.int32)), "y": ("patch", (row * 4 + 3.5).astype(np.float32)),
         "x": ("patch", (col * 4 + 3.5).astype(np.float32)), "domain": ("patch", np.array(domain, np.int8)),
         "z_mean": (("patch", "latent"), np.zeros((len(frame), 2), np.float32))},
        attrs={"grid_rows": 2, "grid_cols": 3, "window_px": 8, "stride_px": 4, "model": "w8"})


def test_domains_store_holds_the_labels_walls_and_switched_fraction(pfm_latents, tmp_path):
    domains = domains_dataset(pfm_latents, 2, pixel_size_nm=20.0, frame_time_s=2.0)
    assert domains["domain"].dtype == np.int8
    assert domains["domain"].values.tolist() == [[[1, 1, -1], [1, 1, -1]], [[1, -1, -1], [0, -1, -1]]]
    assert domains["y_px"].values.tolist() == [3.5, 7.5] and domains["x_px"].values.tolist() == [3.5, 7.5, 11.5]
    np.testing.assert_allclose(domains["y_nm"], domains["y_px"] * 20.0)
    np.testing.assert_allclose(domains["wall_x_nm"], domains["wall_x_px"] * 20.0)
    np.testing.assert_allclose(domains["wall_y_nm"], domains["wall_y_px"] * 20.0)
    # the walls are the scores' wall points (the same library function)
    centre_y = np.broadcast_to(domains["y_px"].values[None, :, None], (2, 2, 3))
    centre_x = np.broadcast_to(domains["x_px"].values[None, None, :], (2, 2, 3))
    expected = wall_points(domains["domain"].values, centre_y, centre_x)
    assert domains["n_wall_points"].values.tolist() == [len(p) for p in expected] == [2, 1]
    got = np.column_stack([domains["wall_y_px"], domains["wall_x_px"]])
    np.testing.assert_allclose(got, np.concatenate(expected))
    assert domains["wall_frame"].values.tolist() == [0, 0, 1]
    fraction, state = switched_fraction(pfm_latents["domain"].values, pfm_latents["frame"].values, 2)
    np.testing.assert_allclose(domains["switched_fraction"], fraction)
    assert domains.attrs["switched_state"] == state == -1
    assert domains["time_s"].values.tolist() == [0.0, 2.0]
    domains.to_zarr(tmp_path / "domains.zarr", mode="w", consolidated=True)
    back = xr.open_zarr(tmp_path / "domains.zarr")
    assert back["domain"].values.tolist() == domains["domain"].values.tolist()
    assert back.attrs["stride_px"] == 4


def test_domains_without_a_pixel_size_keep_px_and_leave_nm_empty(pfm_latents, tmp_path):
    domains = domains_dataset(pfm_latents, 2, pixel_size_nm=None)
    assert np.isnan(domains["y_nm"]).all() and np.isnan(domains["wall_x_nm"]).all()
    assert "time_s" not in domains.coords
    domains.to_zarr(tmp_path / "domains.zarr", mode="w", consolidated=True)
    write_domains_hspy(tmp_path / "domains.hspy", domains, "scan w8 domains")
    axes = read_one(tmp_path / "domains.hspy")["axes"]
    assert [a["units"] for a in axes] == ["", "px", "px"]
    assert (float(axes[1]["scale"]), float(axes[1]["offset"])) == (4.0, 3.5)


def test_domains_keep_the_recorded_frames(pfm_latents, tmp_path):
    domains = domains_dataset(pfm_latents, 2, 20.0, frame_time_s=2.0, source_frame=[1, 3])
    assert domains["source_frame"].values.tolist() == [1, 3] and domains["time_s"].values.tolist() == [2.0, 6.0]
    write_domains_hspy(tmp_path / "d.hspy", domains, "d")
    frame = read_one(tmp_path / "d.hspy")["axes"][0]
    assert (frame["units"], float(frame["offset"]), float(frame["scale"])) == ("s", 2.0, 4.0)


def test_domains_hspy_is_the_label_grid_in_nm(pfm_latents, tmp_path):
    domains = domains_dataset(pfm_latents, 2, pixel_size_nm=20.0, frame_time_s=2.0)
    write_domains_hspy(tmp_path / "domains.hspy", domains, "sim w8 domains")
    signal = read_one(tmp_path / "domains.hspy")
    data = np.asarray(signal["data"])
    assert data.dtype == np.int8 and data.tolist() == domains["domain"].values.tolist()
    frame, y, x = signal["axes"]
    assert (frame["name"], frame["units"], float(frame["scale"]), bool(frame["navigate"])) == ("frame", "s", 2.0, True)
    for a, size in ((y, 2), (x, 3)):
        assert (a["units"], float(a["scale"]), float(a["offset"]), int(a["size"]), bool(a["navigate"])) \
            == ("nm", 80.0, 70.0, size, False)

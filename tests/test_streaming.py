"""Streaming: loading a movie and encoding its patches hold a frame (a block) at a time, not the whole.

Memory is measured with tracemalloc (NumPy reports its arrays to it), never with a clock; the
bench ``bench/streaming_memory.py`` measures the resident memory of the whole chain.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from rvae_pathways.rvae.encode import encode, encode_patch_store
from rvae_pathways.core.frames import make_frames, write_frames
from rvae_pathways.io.readers import read_frames
from rvae_pathways.rvae.train import build_model, resolve_hyper

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def traced_peak(work) -> tuple[object, int]:
    """``work()``'s result and the peak of the memory traced while it ran, in bytes.

    Run ``work`` once on small data first: the first call of a library imports modules and
    fills caches, megabytes that do not grow with the data.
    """
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def write_npy_movie(path: Path, n_frames: int, size: int, dtype=np.float64) -> None:
    """A random movie written a frame at a time (never whole in this process either)."""
    rng = np.random.default_rng(0)
    movie = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n_frames, size, size))
    for i in range(n_frames):
        movie[i] = rng.uniform(0, 100, (size, size))
    movie.flush()
    del movie


def file_mappings(path: Path) -> list[str]:
    """Lines of /proc/self/maps that map ``path``."""
    return [line for line in Path("/proc/self/maps").read_text().splitlines() if line.endswith(str(path))]


def test_npy_movie_is_loaded_a_frame_at_a_time_and_equals_the_in_memory_path(tmp_path):
    path = tmp_path / "movie.npy"
    write_npy_movie(path, 40, 192)  # 40 frames of 192 x 192 float64: 11.8 MB, 5.9 MB as float32
    frame_bytes = 192 * 192 * 4

    def load(source=path, store=tmp_path / "frames.zarr"):
        frames = read_frames(source, pixel_size_nm=0.01)
        write_frames(frames, store)
        return frames

    write_npy_movie(tmp_path / "small.npy", 2, 16)
    load(tmp_path / "small.npy", tmp_path / "small.zarr")  # warm-up
    frames, peak = traced_peak(load)
    assert peak < 10 * frame_bytes, f"peak {peak / frame_bytes:.1f} frames for a 40-frame movie"
    # the same store as from the movie read whole
    expected = np.load(path, allow_pickle=False)
    write_frames(make_frames(expected, 0.01, str(path)), tmp_path / "whole.zarr")
    streamed, whole = xr.open_zarr(tmp_path / "frames.zarr"), xr.open_zarr(tmp_path / "whole.zarr")
    assert streamed["image"].dtype == np.float32
    assert streamed["image"].chunks[0] == (1,) * 40
    np.testing.assert_array_equal(streamed["image"].values, whole["image"].values)
    np.testing.assert_array_equal(streamed["image"].values, expected.astype(np.float32))
    assert streamed.attrs == {**whole.attrs, "pixel_size_source": "samples table"}
    del frames


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc/self/maps")
def test_reading_frames_leaves_no_mapping_of_the_file(tmp_path):
    """A mapping kept open would keep every page read resident: the whole movie by the end."""
    path = tmp_path / "movie.npy"
    write_npy_movie(path, 6, 64, dtype=np.uint16)
    frames = read_frames(path, pixel_size_nm=0.01)
    total = sum(float(frames["image"][i].values.sum()) for i in range(6))
    assert total == pytest.approx(float(np.load(path).astype(np.float32).sum(dtype=np.float64)))
    assert file_mappings(path) == []


def test_zarr_movie_is_loaded_a_frame_at_a_time(tmp_path):
    frames = make_frames(np.random.default_rng(1).uniform(0, 100, (24, 256, 256)), 0.02, "simulate_stem")
    frames["true_drift_y"] = ("frame", np.linspace(0, 1, 24, dtype=np.float32))
    frames.to_zarr(tmp_path / "in.zarr", encoding={"image": {"chunks": (1, 256, 256)}})
    frames.isel(frame=slice(0, 2)).to_zarr(tmp_path / "small.zarr")
    frame_bytes = 256 * 256 * 4

    def load(source=tmp_path / "in.zarr", store=tmp_path / "out.zarr"):
        write_frames(read_frames(source), store)

    load(tmp_path / "small.zarr", tmp_path / "small_out.zarr")  # warm-up
    _, peak = traced_peak(load)
    assert peak < 10 * frame_bytes, f"peak {peak / frame_bytes:.1f} frames for a 24-frame movie"
    out = xr.open_zarr(tmp_path / "out.zarr")
    np.testing.assert_array_equal(out["image"].values, frames["image"].values)
    np.testing.assert_array_equal(out["true_drift_y"].values, frames["true_drift_y"].values)
    assert out["image"].chunks[0] == (1,) * 24
    assert out.attrs["upstream_source"] == "simulate_stem"


def test_patches_are_encoded_a_block_at_a_time_and_equal_encoding_them_whole(tmp_path):
    rng = np.random.default_rng(2)
    n, size = 6000, 21
    images = rng.uniform(0, 50, (n, size, size)).astype(np.float32)  # 10.6 MB
    patches = xr.Dataset(
        {
            "image": (("patch", "py", "px"), images),
            "atom": (("patch",), np.arange(n, dtype=np.int64)),
            "frame": (("patch",), np.repeat(np.arange(12), 500).astype(np.int32)),
        },
        attrs={"patch_px": size},
    )
    patches.to_zarr(tmp_path / "patches.zarr", encoding={"image": {"chunks": (250, size, size)}})
    patches.isel(patch=slice(0, 700)).to_zarr(tmp_path / "small.zarr")
    torch.manual_seed(0)
    model = build_model(resolve_hyper({"hidden": 32}, size))

    def run(source=tmp_path / "patches.zarr", store=tmp_path / "latents.zarr"):
        return encode_patch_store(model, xr.open_zarr(source), store, 50.0, ("atom", "frame", "row"),
                                  {"model": "rvae"}, batch_size=125, block_batches=2, chunk_rows=5000)

    run(tmp_path / "small.zarr", tmp_path / "small_latents.zarr")  # warm-up
    count, peak = traced_peak(run)
    assert count == n
    assert peak < images.nbytes / 4, f"peak {peak / 2**20:.1f} MB for {images.nbytes / 2**20:.1f} MB of patches"
    latents = xr.open_zarr(tmp_path / "latents.zarr")
    whole = encode(model, images / 50.0, batch_size=125)
    np.testing.assert_array_equal(latents["z_mean"].values, whole.pop("z"))
    np.testing.assert_array_equal(latents["z_std"].values, whole.pop("z_std"))
    assert set(whole) == {"theta_deg", "theta_std_deg", "dx_px", "dy_px", "dx_std_px", "dy_std_px"}
    for name, values in whole.items():
        np.testing.assert_array_equal(latents[name].values, values)
    np.testing.assert_array_equal(latents["atom"].values, patches["atom"].values)
    np.testing.assert_array_equal(latents["frame"].values, patches["frame"].values)
    assert "row" not in latents
    assert list(latents["latent"].values) == [1, 2]
    assert latents["z_mean"].dims == ("patch", "latent")
    assert latents.attrs == {"model": "rvae"}


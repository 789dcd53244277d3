"""Rule tile_frames: cut every piezoresponse frame into windows on a grid and cache them as Zarr."""

import xarray as xr

from rvae_pathways.rule_runner import run
from rvae_pathways.tiles import tile_movie


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.frames)
    truth = frames if "true_domain" in frames else None
    window, patch_px = snakemake.params.window_px, snakemake.params.patch_px
    if patch_px is not None and patch_px >= window:
        patch_px = None  # pfm.patch_px resamples only the windows larger than it
    summary = tile_movie(
        frames["image"], snakemake.output.patches,
        window_px=window, stride_px=snakemake.params.stride_px, patch_px=patch_px, pixel_size_nm=frames.attrs["pixel_size_nm"],
        truth=truth, log=log,
    )
    log.info("wrote %s: %s", snakemake.output.patches, summary)


run(snakemake, main)  # noqa: F821

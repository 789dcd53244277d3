"""Rule tile_frames: cut every piezoresponse frame into windows on a grid and cache them as Zarr."""

import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.pfm.tiles import model_patch_px, tile_movie


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.frames)
    truth = frames if "true_domain" in frames else None
    window = snakemake.params.window_px
    patch_px = model_patch_px(window, snakemake.params.patch_px)
    summary = tile_movie(
        frames["image"], snakemake.output.patches,
        window_px=window, stride_px=snakemake.params.stride_px, patch_px=patch_px, pixel_size_nm=frames.attrs["pixel_size_nm"],
        truth=truth, log=log,
    )
    log.info("wrote %s: %s", snakemake.output.patches, summary)


run(snakemake, main)  # noqa: F821

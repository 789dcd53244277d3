"""Rule tile_frames: cut every piezoresponse frame into windows on a grid and cache them as Zarr."""

import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.pfm.tiles import model_patch_px, tile_movie
from rvae_pathways.scores.pfm import label_windows_with_truth


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.frames)
    window = snakemake.params.window_px
    patch_px = model_patch_px(window, snakemake.params.patch_px)
    summary = tile_movie(
        frames["image"], snakemake.output.patches,
        window_px=window, stride_px=snakemake.params.stride_px, patch_px=patch_px,
        pixel_size_nm=frames.attrs["pixel_size_nm"], log=log,
    )
    log.info("wrote %s: %s", snakemake.output.patches, summary)
    if "true_domain" in frames:  # a simulated sequence: the true sign and wall distance per window, for the scores
        label_windows_with_truth(snakemake.output.patches, frames)


run(snakemake, main)  # noqa: F821

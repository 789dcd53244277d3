"""Rule explore_pfm_model: the latent explorer page of one PFM window size (every window, in the
latent plane and on its piezoresponse frame; see rvae_pathways.figures.explorer)."""

import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.figures.explorer import write_explorer
from rvae_pathways.figures.explorer_data import pfm_explorer_data


def main(snakemake, log):
    data = pfm_explorer_data(
        xr.open_zarr(snakemake.input.frames), xr.open_zarr(snakemake.input.patches),
        xr.open_zarr(snakemake.input.latents).load(), sample=snakemake.wildcards.sample,
    )
    written = write_explorer(data, snakemake.output.page)
    log.info("explorer of %d windows, %d frames (1/%d resolution), thumbnails %d px: %s, %.1f MB",
             written["n_points"], len(data.frames), written["frame_step"], written["thumbnail_px"],
             written["path"], written["bytes"] / 1e6)


run(snakemake, main)  # noqa: F821

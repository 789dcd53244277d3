"""Rule prepare_frames: normalise intensities and measure drift, frame by frame."""

import xarray as xr

from rvae_pathways.align import prepare_movie
from rvae_pathways.rule_runner import run


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.frames)
    drift = prepare_movie(
        frames, snakemake.output.aligned, snakemake.params.percentiles, snakemake.params.upsample, log
    )
    log.info("total drift over the movie: (%.2f, %.2f) px", *(drift[-1] - drift[0]))


run(snakemake, main)  # noqa: F821

"""Rule prepare_frames: normalise intensities and measure drift, frame by frame."""

import xarray as xr

from rvae_pathways.stem.align import prepare_movie
from rvae_pathways.core.geometry import SampleGeometry
from rvae_pathways.core.runner import run


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.frames)
    geometry = SampleGeometry(frames.attrs["pixel_size_nm"], snakemake.params.spacing_nm)
    max_shift = geometry.spacings_px(snakemake.params.max_shift_spacings)
    log.info("drift between frames searched within %.1f px", max_shift)
    drift = prepare_movie(frames, snakemake.output.aligned, snakemake.params.percentiles, max_shift, log,
                          per_frame=snakemake.params.per_frame)
    log.info("total drift over the movie: (%.2f, %.2f) px", *(drift[-1] - drift[0]))


run(snakemake, main)  # noqa: F821

"""Rule export_tracks: every atom of every frame with its track, position, and each model's class and latents, as CSV."""

import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.exports.hyperspy import frame_timing
from rvae_pathways.exports.tracks import tracks_table


def main(snakemake, log):
    tracks = xr.open_zarr(snakemake.input.tracks)
    models = {
        model: (xr.open_zarr(latents), xr.open_zarr(trajectories))
        for model, latents, trajectories in zip(
            snakemake.params.models, snakemake.input.latents, snakemake.input.trajectories, strict=True)
    }
    table = tracks_table(tracks, models, *frame_timing(xr.open_zarr(snakemake.input.frames)))
    table.to_csv(snakemake.output.csv, index=False)
    log.info("%d rows (atoms x frames) of %d particles; columns %s", len(table), table["particle"].nunique(),
             ", ".join(table.columns))


run(snakemake, main)  # noqa: F821

"""Rule extract_patches: a square window around every atom, streamed to Zarr."""

import xarray as xr

from rvae_pathways.patches import default_window_px, extract_movie_patches
from rvae_pathways.rule_runner import run


def main(snakemake, log):
    aligned = xr.open_zarr(snakemake.input.aligned)
    atoms = xr.open_zarr(snakemake.input.atoms)
    spacing_px = snakemake.params.spacing_nm / aligned.attrs["pixel_size_nm"]
    window = snakemake.params.window_px or default_window_px(spacing_px, snakemake.params.window_factor)
    log.info("patch window %d px (atom spacing %.2f px)", window, spacing_px)
    counts = extract_movie_patches(
        aligned, atoms, snakemake.output.patches, window, snakemake.params.chunk_patches, log
    )
    log.info("%(n_patches)d patches; %(n_dropped_at_border)d atoms dropped at the border", counts)


run(snakemake, main)  # noqa: F821

"""Rule extract_patches: a square window around every atom, sampled on a fixed grid, streamed to Zarr."""

import xarray as xr

from rvae_pathways.core.geometry import SampleGeometry
from rvae_pathways.stem.patches import default_window_px, extract_movie_patches
from rvae_pathways.core.runner import run


def main(snakemake, log):
    aligned = xr.open_zarr(snakemake.input.aligned)
    atoms = xr.open_zarr(snakemake.input.atoms)
    spacing_px = SampleGeometry(aligned.attrs["pixel_size_nm"], snakemake.params.spacing_nm).spacing_px
    window = snakemake.params.window_px or default_window_px(spacing_px, snakemake.params.window_factor)
    patch_px = snakemake.params.patch_px or max(3, round(window))
    log.info("patch window %.1f px (atom spacing %.2f px) sampled on %d x %d points, %.2f px apart",
             window, spacing_px, patch_px, patch_px, window / patch_px)
    counts = extract_movie_patches(
        aligned, atoms, snakemake.output.patches, window, patch_px, snakemake.params.chunk_patches, log,
        lattice_only=snakemake.params.lattice_only,
    )
    log.info("%(n_patches)d patches; %(n_dropped_at_border)d atoms dropped at the border, "
             "%(n_dropped_outside_lattice)d outside the resolved lattice (patches.lattice_only)", counts)


run(snakemake, main)  # noqa: F821

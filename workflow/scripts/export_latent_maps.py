"""Rule export_latent_maps: every latent of every frame as an image on the atoms' cells, to a HyperSpy file."""

import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.exports.latent_maps import write_latent_maps


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.frames)  # sizes and attrs only; no image is read
    atoms = xr.open_zarr(snakemake.input.atoms)
    latents = xr.open_zarr(snakemake.input.latents)
    title = f"{snakemake.wildcards.sample} {snakemake.wildcards.model} latent maps"
    info = write_latent_maps(snakemake.output.maps, frames, atoms, latents, title)
    log.info("%d frames x %d latents of %d x %d px, cells within %.2f px of an atom; frame axis in %s",
             info["n_frames"], info["n_latents"], *info["shape"], info["radius_px"], info["frame_unit"] or "frames")


run(snakemake, main)  # noqa: F821

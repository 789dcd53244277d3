"""Rule export_domains: the up/down domains, walls and switched fraction of one window size, as Zarr and HyperSpy."""

import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.exports.domains import domains_dataset, write_domains_hspy
from rvae_pathways.exports.hyperspy import frame_timing


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.frames)  # sizes and attrs only; no image is read
    latents = xr.open_zarr(snakemake.input.latents)  # domain: written by rule encode_pfm_patches
    frame_time, source_frame = frame_timing(frames, latents)
    domains = domains_dataset(latents, frames.sizes["frame"], frames.attrs.get("pixel_size_nm"), frame_time, source_frame)
    domains.to_zarr(snakemake.output.domains, mode="w", consolidated=True)
    write_domains_hspy(snakemake.output.hspy, domains, f"{snakemake.wildcards.sample} w{snakemake.wildcards.window} domains")
    log.info("%d frames of %d x %d windows; %d wall points in all; switched state %+d",
             domains.sizes["frame"], domains.sizes["row"], domains.sizes["col"], domains.sizes["wall_point"],
             domains.attrs["switched_state"])


run(snakemake, main)  # noqa: F821

"""Rule plot_pfm_sweep: the window-size sweep, the switching path and the latent histograms of a PFM sample."""

import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.figures.pfm_distributions import plot_latent_histograms, plot_switching_path
from rvae_pathways.figures.pfm_sweep import plot_window_sweep


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.frames)
    latents_by_window, labels_by_window = {}, {}
    for window, latents_path in zip(snakemake.params.windows_px, snakemake.input.latents):
        latents = xr.open_zarr(latents_path).load()
        latents_by_window[window] = latents
        labels_by_window[window] = latents["domain"].values  # up or down (rule encode_pfm_patches)
        log.info("window %d px: %d windows, %.3f labelled up", window, latents.sizes["patch"],
                 float((labels_by_window[window] > 0).mean()))
    truth = frames["true_switched_fraction"].values if "true_switched_fraction" in frames else None
    plot_window_sweep(frames, latents_by_window, snakemake.output.sweep, snakemake.params.frames_to_show)
    plot_switching_path(latents_by_window, snakemake.output.switching, labels_by_window, truth)
    plot_latent_histograms(latents_by_window, snakemake.output.histograms)


run(snakemake, main)  # noqa: F821

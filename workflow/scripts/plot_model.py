"""Rule plot_model: the figures of one trained model."""

import pandas as pd
import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.figures.latent_manifold import plot_latent_manifold
from rvae_pathways.figures.latents import plot_latent_maps, plot_latent_scatter, plot_latent_vs_frame
from rvae_pathways.figures.training import plot_training_history


def main(snakemake, log):
    name = {"rvae": "rVAE", "vae": "VAE"}[snakemake.wildcards.model]
    frames = xr.open_zarr(snakemake.input.aligned)
    latents = xr.open_zarr(snakemake.input.latents)
    manifold = xr.open_zarr(snakemake.input.manifold)  # decoded by rule encode_patches
    plot_latent_manifold(
        manifold["image"].values, manifold["z1"].values, manifold["z2"].values, snakemake.output.manifold, f"{name} latent manifold", latents.attrs.get("pixel_size_nm")
    )
    history = pd.read_csv(snakemake.input.history, sep="\t")
    # the negative ELBO and its terms, in nats per patch (the Gaussian term up to its constant)
    plot_training_history(history, snakemake.output.training, loss_units="nats per patch", title=f"{name} training")
    plot_latent_maps(frames, latents, snakemake.output.maps, snakemake.params.frames_to_show)
    plot_latent_scatter(latents, snakemake.output.scatter)
    plot_latent_vs_frame(latents, snakemake.output.time)


run(snakemake, main)  # noqa: F821

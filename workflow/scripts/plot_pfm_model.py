"""Rule plot_pfm_model: decoded latent manifold and training curves of one window size's model."""

import pandas as pd
import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.figures.latent_manifold import plot_latent_manifold
from rvae_pathways.figures.training import plot_training_history


def main(snakemake, log):
    latents = xr.open_zarr(snakemake.input.latents)
    window = latents.attrs["window_px"]
    name = f"rVAE, window {window} px ({window * latents.attrs['frame_pixel_size_nm']:.0f} nm)"
    manifold = xr.open_zarr(snakemake.input.manifold)  # decoded by rule encode_pfm_patches
    plot_latent_manifold(manifold["image"].values, manifold["z1"].values, manifold["z2"].values,
                         snakemake.output.manifold, f"{name}: latent manifold",
                         latents.attrs.get("pixel_size_nm"))
    history = pd.read_csv(snakemake.input.history, sep="\t")
    plot_training_history(history, snakemake.output.training, loss_units="nats per window", title=f"{name}: training")


run(snakemake, main)  # noqa: F821

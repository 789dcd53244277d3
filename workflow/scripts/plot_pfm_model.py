"""Rule plot_pfm_model: decoded latent manifold and training curves of one window size's model."""

import pandas as pd
import torch
import xarray as xr

from rvae_pathways.rvae.manifold import decode_manifold, manifold_axes
from rvae_pathways.figures.latent_manifold import plot_latent_manifold
from rvae_pathways.figures.training import plot_training_history
from rvae_pathways.core.runner import run
from rvae_pathways.rvae.train import load_model


def main(snakemake, log):
    torch.set_num_threads(snakemake.threads)
    latents = xr.open_zarr(snakemake.input.latents)
    model, hyper = load_model(snakemake.input.model)
    window = latents.attrs["window_px"]
    name = f"rVAE, window {window} px ({window * latents.attrs['frame_pixel_size_nm']:.0f} nm)"
    z1, z2 = manifold_axes(latents["z_mean"].values, snakemake.params.manifold_size)
    images = decode_manifold(model, z1, z2, hyper["likelihood"])
    plot_latent_manifold(images, z1, z2, snakemake.output.manifold, f"{name}: latent manifold",
                         latents.attrs.get("pixel_size_nm"))
    history = pd.read_csv(snakemake.input.history, sep="\t")
    plot_training_history(history, snakemake.output.training, loss_units="nats per window", title=f"{name}: training")


run(snakemake, main)  # noqa: F821

"""Rule train_model: train the rVAE or the VAE baseline; resumes from its checkpoint after a kill."""

import pandas as pd
import torch
import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.rvae.train import estimate_noise_std, fit, pick_device, resolve_hyper, save_model, training_set


def main(snakemake, log):
    torch.set_num_threads(snakemake.threads)
    patches = xr.open_zarr(snakemake.input.patches)["image"].values
    # intensities in [0, 1] (the encoder must see the same scaling), plus the turned copies
    x, scale = training_set(patches, snakemake.params.augment_rot90)
    settings = dict(snakemake.params.hyper)
    # the noise of the patches as recorded, before their turns (left to fit, it is estimated from x)
    if settings.get("noise_std") is None:
        settings["noise_std"] = estimate_noise_std(x[: len(patches)])
        log.info("pixel noise of the patches (Gaussian likelihood sigma): %.4f", settings["noise_std"])
    hyper = resolve_hyper(settings, patches.shape[1])  # defaults filled in, checked
    seed, epochs = snakemake.params.seed, snakemake.params.epochs
    log.info(
        "training %s on %d patches of %d px for %d epochs on %s (seed %d): %s",
        snakemake.params.label, len(x), x.shape[1], epochs, pick_device(), seed, hyper,
    )
    # the checkpoint, checkpoint-<digest>.pt in checkpoint_dir, is named after the data, settings and
    # seed: a rerun after a kill resumes, a run on changed data or settings starts afresh
    model, history = fit(x, settings, epochs=epochs, seed=seed, checkpoint_dir=snakemake.params.checkpoint_dir, log=log)
    save_model(snakemake.output.model, model, {**hyper, "input_scale": scale, "seed": seed})
    pd.DataFrame(history).to_csv(snakemake.output.history, sep="\t", index=False)


run(snakemake, main)  # noqa: F821

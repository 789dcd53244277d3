"""Rule train_model: train the rVAE or the VAE baseline; resumes from its checkpoint after a kill."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from rvae_pathways.atoms import noise_sigma
from rvae_pathways.rule_runner import run
from rvae_pathways.train import fit, pick_device, resolve_hyper, save_model


def main(snakemake, log):
    torch.set_num_threads(snakemake.threads)
    patches = xr.open_zarr(snakemake.input.patches)["image"].values
    scale = float(patches.max())
    x = patches / scale  # intensities in [0, 1]; the encoder must see the same scaling
    settings = dict(snakemake.params.hyper)
    if settings.get("noise_std") is None:
        # The Gaussian likelihood's sigma is the pixel noise: a larger one lets the KL terms win
        # and the content latents collapse onto the prior.
        settings["noise_std"] = noise_sigma(x.reshape(-1, x.shape[2]))
        log.info("pixel noise of the patches (Gaussian likelihood sigma): %.4f", settings["noise_std"])
    if snakemake.params.augment_rot90:
        # Every patch also at 90, 180 and 270 degrees (exact, no interpolation), so the encoder
        # learns to read orientations the movie itself may not show.
        x = np.ascontiguousarray(np.concatenate([np.rot90(x, k, axes=(1, 2)) for k in range(4)]))
    hyper = resolve_hyper(settings, patches.shape[1])  # defaults filled in, checked
    seed, epochs = snakemake.params.seed, snakemake.params.epochs
    # The checkpoint is named after everything that determines training (data, settings, seed),
    # so a rerun after a kill resumes, and a run on changed data or settings starts afresh.
    digest = hashlib.sha1(x.tobytes() + json.dumps([hyper, seed], sort_keys=True).encode()).hexdigest()[:12]
    checkpoint = Path(snakemake.params.checkpoint).with_name(f"checkpoint-{digest}.pt")
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    for stale in checkpoint.parent.glob("checkpoint-*.pt"):
        if stale != checkpoint:
            log.info("removing %s (written for other data or settings)", stale)
            stale.unlink()
    log.info(
        "training %s on %d patches of %d px for %d epochs on %s (seed %d): %s",
        snakemake.wildcards.model, len(x), x.shape[1], epochs, pick_device(), seed, hyper,
    )
    model, history = fit(x, settings, epochs=epochs, seed=seed, checkpoint=checkpoint, log=log)
    save_model(snakemake.output.model, model, {**hyper, "input_scale": scale, "seed": seed})
    pd.DataFrame(history).to_csv(snakemake.output.history, sep="\t", index=False)


run(snakemake, main)  # noqa: F821

"""Rule train_group_model: one rVAE (or VAE baseline) for the movies of a group, trained on all their
patches, read movie by movie from their stores (never one array); resumes from its checkpoint after
a kill. Writes each movie's weight in training to movies.tsv."""

import pandas as pd
import torch

from rvae_pathways.core.runner import run
from rvae_pathways.rvae.stores import PatchStores
from rvae_pathways.rvae.train import fit, pick_device, resolve_hyper, save_model


def main(snakemake, log):
    torch.set_num_threads(snakemake.threads)
    params = snakemake.params
    movies = list(params.movies)
    # one scale for the group (its largest pixel), each movie read a Zarr chunk at a time
    stores = PatchStores(snakemake.input.patches, movies, augment_rot90=params.augment_rot90, weight=params.weight)
    weights = pd.DataFrame(stores.weights_table())
    log.info("group %s: %d movies, %d patches; each epoch %d patches (turns included), movies weighted per %s:\n%s",
             snakemake.wildcards.group, len(movies), int(stores.counts.sum()), len(stores), params.weight,
             weights.to_string(index=False))
    settings = dict(params.hyper)
    if settings.get("noise_std") is None:  # the noise of the patches as recorded, before their turns
        settings["noise_std"] = stores.noise_std()
        log.info("pixel noise of the patches (Gaussian likelihood sigma): %.4f", settings["noise_std"])
    hyper = resolve_hyper(settings, stores.patch_size)
    seed, epochs = params.seed, params.epochs
    log.info("training %s for group %s for %d epochs on %s (seed %d): %s",
             params.label, snakemake.wildcards.group, epochs, pick_device(), seed, hyper)
    model, history = fit(stores, settings, epochs=epochs, seed=seed, checkpoint_dir=params.checkpoint_dir, log=log)
    save_model(snakemake.output.model, model,
               {**hyper, "input_scale": stores.scale, "seed": seed, "group": snakemake.wildcards.group,
                "movies": movies, "weight": params.weight})
    pd.DataFrame(history).to_csv(snakemake.output.history, sep="\t", index=False)
    weights.to_csv(snakemake.output.movies, sep="\t", index=False)


run(snakemake, main)  # noqa: F821

"""Rule score_latents: the latent space against the simulator's truth, as JSON."""

import json

import numpy as np
import torch
import xarray as xr

from rvae_pathways.scores.latents import score_against_truth
from rvae_pathways.core.runner import run
from rvae_pathways.rvae.train import load_model, pick_device


def main(snakemake, log):
    torch.set_num_threads(snakemake.threads)
    model, hyper = load_model(snakemake.input.model, pick_device())
    latents = xr.open_zarr(snakemake.input.latents)
    images = xr.open_zarr(snakemake.input.patches)["image"].values / hyper["input_scale"]
    columns = ("z_mean", "z_std", "theta_deg", "true_class", "true_sublattice")
    scores = {"model": snakemake.wildcards.model,
              **score_against_truth(model, images, {k: latents[k].values for k in columns if k in latents})}
    for name, ok in scores["passes"].items():
        log.info("%-20s %s", name, "meets the target" if ok else "misses the target")
    log.info("sublattice %s; Si vs C AUC %s / %s; defect vs C AUC %s / %s; rotation ratio %s; KL per latent %s",
             scores["sublattice"], scores["si_vs_c"]["best_single_auc"], scores["si_vs_c"]["logistic_auc"],
             scores["defect_vs_c"]["best_single_auc"], scores["defect_vs_c"]["logistic_auc"],
             scores["rotation_90"]["ratio"], np.round(scores["collapse"]["kl_per_latent"], 3).tolist())  # fmt: skip
    with open(snakemake.output.scores, "w") as f:
        json.dump(scores, f, indent=2)


run(snakemake, main)  # noqa: F821

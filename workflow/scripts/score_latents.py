"""Rule score_latents: the latent space against the simulator's truth, as JSON."""

import json

import numpy as np
import torch
import xarray as xr

from rvae_pathways.encode import encode
from rvae_pathways.latent_scores import collapse_scores, rotation_invariance, separation_scores, sublattice_accuracy
from rvae_pathways.rule_runner import run
from rvae_pathways.train import load_model, pick_device

TARGETS = {"sublattice": 0.99, "si_vs_c_auc": 0.98, "defect_vs_c_auc": 0.9, "rotation_ratio": 0.1}
PRISTINE_C, SI, DEFECT_C = 0, 1, 2


def at_least(value, target):
    """True where a score exists and reaches its target (None: the class is absent, no verdict)."""
    return value is not None and value >= target


def main(snakemake, log):
    torch.set_num_threads(snakemake.threads)
    model, hyper = load_model(snakemake.input.model, pick_device())
    latents = xr.open_zarr(snakemake.input.latents)
    images = xr.open_zarr(snakemake.input.patches)["image"].values / hyper["input_scale"]
    z, z_std = latents["z_mean"].values, latents["z_std"].values
    cls = latents["true_class"].values
    pristine, si, defect = cls == PRISTINE_C, cls == SI, cls == DEFECT_C
    scores = {"model": snakemake.wildcards.model, "n_patches": int(len(z)), "targets": TARGETS}
    scores["si_vs_c"] = separation_scores(z[si | pristine], si[si | pristine])
    scores["defect_vs_c"] = separation_scores(z[defect | pristine], defect[defect | pristine])
    rotated = encode(model, np.rot90(images, k=1, axes=(1, 2)).copy())  # +90 deg as displayed
    theta = latents["theta_deg"].values if "theta_deg" in latents else np.zeros(len(z))
    theta_rot = rotated.get("theta_deg", np.zeros(len(z)))
    scores["rotation_90"] = rotation_invariance(z, rotated["z"], theta, theta_rot, 90.0, si, pristine)
    if "theta_deg" in latents:
        lattice = (pristine | si) & (latents["true_sublattice"].values >= 0)
        scores["sublattice"] = sublattice_accuracy(theta[lattice], latents["true_sublattice"].values[lattice])
    else:
        scores["sublattice"] = None
        scores["rotation_90"]["theta_error_deg"] = None
    scores["collapse"] = collapse_scores(z, z_std)
    scores["passes"] = {
        "sublattice": at_least(scores["sublattice"], TARGETS["sublattice"]),
        "si_vs_c": at_least(scores["si_vs_c"]["best_single_auc"], TARGETS["si_vs_c_auc"])
        and at_least(scores["si_vs_c"]["logistic_auc"], TARGETS["si_vs_c_auc"]),
        "defect_vs_c": at_least(scores["defect_vs_c"]["best_single_auc"], TARGETS["defect_vs_c_auc"])
        and at_least(scores["defect_vs_c"]["logistic_auc"], TARGETS["defect_vs_c_auc"]),
        "rotation_invariance": scores["rotation_90"]["ratio"] is not None
        and scores["rotation_90"]["ratio"] <= TARGETS["rotation_ratio"],
        "no_collapse": scores["collapse"]["all_active"],
    }
    for name, ok in scores["passes"].items():
        log.info("%-20s %s", name, "meets the target" if ok else "misses the target")
    log.info("sublattice %s; Si vs C AUC %s / %s; defect vs C AUC %s / %s; rotation ratio %s; KL per latent %s",
             scores["sublattice"], scores["si_vs_c"]["best_single_auc"], scores["si_vs_c"]["logistic_auc"],
             scores["defect_vs_c"]["best_single_auc"], scores["defect_vs_c"]["logistic_auc"],
             scores["rotation_90"]["ratio"], np.round(scores["collapse"]["kl_per_latent"], 3).tolist())  # fmt: skip
    with open(snakemake.output.scores, "w") as f:
        json.dump(scores, f, indent=2)


run(snakemake, main)  # noqa: F821

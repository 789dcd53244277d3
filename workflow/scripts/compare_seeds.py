"""Rule compare_seeds: the classes and structural units of models trained with different seeds, compared."""

import json

import xarray as xr

from rvae_pathways.core.errors import InputError
from rvae_pathways.core.runner import run
from rvae_pathways.pathways.kinetics import coordination_groups
from rvae_pathways.pathways.seeds import seed_agreement


def main(snakemake, log):
    params = snakemake.params
    sets, atom = [], None
    for path, seed in zip(snakemake.input.latents, params.seeds):
        latents = xr.open_zarr(path)
        if atom is None:
            atom = latents["atom"].values
        elif len(latents["atom"]) != len(atom) or (latents["atom"].values != atom).any():
            raise InputError(f"{path} (seed {seed}) encodes other patches than {snakemake.input.latents[0]}")
        sets.append(latents["z_mean"].values)
    groups = None
    if params.split_by_coordination:
        groups = coordination_groups(xr.open_zarr(snakemake.input.atoms)["neighbours"].values[atom])
    log.info("%d models (seeds %s), %d patches each", len(sets), params.seeds, len(atom))
    result = seed_agreement(sets, params.seeds, groups, params.n_classes, params.bic_range, params.unit_overlap,
                            class_seed=params.class_seed)
    log.info("units per model %s, classes per model %s; units ARI mean %s (min %s), classes ARI mean %s",
             result["n_units"], result["n_classes"], result["units"]["mean"], result["units"]["min"],
             result["classes"]["mean"])
    with open(snakemake.output.agreement, "w") as f:
        json.dump(result, f, indent=2)


run(snakemake, main)  # noqa: F821

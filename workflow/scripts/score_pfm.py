"""Rule score_pfm: domains, walls and switched fraction from the latent space, against the truth, as JSON."""

import json

import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.scores.pfm import score_pfm


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.frames)
    patches = xr.open_zarr(snakemake.input.patches)  # same patch order as the latents
    latents = xr.open_zarr(snakemake.input.latents)
    labels = latents["domain"].values  # up or down, from the latent space (rule encode_pfm_patches)
    column = {name: patches[name].values for name in ("frame", "row", "col", "y", "x", "true_domain",
                                                       "true_wall_distance_px")}
    scores = score_pfm(
        labels, column["frame"], column["row"], column["col"], column["y"], column["x"],
        grid_shape=(patches.attrs["grid_rows"], patches.attrs["grid_cols"]),
        stride_px=patches.attrs["stride_px"], window_px=patches.attrs["window_px"],
        true_domain=column["true_domain"], true_wall_distance_px=column["true_wall_distance_px"],
        true_wall=frames["true_wall"].values, true_switched_fraction=frames["true_switched_fraction"].values,
    )
    log.info("window %d px: sign accuracy %s, wall F1 %s (precision %s, recall %s), switched-fraction r %s",
             patches.attrs["window_px"], scores["sign_accuracy"]["value"], scores["walls"]["value"],
             scores["walls"]["precision"], scores["walls"]["recall"], scores["switched_fraction"]["value"])
    for name, ok in scores["passes"].items():
        log.info("%-18s %s", name, "meets the target" if ok else "misses the target")
    with open(snakemake.output.scores, "w") as f:
        json.dump(scores, f, indent=2, allow_nan=False)


run(snakemake, main)  # noqa: F821

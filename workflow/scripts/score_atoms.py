"""Rule score_atoms: detection scores against the simulator's truth, as JSON."""

import json

import xarray as xr

from rvae_pathways.core.geometry import SampleGeometry
from rvae_pathways.scores.atoms import score_movie
from rvae_pathways.core.runner import run


def main(snakemake, log):
    aligned = xr.open_zarr(snakemake.input.aligned)
    atoms = xr.open_zarr(snakemake.input.atoms)
    geometry = SampleGeometry(aligned.attrs["pixel_size_nm"], snakemake.params.spacing_nm)
    scores = score_movie(
        aligned,
        atoms,
        tolerance_px=geometry.px(snakemake.params.tolerance_nm),
        margin_px=geometry.spacings_px(snakemake.params.margin_spacings),
    )
    scores["tolerance_nm"] = snakemake.params.tolerance_nm
    log.info(
        "F1 %.4f (precision %.4f, recall %.4f), position RMSE %.3f px",
        scores["f1"], scores["precision"], scores["recall"], scores["rmse_px"],
    )
    with open(snakemake.output.metrics, "w") as f:
        json.dump(scores, f, indent=2)


run(snakemake, main)  # noqa: F821

"""Rule find_atoms: the atom table of every frame, written to Zarr, and the lattice check of every frame."""

import json

import xarray as xr

from rvae_pathways.core.errors import InputError
from rvae_pathways.core.geometry import SampleGeometry
from rvae_pathways.core.runner import run
from rvae_pathways.scores.atoms import label_atoms_with_truth
from rvae_pathways.stem.movie import find_atoms_in_movie
from rvae_pathways.stem.qc_verdicts import qc_messages, summarise


def main(snakemake, log):
    aligned = xr.open_zarr(snakemake.input.aligned)
    pixel_size_nm = aligned.attrs["pixel_size_nm"]
    geometry = SampleGeometry(pixel_size_nm, snakemake.params.spacing_nm)
    spacing_px = geometry.spacing_px
    log.info("atom spacing %.3f nm = %.2f px", snakemake.params.spacing_nm, spacing_px)
    frames = []
    total = find_atoms_in_movie(
        aligned,
        snakemake.output.atoms,
        spacing_px,
        finder=snakemake.params.finder,
        log=log,
        workers=snakemake.threads,
        contrast=snakemake.params.contrast,
        qc_frames=frames,
    )
    log.info("%d atoms in %d frames", total, aligned.sizes["frame"])
    if "true_frame" in aligned:  # a simulated movie: the simulator's labels of the atoms found, for the scores
        matched = label_atoms_with_truth(snakemake.output.atoms, aligned, geometry.px(snakemake.params.tolerance_nm))
        log.info("%d of the atoms found match a simulated atom within %g nm", matched, snakemake.params.tolerance_nm)
    sample = snakemake.wildcards.sample
    qc = {"sample": sample, "spacing_nm": snakemake.params.spacing_nm, "pixel_size_nm": pixel_size_nm,
          "summary": summarise(frames), "frames": frames}
    with open(snakemake.output.qc, "w") as f:
        json.dump(qc, f, indent=1)
    for line in qc_messages(sample, frames):
        log.warning(line)
    log.info("lattice check: %s (%s)", qc["summary"]["verdict"],
             ", ".join(f"{n} {v}" for v, n in qc["summary"]["counts"].items()))
    if snakemake.params.strict and qc["summary"]["verdict"] == "fail":
        raise InputError(
            f"the lattice check failed on frames {qc['summary']['worst_frames']} (qc.strict is on): the atoms found "
            f"do not form a lattice of spacing {snakemake.params.spacing_nm} nm; check spacing_nm, pixel_size_nm "
            "and contrast in the samples table (details in atom_qc.json)"
        )


run(snakemake, main)  # noqa: F821

"""Rule plot_atom_qc: the lattice check of every frame, in its ok / warn / fail bands."""

import json

from rvae_pathways.figures.qc import plot_atom_qc
from rvae_pathways.core.runner import run


def main(snakemake, log):
    with open(snakemake.input.qc) as f:
        qc = json.load(f)
    plot_atom_qc(qc, snakemake.output.figure)


run(snakemake, main)  # noqa: F821

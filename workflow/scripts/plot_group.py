"""Rule plot_group: the figure comparing the movies of a group in their shared latent space."""

import json

from rvae_pathways.core.runner import run
from rvae_pathways.figures.groups import plot_group_comparison


def main(snakemake, log):
    with open(snakemake.input.comparison) as f:
        comparison = json.load(f)
    plot_group_comparison(comparison, snakemake.output.figure)
    log.info("compared %d movies against %s", len(comparison["movies"]), comparison["axis"]["name"])


run(snakemake, main)  # noqa: F821

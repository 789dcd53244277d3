# Transformation pathways in microscopy movies with a rotationally-invariant VAE.
# Run: snakemake --cores 2        (see README.md)

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/load.smk"
include: "workflow/rules/atoms.smk"
include: "workflow/rules/patches.smk"
include: "workflow/rules/rvae.smk"
include: "workflow/rules/seeds.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/pathways.smk"
include: "workflow/rules/groups.smk"
include: "workflow/rules/pfm.smk"
include: "workflow/rules/exports.smk"


rule all:
    default_target: True
    input:
        all_outputs(),

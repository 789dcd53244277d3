# Groups of movies (the samples table's group column): one model for all their patches
# (train_group_model in rvae.smk), each movie encoded and analysed in its own jobs, then compared.


rule compare_group:
    """The movies of a group in their shared latent space: latent distributions, shared units, their fractions and rates."""
    input:
        unpack(group_analyses),
    output:
        comparison="results/groups/{group}/{model}/comparison.json",
    log:
        "results/logs/compare_group/{group}_{model}.log",
    benchmark:
        "results/benchmarks/compare_group/{group}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=group_source,
        movies=group_movies,
        n_classes=config["pathways"]["n_classes"],
        bic_range=config["pathways"]["bic_range"],
        split_by_coordination=config["pathways"]["split_by_coordination"],
        unit_overlap=config["pathways"]["unit_overlap"],
        min_persist_frames=config["pathways"]["min_persist_frames"],
        swap_radius_spacings=config["pathways"]["swap_radius_spacings"],
        seed=config["rvae"]["seed"],
    script:
        "../scripts/compare_group.py"


rule plot_group:
    """The figure comparing the movies of a group against dose (or frame time)."""
    input:
        comparison="results/groups/{group}/{model}/comparison.json",
    output:
        figure=report(
            "results/groups/{group}/figures/{model}_comparison.png",
            caption="../report/group_comparison.rst",
            category="Groups",
            subcategory="{group}",
            labels={
                "group": "{group}",
                "model": "{model}",
                "figure": "movies compared",
            },
        ),
    log:
        "results/logs/plot_group/{group}_{model}.log",
    benchmark:
        "results/benchmarks/plot_group/{group}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=group_source,
    script:
        "../scripts/plot_group.py"

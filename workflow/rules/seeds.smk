# Reproducibility of the classes (rvae.seeds > 1): the same sample's model trained again with other
# seeds, each encoded, and the structural units of all of them compared on the same patches.


use rule train_model as train_seed_model with:
    output:
        model="results/{sample}/{model}/seeds/{seed}/model.pt",
        history="results/{sample}/{model}/seeds/{seed}/history.tsv",
    log:
        "results/logs/train_seed_model/{sample}_{model}_{seed}.log",
    benchmark:
        "results/benchmarks/train_seed_model/{sample}_{model}_{seed}.tsv"
    params:
        seed=lambda wildcards: int(wildcards.seed),


use rule encode_patches as encode_seed_patches with:
    input:
        model="results/{sample}/{model}/seeds/{seed}/model.pt",
        patches="results/{sample}/patches.zarr",
    output:
        latents=directory("results/{sample}/{model}/seeds/{seed}/latents.zarr"),
        manifold=directory("results/{sample}/{model}/seeds/{seed}/manifold.zarr"),
    log:
        "results/logs/encode_seed_patches/{sample}_{model}_{seed}.log",
    benchmark:
        "results/benchmarks/encode_seed_patches/{sample}_{model}_{seed}.tsv"


rule compare_seeds:
    """The classes and structural units of every seed's model on the same patches (adjusted Rand index)."""
    input:
        latents=seed_latents,
        atoms="results/{sample}/atoms.zarr",
    output:
        agreement=report(
            "results/{sample}/{model}/seed_agreement.json",
            caption="../report/seed_agreement.rst",
            category="Scores",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "agreement across seeds",
            },
        ),
    log:
        "results/logs/compare_seeds/{sample}_{model}.log",
    benchmark:
        "results/benchmarks/compare_seeds/{sample}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=sample_source,
        seeds=training_seeds(),
        n_classes=config["pathways"]["n_classes"],
        bic_range=config["pathways"]["bic_range"],
        split_by_coordination=config["pathways"]["split_by_coordination"],
        unit_overlap=config["pathways"]["unit_overlap"],
        class_seed=config["rvae"]["seed"],
    script:
        "../scripts/compare_seeds.py"

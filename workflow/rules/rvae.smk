rule train_model:
    """Train the rVAE (or the plain VAE baseline) on a sample's patches; on a GPU when there is one."""
    input:
        # a movie of a group has none of its own: train_group_model
        patches=own_patches,
    output:
        model="results/{sample}/{model}/model.pt",
        history="results/{sample}/{model}/history.tsv",
    log:
        "results/logs/train_model/{sample}_{model}.log",
    benchmark:
        "results/benchmarks/train_model/{sample}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=240,
    params:
        source=sample_source,
        label=model_label,
        hyper=model_hyper,
        epochs=config["rvae"]["epochs"],
        augment_rot90=config["rvae"]["augment_rot90"],
        seed=config["rvae"]["seed"],
        # fit keeps its checkpoint here (checkpoint-<digest of data, settings, seed>.pt); not an
        # output: it must survive a failed or killed job so that the rerun resumes from it
        checkpoint_dir=model_folder,
    script:
        "../scripts/train_model.py"


rule train_group_model:
    """One model for the movies of a group, trained on all their patches, read movie by movie from their stores."""
    input:
        patches=group_patches,
    output:
        model="results/groups/{group}/{model}/model.pt",
        history="results/groups/{group}/{model}/history.tsv",
        movies="results/groups/{group}/{model}/movies.tsv",
    log:
        "results/logs/train_group_model/{group}_{model}.log",
    benchmark:
        "results/benchmarks/train_group_model/{group}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=240,
    params:
        source=group_source,
        movies=group_movies,
        label=model_label,
        hyper=model_hyper,
        epochs=config["rvae"]["epochs"],
        augment_rot90=config["rvae"]["augment_rot90"],
        weight=config["groups"]["weight"],
        seed=config["rvae"]["seed"],
        # as train_model: fit's checkpoint, named after the data, settings and seed, kept on a kill
        checkpoint_dir=model_folder,
    script:
        "../scripts/train_group_model.py"


rule encode_patches:
    """Posterior means and widths of every patch: content latents, rotation (deg), shift (px); and the decoded manifold."""
    input:
        # the sample's own model, or its group's
        model=model_file,
        patches="results/{sample}/patches.zarr",
    output:
        latents=directory("results/{sample}/{model}/latents.zarr"),
        manifold=directory("results/{sample}/{model}/manifold.zarr"),
    log:
        "results/logs/encode_patches/{sample}_{model}.log",
    benchmark:
        "results/benchmarks/encode_patches/{sample}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    params:
        source=sample_source,
        label=model_label,
        manifold_size=config["figures"]["manifold_size"],
        domains=False,
    script:
        "../scripts/encode_patches.py"


rule score_latents:
    """The latent space against the simulator's truth: sublattice, chemistry, invariance, collapse."""
    input:
        model=model_file,
        patches="results/{sample}/patches.zarr",
        latents="results/{sample}/{model}/latents.zarr",
    output:
        scores=report(
            "results/{sample}/{model}/latent_scores.json",
            caption="../report/metrics.rst",
            category="Scores",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "latent scores",
            },
        ),
    log:
        "results/logs/score_latents/{sample}_{model}.log",
    benchmark:
        "results/benchmarks/score_latents/{sample}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=sample_source,
    script:
        "../scripts/score_latents.py"

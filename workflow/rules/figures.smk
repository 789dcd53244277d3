# The paper's STEM figures, each a report item.


rule plot_overview:
    """First, middle and last frame with the atoms found."""
    input:
        aligned="results/{sample}/aligned.zarr",
        atoms="results/{sample}/atoms.zarr",
    output:
        figure=report(
            "results/{sample}/figures/overview.png",
            caption="../report/overview.rst",
            category="Data",
            subcategory="{sample}",
            labels={"sample": "{sample}", "figure": "frames and atoms"},
        ),
    log:
        "results/logs/plot_overview/{sample}.log",
    benchmark:
        "results/benchmarks/plot_overview/{sample}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=sample_source,
        frames_to_show=config["figures"]["frames_to_show"],
    script:
        "../scripts/plot_overview.py"


rule plot_atom_qc:
    """The lattice check of every frame: density, neighbour distances, resolved field, atoms outside the lattice."""
    input:
        qc="results/{sample}/atom_qc.json",
    output:
        figure=report(
            "results/{sample}/figures/atom_qc.png",
            caption="../report/atom_qc.rst",
            category="Data",
            subcategory="{sample}",
            labels={"sample": "{sample}", "figure": "lattice check"},
        ),
    log:
        "results/logs/plot_atom_qc/{sample}.log",
    benchmark:
        "results/benchmarks/plot_atom_qc/{sample}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=sample_source,
    script:
        "../scripts/plot_atom_qc.py"


rule plot_gmm_baseline:
    """Baseline: Gaussian-mixture clusters of the raw patches, their means and their map on a frame."""
    input:
        aligned="results/{sample}/aligned.zarr",
        patches="results/{sample}/patches.zarr",
        clusters="results/{sample}/gmm_baseline.zarr",
    output:
        figure=report(
            "results/{sample}/figures/gmm_baseline.png",
            caption="../report/gmm_baseline.rst",
            category="Baseline",
            subcategory="{sample}",
            labels={"sample": "{sample}", "figure": "GMM on raw patches"},
        ),
    log:
        "results/logs/plot_gmm_baseline/{sample}.log",
    benchmark:
        "results/benchmarks/plot_gmm_baseline/{sample}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        source=sample_source,
    script:
        "../scripts/plot_gmm_baseline.py"


rule plot_model:
    """Figures of one trained model: manifold, training curves, latent maps, scatter, time course."""
    input:
        aligned="results/{sample}/aligned.zarr",
        manifold="results/{sample}/{model}/manifold.zarr",
        history=history_file,
        latents="results/{sample}/{model}/latents.zarr",
    output:
        manifold=report(
            "results/{sample}/figures/{model}_manifold.png",
            caption="../report/manifold.rst",
            category="Latent space",
            subcategory="{sample}",
            labels={"sample": "{sample}", "model": "{model}", "figure": "manifold"},
        ),
        training=report(
            "results/{sample}/figures/{model}_training.png",
            caption="../report/training.rst",
            category="Training",
            subcategory="{sample}",
            labels={"sample": "{sample}", "model": "{model}", "figure": "loss curves"},
        ),
        maps=report(
            "results/{sample}/figures/{model}_latent_maps.png",
            caption="../report/latent_maps.rst",
            category="Latent space",
            subcategory="{sample}",
            labels={"sample": "{sample}", "model": "{model}", "figure": "latent maps"},
        ),
        scatter=report(
            "results/{sample}/figures/{model}_latent_scatter.png",
            caption="../report/latent_scatter.rst",
            category="Latent space",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "latent scatter",
            },
        ),
        time=report(
            "results/{sample}/figures/{model}_latent_vs_frame.png",
            caption="../report/latent_vs_frame.rst",
            category="Transformation in time",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "latents per frame",
            },
        ),
    log:
        "results/logs/plot_model/{sample}_{model}.log",
    benchmark:
        "results/benchmarks/plot_model/{sample}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        source=sample_source,
        frames_to_show=config["figures"]["frames_to_show"],
    script:
        "../scripts/plot_model.py"


rule plot_angles:
    """Histograms of the rVAE's rotation and shift latents."""
    input:
        latents="results/{sample}/rvae/latents.zarr",
    output:
        figure=report(
            "results/{sample}/figures/rvae_angles.png",
            caption="../report/angles.rst",
            category="Latent space",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "rvae",
                "figure": "rotation and shift",
            },
        ),
    log:
        "results/logs/plot_angles/{sample}.log",
    benchmark:
        "results/benchmarks/plot_angles/{sample}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=sample_source,
    script:
        "../scripts/plot_angles.py"


rule explore_model:
    """The latent explorer of one model: an interactive, self-contained page (latent plane, frames, tracks)."""
    input:
        aligned="results/{sample}/aligned.zarr",
        patches="results/{sample}/patches.zarr",
        latents="results/{sample}/{model}/latents.zarr",
        tracks="results/{sample}/tracks.zarr",
        trajectories="results/{sample}/{model}/trajectories.zarr",
    output:
        page=report(
            "results/{sample}/{model}/explorer.html",
            caption="../report/explorer.rst",
            category="Latent space",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "latent explorer",
            },
        ),
    log:
        "results/logs/explore_model/{sample}_{model}.log",
    benchmark:
        "results/benchmarks/explore_model/{sample}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        source=sample_source,
    script:
        "../scripts/explore_model.py"

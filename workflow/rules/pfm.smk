# The PFM branch: piezoresponse frames cut into windows on a grid, one rVAE per window size.


rule simulate_pfm:
    """A PFM switching sequence (amplitude, phase) with the true polarisation, walls and switched fraction."""
    output:
        movie=directory("results/{sample}/simulated.zarr"),
    log:
        "results/logs/simulate_pfm/{sample}.log",
    benchmark:
        "results/benchmarks/simulate_pfm/{sample}.tsv"
    wildcard_constraints:
        sample=one_of(sample_names("pfm", simulated=True)),
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        simulation=simulation,
    script:
        "../scripts/simulate_pfm.py"


rule tile_frames:
    """Cut every piezoresponse frame into windows on a regular grid, frame by frame, to Zarr."""
    input:
        frames="results/{sample}/frames.zarr",
    output:
        patches=directory("results/{sample}/w{window}/patches.zarr"),
    log:
        "results/logs/tile_frames/{sample}_w{window}.log",
    benchmark:
        "results/benchmarks/tile_frames/{sample}_w{window}.tsv"
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=sample_source,
        window_px=window_px,
        stride_px=config["pfm"]["stride_px"],
        patch_px=config["pfm"].get("patch_px"),
    script:
        "../scripts/tile_frames.py"


use rule train_model as train_pfm_model with:
    input:
        patches="results/{sample}/w{window}/patches.zarr",
    output:
        model="results/{sample}/w{window}/model.pt",
        history="results/{sample}/w{window}/history.tsv",
    log:
        "results/logs/train_pfm_model/{sample}_w{window}.log",
    benchmark:
        "results/benchmarks/train_pfm_model/{sample}_w{window}.tsv"
    params:
        source=sample_source,
        label=model_label,
        hyper=pfm_hyper,
        epochs=config["pfm"]["epochs"],
        augment_rot90=config["pfm"]["augment_rot90"],
        seed=config["rvae"]["seed"],
        checkpoint_dir=model_folder,


use rule encode_patches as encode_pfm_patches with:
    input:
        model="results/{sample}/w{window}/model.pt",
        patches="results/{sample}/w{window}/patches.zarr",
    output:
        latents=directory("results/{sample}/w{window}/latents.zarr"),
        manifold=directory("results/{sample}/w{window}/manifold.zarr"),
    log:
        "results/logs/encode_pfm_patches/{sample}_w{window}.log",
    benchmark:
        "results/benchmarks/encode_pfm_patches/{sample}_w{window}.tsv"
    params:
        source=sample_source,
        label=model_label,
        manifold_size=config["figures"]["manifold_size"],
        # up or down of every window: the sign of the response the decoder draws at its centre
        domains=True,


rule score_pfm:
    """Domains, walls and the switched fraction found in the latent space, against the simulator's truth."""
    input:
        frames="results/{sample}/frames.zarr",
        patches="results/{sample}/w{window}/patches.zarr",
        latents="results/{sample}/w{window}/latents.zarr",
    output:
        scores=report(
            "results/{sample}/w{window}/pfm_scores.json",
            caption="../report/pfm_scores.rst",
            category="Scores",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "w{window}",
                "figure": "PFM scores",
            },
        ),
    log:
        "results/logs/score_pfm/{sample}_w{window}.log",
    benchmark:
        "results/benchmarks/score_pfm/{sample}_w{window}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        source=sample_source,
    script:
        "../scripts/score_pfm.py"


rule plot_pfm_model:
    """Figures of one window size's model: decoded latent manifold and training curves."""
    input:
        manifold="results/{sample}/w{window}/manifold.zarr",
        history="results/{sample}/w{window}/history.tsv",
        latents="results/{sample}/w{window}/latents.zarr",
    output:
        manifold=report(
            "results/{sample}/figures/w{window}_manifold.png",
            caption="../report/pfm_manifold.rst",
            category="Latent space",
            subcategory="{sample}",
            labels={"sample": "{sample}", "model": "w{window}", "figure": "manifold"},
        ),
        training=report(
            "results/{sample}/figures/w{window}_training.png",
            caption="../report/training.rst",
            category="Training",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "w{window}",
                "figure": "loss curves",
            },
        ),
    log:
        "results/logs/plot_pfm_model/{sample}_w{window}.log",
    benchmark:
        "results/benchmarks/plot_pfm_model/{sample}_w{window}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        source=sample_source,
        label=model_label,
    script:
        "../scripts/plot_pfm_model.py"


rule plot_pfm_sweep:
    """The window-size sweep: latent maps per frame and window size, the switching path, latent histograms."""
    input:
        frames="results/{sample}/frames.zarr",
        latents=pfm_window_latents,
    output:
        sweep=report(
            "results/{sample}/figures/pfm_sweep.png",
            caption="../report/pfm_sweep.rst",
            category="Latent space",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "all windows",
                "figure": "window-size sweep",
            },
        ),
        switching=report(
            "results/{sample}/figures/pfm_switching.png",
            caption="../report/pfm_switching.rst",
            category="Transformation in time",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "all windows",
                "figure": "switching path",
            },
        ),
        histograms=report(
            "results/{sample}/figures/pfm_histograms.png",
            caption="../report/pfm_histograms.rst",
            category="Latent space",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "all windows",
                "figure": "latent histograms",
            },
        ),
    log:
        "results/logs/plot_pfm_sweep/{sample}.log",
    benchmark:
        "results/benchmarks/plot_pfm_sweep/{sample}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        source=sample_source,
        windows_px=config["pfm"]["windows_px"],
        frames_to_show=config["figures"]["frames_to_show"],
    script:
        "../scripts/plot_pfm_sweep.py"


rule explore_pfm_model:
    """The latent explorer of one window size: an interactive, self-contained page (latent plane, piezoresponse frames)."""
    input:
        frames="results/{sample}/frames.zarr",
        patches="results/{sample}/w{window}/patches.zarr",
        latents="results/{sample}/w{window}/latents.zarr",
    output:
        page=report(
            "results/{sample}/w{window}/explorer.html",
            caption="../report/explorer_pfm.rst",
            category="Latent space",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "w{window}",
                "figure": "latent explorer",
            },
        ),
    log:
        "results/logs/explore_pfm_model/{sample}_w{window}.log",
    benchmark:
        "results/benchmarks/explore_pfm_model/{sample}_w{window}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        source=sample_source,
    script:
        "../scripts/explore_pfm_model.py"

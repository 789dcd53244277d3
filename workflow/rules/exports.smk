# Exports for other tools: HyperSpy latent maps and domains, a trackpy/napari table of the tracks.


rule export_latent_maps:
    """Every latent of every frame as an image on the atoms' cells (NaN away from atoms), a HyperSpy file in nm and s."""
    input:
        frames="results/{sample}/frames.zarr",
        atoms="results/{sample}/atoms.zarr",
        latents="results/{sample}/{model}/latents.zarr",
    output:
        maps="results/{sample}/{model}/latent_maps.hspy",
    log:
        "results/logs/export_latent_maps/{sample}_{model}.log",
    benchmark:
        "results/benchmarks/export_latent_maps/{sample}_{model}.tsv"
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        source=sample_source,
    script:
        "../scripts/export_latent_maps.py"


rule export_tracks:
    """One row per atom per frame in trackpy's columns (particle, frame, y, x), in nm too, with every model's class and latents."""
    input:
        tracks="results/{sample}/tracks.zarr",
        frames="results/{sample}/frames.zarr",
        latents=expand(
            "results/{{sample}}/{model}/latents.zarr", model=config["models"]
        ),
        trajectories=expand(
            "results/{{sample}}/{model}/trajectories.zarr", model=config["models"]
        ),
    output:
        csv="results/{sample}/tracks.csv",
    log:
        "results/logs/export_tracks/{sample}.log",
    benchmark:
        "results/benchmarks/export_tracks/{sample}.tsv"
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        source=sample_source,
        models=config["models"],
    script:
        "../scripts/export_tracks.py"


rule export_domains:
    """Up/down domains of every window per frame, wall points and switched fraction (px and nm), as Zarr and HyperSpy."""
    input:
        frames="results/{sample}/frames.zarr",
        latents="results/{sample}/w{window}/latents.zarr",
    output:
        domains=directory("results/{sample}/w{window}/domains.zarr"),
        hspy="results/{sample}/w{window}/domains.hspy",
    log:
        "results/logs/export_domains/{sample}_w{window}.log",
    benchmark:
        "results/benchmarks/export_domains/{sample}_w{window}.tsv"
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=sample_source,
    script:
        "../scripts/export_domains.py"

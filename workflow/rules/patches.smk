rule extract_patches:
    """A square window around every atom not too close to the border, sampled on a fixed grid, frame by frame, to Zarr."""
    input:
        aligned="results/{sample}/aligned.zarr",
        atoms="results/{sample}/atoms.zarr",
    output:
        patches=directory("results/{sample}/patches.zarr"),
    log:
        "results/logs/extract_patches/{sample}.log",
    benchmark:
        "results/benchmarks/extract_patches/{sample}.tsv"
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=sample_source,
        spacing_nm=sample_spacing,
        window_px=config["patches"].get("window_px"),
        window_factor=config["patches"]["window_factor"],
        patch_px=config["patches"].get("patch_px"),
        chunk_patches=config["patches"]["chunk_patches"],
        lattice_only=config["patches"]["lattice_only"],
    script:
        "../scripts/extract_patches.py"


rule cluster_patches:
    """The baseline beside the rVAE: a Gaussian mixture on the principal components of the raw patches."""
    input:
        patches="results/{sample}/patches.zarr",
    output:
        clusters=directory("results/{sample}/gmm_baseline.zarr"),
    log:
        "results/logs/cluster_patches/{sample}.log",
    benchmark:
        "results/benchmarks/cluster_patches/{sample}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        source=sample_source,
        clusters=config["figures"]["gmm_clusters"],
        seed=config["rvae"]["seed"],
    script:
        "../scripts/cluster_patches.py"

rule find_atoms:
    """Atoms of every frame: sub-pixel positions, drift-corrected positions, intensity, neighbours; the lattice check of every frame."""
    input:
        aligned="results/{sample}/aligned.zarr",
    output:
        atoms=directory("results/{sample}/atoms.zarr"),
        qc="results/{sample}/atom_qc.json",
    log:
        "results/logs/find_atoms/{sample}.log",
    benchmark:
        "results/benchmarks/find_atoms/{sample}.tsv"
    conda:
        "../../envs/stem.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        source=sample_source,
        spacing_nm=sample_spacing,
        contrast=sample_contrast,
        finder=config["atoms"],
        tolerance_nm=config["score"]["tolerance_nm"],
        strict=config["qc"]["strict"],
    script:
        "../scripts/find_atoms.py"


rule score_atoms:
    """Precision, recall, F1 and position RMSE of the found atoms against the simulator's truth."""
    input:
        aligned="results/{sample}/aligned.zarr",
        atoms="results/{sample}/atoms.zarr",
    output:
        metrics="results/{sample}/atom_metrics.json",
    log:
        "results/logs/score_atoms/{sample}.log",
    benchmark:
        "results/benchmarks/score_atoms/{sample}.tsv"
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=sample_source,
        spacing_nm=sample_spacing,
        tolerance_nm=config["score"]["tolerance_nm"],
        margin_spacings=config["score"]["margin_spacings"],
    script:
        "../scripts/score_atoms.py"

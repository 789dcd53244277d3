rule load_frames:
    """Read the sample's file into the frames Dataset (frame, y, x), one Zarr chunk per frame."""
    input:
        raw=raw_input,
    output:
        frames=directory("results/{sample}/frames.zarr"),
    log:
        "results/logs/load_frames/{sample}.log",
    benchmark:
        "results/benchmarks/load_frames/{sample}.tsv"
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=sample_source,
        pixel_size_nm=sample_pixel_size,
        modality=sample_modality,
        acquisition=sample_acquisition,
        skip_bad_frames=config["prepare"]["skip_bad_frames"],
    script:
        "../scripts/load_frames.py"


rule prepare_frames:
    """Normalise intensities and measure the drift of every frame (phase correlation)."""
    input:
        frames="results/{sample}/frames.zarr",
    output:
        aligned=directory("results/{sample}/aligned.zarr"),
    log:
        "results/logs/prepare_frames/{sample}.log",
    benchmark:
        "results/benchmarks/prepare_frames/{sample}.tsv"
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        source=sample_source,
        percentiles=config["prepare"]["percentiles"],
        per_frame=config["prepare"]["per_frame"],
        max_shift_spacings=config["prepare"]["max_shift_spacings"],
        spacing_nm=sample_spacing,
    script:
        "../scripts/prepare_frames.py"

rule simulate_stem:
    """A Si-doped graphene movie under the electron beam, with ground truth (true_* variables)."""
    output:
        movie=directory("results/{sample}/simulated.zarr"),
    params:
        simulation=config["simulate_stem"],
    log:
        "results/logs/simulate_stem/{sample}.log",
    benchmark:
        "results/benchmarks/simulate_stem/{sample}.tsv"
    conda:
        "../../envs/stem.yaml"
    wildcard_constraints:
        sample=one_of(sample_names("stem", simulated=True)),
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/simulate_stem.py"

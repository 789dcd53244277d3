rule simulate_stem:
    """A Si-doped graphene movie under the electron beam, with ground truth (true_* variables)."""
    output:
        movie=directory("results/{sample}/simulated.zarr"),
    log:
        "results/logs/simulate_stem/{sample}.log",
    benchmark:
        "results/benchmarks/simulate_stem/{sample}.tsv"
    wildcard_constraints:
        sample=one_of(sample_names("stem", simulated=True)),
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        simulation=simulation,
    script:
        "../scripts/simulate_stem.py"

# Transformation pathways of STEM samples: tracks, latent trajectories, classes, structural units,
# kinetics, rates with intervals, events.


rule track_atoms:
    """Link the atoms of consecutive frames into tracks (optimal assignment, gap closing), drift-corrected."""
    input:
        atoms="results/{sample}/atoms.zarr",
    output:
        tracks=directory("results/{sample}/tracks.zarr"),
    log:
        "results/logs/track_atoms/{sample}.log",
    benchmark:
        "results/benchmarks/track_atoms/{sample}.tsv"
    conda:
        "../../envs/stem.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=sample_source,
        max_displacement_a=config["pathways"]["max_displacement_a"],
        max_gap_frames=config["pathways"]["max_gap_frames"],
    script:
        "../scripts/track_atoms.py"


rule analyse_pathways:
    """Latent trajectories per track, structural classes (Gaussian mixture) and units, kinetics, rates and events."""
    input:
        tracks="results/{sample}/tracks.zarr",
        latents="results/{sample}/{model}/latents.zarr",
        atoms="results/{sample}/atoms.zarr",
        frames="results/{sample}/frames.zarr",
    output:
        trajectories=directory("results/{sample}/{model}/trajectories.zarr"),
        kinetics="results/{sample}/{model}/kinetics.json",
        events="results/{sample}/{model}/events.tsv",
    log:
        "results/logs/analyse_pathways/{sample}_{model}.log",
    benchmark:
        "results/benchmarks/analyse_pathways/{sample}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=sample_source,
        n_classes=config["pathways"]["n_classes"],
        bic_range=config["pathways"]["bic_range"],
        split_by_coordination=config["pathways"]["split_by_coordination"],
        min_persist_frames=config["pathways"]["min_persist_frames"],
        swap_radius_spacings=config["pathways"]["swap_radius_spacings"],
        unit_overlap=config["pathways"]["unit_overlap"],
        seed=config["rvae"]["seed"],
    script:
        "../scripts/analyse_pathways.py"


rule score_pathways:
    """Tracking and events against the simulator's persistent ids and event list; rates against its settings."""
    input:
        # rvae.seeds > 1: the agreement of the seeds' units (seeds=), copied into rate_scores.json
        unpack(seed_agreement_of_several),
        truth="results/{sample}/simulated.zarr",
        tracks="results/{sample}/tracks.zarr",
        trajectories="results/{sample}/{model}/trajectories.zarr",
        latents="results/{sample}/{model}/latents.zarr",
        events="results/{sample}/{model}/events.tsv",
        kinetics="results/{sample}/{model}/kinetics.json",
    output:
        scores=report(
            "results/{sample}/{model}/pathway_scores.json",
            caption="../report/pathway_scores.rst",
            category="Scores",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "pathway scores",
            },
        ),
        rate_scores=report(
            "results/{sample}/{model}/rate_scores.json",
            caption="../report/rate_scores.rst",
            category="Scores",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "rate scores",
            },
        ),
    log:
        "results/logs/score_pathways/{sample}_{model}.log",
    benchmark:
        "results/benchmarks/score_pathways/{sample}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=sample_source,
        max_gap_frames=config["pathways"]["max_gap_frames"],
        spacing_nm=sample_spacing,
        tolerance_spacings=config["pathways"]["event_tolerance_spacings"],
        min_persist_frames=config["pathways"]["min_persist_frames"],
        formation_radius_spacings=config["pathways"]["formation_radius_spacings"],
        rate_min_events=config["pathways"]["rate_min_events"],
    script:
        "../scripts/score_pathways.py"


rule plot_pathways:
    """Figures of the pathways by structural unit (trajectories, kinetics, graph with rates, dwell times), patches
    along tracks, and the Gaussian classes' kinetics and graph (detail)."""
    input:
        unpack(pathway_scores_of_simulated),
        patches="results/{sample}/patches.zarr",
        latents="results/{sample}/{model}/latents.zarr",
        trajectories="results/{sample}/{model}/trajectories.zarr",
        kinetics="results/{sample}/{model}/kinetics.json",
        events="results/{sample}/{model}/events.tsv",
    output:
        trajectories=report(
            "results/{sample}/figures/{model}_trajectories.png",
            caption="../report/trajectories.rst",
            category="Transformation in time",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "latent trajectories",
            },
        ),
        track_patches=report(
            "results/{sample}/figures/{model}_track_patches.png",
            caption="../report/track_patches.rst",
            category="Transformation in time",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "patches along tracks",
            },
        ),
        kinetics=report(
            "results/{sample}/figures/{model}_kinetics.png",
            caption="../report/kinetics.rst",
            category="Transformation in time",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "unit kinetics",
            },
        ),
        graph=report(
            "results/{sample}/figures/{model}_pathway_graph.png",
            caption="../report/pathway_graph.rst",
            category="Transformation in time",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "pathway graph",
            },
        ),
        dwell_times=report(
            "results/{sample}/figures/{model}_dwell_times.png",
            caption="../report/dwell_times.rst",
            category="Transformation in time",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "dwell times",
            },
        ),
        kinetics_classes=report(
            "results/{sample}/figures/{model}_kinetics_classes.png",
            caption="../report/kinetics_classes.rst",
            category="Transformation in time",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "class kinetics (detail)",
            },
        ),
        pathway_graph_classes=report(
            "results/{sample}/figures/{model}_pathway_graph_classes.png",
            caption="../report/pathway_graph_classes.rst",
            category="Transformation in time",
            subcategory="{sample}",
            labels={
                "sample": "{sample}",
                "model": "{model}",
                "figure": "class graph (detail)",
            },
        ),
    log:
        "results/logs/plot_pathways/{sample}_{model}.log",
    benchmark:
        "results/benchmarks/plot_pathways/{sample}_{model}.tsv"
    conda:
        "../../envs/rvae.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        source=sample_source,
        seed=config["rvae"]["seed"],
        min_persist_frames=config["pathways"]["min_persist_frames"],
    script:
        "../scripts/plot_pathways.py"

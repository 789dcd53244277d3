"""The workflow through the shipped SLURM profile, on a real (throwaway, single-node) SLURM.

The cluster (see ``slurm_cluster.py``) is installed where apt and root are at hand (as in CI)
and started, with the runs, in the background as soon as the tests are collected
(``slurm_runs.py``, ``background.py``). Outside CI, where it cannot be installed, the tests skip
and say how to run them; in CI they never skip.

A tiny STEM movie, a tiny PFM sequence (one window size) and a bad file go through the
workflow twice:

1. the bad file's load_frames fails, the message names the rule's log (which says why), and
   (``--keep-going``) everything else, both branches to the last figure, completes;
2. the same command again resumes: it submits only the job that failed and redoes nothing that
   finished;
3. at the same time, a group of 20 tiny movies (issue #18, point 5; one movie under 20 names,
   prepared outside SLURM while the cluster starts) goes through the low-priority partitions (the
   chain of 1. goes first) to the group's model and every movie's latents: one training job on
   the GPU partition for the whole group, one encode job per movie.

Then ``sacct`` must show every rule of the workflow as a SLURM job, the training and encoding
jobs with a GPU in their allocation on the GPU partition, and no other job with one.
"""

from __future__ import annotations

import pytest

from background import BACKGROUND
from slurm_cluster import LOW_PRIORITY

GPU_RULES = {"train_model", "train_group_model", "encode_patches", "train_pfm_model", "encode_pfm_patches"}
# every rule that makes a file; `all` only collects the targets and runs on the submitting machine
RULES = {"simulate_stem", "load_frames", "prepare_frames", "find_atoms", "score_atoms", "extract_patches",
         "train_model", "encode_patches", "score_latents", "plot_overview", "plot_atom_qc", "cluster_patches",
         "plot_gmm_baseline", "plot_model", "plot_angles", "track_atoms", "analyse_pathways", "score_pathways",
         "plot_pathways", "simulate_pfm", "tile_frames", "train_pfm_model", "encode_pfm_patches", "score_pfm",
         "plot_pfm_model", "plot_pfm_sweep", "export_latent_maps", "export_tracks", "export_domains",
         "explore_model", "explore_pfm_model"}
FAILED_LOG = "results/logs/load_frames/broken.log"


@pytest.fixture(scope="module")
def two_runs():
    """The two runs through SLURM (started in the background when the tests were collected)."""
    runs = BACKGROUND.result("two_runs")
    error = runs.first.stdout[runs.first.stdout.find("Error in rule"):]
    print("first run's error message:\n" + error[:3000])
    print("sacct after both runs:\n" + "\n".join("|".join(row.values()) for row in runs.all_jobs))
    return runs


def rule_of(row: dict) -> str:
    """The rule of a job, from the comment the plugin gives it (``rule_<name>_wildcards_...``)."""
    comment = row["Comment"]
    assert comment.startswith("rule_"), row
    return comment[len("rule_"):].split("_wildcards_")[0]


def test_a_failing_job_fails_the_run_and_names_the_rules_log(two_runs):
    assert two_runs.first.returncode != 0
    output = two_runs.first.stdout
    assert "Error in rule load_frames" in output, output[-4000:]
    assert FAILED_LOG in output, output[-4000:]
    assert "sample 'broken' (file: broken.npy)" in (two_runs.workdir / FAILED_LOG).read_text()
    assert "pickled" in (two_runs.workdir / FAILED_LOG).read_text()


def test_the_rerun_resumes_without_redoing_finished_rules(two_runs):
    assert [(rule_of(row), row["Comment"].endswith("_broken")) for row in two_runs.second_jobs] == [
        ("load_frames", True)]
    assert two_runs.second.returncode != 0  # the bad file is still bad
    results = two_runs.workdir / "results"
    assert (results / "tiny" / "figures" / "rvae_pathway_graph.png").is_file()
    assert (results / "tinypfm" / "figures" / "pfm_sweep.png").is_file()


def test_every_rule_ran_as_a_slurm_job(two_runs):
    assert {rule_of(row) for row in two_runs.first_jobs} == RULES
    failed = [row for row in two_runs.first_jobs + two_runs.second_jobs if row["State"] != "COMPLETED"]
    assert [(rule_of(row), row["State"]) for row in failed] == [("load_frames", "FAILED")] * 2


def test_only_the_gpu_rules_were_given_a_gpu(two_runs):
    for row in two_runs.first_jobs + two_runs.second_jobs:
        if rule_of(row) in GPU_RULES:
            assert "gres/gpu=1" in row["AllocTRES"] and row["Partition"] == "gpu", row
        else:
            assert "gpu" not in row["AllocTRES"] and row["Partition"] == "cpu", row


def test_a_group_of_twenty_movies_trains_once_on_the_gpu_and_encodes_each_movie_in_its_own_job(two_runs):
    group = two_runs.group
    print("sacct of the group run:\n" + "\n".join("|".join(row.values()) for row in group.jobs))
    failed = [path.read_text()[-3000:] for path in (group.workdir / ".snakemake" / "slurm_logs").rglob("*.log")
              if "Error" in path.read_text()]
    assert group.run.returncode == 0, group.run.stdout[group.run.stdout.find("Error in"):][:3000] + "\n".join(failed)
    rules = [rule_of(row) for row in group.jobs]
    assert rules.count("train_group_model") == 1 and "train_model" not in rules
    encoded = sorted(row["Comment"].split("_wildcards_")[1] for row in group.jobs if rule_of(row) == "encode_patches")
    assert encoded == [f"{movie}_rvae" for movie in group.movies]  # one job per movie
    assert len(group.movies) >= 20
    assert len(rules) == 1 + len(group.movies)  # the movies were prepared before (the first run has those rules)
    for row in group.jobs:
        assert row["State"] == "COMPLETED", row
        if rule_of(row) in GPU_RULES:  # the low-priority GPU partition of the test's profile
            assert "gres/gpu=1" in row["AllocTRES"] and row["Partition"] == LOW_PRIORITY["gpu"], row
        else:
            assert "gpu" not in row["AllocTRES"] and row["Partition"] == LOW_PRIORITY["cpu"], row
    model = group.workdir / "results" / "groups" / "many" / "rvae"
    assert (model / "model.pt").is_file()
    assert len((model / "movies.tsv").read_text().splitlines()) == len(group.movies) + 1

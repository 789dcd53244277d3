"""The workflow through the shipped SLURM profile, on a real (throwaway, single-node) SLURM.

The cluster (see ``slurm_cluster.py``) is installed where apt and root are at hand (as in CI)
and started for this module only. Outside CI, where it cannot be installed, the tests skip and
say how to run them; in CI they never skip.

A tiny STEM movie, a tiny PFM sequence (one window size) and a bad file go through the
workflow twice:

1. the bad file's load_frames fails, the message names the rule's log (which says why), and
   (``--keep-going``) everything else, both branches to the last figure, completes;
2. the same command again resumes: it submits only the job that failed and redoes nothing that
   finished.

Then ``sacct`` must show every rule of the workflow as a SLURM job, the training and encoding
jobs with a GPU in their allocation on the GPU partition, and no other job with one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest

from slurm_cluster import SYSTEM_CONF, ThrowawaySlurm, can_install, install, missing_programs
from workflow_runs import ROOT, write_config

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HOW_TO_RUN = (
    "run the tests as root on Debian/Ubuntu with apt (the test installs slurm-wlm, slurmdbd, munge and "
    "mariadb-server), or install those packages yourself"
)
GPU_RULES = {"train_model", "encode_patches", "train_pfm_model", "encode_pfm_patches"}
# every rule that makes a file; `all` only collects the targets and runs on the submitting machine
RULES = {"simulate_stem", "load_frames", "prepare_frames", "find_atoms", "score_atoms", "extract_patches",
         "train_model", "encode_patches", "score_latents", "plot_overview", "plot_atom_qc", "cluster_patches",
         "plot_gmm_baseline", "plot_model", "plot_angles", "track_atoms", "analyse_pathways", "score_pathways", "plot_pathways",
         "simulate_pfm", "tile_frames", "train_pfm_model", "encode_pfm_patches", "score_pfm", "plot_pfm_model",
         "plot_pfm_sweep"}
FAILED_LOG = "results/logs/load_frames/broken.log"
FIELDS = ("JobID", "JobName", "Partition", "AllocTRES", "State", "ExitCode", "Start", "Elapsed", "Comment")


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"the SLURM test must run in CI, but: {reason}")
    pytest.skip(f"{reason}; to run it, {HOW_TO_RUN}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
        _unavailable(f"{SYSTEM_CONF} exists (a SLURM is configured on this machine; the test will not touch it)")
    if missing_programs():
        if not can_install():
            _unavailable(f"SLURM programs missing ({', '.join(missing_programs())}) and no root/apt to install them")
        install(folder / "apt.log")
    with ThrowawaySlurm(folder / "cluster") as slurm:
        yield slurm


def run_through_slurm(slurm: ThrowawaySlurm, workdir, timeout: float = 900) -> subprocess.CompletedProcess:
    """``snakemake --profile profiles/slurm`` in ``workdir`` (stopped with SIGINT, as a user would, on time-out)."""
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
        "--profile", str(ROOT / "profiles" / "slurm"), "--configfile", "config.yaml", "--keep-going",
        # a test cluster answers at once; jobs here take 5-9 s; the plugin waits 40 s at first, then 10 s longer after each look that finds nothing finished
        "--slurm-init-seconds-before-status-checks", "10", "--latency-wait", "5",
        # one core per job, so the 2-core test node runs two jobs at a time (the rules ask for 2)
        "--set-threads", *(f"{rule}=1" for rule in ("find_atoms", "train_model", "encode_patches", "score_latents",
                                                     "train_pfm_model", "encode_pfm_patches")),
    ]
    process = subprocess.Popen(command, cwd=workdir, env=slurm.env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        pytest.fail(f"the SLURM run did not finish in {timeout} s:\n{output[-4000:]}")
    return subprocess.CompletedProcess(command, process.returncode, output, "")


def rule_of(row: dict) -> str:
    """The rule of a job, from the comment the plugin gives it (``rule_<name>_wildcards_...``)."""
    comment = row["Comment"]
    assert comment.startswith("rule_"), row
    return comment[len("rule_"):].split("_wildcards_")[0]


@pytest.fixture(scope="module")
def two_runs(cluster, tmp_path_factory):
    import numpy as np

    workdir = tmp_path_factory.mktemp("slurm_run")
    np.save(workdir / "broken.npy", np.array([{"not": "an image"}], dtype=object), allow_pickle=True)
    samples = [{"sample": "tiny", "path": "simulate", "modality": "stem", "spacing_nm": 0.142},
               {"sample": "tinypfm", "path": "simulate", "modality": "pfm"},
               {"sample": "broken", "path": "broken.npy", "modality": "stem", "pixel_size_nm": 0.01,
                "spacing_nm": 0.142}]
    write_config(workdir, samples, models=["rvae"], pfm={"windows_px": [8]})
    first = run_through_slurm(cluster, workdir)
    first_jobs = cluster.sacct(FIELDS)
    second = run_through_slurm(cluster, workdir)
    all_jobs = cluster.sacct(FIELDS)
    second_jobs = [row for row in all_jobs if row["JobID"] not in {r["JobID"] for r in first_jobs}]
    error = first.stdout[first.stdout.find("Error in rule"):]
    print("first run's error message:\n" + error[:3000])
    print("sacct after both runs:\n" + "\n".join("|".join(row.values()) for row in all_jobs))
    return SimpleNamespace(workdir=workdir, first=first, second=second, first_jobs=first_jobs,
                           second_jobs=second_jobs)


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

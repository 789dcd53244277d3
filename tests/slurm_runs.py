"""The workflow through the shipped SLURM profile on a throwaway single-node cluster
(``slurm_cluster.py``): the work behind ``test_slurm_profile``, run in the background from the
moment the tests are collected (``background.py``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from apt import can_install, install
from slurm_cluster import LOW_PRIORITY, PACKAGES, SYSTEM_CONF, ThrowawaySlurm, missing_programs
from workflow_runs import ROOT, one_thread_per_job, snakemake, write_config

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HOW_TO_RUN = (
    "run the tests as root on Debian/Ubuntu with apt (the test installs slurm-wlm, slurmdbd, munge and "
    "mariadb-server), or install those packages yourself"
)
FIELDS = ("JobID", "JobName", "Partition", "AllocTRES", "State", "ExitCode", "Start", "Elapsed", "Comment")
# The group run: tiny movies sharing one model (issue #18, point 5: at least 20); its jobs' names begin
# with GROUP_PREFIX
GROUP_MOVIES = 20
GROUP_PREFIX = "group"


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"the SLURM test must run in CI, but: {reason}")
    pytest.skip(f"{reason}; to run it, {HOW_TO_RUN}")


def check_cluster_possible() -> None:
    """Skip (fail in CI) where the throwaway cluster cannot be had."""
    if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
        _unavailable(f"{SYSTEM_CONF} exists (a SLURM is configured on this machine; the test will not touch it)")
    if missing_programs() and not can_install():
        _unavailable(f"SLURM programs missing ({', '.join(missing_programs())}) and no root/apt to install them")


def start_cluster(background, folder: Path) -> ThrowawaySlurm:
    """Install the packages where needed and start the cluster; it stops when the session ends."""
    check_cluster_possible()
    if missing_programs():
        install(PACKAGES, folder / "apt.log")
    slurm = ThrowawaySlurm(folder / "cluster").__enter__()
    background.on_exit(slurm.stop)
    return slurm


def run_through_slurm(slurm: ThrowawaySlurm, workdir, timeout: float = 900, targets=(), options=(),
                      profile: Path = ROOT / "profiles" / "slurm") -> subprocess.CompletedProcess:
    """``snakemake --profile <profile> [targets] [options]`` in ``workdir`` (stopped with SIGINT, as a
    user would, on time-out); the shipped SLURM profile unless another is given."""
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *targets,  # before nargs options
        "--profile", str(profile), "--configfile", "config.yaml", "--keep-going",
        # a test cluster answers at once; jobs here take 5-9 s; the plugin waits 40 s at first, then 10 s longer after each look that finds nothing finished
        "--slurm-init-seconds-before-status-checks", "10", "--latency-wait", "5",
        # one core per job, so the 2-core test node runs two jobs at a time (the rules ask for 2)
        *one_thread_per_job(), *options,
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


def group_through_slurm(cluster: Future, folder: Path) -> SimpleNamespace:
    """:data:`GROUP_MOVIES` tiny movies of one group up to the group's model and every movie's latents.

    What is tested here is the cluster's part of a group: one training job on the GPU partition for
    all the movies' patches, one encoding job per movie (the comparison of distinct movies is
    test_groups.py's). So the movies are one tiny movie (two 96 x 96 px frames of simulated
    graphene) under 20 names, prepared once with the default profile while the cluster starts (the
    first run sends the preparation's rules through SLURM) and its patch store copied to the
    others. Then, through SLURM (``cluster``: the cluster, once started), in the low-priority
    partitions (the first runs' chain of jobs goes first). With ``sacct``'s rows of these jobs only
    (their names begin with :data:`GROUP_PREFIX`)."""
    from rvae_pathways.sim.stem import simulate_stem_movie

    workdir = folder / "group"
    workdir.mkdir()
    movie = simulate_stem_movie(2, (96, 96), seed=0, lattice_angle_deg=10.0)["image"].values.astype(np.float32)
    rows = []
    for i in range(GROUP_MOVIES):
        np.save(workdir / f"m{i:02d}.npy", movie)
        rows.append({"sample": f"m{i:02d}", "path": f"m{i:02d}.npy", "modality": "stem", "pixel_size_nm": 0.01,
                     "spacing_nm": 0.142, "group": "many"})
    write_config(workdir, rows, models=["rvae"], rvae={"epochs": 1, "hyper": {"restarts": 1}},
                 groups={"movie_outputs": False})
    first = f"results/{rows[0]['sample']}/patches.zarr"
    prepared = snakemake(workdir, first, *one_thread_per_job())
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    for row in rows[1:]:  # copies keep the store's time, later than every movie file's
        shutil.copytree(workdir / first, workdir / "results" / row["sample"] / "patches.zarr")
    # the shipped profile, edited as README says: the low-priority partitions, and less memory for the GPU
    # jobs of tiny movies, so that the test node runs two at a time
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = LOW_PRIORITY["cpu"]
    for rule, settings in profile["set-resources"].items():
        settings["slurm_partition"] = LOW_PRIORITY[settings["slurm_partition"]]
    for rule in ("train_group_model", "encode_patches"):
        profile["set-resources"][rule]["mem_mb"] = 1500
    (workdir / "profile").mkdir()
    (workdir / "profile" / "config.yaml").write_text(yaml.safe_dump(profile))
    targets = ["results/groups/many/rvae/model.pt", *(f"results/{row['sample']}/rvae/latents.zarr" for row in rows)]
    slurm = cluster.result()
    run = run_through_slurm(slurm, workdir, targets=targets, options=["--slurm-jobname-prefix", GROUP_PREFIX],
                            profile=workdir / "profile")
    jobs = [row for row in slurm.sacct(FIELDS) if row["JobName"].startswith(GROUP_PREFIX)]
    return SimpleNamespace(workdir=workdir, run=run, jobs=jobs, movies=[row["sample"] for row in rows])


def slurm_workflow(background, folder: Path) -> SimpleNamespace:
    """A tiny STEM movie, a tiny PFM sequence (one window size) and a bad file through the workflow
    twice (the second run resumes), with ``sacct``'s rows after each; and at the same time a group of
    :data:`GROUP_MOVIES` tiny movies (:func:`group_through_slurm`)."""
    check_cluster_possible()
    with ThreadPoolExecutor(1, thread_name_prefix="slurm-group") as pool:
        cluster = Future()
        group = pool.submit(group_through_slurm, cluster, folder)
        try:
            slurm = start_cluster(background, folder)
        except BaseException as error:
            cluster.set_exception(error)
            raise
        cluster.set_result(slurm)
        workdir = folder / "run"
        workdir.mkdir()
        np.save(workdir / "broken.npy", np.array([{"not": "an image"}], dtype=object), allow_pickle=True)
        samples = [{"sample": "tiny", "path": "simulate", "modality": "stem", "spacing_nm": 0.142},
                   {"sample": "tinypfm", "path": "simulate", "modality": "pfm"},
                   {"sample": "broken", "path": "broken.npy", "modality": "stem", "pixel_size_nm": 0.01,
                    "spacing_nm": 0.142}]
        write_config(workdir, samples, models=["rvae"], pfm={"windows_px": [8]})
        first = run_through_slurm(slurm, workdir)
        first_jobs = _not_group(slurm.sacct(FIELDS))
        second = run_through_slurm(slurm, workdir)
        group = group.result()
    all_jobs = _not_group(slurm.sacct(FIELDS))
    second_jobs = [row for row in all_jobs if row["JobID"] not in {r["JobID"] for r in first_jobs}]
    return SimpleNamespace(workdir=workdir, first=first, second=second, first_jobs=first_jobs,
                           second_jobs=second_jobs, all_jobs=all_jobs, group=group)


def _not_group(rows: list[dict]) -> list[dict]:
    return [row for row in rows if not row["JobName"].startswith(GROUP_PREFIX)]

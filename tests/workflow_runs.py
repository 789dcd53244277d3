"""Runs of the workflow through Snakemake itself, on tiny configs in temporary folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROFILE = ROOT / "profiles" / "default"
# the tiny config, which also runs by hand: snakemake --directory .test --cores 2
TEST_CONFIG = ROOT / ".test" / "config" / "config.yaml"

# The rules that ask for more than one thread (PFM's train and encode rules inherit theirs).
MULTI_THREADED_RULES = ("find_atoms", "train_model", "train_group_model", "encode_patches", "score_latents",
                        "train_pfm_model", "encode_pfm_patches")

# The samples of the tiny run: a simulated STEM movie, a simulated PFM switching sequence and the
# real Asylum PFM scan shipped in tests/data.
SIM = {"sample": "tiny", "path": "simulate", "modality": "stem", "spacing_nm": 0.142}
PFM_SIM = {"sample": "tinypfm", "path": "simulate", "modality": "pfm"}
PFM_REAL = {"sample": "asylum", "path": str(ROOT / "tests" / "data" / "pfm_box_in_box_asylum.ibw"), "modality": "pfm"}


def write_config(workdir: Path, rows: list[dict], **overrides) -> Path:
    """The tiny config (:data:`TEST_CONFIG`: the defaults, with tiny simulated movies and few epochs)
    and a samples table of ``rows`` in ``workdir``.

    ``overrides``: per config section, a dict of entries to change, or a value that replaces it.
    """
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["samples"] = "samples.tsv"
    for section, values in overrides.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    columns = ["sample", "path", "modality", "pixel_size_nm", "spacing_nm"]
    columns += [c for c in ("frame_time_s", "dose_e_per_A2_per_frame", "group", "simulate")
                if any(c in row for row in rows)]
    lines = ["\t".join(columns)] + ["\t".join(str(row.get(c, "")) for c in columns) for row in rows]
    (workdir / "samples.tsv").write_text("\n".join(lines) + "\n")
    return workdir / "config.yaml"


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
         "--profile", str(DEFAULT_PROFILE), "--configfile", "config.yaml", "--cores", "2", *args],
        cwd=workdir, capture_output=True, text=True, timeout=600,
    )


def planned_jobs(workdir: Path) -> dict[str, int]:
    """Rule -> job count of a dry run (empty when nothing is to be done)."""
    out = snakemake(workdir, "--dry-run").stdout
    assert "Error" not in out, out
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0].splitlines()[3:]
    return {name: int(count) for name, count in (line.split() for line in table if line.strip())}


def one_thread_per_job() -> list[str]:
    """Snakemake arguments giving every multi-threaded rule one thread (background runs, the test cluster)."""
    return ["--set-threads", *(f"{rule}=1" for rule in MULTI_THREADED_RULES)]


def tiny_workflow(background, folder: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """The whole DAG on the tiny samples (:data:`SIM`, :data:`PFM_SIM`, :data:`PFM_REAL`) in ``folder``
    (run in the background: see ``background.py``)."""
    # two seeds: the second model of each kind is trained and encoded only to compare its units (rvae.seeds)
    write_config(folder, [SIM, PFM_SIM, PFM_REAL], rvae={"seeds": 2})
    return folder, snakemake(folder, *one_thread_per_job())


def tiny_group_workflow(background, folder: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """A group of two tiny simulated movies (their own seeds, frame counts and doses) through the
    whole DAG to the group's comparison, in ``folder`` (run in the background: ``background.py``)."""
    rows = [{**SIM, "sample": "lo", "group": "pair", "dose_e_per_A2_per_frame": 2e5, "simulate": "{seed: 2, n_frames: 2}"},
            {**SIM, "sample": "hi", "group": "pair", "dose_e_per_A2_per_frame": 8e5,
             "simulate": "{seed: 3, hop_probability: 0.5}"}]
    write_config(folder, rows, models=["rvae"], rvae={"epochs": 1, "hyper": {"restarts": 1}},
                 groups={"movie_outputs": False})
    return folder, snakemake(folder, *one_thread_per_job())


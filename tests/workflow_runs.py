"""Runs of the workflow through Snakemake itself, on tiny configs in temporary folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROFILE = ROOT / "profiles" / "default"

# The rules that ask for more than one thread (PFM's train and encode rules inherit theirs).
MULTI_THREADED_RULES = ("find_atoms", "train_model", "encode_patches", "score_latents", "train_pfm_model",
                        "encode_pfm_patches")

# The samples of the tiny run: a simulated STEM movie, a simulated PFM switching sequence and the
# real Asylum PFM scan shipped in tests/data.
SIM = {"sample": "tiny", "path": "simulate", "modality": "stem", "spacing_nm": 0.142}
PFM_SIM = {"sample": "tinypfm", "path": "simulate", "modality": "pfm"}
PFM_REAL = {"sample": "asylum", "path": str(ROOT / "tests" / "data" / "pfm_box_in_box_asylum.ibw"), "modality": "pfm"}


def write_config(workdir: Path, rows: list[dict], **overrides) -> Path:
    """A full config (the default one, with a tiny simulator) and a samples table in ``workdir``.

    ``overrides``: per config section, a dict of entries to change, or a value that replaces it.
    """
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["samples"] = "samples.tsv"
    config["simulate_stem"].update(n_frames=3, height=96, width=96, seed=1)
    config["rvae"]["epochs"] = 3
    config["rvae"]["hyper"]["restarts"] = 1  # 3 epochs are all warm-up: starts would triple the training
    config["simulate_pfm"].update(n_frames=3, size=48, seed=1)
    config["pfm"].update(windows_px=[8, 16], stride_px=8, epochs=2)
    for section, values in overrides.items():
        if isinstance(values, dict):
            config[section].update(values)
        else:
            config[section] = values
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    columns = ["sample", "path", "modality", "pixel_size_nm", "spacing_nm"]
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
    write_config(folder, [SIM, PFM_SIM, PFM_REAL])
    return folder, snakemake(folder, *one_thread_per_job())

"""Peak memory of the load -> prepare -> find -> extract -> encode chain, for a short and a long movie.

Issue #7, point 3: the chain streams, so its peak resident memory hardly depends on the number
of frames (target: 10 and 100 frames of 1024x1024 px within 20 %).

For each frame count, a STEM-like movie is written to ``<workdir>/<N>/movie.npy`` a frame at a
time (``np.lib.format.open_memmap``): one frame of Si-doped graphene from the simulator
(:func:`rvae_pathways.sim.stem.simulate_stem_movie`, noiseless, 0.01 nm/px), 32 px larger
than the frames, is cropped with a random-walk drift of up to 2 px per frame and given fresh
shot noise (Poisson) in every frame. Then every step of the chain runs its rule script
(``workflow/scripts/<rule>.py``) in a fresh Python process, with a stand-in for Snakemake's
``snakemake`` object, as Snakemake's ``script:`` directive does, with the rule's ``threads:``
(from ``workflow/rules/*.smk``) and ``OMP_NUM_THREADS=1``. The step's peak resident memory is
the child's ``ru_maxrss``, read by a small launcher process that starts it
(``RUSAGE_CHILDREN``); its wall time includes starting Python and the imports.

Parameters are the workflow's: ``config/config.yaml``'s ``prepare``, ``atoms``, ``score``
(tolerance) and ``patches`` sections, graphene's spacing 0.142 nm and a pixel size of 0.01 nm.
The encoder is the demo configuration's rVAE (``rvae.hyper``, rotation and translation on),
trained for one epoch on the first 300 patches of the first movie (in this process, not
measured); the same model encodes every movie.

Prints numbers, never pass/fail.

Usage: ``python bench/streaming_memory.py [--frames 10 100] [--size 1024] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))

SPACING_NM = 0.142  # graphene's C-C distance
PIXEL_SIZE_NM = 0.01  # the simulator's default
PAD_PX = 32  # the simulated frame is this much larger than the movie's, for the drift
TRAIN_PATCHES = 300
STEPS = ("load_frames", "prepare_frames", "find_atoms", "extract_patches", "encode_patches")


# ----------------------------------------------------------------------------------------
# The movie
# ----------------------------------------------------------------------------------------


def lattice_frame(size: int, seed: int = 0) -> np.ndarray:
    """Expected counts of one simulated graphene frame, ``size + PAD_PX`` px square (no shot noise)."""
    from rvae_pathways.sim.stem import simulate_stem_movie

    side = size + PAD_PX
    movie = simulate_stem_movie(n_frames=1, shape=(side, side), pixel_size_nm=PIXEL_SIZE_NM, shot_noise=False,
                                hole_start_frame=None, probe_tail_fraction=0.0, support_counts=0.0, seed=seed)
    return movie["image"].values[0].astype(np.float64)


def write_movie(path: Path, base: np.ndarray, n_frames: int, size: int, seed: int = 0) -> None:
    """Write ``n_frames`` crops of ``base`` (random-walk drift, fresh Poisson noise) to a .npy, a frame at a time."""
    rng = np.random.default_rng(seed)
    movie = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_frames, size, size))
    offset = np.array([PAD_PX // 2, PAD_PX // 2])
    for i in range(n_frames):
        if i:
            offset = np.clip(offset + rng.integers(-2, 3, 2), 0, PAD_PX)
        crop = base[offset[0] : offset[0] + size, offset[1] : offset[1] + size]
        movie[i] = rng.poisson(crop).astype(np.float32)
    movie.flush()
    del movie


# ----------------------------------------------------------------------------------------
# One rule script in a child process
# ----------------------------------------------------------------------------------------


class Section(dict):
    """One part of the stand-in ``snakemake`` object: a dict whose keys are also attributes."""

    __getattr__ = dict.__getitem__


class StandIn:
    """What the rule scripts use of Snakemake's ``snakemake`` object."""

    def __init__(self, spec: dict):
        self.input = Section(spec["input"])
        self.output = Section(spec["output"])
        self.params = Section(spec["params"])
        self.log = [spec["log"]]
        self.threads = spec["threads"]
        self.wildcards = Section(sample=spec["sample"])


def run_rule_here(spec_path: str) -> None:
    """Child process: run one rule script with the stand-in ``snakemake`` its spec describes."""
    spec = json.loads(Path(spec_path).read_text())
    script = SCRIPTS / f"{spec['rule']}.py"
    runpy.run_path(str(script), init_globals={"snakemake": StandIn(spec)}, run_name="__main__")


# Runs its arguments as a child and prints the child's peak RSS in KB. A process's peak RSS
# starts from its parent's at the fork and survives exec, so each step is started from this
# small launcher, never from the bench (which holds the lattice frame and, later, torch).
LAUNCHER = """
import resource, subprocess, sys
status = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run_rule(spec: dict, folder: Path) -> dict:
    """Run one rule script in a fresh Python process; its peak RSS (MB), wall seconds and exit status."""
    spec_path = folder / f"{spec['rule']}.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, __file__, "--run-rule", str(spec_path)],
                         env=env, capture_output=True, text=True, check=True).stdout
    seconds = time.perf_counter() - t0
    status, max_rss_kb = (int(v) for v in out.split())
    return {"rss_mb": max_rss_kb / 1024, "seconds": seconds, "returncode": status}


def rule_threads(rule: str) -> int:
    """The ``threads:`` of a rule in ``workflow/rules/*.smk`` (1 where it sets none)."""
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            if block.split(":")[0].strip() == rule:
                found = re.search(r"^\s*threads:\s*(\d+)", block, flags=re.M)
                return int(found.group(1)) if found else 1
    raise ValueError(f"no rule {rule} in workflow/rules")


def rule_specs(folder: Path, config: dict, model: Path) -> dict:
    """The inputs, outputs and params of every step, as the workflow's rules give them."""
    sample = f"bench{folder.name}"
    common = {"sample": sample}
    logs = folder / "logs"
    specs = {
        "load_frames": {
            "input": {"raw": folder / "movie.npy"},
            "output": {"frames": folder / "frames.zarr"},
            "params": {"source": "movie.npy", "pixel_size_nm": PIXEL_SIZE_NM, "modality": "stem"},
        },
        "prepare_frames": {
            "input": {"frames": folder / "frames.zarr"},
            "output": {"aligned": folder / "aligned.zarr"},
            "params": {"source": "movie.npy", "spacing_nm": SPACING_NM, **config["prepare"]},
        },
        "find_atoms": {
            "input": {"aligned": folder / "aligned.zarr"},
            "output": {"atoms": folder / "atoms.zarr"},
            "params": {"source": "movie.npy", "spacing_nm": SPACING_NM, "finder": config["atoms"],
                       "tolerance_nm": config["score"]["tolerance_nm"]},
        },
        "extract_patches": {
            "input": {"aligned": folder / "aligned.zarr", "atoms": folder / "atoms.zarr"},
            "output": {"patches": folder / "patches.zarr"},
            "params": {"source": "movie.npy", "spacing_nm": SPACING_NM, **config["patches"]},
        },
        "encode_patches": {
            "input": {"model": model, "patches": folder / "patches.zarr"},
            "output": {"latents": folder / "latents.zarr"},
            "params": {"source": "movie.npy", "label": "rvae"},
        },
    }
    for rule, spec in specs.items():
        spec.update(common, rule=rule, threads=rule_threads(rule), log=str(logs / f"{rule}.log"))
        for part in ("input", "output"):
            spec[part] = {k: str(v) for k, v in spec[part].items()}
    return specs


# ----------------------------------------------------------------------------------------
# The encoder
# ----------------------------------------------------------------------------------------


def train_small_model(patches_path: Path, model_path: Path, config: dict) -> None:
    """The demo configuration's rVAE, trained for one epoch on the first patches, saved like train_model."""
    import torch
    import xarray as xr

    from rvae_pathways.rvae.train import estimate_noise_std, fit, resolve_hyper, save_model, training_set

    torch.set_num_threads(1)
    patches = xr.open_zarr(patches_path)["image"][:TRAIN_PATCHES].values
    x, scale = training_set(patches, config["rvae"]["augment_rot90"])
    settings = {**config["rvae"]["hyper"], "rotation": True, "translation": True}
    if settings.get("noise_std") is None:
        settings["noise_std"] = estimate_noise_std(x[: len(patches)])
    hyper = resolve_hyper(settings, patches.shape[1])
    model, _ = fit(x, settings, epochs=1, seed=0, device="cpu")
    save_model(model_path, model, {**hyper, "input_scale": scale, "seed": 0})


# ----------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------


def store_rows(path: Path, dim: str) -> int:
    """Length of ``dim`` in a Zarr store (0 when absent)."""
    import xarray as xr

    try:
        return int(xr.open_zarr(path).sizes[dim])
    except (OSError, KeyError, ValueError):
        return 0


def report(results: dict, frame_counts: list[int], size: int, movies: dict) -> None:
    """Print the table of peak RSS and wall time per step, and the chain's peaks."""
    first, last = frame_counts[0], frame_counts[-1]
    print()
    print(f"movie: {size}x{size} px float32 frames; "
          + ", ".join(f"{n} frames = {movies[n]['mb']:.0f} MB on disk, {movies[n]['atoms']} atoms, "
                      f"{movies[n]['patches']} patches" for n in frame_counts))
    head = "".join(f" {f'RSS MB @{n}':>12}" for n in frame_counts)
    secs = "".join(f" {f's @{n}':>9}" for n in frame_counts)
    print(f"{'step':<16}{'threads':>8}{head} {f'ratio {last}/{first}':>13}{secs}")
    for step in STEPS:
        rss = [results[n][step]["rss_mb"] for n in frame_counts]
        row = "".join(f" {v:>12.0f}" for v in rss)
        times = "".join(f" {results[n][step]['seconds']:>9.1f}" for n in frame_counts)
        print(f"{step:<16}{results[first][step]['threads']:>8}{row} {rss[-1] / rss[0]:>13.3f}{times}")
    peaks = {n: max(results[n][s]["rss_mb"] for s in STEPS) for n in frame_counts}
    totals = {n: sum(results[n][s]["seconds"] for s in STEPS) for n in frame_counts}
    row = "".join(f" {peaks[n]:>12.0f}" for n in frame_counts)
    times = "".join(f" {totals[n]:>9.1f}" for n in frame_counts)
    print(f"{'chain (peak)':<16}{'':>8}{row} {peaks[last] / peaks[first]:>13.3f}{times}")
    change = (peaks[last] - peaks[first]) / peaks[first]
    print(f"chain peak RSS, {last} vs {first} frames: {change:+.1%} (target: within 20%)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--size", type=int, default=1024, help="frame side in px")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "rvae_streaming_memory")
    parser.add_argument("--run-rule", help=argparse.SUPPRESS)  # child process: run one rule script
    args = parser.parse_args(argv)
    if args.run_rule:
        run_rule_here(args.run_rule)
        return 0

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    frame_counts = sorted(set(args.frames))
    args.workdir.mkdir(parents=True, exist_ok=True)
    model = args.workdir / "model.pt"
    if model.exists():
        model.unlink()  # trained afresh on this run's first movie
    t0 = time.perf_counter()
    base = lattice_frame(args.size)
    print(f"simulated lattice frame ({base.shape[0]} px square): {time.perf_counter() - t0:.1f} s; "
          f"this process's peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    results, movies = {}, {}
    for n in frame_counts:
        folder = args.workdir / str(n)
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        write_movie(folder / "movie.npy", base, n, args.size)
        movies[n] = {"mb": (folder / "movie.npy").stat().st_size / 2**20}
        print(f"{n} frames: movie written in {time.perf_counter() - t0:.1f} s")
        specs = rule_specs(folder, config, model)
        results[n] = {}
        for step in STEPS:
            if step == "encode_patches" and not model.exists():
                t0 = time.perf_counter()
                train_small_model(folder / "patches.zarr", model, config)
                print(f"  encoder trained on {TRAIN_PATCHES} patches for 1 epoch in {time.perf_counter() - t0:.1f} s"
                      " (not measured)")
            result = run_rule(specs[step], folder)
            results[n][step] = {**result, "threads": specs[step]["threads"]}
            print(f"  {step:<16} peak RSS {result['rss_mb']:7.0f} MB  {result['seconds']:7.1f} s"
                  f"  ({specs[step]['threads']} threads)", flush=True)
            if result["returncode"] != 0:
                log = Path(specs[step]["log"])
                tail = log.read_text().splitlines()[-15:] if log.exists() else ["(no log)"]
                print(f"  {step} failed (exit status {result['returncode']}); end of {log}:")
                print("\n".join("    " + line for line in tail))
                return 1
        movies[n]["atoms"] = store_rows(folder / "atoms.zarr", "atom")
        movies[n]["patches"] = store_rows(folder / "patches.zarr", "patch")
    report(results, frame_counts, args.size, movies)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

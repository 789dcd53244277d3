"""Atom finding speed on 1024x1024 frames, sub-pixel refinement included, with its accuracy.

Simulates ``--frames`` frames of Si-doped graphene (the demo's simulator: 0.01 nm/px, so a
14.2 px C-C spacing and ~13,000 atoms per 1024x1024 frame, dose 50), finds the atoms with the
demo config's finder settings, and prints per frame: wall seconds, frames/s, megapixels/s, and
the detection F1 and position RMSE against the simulator's truth (tolerance 3 px, one spacing
margin), so a speed-up that costs accuracy shows. Then the whole movie through
``find_atoms_in_movie`` (the rule's path, Zarr output) with one and two worker threads, and one
frame's time split into peak finding and refinement. Prints numbers, never pass/fail.

Usage: ``python bench/atom_finding.py [--frames 3] [--size 1024]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from rvae_pathways.stem.atoms import find_atoms, find_peaks  # noqa: E402
from rvae_pathways.stem.gaussian_fits import refine_positions  # noqa: E402
from rvae_pathways.stem.movie import find_atoms_in_movie  # noqa: E402
from rvae_pathways.scores.atoms import detection_counts, detection_scores  # noqa: E402
from rvae_pathways.sim.stem import simulate_stem_movie  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPACING_PX = 14.2


def finder_settings() -> dict:
    """The ``atoms`` block of config/config.yaml (the demo's finder)."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    keys = ("smooth", "min_distance", "threshold", "fit_radius", "neighbour_radius", "significance", "background")
    return {k: config["atoms"][k] for k in keys if k in config["atoms"]}


def truth_of(movie, i: int) -> np.ndarray:
    rows = np.asarray(movie["true_frame"]) == i
    return np.stack([np.asarray(movie["true_y"])[rows], np.asarray(movie["true_x"])[rows]], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()

    finder = finder_settings()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    print(f"machine: {cpu}, {os.cpu_count()} cores; numpy {np.__version__}")
    print(f"finder (config/config.yaml atoms): {finder}")
    t0 = time.perf_counter()
    movie = simulate_stem_movie(n_frames=args.frames, shape=(args.size, args.size), seed=0, hole_start_frame=None,
                                probe_tail_fraction=0.0, support_counts=0.0)  # no probe tail, no support
    print(f"simulated {args.frames} frames of {args.size}x{args.size} in {time.perf_counter() - t0:.1f} s", flush=True)
    images = np.asarray(movie["image"], dtype=np.float32)
    mpx = args.size * args.size / 1e6

    find_atoms(images[0][:256, :256], SPACING_PX, **finder)  # warm-up (imports, caches)
    total = 0.0
    for i, image in enumerate(images):
        t = time.perf_counter()
        found = find_atoms(image, SPACING_PX, **finder)
        dt = time.perf_counter() - t
        total += dt
        positions = np.stack([found["y"], found["x"]], axis=1)
        scores = detection_scores(**detection_counts(positions, truth_of(movie, i), 3.0, image.shape, margin=SPACING_PX))
        print(f"frame {i}: {len(positions)} atoms in {dt:.3f} s = {1 / dt:.2f} frames/s = {mpx / dt:.2f} Mpx/s; "
              f"F1 {scores['f1']:.4f}, RMSE {scores['rmse_px']:.3f} px", flush=True)
    n = len(images)
    print(f"mean over {n} frames: {total / n:.3f} s/frame, {n / total:.2f} frames/s, {n * mpx / total:.2f} Mpx/s")

    # the rule's path: every frame through find_atoms_in_movie, two frames at once on two cores
    aligned = xr.Dataset(
        {"image": (("frame", "y", "x"), images), "drift_y": ("frame", np.zeros(n)), "drift_x": ("frame", np.zeros(n))},
        attrs={"pixel_size_nm": 0.01},
    )
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            t = time.perf_counter()
            count = find_atoms_in_movie(aligned, Path(folder) / "atoms.zarr", SPACING_PX, finder, workers=workers)
            dt = time.perf_counter() - t
        print(f"find_atoms_in_movie, workers={workers}: {count} atoms in {n} frames, {dt:.2f} s = "
              f"{n / dt:.2f} frames/s = {n * mpx / dt:.2f} Mpx/s (Zarr writing included)", flush=True)

    # where the time goes, on frame 0
    t = time.perf_counter()
    peaks = find_peaks(images[0], SPACING_PX, finder.get("smooth", 0.25), finder.get("min_distance", 0.5),
                       finder.get("threshold", 0.3))
    t_peaks = time.perf_counter() - t
    t = time.perf_counter()
    refine_positions(images[0], peaks, SPACING_PX, finder.get("fit_radius", 0.5))
    t_refine = time.perf_counter() - t
    print(f"frame 0 split: peak finding {t_peaks:.3f} s ({mpx / t_peaks:.1f} Mpx/s), one refinement pass of "
          f"{len(peaks)} peaks {t_refine:.3f} s ({mpx / t_refine:.2f} Mpx/s); find_atoms adds a second pass "
          "for atoms hidden in bright neighbours' tails")


if __name__ == "__main__":
    main()

"""Quickstart: the rVAE pathway chain on a small simulated movie, with the public API only.

    python examples/quickstart.py                 # writes into a temporary folder
    python examples/quickstart.py --out quick/    # keeps scores.json and latents.npz there

simulate a HAADF-STEM movie of Si-doped graphene (or read your own: ``rp.read_frames(path)``)
-> normalise -> find atoms -> sample a patch around every atom -> train a small rVAE on the CPU
-> encode -> classes and their share per frame -> scores against the simulator's truth.

It needs ``pip install .`` and PyTorch (any build; README, "Use from Python"). The default
settings take about 15 s on two CPU cores; the same ``--seed`` (and the same number of CPU
threads) gives the same numbers. It is a demonstration, not a benchmark: the workflow's demo
trains on 20 frames of 256 x 256 px with several starts (``snakemake --cores 2``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import rvae_pathways as rp

GRAPHENE_BOND_NM = 0.142  # the nearest-neighbour spacing of the simulated sheet


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder for scores.json and latents.npz (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the simulator and the training (default 0)")
    parser.add_argument("--frames", type=int, default=10, help="frames of the movie (default 10)")
    parser.add_argument("--size", type=int, default=224, help="frame height and width in px (default 224)")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    return parser.parse_args(argv)


def atoms_and_patches(movie, geometry: rp.SampleGeometry) -> tuple[dict, dict]:
    """Find the atoms of every frame, score them against the truth, and sample their patches."""
    spacing = geometry.spacing_px
    window = rp.default_window_px(spacing, rp.defaults("patches")["window_factor"])
    patch_px = rp.defaults("patches")["patch_px"]
    limits = rp.movie_intensity_range(movie)  # one intensity scale for the whole movie
    tolerance = geometry.px(rp.defaults("score")["tolerance_nm"])
    totals, sq_errors, rows = {"tp": 0, "fp": 0, "fn": 0}, [], []
    for f in range(movie.sizes["frame"]):
        image = rp.normalise_intensity(movie["image"][f].values, limits=limits)
        atoms = rp.find_atoms(image, spacing)
        found = np.stack([atoms["y"], atoms["x"]], axis=1)
        # the simulator's truth of this frame: only the scores read it, never the finder or the model
        here = movie["true_frame"].values == f
        truth = np.stack([movie["true_y"].values[here], movie["true_x"].values[here]], axis=1)
        counts = rp.detection_counts(found, truth, tolerance, image.shape, margin=spacing)
        for key in totals:
            totals[key] += counts[key]
        sq_errors.append(counts["sq_errors"])
        i_found, i_true = rp.match_points(found, truth, tolerance)
        true_class = np.full(len(found), -1, np.int64)
        true_class[i_found] = movie["true_class"].values[here][i_true]
        sublattice = np.full(len(found), -1, np.int64)
        sublattice[i_found] = movie["true_sublattice"].values[here][i_true]
        patches, kept = rp.sample_patches(image, atoms["y"], atoms["x"], window, patch_px)
        rows.append({"image": patches, "frame": np.full(len(patches), f), "true_class": true_class[kept],
                     "true_sublattice": sublattice[kept]})
        print(f"  frame {f}: {len(found)} atoms found, {len(patches)} patches")
    detection = rp.detection_scores(**totals, sq_errors=np.concatenate(sq_errors))
    table = {key: np.concatenate([row[key] for row in rows]) for key in rows[0]}
    return detection, table


def main(argv=None) -> dict:
    args = parse(argv)
    start = time.perf_counter()
    out = args.out or Path(tempfile.mkdtemp(prefix="rvae-quickstart-"))
    out.mkdir(parents=True, exist_ok=True)

    print(f"1. simulate a {args.frames}-frame {args.size}x{args.size} px movie (seed {args.seed})")
    movie = rp.simulate_stem_movie(n_frames=args.frames, shape=(args.size, args.size), seed=args.seed)
    geometry = rp.SampleGeometry(movie.attrs["pixel_size_nm"], spacing_nm=GRAPHENE_BOND_NM)

    print(f"2. find atoms (spacing {geometry.spacing_px:.1f} px) and sample patches")
    detection, table = atoms_and_patches(movie, geometry)
    print(f"   atom finding: F1 {detection['f1']:.3f}, position RMSE {detection['rmse_px']:.2f} px")

    print(f"3. train the rVAE on {len(table['image'])} patches (+ their 90-degree turns), {args.epochs} epochs, CPU")
    x, scale = rp.training_set(table["image"])
    # the workflow's model (config schema rvae.hyper) with one start, a shorter orientation warm-up
    # and smaller batches: ~550 optimiser steps instead of the demo's ~1,100 x 3 starts
    hyper = {"restarts": 1, "warmup_epochs": 2, "batch_size": 50,
             "noise_std": rp.estimate_noise_std(x[: len(table["image"])])}
    model, history = rp.fit(x, hyper, epochs=args.epochs, seed=args.seed, device="cpu")
    print(f"   loss per patch (negative ELBO) {history[0]['total']:.1f} -> {history[-1]['total']:.1f}")

    print("4. encode, cut the latents into classes, and score against the truth")
    images = table["image"] / scale
    latents = rp.encode(model, images)
    labels, info = rp.fit_classes(latents["z"], n_components=3, seed=args.seed)
    fractions = rp.class_fractions(labels, table["frame"], args.frames, info["k"])
    truth = {"z_mean": latents["z"], "z_std": latents["z_std"], "theta_deg": latents["theta_deg"],
             "true_class": table["true_class"], "true_sublattice": table["true_sublattice"]}
    scores = rp.score_against_truth(model, images, truth)
    names = rp.majority_structure(labels, table["true_class"], movie.attrs["true_class_names"].split(","))

    result = {
        "atoms": {k: detection[k] for k in ("f1", "precision", "recall", "rmse_px")},
        "n_patches": int(len(images)),
        "sublattice_from_theta": scores["sublattice"],
        "si_vs_c_auc": scores["si_vs_c"]["logistic_auc"],
        "rotation_ratio": scores["rotation_90"]["ratio"],
        "classes": [{"class": c, "mostly": names[c], "share_first_frame": round(float(fractions[0, c]), 3),
                     "share_last_frame": round(float(fractions[-1, c]), 3)} for c in range(info["k"])],
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / "scores.json").write_text(json.dumps(result, indent=2) + "\n")
    np.savez(out / "latents.npz", labels=labels, frame=table["frame"], **latents)
    print(f"   graphene sublattice recovered from the rotation latent: {result['sublattice_from_theta']:.3f}")
    print(f"   Si vs C from the content latents (ROC AUC): {result['si_vs_c_auc']:.3f}")
    for c in result["classes"]:
        print(f"   latent class {c['class']} (mostly {c['mostly']}): {c['share_first_frame']:.1%} of the patches "
              f"in the first frame, {c['share_last_frame']:.1%} in the last")
    print(f"done in {result['seconds']} s; scores.json and latents.npz in {out}")
    return result


if __name__ == "__main__":
    main()

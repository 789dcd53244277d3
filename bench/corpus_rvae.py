"""Issue #3's latent scores of the rVAE and the plain-VAE baseline on the abTEM graphene movies.

For every case (``tests/data/corpus/graphene_s{0,1,2}_d{3,10}.zarr``, or ``demo``: the workflow's
demo movie, ``simulate_stem_movie`` with config/config.yaml's ``simulate_stem`` settings) the library chain
runs as ``tests/test_rvae_scores.py``'s ``patches_of``, ``trained`` and ``scores`` fixtures do:
write_frames -> prepare_movie -> find_atoms_in_movie (truth labels within 0.03 nm) ->
default_window_px / extract_movie_patches -> training_set -> estimate_noise_std -> fit with
config/config.yaml's ``rvae`` settings -> encode -> latent_scores.score_against_truth. The
models are the workflow's (workflow/rules/common.smk ``model_hyper``): ``rvae`` with rotation and
translation latents and the config's ring_weight, ``vae`` with neither and ring_weight 0.

Prints one row per case x model (patches, 5-7 defect patches, Si vs C AUC, sublattice, 5-7
defect vs C AUC, rotation ratio, collapsed latents, train seconds; AUCs are the lower of the
best single latent and the logistic one, as the targets require both), then mean +- std over
the graphene seeds per dose and model. Prints numbers and the targets, never pass/fail.

Usage::

    PYTHONPATH=workflow/scripts python bench/corpus_rvae.py [--cases graphene_s0_d3 ...]
        [--models rvae vae] [--epochs 8] [--set ring_weight=100 --set window_factor=2.5 ...]
        [--seed 0] [--threads 1] [--json out.json] [--cache DIR]

``--set KEY=VALUE`` overrides a key of ``rvae.hyper`` (or ``window_factor`` / ``patch_px`` of
``patches``) for every model (the vae keeps ring_weight 0, rotation and translation off).
``--cache DIR`` keeps each case's patches (per window) there and reuses them on later runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import xarray as xr
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from rvae_pathways.stem.align import prepare_movie  # noqa: E402
from rvae_pathways.stem.movie import find_atoms_in_movie  # noqa: E402
from rvae_pathways.core.geometry import SampleGeometry  # noqa: E402
from rvae_pathways.rvae.encode import encode  # noqa: E402
from rvae_pathways.core.frames import write_frames  # noqa: E402
from rvae_pathways.io.readers import read_frames  # noqa: E402
from rvae_pathways.scores.atoms import label_atoms_with_truth  # noqa: E402
from rvae_pathways.scores.latents import TARGETS, score_against_truth  # noqa: E402
from rvae_pathways.stem.patches import default_window_px, extract_movie_patches  # noqa: E402
from rvae_pathways.rvae.epoch import ring_spectrum_loss  # noqa: E402
from rvae_pathways.rvae.train import (  # noqa: E402
    estimate_noise_std,
    fit,
    selection_epochs,
    selection_loss,
    training_set,
)

CORPUS = ROOT / "tests" / "data" / "corpus"
GRAPHENE = [f"graphene_s{s}_d{d}" for d in (3, 10) for s in (0, 1, 2)]
TOLERANCE_NM = 0.03  # truth matching distance, config score.tolerance_nm
DEMO_SPACING_NM = 0.142
PATCH_KEYS = ("window_factor", "patch_px")


def load_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def movie_of(case: str):
    """The frames Dataset of a case (truth included) and its atom spacing in nm."""
    if case == "demo":  # the workflow's demo movie: config/config.yaml simulate_stem
        from rvae_pathways.sim.stem import simulate_stem_movie

        params = dict(load_config()["simulate_stem"])
        shape = (params.pop("height"), params.pop("width"))
        for key in ("frame_time_s", "dose_e_per_A2_per_frame"):  # metadata the rule writes, not the simulator's
            params.pop(key, None)
        return simulate_stem_movie(shape=shape, **params), DEMO_SPACING_NM
    frames = read_frames(CORPUS / f"{case}.zarr", pixel_size_nm=None)
    return frames, float(frames.attrs["spacing_nm"])


def patches_of(case: str, folder: Path, window_factor: float, patch_px: int, config: dict) -> tuple[xr.Dataset, dict]:
    """The chain up to the patches (as tests/test_rvae_scores.py's ``patches_of``), in ``folder``."""
    movie, spacing_nm = movie_of(case)
    pixel = float(movie.attrs["pixel_size_nm"])
    spacing_px = SampleGeometry(pixel, spacing_nm).spacing_px
    t0 = time.perf_counter()
    write_frames(movie, folder / "frames.zarr")
    prepare_movie(xr.open_zarr(folder / "frames.zarr"), folder / "aligned.zarr",
                  max_shift=config["prepare"]["max_shift_spacings"] * spacing_px)
    aligned = xr.open_zarr(folder / "aligned.zarr")
    find_atoms_in_movie(aligned, folder / "atoms.zarr", spacing_px)
    label_atoms_with_truth(folder / "atoms.zarr", aligned, SampleGeometry(pixel).px(TOLERANCE_NM))
    window = default_window_px(spacing_px, window_factor)
    extract_movie_patches(aligned, xr.open_zarr(folder / "atoms.zarr"), folder / "patches.zarr", window, patch_px)
    atoms = xr.open_zarr(folder / "atoms.zarr")
    info = {"spacing_px": spacing_px, "window_px": window, "n_atoms": int(atoms.sizes["atom"]),
            "n_true": int(movie.sizes["true_atom"]), "matched": int((atoms["true_id"].values >= 0).sum()),
            "prep_s": time.perf_counter() - t0}
    return xr.open_zarr(folder / "patches.zarr").load(), info


def model_hyper(model: str, hyper: dict) -> dict:
    """workflow/rules/common.smk ``model_hyper``."""
    if model == "rvae":
        return {**hyper, "rotation": True, "translation": True}
    return {**hyper, "rotation": False, "translation": False, "ring_weight": 0.0, "ring_reconstruction": 0.0}


def fit_probed(x, settings: dict, epochs: int, seed: int):
    """One start (``restarts`` 1, generator seeded ``seed``), trained as :func:`fit` trains it, stopped
    at the end of the warm-up to measure what a choice between starts could read there.

    A run with ``restarts`` k and seed s trains start i exactly as a one-start run seeded s + i
    (``train.start_seed``), so one-start runs over consecutive seeds let every choice rule and
    every k be scored afterwards. The probe: the last warm-up epoch's training terms, ``fit``'s
    criterion (``objective``: ``train.selection_loss``) and the ring spectra's reconstruction loss
    per patch from the posterior means of z. Training then resumes from the checkpoint (same weights, optimiser
    and generator state), so the run is the uninterrupted one.
    """
    settings = {**settings, "restarts": 1}
    trial = selection_epochs(settings, epochs)
    with tempfile.TemporaryDirectory(prefix="corpus_rvae_probe_") as folder:
        model, history = fit(x, settings, epochs=trial, seed=seed, checkpoint_dir=folder)
        probe = {"epoch": trial, **{k: v for k, v in history[-1].items() if isinstance(v, float)},
                 "objective": selection_loss(model, x, settings, history[-1])}
        if model.ring_decoder is not None:
            probe["ring_loss"] = ring_spectrum_loss(model, x) / len(x)
        model, history = fit(x, settings, epochs=epochs, seed=seed, checkpoint_dir=folder)
    return model, history, probe


def train_and_score(patches: xr.Dataset, model_name: str, hyper: dict, epochs: int, seed: int, augment: bool,
                    probe_starts: bool = False) -> dict:
    """The ``trained`` and ``scores`` fixtures of tests/test_rvae_scores.py for one model."""
    images = patches["image"].values
    x, scale = training_set(images, augment)
    settings = model_hyper(model_name, hyper)
    if settings.get("noise_std") is None:
        settings["noise_std"] = estimate_noise_std(x[: len(images)])
    t0 = time.perf_counter()
    probe = None
    if probe_starts:
        model, history, probe = fit_probed(x, settings, epochs, seed)
    else:
        model, history = fit(x, settings, epochs=epochs, seed=seed)
    train_s = time.perf_counter() - t0
    scaled = images / scale
    latents = encode(model, scaled)
    table = {"z_mean": latents["z"], "z_std": latents["z_std"], "true_class": patches["true_class"].values,
             "true_sublattice": patches["true_sublattice"].values}
    if "theta_deg" in latents:
        table["theta_deg"] = latents["theta_deg"]
    scores = score_against_truth(model, scaled, table)
    scores["train_s"] = train_s
    scores["final_loss"] = float(history[-1]["total"]) if history and "total" in history[-1] else None
    scores["history"] = history
    if probe is not None:
        scores["warmup_probe"] = probe
    return scores


def both(sep: dict):
    """The lower of the best single-latent AUC and the logistic AUC (the target needs both)."""
    values = [v for v in (sep["best_single_auc"], sep["logistic_auc"]) if v is not None]
    return min(values) if values else None


def summary_row(case: str, model: str, s: dict) -> dict:
    return {
        "case": case, "model": model, "n": s["n_patches"], "n_defect": s["defect_vs_c"]["n_positive"],
        "n_si": s["si_vs_c"]["n_positive"],
        "si_auc": both(s["si_vs_c"]), "si_single": s["si_vs_c"]["best_single_auc"], "si_logistic": s["si_vs_c"]["logistic_auc"],
        "sublattice": s["sublattice"],
        "defect_auc": both(s["defect_vs_c"]), "defect_single": s["defect_vs_c"]["best_single_auc"],
        "defect_logistic": s["defect_vs_c"]["logistic_auc"],
        "rotation_ratio": s["rotation_90"]["ratio"], "collapsed": int(sum(not a for a in s["collapse"]["active"])),
        "kl_per_latent": s["collapse"]["kl_per_latent"], "train_s": s["train_s"],
    }


def fmt(v, spec=".3f"):
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


HEADER = (f"{'case':<16} {'model':<5} {'n':>5} {'n_def':>5} {'Si AUC':>7} {'sublat':>7} {'def AUC':>7} "
          f"{'(single/logit)':>14} {'rot':>6} {'coll':>4} {'train s':>7}")


def print_row(r: dict) -> None:
    print(f"{r['case']:<16} {r['model']:<5} {r['n']:>5} {r['n_defect']:>5} {fmt(r['si_auc']):>7} "
          f"{fmt(r['sublattice']):>7} {fmt(r['defect_auc']):>7} "
          f"{fmt(r['defect_single'], '.2f') + '/' + fmt(r['defect_logistic'], '.2f'):>14} "
          f"{fmt(r['rotation_ratio']):>6} {r['collapsed']:>4} {r['train_s']:>7.0f}", flush=True)


def mean_std(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{np.mean(values):.3f}±{np.std(values, ddof=1) if len(values) > 1 else 0.0:.3f}"


def print_summary(rows: list[dict]) -> None:
    groups = {}
    for r in rows:
        if r["case"].startswith("graphene_"):
            dose = r["case"].rsplit("_", 1)[1]
            groups.setdefault((dose, r["model"]), []).append(r)
    if not groups:
        return
    print("\nmean ± std (ddof 1) over the graphene seeds, per dose and model:")
    print(f"{'dose':<5} {'model':<5} {'k':>2} {'Si AUC':>13} {'sublattice':>13} {'defect AUC':>13} "
          f"{'rot ratio':>13} {'collapsed':>9} {'train s':>9}")
    for (dose, model), rs in sorted(groups.items()):
        print(f"{dose:<5} {model:<5} {len(rs):>2} {mean_std([r['si_auc'] for r in rs]):>13} "
              f"{mean_std([r['sublattice'] for r in rs]):>13} {mean_std([r['defect_auc'] for r in rs]):>13} "
              f"{mean_std([r['rotation_ratio'] for r in rs]):>13} {sum(r['collapsed'] > 0 for r in rs):>9} "
              f"{np.mean([r['train_s'] for r in rs]):>9.0f}")
    print(f"targets: Si AUC >= {TARGETS['si_vs_c_auc']}, sublattice >= {TARGETS['sublattice']}, "
          f"defect AUC >= {TARGETS['defect_vs_c_auc']}, rotation ratio <= {TARGETS['rotation_ratio']}, no collapsed latent")


def parse_value(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def main() -> None:
    warnings.filterwarnings("ignore", message="Consolidated metadata")  # zarr v3 chatter
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=GRAPHENE, help="corpus store names or 'demo'")
    parser.add_argument("--models", nargs="+", default=None, choices=["rvae", "vae"])
    parser.add_argument("--epochs", type=int, default=None, help="default: config rvae.epochs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override rvae.hyper KEY (or patches window_factor / patch_px)")
    parser.add_argument("--seed", type=int, default=None, help="training seed; default: config rvae.seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="write every row (and the full scores) here")
    parser.add_argument("--cache", type=Path, default=None, help="keep and reuse each case's patches here")
    parser.add_argument("--probe-starts", action="store_true",
                        help="one start per run (restarts 1), probed at the end of its warm-up (see fit_probed)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config = load_config()
    hyper = dict(config["rvae"]["hyper"])
    patch_settings = {k: config["patches"][k] for k in PATCH_KEYS}
    for item in args.set:
        key, _, value = item.partition("=")
        if key in PATCH_KEYS:
            patch_settings[key] = parse_value(value)
        else:
            hyper[key] = parse_value(value)
    epochs = args.epochs or config["rvae"]["epochs"]
    models = args.models or config["models"]
    seed = config["rvae"]["seed"] if args.seed is None else args.seed
    print(f"torch {torch.__version__}, {args.threads} thread(s); epochs {epochs}, seed {seed}, "
          f"augment_rot90 {config['rvae']['augment_rot90']}; patches {patch_settings}; hyper {hyper}", flush=True)

    rows, full = [], []
    for case in args.cases:
        key = f"{case}_wf{patch_settings['window_factor']}_p{patch_settings['patch_px']}"
        if args.cache and (args.cache / key / "patches.zarr" / ".done").exists():
            patches = xr.open_zarr(args.cache / key / "patches.zarr").load()
            info = json.loads((args.cache / key / "info.json").read_text())
        else:
            folder = Path(tempfile.mkdtemp(prefix=f"corpus_rvae_{case}_"))
            patches, info = patches_of(case, folder, patch_settings["window_factor"], patch_settings["patch_px"], config)
            if args.cache:
                target = args.cache / key
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir(parents=True)
                shutil.copytree(folder / "patches.zarr", target / "patches.zarr")
                (target / "info.json").write_text(json.dumps(info))
                (target / "patches.zarr" / ".done").touch()
            shutil.rmtree(folder, ignore_errors=True)
        print(f"{case}: spacing {info['spacing_px']:.2f} px, window {info['window_px']:.1f} px; "
              f"{info['n_atoms']} atoms found, {info['matched']} of {info['n_true']} true atoms matched; "
              f"prepared in {info['prep_s']:.0f} s", flush=True)
        for model_name in models:
            scores = train_and_score(patches, model_name, hyper, epochs, seed,
                                     config["rvae"]["augment_rot90"], args.probe_starts)
            row = summary_row(case, model_name, scores)
            if not rows:
                print(HEADER)
            print_row(row)
            rows.append(row)
            full.append({"case": case, "model": model_name, "info": info, "scores": scores})
            if args.json:
                args.json.write_text(json.dumps({"hyper": hyper, "patches": patch_settings, "epochs": epochs, "seed": seed,
                                                 "rows": rows, "full": full}, indent=1, default=float))
    print()
    print(HEADER)
    for r in rows:
        print_row(r)
    print_summary(rows)


if __name__ == "__main__":
    main()

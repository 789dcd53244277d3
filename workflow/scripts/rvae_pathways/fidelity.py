"""Atom finding scored on data this project did not make: the abTEM physics corpus.

Each case of ``tests/data/corpus`` (see its README) is a frames store whose truth lists every
atom (or column) per frame. :func:`score_case` finds the atoms of every frame with the
library's finder, from the frames as recorded (counts, normalised like the workflow does),
deciding the contrast from the data unless told, and compares them with the truth:

- detection: a found atom matches a true one within ``tolerance_nm`` (0.03 nm = 0.3 A), one to
  one; atoms closer than ``margin_spacings`` spacings to the border are not scored;
- precision inside the particle (the nanoparticle case: found atoms on the ``true_particle``
  mask), where the support around it holds no columns to find;
- the lattice check of every frame (:mod:`rvae_pathways.atom_qc`);
- speed in megapixels per second (finding only).

Only scoring reads the truth; the finder never sees it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import xarray as xr

from .align import normalise_intensity
from .atom_qc import check_frame, summarise
from .atoms import find_atoms, resolve_contrast, spacing_in_pixels
from .metrics import detection_counts, detection_scores, match_points

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "data" / "corpus"


def corpus_cases(folder=CORPUS) -> list[str]:
    """Names of the corpus stores in ``folder`` (without ``.zarr``), sorted."""
    return sorted(p.stem for p in Path(folder).glob("*.zarr"))


def score_case(path, finder: dict | None = None, contrast: str | None = None, tolerance_nm: float = 0.03,
               margin_spacings: float = 1.0, frames=None, crop=None, qc: bool = True) -> dict:
    """Find the atoms of one corpus case and score them against its truth.

    Parameters
    ----------
    path : path-like
        A corpus store (a frames Dataset with ``true_*`` variables and ``attrs["spacing_nm"]``).
    finder : dict, optional
        Keyword arguments of :func:`rvae_pathways.atoms.find_atoms` (the config's ``atoms``).
    contrast : {"bright", "dark"} or None
        None: decided from the first frame (the store's own ``attrs["contrast"]`` is only
        compared with the decision, in ``contrast_as_recorded``).
    tolerance_nm, margin_spacings : float
        Matching distance, and the border band left out of the scores.
    frames : sequence of int, optional
        The frames scored (all by default).
    crop : (slice, slice), optional
        A window of every frame (truth outside it is dropped, positions shifted): small crops
        keep tests fast.
    qc : bool
        Run the lattice check of every frame.

    Returns
    -------
    dict (JSON-ready): ``case``, ``contrast`` (the decision) and ``contrast_as_recorded``,
    ``spacing_px``, overall ``precision``, ``recall``, ``f1``, ``rmse_px``, ``tp``, ``fp``,
    ``fn``; ``particle_precision`` where the case has a ``true_particle`` mask; ``mpx_per_s``;
    ``frames``: per frame the same scores and the lattice check's ``verdict``; ``qc``: the
    check's summary.
    """
    ds = xr.open_zarr(path)
    pixel_nm = float(ds.attrs["pixel_size_nm"])
    spacing_px = spacing_in_pixels(float(ds.attrs["spacing_nm"]), pixel_nm)
    frames = range(ds.sizes["frame"]) if frames is None else frames
    crop = crop or (slice(None), slice(None))
    true_frame = ds["true_frame"].values
    truth_all = np.stack([ds["true_y"].values, ds["true_x"].values], axis=1).astype(float)
    finder = dict(finder or {})
    finder.pop("contrast", None)
    first = normalise_intensity(ds["image"][frames[0]].values[crop])
    decided = resolve_contrast(contrast, first, spacing_px)
    totals = {"tp": 0, "fp": 0, "fn": 0, "sq_errors": []}
    particle = {"tp": 0, "n": 0}
    per_frame, qc_frames, seconds, pixels = [], [], 0.0, 0
    for i in frames:
        image = normalise_intensity(ds["image"][i].values[crop])
        y0 = crop[0].start or 0
        x0 = crop[1].start or 0
        truth = truth_all[true_frame == i] - [y0, x0]
        t0 = time.perf_counter()
        found = find_atoms(image, spacing_px, contrast=decided, **finder)
        seconds += time.perf_counter() - t0
        pixels += image.size
        positions = np.stack([found["y"], found["x"]], axis=1).astype(float)
        counts = detection_counts(positions, truth, tolerance_nm / pixel_nm, image.shape, margin_spacings * spacing_px)
        for key in ("tp", "fp", "fn"):
            totals[key] += counts[key]
        totals["sq_errors"].append(counts["sq_errors"])
        row = {"frame": int(i), **{k: v for k, v in detection_scores(**counts).items()}}
        if "true_particle" in ds:
            mask = ds["true_particle"][i].values[crop] if ds["true_particle"].ndim == 3 else ds["true_particle"].values[crop]
            iy = np.clip(np.rint(positions[:, 0]).astype(int), 0, image.shape[0] - 1)
            ix = np.clip(np.rint(positions[:, 1]).astype(int), 0, image.shape[1] - 1)
            on_particle = mask[iy, ix]
            matched = np.zeros(len(positions), bool)
            matched[match_points(positions, truth, tolerance_nm / pixel_nm)[0]] = True
            particle["tp"] += int((on_particle & matched).sum())
            particle["n"] += int(on_particle.sum())
        if qc:
            metrics, _ = check_frame(image, found["y"], found["x"], spacing_px, contrast=decided)
            metrics["frame"] = int(i)
            qc_frames.append(metrics)
            row["verdict"] = metrics["verdict"]
        per_frame.append(row)
    sq = np.concatenate(totals.pop("sq_errors")) if per_frame else np.zeros(0)
    scores = detection_scores(**totals, sq_errors=sq)
    out = {
        "case": Path(path).stem,
        "contrast": decided,
        "contrast_as_recorded": ds.attrs.get("contrast"),
        "spacing_px": float(spacing_px),
        **scores,
        "mpx_per_s": pixels / seconds / 1e6 if seconds > 0 else float("nan"),
        "frames": per_frame,
    }
    if particle["n"] or "true_particle" in ds:
        out["particle_precision"] = particle["tp"] / particle["n"] if particle["n"] else float("nan")
    if qc:
        out["qc"] = summarise(qc_frames)
        out["qc_frames"] = qc_frames
    return out

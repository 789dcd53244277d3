"""Atom finding scored on data this project did not make: the abTEM physics corpus.

Each case of ``tests/data/corpus`` (see its README) is a frames store whose truth lists every
atom (or column) per frame. :func:`score_case` finds the atoms of every frame with the
library's finder, from the frames as recorded (counts, normalised like the workflow does),
deciding the contrast from the data unless told, and compares them with the truth:

- detection: a found atom matches a true one within ``tolerance_nm`` (0.03 nm = 0.3 A), one to
  one; atoms closer than ``margin_spacings`` spacings to the border are not scored;
- precision inside the particle (the nanoparticle case: found atoms on the ``true_particle``
  mask), where the support around it holds no columns to find;
- the lattice check of every frame (:mod:`rvae_pathways.stem.qc`);
- speed in megapixels per second (finding only).

Only scoring reads the truth; the finder never sees it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import xarray as xr

from ..core.config import defaults
from ..core.geometry import SampleGeometry, match_points
from ..stem.align import normalise_intensity
from ..stem.atoms import find_atoms, resolve_contrast
from ..stem.qc import check_frame
from ..stem.qc_verdicts import summarise
from .atoms import detection_counts, detection_scores

SCORE = defaults("score")  # keyword defaults: the config schema's
CORPUS = Path(__file__).resolve().parents[4] / "tests" / "data" / "corpus"


def corpus_cases(folder=CORPUS) -> list[str]:
    """Names of the corpus stores in ``folder`` (without ``.zarr``), sorted."""
    return sorted(p.stem for p in Path(folder).glob("*.zarr"))


def score_case(path, finder: dict | None = None, contrast: str | None = None,
               tolerance_nm: float = SCORE["tolerance_nm"], margin_spacings: float = SCORE["margin_spacings"], frames=None, qc: bool = True, locate=None) -> dict:
    """Find the atoms of one corpus case and score them against its truth.

    Parameters
    ----------
    path : path-like
        A corpus store (a frames Dataset with ``true_*`` variables and ``attrs["spacing_nm"]``).
    finder : dict, optional
        Keyword arguments of :func:`rvae_pathways.stem.atoms.find_atoms` (the config's ``atoms``).
    contrast : {"bright", "dark"} or None
        None: decided from the first frame (the store's own ``attrs["contrast"]`` is only
        compared with the decision, in ``contrast_as_recorded``).
    tolerance_nm, margin_spacings : float
        Matching distance, and the border band left out of the scores.
    frames : sequence of int, optional
        The frames scored (all by default); a few frames keep tests fast.
    qc : bool
        Run the lattice check of every frame.
    locate : callable, optional
        Another finder to score instead of ours (``bench/fidelity.py`` passes atomap's):
        ``locate(image, spacing_px, contrast)`` returns (n, 2) positions (y, x) in px.

    Returns
    -------
    dict (JSON-ready): ``case``, ``contrast`` (the decision) and ``contrast_as_recorded``,
    ``spacing_px``, overall ``precision``, ``recall``, ``f1``, ``rmse_px``, ``tp``, ``fp``,
    ``fn``; ``particle_precision`` where the case has a ``true_particle`` mask; ``mpx_per_s``
    (finding only); ``frames``: per frame the same scores and the lattice check's ``verdict``;
    ``qc``: the check's summary.
    """
    ds = xr.open_zarr(path)
    pixel_nm = float(ds.attrs["pixel_size_nm"])
    spacing_px = SampleGeometry(pixel_nm, float(ds.attrs["spacing_nm"])).spacing_px
    tolerance_px = tolerance_nm / pixel_nm
    frames = range(ds.sizes["frame"]) if frames is None else frames
    true_frame = ds["true_frame"].values
    truth_all = np.stack([ds["true_y"].values, ds["true_x"].values], axis=1).astype(float)
    finder = {k: v for k, v in (finder or {}).items() if k != "contrast"}
    if locate is None:
        def locate(image, spacing, contrast):
            found = find_atoms(image, spacing, contrast=contrast, **finder)
            return np.stack([found["y"], found["x"]], axis=1).astype(float)

    decided = resolve_contrast(contrast, normalise_intensity(ds["image"][frames[0]].values), spacing_px)
    totals = {"tp": 0, "fp": 0, "fn": 0}
    squares, per_frame, qc_frames = [], [], []
    particle = {"tp": 0, "n": 0}
    seconds, pixels = 0.0, 0
    for i in frames:
        image = normalise_intensity(ds["image"][i].values)
        truth = truth_all[true_frame == i]
        t0 = time.perf_counter()
        positions = locate(image, spacing_px, decided)
        seconds += time.perf_counter() - t0
        pixels += image.size
        counts = detection_counts(positions, truth, tolerance_px, image.shape, margin_spacings * spacing_px)
        for key in totals:
            totals[key] += counts[key]
        squares.append(counts["sq_errors"])
        row = {"frame": int(i), **detection_scores(**counts)}
        if "true_particle" in ds:
            iy = np.clip(np.rint(positions[:, 0]).astype(int), 0, image.shape[0] - 1)
            ix = np.clip(np.rint(positions[:, 1]).astype(int), 0, image.shape[1] - 1)
            on_particle = ds["true_particle"][i].values[iy, ix]
            matched = np.zeros(len(positions), bool)
            matched[match_points(positions, truth, tolerance_px)[0]] = True
            particle["tp"] += int((on_particle & matched).sum())
            particle["n"] += int(on_particle.sum())
        if qc:
            metrics, _ = check_frame(image, positions[:, 0], positions[:, 1], spacing_px, contrast=decided)
            metrics["frame"] = int(i)
            qc_frames.append(metrics)
            row["verdict"] = metrics["verdict"]
        per_frame.append(row)
    out = {
        "case": Path(path).stem,
        "contrast": decided,
        "contrast_as_recorded": ds.attrs.get("contrast"),
        "spacing_px": float(spacing_px),
        **detection_scores(**totals, sq_errors=np.concatenate(squares) if squares else np.zeros(0)),
        "mpx_per_s": pixels / seconds / 1e6 if seconds > 0 else float("nan"),
        "frames": per_frame,
    }
    if "true_particle" in ds:
        out["particle_precision"] = particle["tp"] / particle["n"] if particle["n"] else float("nan")
    if qc:
        out["qc"] = summarise(qc_frames)
        out["qc_frames"] = qc_frames
    return out

"""The movies of a group compared in the latent space they share.

The movies of a group are encoded by one model (``results/groups/<group>/<model>/model.pt``), so
their latents are comparable, but each movie's own analysis (``kinetics.json``) fits classes of
its own: its class 3 and another movie's class 3 need not be one structure. The comparison
therefore cuts the shared latent space once for the whole group:

1. ``units.fit_units``: one Gaussian mixture (``fit_classes``, the workflow's settings: BIC,
   classes apart by coordination) on the latents of all movies, at most :data:`FIT_ROWS` rows
   in all, spread evenly over the movies (:func:`fit_rows`, drawn with the seed), so every movie
   speaks, a long movie does not drown the others and 1,000 movies fit as fast as 20; the
   classes merged into structural units by their overlap (``merge_classes``,
   ``pathways.unit_overlap``).
2. :func:`assign_classes`: every observation of every movie gets the class of highest posterior
   under that mixture (within its coordination group), hence a shared unit.
3. :func:`movie_comparison`, per movie: each content latent's distribution on common bins
   (:func:`latent_edges`, :func:`latent_density`), each unit's share (per frame and on average),
   the Markov model of the units along the tracks (leaving probability per frame with its 95 %
   interval, per second and per dose), and persistent unit changes (``find_events`` on the
   units) as a Poisson rate per frame, per second and per dose.
4. :func:`comparison_axis`: what the movies are compared against: the dose per frame where every
   movie has one and they differ, else the frame time, else the movies' order.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError
from .kinetics import class_fractions, find_events, physical_rates
from .rates import markov_model, poisson_rate
from .units import unit_labels

# Rows the shared mixture is fitted on, in all: FIT_ROWS // n_movies of each movie (all of a shorter one).
FIT_ROWS = 100_000
LATENT_BINS = 40
AXES = {
    "dose_e_per_A2_per_frame": "dose per frame (e-/A^2)",
    "frame_time_s": "frame time (s)",
    "movie": "movie",
}


def fit_rows(n: int, seed: int, n_movies: int = 1, total: int = FIT_ROWS) -> np.ndarray:
    """The rows of a movie of ``n`` observations the shared mixture is fitted on: all of them, or
    ``total // n_movies`` (at least 100) drawn without replacement (sorted), reproducibly from ``seed``."""
    cap = max(total // max(int(n_movies), 1), 100)
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


def assign_classes(z, info: dict, groups=None) -> np.ndarray:
    """The class of highest posterior of every row of ``z`` under the mixture ``info`` describes
    (``fit_classes``' info: ``weights``, ``means``, ``covariances``, ``group``), among the classes
    of the row's coordination group (``groups``; None: every class)."""
    z = np.asarray(z, dtype=float).reshape(len(z), -1)
    means = np.asarray(info["means"], float)
    covs = np.asarray(info["covariances"], float)
    weights = np.asarray(info["weights"], float)
    score = np.empty((len(z), len(means)))
    for c, (mean, cov, w) in enumerate(zip(means, covs, weights)):
        d = z - mean
        _, logdet = np.linalg.slogdet(cov)
        score[:, c] = np.log(max(w, 1e-300)) - 0.5 * (logdet + np.einsum("ij,ij->i", d @ np.linalg.inv(cov), d))
    if groups is not None and any(g is not None for g in info["group"]):
        class_group = np.array([-1 if g is None else g for g in info["group"]])
        groups = np.asarray(groups)
        allowed = class_group[None, :] == groups[:, None]
        orphan = ~allowed.any(axis=1)  # a group without classes of its own: every class
        allowed[orphan] = True
        score = np.where(allowed, score, -np.inf)
    return np.argmax(score, axis=1)


def latent_edges(low, high, bins: int = LATENT_BINS) -> list[np.ndarray]:
    """Common bins of every content latent: ``bins`` bins from the lowest ``low`` to the highest
    ``high`` over the movies (each an (n_movies, n_latent) array, e.g. the 0.5th and 99.5th
    percentiles of every movie)."""
    low, high = np.atleast_2d(low).min(axis=0), np.atleast_2d(high).max(axis=0)
    return [np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1) for lo, hi in zip(low, high)]


def latent_density(z, edges) -> list[list[float]]:
    """Per content latent, the density of ``z`` (n, k) on its bins (integrates to the share of
    rows inside the bins)."""
    z = np.asarray(z, dtype=float).reshape(len(z), -1) if len(z) else np.zeros((0, len(edges)))
    out = []
    for column, e in zip(z.T, edges):
        counts, _ = np.histogram(column, bins=e)
        out.append((counts / max(len(column), 1) / np.diff(e)).tolist())
    return out


def _unit_events(units, track, frame, y, x, *, min_persist, swap_radius_px, elapsed, acq) -> dict:
    """Persistent unit changes along tracks as a Poisson rate per frame (and per second, per dose)."""
    events = find_events(units, track, frame, y, x, min_persist=min_persist, swap_radius_px=swap_radius_px)
    if elapsed <= 0:
        return {"n_events": int(len(events)), "per_frame": None, "per_second": None, "per_dose": None}
    rate = poisson_rate(len(events), elapsed)
    scaled = {key: physical_rates(rate[key], **acq) for key in ("estimate", "low", "high")}
    return {"n_events": int(len(events)), "elapsed_frames": float(elapsed),
            **{unit: None if scaled["estimate"][unit] is None else {key: scaled[key][unit] for key in scaled}
               for unit in ("per_frame", "per_second", "per_dose")}}


def movie_comparison(movie: dict, info: dict, unit_of_class, edges, names, *, min_persist: int,
                     swap_radius_px) -> dict:
    """One movie in the group's classes and units.

    ``movie``: ``z`` (n, k), ``groups`` (coordination group per row, or None), ``track``,
    ``frame`` (frame index per row), ``source_frame`` (each frame's number in the file),
    ``y``, ``x``, ``n_frames``, ``acq`` (``frame_time_s``, ``dose_e_per_A2_per_frame``).
    Returns its latent densities, unit fractions, Markov model and event rate (JSON-ready).
    """
    z, frame = np.asarray(movie["z"], float), np.asarray(movie["frame"])
    if len(z) == 0:
        raise InputError("the movie has no latents to compare")
    labels = assign_classes(z, info, movie.get("groups"))
    units = unit_labels(labels, np.asarray(unit_of_class))
    n_units, n_frames = len(names), int(movie["n_frames"])
    recorded = np.asarray(movie["source_frame"])[frame]
    fractions = class_fractions(units, frame, n_frames, n_units)
    markov = markov_model(units, movie["track"], recorded, n_units, names, **movie["acq"])
    elapsed = float(np.ptp(movie["source_frame"])) if len(movie["source_frame"]) else 0.0
    return {
        **movie["acq"], "n_frames": n_frames, "n_observations": int(len(z)),
        "atoms_per_frame": float(len(z) / n_frames),
        "latent_mean": z.mean(axis=0).tolist(), "latent_std": z.std(axis=0).tolist(),
        "latent_density": latent_density(z, edges),
        "unit_fraction": np.nan_to_num(np.nanmean(fractions, axis=0)).tolist(),
        "unit_fraction_per_frame": [[None if not np.isfinite(v) else float(v) for v in row] for row in fractions],
        "leave": {key: markov[key] if key == "leave" else (markov[key] or {}).get("leave")
                  for key in ("leave", "per_second", "per_dose")},
        "events": _unit_events(units, movie["track"], recorded, movie["y"], movie["x"], min_persist=min_persist,
                               swap_radius_px=swap_radius_px, elapsed=elapsed, acq=movie["acq"]),
    }


def comparison_axis(acquisitions: list[dict], names: list[str]) -> dict:
    """What the movies are compared against: ``name`` (a key of :data:`AXES`), ``label`` and
    ``values``: the dose per frame where every movie has one and they differ, else the frame
    time (same rule), else the movies' order (0, 1, ...; ``ticks`` their names)."""
    for key in ("dose_e_per_A2_per_frame", "frame_time_s"):
        values = [a.get(key) for a in acquisitions]
        if all(v is not None for v in values) and len(set(values)) > 1:
            return {"name": key, "label": AXES[key], "values": [float(v) for v in values]}
    return {"name": "movie", "label": AXES["movie"], "values": list(range(len(names))), "ticks": list(names)}

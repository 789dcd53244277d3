"""Rule compare_group: the movies of a group in their shared latent space (comparison.json): latent
distributions per movie, one set of classes and structural units for the group, each movie's unit
fractions, leaving rates and persistent unit changes, against dose or frame time.

The movies are read one at a time, twice: once for the rows the shared mixture is fitted on
(FIT_ROWS in all, spread evenly over the movies) and the latents' ranges, once for each movie's
comparison.
"""

import json

import numpy as np
import xarray as xr

from rvae_pathways.core.frames import acquisition, source_frames
from rvae_pathways.core.runner import run
from rvae_pathways.pathways.groups import FIT_ROWS, comparison_axis, fit_rows, latent_edges, movie_comparison
from rvae_pathways.pathways.kinetics import coordination_groups
from rvae_pathways.pathways.units import fit_units


def read_movie(inputs, i: int, split: bool) -> dict:
    """The arrays of movie ``i`` the comparison needs, one row per patch (observation)."""
    latents = xr.open_zarr(inputs.latents[i])
    atom = latents["atom"].values
    tracks = xr.open_zarr(inputs.tracks[i])
    frames = xr.open_zarr(inputs.frames[i])
    source_frame = source_frames(frames)
    neighbours = xr.open_zarr(inputs.atoms[i])["neighbours"].values[atom] if split else None
    return {
        "z": latents["z_mean"].values, "frame": latents["frame"].values, "y": latents["y"].values,
        "x": latents["x"].values, "track": tracks["track"].values[atom], "n_frames": int(tracks.attrs["n_frames"]),
        "spacing_px": float(tracks.attrs["spacing_px"]), "source_frame": source_frame,
        "groups": None if neighbours is None else coordination_groups(neighbours), "acq": acquisition(frames.attrs),
    }


def own_analysis(path) -> dict:
    """What the movie's own analysis (its classes) says: classes, events and their rate."""
    with open(path) as f:
        kinetics = json.load(f)
    own = {"n_classes": kinetics.get("n_classes"), "n_events": kinetics.get("n_events"),
           "events_rate": kinetics.get("rates", {}).get("events")}
    if "units" in kinetics:
        own["n_units"] = len(kinetics["units"].get("names", []))
    return own


def main(snakemake, log):
    params, inputs = snakemake.params, snakemake.input
    movies = list(params.movies)
    split = params.split_by_coordination
    z_fit, groups_fit, low, high = [], [], [], []
    for i, name in enumerate(movies):  # pass 1: the rows the mixture is fitted on, the latents' ranges
        movie = read_movie(inputs, i, split)
        rows = fit_rows(len(movie["z"]), params.seed + i, len(movies))
        z_fit.append(movie["z"][rows])
        groups_fit.append(None if movie["groups"] is None else movie["groups"][rows])
        low.append(np.percentile(movie["z"], 0.5, axis=0))
        high.append(np.percentile(movie["z"], 99.5, axis=0))
        log.info("%s: %d patches, %d of them fit the shared classes", name, len(movie["z"]), len(rows))
    _, info, unit_of_class, merge = fit_units(
        np.concatenate(z_fit), None if not split else np.concatenate(groups_fit), n_classes=params.n_classes,
        bic_range=params.bic_range, seed=params.seed, min_overlap=params.unit_overlap)
    names = [f"unit {u}" for u in range(int(unit_of_class.max()) + 1)]
    log.info("shared classes: %d (%s); units: %d (%s)", info["k"], info["chosen_by"], len(names),
             "; ".join(f"{n}: classes {m}" for n, m in zip(names, merge["members"])))
    edges = latent_edges(np.array(low), np.array(high))
    per_movie = []
    for i, name in enumerate(movies):  # pass 2: every movie in the shared classes and units
        movie = read_movie(inputs, i, split)
        swap_px = None if params.swap_radius_spacings is None else params.swap_radius_spacings * movie["spacing_px"]
        summary = movie_comparison(movie, info, unit_of_class, edges, names, min_persist=params.min_persist_frames,
                                   swap_radius_px=swap_px)
        per_movie.append({"sample": name, **summary, "own_analysis": own_analysis(inputs.kinetics[i])})
        log.info("%s: unit fractions %s; %d persistent unit changes", name,
                 " ".join(f"{v:.3f}" for v in summary["unit_fraction"]), summary["events"]["n_events"])
    axis = comparison_axis(per_movie, movies)
    comparison = {
        "group": snakemake.wildcards.group, "model": snakemake.wildcards.model, "movies": movies, "axis": axis,
        "latent_edges": [e.tolist() for e in edges],
        "classes": {**info, "fit_rows": FIT_ROWS, "rows_fitted": int(sum(map(len, z_fit)))},
        "units": {**merge, "names": names, "unit_of_class": unit_of_class.tolist()},
        "min_persist_frames": params.min_persist_frames, "per_movie": per_movie,
    }
    log.info("movies compared against %s: %s", axis["name"], axis["values"])
    with open(snakemake.output.comparison, "w") as f:
        json.dump(comparison, f, indent=1, default=float)


run(snakemake, main)  # noqa: F821

"""Rule analyse_pathways: latent trajectories per track, structural classes, kinetics, transitions, events."""

import json

import numpy as np
import xarray as xr

from rvae_pathways.core.frames import acquisition, source_frames
from rvae_pathways.core.runner import run
from rvae_pathways.pathways.kinetics import (RATE_UNITS, class_fractions, coordination_groups, find_events,
                                             physical_rates, transitions)
from rvae_pathways.pathways.rates import dwell_times, markov_model
from rvae_pathways.pathways.tracking import latent_trajectories
from rvae_pathways.pathways.units import fit_units, unit_labels


def rates_summary(steps, n_events, source_frame, acq):
    """Every rate of kinetics.json per frame, per second and per dose: class-to-class transitions
    (off the diagonal; staying is no rate) and events in the field of view."""
    per_frame = [[None if i == j else r for j, r in enumerate(row)] for i, row in enumerate(steps["rates"])]
    elapsed = int(source_frame[-1] - source_frame[0]) if len(source_frame) else 0
    return {
        **acq, "units": RATE_UNITS,
        "transitions": physical_rates(per_frame, **acq),
        "events": physical_rates(n_events / elapsed if elapsed else None, **acq),
    }


def units_summary(labels, unit_of_class, merge, track, frame, source_frame, n_frames, overlap, acq, log):
    """The structural units without a truth (Gaussian classes merged by overlap: ``fit_units``), their
    fractions per frame, Markov model with 95 % intervals and dwell times."""
    n_units = int(unit_of_class.max()) + 1
    units = unit_labels(labels, unit_of_class)
    names = [f"unit {u}" for u in range(n_units)]
    log.info("%d structural units from %d classes (overlap >= %s): %s", n_units, len(unit_of_class), overlap,
             "; ".join(f"{n}: classes {m}" for n, m in zip(names, merge["members"])))
    fractions = class_fractions(units, frame, n_frames, n_units)
    markov = markov_model(units, track, source_frame[frame], n_units, names, **acq)
    return {
        **merge, "names": names, "unit_of_class": unit_of_class.tolist(),
        "fractions": [[None if not np.isfinite(v) else float(v) for v in row] for row in fractions],
        "markov": markov, "dwell_times": dwell_times(units, track, source_frame[frame], n_units, names),
    }


def main(snakemake, log):
    params = snakemake.params
    tracks = xr.open_zarr(snakemake.input.tracks).load()
    latents = xr.open_zarr(snakemake.input.latents).load()
    n_frames = int(tracks.attrs["n_frames"])
    track = tracks["track"].values[latents["atom"].values]  # the track of every patch's atom
    frame, y, x = latents["frame"].values, latents["y"].values, latents["x"].values
    z = latents["z_mean"].values
    frames = xr.open_zarr(snakemake.input.frames)
    acq = acquisition(frames.attrs)
    # each frame's index in the file: rates count recorded frames, skipped ones included (prepare.skip_bad_frames)
    source_frame = source_frames(frames)

    groups = None
    if params.split_by_coordination:
        neighbours = xr.open_zarr(snakemake.input.atoms)["neighbours"].values
        groups = coordination_groups(neighbours[latents["atom"].values])
        log.info("classes fitted apart for %d lattice patches (3+ neighbours) and %d under-coordinated ones",
                 int((groups == 0).sum()), int((groups == 1).sum()))
    labels, info, unit_of_class, merge = fit_units(z, groups, n_classes=params.n_classes, bic_range=params.bic_range,
                                                   seed=params.seed, min_overlap=params.unit_overlap)
    k = int(info["k"])
    log.info("%d structural classes (%s); patches per class %s", k, info["chosen_by"], info["counts"])
    fractions = class_fractions(labels, frame, n_frames, k)
    steps = transitions(labels, track, source_frame[frame], k)
    swap_px = (None if params.swap_radius_spacings is None
               else params.swap_radius_spacings * tracks.attrs["spacing_px"])
    events = find_events(labels, track, frame, y, x, min_persist=params.min_persist_frames, swap_radius_px=swap_px,
                         latents=z)
    log.info("%d events (class changes that persist %d frames, or swaps within %s px: same classes traded, or "
             "opposite moves between class means)",
             len(events), params.min_persist_frames, swap_px)

    theta = latents["theta_deg"].values if "theta_deg" in latents else None
    trajectories = latent_trajectories(track, frame, n_frames, z, labels, theta, y, x)
    # the class of every patch, in the order of latents.zarr (dim "patch" is taken by the variable)
    trajectories["class_of_patch"] = ("patch_order", labels.astype(np.int16))
    trajectories.attrs.update(n_classes=k, model=latents.attrs.get("model", ""),
                              pixel_size_nm=tracks.attrs["pixel_size_nm"],
                              class_names=",".join(f"class {c}" for c in range(k)))
    trajectories.attrs.update({name: value for name, value in acq.items() if value is not None})
    trajectories.to_zarr(snakemake.output.trajectories, mode="w", consolidated=True)
    events.to_csv(snakemake.output.events, sep="\t", index=False)
    summary = {
        "n_classes": k, "classes": info, "n_frames": n_frames,
        "class_fractions": [[None if not np.isfinite(v) else float(v) for v in row] for row in fractions],
        "transitions": steps, "n_events": int(len(events)),
        "events_by_change": {f"{a}->{b}": int(n) for (a, b), n in
                             events.groupby(["from_class", "to_class"]).size().items()},
        "min_persist_frames": params.min_persist_frames, "swap_radius_px": swap_px,
        "source_frame": source_frame.tolist(), "skipped_frames": list(frames.attrs.get("skipped_frames", [])),
        "rates": rates_summary(steps, len(events), source_frame, acq),
        "units": units_summary(labels, unit_of_class, merge, track, frame, source_frame, n_frames, params.unit_overlap,
                               acq, log),
    }
    log.info("frame time %s s, dose %s e-/A^2 per frame (%s)", acq["frame_time_s"], acq["dose_e_per_A2_per_frame"],
             "rates per second and per dose in kinetics.json" if any(acq.values()) else "rates per frame only")
    with open(snakemake.output.kinetics, "w") as f:
        json.dump(summary, f, indent=2, default=float)


run(snakemake, main)  # noqa: F821

"""Rule track_atoms: link the atoms of consecutive frames into tracks and cache them as Zarr."""

import numpy as np
import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.core.geometry import SampleGeometry
from rvae_pathways.pathways.tracking import track_atoms


def main(snakemake, log):
    atoms = xr.open_zarr(snakemake.input.atoms).load()
    max_px = SampleGeometry(atoms.attrs["pixel_size_nm"]).px_from_angstrom(snakemake.params.max_displacement_a)
    gap = snakemake.params.max_gap_frames
    log.info("linking %d atoms in %d frames: at most %.3g A (%.2f px) between frames, gaps up to %d frames",
             atoms.sizes["atom"], atoms.attrs["n_frames"], snakemake.params.max_displacement_a, max_px, gap)
    track = track_atoms(atoms, max_px, gap)
    lengths = np.bincount(track)
    tracks = xr.Dataset(
        {"track": ("atom", track.astype(np.int32)), "frame": atoms["frame"], "y": atoms["y"], "x": atoms["x"],
         "y_aligned": atoms["y_aligned"], "x_aligned": atoms["x_aligned"],
         **{name: atoms[name] for name in ("true_id", "true_class") if name in atoms}},
        attrs={**atoms.attrs, "max_displacement_a": snakemake.params.max_displacement_a,
               "max_displacement_px": max_px, "max_gap_frames": gap, "n_tracks": int(len(lengths))},
    )
    tracks.to_zarr(snakemake.output.tracks, mode="w", consolidated=True)
    log.info("%d tracks; %d span the whole movie; median length %d frames",
             len(lengths), int(np.sum(lengths == atoms.attrs["n_frames"])), int(np.median(lengths)))


run(snakemake, main)  # noqa: F821

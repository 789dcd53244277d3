"""The atom tracks as one table in trackpy's conventions, with every model's class and latents.

One row per atom per frame: ``particle`` (the track id), ``frame`` (index), ``y``, ``x`` (px in
the frame, pixel ``i`` centred at ``i``), as trackpy's ``link`` writes them, so ``trackpy`` and
napari read the table as it is; then ``y_nm``, ``x_nm``, the drift-corrected ``y_aligned``,
``x_aligned`` (px), ``time_s`` where the frame time is known, and per model ``<model>_class``
(-1: the atom has no patch) and its latents ``<model>_z1`` ... (and ``<model>_theta_deg`` where
the model has a rotation latent), empty where the atom has no patch. Rows are sorted by
particle, then frame: each track is a block of rows in time order, as napari's tracks layer
takes them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .latent_maps import values_per_atom


def model_columns(model: str, n_atoms: int, latents, trajectories) -> dict[str, np.ndarray]:
    """One model's columns of the table, one value per atom (row of the atom table).

    Parameters
    ----------
    model : str
        The column prefix (``rvae``, ``vae``).
    n_atoms : int
    latents : xarray.Dataset
        ``latents.zarr``: ``z_mean`` (patch, latent), ``atom`` and, optionally, ``theta_deg`` per patch.
    trajectories : xarray.Dataset
        ``trajectories.zarr``: ``class_of_patch`` in the order of the latents' patches.
    """
    atom = np.asarray(latents["atom"].values, dtype=np.int64)
    z = np.asarray(latents["z_mean"].values, dtype=np.float32)
    labels = np.asarray(trajectories["class_of_patch"].values)
    if len(labels) != len(atom):
        raise ValueError(f"{model}: {len(labels)} classes for {len(atom)} patches")
    classes = np.full(int(n_atoms), -1, dtype=np.int16)
    classes[atom] = labels
    names = np.asarray(latents["latent"].values) if "latent" in latents.coords else np.arange(1, z.shape[1] + 1)
    per_atom = values_per_atom(n_atoms, atom, z)
    columns = {f"{model}_class": classes}
    columns.update({f"{model}_z{name}": per_atom[:, i] for i, name in enumerate(names)})
    if "theta_deg" in latents:
        columns[f"{model}_theta_deg"] = values_per_atom(n_atoms, atom, latents["theta_deg"].values)[:, 0]
    return columns


def tracks_table(tracks, models: dict, frame_time_s: float | None = None, source_frame=None) -> pd.DataFrame:
    """The table of every atom of every frame (see the module docstring).

    Parameters
    ----------
    tracks : xarray.Dataset
        ``tracks.zarr``: per atom ``track``, ``frame``, ``y``, ``x``, ``y_aligned``, ``x_aligned``,
        and ``attrs["pixel_size_nm"]`` (None: the nm columns are empty).
    models : dict
        Model name -> (latents, trajectories) Datasets, in column order.
    frame_time_s : float, optional
        Adds ``time_s``: the recorded frame's index times the frame time.
    source_frame : int array (frames,), optional
        Each frame's index in the recorded movie, where bad frames were dropped: adds the column
        ``source_frame`` (``frame`` stays the kept frames' 0..n-1, as every other output counts them).
    """
    n = tracks.sizes["atom"]
    pixel = tracks.attrs.get("pixel_size_nm")
    pixel = np.nan if pixel is None else float(pixel)
    y, x = np.asarray(tracks["y"].values), np.asarray(tracks["x"].values)
    columns = {
        "particle": np.asarray(tracks["track"].values, dtype=np.int64),
        "frame": np.asarray(tracks["frame"].values, dtype=np.int64),
        "y": y,
        "x": x,
        "y_nm": (y * pixel).astype(np.result_type(y.dtype, np.float32)),  # float32 px stay float32 in nm
        "x_nm": (x * pixel).astype(np.result_type(x.dtype, np.float32)),
        "y_aligned": np.asarray(tracks["y_aligned"].values),
        "x_aligned": np.asarray(tracks["x_aligned"].values),
    }
    recorded = columns["frame"] if source_frame is None else np.asarray(source_frame)[columns["frame"]]
    if source_frame is not None:  # frames were skipped: each row's frame number in the file, too
        columns["source_frame"] = recorded.astype(np.int64)
    if frame_time_s is not None:
        columns["time_s"] = recorded * float(frame_time_s)
    for model, (latents, trajectories) in models.items():
        columns.update(model_columns(model, n, latents, trajectories))
    table = pd.DataFrame(columns)
    return table.sort_values(["particle", "frame"], kind="stable").reset_index(drop=True)

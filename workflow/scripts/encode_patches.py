"""Rule encode_patches: posterior means and widths of every patch, next to its coordinates (and, for
PFM windows, the domain label ``domain``: the sign of the decoded response at the window's centre),
and the decoded latent manifold the figures draw.

The patches are read and encoded a block at a time, and the latents streamed to Zarr
(:func:`rvae_pathways.rvae.encode.encode_patch_store`): memory does not grow with the movie.
"""

import torch
import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.core.store import add_columns
from rvae_pathways.pfm.domains import domain_labels
from rvae_pathways.rvae.encode import encode_patch_store
from rvae_pathways.rvae.manifold import decode_centre, decode_manifold, manifold_axes
from rvae_pathways.rvae.train import load_model, pick_device
from rvae_pathways.stem.patches import PATCH_COLUMNS


def main(snakemake, log):
    torch.set_num_threads(snakemake.threads)
    model, hyper = load_model(snakemake.input.model, pick_device())
    patches = xr.open_zarr(snakemake.input.patches)
    attrs = {
        "model": snakemake.params.label,
        "units": "theta in degrees (counter-clockwise as displayed), dx/dy in patch pixels (right, down; "
        "a patch pixel is pixel_size_nm, sample_step_px frame pixels)",
        **{k: v for k, v in patches.attrs.items()
           if k in ("pixel_size_nm", "window_px", "patch_px", "sample_step_px", "true_class_names",
                    "frame_pixel_size_nm", "stride_px", "grid_rows", "grid_cols", "n_frames")},
    }
    columns = ("atom", "row", "col", *PATCH_COLUMNS)  # row, col: the PFM window grid
    n = encode_patch_store(model, patches, snakemake.output.latents, hyper["input_scale"], columns, attrs)
    log.info("encoded %d patches into %d content latents", n, model.n_latent)
    z = xr.open_zarr(snakemake.output.latents)["z_mean"].values
    # the decoded manifold the figures draw: a grid over the 2nd-98th percentiles of z_1 and z_2
    z1, z2 = manifold_axes(z, snakemake.params.manifold_size)
    manifold = xr.Dataset(
        {"image": (("z2", "z1", "py", "px"), decode_manifold(model, z1, z2, hyper["likelihood"]))},
        coords={"z1": z1, "z2": z2},
        attrs={"pixel_size_nm": attrs.get("pixel_size_nm"), "rows": "z_2 (row 0: its first value)",
               "columns": "z_1", "other_latents": "0", "rotation": "none", "shift": "none"},
    )
    manifold.to_zarr(snakemake.output.manifold, mode="w", consolidated=True)
    if snakemake.params.domains:  # PFM windows: up (+1) or down (-1), from the response drawn at the centre
        labels = domain_labels(decode_centre(model, z))
        add_columns(snakemake.output.latents, "patch", {"domain": labels})
        log.info("domains: %d windows up, %d down", int((labels == 1).sum()), int((labels == -1).sum()))


run(snakemake, main)  # noqa: F821

"""Rule encode_patches: posterior means and widths of every patch, next to its coordinates."""

import numpy as np
import torch
import xarray as xr

from rvae_pathways.encode import encode
from rvae_pathways.patches import PATCH_COLUMNS
from rvae_pathways.rule_runner import run
from rvae_pathways.train import load_model, pick_device


def main(snakemake, log):
    torch.set_num_threads(snakemake.threads)
    model, hyper = load_model(snakemake.input.model, pick_device())
    patches = xr.open_zarr(snakemake.input.patches)
    latents = encode(model, patches["image"].values / hyper["input_scale"])
    data = {
        "z_mean": (("patch", "latent"), latents["z"]),
        "z_std": (("patch", "latent"), latents["z_std"]),
    }
    for name, values in latents.items():
        if name not in ("z", "z_std"):
            data[name] = (("patch",), values)
    for name in ("atom", "row", "col", *PATCH_COLUMNS):  # row, col: the PFM window grid
        if name in patches:
            data[name] = (("patch",), patches[name].values)
    attrs = {
        "model": snakemake.params.label,
        "units": "theta in degrees (counter-clockwise as displayed), dx/dy in patch pixels (right, down; "
        "a patch pixel is pixel_size_nm, sample_step_px frame pixels)",
        **{k: v for k, v in patches.attrs.items()
           if k in ("pixel_size_nm", "window_px", "patch_px", "sample_step_px", "true_class_names",
                    "frame_pixel_size_nm", "stride_px", "grid_rows", "grid_cols", "n_frames")},
    }
    ds = xr.Dataset(data, coords={"latent": np.arange(1, latents["z"].shape[1] + 1)}, attrs=attrs)
    ds.to_zarr(snakemake.output.latents, mode="w", consolidated=True)
    log.info("encoded %d patches into %d content latents (%s)", ds.sizes["patch"], ds.sizes["latent"], ", ".join(latents))


run(snakemake, main)  # noqa: F821

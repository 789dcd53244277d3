"""Posterior means and standard deviations of a trained rVAE, in units for people.

:func:`encode` encodes an array of patches; :func:`encode_patch_store` encodes a patches store
a block at a time and streams the latents to Zarr, so memory holds one block whatever the
number of patches.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..core.errors import InputError
from .model import RVAE, pixels_per_grid_unit
from ..core.store import ZarrAppender
from .train import pick_device


@torch.no_grad()
def encode(model: RVAE, patches, batch_size: int = 1024, device=None) -> dict:
    """Encode patches into their posterior means and standard deviations (no sampling).

    Parameters
    ----------
    model : RVAE
    patches : array (N, n, n)
        Normalised like the training patches.
    batch_size : int
        Patches per forward pass.
    device : str or torch.device, optional
        Where to run; None: the model's device.

    Returns
    -------
    dict of float32 numpy arrays:

    - ``z``, ``z_std``: (N, k).
    - ``theta_deg``, ``theta_std_deg``: (N,), the object's rotation in degrees, positive
      counter-clockwise as displayed (image y down); present with ``model.rotation``. It is not
      wrapped: the encoder may return any real angle.
    - ``dx_px``, ``dy_px``, ``dx_std_px``, ``dy_std_px``: (N,), the object's displacement from
      the patch centre in pixels, x to the right, y down; present with ``model.translation``.
    """
    if device is not None:
        model = model.to(pick_device(device))
    device = next(model.parameters()).device
    x_all = torch.as_tensor(np.asarray(patches, dtype=np.float32))  # stays on the CPU; batches move
    if x_all.ndim != 3 or x_all.shape[1:] != (model.patch_size, model.patch_size):
        raise ValueError(f"patches of shape {tuple(x_all.shape)} do not fit a {model.patch_size} px model")
    model.eval()
    means, stds = [], []
    for start in range(0, x_all.shape[0], batch_size):
        mean, log_std = model.encoder(x_all[start : start + batch_size].to(device))
        means.append(mean.float().cpu())
        stds.append(log_std.float().exp().cpu())
    posterior = model.split(torch.cat(means), torch.cat(stds))  # name -> (mean, std)
    out = {"z": posterior["z"][0], "z_std": posterior["z"][1]}
    if model.rotation:
        out["theta_deg"] = posterior["theta"][0] * (180 / math.pi)
        out["theta_std_deg"] = posterior["theta"][1] * (180 / math.pi)
    if model.translation:
        px = pixels_per_grid_unit(model.patch_size)
        shift, shift_std = posterior["shift"]
        out.update(dx_px=shift[:, 0] * px, dy_px=shift[:, 1] * px)
        out.update(dx_std_px=shift_std[:, 0] * px, dy_std_px=shift_std[:, 1] * px)
    return {k: np.ascontiguousarray(v.numpy(), dtype=np.float32) for k, v in out.items()}


def encode_patch_store(model: RVAE, patches, path, input_scale: float, columns=(), attrs: dict | None = None,
                       batch_size: int = 1024, block_batches: int = 4, chunk_rows: int = 65536) -> int:
    """Encode every patch of a patches store and write the latents to Zarr, a block at a time.

    The patches are read ``block_batches * batch_size`` at a time, divided by ``input_scale``
    and encoded by :func:`encode`; the block is a whole number of batches, so every batch, and
    so every latent, is the same as encoding the whole array at once. The latents go to a
    :class:`~rvae_pathways.core.store.ZarrAppender`.

    Parameters
    ----------
    model : RVAE
    patches : xarray.Dataset
        A patches store (dims ``patch``, ``py``, ``px``), typically opened lazily with
        :func:`xarray.open_zarr`; ``image`` is read a block at a time.
    path : path-like
        The Zarr store written (dim ``patch``, in chunks of ``chunk_rows``): ``z_mean`` and
        ``z_std`` (patch, latent), with coordinate ``latent`` = 1..k; the other outputs of
        :func:`encode` (``theta_deg``, ``dx_px``, ...) per patch; and the ``columns`` of
        ``patches`` that it has, copied per patch.
    input_scale : float
        The patches are divided by it (the scaling the model was trained with).
    columns : sequence of str
        Per-patch variables of ``patches`` to copy (those it lacks are skipped).
    attrs : dict, optional
        Attributes of the store written.
    batch_size : int
        Patches per forward pass.
    block_batches : int
        Batches per block read.
    chunk_rows : int
        Rows per Zarr chunk of the output.

    Returns
    -------
    Number of patches encoded. Raises :class:`InputError` when the store holds none.
    """
    n = patches.sizes["patch"]
    if n == 0:
        raise InputError("the patches store holds no patches; nothing to encode")
    copied = [name for name in columns if name in patches]
    store = ZarrAppender(path, "patch", chunk_rows, attrs=attrs,
                         extra_dims={"z_mean": ("latent",), "z_std": ("latent",)},
                         coords={"latent": np.arange(1, model.n_latent + 1)})
    block = int(block_batches) * int(batch_size)
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        latents = encode(model, patches["image"][rows].values / input_scale, batch_size=batch_size)
        store.append(
            z_mean=latents.pop("z"), z_std=latents.pop("z_std"), **latents,
            **{name: patches[name][rows].values for name in copied},
        )
    return store.close()

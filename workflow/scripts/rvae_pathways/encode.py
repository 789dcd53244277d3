"""Posterior means and standard deviations of a trained rVAE, in units for people."""

from __future__ import annotations

import math

import numpy as np
import torch

from .model import RVAE, pixels_per_grid_unit
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

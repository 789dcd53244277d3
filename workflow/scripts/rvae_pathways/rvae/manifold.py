"""Decoded images on a grid of content latents: the latent manifold of the paper's figures."""

from __future__ import annotations

import numpy as np
import torch


def manifold_axes(z_mean: np.ndarray, size: int, low: float = 2.0, high: float = 98.0) -> tuple[np.ndarray, np.ndarray]:
    """Values of z_1 and z_2 spanning the encoded patches (``low``-``high`` percentiles), ``size`` each."""
    z_mean = np.asarray(z_mean, dtype=float)
    lo, hi = np.percentile(z_mean[:, :2], [low, high], axis=0)
    return np.linspace(lo[0], hi[0], size), np.linspace(lo[1], hi[1], size)


@torch.no_grad()
def decode_manifold(
    model, z1_values: np.ndarray, z2_values: np.ndarray, likelihood: str, other_z: np.ndarray | None = None
) -> np.ndarray:
    """Decode every (z_1, z_2) pair of a grid, with no rotation and no shift.

    Parameters
    ----------
    model : rvae_pathways.rvae.model.RVAE
    z1_values, z2_values : 1-D arrays
        Columns take z_1 from ``z1_values``; rows take z_2 from ``z2_values`` (row 0 is the
        first value).
    likelihood : {"gaussian", "bernoulli"}
        The model's likelihood (``hyper["likelihood"]`` of ``rvae_pathways.rvae.train.load_model``):
        Bernoulli decoders output logits, shown through a sigmoid.
    other_z : array (k - 2,), optional
        Values of the remaining content latents (default 0, the prior mean).

    Returns
    -------
    float32 array (len(z2_values), len(z1_values), n, n): images in the model's input scale
    (logits passed through a sigmoid for the Bernoulli likelihood).
    """
    model.eval()
    device = next(model.parameters()).device
    k = model.n_latent
    z2, z1 = np.meshgrid(z2_values, z1_values, indexing="ij")
    z = np.zeros((z1.size, k), dtype=np.float32)
    z[:, 0] = z1.ravel()
    if k > 1:
        z[:, 1] = z2.ravel()
    if k > 2 and other_z is not None:
        z[:, 2:] = other_z
    images = model.decode(torch.as_tensor(z, device=device)).float()
    if likelihood == "bernoulli":
        images = torch.sigmoid(images)
    images = images.cpu().numpy()
    return images.reshape(len(z2_values), len(z1_values), *images.shape[1:])


@torch.no_grad()
def decode_centre(model, z: np.ndarray, batch_size: int = 65536) -> np.ndarray:
    """The decoder's value at the centre of the patch (grid point (0, 0)) for every row of ``z`` (N, k).

    The centre is where rotation and (zero) shift leave a point in place, so the value does not
    depend on theta: for a PFM window it is the model's piezoresponse at the window's centre, in
    the model's input scale (a logit for the Bernoulli likelihood).
    """
    model.eval()
    device = next(model.parameters()).device
    z = torch.as_tensor(np.asarray(z, dtype=np.float32), device=device)
    values = []
    for start in range(0, len(z), batch_size):
        chunk = z[start:start + batch_size]
        centre = torch.zeros(len(chunk), 1, 2, device=device, dtype=chunk.dtype)
        values.append(model.decoder(centre, chunk)[:, 0].float().cpu())
    return torch.cat(values).numpy() if values else np.zeros(0, dtype=np.float32)

"""The rVAE's loss: the negative ELBO, its terms, and the priors they are taken against.

Per patch, ``-ELBO = reconstruction + kl_z + kl_theta + kl_shift``: ``-log p(x | x_hat)``
(:func:`reconstruction_loss`) and the KL divergences of the posterior from its priors
(:func:`kl_terms`). :func:`negative_elbo` is the one place the terms are summed, also with the
orientation warm-up's weight on ``kl_z``; training takes the reconstruction slice by slice and
the KL terms once per batch (``rvae_pathways.rvae.epoch.batch_backward``), evaluation both at once
(:func:`elbo_terms`).

Every function here takes the priors and the likelihood explicitly; their defaults are the
config schema's (``rvae.hyper``), resolved by ``rvae_pathways.rvae.train.resolve_hyper`` and
passed on as ``train.priors_of(hyper)`` and ``hyper["likelihood"]``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from .kernels import at_least_fp32

TERMS = ("total", "reconstruction", "kl_z", "kl_theta", "kl_shift")
SUMMED_TERMS = TERMS[1:]  # summed over patches; "total" is their sum (negative_elbo)
PRIOR_KEYS = ("rotation_prior_rad", "translation_prior", "noise_std")  # the ``priors`` dict of elbo_loss


def kl_normal(mean: Tensor, log_std: Tensor, prior_std: float) -> Tensor:
    """KL( N(mean, exp(log_std)^2) || N(0, prior_std^2) ), elementwise.

    ``log(prior_std) - log_std + (exp(2 log_std) + mean^2) / (2 prior_std^2) - 1/2``
    """
    return math.log(prior_std) - log_std + (torch.exp(2 * log_std) + mean**2) / (2 * prior_std**2) - 0.5


def reconstruction_loss(x: Tensor, reconstruction: Tensor, likelihood: str, noise_std: float | None) -> Tensor:
    """``-log p(x | x_hat)`` summed over patches and pixels, up to a constant (see :func:`elbo_loss`);
    ``noise_std`` is read by the Gaussian likelihood only."""
    x, reconstruction = at_least_fp32(x), at_least_fp32(reconstruction)
    if likelihood == "gaussian":
        return ((x - reconstruction) ** 2).sum() / (2 * noise_std**2)
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(reconstruction, x.clamp(0, 1), reduction="sum")
    raise ValueError(f"unknown likelihood {likelihood!r}; choose 'gaussian' or 'bernoulli'")


def kl_terms(posterior: dict, priors: dict) -> dict:
    """``kl_z``, ``kl_theta`` and ``kl_shift`` summed over patches (see :func:`elbo_loss`)."""
    z_mean, z_log_std = posterior["z"]
    zero = z_mean.new_zeros(())
    terms = {"kl_z": kl_normal(z_mean, z_log_std, 1.0).sum() if z_mean.numel() else zero, "kl_theta": zero}
    if "theta" in posterior and priors["rotation_prior_rad"] is not None:
        terms["kl_theta"] = kl_normal(*posterior["theta"], priors["rotation_prior_rad"]).sum()
    if "shift" in posterior:
        terms["kl_shift"] = kl_normal(*posterior["shift"], priors["translation_prior"]).sum()
    else:
        terms["kl_shift"] = zero
    return terms


def elbo_terms(x: Tensor, reconstruction: Tensor, posterior: dict, priors: dict, likelihood: str) -> dict:
    """The terms of :data:`SUMMED_TERMS` summed over the patches (arguments as :func:`elbo_loss`)."""
    sums = {"reconstruction": reconstruction_loss(x, reconstruction, likelihood, priors["noise_std"])}
    sums.update(kl_terms(posterior, priors))
    return sums


def negative_elbo(terms: dict, kl_z_weight: float = 1.0):
    """``reconstruction + kl_z_weight * kl_z + kl_theta + kl_shift``: the one sum of the terms.

    ``kl_z_weight`` = 1 gives the negative ELBO; > 1 the objective of the orientation warm-up
    (``rvae_pathways.rvae.train.content_kl_weight``). The terms may be summed over patches or
    means per patch, tensors or floats.
    """
    return terms["reconstruction"] + kl_z_weight * terms["kl_z"] + terms["kl_theta"] + terms["kl_shift"]


def per_patch(sums: dict, n: int) -> dict:
    """Terms summed over ``n`` patches -> means per patch, plus ``total`` (:func:`negative_elbo`)."""
    terms = {k: v / n for k, v in sums.items()}
    terms["total"] = negative_elbo(terms)
    return terms


def elbo_loss(x: Tensor, reconstruction: Tensor, posterior: dict, priors: dict, likelihood: str) -> dict:
    """The negative ELBO and its terms, per patch, averaged over the batch.

    Parameters
    ----------
    x : Tensor (B, n, n)
        The patches (floats roughly in [0, 1]).
    reconstruction : Tensor (B, n, n)
        The decoder's output: intensities (Gaussian) or logits (Bernoulli).
    posterior : dict
        ``{"theta", "shift", "z"}`` -> ``(mean, log_std)`` from :meth:`RVAE.forward`.
    priors : dict
        The keys of :data:`PRIOR_KEYS` (``rvae_pathways.rvae.train.priors_of(hyper)``; their
        defaults are the config schema's):

        - ``rotation_prior_rad``: std of the N(0, s^2) prior on theta in radians; None: a uniform
          prior on the angle, so no KL on theta.
        - ``translation_prior``: std of the N(0, s^2) prior on dx and dy, in grid units (a pixel is
          ``2 / (n - 1)`` grid units: 0.1 is 1.55 px on a 32 px patch).
        - ``noise_std``: the Gaussian likelihood's pixel noise sigma, in the units of ``x``
          (sqrt(1/2) makes the term a plain sum of squared errors); not read by the Bernoulli one.
    likelihood : {"gaussian", "bernoulli"}
        Gaussian: ``sum (x - x_hat)^2 / (2 sigma^2)`` over pixels (the constant
        ``P log(sigma sqrt(2 pi))`` is left out). Bernoulli: binary cross-entropy of the logits
        against ``x`` clipped to [0, 1], summed over pixels.

    Returns
    -------
    dict of scalar Tensors: ``total = reconstruction + kl_z + kl_theta + kl_shift``.
    """
    return per_patch(elbo_terms(x, reconstruction, posterior, priors, likelihood), x.shape[0])

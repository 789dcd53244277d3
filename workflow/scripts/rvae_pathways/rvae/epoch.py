"""One pass over the patches: the batches' backward passes, an epoch of training, evaluation.

:func:`batch_backward` takes a batch's gradient of the negative ELBO (the sum is
:func:`~rvae_pathways.rvae.loss.negative_elbo`), :func:`train_epoch` steps the optimiser once per
batch, :func:`evaluate` measures the terms without training. On the CPU the speed comes from
three things (see ``bench/train_throughput.py``): batches go through the decoder in cache-sized
slices (:data:`CPU_SLICE_ACTIVATIONS`), the encoder and the KL terms run once per batch
(:func:`batch_backward`), and glibc keeps freed memory instead of faulting it in again at every
slice (:func:`keep_freed_memory`, set by ``rvae_pathways.rvae.train.fit``).
"""

from __future__ import annotations

import ctypes
import sys
from contextlib import nullcontext

import numpy as np
import torch

from .loss import SUMMED_TERMS, elbo_terms, kl_terms, negative_elbo, per_patch, reconstruction_loss
from .kernels import at_least_fp32
from .model import RVAE

PRECISIONS = ("fp32", "bf16")

# On the CPU the decoder takes a batch in slices of about this many activations per layer
# (B * P * hidden floats; 2M = 8 MB: 16 patches of 32x32 with hidden 128), so that a layer's
# activations stay in the last-level cache; a whole batch of 100 makes 52 MB tensors per layer
# and trains at about 60 % of the speed. The gradient is the batch's (see batch_backward).
CPU_SLICE_ACTIVATIONS = 1 << 21


def slice_size(model: RVAE, batch_size: int, device: torch.device) -> int:
    """Patches per forward/backward slice: the whole batch on a GPU, see :data:`CPU_SLICE_ACTIVATIONS` on the CPU."""
    if device.type != "cpu":
        return batch_size
    per_patch = model.patch_size**2 * model.decoder.coord_weight.shape[1]
    return max(1, min(batch_size, CPU_SLICE_ACTIVATIONS // per_patch))


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the system.

    Training allocates and frees several MB-sized activation buffers per slice; by default
    glibc gives such blocks back to the kernel (``munmap``, heap trimming), and the next slice
    faults every 4 KB page in again, zero-filled (up to a quarter of the training time). Raising
    ``M_MMAP_THRESHOLD`` (to 32 MB) and ``M_TRIM_THRESHOLD`` (to 1 GB) keeps the blocks in the
    heap. This is a process-wide allocator setting (the process then holds on to its peak
    heap); nothing else changes. Returns False where it does not apply (not Linux glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_trim_threshold, 1 << 30)) and bool(mallopt(m_mmap_threshold, 32 << 20))


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision != "fp32":
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return nullcontext()


def _as_tensor(patches, device) -> torch.Tensor:
    if isinstance(patches, torch.Tensor):
        return patches.to(device=device, dtype=torch.float32)
    return torch.as_tensor(np.asarray(patches, dtype=np.float32), device=device)


def _parts(patches, size: int, device):
    """``patches`` in tensors of ``size`` patches, in order: an array's split, or what a source read
    movie by movie (:class:`~rvae_pathways.rvae.stores.PatchStores`) yields from ``parts``."""
    if hasattr(patches, "parts"):
        yield from patches.parts(size, device)
        return
    yield from _as_tensor(patches, device).split(size)


def _shuffled_batches(patches, batch_size: int, generator: torch.Generator, device):
    """One epoch's batches: of an array, its rows in one random order (one ``randperm`` draw); of a
    source with a ``batches`` method (:class:`~rvae_pathways.rvae.stores.PatchStores`), what it yields."""
    if hasattr(patches, "batches"):
        yield from patches.batches(batch_size, generator, device)
        return
    x_all = _as_tensor(patches, device)
    order = torch.randperm(x_all.shape[0], generator=generator).to(device)
    for start in range(0, x_all.shape[0], batch_size):
        yield x_all[order[start : start + batch_size]]


@torch.no_grad()
def ring_spectrum_loss(model: RVAE, patches, batch_size: int = 4096) -> float:
    """The ring spectra's reconstruction loss (unweighted), summed over ``patches`` (an array, or a
    :class:`~rvae_pathways.rvae.stores.PatchStores`), drawn from the posterior means of z,
    ``batch_size`` patches at a time. The model must have a ring decoder."""
    device = next(model.parameters()).device
    ring = 0.0
    for x in _parts(patches, batch_size, device):
        mean, log_std = model.encoder(x)
        ring += float(model.ring_decoder.loss(x, model.split(mean, log_std)["z"][0]))
    return ring


def batch_backward(model: RVAE, x, noise, *, priors: dict, likelihood: str, precision: str, n_slice=None,
                   kl_z_weight=1.0, read_z=True):
    """Accumulate into ``.grad`` the gradient of a batch's mean negative ELBO; return its summed terms.

    The objective is :func:`~rvae_pathways.rvae.loss.negative_elbo` (``kl_z`` weighted by
    ``kl_z_weight``), plus the ring spectra's reconstruction where the model draws them. The
    encoder, the posterior draw and the KL terms run once for the whole batch; the decoder and
    the reconstruction term run ``n_slice`` patches at a time, each slice's backward pass
    stopping at the decoder's inputs (the points ``u`` and ``z``); one last backward pass takes
    their gradients, and the rest of the objective's, through the encoder. The gradient is the
    batch's, as if computed at once.

    Parameters
    ----------
    model : RVAE
    x : Tensor (B, n, n)
    noise : Tensor (B, D)
        Standard-normal draws for the posterior samples.
    priors, likelihood
        See :func:`~rvae_pathways.rvae.loss.elbo_loss`.
    precision : {"fp32", "bf16"}
        See :func:`train_epoch`.
    n_slice : int, optional
        Patches per decoder slice (default: the whole batch).
    kl_z_weight : float
        Multiplies the ``kl_z`` term in the gradient (see
        :func:`~rvae_pathways.rvae.train.content_kl_weight`); the returned ``kl_z`` is unweighted.
    read_z : bool
        False: the decoder draws from z = 0 (see :func:`~rvae_pathways.rvae.train.decoder_reads_z`),
        and z learns from the KL and ring-spectrum terms alone.

    Returns
    -------
    dict of 0-d float64 Tensors: each term summed over the batch (see
    :data:`~rvae_pathways.rvae.loss.SUMMED_TERMS`).
    """
    device, b = x.device, x.shape[0]
    n_slice = n_slice or b
    with _autocast(device, precision):
        mean, log_std = model.encoder(x)  # (B, D) each
    mean, log_std = at_least_fp32(mean), at_least_fp32(log_std)
    draw = model.sample(mean, log_std, noise)
    coords, z = model.coords(draw.get("theta"), draw.get("shift"), b), draw["z"]  # (B, P, 2), (B, k)
    sums = kl_terms(model.split(mean, log_std), priors)

    # the decoder, slice by slice, from detached copies of its inputs
    coord_slices = [c.detach().requires_grad_(coords.requires_grad) for c in coords.split(n_slice)]
    z_slices = [(q.detach() if read_z else torch.zeros_like(q)).requires_grad_(read_z) for q in z.split(n_slice)]
    reconstruction = torch.zeros((), dtype=torch.float64, device=device)
    for xs, c, q in zip(x.split(n_slice), coord_slices, z_slices):
        with _autocast(device, precision):
            rec = model.decoder(c, q).view_as(xs)
        term = reconstruction_loss(xs, rec, likelihood, priors["noise_std"])
        (term / b).backward()
        reconstruction += term.detach()

    # the encoder, from the gradients at the decoder's inputs and from the rest of the objective: the
    # KL terms (the reconstruction's gradient is in already, slice by slice) and the ring spectra's
    # reconstruction, drawn from the whole batch's z
    rest = negative_elbo({"reconstruction": 0.0, **sums}, kl_z_weight) / b
    if model.ring_decoder is not None and model.ring_reconstruction > 0:
        rest = rest + model.ring_reconstruction * model.ring_decoder.loss(x, z) / b
    outputs, grads = ([z], [torch.cat([_grad(q) for q in z_slices])]) if read_z else ([], [])
    if coords.requires_grad:
        outputs.append(coords)
        grads.append(torch.cat([_grad(c) for c in coord_slices]))
    if rest.requires_grad:
        outputs.append(rest)
        grads.append(None)
    torch.autograd.backward(outputs, grads)
    sums = {k: v.detach().double() for k, v in sums.items()}
    sums["reconstruction"] = reconstruction
    return sums


def _grad(leaf: torch.Tensor) -> torch.Tensor:
    return leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)


def train_epoch(
    model: RVAE,
    optimizer: torch.optim.Optimizer,
    patches,
    batch_size: int,
    generator: torch.Generator,
    *,
    priors: dict,
    likelihood: str,
    precision: str,
    kl_z_weight: float = 1.0,
    read_z: bool = True,
) -> dict:
    """One pass over the shuffled patches, one optimiser step per batch.

    Parameters
    ----------
    model : RVAE
    optimizer : torch.optim.Optimizer
    patches : Tensor or array (N, n, n), or PatchStores
        Float patches on the model's device (an array is copied there); or the patches of several
        movies read from their stores (:class:`~rvae_pathways.rvae.stores.PatchStores`), which
        shuffles them buffer by buffer.
    batch_size : int
        Patches per step; the last batch holds the rest (N < batch_size gives one step).
    generator : torch.Generator (CPU)
        Draws the shuffle and the posterior noise, one (B, D) draw per batch.
    priors, likelihood
        See :func:`~rvae_pathways.rvae.loss.elbo_loss`.
    precision : {"fp32", "bf16"}
        "bf16": the forward pass under ``torch.autocast(dtype=torch.bfloat16)``; the loss is in
        fp32. It pays only where the hardware computes in bf16 (recent GPUs; CPUs with
        AVX512-BF16 or AMX); an AVX2-only CPU emulates it about ten times slower than fp32.
    kl_z_weight, read_z
        See :func:`batch_backward`; the returned terms are unweighted.

    Returns
    -------
    dict: mean per patch of each loss term (see :data:`~rvae_pathways.rvae.loss.TERMS`).

    Raises
    ------
    RuntimeError
        If a batch's loss is NaN or infinite (the weights are then corrupt).
    """
    device = next(model.parameters()).device
    n_slice = slice_size(model, batch_size, device)
    sums = dict.fromkeys(SUMMED_TERMS, 0.0)
    model.train()
    start = 0
    for x in _shuffled_batches(patches, batch_size, generator, device):  # (B, n, n)
        noise = torch.randn((x.shape[0], model.encoder.n_out), generator=generator).to(device)  # (B, D)
        optimizer.zero_grad(set_to_none=True)
        batch = batch_backward(model, x, noise, priors=priors, likelihood=likelihood, precision=precision,
                               n_slice=n_slice, kl_z_weight=kl_z_weight, read_z=read_z)
        sums = {k: sums[k] + batch[k] for k in sums}
        total = negative_elbo(batch)
        if not torch.isfinite(total):
            raise RuntimeError(
                f"the loss became {total.item() / len(x)} per patch at patches {start}..{start + len(x) - 1}; "
                "lower the learning rate, or check the input patches (NaN/inf, or values far outside [0, 1])"
            )
        optimizer.step()
        start += len(x)
    return {k: float(v) for k, v in per_patch(sums, start).items()}


@torch.no_grad()
def evaluate(
    model: RVAE,
    patches,
    *,
    priors: dict,
    likelihood: str,
    precision: str,
    batch_size: int = 1024,
    generator: torch.Generator | None = None,
) -> dict:
    """Mean per patch of each loss term over ``patches``, without training.

    With a ``generator`` the posterior is sampled (an ELBO estimate, reproducible from the
    generator); without, the posterior means are decoded. Other arguments as :func:`train_epoch`.
    """
    device = next(model.parameters()).device
    x_all = _as_tensor(patches, device)
    n = x_all.shape[0]
    n_slice = slice_size(model, batch_size, device)
    sums = dict.fromkeys(SUMMED_TERMS, 0.0)
    model.eval()
    for start in range(0, n, batch_size):
        x = x_all[start : start + batch_size]
        noise = None
        if generator is not None:
            noise = torch.randn((x.shape[0], model.encoder.n_out), generator=generator).to(device)
        for s in range(0, x.shape[0], n_slice):
            xs = x[s : s + n_slice]
            with _autocast(device, precision):
                reconstruction, posterior = model(
                    xs, sample=noise is not None, noise=None if noise is None else noise[s : s + n_slice]
                )
            terms = elbo_terms(xs, reconstruction, posterior, priors, likelihood)  # summed over the slice
            sums = {k: sums[k] + terms[k].double() for k in sums}
    return {k: float(v) for k, v in per_patch(sums, n).items()}

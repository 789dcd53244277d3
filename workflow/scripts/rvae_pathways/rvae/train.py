"""Training the rVAE: one epoch, evaluation, a resumable ``fit``, and saving the model.

Patches are expected as float32 (N, n, n) arrays already normalised by the caller, with
intensities roughly in [0, 1] (the Bernoulli likelihood clips them to [0, 1]); nothing is
rescaled here. The whole patch array is moved to the training device once.

Randomness comes from one ``torch.Generator`` on the CPU, seeded by ``fit``: it draws the
initial weights, then each epoch's shuffle and every posterior noise draw (on the CPU, then
moved to the device). Its state travels in the checkpoint, so an interrupted run resumes exactly
where it stopped. On the CPU, with the same number of threads, two runs with one seed give
bitwise-identical weights and losses: every reduction has a fixed order. On a GPU, some cuBLAS
and CUDA kernels are not run-to-run deterministic, so two runs may agree to rounding only, a
difference that grows over the epochs; ``torch.use_deterministic_algorithms(True)``, with
``CUBLAS_WORKSPACE_CONFIG=:4096:8`` in the environment, set by the caller around ``fit``, makes
them repeat. A CPU and a GPU run never agree bitwise.

On the CPU the speed comes from three things (see ``bench/train_throughput.py``): batches go
through the decoder in cache-sized slices (:data:`CPU_SLICE_ACTIVATIONS`), the encoder and the
KL terms run once per batch (:func:`batch_backward`), and glibc keeps freed memory instead of
faulting it in again at every slice (:func:`keep_freed_memory`).
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from ..core.errors import InputError
from .model import DEFAULT_PRIORS, RVAE, at_least_fp32, elbo_loss, kl_terms, per_patch, reconstruction_loss
from ..core.noise import noise_sigma

DEFAULT_HYPER = {
    # the model
    "n_latent": 2,
    "rotation": True,
    "translation": True,
    "hidden": 128,
    "layers": 2,
    "activation": "tanh",
    "conv": False,
    "ring_weight": 0.0,  # > 0: rotation-invariant ring spectra as extra encoder inputs
    "ring_reconstruction": 0.0,  # > 0: z also draws the standardised ring spectra, this weight
    # the loss (see rvae_pathways.rvae.model.elbo_loss)
    "likelihood": "gaussian",
    "rotation_prior_rad": 0.1,
    "translation_prior": 0.1,
    "noise_std": math.sqrt(0.5),
    # the optimiser
    "lr": 1e-3,
    "batch_size": 100,
    "precision": "fp32",
    # orientation warm-up (see content_kl_weight): models with a rotation latent start with the
    # content latents' KL term weighted up
    "warmup_epochs": 0,
    "warmup_kl_z_weight": 50.0,
    # independent starts (see fit): each trains until the end of the warm-up (one epoch
    # without one), the one with the lowest objective (selection_loss) goes on
    "restarts": 1,
}
MODEL_KEYS = (
    "patch_size", "n_latent", "rotation", "translation", "hidden", "layers", "activation", "conv", "ring_weight",
    "ring_reconstruction",
)
PRIOR_KEYS = ("rotation_prior_rad", "translation_prior", "noise_std")
TERMS = ("total", "reconstruction", "kl_z", "kl_theta", "kl_shift")
SUMMED_TERMS = TERMS[1:]  # summed over patches; "total" is their sum (model.per_patch)
PRECISIONS = ("fp32", "bf16")

# On the CPU the decoder takes a batch in slices of about this many activations per layer
# (B * P * hidden floats; 2M = 8 MB: 16 patches of 32x32 with hidden 128), so that a layer's
# activations stay in the last-level cache; a whole batch of 100 makes 52 MB tensors per layer
# and trains at about 60 % of the speed. The gradient is the batch's (see batch_backward).
CPU_SLICE_ACTIVATIONS = 1 << 21


def resolve_hyper(hyper: dict | None, patch_size: int) -> dict:
    """:data:`DEFAULT_HYPER` updated by ``hyper``, plus ``patch_size``; unknown keys are refused."""
    hyper = dict(hyper or {})
    unknown = sorted(set(hyper) - set(DEFAULT_HYPER) - {"patch_size"})
    if unknown:
        raise InputError(f"unknown rVAE hyper-parameters {unknown}; known: {sorted(DEFAULT_HYPER)}")
    if "patch_size" in hyper and int(hyper["patch_size"]) != patch_size:
        raise InputError(f"hyper-parameter patch_size={hyper['patch_size']} but the patches are {patch_size} px")
    out = dict(DEFAULT_HYPER, **hyper, patch_size=int(patch_size))
    if out["precision"] not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {out['precision']!r}")
    if out["likelihood"] not in ("gaussian", "bernoulli"):
        raise InputError(f"likelihood must be 'gaussian' or 'bernoulli', got {out['likelihood']!r}")
    return out


def build_model(hyper: dict, generator: torch.Generator | None = None) -> RVAE:
    """The :class:`~rvae_pathways.rvae.model.RVAE` a resolved ``hyper`` dict describes."""
    return RVAE(**{k: hyper[k] if k in hyper else DEFAULT_HYPER[k] for k in MODEL_KEYS}, generator=generator)


def priors_of(hyper: dict) -> dict:
    """The ``priors`` dict of :func:`~rvae_pathways.rvae.model.elbo_loss` from a ``hyper`` dict."""
    return {k: hyper[k] for k in PRIOR_KEYS}


def pick_device(device=None) -> torch.device:
    """``device`` as a :class:`torch.device`; None: CUDA when available, else the CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


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


def in_warmup(hyper: dict, epoch: int) -> bool:
    """Whether (1-based) ``epoch`` belongs to the orientation warm-up of a model with a rotation latent."""
    return bool(hyper.get("rotation")) and epoch <= int(hyper.get("warmup_epochs", 0))


def decoder_reads_z(hyper: dict, epoch: int) -> bool:
    """Whether the pixel decoder draws from the content latents in (1-based) ``epoch``.

    Not during the orientation warm-up of a model that also reconstructs ring spectra
    (``ring_reconstruction`` > 0): z then learns the spectra from the start, while the decoder
    draws every patch from z = 0, the prior mean, as one image turned and shifted by the
    posterior's theta and shift, and the pixels send z nothing. So theta learns one common view
    of the lattice although z is not empty, and z arrives at the release already holding the
    neighbours' geometry. Read from the start instead, the informative z lets the decoder draw
    the carbons beside a Si or an edge in views of their own, turned by 60 degrees (sublattice
    0.95 on the demo movie); with the pixels' gradient at z = 0 passed on to z (straight
    through) it still did so in 7 of 36 runs on the physics movies.
    """
    return not (in_warmup(hyper, epoch) and float(hyper.get("ring_reconstruction", 0.0)) > 0)


def content_kl_weight(hyper: dict, epoch: int) -> float:
    """Weight of the content latents' KL term in (1-based) ``epoch``: the orientation warm-up.

    For the first ``warmup_epochs`` epochs of a model with a rotation latent the term is
    weighted by ``warmup_kl_z_weight`` (> 1), which keeps z nearly uninformative: one
    decoder image has to explain every patch, so theta learns to turn each patch onto the
    same view of the lattice. Released afterwards (weight 1, the plain ELBO), z learns what
    differs between the patches while theta keeps that common frame. Without the warm-up an
    atom next to a dopant or a defect may be decoded in a frame of its own, turned by 60
    degrees, and read as the other sublattice.
    """
    return float(hyper["warmup_kl_z_weight"]) if in_warmup(hyper, epoch) else 1.0


def selection_epochs(hyper: dict, epochs: int) -> int:
    """Epochs each start of :func:`fit` trains before the starts are compared: the orientation
    warm-up (see :func:`content_kl_weight`) where there is one, else one; at most ``epochs``."""
    warm = int(hyper.get("warmup_epochs", 0)) if hyper.get("rotation") else 0
    return min(max(warm, 1), int(epochs))


@torch.no_grad()
def selection_loss(model: RVAE, patches, hyper: dict, terms: dict, batch_size: int = 4096) -> float:
    """What :func:`fit` compares its starts by: the objective they were trained on, per patch.

    ``terms`` are the last (warm-up) epoch's mean terms (see :func:`train_epoch`); the content
    latents' KL counts with that epoch's weight (:func:`content_kl_weight`), and with ring
    spectra to draw (``ring_reconstruction`` > 0) their reconstruction loss is added, weighted,
    from the posterior means of z after that epoch. A start whose z stayed at the prior through
    the warm-up (KL near 0, the spectra not drawn) has the lower plain ELBO as often as not, but
    the clearly higher objective, and it encodes the 5-7 defects poorly (physics movies, 96 runs
    of 3 starts: by the plain ELBO 81 met every target, by this loss 90; see the README).
    """
    loss = terms["total"] + (terms.get("kl_z_weight", 1.0) - 1.0) * terms["kl_z"]
    if model.ring_decoder is None or model.ring_reconstruction <= 0:
        return float(loss)
    return float(loss + model.ring_reconstruction * ring_spectrum_loss(model, patches, batch_size) / len(patches))


@torch.no_grad()
def ring_spectrum_loss(model: RVAE, patches, batch_size: int = 4096) -> float:
    """The ring spectra's reconstruction loss (unweighted), summed over ``patches``, drawn from the
    posterior means of z, ``batch_size`` patches at a time. The model must have a ring decoder."""
    device = next(model.parameters()).device
    x_all = _as_tensor(patches, device)
    ring = 0.0
    for start in range(0, x_all.shape[0], batch_size):
        x = x_all[start : start + batch_size]
        mean, log_std = model.encoder(x)
        ring += float(model.ring_decoder.loss(x, model.split(mean, log_std)["z"][0]))
    return ring


def start_seed(seed: int, start: int) -> int:
    """Seed of the generator of start ``start`` (0-based) of a run seeded ``seed``: ``seed +
    start``, so start 0 is the run without restarts."""
    return int(seed) + int(start)


def batch_backward(model: RVAE, x, noise, priors=None, likelihood="gaussian", precision="fp32", n_slice=None,
                   kl_z_weight=1.0, read_z=True):
    """Accumulate into ``.grad`` the gradient of a batch's mean negative ELBO; return its summed terms.

    The encoder, the posterior draw and the KL terms run once for the whole batch; the decoder
    and the reconstruction term run ``n_slice`` patches at a time, each slice's backward pass
    stopping at the decoder's inputs (the points ``u`` and ``z``); one last backward pass takes
    their gradients, and the KL terms', through the encoder. The gradient is the batch's, as
    if computed at once.

    Parameters
    ----------
    model : RVAE
    x : Tensor (B, n, n)
    noise : Tensor (B, D)
        Standard-normal draws for the posterior samples.
    priors, likelihood
        See :func:`~rvae_pathways.rvae.model.elbo_loss`.
    precision : {"fp32", "bf16"}
    n_slice : int, optional
        Patches per decoder slice (default: the whole batch).
    kl_z_weight : float
        Multiplies the ``kl_z`` term in the gradient (see :func:`content_kl_weight`); the returned
        ``kl_z`` is unweighted.
    read_z : bool
        False: the decoder draws from z = 0 (see :func:`decoder_reads_z`), and z learns from the
        KL and ring-spectrum terms alone.

    Returns
    -------
    dict of 0-d float64 Tensors: each term summed over the batch (see :data:`TERMS`).
    """
    device, b = x.device, x.shape[0]
    n_slice = n_slice or b
    p = dict(DEFAULT_PRIORS, **(priors or {}))
    with _autocast(device, precision):
        mean, log_std = model.encoder(x)  # (B, D) each
    mean, log_std = at_least_fp32(mean), at_least_fp32(log_std)
    draw = model.sample(mean, log_std, noise)
    coords, z = model.coords(draw.get("theta"), draw.get("shift"), b), draw["z"]  # (B, P, 2), (B, k)
    sums = kl_terms(model.split(mean, log_std), p)

    # the decoder, slice by slice, from detached copies of its inputs
    coord_slices = [c.detach().requires_grad_(coords.requires_grad) for c in coords.split(n_slice)]
    z_slices = [(q.detach() if read_z else torch.zeros_like(q)).requires_grad_(read_z) for q in z.split(n_slice)]
    reconstruction = torch.zeros((), dtype=torch.float64, device=device)
    for xs, c, q in zip(x.split(n_slice), coord_slices, z_slices):
        with _autocast(device, precision):
            rec = model.decoder(c, q).view_as(xs)
        term = reconstruction_loss(xs, rec, likelihood, p["noise_std"])
        (term / b).backward()
        reconstruction += term.detach()

    # the encoder, from the gradients at the decoder's inputs and from the KL terms (and the ring
    # spectra's reconstruction, drawn from the whole batch's z)
    kl = (kl_z_weight * sums["kl_z"] + sums["kl_theta"] + sums["kl_shift"]) / b
    if model.ring_decoder is not None and model.ring_reconstruction > 0:
        kl = kl + model.ring_reconstruction * model.ring_decoder.loss(x, z) / b
    outputs, grads = ([z], [torch.cat([_grad(q) for q in z_slices])]) if read_z else ([], [])
    if coords.requires_grad:
        outputs.append(coords)
        grads.append(torch.cat([_grad(c) for c in coord_slices]))
    if kl.requires_grad:
        outputs.append(kl)
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
    priors: dict | None = None,
    likelihood: str = "gaussian",
    precision: str = "fp32",
    kl_z_weight: float = 1.0,
    read_z: bool = True,
) -> dict:
    """One pass over the shuffled patches, one optimiser step per batch.

    Parameters
    ----------
    model : RVAE
    optimizer : torch.optim.Optimizer
    patches : Tensor or array (N, n, n)
        Float patches on the model's device (an array is copied there).
    batch_size : int
        Patches per step; the last batch holds the rest (N < batch_size gives one step).
    generator : torch.Generator (CPU)
        Draws the shuffle and the posterior noise, one (B, D) draw per batch.
    priors, likelihood
        See :func:`~rvae_pathways.rvae.model.elbo_loss`.
    precision : {"fp32", "bf16"}
        "bf16": the forward pass under ``torch.autocast(dtype=torch.bfloat16)``; the loss is in
        fp32. It pays only where the hardware computes in bf16 (recent GPUs; CPUs with
        AVX512-BF16 or AMX); an AVX2-only CPU emulates it about ten times slower than fp32.
    kl_z_weight, read_z
        See :func:`batch_backward`; the returned terms are unweighted.

    Returns
    -------
    dict: mean per patch of each loss term (see :data:`TERMS`).

    Raises
    ------
    RuntimeError
        If a batch's loss is NaN or infinite (the weights are then corrupt).
    """
    device = next(model.parameters()).device
    x_all = _as_tensor(patches, device)
    n = x_all.shape[0]
    order = torch.randperm(n, generator=generator).to(device)
    n_slice = slice_size(model, batch_size, device)
    sums = dict.fromkeys(SUMMED_TERMS, 0.0)
    model.train()
    for start in range(0, n, batch_size):
        x = x_all[order[start : start + batch_size]]  # (B, n, n)
        noise = torch.randn((x.shape[0], model.encoder.n_out), generator=generator).to(device)  # (B, D)
        optimizer.zero_grad(set_to_none=True)
        batch = batch_backward(model, x, noise, priors, likelihood, precision, n_slice, kl_z_weight, read_z)
        sums = {k: sums[k] + batch[k] for k in sums}
        total = sum(batch.values())
        if not torch.isfinite(total):
            raise RuntimeError(
                f"the loss became {total.item() / len(x)} per patch at patches {start}..{start + len(x) - 1}; "
                "lower the learning rate, or check the input patches (NaN/inf, or values far outside [0, 1])"
            )
        optimizer.step()
    return {k: float(v) for k, v in per_patch(sums, n).items()}


@torch.no_grad()
def evaluate(
    model: RVAE,
    patches,
    batch_size: int = 1024,
    priors: dict | None = None,
    likelihood: str = "gaussian",
    generator: torch.Generator | None = None,
    precision: str = "fp32",
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
            terms = elbo_loss(xs, reconstruction, posterior, priors, likelihood)
            sums = {k: sums[k] + terms[k].double() * len(xs) for k in sums}
    return {k: float(v) for k, v in per_patch(sums, n).items()}


def check_patches(patches) -> np.ndarray:
    """The patches as a float32 (N, n, n) array; :class:`InputError` if empty, not square or not finite."""
    patches = np.asarray(patches, dtype=np.float32)
    if patches.ndim != 3 or patches.shape[1] != patches.shape[2] or patches.shape[1] < 2:
        raise InputError(f"patches must be an (N, n, n) stack of square patches, got shape {patches.shape}")
    if patches.shape[0] == 0:
        raise InputError("there are no patches to train on")
    if not np.isfinite(patches).all():
        raise InputError(f"{int((~np.isfinite(patches)).sum())} patch pixels are NaN or infinite")
    return patches


def training_set(patches, augment_rot90: bool = True) -> tuple[np.ndarray, float]:
    """The patches as the model sees them: divided by their maximum, optionally with their turns.

    Parameters
    ----------
    patches : array (N, n, n)
    augment_rot90 : bool
        Append every patch turned by 90, 180 and 270 degrees (``np.rot90``, exact: no
        interpolation), so the encoder learns to read orientations the movie itself may not show.

    Returns
    -------
    x : float32 array (N, n, n), or (4N, n, n) with the turns (the originals first)
    scale : float
        The maximum divided out; new patches must be divided by it before encoding.
    """
    patches = check_patches(patches)
    scale = float(patches.max())
    if not scale > 0:
        raise InputError("every patch pixel is zero or negative; the patches hold no image")
    x = patches / scale
    if augment_rot90:
        x = np.concatenate([np.rot90(x, k, axes=(1, 2)) for k in range(4)])
    return np.ascontiguousarray(x, dtype=np.float32), scale


def estimate_noise_std(x: np.ndarray) -> float:
    """Pixel noise sigma of patches ``x`` (N, n, n), for the Gaussian likelihood.

    A larger sigma than the data's lets the KL terms win and the content latents collapse onto
    the prior; see :func:`rvae_pathways.core.noise.noise_sigma` for the estimator.
    """

    x = np.asarray(x)
    return float(noise_sigma(x.reshape(-1, x.shape[-1])))


def save_checkpoint(path, state: dict) -> None:
    """Write ``state`` with :func:`torch.save` atomically: to ``path.tmp``, flushed, then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path, device="cpu") -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``: tensors and plain containers only.

    Anything else (a pickled object, which could run code) raises ``pickle.UnpicklingError``.
    """
    return torch.load(path, map_location=device, weights_only=True)


def fit(patches, hyper: dict | None = None, *, epochs: int, seed: int, device=None, checkpoint=None, log=None):
    """Train an rVAE from scratch, or resume an interrupted run from its checkpoint.

    Parameters
    ----------
    patches : array (N, n, n)
        Normalised patches, floats roughly in [0, 1] (see the module docstring).
    hyper : dict
        Overrides of :data:`DEFAULT_HYPER` (``patch_size`` is taken from the patches).
    epochs : int
        Total number of epochs (a resumed run trains only the missing ones).
    seed : int
        Seeds the generator behind the initial weights, shuffles and posterior noise.
    device : str or torch.device, optional
        None: CUDA when available, else the CPU. The thread count on the CPU is the caller's
        (``torch.set_num_threads``). On the CPU, glibc is asked to keep freed memory
        (:func:`keep_freed_memory`).
    checkpoint : path-like, optional
        Written atomically after every epoch: ``state_dict``, ``optimizer``, ``epoch`` (done),
        ``generator`` (state), ``history``, ``hyper``, ``seed``. If it exists at the start,
        training resumes from it; it must come from the same ``hyper`` and ``seed``.
    log : logging.Logger, optional
        One line per epoch: the loss terms and patches/s.

    Returns
    -------
    model : RVAE
        On ``device``.
    history : list of dict
        Per epoch: ``epoch`` (1-based), the loss terms (the plain ELBO's), ``kl_z_weight`` (see
        :func:`content_kl_weight`), ``seconds``, ``patches_per_s``; with ``restarts`` > 1 also
        ``start``, the start that went on (its own first epochs included).

    Notes
    -----
    With ``hyper["restarts"]`` = k > 1, k starts (generators seeded :func:`start_seed`) each
    train :func:`selection_epochs` epochs; the one with the lowest :func:`selection_loss` (the
    objective they were trained on) goes on, the others are dropped. Start 0 is the run without
    restarts, so a run's objective at the choice is never worse than without restarts. The checkpoint is written from the choice on; a run killed
    before it repeats the starts.

    Raises
    ------
    InputError
        Bad patches or hyper-parameters, or a checkpoint from other settings.
    RuntimeError
        A NaN or infinite loss.
    """
    patches = check_patches(patches)
    hyper = resolve_hyper(hyper, patches.shape[1])
    restarts = int(hyper["restarts"])
    if restarts < 1:
        raise InputError(f"restarts must be at least 1, got {hyper['restarts']}")
    device = pick_device(device)
    if device.type == "cpu":
        keep_freed_memory()
    x = torch.as_tensor(patches, device=device)  # (N, n, n), on the device once
    run = _Run(x, hyper, epochs, seed, checkpoint, log)
    model, optimizer, generator = run.start(0)
    history: list[dict] = []
    done = 0
    if checkpoint is not None and Path(checkpoint).exists():
        history, done = run.resume(model, optimizer, generator)
    elif restarts > 1:
        (model, optimizer, generator), history = run.choose_start((model, optimizer, generator), restarts)
        done = history[-1]["epoch"]
    chosen = {"start": history[0]["start"]} if history and "start" in history[0] else None
    run.train_epochs(model, optimizer, generator, history, done + 1, epochs, extra=chosen)
    return model, history


class _Run:
    """One training run of :func:`fit`: its starts, epochs, checkpoint and log."""

    def __init__(self, x, hyper: dict, epochs: int, seed: int, checkpoint, log):
        self.x, self.hyper, self.epochs, self.seed, self.checkpoint, self.log = x, hyper, epochs, seed, checkpoint, log
        self.priors = priors_of(hyper)

    def start(self, index: int):
        """Model, optimiser and generator of start ``index`` (generator seeded :func:`start_seed`)."""
        generator = torch.Generator().manual_seed(start_seed(self.seed, index))
        model = build_model(self.hyper, generator).to(self.x.device)
        if model.ring_decoder is not None:
            model.ring_decoder.standardise_on(self.x)
        return model, torch.optim.Adam(model.parameters(), lr=self.hyper["lr"]), generator

    def train_epochs(self, model, optimizer, generator, history, first, last, label="", extra=None,
                     checkpointed=True):
        hyper, x, log = self.hyper, self.x, self.log
        for epoch in range(first, last + 1):
            t0 = time.perf_counter()
            try:
                weight, read_z = content_kl_weight(hyper, epoch), decoder_reads_z(hyper, epoch)
                terms = train_epoch(
                    model, optimizer, x, hyper["batch_size"], generator, self.priors, hyper["likelihood"],
                    hyper["precision"], weight, read_z,
                )
            except RuntimeError as err:
                raise RuntimeError(f"rVAE training, epoch {epoch}: {err}") from err
            seconds = time.perf_counter() - t0
            history.append(
                {"epoch": epoch, **terms, "kl_z_weight": weight, "seconds": seconds, "patches_per_s": len(x) / seconds,
                 **(extra or {})}
            )
            if log:
                log.info(
                    "%sepoch %d/%d: loss %.4f (reconstruction %.4f, kl_z %.4f, kl_theta %.4f, kl_shift %.4f), "
                    "%.0f patches/s%s",
                    label, epoch, self.epochs, *(terms[k] for k in TERMS), len(x) / seconds,
                    f" (orientation warm-up: kl_z weighted x{weight:g}{'' if read_z else ', decoder draws z = 0'})"
                    if weight != 1 else "",
                )  # fmt: skip
            if checkpointed:
                self.save(model, optimizer, generator, history)

    def save(self, model, optimizer, generator, history):
        if self.checkpoint is not None:
            save_checkpoint(
                self.checkpoint,
                {
                    "state_dict": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "epoch": history[-1]["epoch"],
                    "generator": generator.get_state(),
                    "history": history,
                    "hyper": self.hyper,
                    "seed": int(self.seed),
                },
            )

    def resume(self, model, optimizer, generator) -> tuple[list[dict], int]:
        """Load the checkpoint into the start's objects; its history and the epochs done."""
        state = load_checkpoint(self.checkpoint)  # on the CPU: the generator state must stay there
        if state["hyper"] != self.hyper or state["seed"] != int(self.seed):
            raise InputError(
                f"checkpoint {self.checkpoint} was written with other settings (hyper {state['hyper']}, seed "
                f"{state['seed']}) than this run (hyper {self.hyper}, seed {self.seed}); delete it to start afresh"
            )
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        done = int(state["epoch"])
        if self.log:
            self.log.info("resuming from %s after epoch %d", self.checkpoint, done)
        return list(state["history"]), done

    def choose_start(self, first, restarts: int):
        """Independent starts, compared at the end of the warm-up by the objective they were
        trained on (:func:`selection_loss`): a start whose content latents stayed at the prior,
        or whose orientations did not settle, ends it clearly worse, and stays worse (measured on
        the physics corpus' movies). Returns the chosen start's objects and history."""
        trial = selection_epochs(self.hyper, self.epochs)
        best = None
        for index in range(restarts):
            candidate = self.start(index) if index else first
            trial_history: list[dict] = []
            self.train_epochs(*candidate, trial_history, 1, trial, f"start {index + 1}/{restarts}: ", {"start": index},
                              checkpointed=False)
            loss = selection_loss(candidate[0], self.x, self.hyper, trial_history[-1])
            if self.log:
                self.log.info("start %d of %d: objective %.4f after epoch %d", index + 1, restarts, loss, trial)
            if best is None or loss < best[0]:
                best = (loss, index, candidate, trial_history)
        loss, index, chosen, history = best
        self.save(*chosen, history)
        if self.log:
            self.log.info("start %d of %d goes on (lowest objective after epoch %d: %.4f)", index + 1, restarts, trial,
                          loss)
        return chosen, history


def save_model(path, model: RVAE, hyper: dict) -> None:
    """Save ``{"state_dict", "hyper"}`` with :func:`torch.save` (atomically), weights on the CPU."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_checkpoint(path, {"state_dict": state, "hyper": dict(hyper)})


def load_model(path, device=None) -> tuple[RVAE, dict]:
    """The model and hyper dict written by :func:`save_model` (loaded with ``weights_only=True``)."""
    state = load_checkpoint(path, "cpu")
    model = build_model(state["hyper"])
    model.load_state_dict(state["state_dict"])
    return model.to(pick_device(device) if device is not None else "cpu"), state["hyper"]

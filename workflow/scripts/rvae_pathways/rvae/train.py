"""Training the rVAE: hyper-parameters, the warm-up and the restarts, a resumable ``fit``, saving the model.

The hyper-parameters' defaults are the config schema's ``rvae.hyper`` (:data:`DEFAULT_HYPER`,
read by :func:`rvae_pathways.core.config.defaults`), documented there key by key: ``fit(x, {})``
trains what the workflow trains by default (ring spectra read and drawn, the orientation warm-up,
several starts, the pixel noise estimated from the patches). The epoch loop and the loss take them
explicitly, resolved by :func:`resolve_hyper`; :class:`~rvae_pathways.rvae.model.RVAE` reads its
keyword defaults from the same schema.

One epoch, the batches' sliced backward pass and evaluation are in :mod:`rvae_pathways.rvae.epoch`;
the loss in :mod:`rvae_pathways.rvae.loss`.

Patches are expected as float32 (N, n, n) arrays already normalised by the caller, with
intensities roughly in [0, 1] (the Bernoulli likelihood clips them to [0, 1]); nothing is
rescaled here. The whole patch array is moved to the training device once. The patches of a group
of movies come instead as a :class:`~rvae_pathways.rvae.stores.PatchStores`, read from the movies'
stores and moved to the device a buffer at a time, never as one array.

Randomness comes from one ``torch.Generator`` on the CPU, seeded by ``fit``: it draws the
initial weights, then each epoch's shuffle and every posterior noise draw (on the CPU, then
moved to the device). Its state travels in the checkpoint, so an interrupted run resumes exactly
where it stopped. On the CPU, with the same number of threads, two runs with one seed give
bitwise-identical weights and losses: every reduction has a fixed order. On a GPU, some cuBLAS
and CUDA kernels are not run-to-run deterministic, so two runs may agree to rounding only, a
difference that grows over the epochs; ``torch.use_deterministic_algorithms(True)``, with
``CUBLAS_WORKSPACE_CONFIG=:4096:8`` in the environment, set by the caller around ``fit``, makes
them repeat. A CPU and a GPU run never agree bitwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from pathlib import Path

import numpy as np
import torch

from ..core.config import defaults
from ..core.errors import InputError
from ..core.noise import noise_sigma
from .epoch import PRECISIONS, keep_freed_memory, ring_spectrum_loss, train_epoch
from .loss import PRIOR_KEYS, TERMS, negative_elbo
from .model import RVAE
from .stores import PatchStores

DEFAULT_HYPER = defaults("rvae", "hyper")  # every key and its default: the config schema's rvae.hyper
MODEL_KEYS = (
    "patch_size", "n_latent", "rotation", "translation", "hidden", "layers", "activation", "conv", "ring_weight",
    "ring_reconstruction",
)


def resolve_hyper(hyper: dict | None, patch_size: int) -> dict:
    """:data:`DEFAULT_HYPER` updated by ``hyper``, plus ``patch_size``; unknown keys are refused.

    ``noise_std`` None (the default) stays None: :func:`fit` estimates it from its patches.
    """
    hyper = dict(hyper or {})
    unknown = sorted(set(hyper) - set(DEFAULT_HYPER) - {"patch_size"})
    if unknown:
        raise InputError(f"unknown rVAE hyper-parameters {unknown}; known: {sorted(DEFAULT_HYPER)}")
    if "patch_size" in hyper and int(hyper["patch_size"]) != patch_size:
        raise InputError(f"hyper-parameter patch_size={hyper['patch_size']} but the patches are {patch_size} px")
    out = {**DEFAULT_HYPER, **hyper, "patch_size": int(patch_size)}
    if out["precision"] not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {out['precision']!r}")
    if out["likelihood"] not in ("gaussian", "bernoulli"):
        raise InputError(f"likelihood must be 'gaussian' or 'bernoulli', got {out['likelihood']!r}")
    return out


def build_model(hyper: dict, generator: torch.Generator | None = None) -> RVAE:
    """The :class:`~rvae_pathways.rvae.model.RVAE` a resolved ``hyper`` dict (every key of
    :data:`MODEL_KEYS`, as :func:`resolve_hyper` or :func:`load_model` gives it) describes."""
    missing = [k for k in MODEL_KEYS if k not in hyper]
    if missing:
        raise InputError(f"the model's hyper-parameters lack {missing}; resolve them with resolve_hyper")
    return RVAE(**{k: hyper[k] for k in MODEL_KEYS}, generator=generator)


def priors_of(hyper: dict) -> dict:
    """The ``priors`` dict of :func:`~rvae_pathways.rvae.loss.elbo_loss` from a ``hyper`` dict."""
    return {k: hyper[k] for k in PRIOR_KEYS}


def pick_device(device=None) -> torch.device:
    """``device`` as a :class:`torch.device`; None: CUDA when available, else the CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def in_warmup(hyper: dict, epoch: int) -> bool:
    """Whether (1-based) ``epoch`` belongs to the orientation warm-up of a model with a rotation latent."""
    return bool(hyper["rotation"]) and epoch <= int(hyper["warmup_epochs"])


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
    return not (in_warmup(hyper, epoch) and float(hyper["ring_reconstruction"]) > 0)


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
    warm = int(hyper["warmup_epochs"]) if hyper["rotation"] else 0
    return min(max(warm, 1), int(epochs))


@torch.no_grad()
def selection_loss(model: RVAE, patches, hyper: dict, terms: dict, batch_size: int = 4096) -> float:
    """What :func:`fit` compares its starts by: the objective they were trained on, per patch.

    ``terms`` are the last (warm-up) epoch's mean terms (see
    :func:`~rvae_pathways.rvae.epoch.train_epoch`), summed by
    :func:`~rvae_pathways.rvae.loss.negative_elbo` with that epoch's weight on the content
    latents' KL (:func:`content_kl_weight`); with ring spectra to draw (``ring_reconstruction``
    > 0) their reconstruction loss is added, weighted, from the posterior means of z after that
    epoch. A start whose z stayed at the prior through
    the warm-up (KL near 0, the spectra not drawn) has the lower plain ELBO as often as not, but
    the clearly higher objective, and it encodes the 5-7 defects poorly (physics movies, 96 runs
    of 3 starts: by the plain ELBO 81 met every target, by this loss 90; see the README).
    """
    loss = negative_elbo(terms, terms.get("kl_z_weight", 1.0))
    if model.ring_decoder is None or model.ring_reconstruction <= 0:
        return float(loss)
    return float(loss + model.ring_reconstruction * ring_spectrum_loss(model, patches, batch_size) / len(patches))


def start_seed(seed: int, start: int) -> int:
    """Seed of the generator of start ``start`` (0-based) of a run seeded ``seed``: ``seed +
    start``, so start 0 is the run without restarts."""
    return int(seed) + int(start)


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


def training_set(patches, augment_rot90: bool = defaults("rvae")["augment_rot90"]) -> tuple[np.ndarray, float]:
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


def checkpoint_path(folder, patches: np.ndarray, hyper: dict, seed: int) -> Path:
    """Where ``fit(..., checkpoint_dir=folder)`` keeps its checkpoint: ``checkpoint-<digest>.pt``.

    The digest (SHA-1, 12 hex digits) is of everything that determines training: the bytes of
    the float32 training patches (of a :class:`~rvae_pathways.rvae.stores.PatchStores`, its
    :meth:`~rvae_pathways.rvae.stores.PatchStores.digest`) and the JSON of ``[hyper, seed]``,
    ``hyper`` resolved (noise_std included). A rerun after a kill finds its checkpoint and
    resumes; a run on changed data or settings gets a name of its own and starts afresh.
    """
    data = patches.digest() if isinstance(patches, PatchStores) else patches.tobytes()
    digest = hashlib.sha1(data + json.dumps([hyper, int(seed)], sort_keys=True).encode()).hexdigest()
    return Path(folder) / f"checkpoint-{digest[:12]}.pt"


def remove_stale_checkpoints(checkpoint: Path, log=None) -> None:
    """Delete the other ``checkpoint-*.pt`` in ``checkpoint``'s folder (written for other data or
    settings), one log line each."""
    for stale in sorted(Path(checkpoint).parent.glob("checkpoint-*.pt")):
        if stale != Path(checkpoint):
            if log:
                log.info("removing %s (written for other data or settings)", stale)
            stale.unlink()


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


def not_ours(path, why: str) -> InputError:
    """The one-line refusal of a model or checkpoint file this workflow did not write."""
    return InputError(f"{path}: not a model written by this workflow ({why}); it was not loaded; delete it to retrain")


def load_checkpoint(path, device="cpu") -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``: tensors and plain containers only.

    Anything else (a pickled object, which could run code when loaded), a damaged file or one that
    holds no dict, is refused with a one-line :class:`InputError` naming the file; nothing is
    unpickled.
    """
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise not_ours(path, "it is not a file of tensors and plain containers only; unpickling it could run code") from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise not_ours(path, f"it cannot be read: {str(exc).splitlines()[0][:120]}") from None
    if not isinstance(state, dict):
        raise not_ours(path, f"it holds a {type(state).__name__}, not a dict")
    return state


def fit(patches, hyper: dict | None = None, *, epochs: int, seed: int, device=None, checkpoint_dir=None, log=None):
    """Train an rVAE from scratch, or resume an interrupted run from its checkpoint.

    Parameters
    ----------
    patches : array (N, n, n), or PatchStores
        Normalised patches, floats roughly in [0, 1] (see the module docstring); or the patches
        of several movies, read movie by movie from their stores and never held as one array
        (:class:`~rvae_pathways.rvae.stores.PatchStores`: its own scaling, turns and per-movie
        weights; moved to the device a buffer at a time).
    hyper : dict
        Overrides of :data:`DEFAULT_HYPER`, the config schema's defaults (``patch_size`` is taken
        from the patches). ``noise_std`` None (the default): estimated from ``patches``
        (:func:`estimate_noise_std`, logged). The workflow estimates it from the patches before
        their turned copies (``training_set``) and passes it in.
    epochs : int
        Total number of epochs (a resumed run trains only the missing ones).
    seed : int
        Seeds the generator behind the initial weights, shuffles and posterior noise.
    device : str or torch.device, optional
        None: CUDA when available, else the CPU. The thread count on the CPU is the caller's
        (``torch.set_num_threads``). On the CPU, glibc is asked to keep freed memory
        (:func:`keep_freed_memory`).
    checkpoint_dir : path-like, optional
        Folder of the checkpoint, :func:`checkpoint_path` (named after the patches, the resolved
        ``hyper`` and ``seed``), written atomically after every epoch: ``state_dict``,
        ``optimizer``, ``epoch`` (done), ``generator`` (state), ``history``, ``hyper``, ``seed``.
        If it exists at the start, training resumes from it; other ``checkpoint-*.pt`` there are
        removed (:func:`remove_stale_checkpoints`).
    log : logging.Logger, optional
        One line per epoch: the loss terms and patches/s; the noise estimate, removed checkpoints,
        the starts' choice.

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
    restarts, so a run's objective at the choice is never worse than without restarts. The
    checkpoint is written from the choice on; a run killed before it repeats the starts.

    Raises
    ------
    InputError
        Bad patches or hyper-parameters, or a checkpoint from other settings.
    RuntimeError
        A NaN or infinite loss.
    """
    stores = isinstance(patches, PatchStores)
    patches = patches if stores else check_patches(patches)
    hyper = resolve_hyper(hyper, patches.patch_size if stores else patches.shape[1])
    if hyper["noise_std"] is None:
        hyper["noise_std"] = patches.noise_std() if stores else estimate_noise_std(patches)
        if log:
            log.info("pixel noise of the patches (Gaussian likelihood sigma): %.4f", hyper["noise_std"])
    restarts = int(hyper["restarts"])
    if restarts < 1:
        raise InputError(f"restarts must be at least 1, got {hyper['restarts']}")
    device = pick_device(device)
    if device.type == "cpu":
        keep_freed_memory()
    checkpoint = None
    if checkpoint_dir is not None:
        checkpoint = checkpoint_path(checkpoint_dir, patches, hyper, seed)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_checkpoints(checkpoint, log)
    x = patches if stores else torch.as_tensor(patches, device=device)  # (N, n, n), on the device once
    run = _Run(x, hyper, epochs, seed, checkpoint, log, device)
    model, optimizer, generator = run.start(0)
    history: list[dict] = []
    done = 0
    if checkpoint is not None and checkpoint.exists():
        history, done = run.resume(model, optimizer, generator)
    elif restarts > 1:
        (model, optimizer, generator), history = run.choose_start((model, optimizer, generator), restarts)
        done = history[-1]["epoch"]
    chosen = {"start": history[0]["start"]} if history and "start" in history[0] else None
    run.train_epochs(model, optimizer, generator, history, done + 1, epochs, extra=chosen)
    return model, history


class _Run:
    """One training run of :func:`fit`: its starts, epochs, checkpoint and log."""

    def __init__(self, x, hyper: dict, epochs: int, seed: int, checkpoint, log, device):
        self.x, self.hyper, self.epochs, self.seed, self.checkpoint, self.log = x, hyper, epochs, seed, checkpoint, log
        self.priors, self.device = priors_of(hyper), device

    def start(self, index: int):
        """Model, optimiser and generator of start ``index`` (generator seeded :func:`start_seed`)."""
        generator = torch.Generator().manual_seed(start_seed(self.seed, index))
        model = build_model(self.hyper, generator).to(self.device)
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
                    model, optimizer, x, hyper["batch_size"], generator, priors=self.priors,
                    likelihood=hyper["likelihood"], precision=hyper["precision"], kl_z_weight=weight, read_z=read_z,
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
    if not {"state_dict", "hyper"} <= set(state) or not isinstance(state["hyper"], dict):
        raise not_ours(path, f"it holds the keys {sorted(map(str, state))}, not state_dict and hyper")
    try:
        model = build_model(state["hyper"])
        model.load_state_dict(state["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError, InputError) as exc:
        raise not_ours(path, f"its weights do not fit the model: {str(exc).splitlines()[0][:120]}") from None
    return model.to(pick_device(device) if device is not None else "cpu"), state["hyper"]

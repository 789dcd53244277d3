"""The rotationally-invariant variational autoencoder (rVAE): the encoder and the spatial decoder.

The model, in equations. A patch ``x`` (n x n pixels) is encoded into a Gaussian posterior over

- ``theta``: the rotation of the object in the patch (radians; only with ``rotation``),
- ``d = (dx, dy)``: its displacement (grid units; only with ``translation``),
- ``z = (z_1 .. z_k)``: everything else.

The decoder is a function ``g(u, z)`` of a point ``u = (u_x, u_y)`` in the object's own frame and
of ``z``. The image of pixel ``c`` (its coordinate on :func:`make_grid`) is

    x_hat(c) = g(R(theta) (c - d), z) = g(R(theta) c + s, z),     s = -R(theta) d,

so rotating and shifting the object is rotating and shifting the grid it is drawn on, and
``z`` only has to describe what does not change under rotation and translation. With
``rotation=False`` and ``translation=False`` the same class is a plain VAE with a spatial decoder.
Optionally (``ring_weight > 0``) the encoder also reads rotation-invariant ring spectra of the
patch (:class:`RingSpectrum`), which helps z tell neighbour geometries apart.

The loss the model is trained on, the negative ELBO, is in :mod:`rvae_pathways.rvae.loss`; the
decoder's activations and its hand-written tanh kernel (its hot path) in
:mod:`rvae_pathways.rvae.kernels`.

Conventions
-----------
Coordinates are ``(x, y)`` with ``x`` along image columns (left to right) and ``y`` along image
rows (top to bottom: y points down, as images are displayed). One grid unit is half the patch
width between the outer pixel centres: a pixel is ``2 / (n - 1)`` grid units.

``R(theta) = [[cos, -sin], [sin, cos]]`` acting on ``(x, y)`` columns, so ``R(pi/2)`` maps
``(1, 0)`` to ``(0, 1)``. Because the decoder reads the image at ``R(theta) c``, what it draws at
``theta`` is its drawing at ``theta = 0`` rotated by ``theta`` *counter-clockwise as displayed*
(y down). ``np.rot90(patch)`` turns a patch counter-clockwise as displayed, i.e. by
``theta = +pi/2``. The object's centre ``u = 0`` lies at ``c = d``: ``d`` is its displacement in
the image, ``(dx, dy)`` to the right and down.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor, nn

from ..core.config import defaults
from .kernels import TanhMLP, activation_function, activation_module, at_least_fp32

HYPER = defaults("rvae", "hyper")  # the config schema's rvae.hyper: RVAE's keyword defaults


def make_grid(n: int, device=None, dtype=torch.float32) -> Tensor:
    """Pixel-centre coordinates of an ``n`` x ``n`` patch, scaled to [-1, 1].

    Parameters
    ----------
    n : int
        Patch side in pixels (at least 2).

    Returns
    -------
    Tensor (n * n, 2)
        Row ``i * n + j`` holds the pixel in image row ``i`` and column ``j`` (row-major over
        ``(y, x)``, the order of ``patch.reshape(-1)``); column 0 is its ``x`` (from the column
        index ``j``), column 1 its ``y`` (from the row index ``i``, pointing down). The outer pixel
        centres sit at -1 and +1, so the grid is symmetric about 0 and a pixel is ``2 / (n - 1)``.
    """
    if n < 2:
        raise ValueError(f"a patch needs at least 2 pixels a side, got {n}")
    axis = torch.linspace(-1.0, 1.0, n, device=device, dtype=dtype)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)


def pixels_per_grid_unit(n: int) -> float:
    """Pixels in one grid unit of :func:`make_grid` for an ``n`` pixel patch: ``(n - 1) / 2``."""
    return (n - 1) / 2.0


def rotation_matrices(theta: Tensor) -> Tensor:
    """``R(theta) = [[cos, -sin], [sin, cos]]`` for each angle: (B,) -> (B, 2, 2)."""
    cos, sin = torch.cos(theta), torch.sin(theta)
    return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)


def transform_coords(coords: Tensor, theta: Tensor | None, shift: Tensor | None) -> Tensor:
    """Rotate each patch's coordinates by ``theta`` and add ``shift``: ``u = R(theta) c + shift``.

    Parameters
    ----------
    coords : Tensor (P, 2) or (B, P, 2)
        ``(x, y)`` coordinates, shared by every patch or one set per patch.
    theta : Tensor (B,) or None
        Angles in radians (see the module docstring for the sense); None: no rotation.
    shift : Tensor (B, 2) or None
        ``(x, y)`` shifts in grid units; None: no shift.

    Returns
    -------
    Tensor (B, P, 2)
    """
    batch = next((t.shape[0] for t in (theta, shift) if t is not None), None)
    if coords.dim() == 2:
        coords = coords.unsqueeze(0)
    if theta is not None:
        # (B, P, 2) = (1 or B, P, 2) @ (B, 2, 2)^T: rows are points, so multiply by R transposed
        coords = coords @ rotation_matrices(theta).transpose(1, 2)
    if shift is not None:
        coords = coords + shift[:, None, :]
    if batch is not None and coords.shape[0] != batch:
        coords = coords.expand(batch, -1, -1)
    return coords


def _mlp(n_in: int, hidden: int, layers: int, activation: str) -> nn.Sequential:
    """``layers`` x (Linear, activation), the first from ``n_in`` inputs, the others ``hidden`` wide."""
    modules: list[nn.Module] = []
    for i in range(layers):
        modules += [nn.Linear(n_in if i == 0 else hidden, hidden), activation_module(activation)]
    return nn.Sequential(*modules)


def ring_sampling_matrix(n: int, n_angles: int = 24) -> np.ndarray:
    """Bilinear weights (R * n_angles, n * n) that sample an n x n patch on rings about its centre.

    Rings of radius 1, 2, ... (n - 1) // 2 px around pixel ``(n - 1) / 2``, ``n_angles`` points
    each, starting on the +x axis and going counter-clockwise as displayed.
    """
    centre = (n - 1) / 2
    radii = np.arange(1, int(centre) + 1, dtype=float)
    angle = 2 * np.pi * np.arange(n_angles) / n_angles
    y = (centre - radii[:, None] * np.sin(angle)).ravel()  # rows grow downwards
    x = (centre + radii[:, None] * np.cos(angle)).ravel()
    weights = np.zeros((len(y), n * n))
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    for dy in (0, 1):
        for dx in (0, 1):
            w = (1 - np.abs(y - (y0 + dy))) * (1 - np.abs(x - (x0 + dx)))
            inside = (y0 + dy >= 0) & (y0 + dy < n) & (x0 + dx >= 0) & (x0 + dx < n)
            rows = np.flatnonzero(inside)
            np.add.at(weights, (rows, (y0 + dy)[inside] * n + (x0 + dx)[inside]), w[inside])
    return weights


class RingSpectrum(nn.Module):
    """Rotation-invariant features of a patch: amplitude spectra of rings around its centre.

    Each ring (radius 1 .. (n - 1) // 2 px, 24 points) is Fourier transformed along the angle;
    the amplitudes of harmonics 0 .. ``n_harmonics - 1`` do not change when the patch turns
    (exactly for multiples of 15 degrees, to interpolation otherwise). They say which angular
    symmetry each shell of neighbours has: three-fold for a lattice site, broken by a turned bond.
    Divided by the number of points per ring (amplitudes of the ring's mean) and multiplied by
    ``weight``, which sets how strongly they speak in the encoder's first layer beside the pixels.
    """

    def __init__(self, n: int, weight: float, n_harmonics: int = 7, n_angles: int = 24):
        super().__init__()
        matrix = torch.as_tensor(ring_sampling_matrix(n, n_angles), dtype=torch.float32)
        self.register_buffer("sampling", matrix, persistent=False)  # (R * A, n * n), derived from n
        self.n_rings, self.n_angles, self.n_harmonics = matrix.shape[0] // n_angles, n_angles, n_harmonics
        self.weight = float(weight)
        self.n_features = self.n_rings * n_harmonics

    def forward(self, x: Tensor) -> Tensor:
        rings = (x.flatten(1) @ self.sampling.T).view(-1, self.n_rings, self.n_angles)  # (B, R, A)
        amplitude = torch.fft.rfft(rings, dim=-1).abs()[..., : self.n_harmonics]  # (B, R, K)
        return amplitude.flatten(1) * (self.weight / self.n_angles)


class RingSpectrumDecoder(nn.Module):
    """z -> a patch's ring spectra (:class:`RingSpectrum`), standardised: a second thing to draw.

    With ``ring_reconstruction`` > 0 the rVAE also explains the rotation-invariant ring spectra of
    each patch from its content latents alone, a Gaussian of unit variance on every
    standardised feature (``(r - mean) / scale``, the mean and spread of each feature over the
    training patches: :meth:`standardise_on`)::

        loss = 0.5 * sum_f (g(z)_f - (r_f - mean_f) / scale_f) ** 2        per patch

    The pixels of a low-dose patch carry a neighbour's small displacement weakly, the ring
    spectra strongly (one harmonic on the first-neighbour ring separates 5-7 carbons from
    pristine ones on its own); so z has a reason to hold it.
    """

    def __init__(self, patch_size: int, n_latent: int, *, hidden: int, layers: int, activation: str):
        super().__init__()
        self.spectrum = RingSpectrum(patch_size, 1.0)
        n = self.spectrum.n_features
        self.net = nn.Sequential(_mlp(n_latent, hidden, layers, activation),
                                 nn.Linear(hidden if layers else n_latent, n))
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("scale", torch.ones(n))

    @torch.no_grad()
    def standardise_on(self, x, chunk: int = 4096) -> None:
        """Set ``mean`` and ``scale`` to each feature's mean and standard deviation over ``x`` (N, n, n),
        a tensor or the patches of several movies (:class:`~rvae_pathways.rvae.stores.PatchStores`)."""
        parts = x.parts(chunk, self.mean.device) if hasattr(x, "parts") else x.split(chunk)
        features = torch.cat([self.spectrum(part) for part in parts]).double()
        self.mean.copy_(features.mean(0))
        self.scale.copy_(features.std(0).clamp_min(1e-8))

    def loss(self, x: Tensor, z: Tensor) -> Tensor:
        """The term summed over the batch: patches x (B, n, n), their content latents z (B, k)."""
        with torch.no_grad():
            target = (self.spectrum(x.float()) - self.mean) / self.scale
        return 0.5 * ((self.net(z.float()) - target) ** 2).sum()


class Encoder(nn.Module):
    """Patch -> Gaussian posterior over ``(theta, dx, dy, z_1 .. z_k)``.

    Parameters
    ----------
    n_pixels : int
        Pixels per patch (``n * n``).
    n_latent : int
        Number of ``z`` (k).
    rotation, translation : bool
        Whether the posterior includes ``theta`` and ``(dx, dy)``.
    hidden, layers : int
        Width and number of hidden layers (fully connected; with ``conv`` the layers after the
        convolutions).
    activation : str
        One of :data:`~rvae_pathways.rvae.kernels.ACTIVATIONS`.
    conv : bool
        Two strided 3x3 convolutions (16 and 32 channels, each halving the patch) before the
        fully connected layers, instead of reading the flattened patch directly.
    ring_weight : float
        > 0: the fully connected layers also read the patch's :class:`RingSpectrum` (scaled by
        this weight), rotation-invariant features that let z tell apart neighbour geometries
        which the pixels alone leave to the rotation; 0: pixels only.

    ``forward(x)`` takes patches (B, n, n) and returns ``mean, log_std``, each (B, D) with columns
    in the order ``theta`` (if rotation), ``dx, dy`` (if translation), ``z_1 .. z_k``.
    """

    def __init__(self, n_pixels, n_latent, rotation, translation, *, hidden, layers, activation, conv, ring_weight):
        super().__init__()
        self.n_out = int(rotation) + 2 * int(translation) + n_latent
        side = math.isqrt(n_pixels)
        if side * side != n_pixels:
            raise ValueError(f"n_pixels={n_pixels} is not a square number of pixels")
        self.side = side
        if conv:
            self.features = nn.Sequential(
                nn.Conv2d(1, 16, 3, stride=2, padding=1),
                activation_module(activation),
                nn.Conv2d(16, 32, 3, stride=2, padding=1),
                activation_module(activation),
                nn.Flatten(),
            )
            reduced = (side + 1) // 2
            n_features = 32 * ((reduced + 1) // 2) ** 2
        else:
            self.features = nn.Flatten()
            n_features = n_pixels
        self.rings = RingSpectrum(side, ring_weight) if ring_weight > 0 else None
        if self.rings is not None:
            n_features += self.rings.n_features
        self.body = _mlp(n_features, hidden, layers, activation)
        self.head = nn.Linear(hidden if layers else n_features, 2 * self.n_out)
        self.conv = conv

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.features(x.unsqueeze(1) if self.conv else x)  # (B, features); (B, 1, n, n) into convolutions
        if self.rings is not None:
            h = torch.cat([h, self.rings(x)], dim=1)
        h = self.body(h)  # (B, hidden)
        mean, log_std = self.head(h).chunk(2, dim=-1)  # (B, D) each
        return mean, log_std


class SpatialDecoder(nn.Module):
    """``g(u, z)``: intensity at points ``u`` of the object's frame, given ``z``.

    The first layer is ``act(u @ W_u + z @ W_z + b)``; its ``z`` part is computed once per patch
    and added to every point. Then ``layers - 1`` hidden layers of width ``hidden`` and a linear
    output of one value per point (an intensity, or a logit with the Bernoulli likelihood).

    Parameters
    ----------
    n_latent : int
        Number of ``z`` (may be 0).
    hidden, layers : int
        Width and number of hidden layers (at least 1).
    activation : str
        One of :data:`~rvae_pathways.rvae.kernels.ACTIVATIONS`.
    """

    def __init__(self, n_latent, *, hidden, layers, activation):
        super().__init__()
        if layers < 1:
            raise ValueError(f"the decoder needs at least one hidden layer, got layers={layers}")
        self.coord_weight = nn.Parameter(torch.empty(2, hidden))  # W_u, (2, hidden)
        with warnings.catch_warnings():  # n_latent = 0: PyTorch warns that initialising W_z does nothing
            warnings.simplefilter("ignore", UserWarning)
            self.latent = nn.Linear(n_latent, hidden)  # W_z and b
        self.hidden = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers - 1))
        self.out = nn.Linear(hidden, 1)
        self.activation = activation
        self.act = activation_function(activation)
        bound = 1.0 / math.sqrt(2 + n_latent)
        nn.init.uniform_(self.coord_weight, -bound, bound)
        nn.init.uniform_(self.latent.weight, -bound, bound)
        nn.init.uniform_(self.latent.bias, -bound, bound)

    def forward(self, coords: Tensor, z: Tensor) -> Tensor:
        """coords (B, P, 2), z (B, k) -> intensities (B, P)."""
        batch, n_points, _ = coords.shape
        per_patch = self.latent(z)  # (B, hidden): z @ W_z + b, once per patch
        if self.activation == "tanh" and not torch.is_autocast_enabled(coords.device.type):
            hidden = [p for layer in self.hidden for p in (layer.weight, layer.bias)]
            return TanhMLP.apply(coords, per_patch, self.coord_weight, self.out.weight, self.out.bias, *hidden)
        # the same with autograd (other activations, autocast): c W_c + a, then the layers
        h = torch.matmul(coords, self.coord_weight.to(per_patch.dtype)) + per_patch[:, None, :]  # (B, P, hidden)
        h = self.act(h).reshape(batch * n_points, -1)
        for layer in self.hidden:
            h = self.act(layer(h))  # (B * P, hidden)
        return self.out(h).view(batch, n_points)


class RVAE(nn.Module):
    """Encoder + spatial decoder; rotation and translation act on the decoder's grid.

    The keyword defaults are the config schema's ``rvae.hyper`` (:data:`HYPER`): the model the
    workflow trains by default, ring spectra included.

    Parameters
    ----------
    patch_size : int
        Patch side n in pixels.
    n_latent : int
        Number of ``z``.
    rotation, translation : bool
        Latent rotation ``theta`` and translation ``(dx, dy)``; both False gives a plain VAE.
    hidden, layers, activation : int, int, str
        Shared by the encoder and the decoder.
    conv : bool
        Convolutional encoder (see :class:`Encoder`).
    ring_weight : float
        Rotation-invariant ring spectra as extra encoder inputs (see :class:`Encoder`); 0: none.
    ring_reconstruction : float
        > 0: the model also draws each patch's standardised ring spectra from z
        (:class:`RingSpectrumDecoder`, attribute ``ring_decoder``), a term of this weight in the
        training loss; 0: none (the model is then exactly the one without it).
    generator : torch.Generator, optional
        Draws the initial weights (each layer uniform in +-1/sqrt(fan_in), PyTorch's default
        scale), so that the initialisation depends on this generator only; without it PyTorch's
        global random state is used.
    """

    def __init__(
        self,
        patch_size,
        n_latent=HYPER["n_latent"],
        rotation=HYPER["rotation"],
        translation=HYPER["translation"],
        hidden=HYPER["hidden"],
        layers=HYPER["layers"],
        activation=HYPER["activation"],
        conv=HYPER["conv"],
        ring_weight=HYPER["ring_weight"],
        ring_reconstruction=HYPER["ring_reconstruction"],
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.patch_size = int(patch_size)
        self.ring_reconstruction = float(ring_reconstruction)
        self.n_latent = int(n_latent)
        self.rotation = bool(rotation)
        self.translation = bool(translation)
        width = {"hidden": hidden, "layers": layers, "activation": activation}
        self.encoder = Encoder(patch_size**2, n_latent, rotation, translation, **width, conv=conv,
                               ring_weight=ring_weight)
        self.decoder = SpatialDecoder(n_latent, **width)
        self.ring_decoder = RingSpectrumDecoder(patch_size, n_latent, **width) if self.ring_reconstruction > 0 else None
        self.register_buffer("grid", make_grid(self.patch_size), persistent=False)  # (P, 2)
        if generator is not None:
            reinitialise(self, generator)

    def columns(self, t: Tensor) -> dict:
        """Name the columns of an encoder output (B, D): ``theta`` (B,), ``shift`` (B, 2), ``z`` (B, k).

        ``theta`` and ``shift`` are left out when the model has no rotation or no translation.
        """
        out, i = {}, 0
        if self.rotation:
            out["theta"] = t[:, i]
            i += 1
        if self.translation:
            out["shift"] = t[:, i : i + 2]
            i += 2
        out["z"] = t[:, i:]
        return out

    def split(self, mean: Tensor, log_std: Tensor) -> dict:
        """The posterior by name: ``{"theta", "shift", "z"}`` -> ``(mean, log_std)`` (see :meth:`columns`)."""
        means, log_stds = self.columns(mean), self.columns(log_std)
        return {name: (means[name], log_stds[name]) for name in means}

    def coords(self, theta: Tensor | None, shift: Tensor | None, batch: int) -> Tensor:
        """Where each patch's pixels fall in its object's frame: ``u = R(theta) (c - d)``, (B, P, 2).

        ``theta`` (B,) in radians and ``shift`` = ``d`` (B, 2) in grid units; None for either
        leaves it out (both None: the plain grid for ``batch`` patches).
        """
        if theta is None and shift is None:
            return self.grid.expand(batch, -1, -1)
        s = None  # R(theta) (c - d) = R(theta) c + s with s = -R(theta) d
        if shift is not None:
            s = -shift if theta is None else -(rotation_matrices(theta) @ shift.unsqueeze(-1)).squeeze(-1)
        return transform_coords(self.grid, theta, s)

    def decode(self, z: Tensor, theta: Tensor | None = None, shift: Tensor | None = None) -> Tensor:
        """Draw patches: z (B, k), theta (B,) rad, shift = d (B, 2) grid units -> (B, n, n)."""
        coords = self.coords(theta, shift, z.shape[0])  # (B, P, 2)
        return self.decoder(coords, z).view(-1, self.patch_size, self.patch_size)

    def sample(self, mean: Tensor, log_std: Tensor, noise: Tensor | None = None, generator=None) -> dict:
        """``mean + exp(log_std) * eps`` by name (see :meth:`columns`).

        ``eps`` is ``noise`` (B, D), or drawn from ``generator`` on its device and then moved;
        PyTorch's global random state is never used, so one of the two is required.
        """
        if noise is None:
            if generator is None:
                raise ValueError("sampling needs a torch.Generator or the noise; sample=False decodes the means")
            noise = torch.randn(mean.shape, generator=generator, device=generator.device)
        return self.columns(mean + log_std.exp() * noise.to(mean.device))

    def forward(self, x: Tensor, sample: bool = True, generator: torch.Generator | None = None, noise=None):
        """Encode, sample the posterior, decode.

        Parameters
        ----------
        x : Tensor (B, n, n)
        sample : bool
            Draw ``mean + exp(log_std) * eps`` (reparametrisation); False: decode the means.
        generator : torch.Generator, optional
            Source of ``eps`` (drawn on the generator's device); needed to sample without ``noise``.
        noise : Tensor (B, D), optional
            Standard-normal ``eps`` to use instead of drawing them.

        Returns
        -------
        reconstruction : Tensor (B, n, n)
        posterior : dict
            ``{"theta", "shift", "z"}`` -> ``(mean, log_std)`` as in :meth:`split`.
        """
        mean, log_std = self.encoder(x)  # (B, D) each
        mean, log_std = at_least_fp32(mean), at_least_fp32(log_std)
        draw = self.sample(mean, log_std, noise, generator) if sample else self.columns(mean)
        reconstruction = self.decode(draw["z"], draw.get("theta"), draw.get("shift"))  # (B, n, n)
        return reconstruction, self.split(mean, log_std)


def reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    """Redraw every weight and bias uniform in +-1/sqrt(fan_in) from ``generator``, in place.

    ``fan_in`` is the number of inputs of the layer (for the decoder's first layer: 2 coordinates
    plus k latents). Layers are visited in ``module.modules()`` order, so the draw is reproducible.
    """

    def draw(p: Tensor, fan_in: int) -> None:
        bound = 1.0 / math.sqrt(max(fan_in, 1))
        values = torch.rand(p.shape, generator=generator, device=generator.device, dtype=p.dtype)
        p.copy_((2 * values - 1) * bound)

    decoders = [sub for sub in module.modules() if isinstance(sub, SpatialDecoder)]
    done = {id(d.latent) for d in decoders}  # drawn with their decoder's first layer
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, SpatialDecoder):
                fan_in = 2 + sub.latent.in_features
                for p in (sub.coord_weight, sub.latent.weight, sub.latent.bias):
                    draw(p, fan_in)
            elif isinstance(sub, (nn.Linear, nn.Conv2d)) and id(sub) not in done:
                fan_in = sub.weight[0].numel()
                draw(sub.weight, fan_in)
                if sub.bias is not None:
                    draw(sub.bias, fan_in)

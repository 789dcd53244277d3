"""The rotationally-invariant variational autoencoder (rVAE): encoder, spatial decoder, loss.

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

import torch
from torch import Tensor, nn
from torch.nn import functional as F

# name -> in-place activation (in place saves one large allocation per layer on the hot path)
ACTIVATIONS = {
    "tanh": torch.tanh_,
    "relu": torch.relu_,
    "silu": lambda h: F.silu(h, inplace=True),
    "elu": lambda h: F.elu(h, inplace=True),
    "softplus": F.softplus,
    "gelu": F.gelu,
}


def activation_function(name: str):
    """The activation called ``name`` (one of :data:`ACTIVATIONS`), applied in place where possible."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


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
    act = {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU, "elu": nn.ELU, "softplus": nn.Softplus, "gelu": nn.GELU}
    activation_function(activation)  # validates the name
    modules: list[nn.Module] = []
    for i in range(layers):
        modules += [nn.Linear(n_in if i == 0 else hidden, hidden), act[activation]()]
    return nn.Sequential(*modules)


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
        One of :data:`ACTIVATIONS`.
    conv : bool
        Two strided 3x3 convolutions (16 and 32 channels, each halving the patch) before the
        fully connected layers, instead of reading the flattened patch directly.

    ``forward(x)`` takes patches (B, n, n) and returns ``mean, log_std``, each (B, D) with columns
    in the order ``theta`` (if rotation), ``dx, dy`` (if translation), ``z_1 .. z_k``.
    """

    def __init__(self, n_pixels, n_latent, rotation, translation, hidden=128, layers=2, activation="tanh", conv=False):
        super().__init__()
        self.n_out = int(rotation) + 2 * int(translation) + n_latent
        side = math.isqrt(n_pixels)
        if side * side != n_pixels:
            raise ValueError(f"n_pixels={n_pixels} is not a square number of pixels")
        self.side = side
        if conv:
            act = type(_mlp(1, 1, 1, activation)[1])
            self.features = nn.Sequential(
                nn.Conv2d(1, 16, 3, stride=2, padding=1),
                act(),
                nn.Conv2d(16, 32, 3, stride=2, padding=1),
                act(),
                nn.Flatten(),
            )
            reduced = (side + 1) // 2
            n_features = 32 * ((reduced + 1) // 2) ** 2
        else:
            self.features = nn.Flatten()
            n_features = n_pixels
        self.body = _mlp(n_features, hidden, layers, activation)
        self.head = nn.Linear(hidden if layers else n_features, 2 * self.n_out)
        self.conv = conv

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = x.unsqueeze(1) if self.conv else x  # (B, 1, n, n) for the convolutions
        h = self.body(self.features(h))  # (B, hidden)
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
        One of :data:`ACTIVATIONS`.
    """

    def __init__(self, n_latent, hidden=128, layers=2, activation="tanh"):
        super().__init__()
        if layers < 1:
            raise ValueError(f"the decoder needs at least one hidden layer, got layers={layers}")
        self.coord_weight = nn.Parameter(torch.empty(2, hidden))  # W_u, (2, hidden)
        with warnings.catch_warnings():  # n_latent = 0: PyTorch warns that initialising W_z does nothing
            warnings.simplefilter("ignore", UserWarning)
            self.latent = nn.Linear(n_latent, hidden)  # W_z and b
        self.hidden = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers - 1))
        self.out = nn.Linear(hidden, 1)
        self.act = activation_function(activation)
        bound = 1.0 / math.sqrt(2 + n_latent)
        nn.init.uniform_(self.coord_weight, -bound, bound)
        nn.init.uniform_(self.latent.weight, -bound, bound)
        nn.init.uniform_(self.latent.bias, -bound, bound)

    def forward(self, coords: Tensor, z: Tensor) -> Tensor:
        """coords (B, P, 2), z (B, k) -> intensities (B, P)."""
        batch, n_points, _ = coords.shape
        per_patch = self.latent(z)  # (B, hidden): z @ W_z + b, once per patch
        weight = self.coord_weight.to(per_patch.dtype).expand(batch, -1, -1)  # (B, 2, hidden)
        h = self.act(torch.baddbmm(per_patch.unsqueeze(1), coords.to(per_patch.dtype), weight))  # (B, P, hidden)
        h = h.reshape(batch * n_points, -1)
        for layer in self.hidden:
            h = self.act(layer(h))  # (B * P, hidden)
        return self.out(h).view(batch, n_points)


class RVAE(nn.Module):
    """Encoder + spatial decoder; rotation and translation act on the decoder's grid.

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
    generator : torch.Generator, optional
        Draws the initial weights (each layer uniform in +-1/sqrt(fan_in), PyTorch's default
        scale), so that the initialisation depends on this generator only; without it PyTorch's
        global random state is used.
    """

    def __init__(
        self,
        patch_size,
        n_latent=2,
        rotation=True,
        translation=True,
        hidden=128,
        layers=2,
        activation="tanh",
        conv=False,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.patch_size = int(patch_size)
        self.n_latent = int(n_latent)
        self.rotation = bool(rotation)
        self.translation = bool(translation)
        self.encoder = Encoder(patch_size**2, n_latent, rotation, translation, hidden, layers, activation, conv)
        self.decoder = SpatialDecoder(n_latent, hidden, layers, activation)
        self.register_buffer("grid", make_grid(self.patch_size), persistent=False)  # (P, 2)
        if generator is not None:
            reinitialise(self, generator)

    def split(self, mean: Tensor, log_std: Tensor) -> dict:
        """Name the encoder's columns: ``{"theta", "shift", "z"}`` -> ``(mean, log_std)``.

        ``theta`` is (B,), ``shift`` (B, 2), ``z`` (B, k); absent pieces are left out.
        """
        out, i = {}, 0
        if self.rotation:
            out["theta"] = (mean[:, i], log_std[:, i])
            i += 1
        if self.translation:
            out["shift"] = (mean[:, i : i + 2], log_std[:, i : i + 2])
            i += 2
        out["z"] = (mean[:, i:], log_std[:, i:])
        return out

    def decode(self, z: Tensor, theta: Tensor | None = None, shift: Tensor | None = None) -> Tensor:
        """Draw patches: z (B, k), theta (B,) rad, shift = d (B, 2) grid units -> (B, n, n)."""
        if theta is None and shift is None:
            coords = self.grid.expand(z.shape[0], -1, -1)  # (B, P, 2)
        else:
            # u = R(theta) (c - d) = R(theta) c - R(theta) d
            s = None
            if shift is not None:
                s = -(shift if theta is None else (rotation_matrices(theta) @ shift.unsqueeze(-1)).squeeze(-1))
            coords = transform_coords(self.grid, theta, s)  # (B, P, 2)
        return self.decoder(coords, z).view(-1, self.patch_size, self.patch_size)

    def forward(self, x: Tensor, sample: bool = True, generator: torch.Generator | None = None, noise: Tensor | None = None):
        """Encode, sample the posterior, decode.

        Parameters
        ----------
        x : Tensor (B, n, n)
        sample : bool
            Draw ``mean + exp(log_std) * eps`` (reparametrisation); False: decode the means.
        generator : torch.Generator, optional
            Source of ``eps`` (drawn on the generator's device, then moved to ``x``'s).
        noise : Tensor (B, D), optional
            Standard-normal ``eps`` to use instead of drawing them.

        Returns
        -------
        reconstruction : Tensor (B, n, n)
        posterior : dict
            ``{"theta", "shift", "z"}`` -> ``(mean, log_std)`` as in :meth:`split`.
        """
        mean, log_std = self.encoder(x)  # (B, D) each
        mean, log_std = mean.float(), log_std.float()
        if sample:
            if noise is None:
                gen_device = generator.device if generator is not None else mean.device
                noise = torch.randn(mean.shape, generator=generator, device=gen_device)
            draw = mean + log_std.exp() * noise.to(mean.device)
        else:
            draw = mean
        parts = self.split(draw, draw)
        theta = parts["theta"][0] if self.rotation else None
        shift = parts["shift"][0] if self.translation else None
        reconstruction = self.decode(parts["z"][0], theta, shift)
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


DEFAULT_PRIORS = {"rotation_prior_rad": 0.1, "translation_prior": 0.1, "noise_std": math.sqrt(0.5)}


def kl_normal(mean: Tensor, log_std: Tensor, prior_std: float) -> Tensor:
    """KL( N(mean, exp(log_std)^2) || N(0, prior_std^2) ), elementwise.

    ``log(prior_std) - log_std + (exp(2 log_std) + mean^2) / (2 prior_std^2) - 1/2``
    """
    return math.log(prior_std) - log_std + (torch.exp(2 * log_std) + mean**2) / (2 * prior_std**2) - 0.5


def elbo_loss(x: Tensor, reconstruction: Tensor, posterior: dict, priors: dict | None = None, likelihood: str = "gaussian") -> dict:
    """The negative ELBO and its terms, per patch, averaged over the batch.

    Parameters
    ----------
    x : Tensor (B, n, n)
        The patches (floats roughly in [0, 1]).
    reconstruction : Tensor (B, n, n)
        The decoder's output: intensities (Gaussian) or logits (Bernoulli).
    posterior : dict
        ``{"theta", "shift", "z"}`` -> ``(mean, log_std)`` from :meth:`RVAE.forward`.
    priors : dict, optional
        Missing keys take :data:`DEFAULT_PRIORS`:

        - ``rotation_prior_rad``: std of the N(0, s^2) prior on theta in radians; None: a uniform
          prior on the angle, so no KL on theta.
        - ``translation_prior``: std of the N(0, s^2) prior on dx and dy, in grid units (a pixel is
          ``2 / (n - 1)`` grid units: 0.1 is 1.55 px on a 32 px patch).
        - ``noise_std``: the Gaussian likelihood's pixel noise sigma, in the units of ``x``. The
          default sqrt(1/2) makes the term a plain sum of squared errors.
    likelihood : {"gaussian", "bernoulli"}
        Gaussian: ``sum (x - x_hat)^2 / (2 sigma^2)`` over pixels (the constant
        ``P log(sigma sqrt(2 pi))`` is left out). Bernoulli: binary cross-entropy of the logits
        against ``x`` clipped to [0, 1], summed over pixels.

    Returns
    -------
    dict of scalar Tensors: ``total = reconstruction + kl_z + kl_theta + kl_shift``.
    """
    p = dict(DEFAULT_PRIORS, **(priors or {}))
    x = x.float()
    reconstruction = reconstruction.float()
    batch = x.shape[0]
    if likelihood == "gaussian":
        rec = ((x - reconstruction) ** 2).sum() / (2 * p["noise_std"] ** 2)
    elif likelihood == "bernoulli":
        rec = F.binary_cross_entropy_with_logits(reconstruction, x.clamp(0, 1), reduction="sum")
    else:
        raise ValueError(f"unknown likelihood {likelihood!r}; choose 'gaussian' or 'bernoulli'")
    zero = rec.new_zeros(())
    kl_z = kl_normal(*posterior["z"], 1.0).sum() if posterior["z"][0].numel() else zero
    kl_theta = zero
    if "theta" in posterior and p["rotation_prior_rad"] is not None:
        kl_theta = kl_normal(*posterior["theta"], p["rotation_prior_rad"]).sum()
    kl_shift = kl_normal(*posterior["shift"], p["translation_prior"]).sum() if "shift" in posterior else zero
    terms = {"reconstruction": rec, "kl_z": kl_z, "kl_theta": kl_theta, "kl_shift": kl_shift}
    terms = {k: v / batch for k, v in terms.items()}
    terms["total"] = terms["reconstruction"] + terms["kl_z"] + terms["kl_theta"] + terms["kl_shift"]
    return terms

"""What a latent explorer page shows, gathered from the rules' outputs (see :mod:`.explorer`).

The page (one per model: ``results/<sample>/<model>/explorer.html``, or ``w<window>/explorer.html``
for a PFM window size) draws one point per patch (STEM: an atom in one frame) or per window (PFM)
twice: in the latent plane and in the frame it was cut from. This module turns the Zarr stores the
workflow wrote into :class:`ExplorerData`: the points' columns, the quantities they may be coloured
by, the frames and the patch thumbnails, both as small ``uint8`` images so that the page stays
small (frames block-averaged to at most ``MAX_FRAME_SIDE`` px and ``FRAME_BUDGET_BYTES`` in all,
thumbnails resampled so that all of them take at most ``THUMBNAIL_BUDGET_BYTES``).

Nothing here computes a result: classes come from ``trajectories.zarr`` (rule analyse_pathways),
PFM domains from ``latents.zarr`` (rule encode_pfm_patches), and a simulator's labels, where the
stores carry them, are shown as a colouring named "true ..." (they are data, not scores).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kit import class_colour, class_names, discrete_colours, display_limits, rotation_deg

# Thumbnails of all points together at most this many bytes (one byte per pixel): the demo's
# 14,500 patches of 15 x 15 take 3.3 MB; 100,000 patches are shown at 10 x 10.
THUMBNAIL_BUDGET_BYTES = 10_000_000
# Frames: at most this side (px, block-averaged) and this many bytes for the whole movie.
MAX_FRAME_SIDE = 512
FRAME_BUDGET_BYTES = 6_000_000
# Thumbnails are never made smaller than this side (px), whatever the budget.
MIN_THUMBNAIL_SIDE = 6


@dataclass
class Colouring:
    """One quantity the points may be coloured by.

    ``kind`` "categorical": the column holds codes 0..len(names)-1 (-1: unknown, drawn grey),
    one colour each; "continuous": the column's 1st-99th percentiles span ``palette``.
    """

    column: str
    label: str
    kind: str
    palette: list[str]
    low: float
    high: float
    names: list[str] = field(default_factory=list)


@dataclass
class ExplorerData:
    """Everything one explorer page draws (built by :func:`stem_explorer_data`, :func:`pfm_explorer_data`).

    Attributes
    ----------
    title : str
    columns : dict of 1-D arrays, one row per point
        Always ``patch`` (row in the patch and latent stores), ``frame``, ``track``, ``x_pos`` and
        ``y_pos`` (position in the frame, in ``units``), the latents (``latent_names``) and the
        colourings' columns.
    latent_names : list of str
        Columns holding the content latents, ``z1``, ``z2``, ...
    colourings : list of Colouring
        The first is shown when the page opens.
    hover_lines : list of str
        HTML lines of the tooltip, with Bokeh's ``@column`` fields (``@column{custom}``: a
        categorical colouring's code by name).
    frames : uint8 array (frame, y, x)
        The frames (grey levels 0-255, row 0 at the top), downsampled by ``frame_step``.
    extent : (x0, y0, width, height)
        Where the frames lie, in ``units`` (pixel edges: x0 = -half a pixel).
    units : str
        "nm", or "px" without a pixel size.
    thumbnails : uint8 array (point, side, side)
    marker_size : float
        Marker diameter in ``units`` in the frame view (half an atom spacing, a window's stride).
    noun, plural : str
        What a point is: "patch" (STEM) or "window" (PFM), and the plural.
    frame_name : str
        What the frame view shows ("HAADF frame", "piezoresponse").
    track_name : str
        What links points over frames ("track", "window").
    attrs : dict
        Written as ``data-*`` attributes on the page's root element (sample, model).
    """

    title: str
    columns: dict
    latent_names: list
    colourings: list
    hover_lines: list
    frames: np.ndarray
    extent: tuple
    units: str
    thumbnails: np.ndarray
    marker_size: float
    noun: str = "patch"
    plural: str = "patches"
    frame_name: str = "frame"
    track_name: str = "track"
    frame_step: int = 1
    attrs: dict = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        return int(len(self.columns["patch"]))


def to_uint8(images, limits: tuple[float, float] | None = None) -> np.ndarray:
    """Grey levels 0-255 of ``images`` between ``limits`` (default: their 0.5-99.5 percentiles)."""
    images = np.asarray(images, dtype=np.float32)
    if images.size == 0:
        return images.astype(np.uint8)
    low, high = display_limits([images]) if limits is None else limits
    scaled = (images - low) * (255.0 / (high - low))
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).round().astype(np.uint8)


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix averaging ``n_in`` samples into ``n_out`` by the overlap of their cells."""
    edges_in = np.arange(n_in + 1) / n_in
    edges_out = np.arange(n_out + 1) / n_out
    overlap = (np.minimum(edges_out[1:, None], edges_in[None, 1:])
               - np.maximum(edges_out[:-1, None], edges_in[None, :-1]))
    weights = np.clip(overlap, 0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def thumbnail_side(n_points: int, patch_px: int, budget_bytes: int = THUMBNAIL_BUDGET_BYTES) -> int:
    """Thumbnail side (px): the patch's own, or less so that ``n_points`` thumbnails fit the budget."""
    if n_points <= 0:
        return int(patch_px)
    fits = int(np.sqrt(budget_bytes / n_points))
    return int(min(patch_px, max(MIN_THUMBNAIL_SIDE, fits)))


def thumbnails(images, side: int | None = None, budget_bytes: int = THUMBNAIL_BUDGET_BYTES,
               block: int = 4096) -> np.ndarray:
    """The patches as ``uint8`` thumbnails (point, side, side), on one grey scale for all.

    Parameters
    ----------
    images : array-like (patch, py, px)
        Read a block at a time (a dask or Zarr-backed array is fine).
    side : int, optional
        Default: :func:`thumbnail_side` of the count and the budget.
    budget_bytes : int
    block : int
        Patches resampled at a time.
    """
    n, py, px = images.shape
    side = thumbnail_side(n, max(py, px), budget_bytes) if side is None else int(side)
    sample = np.asarray(images[np.linspace(0, n - 1, min(n, 2000)).astype(int)] if n else images, dtype=np.float32)
    limits = display_limits([sample]) if n else (0.0, 1.0)
    rows, cols = area_weights(py, side), area_weights(px, side)
    out = np.empty((n, side, side), dtype=np.uint8)
    for start in range(0, n, block):
        chunk = np.asarray(images[start:start + block], dtype=np.float32)
        if (py, px) != (side, side):
            chunk = np.einsum("ij,njk,lk->nil", rows, chunk, cols, optimize=True)
        out[start:start + block] = to_uint8(chunk, limits)
    return out


def frame_step(n_frames: int, height: int, width: int, max_side: int = MAX_FRAME_SIDE,
               budget_bytes: int = FRAME_BUDGET_BYTES) -> int:
    """Block size that brings every frame to at most ``max_side`` and the movie to the budget."""
    step = max(1, int(np.ceil(max(height, width) / max_side)))
    while n_frames * int(np.ceil(height / step)) * int(np.ceil(width / step)) > budget_bytes:
        step += 1
    return step


def frame_images(frames, max_side: int = MAX_FRAME_SIDE, budget_bytes: int = FRAME_BUDGET_BYTES
                 ) -> tuple[np.ndarray, int]:
    """The frames (frame, y, x) as ``uint8`` on one grey scale, block-averaged; and the block size.

    ``frames`` is read one frame at a time. A border that does not fill a block is averaged over
    what it has.
    """
    n, height, width = frames.shape
    step = frame_step(n, height, width, max_side, budget_bytes)
    picks = sorted({0, n // 2, n - 1})
    limits = display_limits([np.asarray(frames[i], dtype=np.float32) for i in picks])
    out = np.empty((n, -(-height // step), -(-width // step)), dtype=np.uint8)
    for i in range(n):
        image = np.asarray(frames[i], dtype=np.float32)
        if step > 1:
            image = block_mean(image, step)
        out[i] = to_uint8(image, limits)
    return out, step


def block_mean(image: np.ndarray, step: int) -> np.ndarray:
    """Mean over ``step`` x ``step`` blocks (the last row and column of blocks may be partial)."""
    h, w = image.shape
    ny, nx = -(-h // step), -(-w // step)
    padded = np.full((ny * step, nx * step), np.nan, dtype=np.float32)
    padded[:h, :w] = image
    return np.nanmean(padded.reshape(ny, step, nx, step), axis=(1, 3))


def hex_colour(colour) -> str:
    from matplotlib.colors import to_hex

    return to_hex(colour)


def categorical(column: str, label: str, names: list[str], true_codes: bool = False) -> Colouring:
    """A colouring by codes 0..k-1; ``true_codes``: a simulator's structure codes, coloured as the
    figures colour them (tab10 by code), else the figures' colours of k classes."""
    k = max(len(names), 1)
    colours = [class_colour(c) for c in range(k)] if true_codes else discrete_colours(k)
    return Colouring(column, label, "categorical", [hex_colour(c) for c in colours], -0.5, k - 0.5,
                     list(names) or ["class 0"])


def continuous(column: str, label: str, values: np.ndarray, cmap: str = "viridis",
               limits: tuple[float, float] | None = None) -> Colouring:
    """A colouring by value along a matplotlib colour map (256 steps) between the 1st and 99th percentiles."""
    import matplotlib

    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if limits is None:
        low, high = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
    else:
        low, high = limits
    if high <= low:
        low, high = low - 0.5, high + 0.5
    palette = [hex_colour(c) for c in matplotlib.colormaps[cmap](np.linspace(0, 1, 256))]
    return Colouring(column, label, "continuous", palette, float(low), float(high))


def latent_columns(z: np.ndarray) -> dict:
    z = np.asarray(z, dtype=np.float32).reshape(len(z), -1)
    return {f"z{k + 1}": z[:, k] for k in range(z.shape[1])}


def position_columns(y, x, pixel_size_nm: float | None) -> tuple[dict, str, float]:
    """The points' positions in nm (px without a pixel size), the unit, and the scale used."""
    scale = float(pixel_size_nm) if pixel_size_nm else 1.0
    units = "nm" if pixel_size_nm else "px"
    return ({"y_pos": np.asarray(y, dtype=np.float32) * scale, "x_pos": np.asarray(x, dtype=np.float32) * scale},
            units, scale)


def frame_extent(shape, scale: float) -> tuple[float, float, float, float]:
    """(x0, y0, width, height) of full-resolution frames of ``shape`` (y, x), pixel edges, in the units."""
    height, width = shape
    return (-0.5 * scale, -0.5 * scale, width * scale, height * scale)


def latent_hover(latent_names: list[str]) -> str:
    return "latents: " + ", ".join(f"{name} = @{name}{{0.000}}" for name in latent_names)


def common_colourings(columns: dict, latent_names: list[str], n_frames: int) -> list[Colouring]:
    """Frame, rotation, intensity, and the latents beyond the first two."""
    out = [continuous("frame", "frame", columns["frame"], "viridis", (0, max(n_frames - 1, 1)))]
    if "theta" in columns:
        out.append(continuous("theta", "rotation theta (deg)", columns["theta"], "twilight", (-180.0, 180.0)))
    out.append(continuous("intensity", "intensity", columns["intensity"], "magma"))
    out += [continuous(name, f"latent {name}", columns[name], "coolwarm") for name in latent_names[2:]]
    return out


def stem_explorer_data(aligned, patches, latents, tracks, trajectories, sample: str = "",
                       thumbnail_budget: int = THUMBNAIL_BUDGET_BYTES) -> ExplorerData:
    """The explorer of one STEM model: every patch, in the latent plane and on its aligned frame.

    Parameters
    ----------
    aligned : xarray.Dataset
        ``aligned.zarr``: ``image`` (frame, y, x), ``attrs["pixel_size_nm"]``.
    patches : xarray.Dataset
        ``patches.zarr``: ``image`` (patch, py, px) and the true labels where simulated.
    latents : xarray.Dataset
        The model's ``latents.zarr`` (same patch order).
    tracks : xarray.Dataset
        ``tracks.zarr``: ``track`` of every atom.
    trajectories : xarray.Dataset
        The model's ``trajectories.zarr``: ``class_of_patch`` and the class count.
    """
    n = latents.sizes["patch"]
    atom = np.asarray(latents["atom"].values, dtype=np.int64)
    pixel = aligned.attrs.get("pixel_size_nm")
    positions, units, scale = position_columns(latents["y"].values, latents["x"].values, pixel)
    columns = {
        "patch": np.arange(n, dtype=np.int32),
        "frame": np.asarray(latents["frame"].values, dtype=np.int32),
        "atom": atom.astype(np.int32),
        "track": np.asarray(tracks["track"].values, dtype=np.int32)[atom],
        **positions,
        **latent_columns(latents["z_mean"].values),
    }
    latent_names = [name for name in columns if name.startswith("z")]
    theta = rotation_deg(latents)
    if theta is not None:
        columns["theta"] = theta.astype(np.float32)
    columns["intensity"] = np.asarray(latents["intensity"].values, dtype=np.float32)
    k = int(trajectories.attrs.get("n_classes", 0)) or int(trajectories["class_of_patch"].max()) + 1
    columns["class"] = np.asarray(trajectories["class_of_patch"].values, dtype=np.int32)
    colourings = [categorical("class", "class (Gaussian mixture)", [f"class {c}" for c in range(k)])]
    colourings += common_colourings(columns, latent_names, aligned.sizes["frame"])
    true_names = class_names(patches)
    hover_extra = []
    if "true_class" in patches and true_names:
        columns["true_class"] = np.asarray(patches["true_class"].values, dtype=np.int32)
        colourings.append(categorical("true_class", "true class (simulator)", true_names, true_codes=True))
        hover_extra.append("true class: @true_class{custom}")
    frames, step = frame_images(aligned["image"])
    spacing_px = tracks.attrs.get("spacing_px") or 10.0
    model = str(latents.attrs.get("model", ""))
    lines = ["patch @patch, frame @frame", "atom @atom, track @track",
             f"y, x = @y_pos{{0.000}}, @x_pos{{0.000}} {units}", latent_names_hover(latent_names, theta is not None),
             "class: @class{custom}", *hover_extra]
    return ExplorerData(
        title=f"{sample}: {model_title(model)} latent explorer",
        columns=columns, latent_names=latent_names, colourings=colourings, hover_lines=lines,
        frames=frames, extent=frame_extent(aligned["image"].shape[1:], scale), units=units,
        thumbnails=thumbnails(patches["image"].data, budget_bytes=thumbnail_budget),
        marker_size=0.45 * float(spacing_px) * scale, noun="patch", frame_name="aligned HAADF frame",
        track_name="track", frame_step=step, attrs={"sample": sample, "model": model},
    )


def latent_names_hover(latent_names: list[str], rotation: bool) -> str:
    line = latent_hover(latent_names)
    return line + (", theta = @theta{0.0} deg" if rotation else "")


def model_title(model: str) -> str:
    return {"rvae": "rVAE", "vae": "VAE"}.get(model, f"rVAE ({model})" if model.startswith("w") else model)


def sign_codes(values) -> np.ndarray:
    """+1 -> 1 (up), -1 -> 0 (down), anything else -> -1 (unknown)."""
    values = np.asarray(values)
    return np.where(values > 0, 1, np.where(values < 0, 0, -1)).astype(np.int32)


def pfm_explorer_data(frames, patches, latents, sample: str = "",
                      thumbnail_budget: int = THUMBNAIL_BUDGET_BYTES) -> ExplorerData:
    """The explorer of one PFM window size: every window, in the latent plane and on its piezoresponse frame.

    A window's "track" is the same grid place (row, col) in every frame, numbered
    ``row * grid_cols + col``.
    """
    n = latents.sizes["patch"]
    pixel = frames.attrs.get("pixel_size_nm")
    positions, units, scale = position_columns(latents["y"].values, latents["x"].values, pixel)
    row = np.asarray(latents["row"].values, dtype=np.int32)
    col = np.asarray(latents["col"].values, dtype=np.int32)
    n_cols = int(latents.attrs.get("grid_cols", int(col.max()) + 1 if n else 1))
    columns = {
        "patch": np.arange(n, dtype=np.int32),
        "frame": np.asarray(latents["frame"].values, dtype=np.int32),
        "row": row, "col": col, "track": row * n_cols + col,
        **positions,
        **latent_columns(latents["z_mean"].values),
    }
    latent_names = [name for name in columns if name.startswith("z")]
    theta = rotation_deg(latents)
    if theta is not None:
        columns["theta"] = theta.astype(np.float32)
    columns["intensity"] = np.asarray(latents["intensity"].values, dtype=np.float32)
    colourings = []
    if "domain" in latents:
        columns["domain"] = sign_codes(latents["domain"].values)
        colourings.append(categorical("domain", "domain (decoded sign)", ["down", "up"]))
    colourings += common_colourings(columns, latent_names, frames.sizes["frame"])
    if "true_domain" in patches:
        columns["true_domain"] = sign_codes(patches["true_domain"].values)
        colourings.append(categorical("true_domain", "true domain (simulator)", ["down", "up"]))
    images, step = frame_images(frames["image"])
    window = int(latents.attrs.get("window_px", patches.attrs.get("window_px", 8)))
    stride = int(latents.attrs.get("stride_px", patches.attrs.get("stride_px", window)))
    model = str(latents.attrs.get("model", f"w{window}"))
    lines = ["window @patch, frame @frame", "grid row @row, col @col (track @track)",
             f"centre y, x = @y_pos{{0.0}}, @x_pos{{0.0}} {units}", latent_names_hover(latent_names, theta is not None)]
    if "domain" in columns:
        lines.append("domain: @domain{custom}")
    if "true_domain" in columns:
        lines.append("true domain: @true_domain{custom}")
    return ExplorerData(
        title=f"{sample}: rVAE latent explorer, windows of {window} px",
        columns=columns, latent_names=latent_names, colourings=colourings, hover_lines=lines,
        frames=images, extent=frame_extent(frames["image"].shape[1:], scale), units=units,
        thumbnails=thumbnails(patches["image"].data, budget_bytes=thumbnail_budget),
        marker_size=0.5 * stride * scale, noun="window", plural="windows", frame_name="piezoresponse frame",
        track_name="window", frame_step=step, attrs={"sample": sample, "model": model},
    )


def synthetic_explorer_data(n_points: int, frames: int = 20, size_px: int = 256, patch_side: int = 15,
                            n_latents: int = 2, seed: int = 0) -> ExplorerData:
    """A page's worth of synthetic points (for ``bench/explorer.py`` and the browser tests): atoms on
    a jittered grid in ``frames`` frames of ``size_px`` px, latents in three clusters, noisy patches of
    ``patch_side`` px with a bright spot. A point's track is its grid place."""
    import xarray as xr

    rng = np.random.default_rng(seed)
    per_frame = -(-n_points // frames)
    frame = np.repeat(np.arange(frames), per_frame)[:n_points]
    slot = np.tile(np.arange(per_frame), frames)[:n_points]
    side = int(np.ceil(np.sqrt(per_frame)))
    spacing = (size_px - 20) / side
    y = 10 + (slot // side + 0.5) * spacing + rng.normal(0, 0.05 * spacing, n_points)
    x = 10 + (slot % side + 0.5) * spacing + rng.normal(0, 0.05 * spacing, n_points)
    kind = rng.choice(3, n_points, p=[0.8, 0.15, 0.05])
    centres = rng.normal(0, 2, (3, n_latents))
    z = centres[kind] + rng.normal(0, 0.4, (n_points, n_latents))
    yy, xx = np.mgrid[:patch_side, :patch_side] - (patch_side - 1) / 2
    spot = np.exp(-(yy ** 2 + xx ** 2) / 8.0)
    images = (spot[None] * (1 + kind[:, None, None]) + rng.normal(0, 0.2, (n_points, patch_side, patch_side)))
    movie = rng.normal(0, 0.2, (frames, size_px, size_px)).astype(np.float32)
    movie[frame, np.clip(y.round().astype(int), 0, size_px - 1), np.clip(x.round().astype(int), 0, size_px - 1)] += 3
    pix = 0.01
    latents = xr.Dataset(
        {"z_mean": (("patch", "latent"), z.astype(np.float32)), "atom": ("patch", np.arange(n_points)),
         "frame": ("patch", frame.astype(np.int32)), "y": ("patch", y.astype(np.float32)),
         "x": ("patch", x.astype(np.float32)), "intensity": ("patch", images.max(axis=(1, 2)).astype(np.float32)),
         "theta_deg": ("patch", rng.uniform(-180, 180, n_points).astype(np.float32))},
        attrs={"model": "rvae"})
    patches = xr.Dataset({"image": (("patch", "py", "px"), images.astype(np.float32)),
                          "true_class": ("patch", kind.astype(np.int32))},
                         attrs={"true_class_names": "pristine C,Si,C in 5-7 defect"})
    aligned = xr.Dataset({"image": (("frame", "y", "x"), movie)}, attrs={"pixel_size_nm": pix})
    track = slot.astype(np.int32)  # the same grid place in every frame
    tracks = xr.Dataset({"track": ("atom", track)}, attrs={"spacing_px": float(spacing)})
    trajectories = xr.Dataset({"class_of_patch": ("patch_order", kind.astype(np.int16))}, attrs={"n_classes": 3})
    return stem_explorer_data(aligned, patches, latents, tracks, trajectories, sample="synthetic")

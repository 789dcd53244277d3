"""The figure kit: page sizes and style, figures and their saving, scale bars, colours of classes,
labels and display limits, shared by every figure module.

Figures are built on :class:`~matplotlib.figure.Figure` with an Agg canvas (:func:`new_figure`),
never through ``pyplot``: nothing opens a window, nothing is left in pyplot's list of open figures,
and importing a figure module selects no backend. :func:`save_figure` writes a PNG at ``DPI`` dots
per inch.

Conventions
-----------
- Positions are ``(y, x)`` in pixels with the image drawn as stored (row 0 at the top); the
  pixel size comes from ``attrs["pixel_size_nm"]`` and sets a scale bar (in Angstrom below
  1 nm). Without a pixel size the scale bar is in px.
- Latent coordinates are ``z_mean[:, 0]`` (:math:`z_1`) and ``z_mean[:, 1]`` (:math:`z_2`),
  dimensionless ("a.u."). Angles are read from ``theta_deg`` (degrees) and wrapped to
  [-180, 180). A model without a rotation latent (``attrs["model"] == "vae"``, or
  ``theta_deg`` absent or all zero) gets a panel that says "no rotation latent".
- Structural classes (``true_class``; -1 unknown) keep one colour per class code in every
  figure, so a class missing from one sample does not shift the others' colours.
- Widths are at most ``PAGE_WIDTH_IN`` inches and heights at most ``MAX_HEIGHT_IN``.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

DPI = 150


PAGE_WIDTH_IN = 7.2


MAX_HEIGHT_IN = 9.5


STYLE = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 11,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


ATOM_COLOUR = "#ff8c1a"


UNKNOWN_CLASS_COLOUR = "#9a9a9a"


NO_ROTATION_TEXT = "no rotation latent"


NO_SHIFT_TEXT = "no translation latent"


def styled(func):
    """Run a plotting function inside this module's rc settings (font sizes, white background)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def new_figure(width_in: float, height_in: float):
    """A constrained-layout :class:`~matplotlib.figure.Figure` on an Agg canvas (no pyplot).

    Parameters
    ----------
    width_in, height_in : float
        Size in inches, clipped to ``PAGE_WIDTH_IN`` x ``MAX_HEIGHT_IN``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = (min(float(width_in), PAGE_WIDTH_IN), min(float(height_in), MAX_HEIGHT_IN))
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path):
    """Write ``fig`` as a PNG at ``DPI`` (creating the folder) and return it.

    Titles, labels and colour bars are first fitted inside the canvas (:func:`fit_to_canvas`:
    the figure may grow up to the page size, and texts wider than the page wrap), so a
    one-frame, tall or wide figure keeps its whole title. The figure was never registered with pyplot, so there is nothing to close: it is freed when
    the caller drops it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fit_to_canvas(fig)
    fig.savefig(path, dpi=DPI, format="png")
    return fig


def fit_to_canvas(fig, pad_px: float = 4.0, rounds: int = 5) -> None:
    """Keep every title, label and colour bar of ``fig`` inside its canvas (run by :func:`save_figure`).

    The layout runs at the figure's size. Where what it drew reaches past the edges (a title
    wider than a one-frame figure, a label longer than a flat panel), the figure grows by that
    much, at most to ``PAGE_WIDTH_IN`` x ``MAX_HEIGHT_IN``, and the layout runs again; where it
    crossed one edge only (the constrained layout misplacing a label of a fixed-aspect image),
    the area the layout fills also moves in from that edge. Horizontal texts that still do not
    fit at the page size are wrapped at the canvas edge, between words. A figure that fits is
    left as it is.
    """
    from matplotlib.text import Text

    def overflow(draws=4):
        # after a change the constrained layout starts from the last draw's labels: draw until it settles
        extents = None
        for _ in range(draws):
            fig.draw_without_rendering()
            box = fig.get_tightbbox(fig.canvas.get_renderer()).transformed(fig.dpi_scale_trans)
            if extents is not None and np.allclose(box.extents, extents, atol=0.5):
                break
            extents = box.extents
        return np.maximum(0.0, [-box.x0, box.x1 - fig.bbox.width, -box.y0, box.y1 - fig.bbox.height])

    engine = fig.get_layout_engine()
    has_rect = engine is not None and "rect" in engine.get()

    def state():
        return tuple(fig.get_size_inches()), engine.get()["rect"] if has_rect else None

    def restore(size, rect):
        fig.set_size_inches(*size)
        if has_rect:
            engine.set(rect=rect)

    last = None  # (overflow, state before the last change)
    for round_ in range(rounds):
        over = overflow(1 if round_ == 0 else 4)
        if over.max() <= 0.5:
            return
        if last is not None and over.sum() > 0.8 * last[0]:  # no better: a text wider than the page
            restore(*last[1])
            break
        last = (over.sum(), state())
        over = np.where(over > 0.5, over + pad_px, 0.0)  # left, right, bottom, top (px)
        width, height = fig.get_size_inches()
        fig.set_size_inches(min(width + (over[0] + over[1]) / fig.dpi, PAGE_WIDTH_IN),
                            min(height + (over[2] + over[3]) / fig.dpi, MAX_HEIGHT_IN))
        if has_rect:  # move the layout in from an edge it crossed on one side only (a misplaced label)
            x0, y0, w, h = engine.get()["rect"]
            dx0, dx1 = (0.0, 0.0) if over[0] and over[1] else (over[0] / fig.bbox.width, over[1] / fig.bbox.width)
            dy0, dy1 = (0.0, 0.0) if over[2] and over[3] else (over[2] / fig.bbox.height, over[3] / fig.bbox.height)
            engine.set(rect=(x0 + dx0, y0 + dy0, max(w - dx0 - dx1, 0.5), max(h - dy0 - dy1, 0.5)))
        if state() == last[1]:  # at the page size with nothing to move: only wrapping can help
            break
    else:
        if overflow().max() <= 0.5:
            return
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_rotation() == 0 and " " in text.get_text().strip():
            text.set_wrap(True)


def no_data(ax, text: str) -> None:
    """Write ``text`` in the middle of an axes that has nothing to show."""
    ax.text(
        0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=10,
        color="0.2", bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.6", "alpha": 0.9},
    )


def bare_image_axes(ax) -> None:
    """Hide the ticks of an image panel (its scale bar gives the length)."""
    ax.set_xticks([])
    ax.set_yticks([])


def scale_bar_length(width_nm: float, fraction: float = 0.2) -> tuple[float, str]:
    """A round scale-bar length close to ``fraction`` of an image width, and its label.

    The length is the largest 1, 2 or 5 times a power of ten not above ``fraction * width_nm``;
    below 1 nm the label is in Angstrom.

    Parameters
    ----------
    width_nm : float
        Width of the image in nm (positive).
    fraction : float

    Returns
    -------
    length_nm : float
    label : str, e.g. ``"5 nm"`` or ``"2 Å"``
    """
    if not (width_nm > 0 and np.isfinite(width_nm)):
        raise ValueError(f"image width must be a positive number of nm, got {width_nm!r}")
    length = _round_down_125(fraction * width_nm)
    if length >= 1.0:
        return length, f"{length:g} nm"
    return length, f"{round(length * 10, 6):g} Å"


def _round_down_125(value: float) -> float:
    """Largest 1, 2 or 5 times a power of ten that does not exceed ``value`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    for step in (5.0, 2.0, 1.0):
        if step * power <= value * (1 + 1e-9):
            return round(step * power, 12)
    return power


def add_scale_bar(ax, width_px: int, pixel_size_nm: float | None, colour: str = "white") -> str:
    """Draw a scale bar in the lower left of an image panel.

    Parameters
    ----------
    ax : matplotlib Axes
        Holds an image drawn with ``imshow`` (x from -0.5 to ``width_px`` - 0.5).
    width_px : int
        Image width in px.
    pixel_size_nm : float or None
        Without a valid pixel size the bar is labelled in px.
    colour : str

    Returns
    -------
    str
        The bar's label. Its artists carry ``gid="scale-bar"``.
    """
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import blended_transform_factory

    if pixel_size_nm is not None and np.isfinite(pixel_size_nm) and pixel_size_nm > 0:
        length_nm, label = scale_bar_length(width_px * pixel_size_nm)
        length_px = length_nm / pixel_size_nm
    else:
        length_px = _round_down_125(0.2 * width_px)
        label = f"{length_px:g} px"
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    x0 = -0.5 + 0.05 * width_px
    outline = [patheffects.withStroke(linewidth=2, foreground="black")]
    ax.add_patch(
        Rectangle((x0, 0.05), length_px, 0.022, transform=trans, facecolor=colour, edgecolor="black",
                  linewidth=0.5, gid="scale-bar", zorder=5)
    )
    ax.text(x0 + length_px / 2, 0.085, label, transform=trans, ha="center", va="bottom", color=colour,
            fontsize=8, fontweight="bold", path_effects=outline, gid="scale-bar", zorder=5)
    return label


def pixel_size_of(ds) -> float | None:
    """``attrs["pixel_size_nm"]`` of a Dataset as a float, or None where missing or invalid."""
    value = getattr(ds, "attrs", {}).get("pixel_size_nm")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def class_names(ds) -> list[str]:
    """Names of the structural classes from ``attrs["true_class_names"]`` (comma-separated or a list)."""
    names = getattr(ds, "attrs", {}).get("true_class_names", "")
    if isinstance(names, str):
        names = names.split(",") if names else []
    return [str(n).strip() for n in names]


def class_colour(code: int):
    """Colour of structural class ``code``: tab10 by code, grey for -1 (unknown)."""
    import matplotlib

    if code < 0:
        return UNKNOWN_CLASS_COLOUR
    return matplotlib.colormaps["tab10"](int(code) % 10)


def class_label(code: int, names: list[str]) -> str:
    if code < 0:
        return "unknown"
    return names[code] if code < len(names) else f"class {code}"


def pathway_class_names(trajectories, n_classes: int | None = None) -> list[str]:
    """Class names of the trajectories (see :mod:`rvae_pathways.figures.trajectories`) from
    ``attrs["class_names"]`` (comma-separated or a list), padded to ``n_classes``.

    Missing names are ``"class <i>"``; ``n_classes`` defaults to ``attrs["n_classes"]`` or the
    number of names.
    """
    attrs = getattr(trajectories, "attrs", {})
    names = attrs.get("class_names", "")
    if isinstance(names, str):
        names = names.split(",") if names else []
    names = [str(n).strip() for n in names]
    if n_classes is None:
        n_classes = int(attrs.get("n_classes", len(names)))
    return padded_names(names, n_classes)


def padded_names(names, k: int) -> list[str]:
    """``k`` class names: those given, then ``"class <i>"`` for the missing ones."""
    names = [] if names is None else [str(n) for n in names]
    return [names[i] if i < len(names) else f"class {i}" for i in range(k)]


def track_array(trajectories, name: str) -> np.ndarray:
    """A ``(track, frame[, latent])`` variable of the trajectories in that dim order."""
    da = trajectories[name]
    order = [d for d in ("track", "frame", "latent") if d in da.dims]
    return np.asarray(da.transpose(*order).values)


def trajectory_frames(trajectories) -> np.ndarray:
    """Frame numbers of the trajectories: the ``frame`` coordinate, else 0, 1, ..."""
    if "frame" in trajectories.coords:
        return np.asarray(trajectories["frame"].values)
    return np.arange(trajectories.sizes["frame"])


def rotation_deg(latents) -> np.ndarray | None:
    """Rotation latent in degrees wrapped to [-180, 180), or None for a model without one.

    None when ``theta_deg`` is absent, all zero, or ``attrs["model"] == "vae"``.
    """
    if "theta_deg" not in latents or str(latents.attrs.get("model", "")).lower() == "vae":
        return None
    theta = np.asarray(latents["theta_deg"].values, dtype=float)
    if theta.size == 0 or not np.any(np.abs(theta) > 1e-6):
        return None
    return (theta + 180.0) % 360.0 - 180.0


def shift_px(latents, name: str) -> np.ndarray | None:
    """A translation latent (px), or None where absent or all zero."""
    if name not in latents:
        return None
    values = np.asarray(latents[name].values, dtype=float)
    return values if values.size and np.any(np.abs(values) > 1e-9) else None


def latent_columns(latents, n: int = 2) -> list[np.ndarray]:
    """The first ``n`` latent coordinates ``z_mean[:, k]`` (fewer if the model has fewer)."""
    z = np.asarray(latents["z_mean"].values, dtype=float)
    if z.ndim == 1:
        z = z[:, None]
    return [z[:, k] for k in range(min(n, z.shape[1]))]


def count_label(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 frame"``, ``"3 frames"``; ``plural`` for nouns that do not just add an s."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def z_label(k: int) -> str:
    return f"$z_{k + 1}$ (a.u.)"


def model_name(latents) -> str:
    return str(latents.attrs.get("model", "model")).replace("rvae", "rVAE").replace("vae", "VAE")


def choose_frames(n_frames: int, frames_to_show=None) -> list[int]:
    """Frame indices to draw: ``frames_to_show`` checked, or the first, middle and last frame."""
    if n_frames < 1:
        raise ValueError("the movie has no frames")
    if frames_to_show is None:
        return sorted({0, n_frames // 2, n_frames - 1})
    shown = [int(i) for i in np.atleast_1d(frames_to_show)]
    bad = [i for i in shown if not 0 <= i < n_frames]
    if bad or not shown:
        raise ValueError(f"frames_to_show must be indices 0..{n_frames - 1}, got {list(np.atleast_1d(frames_to_show))}")
    return shown


def typical_spacing_px(y, x) -> float | None:
    """Median nearest-neighbour distance of the points (px), or None for fewer than two points."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    if y.size < 2:
        return None
    from scipy.spatial import cKDTree

    points = np.column_stack([y, x])
    distance, _ = cKDTree(points).query(points, k=2)
    spacing = float(np.median(distance[:, 1]))
    return spacing if spacing > 0 else None


def marker_area(diameter_px: float, width_px: int, panel_width_in: float) -> float:
    """Scatter marker area (pt^2) for a marker ``diameter_px`` wide in an image panel."""
    points = diameter_px * panel_width_in * 72.0 / max(width_px, 1)
    return float(np.clip(points, 1.5, 30.0) ** 2)


def display_limits(images, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
    """Robust grey-scale limits shared by several images."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in images])
    vmin, vmax = np.percentile(values, [low, high])
    if vmax <= vmin:
        vmin, vmax = float(values.min()), float(values.max())
        if vmax <= vmin:
            vmax = vmin + 1.0
    return float(vmin), float(vmax)


def panel_size(n_cols: int, n_rows: int, aspect: float, extra_w: float, extra_h: float) -> float:
    """Panel width (in) so that a grid of panels plus margins fits the page."""
    width = (PAGE_WIDTH_IN - extra_w) / n_cols
    height_limit = (MAX_HEIGHT_IN - extra_h) / (n_rows * aspect)
    return max(0.8, min(width, height_limit, 3.4))


def discrete_colours(k: int) -> list:
    """``k`` distinguishable colours (tab10, tab20, then samples of turbo)."""
    import matplotlib

    if k <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(k)]
    if k <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(k)]
    return [matplotlib.colormaps["turbo"](v) for v in np.linspace(0.05, 0.95, k)]


def tick_every(n: int, most: int = 9) -> int:
    return max(1, math.ceil(n / most))


def histogram_bins(values: np.ndarray, most: int = 60) -> np.ndarray:
    """Histogram bin edges: numpy's "auto" rule, at most ``most`` bins, never zero-width."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or values.max() == values.min():
        centre = float(values[0]) if values.size else 0.0
        return np.linspace(centre - 0.5, centre + 0.5, 6)
    edges = np.histogram_bin_edges(values, bins="auto")
    if len(edges) - 1 > most:
        edges = np.linspace(values.min(), values.max(), most + 1)
    return edges


def robust_norm(values: np.ndarray):
    """Colour limits from the 1st and 99th percentiles (never of zero width)."""
    from matplotlib.colors import Normalize

    lo, hi = np.percentile(values, [1, 99]) if values.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return Normalize(float(lo), float(hi))

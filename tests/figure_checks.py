"""Checks shared by the figure tests (test_plots, test_plots_pfm, test_plots_pathways)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from matplotlib.image import imread
from matplotlib.text import Text
from PIL import Image

from rvae_pathways.figures import kit


def check_png(path, min_px=300, max_px=1500):
    """The file is an RGB(A) PNG at about 150 dpi, page-sized, and not blank; returns the image."""
    assert path.is_file()
    image = imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    height, width = image.shape[:2]
    assert min_px <= width <= max_px and min_px <= height <= 1450, image.shape
    assert image[..., :3].std() > 0.02
    dpi = Image.open(path).info.get("dpi")
    assert dpi is not None and abs(dpi[0] - kit.DPI) < 1
    return image


def colorbars(fig):
    return [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None and ax.get_visible()]


def colorbar_labels(fig):
    return [ax._colorbar.ax.get_xlabel() or ax._colorbar.ax.get_ylabel() for ax in colorbars(fig)]


def panels(fig):
    return [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is None and ax.get_visible()]


def all_text(fig):
    """Every text of the figure (titles, labels, ticks, annotations, legends), one per line."""
    return "\n".join(t.get_text() for t in fig.findobj(Text))


def scale_bar_labels(ax):
    return [t.get_text() for t in ax.texts if t.get_gid() == "scale-bar"]


def run_without_pyplot(code: str) -> None:
    """Run ``code`` (statements separated by ``;``) in a fresh Python, from the repository root
    with ``tests`` importable, and fail unless it succeeds without importing ``matplotlib.pyplot``."""
    root = Path(__file__).resolve().parents[1]
    script = f"import sys; sys.path.insert(0, 'tests'); {code}; " \
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr


def drawn_extents(fig):
    """Save ``fig`` the way :func:`kit.save_figure` does and return the canvas size of the PNG
    written, ``(width_px, height_px)``, and ``[(artist, Bbox)]`` of every text drawn while saving
    (titles, suptitle, axis and tick labels, colour-bar labels, legends, scale-bar labels, ...)
    and of every visible colour bar, in the PNG's pixels (origin at the bottom left).

    The extents are taken from the renderer of that very save, after the layout it ran, so they
    are what the PNG holds; a text clipped to its axes counts only with its visible part.
    """
    import tempfile

    from matplotlib.transforms import Bbox

    drawn = {}  # by artist, from the last draw of the figure (the PNG's, after the layout passes)
    original = Text.draw
    figure_draw = fig.draw

    def recording_figure_draw(renderer):
        drawn.clear()
        return figure_draw(renderer)

    def recording_draw(self, renderer):
        original(self, renderer)
        if not self.get_visible() or not self.get_text().strip():
            return
        box = self.get_window_extent(renderer)
        clip = self.get_clip_box() if self.get_clip_on() else None
        if clip is not None:
            box = Bbox.intersection(box, clip)
            if box is None:  # clipped away entirely: nothing of it is in the PNG
                return
        drawn[id(self)] = (self, box)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "figure.png"
        Text.draw, fig.draw = recording_draw, recording_figure_draw
        try:
            kit.save_figure(fig, path)
        finally:
            Text.draw = original
            del fig.draw
        renderer = fig.canvas.get_renderer()
        drawn = list(drawn.values())
        for ax in colorbars(fig):
            drawn.append((ax, ax.get_window_extent(renderer)))
        with Image.open(path) as png:
            size = png.size
    return size, drawn


def assert_inside_canvas(fig, tolerance_px=2.0):
    """Every text and colour bar of ``fig`` lies inside the canvas of the PNG it saves to."""
    (width, height), drawn = drawn_extents(fig)
    assert drawn, "nothing was drawn"
    outside = []
    for artist, box in drawn:
        if (box.x0 < -tolerance_px or box.y0 < -tolerance_px or box.x1 > width + tolerance_px
                or box.y1 > height + tolerance_px):
            what = f"text {artist.get_text()!r}" if isinstance(artist, Text) else "colour bar"
            outside.append(f"{what} at x {box.x0:.0f}..{box.x1:.0f}, y {box.y0:.0f}..{box.y1:.0f}")
    assert not outside, f"outside the {width} x {height} px canvas: " + "; ".join(outside)

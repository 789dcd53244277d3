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

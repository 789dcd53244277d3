"""Figure of the data overview: aligned frames with the found atoms circled.

:func:`plot_data_overview` takes the frames and atoms Datasets (the layouts of ``aligned.zarr``
and ``atoms.zarr``).

The ``plot_*`` function here writes one PNG at ``DPI`` dots per inch and returns the
:class:`matplotlib.figure.Figure` (useful in tests; drop it when done). Nothing here imports
``pyplot``; the figure kit and its conventions (pixels, scale bars, latents, class colours, page
sizes) are in :mod:`rvae_pathways.figures.kit`.
"""

from __future__ import annotations

import numpy as np

from .kit import (
    ATOM_COLOUR,
    add_scale_bar,
    bare_image_axes,
    choose_frames,
    count_label,
    display_limits,
    marker_area,
    new_figure,
    panel_size,
    pixel_size_of,
    save_figure,
    styled,
    typical_spacing_px,
)


@styled
def plot_data_overview(frames, atoms, path, frames_to_show=None):
    """First, middle and last frame with the found atoms circled.

    Parameters
    ----------
    frames : xarray.Dataset
        ``image (frame, y, x)``, ``attrs["pixel_size_nm"]`` (the aligned frames); frames the reader
        skipped (``attrs["skipped_frames"]``, see :func:`rvae_pathways.core.frames.drop_bad_frames`)
        are named in the title.
    atoms : xarray.Dataset
        Dim ``atom`` with ``frame`` (index), ``y`` and ``x`` (px).
    path : path-like
        The PNG written.
    frames_to_show : sequence of int, optional
        Frame indices; default first, middle and last (one panel for a one-frame movie).

    Returns
    -------
    matplotlib.figure.Figure
        One image axes per frame shown and one colour bar (intensity).
    """
    n_frames = frames.sizes["frame"]
    shown = choose_frames(n_frames, frames_to_show)
    ny, nx = frames.sizes["y"], frames.sizes["x"]
    pixel = pixel_size_of(frames)
    atom_frame = np.asarray(atoms["frame"].values)
    atom_y = np.asarray(atoms["y"].values, dtype=float)
    atom_x = np.asarray(atoms["x"].values, dtype=float)

    panel_w = panel_size(len(shown), 1, ny / nx, extra_w=0.9, extra_h=1.0)
    fig = new_figure(panel_w * len(shown) + 0.9, panel_w * ny / nx + 1.0)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    images = [frames["image"].isel(frame=i).values for i in shown]
    vmin, vmax = display_limits(images)
    for ax, i, image in zip(axes, shown, images):
        im = ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax)
        here = atom_frame == i
        spacing = typical_spacing_px(atom_y[here], atom_x[here]) or 0.05 * nx
        ax.scatter(atom_x[here], atom_y[here], s=marker_area(0.7 * spacing, nx, panel_w),
                   facecolors="none", edgecolors=ATOM_COLOUR, linewidths=0.7)
        ax.set_xlim(-0.5, nx - 0.5)
        ax.set_ylim(ny - 0.5, -0.5)
        ax.set_title(f"frame {i}: {count_label(int(here.sum()), 'atom')}")
        bare_image_axes(ax)
        add_scale_bar(ax, nx, pixel)
    fig.colorbar(im, ax=list(axes), label="intensity (normalised)", shrink=0.85)
    pixel_text = f", {pixel * 10:g} Å/px" if pixel else ""
    skipped = [int(i) for i in frames.attrs.get("skipped_frames", [])]
    skipped_text = (f"\nskipped as unusable (prepare.skip_bad_frames): frame{'s' if len(skipped) > 1 else ''} "
                    f"{', '.join(map(str, skipped))} of the file; frames are numbered after them" if skipped else "")
    fig.suptitle(f"Aligned frames and found atoms ({count_label(atom_frame.size, 'atom')} in "
                 f"{count_label(n_frames, 'frame')}{pixel_text}){skipped_text}")
    return save_figure(fig, path)

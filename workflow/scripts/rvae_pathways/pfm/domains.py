"""Domains read from the latent space: every window's +1 / -1 label, the state the field switches
to, how much of each frame has switched, and the walls between disagreeing windows. The workflow,
the exports, the figures and the scores all use these."""

from __future__ import annotations

import numpy as np


def domain_labels(centre_values: np.ndarray) -> np.ndarray:
    """Up (+1) or down (-1), int8, of windows from the signed response decoded at their centres (0 counts as up)."""
    return np.where(np.asarray(centre_values, dtype=float) >= 0, 1, -1).astype(np.int8)


def switched_state(first_labels) -> int:
    """The state a field switches to: of +1 and -1, the one in the minority among the first frame's
    window labels (-1 on a tie, and for no labels), so it does not depend on the arbitrary latent sign."""
    first_labels = np.asarray(first_labels)
    return 1 if np.sum(first_labels == 1) < np.sum(first_labels == -1) else -1


def switched_fraction(labels, frame, n_frames: int) -> tuple[np.ndarray, int]:
    """Per frame, the share of the labelled windows in the switched state.

    Parameters
    ----------
    labels : array (n_windows,)
        +1 / -1 domain label of every window; any other value (unassigned) is left out.
    frame : int array (n_windows,)
        Frame of every window, in ``0 .. n_frames - 1``.
    n_frames : int

    Returns
    -------
    fraction : float array (n_frames,)
        NaN for a frame without labelled windows.
    state : int
        :func:`switched_state` of frame 0's labels.
    """
    labels = np.asarray(labels).reshape(-1)
    frame = np.asarray(frame).astype(int).reshape(-1)
    if labels.size != frame.size:
        raise ValueError(f"{labels.size} labels for {frame.size} windows")
    state = switched_state(labels[frame == 0])
    assigned = ((labels == 1) | (labels == -1)) & (frame >= 0) & (frame < n_frames)
    counts = np.bincount(frame[assigned], minlength=n_frames)[:n_frames]
    in_state = np.bincount(frame[assigned], weights=(labels[assigned] == state).astype(float), minlength=n_frames)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(counts > 0, in_state[:n_frames] / np.maximum(counts, 1), np.nan)
    return fraction, state


def wall_points(labels_grid: np.ndarray, centre_y: np.ndarray, centre_x: np.ndarray) -> list[np.ndarray]:
    """Wall points of every frame: midway between 4-neighbouring windows with different labels.

    Parameters
    ----------
    labels_grid : (frames, rows, cols) array of +1/-1
        0 marks a missing window, which makes no wall.
    centre_y, centre_x : (frames, rows, cols) arrays
        The windows' centres in frame px.

    Returns
    -------
    list (one per frame) of (n, 2) float arrays of (y, x).
    """
    grid = np.asarray(labels_grid)
    points = []
    for f in range(grid.shape[0]):
        found = []
        # each window against the one below it, then against the one to its right
        for lo, hi in (((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
                       ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
            a, b = grid[f][lo], grid[f][hi]
            differ = (a != b) & (a != 0) & (b != 0)
            found.append(np.column_stack([(centre_y[f][lo][differ] + centre_y[f][hi][differ]) / 2,
                                          (centre_x[f][lo][differ] + centre_x[f][hi][differ]) / 2]))
        points.append(np.concatenate(found))
    return points

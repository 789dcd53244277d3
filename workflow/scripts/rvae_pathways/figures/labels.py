"""Labels that never hide one another: :func:`spread_labels` moves text artists apart until no two
bounding boxes overlap, and :func:`overlapping_labels` checks it (the tests use it).

Greedy, in the order given (the first label keeps its place): each label in turn tries offsets on
rings of growing radius around its own position (8 directions per ring, then 16, ...) and takes
the first where its box clears every label placed before it and stays inside its panel (the
canvas for a figure text), else the first that clears the others. A label that moved more than
its own height away is tied to its anchor by a thin leader line. Positions are in display
pixels, so the figure must have its final size; :func:`spread_labels` draws the canvas first.
"""

from __future__ import annotations

import numpy as np

__all__ = ["overlapping_labels", "spread_labels"]

PAD_PX = 2.0  # clearance between two labels' boxes
STEP_PX = 5.0  # ring spacing of the trial offsets
MAX_RINGS = 40


def _boxes_overlap(a, b, pad=PAD_PX) -> bool:
    return not (a.x1 + pad <= b.x0 or b.x1 + pad <= a.x0 or a.y1 + pad <= b.y0 or b.y1 + pad <= a.y0)


def _inside(box, canvas) -> bool:
    return box.x0 >= canvas.x0 and box.y0 >= canvas.y0 and box.x1 <= canvas.x1 and box.y1 <= canvas.y1


def _shift(text, dx_px, dy_px, base):
    """Put ``text`` ``(dx, dy)`` display pixels away from its starting position ``base``."""
    from matplotlib.text import Annotation

    if isinstance(text, Annotation) and text.anncoords == "offset points":
        points = 72.0 / text.figure.dpi
        text.xyann = (base[0] + dx_px * points, base[1] + dy_px * points)
    else:
        transform = text.get_transform()
        x0, y0 = transform.transform(base)
        text.set_position(transform.inverted().transform((x0 + dx_px, y0 + dy_px)))


def _trials():
    yield 0.0, 0.0
    for ring in range(1, MAX_RINGS + 1):
        n = 8 * ((ring + 1) // 2)
        for angle in np.linspace(0, 2 * np.pi, n, endpoint=False) + np.pi / 2:
            yield ring * STEP_PX * np.cos(angle), ring * STEP_PX * np.sin(angle)


def spread_labels(fig, texts, fixed=(), leader_colour="0.3") -> list:
    """Move ``texts`` (matplotlib ``Text`` or ``Annotation`` artists of ``fig``) so that none
    overlaps another nor one of ``fixed`` (texts that stay where they are); returns the leader
    lines drawn (gid ``"label-leader"``)."""
    from matplotlib.patches import ConnectionPatch
    from matplotlib.text import Annotation

    for text in texts:  # where a label goes must not move the panels (constrained layout)
        text.set_in_layout(False)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    placed = [t.get_window_extent(renderer) for t in fixed if t.get_visible() and t.get_text()]
    leaders = []
    for text in texts:
        if not text.get_visible() or not text.get_text():
            continue
        offset_based = isinstance(text, Annotation) and text.anncoords == "offset points"
        base = tuple(text.xyann) if offset_based else tuple(text.get_position())
        start = text.get_window_extent(renderer)
        box, fallback = start, None
        for dx, dy in _trials():
            _shift(text, dx, dy, base)
            box = text.get_window_extent(renderer)
            if not any(_boxes_overlap(box, other) for other in placed):
                if _inside(box, text.axes.bbox if text.axes is not None else fig.bbox):
                    break
                fallback = fallback or (dx, dy)  # clear of the others, but past its panel or the canvas
        else:
            if fallback is not None:
                _shift(text, *fallback, base)
                box = text.get_window_extent(renderer)
        placed.append(box)
        moved = np.hypot(box.x0 - start.x0, box.y0 - start.y0)
        if moved > max(start.height, 1.0) and text.axes is not None:
            anchor = text.xy if isinstance(text, Annotation) else base
            coords = text.xycoords if isinstance(text, Annotation) else text.get_transform()
            centre = text.axes.transData.inverted().transform(((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2))
            line = ConnectionPatch(anchor, centre, coordsA=coords, coordsB="data", axesA=text.axes, axesB=text.axes,
                                   color=leader_colour, linewidth=0.6, zorder=text.get_zorder() - 0.5,
                                   gid="label-leader")
            line.set_in_layout(False)
            text.axes.add_artist(line)
            leaders.append(line)
    return leaders


def overlapping_labels(fig, texts) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty ``texts`` whose boxes overlap (no padding), as their strings."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    shown = [t for t in texts if t.get_visible() and t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in shown]
    return [(shown[i].get_text(), shown[j].get_text()) for i in range(len(shown)) for j in range(i + 1, len(shown))
            if _boxes_overlap(boxes[i], boxes[j], pad=0.0)]

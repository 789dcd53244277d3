"""Figure of a model's training history: the loss terms against epoch.

:func:`plot_training_history` takes the history table the training writes (a dict of lists or a
DataFrame).

The ``plot_*`` function here writes one PNG at ``DPI`` dots per inch and returns the
:class:`matplotlib.figure.Figure` (useful in tests; drop it when done). Nothing here imports
``pyplot``; the figure kit and its conventions (pixels, scale bars, latents, class colours, page
sizes) are in :mod:`rvae_pathways.figures.kit`.
"""

from __future__ import annotations

import numpy as np

from .kit import (
    PAGE_WIDTH_IN,
    count_label,
    new_figure,
    no_data,
    save_figure,
    styled,
)

TERM_LABELS = {
    "loss": "total",
    "total": "total",
    "reconstruction": "reconstruction",
    "kl_z": "KL of z",
    "kl_theta": "KL of θ",
    "kl_shift": "KL of shift",
}


def _history_columns(history) -> dict[str, np.ndarray]:
    """A dict of lists or a DataFrame as a dict of float arrays."""
    if hasattr(history, "columns"):
        return {str(c): np.asarray(history[c], dtype=float) for c in history.columns}
    return {str(k): np.asarray(v, dtype=float) for k, v in dict(history).items()}


def _term_label(name: str) -> str:
    if name.startswith("val_"):
        return f"{TERM_LABELS.get(name[4:], name[4:])} (validation)"
    return TERM_LABELS.get(name, name)


def _use_log_scale(series: list[np.ndarray]) -> bool:
    """Log y when every value is positive and they span at least a factor of ten."""
    values = np.concatenate(series) if series else np.array([])
    values = values[np.isfinite(values)]
    return bool(values.size and values.min() > 0 and values.max() / values.min() >= 10)


def _log_y_axis(ax, series: list[np.ndarray]) -> None:
    """Log y axis labelled with plain numbers (1, 2 and 5 per decade when it spans few decades)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    values = np.concatenate(series)
    values = values[np.isfinite(values) & (values > 0)]
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    if np.log10(values.max() / values.min()) < 3:
        ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain)
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())


@styled
def plot_training_history(history, path, loss_units: str = "a.u.", title: str = "Training history"):
    """Loss terms against epoch: total and reconstruction on the left, KL terms on the right.

    Parameters
    ----------
    history : dict of lists or pandas.DataFrame
        ``epoch`` (default 1, 2, ...), ``loss`` or ``total``, ``reconstruction``, ``kl_z``,
        ``kl_theta``, ``kl_shift``; any may be missing, other columns (timings) are ignored.
        ``val_<term>`` columns are drawn dashed beside their term. A KL term that is zero
        throughout (no such latent) is named in the legend, not drawn.
        Epochs whose ``kl_z_weight`` is not 1 (the orientation warm-up) are shaded.
    path : path-like
    loss_units : str
        Units of the losses for the y labels, e.g. ``"nats per patch"``.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Two axes; the y axis of each is logarithmic when all its values are positive and span a
        factor of ten or more.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    columns = _history_columns(history)
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"history columns differ in length: { {k: len(v) for k, v in columns.items()} }")
    n = lengths.pop() if lengths else 0
    epoch = columns.pop("epoch", np.arange(1, n + 1, dtype=float))
    weight = columns.pop("kl_z_weight", np.ones(n))
    left = [k for k in columns if k.removeprefix("val_") in ("loss", "total", "reconstruction")]
    right = [k for k in columns if k.removeprefix("val_").startswith("kl")]

    fig = new_figure(PAGE_WIDTH_IN, 3.4)
    ax_l, ax_r = fig.subplots(1, 2, sharex=True)
    marker = "o" if n <= 30 else None
    colours = {}
    for ax, names, empty_text in ((ax_l, left, "no loss recorded"), (ax_r, right, "no KL terms recorded")):
        drawn, handles = [], []
        for name in names:
            values = columns[name]
            if name in right and not np.any(np.abs(values) > 0):
                handles.append(Line2D([], [], linestyle="none", label=f"{_term_label(name)}: zero throughout"))
                continue
            base = name.removeprefix("val_")
            colour = colours.setdefault(base, f"C{len(colours)}")
            (line,) = ax.plot(epoch, values, color=colour, marker=marker, markersize=3,
                              linestyle="--" if name.startswith("val_") else "-", label=_term_label(name))
            drawn.append(values)
            handles.insert(len(drawn) - 1, line)
        warm = np.flatnonzero(np.asarray(weight) != 1)
        if len(warm):
            span = ax.axvspan(epoch[warm[0]] - 0.5, epoch[warm[-1]] + 0.5, color="0.9", zorder=0,
                              label=f"warm-up: kl_z x{float(weight[warm[0]]):g}")
            handles.append(span)
        if handles:
            ax.legend(handles=handles, loc="best", framealpha=0.85)
        if drawn and _use_log_scale(drawn):
            _log_y_axis(ax, drawn)
        if not drawn:
            no_data(ax, empty_text)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        ax.set_ylabel(f"loss ({loss_units})")
    ax_l.set_title("Total and reconstruction loss")
    ax_r.set_title("KL divergence terms")
    fig.suptitle(f"{title} ({count_label(n, 'epoch')})")
    return save_figure(fig, path)

"""Figure of the transformation kinetics: the fraction of atoms in each structural unit (or Gaussian
class) against frame.

:func:`plot_kinetics` draws ``fractions`` (n_frames, n_classes), every class and a zoom on the
minority ones, against the truth where a simulator gives it.

Nothing here imports ``pyplot`` (figures are built by :mod:`rvae_pathways.figures.kit` on an Agg
canvas). Each ``plot_*`` function writes one PNG and returns None; the figure itself comes from the
matching ``*_figure`` function (used by the tests).
"""

from __future__ import annotations

import numpy as np

from .kit import (
    PAGE_WIDTH_IN,
    count_label,
    discrete_colours,
    new_figure,
    no_data,
    padded_names,
    save_figure,
    styled,
)

NO_MINORITY_TEXT = "only one class"


def _truth_colours(class_names: list[str], true_names: list[str]) -> tuple[list, list]:
    """Colour of each true class (that of the found class whose name contains it, else a new one)
    and the found class each matches (-1: none)."""
    k = len(class_names)
    spare = discrete_colours(k + len(true_names))[k:]
    found = discrete_colours(k)
    colours, matches = [], []
    for j, name in enumerate(true_names):
        key = name.strip().lower()
        hits = [c for c, n in enumerate(class_names) if key and (n.lower() == key or f"({key})" in n.lower())]
        if len(hits) == 1:
            colours.append(found[hits[0]])
            matches.append(hits[0])
        else:
            colours.append(spare[j])
            matches.append(-1)
    return colours, matches


@styled
def _kinetics_legend(fig, ax_all, k: int, n_truth: int) -> None:
    """The legend below the panels: with few classes and a truth, the found classes in the first
    row and the truth in the second; else in up to four columns."""
    handles, labels = ax_all.get_legend_handles_labels()
    if handles and 0 < n_truth and max(k, n_truth) <= 4:
        from matplotlib.lines import Line2D

        blank = Line2D([], [], linestyle="none")
        cols = max(k, n_truth)
        found = list(zip(handles[:k], labels[:k])) + [(blank, "")] * (cols - k)
        true = list(zip(handles[k:], labels[k:])) + [(blank, "")] * (cols - n_truth)
        pairs = [p for c in range(cols) for p in (found[c], true[c])]
        fig.legend(*zip(*pairs), loc="outside lower center", ncols=cols, fontsize=7.5)
    elif handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 4), fontsize=7.5)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _physical_axes(axes, last_frame: float, frame_time_s=None, dose_e_per_A2_per_frame=None) -> None:
    """A top axis of time (s) or cumulative dose (e-/A^2) since frame 0 over the panels' frame axes: with
    both known, time over the first panel and dose over the second; with one, it over every panel.
    Large values are shown in a power of ten named in the label (``10⁶ e⁻/Å²``), not as an offset."""
    known = [(scale, name, unit) for scale, name, unit in ((frame_time_s, "time", "s"),
                                                           (dose_e_per_A2_per_frame, "dose", "e⁻/Å²"))
             if scale is not None]
    if not known:
        return
    for i, ax in enumerate(axes):
        scale, name, unit = known[min(i, len(known) - 1)]
        total = abs(scale) * max(last_frame, 1.0)
        power = 3 * int(np.floor(np.log10(total) / 3)) if total >= 1e3 else 0
        shown = scale / 10.0**power
        if power:
            unit = f"10{str(power).translate(_SUPERSCRIPT)} {unit}"
        top = ax.secondary_xaxis("top", functions=(lambda f, s=shown: f * s, lambda v, s=shown: v / s))
        top.set_xlabel(f"{name} since frame 0 ({unit})", fontsize=8)
        top.tick_params(labelsize=7)


NOUNS = {"class": "classes", "unit": "units"}


def kinetics_figure(fractions, class_names, true_fractions=None, true_names=None, frames=None,
                    frame_time_s=None, dose_e_per_A2_per_frame=None, noun="class"):
    """The figure of :func:`plot_kinetics` (see there)."""
    plural = NOUNS.get(noun, noun + "s")
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 2:
        raise ValueError(f"fractions must be (n_frames, n_classes), got shape {fractions.shape}")
    n_frames, k = fractions.shape
    names = padded_names(class_names, k)
    x = np.arange(n_frames) if frames is None else np.asarray(frames, dtype=float).ravel()
    if x.size != n_frames:
        raise ValueError(f"{x.size} frame numbers for {n_frames} frames of fractions")
    colours = discrete_colours(k)
    truth = None
    if true_fractions is not None:
        truth = np.asarray(true_fractions, dtype=float)
        truth = truth.reshape(truth.shape[0], -1)
        if truth.shape[0] != n_frames:
            raise ValueError(f"true_fractions has {truth.shape[0]} frames, fractions {n_frames}")
        t_names = padded_names(true_names, truth.shape[1])
        t_colours, t_matches = _truth_colours(names, t_names)

    mean = np.nan_to_num(np.nanmean(np.where(np.isfinite(fractions), fractions, np.nan), axis=0)) \
        if np.isfinite(fractions).any() else np.zeros(k)
    major = int(np.argmax(mean)) if k else -1
    minority = [c for c in range(k) if c != major]
    style = {"marker": "o", "markersize": 3.5} if n_frames <= 40 else {}
    truth_style = {"marker": "x", "markersize": 4} if n_frames <= 40 else {}

    fig = new_figure(PAGE_WIDTH_IN, 3.8)
    ax_all, ax_min = fig.subplots(1, 2, sharex=True)
    for c in range(k):
        for ax in (ax_all, ax_min) if c in minority else (ax_all,):
            ax.plot(x, fractions[:, c], color=colours[c], linewidth=1.4, gid=f"class-{c}",
                    label=names[c] if ax is ax_all else None, clip_on=ax is ax_min, **style)
    zoom_values = [fractions[:, minority]] if minority else []
    if truth is not None:
        true_major = int(np.argmax(np.nanmean(truth, axis=0))) if truth.size else -1
        for j in range(truth.shape[1]):
            in_zoom = t_matches[j] in minority if t_matches[j] >= 0 else j != true_major
            for ax in (ax_all, ax_min) if in_zoom and minority else (ax_all,):
                ax.plot(x, truth[:, j], color=t_colours[j], linestyle="--", linewidth=1.0, gid=f"truth-{j}",
                        label=f"truth: {t_names[j]}" if ax is ax_all else None, **truth_style)
            if in_zoom:
                zoom_values.append(truth[:, j:j + 1])
    ax_all.set_ylim(0, 1)
    ax_all.set_title(f"All {plural}")
    if minority:
        values = np.concatenate(zoom_values, axis=1)
        top = np.nanmax(values) if np.isfinite(values).any() else 0.0
        ax_min.set_ylim(0, min(1.0, top * 1.12) if top > 0 else 0.05)
        ax_min.set_title(f"Zoom on the minority {plural}\n(all but {names[major]})")
    else:
        no_data(ax_min, NO_MINORITY_TEXT if noun == "class" else f"only one {noun}")
        ax_min.set_ylim(0, 1)
        ax_min.set_title(f"Zoom on the minority {plural}")
    for ax in (ax_all, ax_min):
        ax.set_xlabel("frame (index)")
        ax.set_ylabel("fraction of the frame's atoms")
        ax.grid(alpha=0.3, linewidth=0.5)
    if n_frames:
        ax_all.set_xlim(x.min() - 0.5, x.max() + 0.5)
        if n_frames <= 12 and np.allclose(x, np.round(x)):
            ax_all.set_xticks(x)
        else:
            from matplotlib.ticker import MaxNLocator

            ax_all.xaxis.set_major_locator(MaxNLocator(integer=True))
    _physical_axes((ax_all, ax_min), float(x.max()) if n_frames else 1.0, frame_time_s, dose_e_per_A2_per_frame)
    _kinetics_legend(fig, ax_all, k, 0 if truth is None else truth.shape[1])
    note = ", dashed: truth" if truth is not None else ""
    fig.suptitle(f"{noun.capitalize()} fractions per frame ({count_label(k, noun, plural)}, "
                 f"{count_label(n_frames, 'frame')}{note})")
    return fig


@styled
def plot_kinetics(fractions, class_names, path, true_fractions=None, true_names=None, frames=None,
                  frame_time_s=None, dose_e_per_A2_per_frame=None, noun="class") -> None:
    """Fraction of the atoms in each structural class (or unit) against frame: the transformation kinetics.

    Layout: two panels side by side, frame across. Left: every class, lines with markers in
    the class colours (``discrete_colours``), y from 0 to 1. Right: the same lines for all
    classes but the most populous one (by mean fraction), y zoomed to them, so rare classes
    are readable. Truth lines, where given, are dashed in the colour of the found class whose
    name holds the true name (``"Si"`` matches ``"class 1 (Si)"``), else in a colour of their
    own; the zoom shows the truth of the minority classes. One legend under both panels.

    Parameters
    ----------
    fractions : array (n_frames, n_classes)
    class_names : list of str
        Missing names become ``"class <i>"``.
    path : path-like
    true_fractions : array (n_frames, n_true_classes), optional
    true_names : list of str, optional
    frames : array (n_frames,), optional
        Frame numbers; default 0, 1, ...
    frame_time_s, dose_e_per_A2_per_frame : float, optional
        Where known, a top axis gives the time or the cumulative dose since frame 0
        (both known: time over the left panel, dose over the right).
    noun : str
        What a column is: "class" (a Gaussian class, the detail figure) or "unit" (a structural
        unit, :mod:`rvae_pathways.pathways.units`); titles and legend say it.
    """
    save_figure(kinetics_figure(fractions, class_names, true_fractions, true_names, frames, frame_time_s,
                                dose_e_per_A2_per_frame, noun), path)

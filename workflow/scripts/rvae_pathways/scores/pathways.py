"""Transformation pathways against the simulator's truth: each latent class named by the structure
most of its patches have (:func:`majority_structure`), and the events found along tracks matched to
the simulator's dopant hops and Stone-Wales rotations (:func:`score_events`).

What one true event looks like in tracks, and why a true event's *footprint* (hop: both sites;
Stone-Wales: the 16 atoms of its two pentagons and two heptagons) may absorb several predicted
events, is told in :mod:`rvae_pathways.pathways.kinetics`.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError, check_int_array, check_number
from ..core.vocabulary import CLASS_NAMES, EVENT_KINDS
from ..pathways.kinetics import DEFECT, PRISTINE, SILICON

#: Targets of :func:`score_events`, per scored kind.
TARGETS = {"precision": 0.9, "recall": 0.9}
#: Share of the simulator's true links (see :func:`linking_accuracy`) the tracks must recover.
LINKING_TARGETS = {"accuracy": 0.98}


#: Scored kinds: predicted-event definition, the simulator's kind it is matched to, and how many
#: predicted events one true event may absorb (all true positives).
SCORED_KINDS = {
    "dopant hop": {
        "true_kind": "dopant hop",
        "max_per_true": 2,
        "definition": "a change into or out of a class named 'Si' (exactly one side Si)",
    },
    "defect formation": {
        "true_kind": "Stone-Wales",
        "max_per_true": 16,
        "definition": "a change from a class named 'pristine C' into a class named 'C in 5-7 defect'",
    },
}


_LIST_MAX = 10  # unmatched events listed per kind in the scores


def class_composition(labels, true_class, names):
    """How the true structural classes spread over the latent classes.

    Parameters
    ----------
    labels : (n,) int array, latent class per observation
    true_class : (n,) int array, index into ``names`` (other values, e.g. -1, are ignored)
    names : sequence of str, the structural class names (e.g. ``simulate_stem.CLASS_NAMES``)

    Returns
    -------
    list (JSON-ready), one dict per latent class ``0..max(labels)``: ``class``, ``n``,
    ``counts`` ({name: n}), ``majority`` (name, None for an empty class) and ``purity``
    (share of the majority).
    """
    labels = check_int_array("labels", labels)
    true_class = check_int_array("true_class", true_class, len(labels))
    names = [str(n) for n in names]
    known = (true_class >= 0) & (true_class < len(names))
    n_cls = int(labels.max()) + 1 if len(labels) else 0
    out = []
    for k in range(n_cls):
        cnt = np.bincount(true_class[(labels == k) & known], minlength=len(names))
        n = int(cnt.sum())
        out.append({
            "class": k,
            "n": n,
            "counts": {name: int(v) for name, v in zip(names, cnt)},
            "majority": names[int(np.argmax(cnt))] if n else None,
            "purity": float(cnt.max() / n) if n else None,
        })
    return out


def majority_structure(labels, true_class, names):
    """Name each latent class by the structural class most of its observations have.

    For scoring only: it reads the simulator's truth. Returns ``{class: name}`` for every
    latent class ``0..max(labels)`` (None for a class without labelled observations); see
    :func:`class_composition` for the counts and purity.
    """
    return {c["class"]: c["majority"] for c in class_composition(labels, true_class, names)}


def _truth_get(truth, key):
    v = truth[key]
    return np.asarray(getattr(v, "values", v))


def event_footprints(truth, bond_px=None):
    """Sites of every true event, at the event's frame (px, drift included).

    - dopant hop: the Si's new site (recorded) and its old site (the Si id's position in the
      frame before, moved by the drift step);
    - Stone-Wales: the midpoint, the atoms the simulator labels "C in 5-7 defect" (the turned
      pair and their four bonded carbons: those within 1.5 bond lengths of the midpoint), and
      every atom bonded to those (within 1.2 bond lengths): the other members of the two
      pentagons and two heptagons, 16 atoms in all. Their rings changed too, and a patch two
      spacings across shows it, so a class change there belongs to the event;
    - otherwise, or without the per-atom truth: the recorded position only.

    Parameters
    ----------
    truth : xarray.Dataset or mapping
        The simulator's output: ``true_event_*`` and, for footprints beyond the recorded
        position, ``true_frame``, ``true_id``, ``true_y``, ``true_x``, ``true_class`` (and
        ``true_drift_y/x``).
    bond_px : float or None
        Bond length in pixels; None reads ``bond_length_nm / pixel_size_nm`` from
        ``truth.attrs`` (default 14.2).

    Returns
    -------
    list of (m_i, 2) float arrays, one per true event, (y, x) rows.
    """
    ev_frame = _truth_get(truth, "true_event_frame").astype(np.int64)
    ev_kind = _truth_get(truth, "true_event_kind").astype(np.int64)
    ev_atom = _truth_get(truth, "true_event_atom").astype(np.int64)
    ev_yx = np.stack([_truth_get(truth, "true_event_y"), _truth_get(truth, "true_event_x")], 1).astype(float)
    out = [ev_yx[i : i + 1].copy() for i in range(len(ev_frame))]
    try:
        frame = _truth_get(truth, "true_frame").astype(np.int64)
        ids = _truth_get(truth, "true_id").astype(np.int64)
        yx = np.stack([_truth_get(truth, "true_y"), _truth_get(truth, "true_x")], 1).astype(float)
        cls = _truth_get(truth, "true_class").astype(np.int64)
    except KeyError:
        return out
    try:
        drift = np.stack([_truth_get(truth, "true_drift_y"), _truth_get(truth, "true_drift_x")], 1).astype(float)
    except KeyError:
        drift = None
    if bond_px is None:
        attrs = getattr(truth, "attrs", {})
        bond_px = float(attrs.get("bond_length_nm", 0.142)) / float(attrs.get("pixel_size_nm", 0.01))

    hop, sw, defect = EVENT_KINDS.index("dopant hop"), EVENT_KINDS.index("Stone-Wales"), CLASS_NAMES.index(DEFECT)
    for i in range(len(ev_frame)):
        f = ev_frame[i]
        if ev_kind[i] == hop:
            before = np.flatnonzero((frame == f - 1) & (ids == ev_atom[i]))
            if len(before):
                step = drift[f] - drift[f - 1] if drift is not None and f >= 1 else 0.0
                out[i] = np.vstack([ev_yx[i], yx[before[0]] + step])
        elif ev_kind[i] == sw:
            here = np.flatnonzero(frame == f)
            near = here[(cls[here] == defect) & (np.hypot(*(yx[here] - ev_yx[i]).T) <= 1.5 * bond_px)]
            if len(near):
                d = np.min(np.linalg.norm(yx[here][:, None, :] - yx[near][None], axis=2), axis=1)
                near = here[d <= 1.2 * bond_px]  # the defect atoms and the atoms bonded to them
            out[i] = np.vstack([ev_yx[i], yx[near]])
    return out


def _predicted_kind(events, class_to_structure):
    """Scored kind of each predicted event (or None) from the names of its two classes."""
    pairs = class_to_structure.items() if isinstance(class_to_structure, dict) else enumerate(class_to_structure)
    lookup = {int(k): v for k, v in pairs}  # keys may be strings after a JSON round trip
    src = [lookup.get(int(c)) for c in events["from_class"]]
    dst = [lookup.get(int(c)) for c in events["to_class"]]
    kinds = []
    for a, b in zip(src, dst):
        if (a == SILICON) != (b == SILICON):
            kinds.append("dopant hop")
        elif a == PRISTINE and b == DEFECT:
            kinds.append("defect formation")
        else:
            kinds.append(None)
    return np.array(kinds, dtype=object)


def _match(pred_f, pred_yx, true_f, footprints, tol, frame_tol, cap):
    """Predicted-to-true assignment: one-to-one first (most pairs, then least distance), then
    each true event absorbs up to ``cap`` predicted events in total, nearest first.

    Returns the matched true index per predicted event (-1: none).
    """
    n_p, n_t = len(pred_f), len(true_f)
    match = np.full(n_p, -1, np.int64)
    dist = np.full((n_p, n_t), np.inf)
    for j in range(n_t):
        d = np.min(np.linalg.norm(pred_yx[:, None, :] - footprints[j][None], axis=2), axis=1) if n_p else np.zeros(0)
        ok = (np.abs(pred_f - true_f[j]) <= frame_tol) & (d <= tol)
        dist[ok, j] = d[ok]
    ok = np.isfinite(dist)
    if not ok.any():
        return match
    from scipy.optimize import linear_sum_assignment

    big = 1e6 + 2 * float(dist[ok].max()) * max(n_p, n_t)
    r, c = linear_sum_assignment(np.where(ok, dist, big))
    keep = ok[r, c]
    match[r[keep]] = c[keep]
    used = np.bincount(match[match >= 0], minlength=n_t)
    pi, tj = np.nonzero(ok)
    for k in np.lexsort((tj, pi, dist[pi, tj])):
        p, j = pi[k], tj[k]
        if match[p] < 0 and used[j] < cap:
            match[p] = j
            used[j] += 1
    return match


def score_events(events, truth, class_to_structure, tolerance_px, frame_tolerance=1, exclude_true_after=None):
    """Precision and recall of found events against the simulator's dopant hops and Stone-Wales rotations.

    Predicted kinds (by the structure names of the two classes, :data:`SCORED_KINDS`): a change
    into or out of a class named "Si" is a *dopant hop*; a change from "pristine C" into
    "C in 5-7 defect" is a *defect formation*, scored against the Stone-Wales events. Other
    changes are not scored (their number is reported).

    A predicted event matches a true event of its kind when their frames differ by at most
    ``frame_tolerance`` and the predicted position lies within ``tolerance_px`` of any site of
    the true event's footprint (:func:`event_footprints`). One true event may absorb up to
    ``max_per_true`` predicted events (2 per hop: site A leaving Si, site B becoming Si; 16 per
    Stone-Wales defect, one per atom of its rings), assigned one-to-one first so that as many true events as possible are
    found; all matched predicted events are true positives, the rest false positives.
    ``precision`` = matched predicted / predicted, ``recall`` = true events with a match / true
    events (None where the denominator is 0).

    Parameters
    ----------
    events : pandas.DataFrame from :func:`find_events` (``frame``, ``y``, ``x``, ``from_class``,
        ``to_class``)
    truth : xarray.Dataset or mapping, the simulator's output (see :func:`event_footprints`)
    class_to_structure : dict {class: name} or sequence of names (see :func:`majority_structure`)
    tolerance_px : float, largest distance to a footprint site (px)
    frame_tolerance : int, largest frame difference
    exclude_true_after : int or None
        True events at later frames are left out of the recall (counted in ``n_censored``),
        and predicted events that match only such events are left out of the precision (e.g.
        ``n_frames - min_persist``: changes too late to be confirmed by :func:`find_events`);
        None keeps all.

    Returns
    -------
    dict (JSON-ready): ``targets``, ``tolerance_px``, ``frame_tolerance``, ``definitions``,
    ``kinds`` ({kind: precision, recall, n_predicted, n_true, n_matched_predicted,
    n_matched_true, n_censored, unmatched_predicted, unmatched_true (up to 10 each)}),
    ``passes`` ({kind: precision and recall both reach the targets}) and ``n_unscored``.
    """

    tolerance_px = check_number("tolerance_px", tolerance_px, low=0)
    frame_tolerance = check_number("frame_tolerance", frame_tolerance, low=0, integer=True)
    if exclude_true_after is not None:
        exclude_true_after = check_number("exclude_true_after", exclude_true_after, integer=True)
    for col in ("frame", "y", "x", "from_class", "to_class"):
        if col not in events:
            raise InputError(f"events lack the column {col!r} (see find_events)")
    kind_of = _predicted_kind(events, class_to_structure)
    pred = {
        "frame": np.asarray(events["frame"], np.int64),
        "yx": np.stack([np.asarray(events["y"], float), np.asarray(events["x"], float)], 1).reshape(-1, 2),
        "from_class": np.asarray(events["from_class"], np.int64),
        "to_class": np.asarray(events["to_class"], np.int64),
    }
    true = {
        "frame": _truth_get(truth, "true_event_frame").astype(np.int64),
        "kind": _truth_get(truth, "true_event_kind").astype(np.int64),
        "yx": np.stack([_truth_get(truth, "true_event_y"), _truth_get(truth, "true_event_x")], 1).astype(float),
        "footprint": event_footprints(truth),
    }
    result = {
        "targets": dict(TARGETS),
        "tolerance_px": float(tolerance_px),
        "frame_tolerance": int(frame_tolerance),
        "exclude_true_after": exclude_true_after,
        "definitions": {k: v["definition"] for k, v in SCORED_KINDS.items()},
        "kinds": {},
        "passes": {},
        "n_unscored": int(sum(k is None for k in kind_of)),
    }
    for kind, spec in SCORED_KINDS.items():
        p = np.flatnonzero(kind_of == kind)
        t = np.flatnonzero(true["kind"] == EVENT_KINDS.index(spec["true_kind"]))
        late = true["frame"][t] > exclude_true_after if exclude_true_after is not None else np.zeros(len(t), bool)
        t, censored = t[~late], t[late]
        args = (tolerance_px, frame_tolerance, spec["max_per_true"])
        match = _match(pred["frame"][p], pred["yx"][p], true["frame"][t], [true["footprint"][j] for j in t], *args)
        # a predicted event that matches only a censored true event is neither right nor wrong
        counted = np.ones(len(p), bool)
        free = np.flatnonzero(match < 0)
        if len(censored) and len(free):
            late_match = _match(pred["frame"][p[free]], pred["yx"][p[free]], true["frame"][censored],
                                [true["footprint"][j] for j in censored], *args)
            counted[free[late_match >= 0]] = False
        n_pred, n_matched = int(counted.sum()), int((match >= 0).sum())
        found = np.unique(match[match >= 0])
        precision = n_matched / n_pred if n_pred else None
        recall = len(found) / len(t) if len(t) else None
        missed = np.setdiff1d(np.arange(len(t)), found)
        result["kinds"][kind] = {
            "true_kind": spec["true_kind"],
            "max_per_true": spec["max_per_true"],
            "precision": precision,
            "recall": recall,
            "n_predicted": n_pred,
            "n_true": int(len(t)),
            "n_matched_predicted": n_matched,
            "n_matched_true": int(len(found)),
            "n_censored": int(len(censored)),
            "unmatched_predicted": [_event_row(pred, p[i], True)
                                    for i in np.flatnonzero((match < 0) & counted)[:_LIST_MAX]],
            "unmatched_true": [_event_row(true, t[j], False) for j in missed[:_LIST_MAX]],
        }
        result["passes"][kind] = bool(
            precision is not None and recall is not None
            and precision >= TARGETS["precision"] and recall >= TARGETS["recall"]
        )
    return result


def _event_row(table, i, classes):
    """One event of ``table`` (frame, yx, and from/to classes when ``classes``) as a JSON dict."""
    row = {"frame": int(table["frame"][i]), "y": round(float(table["yx"][i, 0]), 1),
           "x": round(float(table["yx"][i, 1]), 1)}
    if classes:
        row.update(from_class=int(table["from_class"][i]), to_class=int(table["to_class"][i]))
    return row


def linking_accuracy(track, frame, true_id, max_gap_frames: int) -> dict:
    """How well tracks follow the simulator's persistent atom ids.

    A *true link* joins two detections of the same ``true_id`` (>= 0) in frames ``f < f'`` with
    no detection of that id in between and ``f' - f <= max_gap_frames + 1``; it is recovered
    when both detections carry the same track id (>= 0). A *false link* joins two consecutive
    detections of one track (in frame order) whose true ids differ, both >= 0.

    Returns
    -------
    JSON-ready dict: ``accuracy`` (recovered share of true links; None when there are none),
    ``target`` and ``passes`` (``accuracy >= target``; None without true links),
    ``n_true_links``, ``n_recovered``, ``false_links``, ``n_links`` (links the tracks make),
    ``n_tracks``, ``mean_track_length`` (detections per track) and ``max_gap_frames``.
    """
    track = np.asarray(track).astype(np.int64).ravel()
    frame = np.asarray(frame).astype(np.int64).ravel()
    true_id = np.asarray(true_id).astype(np.int64).ravel()
    if not (len(track) == len(frame) == len(true_id)):
        raise InputError(
            f"track, frame and true_id must be equally long, got {len(track)}, {len(frame)}, {len(true_id)}"
        )
    max_gap = check_number("max_gap_frames", max_gap_frames, low=0, integer=True)

    # true links: consecutive detections of one true id
    labelled = np.flatnonzero(true_id >= 0)
    o = labelled[np.lexsort((frame[labelled], true_id[labelled]))]
    a, b = o[:-1], o[1:]
    link = (true_id[a] == true_id[b]) & (frame[b] > frame[a]) & (frame[b] - frame[a] <= max_gap + 1)
    a, b = a[link], b[link]
    recovered = (track[a] == track[b]) & (track[a] >= 0)

    # links the tracks make, and the false ones among them
    tracked = np.flatnonzero(track >= 0)
    o = tracked[np.lexsort((frame[tracked], track[tracked]))]
    a, b = o[:-1], o[1:]
    same = track[a] == track[b]
    a, b = a[same], b[same]
    false = (true_id[a] >= 0) & (true_id[b] >= 0) & (true_id[a] != true_id[b])

    n_true = int(len(recovered))
    n_rec = int(recovered.sum())
    accuracy = n_rec / n_true if n_true else None
    n_tracks = int(len(np.unique(track[tracked])))
    return {
        "accuracy": accuracy,
        "target": LINKING_TARGETS["accuracy"],
        "passes": (bool(accuracy >= LINKING_TARGETS["accuracy"]) if accuracy is not None else None),
        "n_true_links": n_true,
        "n_recovered": n_rec,
        "false_links": int(false.sum()),
        "n_links": int(len(a)),
        "n_tracks": n_tracks,
        "mean_track_length": (float(len(tracked) / n_tracks) if n_tracks else 0.0),
        "max_gap_frames": int(max_gap),
    }

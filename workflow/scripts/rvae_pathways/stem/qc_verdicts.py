"""The lattice check's thresholds and verdicts.

:data:`THRESHOLDS` holds every default of the check (:func:`rvae_pathways.stem.qc.check_frame`)
and the ``ok`` / ``warn`` bands of its metrics; :func:`verdict_of` turns one frame's metrics into
a verdict and reasons; :func:`summarise` and :func:`qc_messages` sum up the frames of a sample.
It imports nothing of the check itself, so the figures and rule scripts read the bands alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["VERDICTS", "THRESHOLDS", "METRIC_BANDS", "verdict_of", "summarise", "qc_messages"]

#: Verdicts from best to worst.
VERDICTS = ("ok", "warn", "fail")

#: Every default of the check, in one place. Lengths and frequencies are in units of the given
#: nearest-neighbour spacing ``d``; verdict bands are ``{"ok": (low, high), "warn": (low, high)}``
#: (None: open) and a value outside the warn band fails. Values were tuned on simulated graphene
#: (bond 14.2 px, doses 5-50 counts, with and without a hole), a support of random spots at least
#: ``d`` apart, noise, and the real SrTiO3 [110] HAADF and ABF frames (tests/test_atom_qc.py).
THRESHOLDS = {
    # -- resolved-lattice map ------------------------------------------------------------------
    # Size of the local area in spacings (a Gaussian of 0.19 x this, as wide as a Hann window of
    # this side). The local spectrum resolves k to ~ 1 / (this * d): graphene's six first spots,
    # 60 degrees apart at 0.67 / d, need 8 to leave clean control frequencies between them; the
    # map then blurs a lattice/support border over about one spacing.
    "window_spacings": 8.0,
    # Band of |k| * d searched for spots: 1/3 (a cell of three spacings; the SrTiO3 [110] cell's
    # lowest spot, 1 / (2 sqrt(2) d), lies above it) to 1/0.6 (above the first spots of every
    # simple lattice: 0.67 honeycomb, 1 square, 1.15 triangular).
    "band": (1.0 / 3.0, 1.0 / 0.6),
    # The image's white top-hat (what rises above the floor between atoms) is clipped to these
    # percentiles, so a few very bright atoms (Si in graphene: 4x a carbon) or hot pixels do not
    # swamp the spectrum with their broad halo.
    "clip_percentiles": (2.0, 98.0),
    # A peak of the frame's spectrum is a lattice spot when its power is this many times the
    # median power on its ring of |k|. Measured: noise and supports reach 14 (the largest of
    # tens of thousands of exponentials), graphene 40-100 on half a 192 x 384 field and > 1000
    # on a whole one, SrTiO3 > 5000.
    "spot_ratio": 25.0,
    # A place is resolved when the local power at the spots is this many times that at the
    # controls. Measured (score percentiles): support and noise median 1.0-1.3, 99 % below 4.3;
    # graphene at dose 5-50 counts 5 % below 10-34, median 50-250; SrTiO3 5 % below 90-145.
    "resolved_score": 6.0,
    # -- material without a lattice ----------------------------------------------------------
    # Band of |k| * d where "structure at atomic scales" is measured (where the two Gaussians of
    # a difference of Gaussians pass half the amplitude): from a third of the lowest lattice
    # frequency searched to twice a spacing's frequency, wide enough to hold an amorphous film's
    # speckle (a-C under a particle shows it from 0.3 to 1.5 cycles per Au spacing).
    "structure_band": (1.0 / 3.0, 2.0),
    # Side of the square over which band and noise power are averaged, in spacings: 3 keeps pure
    # noise below a ratio of 2.2 everywhere (measured: Poisson means 0.2-50, spacings 8-20 px,
    # 512^2 fields) and an a-C support (the corpus' Au case, 0.6 counts/px) above 2.5 on 98 %.
    "structure_window": 3.0,
    # A place holds material (amorphous or crystalline) when the band power there is this many
    # times what the place's own white noise puts in the band ...
    "structure_ratio": 2.5,
    # ... and its noise power is at least this share of the frame's median: noise-free vacuum
    # (simulations, or counting detectors at low dose) carries no structure whatever the ratio.
    "structure_min_noise": 0.01,
    # The lattice's own area, left out of the search: within this many spacings of an atom of
    # the lattice, closed over one spacing (it is filled with the local level of its
    # surroundings first, so that its strong spectrum does not leak into the places next to it).
    "lattice_reach": 1.0,
    # Below this spacing (px) the band reaches the noise's: no search, the metric is undefined.
    "structure_min_spacing_px": 6.0,
    # -- atoms -------------------------------------------------------------------------------
    # A neighbour "at about one spacing" lies in this shell; wide enough for lattices whose
    # columns have different coordination (SrTiO3 [110]: 0.5 a and 0.71 a = 1 and 1.41 d).
    "neighbour_shell": (0.75, 1.5),
    # A bond of an atom outside the map matches the lattice's bond vectors within this distance
    # (found positions are good to a few hundredths of a spacing; a random bond matches one of
    # six directions with a chance of about 8 %).
    "bond_tolerance": 0.15,
    # An atom off the lattice's bond vectors still belongs to it when at least this share of the
    # atoms within ``enclosure_radius`` spacings do (a defect enclosed by crystal).
    "enclosure_radius": 2.5,
    "enclosure_share": 0.6,
    # A peak found at half the spacing is accounted for by a found atom this close: more than a
    # fitted position's error, less than the half spacing between peaks.
    "missed_radius": 0.35,
    # The density is measured over the resolved area when it holds at least this many d^2
    # (about 20 atoms of a honeycomb), else over the area within ``neighbour_radius`` of atoms.
    "density_min_area": 25.0,
    # A frame narrower than this many spacings is too small for the local spectra of the map
    # (below about 7 the lattice is not detected even where it is perfect): the map is not
    # made, every atom counts as in the lattice, and the frame warns (a tiny test movie).
    "min_field_spacings": 8.0,
    # -- verdict bands -----------------------------------------------------------------------
    # Found atoms per d^2 in the resolved area: ~0.77 honeycomb (d the bond), 1.0 square, 1.15
    # triangular, ~0.75 SrTiO3 [110] HAADF. A spacing 2x too small gives a quarter (0.1-0.2:
    # fails); 2x too large stays in band (the finder keeps a sparse subset; missed_peak_share
    # catches it).
    "density_ratio": {"ok": (0.4, 1.6), "warn": (0.25, 2.5)},
    # Median nearest-neighbour distance over d: 1 on any lattice whose atoms are found; 2 for a
    # spacing 2x too small, 0.7-0.9 for 2x too large (the finder's subset keeps second
    # neighbours).
    "nn_ratio_median": {"ok": (0.8, 1.25), "warn": (0.6, 1.6)},
    # Share of the lattice's peaks (found at half the spacing) with no found atom near: 0-0.1 when
    # the finder got them all; 0.45 (SrTiO3: the dim columns) to 0.8 (graphene) for a spacing 2x
    # too large.
    "missed_peak_share": {"ok": (None, 0.15), "warn": (None, 0.4)},
    # Share of atoms with a neighbour in the shell above: ~1 on a lattice (rim atoms too), low
    # for a wrong scale (0.0-0.2 at 2x too small a spacing).
    "lattice_atom_share": {"ok": (0.8, None), "warn": (0.5, None)},
    # Share of atoms outside the lattice: a support or contamination holding a sixth of the
    # atoms warns, over half fails (the frame is then mostly not crystal, or noise).
    "outside_lattice_share": {"ok": (None, 0.15), "warn": (None, 0.5)},
    # Share of the field that holds material but no lattice (see material_map): an amorphous
    # support beside a particle, contamination, or a lattice the finder missed. A fact of the
    # sample more than a fault of the finder, so it warns and never fails on its own.
    "amorphous_fraction": {"ok": (None, 0.05), "warn": (None, None)},
    # Share of the field where a lattice is resolved. Vacuum is not a fault, so this only fails
    # when atoms were found but (almost) no lattice is resolved: a noise or amorphous image.
    "resolved_fraction": {"ok": (0.02, None), "warn": (0.02, None)},
}

#: The metrics with verdict bands, in the order their reasons are reported.
METRIC_BANDS = (
    "density_ratio",
    "nn_ratio_median",
    "missed_peak_share",
    "lattice_atom_share",
    "outside_lattice_share",
    "resolved_fraction",
    "amorphous_fraction",
)

_CHECK = "check spacing_nm and pixel_size_nm in the samples table"


# --------------------------------------------------------------------------------------------
# one frame


def _band_level(value, bands: dict) -> int:
    """0 (ok), 1 (warn) or 2 (fail) for ``value`` in ``{"ok": (lo, hi), "warn": (lo, hi)}``."""
    def inside(limits):
        lo, hi = limits
        return (lo is None or value >= lo) and (hi is None or value <= hi)

    if inside(bands["ok"]):
        return 0
    return 1 if inside(bands["warn"]) else 2


def _reason(name: str, value: float, metrics: dict, spacing_px: float) -> str:
    """A short sentence on what is off and what to check."""
    if name == "density_ratio":
        side = ("too few atoms for the spacing: atoms missed, or the spacing is too small" if value < 1 else
                "too many atoms for the spacing: the spacing is too large, or noise was taken for atoms")
        return f"{value:.2f} atoms per spacing^2 in the lattice ({side}); {_CHECK}"
    if name == "nn_ratio_median":
        return (f"nearest neighbours are {value:.2f}x the given spacing apart ({value * spacing_px:.1f} px vs "
                f"{spacing_px:.1f} px); {_CHECK}")
    if name == "missed_peak_share":
        return (f"{value:.0%} of the lattice's peaks have no atom (found at half the spacing, they lie "
                f"between the atoms: the spacing is too large, or atoms were dropped); {_CHECK}")
    if name == "lattice_atom_share":
        shell = THRESHOLDS["neighbour_shell"]
        return (f"only {value:.0%} of the atoms have a neighbour at {shell[0]:g}-{shell[1]:g}x the spacing; "
                f"{_CHECK}, and the contrast (bright or dark atoms)")
    if name == "outside_lattice_share":
        return (f"{value:.0%} of the atoms lie where no lattice is resolved and are not bonded like it "
                f"(amorphous support, contamination or noise); check the contrast and spacing_nm")
    if name == "amorphous_fraction":
        return (f"{value:.0%} of the field holds material but no lattice (structure at atomic scales above the "
                f"noise, no lattice atom near: an amorphous support, contamination, or a lattice at another "
                f"spacing); its atoms are left out of the patches; if it should be crystal, {_CHECK}")
    if name == "resolved_fraction":
        return (f"no lattice at the given spacing is resolved ({value:.1%} of the field) yet "
                f"{metrics['n_atoms']} atoms were found; {_CHECK}, and the contrast")
    return f"{name} = {value}"


def verdict_of(metrics: dict, spacing_px: float | None = None) -> tuple[str, list[str]]:
    """Verdict and reasons of one frame's metrics (as :func:`~rvae_pathways.stem.qc.check_frame` makes them).

    Every metric of :data:`METRIC_BANDS` that is defined is placed in its bands of
    :data:`THRESHOLDS`; ``resolved_fraction`` counts only when atoms were found. The verdict
    is the worst; reasons name each metric not ok, worst first.
    """
    spacing_px = metrics.get("spacing_px", spacing_px) or float("nan")
    if not metrics.get("n_atoms"):
        return "fail", ["no atoms found; " + _CHECK + ", and the contrast (bright atoms as in HAADF, "
                        "dark as in ABF)"]
    found = []
    for name in METRIC_BANDS:
        value = metrics.get(name)
        if value is None:
            continue
        level = _band_level(value, THRESHOLDS[name])
        if level:
            found.append((level, name, value))
    found.sort(key=lambda item: -item[0])
    verdict = VERDICTS[max((level for level, _, _ in found), default=0)]
    return verdict, [_reason(name, value, metrics, spacing_px) for _, name, value in found]


# --------------------------------------------------------------------------------------------
# many frames


_SUMMARY_METRICS = (
    "n_atoms",
    "density_ratio",
    "nn_ratio_median",
    "missed_peak_share",
    "resolved_fraction",
    "lattice_atom_share",
    "outside_lattice_share",
    "amorphous_fraction",
)


def _severity(metrics: dict) -> tuple[int, int]:
    """Sort key of a frame, worst first: verdict, then the number of reasons."""
    return (VERDICTS.index(metrics.get("verdict", "ok")), len(metrics.get("reasons", ())))


def summarise(frames: list[dict], n_worst: int = 5) -> dict:
    """Summary of the per-frame metrics of one sample.

    Parameters
    ----------
    frames : list of dict
        :func:`~rvae_pathways.stem.qc.check_frame` metrics, one per frame, optionally with ``frame`` (the frame
        number; the list index otherwise).
    n_worst : int
        Frames listed in ``worst_frames``.

    Returns
    -------
    dict
        ``verdict`` (the worst frame's), ``n_frames``, ``counts`` (frames per verdict),
        ``worst_frames`` (up to ``n_worst`` frame numbers that are not ok, worst first) and
        ``median_<metric>`` over frames for each metric (None where undefined everywhere).
    """
    counts = {v: 0 for v in VERDICTS}
    for metrics in frames:
        counts[metrics.get("verdict", "ok")] += 1
    numbers = [metrics.get("frame", i) for i, metrics in enumerate(frames)]
    order = sorted(range(len(frames)), key=lambda i: tuple(-s for s in _severity(frames[i])))
    worst = [int(numbers[i]) for i in order if frames[i].get("verdict", "ok") != "ok"][:n_worst]
    summary = {
        "verdict": max((m.get("verdict", "ok") for m in frames), key=VERDICTS.index, default="ok"),
        "n_frames": len(frames),
        "counts": counts,
        "worst_frames": worst,
    }
    for name in _SUMMARY_METRICS:
        values = [m[name] for m in frames if m.get(name) is not None]
        summary[f"median_{name}"] = float(np.median(values)) if values else None
    return summary


def qc_messages(sample: str, frames: list[dict]) -> list[str]:
    """One warning line per frame that is not ok: sample, frame, verdict and reasons.

    >>> qc_messages("s1", [{"frame": 3, "verdict": "warn", "reasons": ["a", "b"]}])
    ['atom QC s1 frame 3: warn: a; b']
    """
    lines = []
    for i, metrics in enumerate(frames):
        verdict = metrics.get("verdict", "ok")
        if verdict == "ok":
            continue
        reasons = "; ".join(metrics.get("reasons") or ["no reason recorded"])
        lines.append(f"atom QC {sample} frame {metrics.get('frame', i)}: {verdict}: {reasons}")
    return lines

"""Piezoresponse force microscopy (PFM): from amplitude and phase to one signed signal.

A PFM scan records, at every pixel, the amplitude ``A`` and phase ``phi`` of the cantilever's
response to an AC bias. Ferroelectric domains of opposite polarisation (180-degree domains)
respond with phases 180 degrees apart, on top of an instrument phase offset that differs from
scan to scan. The signed piezoresponse

    PR = A * cos(phi - offset)

is positive in one domain state and negative in the other, and ``|PR|`` is the amplitude. The
offset is estimated from the data (:func:`estimate_phase_offset`), never taken as a constant.

Phases are in degrees throughout, in any range (instruments write e.g. -90..270 or -180..180).

:func:`pfm_frames` turns a scan as :func:`rvae_pathways.io.readers.read_scan` returns it (every
channel, no image) into the frames Dataset whose ``image`` is the piezoresponse;
:func:`read_pfm_frames` reads any PFM file into frames (a multi-channel scan through
:func:`pfm_frames`, a file of piezoresponse images as it is).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xarray as xr

from ..core.errors import InputError
from ..core.frames import SKIP_BAD_FRAMES, checked_frames, make_frames, set_acquisition
from ..io.readers import read_frames, read_scan
from ..io.suffixes import SCAN_SUFFIXES

# Channel names of the vertical amplitude and phase, most preferred first, compared after
# removing a trailing "Retrace"/"Trace" and lower-casing. Asylum writes e.g.
# "AmplitudeRetrace"; in dual-frequency modes the first frequency is "Amplitude1...", while
# "Amplitude2..." and "Lat..." are the second frequency or the lateral (in-plane) response.
_AMPLITUDE_BASES = ("amplitude", "amplitude1", "amp", "mag", "magnitude")
_PHASE_BASES = ("phase", "phase1", "theta")

# Scan directions, most preferred first: Asylum shows the retrace image by default.
_DIRECTIONS = ("retrace", "trace", "")


def estimate_phase_offset(amplitude, phase_deg) -> float:
    """Estimate the phase offset of a PFM scan with 180-degree domains.

    The phase of such a scan is bimodal, with modes 180 degrees apart. Doubling every phase
    maps both modes onto one angle, so the axis of the distribution is half the angle of the
    amplitude-weighted mean of ``exp(2i * phase)``. With that offset ``cos(phase - offset)``
    is about +1 in one domain state and about -1 in the other.

    Parameters
    ----------
    amplitude : array_like
        PFM amplitude, any shape; its absolute value weights each pixel, so that pixels with
        little response (whose phase is noise) count little. Non-finite pixels are ignored.
    phase_deg : array_like
        PFM phase in degrees, the same shape as ``amplitude``; any range (wrapped or not).

    Returns
    -------
    float
        The offset in degrees, in [-90, 90). The domain state whose phase is near the offset
        (rather than near offset + 180) is the one with positive piezoresponse.

    Raises
    ------
    InputError
        If the shapes differ, or no pixel has a finite phase and a non-zero amplitude.

    See Also
    --------
    piezoresponse : ``A * cos(phase - offset)``.

    Examples
    --------
    >>> import numpy as np
    >>> phase = np.array([30.0, 210.0, 31.0, -151.0])
    >>> round(estimate_phase_offset(np.ones(4), phase), 1)
    30.0
    """
    amplitude = np.asarray(amplitude, dtype=np.float64)
    phase = np.asarray(phase_deg, dtype=np.float64)
    if amplitude.shape != phase.shape:
        raise InputError(
            f"amplitude and phase must have the same shape, got {amplitude.shape} and "
            f"{phase.shape}"
        )
    weight = np.abs(amplitude)
    usable = np.isfinite(weight) & np.isfinite(phase) & (weight > 0)
    if not usable.any():
        raise InputError(
            "cannot estimate the PFM phase offset: no pixel has a finite phase and a non-zero "
            "amplitude"
        )
    doubled = np.exp(2j * np.deg2rad(phase[usable]))
    axis = np.sum(weight[usable] * doubled)
    offset = float(np.rad2deg(np.angle(axis)) / 2.0)  # in (-90, 90]
    if offset >= 90.0:
        offset -= 180.0
    return offset


def piezoresponse(amplitude, phase_deg, offset_deg: float) -> np.ndarray:
    """The signed piezoresponse ``amplitude * cos(phase - offset)``.

    Parameters
    ----------
    amplitude : array_like
        PFM amplitude.
    phase_deg : array_like
        PFM phase in degrees, broadcastable against ``amplitude``.
    offset_deg : float
        Phase offset in degrees, e.g. from :func:`estimate_phase_offset`.

    Returns
    -------
    numpy.ndarray
        float32, the broadcast shape of ``amplitude`` and ``phase_deg``; in the unit of the
        amplitude.
    """
    amplitude = np.asarray(amplitude, dtype=np.float64)
    phase = np.asarray(phase_deg, dtype=np.float64)
    return (amplitude * np.cos(np.deg2rad(phase - float(offset_deg)))).astype(np.float32)


def add_piezoresponse(
    ds: xr.Dataset, amplitude: str = "amplitude", phase: str = "phase"
) -> xr.Dataset:
    """Add the piezoresponse of every frame as the Dataset's ``image``.

    One phase offset serves the whole movie: it is estimated over all frames together, so
    that a domain keeps its sign from frame to frame.

    Parameters
    ----------
    ds : xarray.Dataset
        Holds ``channel_image`` with dims (frame, channel, y, x) and a ``channel`` coordinate
        of channel names; an optional ``channel_units`` coordinate along ``channel`` gives
        each channel's unit.
    amplitude, phase : str
        Names of the amplitude channel and of the phase channel (in degrees); see
        :func:`pick_pfm_channels` for choosing them from an instrument's channel names.

    Returns
    -------
    xarray.Dataset
        A copy of ``ds`` with ``image`` (frame, y, x) float32, the piezoresponse, and attrs
        ``phase_offset_deg`` (float), ``piezoresponse`` (the channels and formula),
        ``amplitude_channel``, ``phase_channel`` and ``intensity_units`` (the amplitude
        channel's unit where ``channel_units`` gives it).

    Raises
    ------
    InputError
        If ``channel_image`` is missing or has other dims, or a named channel is absent
        (the message lists the channels there are).
    """
    if "channel_image" not in ds.data_vars:
        raise InputError(
            "no 'channel_image' variable (frame, channel, y, x) to compute the piezoresponse "
            f"from; found variables {sorted(map(str, ds.data_vars))}"
        )
    channels = ds["channel_image"]
    if channels.dims != ("frame", "channel", "y", "x"):
        raise InputError(
            f"channel_image must have dims (frame, channel, y, x), got {channels.dims}"
        )
    names = [str(name) for name in channels["channel"].values]
    for role, name in (("amplitude", amplitude), ("phase", phase)):
        if name not in names:
            raise InputError(
                f"no {role} channel {name!r}; the channels are {', '.join(names)}: name the "
                f"PFM {role} channel among them"
            )
    amp = channels.sel(channel=amplitude).values
    phi = channels.sel(channel=phase).values
    offset = estimate_phase_offset(amp, phi)

    out = ds.copy()
    out["image"] = (("frame", "y", "x"), piezoresponse(amp, phi, offset))
    out.attrs["phase_offset_deg"] = offset
    out.attrs["piezoresponse"] = (
        f"{amplitude} * cos({phase} - phase_offset_deg), phase in degrees; one offset for "
        "all frames, estimated as half the angle of the amplitude-weighted mean of "
        "exp(2i * phase)"
    )
    out.attrs["amplitude_channel"] = amplitude
    out.attrs["phase_channel"] = phase
    if "channel_units" in channels.coords:
        unit = str(channels["channel_units"].sel(channel=amplitude).values)
        if unit:
            out.attrs["intensity_units"] = unit
    return out


def _split_channel_name(name: str) -> tuple[str, str]:
    """``"AmplitudeRetrace"`` -> ``("amplitude", "retrace")``; no direction gives ``""``."""
    match = re.fullmatch(r"(.*?)[\s_]*(retrace|trace)?", name.strip(), flags=re.IGNORECASE)
    base, direction = match.group(1), match.group(2) or ""
    return base.lower(), direction.lower()


def _pick(names: list[str], bases: tuple[str, ...]) -> str | None:
    """The name whose base comes first in ``bases``, ties broken by scan direction."""
    ranked = []
    for name in names:
        base, direction = _split_channel_name(name)
        if base in bases:
            ranked.append((bases.index(base), _DIRECTIONS.index(direction), name))
    return min(ranked)[2] if ranked else None


def pick_pfm_channels(names) -> tuple[str, str]:
    """Choose the vertical PFM amplitude and phase channels from a scan's channel names.

    Names are compared without case and without a trailing ``Retrace``/``Trace``: the
    amplitude is ``Amplitude`` (else ``Amplitude1``, ``Amp``, ``Mag``, ``Magnitude``), the
    phase ``Phase`` (else ``Phase1``, ``Theta``). Lateral channels (``LatAmplitude``,
    ``LatPhase``) and second-frequency channels (``Amplitude2``, ``Phase2``) are never chosen.
    Where both scan directions were saved, the retrace is preferred, as Asylum Research's
    software shows it.

    Parameters
    ----------
    names : sequence of str
        Channel names as the file gives them, e.g. ``["HeightRetrace", "AmplitudeRetrace",
        "PhaseRetrace", "ZSensorRetrace", "LatAmplitudeRetrace", "LatPhaseRetrace"]``.

    Returns
    -------
    amplitude, phase : str
        The chosen names, spelt as in ``names``.

    Raises
    ------
    InputError
        If either is missing; the message lists the channels there are.

    Examples
    --------
    >>> pick_pfm_channels(["HeightRetrace", "AmplitudeTrace", "AmplitudeRetrace",
    ...                    "PhaseRetrace", "LatPhaseRetrace"])
    ('AmplitudeRetrace', 'PhaseRetrace')
    """
    names = [str(name) for name in names]
    amplitude = _pick(names, _AMPLITUDE_BASES)
    phase = _pick(names, _PHASE_BASES)
    missing = [role for role, found in (("amplitude", amplitude), ("phase", phase)) if not found]
    if missing:
        raise InputError(
            f"no vertical PFM {' or '.join(missing)} channel among the channels "
            f"{', '.join(names) or '(none)'}; a PFM scan needs e.g. 'AmplitudeRetrace' and "
            "'PhaseRetrace' (lateral channels are not used)"
        )
    return amplitude, phase


def pfm_frames(scan: xr.Dataset, skip_bad_frames: bool = SKIP_BAD_FRAMES) -> xr.Dataset:
    """Turn a PFM scan's channels into the frames Dataset whose ``image`` is the piezoresponse.

    The vertical amplitude and phase channels are chosen with :func:`pick_pfm_channels`, and
    the piezoresponse of the movie is formed with :func:`add_piezoresponse` (one phase offset
    for all frames).

    Parameters
    ----------
    scan : xarray.Dataset
        A scan as :func:`rvae_pathways.io.readers.read_scan` returns it: ``channel_image``
        (frame, channel, y, x) with coordinates ``channel`` and ``channel_units``, and attrs
        ``pixel_size_nm``, ``source`` and ``modality`` at least.
    skip_bad_frames : bool
        Drop frames whose piezoresponse is unusable instead of refusing the scan
        (:func:`rvae_pathways.core.frames.drop_bad_frames`).

    Returns
    -------
    xarray.Dataset
        A frames Dataset (see :func:`rvae_pathways.core.frames.make_frames`): ``image``
        (frame, y, x) float32, the piezoresponse in the amplitude channel's unit
        (``intensity_units``); ``channel_image`` with its coordinates as in ``scan``; the
        scan's attrs, and ``phase_offset_deg``, ``piezoresponse``, ``amplitude_channel`` and
        ``phase_channel`` (see :func:`add_piezoresponse`).

    Raises
    ------
    InputError
        If the scan has no vertical amplitude or phase channel (the message names the scan's
        ``source`` and lists its channels), or its piezoresponse has NaN, infinite or
        constant frames.
    """
    source = scan.attrs.get("source", "the scan")
    names = scan["channel"].values if "channel" in scan.coords else []
    try:
        amplitude, phase = pick_pfm_channels(names)
        with_response = add_piezoresponse(scan, amplitude, phase)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    frames = make_frames(
        with_response["image"].values,
        pixel_size_nm=scan.attrs["pixel_size_nm"],
        source=source,
        modality=scan.attrs.get("modality", "pfm"),
        intensity_units=with_response.attrs.get("intensity_units") or "counts",
    )
    frames["channel_image"] = scan["channel_image"]
    frames.attrs.update({key: value for key, value in scan.attrs.items() if key not in frames.attrs})
    for key in ("phase_offset_deg", "piezoresponse", "amplitude_channel", "phase_channel"):
        frames.attrs[key] = with_response.attrs[key]
    return checked_frames(frames, skip_bad_frames)


def read_pfm_frames(path, pixel_size_nm: float | None = None, skip_bad_frames: bool = SKIP_BAD_FRAMES,
                    frame_time_s: float | None = None) -> xr.Dataset:
    """Read a PFM file into a frames Dataset of the piezoresponse, ``modality`` ``"pfm"``.

    A multi-channel scan (:data:`rvae_pathways.io.suffixes.SCAN_SUFFIXES`, e.g. an Asylum
    Research ``.ibw``) is read with :func:`rvae_pathways.io.readers.read_scan` and turned into
    frames by :func:`pfm_frames`; any other file (e.g. a ``.npy`` or TIFF stack of
    piezoresponse images, or a ``.zarr`` frames store) is read as it is by
    :func:`rvae_pathways.io.readers.read_frames`.

    Parameters
    ----------
    path : str or Path
    pixel_size_nm : float, optional
        Pixel size in nm from the samples table; None (or NaN) means "use the file's".
    skip_bad_frames : bool
        Drop unusable frames instead of refusing the file
        (:func:`rvae_pathways.core.frames.drop_bad_frames`).
    frame_time_s : float, optional
        Seconds per frame (scan) from the samples table; None (or NaN) means "the file's, if it
        says one". PFM has no electron dose.

    Returns
    -------
    xarray.Dataset
        A frames Dataset; for a scan, as :func:`pfm_frames` returns it.

    Raises
    ------
    InputError
        As :func:`rvae_pathways.io.readers.read_scan` (or ``read_frames``) and
        :func:`pfm_frames` raise it.
    """
    if Path(path).suffix.lower() in SCAN_SUFFIXES:
        frames = pfm_frames(read_scan(path, pixel_size_nm=pixel_size_nm, modality="pfm"), skip_bad_frames)
        return set_acquisition(frames, "samples table", frame_time_s=frame_time_s)
    return read_frames(path, pixel_size_nm=pixel_size_nm, modality="pfm", frame_time_s=frame_time_s,
                       skip_bad_frames=skip_bad_frames)

"""The one exception type for bad user input, and the check of numeric parameters that raises it."""

import math

import numpy as np


class InputError(ValueError):
    """Input the user must change: the message says what is wrong and what to change.

    Library functions raise it with a message about the data; the rule scripts add the
    sample name and the file (see :func:`rvae_pathways.core.runner.run`).
    """


def check_number(name, value, *, low=None, high=None, low_open=False, integer=False, hint=""):
    """``value`` as a float (an int with ``integer``); :class:`InputError` unless a finite number in range.

    ``low``/``high`` bound it (``low_open``: strictly above ``low``); ``hint`` is appended to
    every message (e.g. where to change the value).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number, got {value!r}{hint}")
    if not math.isfinite(float(value)):
        raise InputError(f"{name} must be finite, got {value!r}{hint}")
    if integer and not float(value).is_integer():
        raise InputError(f"{name} must be a whole number, got {value!r}{hint}")
    v = int(value) if integer else float(value)
    if low is not None and (v < low or (low_open and v == low)):
        rel = ">" if low_open else ">="
        raise InputError(f"{name} must be {rel} {low}, got {value!r}{hint}")
    if high is not None and v > high:
        raise InputError(f"{name} must be <= {high}, got {value!r}{hint}")
    return v


def check_int_array(name, values, n=None):
    """``values`` as a 1-D int64 array; :class:`InputError` for another shape, non-integers, or a
    length other than ``n`` (one per observation)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InputError(f"{name} must hold whole numbers")
    arr = arr.astype(np.int64)
    if n is not None and len(arr) != n:
        raise InputError(f"{name} has {len(arr)} entries, expected {n} (one per observation)")
    return arr


def table_number(value, name: str, unit: str, positive: bool = False) -> float | None:
    """A samples-table value as a float, or None where not given (None, NaN or an empty cell).

    Parameters
    ----------
    value : Any
        The value as the table reads (a number, a numeric string, None, NaN).
    name, unit : str
        The column and its unit, for the message.
    positive : bool
        Also refuse zero, negative and infinite values.

    Raises
    ------
    InputError
        If ``value`` is not a number (or not a positive finite one when ``positive``).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} must be a number of {unit}, got {value!r}; fix it in the samples table"
        ) from None
    if math.isnan(number):
        return None
    if positive and not (math.isfinite(number) and number > 0):
        raise InputError(
            f"{name} must be a positive number of {unit}, got {value!r}; fix it in the "
            "samples table (or leave the cell empty to use the file's)"
        )
    return number

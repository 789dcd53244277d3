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

"""Argument checks shared by the public functions.

Every check raises ``TypeError`` or ``ValueError`` with a message that names the
argument, what was expected and what came, so a user never has to read a traceback
to learn which input was wrong.
"""

from __future__ import annotations

import inspect
import numbers
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_STEPS = 1_000_000
"""Most forecast steps any prediction path accepts.

``lax.scan`` counts its steps in int32 and fails with OverflowError from 2**31 on; far
below that, a recursive forecast of millions of steps says nothing about prices and its
bands and calibration residuals (``[origins, steps]``) would take gigabytes. Refused with
a ValueError before anything is compiled.
"""


MAX_HIDDEN_SIZE = 4096
"""Most units per layer (``hidden_size``) a network may have.

Far above what forecasting prices needs; it bounds what a slip of the keyboard costs:
``hidden_size=10**8`` allocated 3.5 GB before it failed. Checked when a model is made,
with ``MAX_NUM_LAYERS`` and ``MAX_SEQUENCE_LENGTH``, before anything is allocated.
"""
MAX_NUM_LAYERS = 16
"""Most stacked layers a network may have (see ``MAX_HIDDEN_SIZE``)."""
MAX_SEQUENCE_LENGTH = 10_000
"""Most prices an input window may hold (see ``MAX_HIDDEN_SIZE``)."""


def check_network_sizes(hidden_size: int, num_layers: int, sequence_length: int, direct_steps: int | None) -> None:
    """Raises ValueError for a size above its documented maximum (``direct_steps`` at most ``MAX_STEPS``)."""
    for name, value, maximum in (
        ("hidden_size", hidden_size, MAX_HIDDEN_SIZE),
        ("num_layers", num_layers, MAX_NUM_LAYERS),
        ("sequence_length", sequence_length, MAX_SEQUENCE_LENGTH),
        ("direct_steps", direct_steps, MAX_STEPS),
    ):
        if value is not None and value > maximum:
            raise ValueError(f"{name} must be at most {maximum:,}, got {value:,}")


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """Returns ``value`` as an int, or raises if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_seed(name: str, value: Any) -> int:
    """Returns ``value`` as an int, or raises unless it is an integer in ``[0, 2**63)`` (every bit counts: ``population.seed_key``)."""
    seed = check_positive_int(name, value, minimum=0)
    if seed >= 2**63:
        raise ValueError(f"{name} must be below 2**63, got {seed}")
    return seed


def check_bool(name: str, value: Any) -> bool:
    """Returns ``value`` if it is a bool, else raises ``TypeError`` (``0``, ``"yes"`` and ``None`` are not)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return value


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Returns ``value`` if it is one of ``choices`` (strings), else raises ``ValueError`` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_steps(value: Any, name: str = "steps") -> int:
    """Returns ``value`` as an int, or raises unless it is an integer in ``[1, MAX_STEPS]``."""
    steps = check_positive_int(name, value)
    if steps > MAX_STEPS:
        raise ValueError(f"{name} must be at most {MAX_STEPS:,} forecast steps, got {steps:,}")
    return steps


def check_positive_float(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Returns ``value`` as a float, or raises if it is not a finite number > 0 (>= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")
    return value


def check_fraction(name: str, value: Any, *, low_open: bool = True, high_open: bool = True) -> float:
    """Returns ``value`` as a float strictly inside (0, 1) (ends as requested)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in (0, 1), got {type(value).__name__} {value!r}")
    value = float(value)
    ok_low = value > 0 if low_open else value >= 0
    ok_high = value < 1 if high_open else value <= 1
    if not (np.isfinite(value) and ok_low and ok_high):
        raise ValueError(f"{name} must be in {'(' if low_open else '['}0, 1{')' if high_open else ']'}, got {value}")
    return value


def as_float_array(name: str, value: Any, *, ndim: int | tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """Converts ``value`` to a finite float numpy array of the given dimensionality.

    Raises:
        TypeError: strings, objects, complex numbers or anything numpy cannot read as numbers.
        ValueError: wrong number of dimensions, NaN/inf entries, or a masked array with
            masked entries (their values are not data).
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got a string {value!r:.40}")
    if isinstance(value, np.ma.MaskedArray):
        masked = int(np.ma.count_masked(value))
        if masked:
            raise ValueError(
                f"{name} must be an array of numbers, got a masked array with {masked} masked value(s); "
                f"drop them ({name}.compressed()) or fill them ({name}.filled(value)) first"
            )
        value = value.data
    try:
        arr = np.asarray(value)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}: {err}") from None
    if arr.dtype == object or arr.dtype.kind in "USVOMm":
        raise TypeError(f"{name} must be an array of numbers, got an array of dtype {arr.dtype}")
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be an array of numbers, got booleans")
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be an array of real numbers, got complex values (dtype {arr.dtype})")
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    arr = arr.astype(dtype, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{name} must be finite, got {int(bad.sum())} NaN/inf value(s) (first at flat index {first})")
    return arr


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a ``warnings.warn`` in the calling function name the first frame outside jaxlstm.

    A fixed number breaks when the same check is reached through more calls (an update of
    one series of a global model goes through two more frames than a local update).
    """
    package = str(pathlib.Path(__file__).resolve().parents[1])
    frame = inspect.currentframe()
    frame = frame.f_back if frame is not None else None  # the function that will call warn: level 1
    level = 1
    while frame is not None and str(pathlib.Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame = frame.f_back
        level += 1
    return level

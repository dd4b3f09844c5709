"""Cell values of a candle table parsed a column at a time, a bad one named by its ``Where``.

Timestamps become int64 nanoseconds since the epoch, UTC (a string without an offset is
UTC); a column of unix epochs must use one unit, told by the size of its numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
import warnings
from typing import Any, NoReturn

import numpy as np

from jaxlstm._src.io.pandas_import import import_pandas, is_pandas
from jaxlstm._src.prep import horizons

NUMBER_RE = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
TIMESTAMP_RE = re.compile(
    r"""^\s*
    (?P<y>\d{4})[-/.](?P<mo>\d{1,2})[-/.](?P<d>\d{1,2})
    (?:[T\s]+(?P<h>\d{1,2})
        (?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?
        (?:\s*-?\s*(?P<ampm>[AaPp]\.?[Mm]\.?))?
    )?
    \s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
# CryptoDataDownload's hourly files write "2019-10-17 09-AM"; pandas parses it vectorised
# with this format, and anything else goes through its ISO 8601 parser first.
_VENDOR_HOUR_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{1,2}-[AaPp][Mm]$")
_VENDOR_HOUR_FORMAT = "%Y-%m-%d %I-%p"
# A time of day followed by a UTC offset: "T09:00:00Z", " 11:00+02:00", "09:00 UTC".
_OFFSET_RE = r"(?i)\d:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)\s*$"

# Epoch numbers carry no unit; their size gives it away. Seconds stay below 1e11 until
# the year 5138, and milliseconds/microseconds of any date after 1973 are above it.
_EPOCH_LIMITS = (1e11, 1e14, 1e17)
_EPOCH_SCALES = (10**9, 10**6, 10**3, 1)
_EPOCH_NAMES = ("seconds", "milliseconds", "microseconds", "nanoseconds")

_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_NS_PER_S = 10**9
_INT64_MIN, _INT64_MAX = -(2**63) + 1, 2**63 - 1  # -2**63 is NaT
_UNIT_NS = {
    unit: int(np.timedelta64(1, unit) // np.timedelta64(1, "ns")) for unit in ("D", "h", "m", "s", "ms", "us", "ns")
}


@dataclasses.dataclass(frozen=True)
class Where:
    """Where a column's values came from: ``source`` (``"source 'x.csv'"``), ``unit`` (``"line"``
    or ``"row"``), and each value's number (``numbers``, or ``start, start + 1, ...`` when None)."""

    source: str
    unit: str
    numbers: np.ndarray | None = None
    start: int = 0

    def number(self, index: int) -> int:
        """The line number or row position of value ``index``."""
        return int(self.numbers[index]) if self.numbers is not None else self.start + int(index)

    def place(self, index: int) -> str:
        """``"line 12"`` or ``"row 3"`` for value ``index``."""
        return f"{self.unit} {self.number(index)}"

    def subset(self, keep: np.ndarray) -> Where:
        """The ``Where`` of the values selected by the boolean mask ``keep``."""
        numbers = self.numbers if self.numbers is not None else np.arange(self.start, self.start + keep.shape[0])
        return dataclasses.replace(self, numbers=numbers[keep])

    def fail(self, index: int, column: str, problem: str) -> NoReturn:
        """Raises ``ValueError: <source>: <line/row> N, column 'c': <problem>``."""
        raise ValueError(f"{self.source}: {self.place(index)}, column {column!r}: {problem}")


def looks_like_timestamp(value: Any) -> bool:
    """Whether ``value`` is a date string such as ``2019-10-17`` or ``2019-10-17 09-AM``."""
    return isinstance(value, str) and TIMESTAMP_RE.match(value) is not None


def _describe(cell: Any) -> str:
    if isinstance(cell, str):
        return "an empty cell" if not cell.strip() else repr(cell)
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return repr(cell) if cell is None else "an empty cell"
    return f"{type(cell).__name__} {cell!r}"


def _to_numpy(values: Any) -> np.ndarray:
    if is_pandas(values, "Series") or is_pandas(values, "Index"):
        if values.dtype.kind in "iufb":
            return values.to_numpy()
        return values.to_numpy(dtype=object)
    if isinstance(values, np.ndarray):
        return values
    return np.array(list(values), dtype=object)


def numbers(values: Any, where: Where, column: str, *, optional: bool) -> np.ndarray:
    """``[rows]`` float64 of numbers or numeric strings (empty cells NaN when ``optional``)."""
    arr = _to_numpy(values)
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind in "bc":
        where.fail(0, column, f"expected real numbers, got a column of dtype {arr.dtype}")
    cells = arr.astype(object, copy=False)
    has_none = False
    for i, cell in enumerate(cells):
        if isinstance(cell, (bool, np.bool_, complex, np.complexfloating)):
            where.fail(i, column, f"expected a number, got {_describe(cell)}")
        has_none = has_none or cell is None
    if not has_none:  # numpy would turn None into NaN
        try:
            return cells.astype(np.float64)
        except (TypeError, ValueError):
            pass
    # Some cell did not convert: empty cells (None, NaN, "") or the first real error.
    out = np.empty(cells.shape[0], dtype=np.float64)
    for i, cell in enumerate(cells):
        empty = (
            cell is None or (isinstance(cell, float) and np.isnan(cell)) or (isinstance(cell, str) and not cell.strip())
        )
        if empty:
            if not optional:
                where.fail(i, column, f"expected a number, got {_describe(cell)}")
            out[i] = np.nan
            continue
        try:
            out[i] = float(cell)
        except (TypeError, ValueError):
            where.fail(i, column, f"expected a number, got {_describe(cell)}")
    return out


def time_values(values: Any, where: Where, column: str) -> tuple[np.ndarray, bool]:
    """``(nanos, False)`` for dates, datetimes and datetime64; ``(numbers, True)`` for unscaled epochs."""
    if is_pandas(values, "Series") or is_pandas(values, "Index"):
        dtype = values.dtype
        if dtype.kind == "M" or getattr(dtype, "tz", None) is not None:
            pd = import_pandas("parsing timestamps")
            stamps = pd.DatetimeIndex(values)
            if stamps.tz is not None:
                stamps = stamps.tz_convert("UTC").tz_localize(None)
            return _checked_ns(stamps, where, column), False
    arr = _to_numpy(values)
    if arr.dtype.kind == "M":
        return _checked_ns(arr, where, column), False
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False), True
    if arr.dtype.kind == "f":
        return arr, True
    if arr.dtype.kind != "O" and arr.dtype.kind not in "UST":
        where.fail(0, column, f"expected timestamps, got a column of dtype {arr.dtype}")
    cells = arr.astype(object, copy=False)
    if cells.shape[0] == 0:
        return np.empty(0, dtype=np.int64), False
    first = cells[0]
    if (isinstance(first, (int, float, np.integer, np.floating)) and not isinstance(first, (bool, np.bool_))) or (
        isinstance(first, str) and NUMBER_RE.match(first) is not None
    ):
        return numbers(cells, where, column, optional=False), True
    if isinstance(first, str):
        return texts_to_ns(cells, where, column), False
    return _cells_to_ns(cells, where, column), False


def _cells_to_ns(cells: np.ndarray, where: Where, column: str) -> np.ndarray:
    """Timestamps one cell at a time: strings, datetime objects, datetime64 values."""
    out = np.empty(cells.shape[0], dtype=np.int64)
    for i, cell in enumerate(cells):
        if isinstance(cell, str):
            out[i] = _parse_timestamp_text(cell, where, i, column)
        elif isinstance(cell, (_dt.datetime, np.datetime64)) or type(cell).__name__ == "Timestamp":
            out[i] = _datetime_object_ns(cell, where, i, column)
        else:
            where.fail(i, column, f"expected a timestamp, got {_describe(cell)}")
    return out


def times_to_ns(values: Any, where: Where, column: str) -> np.ndarray:
    """Parses a column of timestamps or epochs into int64 nanoseconds since the epoch (UTC)."""
    arr, is_epoch = time_values(values, where, column)
    return epochs_to_ns(arr, where, column) if is_epoch else arr


def _checked_ns(stamps: Any, where: Where, column: str) -> np.ndarray:
    arr = np.asarray(stamps)
    counts = arr.view(np.int64)
    low, high = (int(counts.min()), int(counts.max())) if counts.size else (0, 0)
    unit, count = np.datetime_data(arr.dtype)
    if unit in _UNIT_NS:
        # Two reductions decide the common case (every value in range, no NaT); then an
        # integer multiply, far cheaper than numpy's checked cast, cannot overflow.
        factor = _UNIT_NS[unit] * count
        if -(_INT64_MAX // factor) <= low <= high <= _INT64_MAX // factor:
            return counts * factor if factor != 1 else counts
    outside = horizons.outside_ns_range(arr)
    if outside.any():
        where.fail(
            int(np.flatnonzero(outside)[0]),
            column,
            f"expected a time from {horizons.FIRST_TIME} to {horizons.LAST_TIME}, got {arr[outside][0]}",
        )
    arr = arr.astype("datetime64[ns]")
    nat = np.isnat(arr)
    if nat.any():
        where.fail(int(np.flatnonzero(nat)[0]), column, "expected a timestamp, got an empty cell (NaT)")
    return arr.view(np.int64)


def texts_to_ns(cells: np.ndarray, where: Where, column: str) -> np.ndarray:
    """``[rows]`` int64 nanoseconds of date strings: pandas parses the column, and a column it
    refuses goes cell by cell (reading ``2019/10/17 9:00 PM`` too, and naming the bad cell)."""
    pd = import_pandas("parsing timestamps")
    first = next((cell for cell in cells if isinstance(cell, str) and cell.strip()), "")
    fmt = _VENDOR_HOUR_FORMAT if _VENDOR_HOUR_RE.match(first) else "ISO8601"
    try:
        ns = _vectorised_ns(pd, cells, fmt)
    except (ValueError, TypeError, OverflowError):
        ns = None
    if ns is not None:
        nat = ns == np.iinfo(np.int64).min
        if not nat.any():
            return ns
        i = int(np.flatnonzero(nat)[0])
        where.fail(i, column, f"expected a timestamp, got {_describe(cells[i])}")
    return _cells_to_ns(cells, where, column)


def _vectorised_ns(pd: Any, cells: np.ndarray, fmt: str) -> np.ndarray:
    """Date strings parsed by pandas, each in its own offset (none: UTC).

    Not ``utc=True`` on the whole column: pandas 2 reads a string without an offset in its
    neighbour's offset. A mixed column is split into strings with an offset and without.
    """
    try:
        return _iso_ns(pd, cells, fmt, utc=False)
    except ValueError:
        pass  # mixed offsets (pandas 3 raises, pandas 2 returns objects) or a bad cell
    aware = pd.Series(cells, dtype=object).str.contains(_OFFSET_RE, na=False).to_numpy(dtype=bool)
    out = np.empty(cells.shape[0], dtype=np.int64)
    for rows, utc in ((aware, True), (~aware, False)):
        if rows.any():
            out[rows] = _iso_ns(pd, cells[rows], fmt, utc=utc)
    return out


def _iso_ns(pd: Any, cells: np.ndarray, fmt: str, *, utc: bool) -> np.ndarray:
    """``[rows]`` int64 nanoseconds (UTC) of strings that pandas parses into one DatetimeIndex."""
    with warnings.catch_warnings():
        # pandas 2 warns about mixed offsets and returns objects, refused below.
        warnings.simplefilter("ignore", FutureWarning)
        stamps = pd.to_datetime(cells, format=fmt, utc=utc)
    if not is_pandas(stamps, "DatetimeIndex"):
        raise ValueError("the strings do not share one time zone")
    if stamps.tz is not None:
        stamps = stamps.tz_convert("UTC").tz_localize(None)
    return np.asarray(stamps.as_unit("ns").asi8)


def _parse_timestamp_text(text: str, where: Where, index: int, column: str) -> int:
    match = TIMESTAMP_RE.match(text)
    if match is None:
        where.fail(index, column, f"expected a timestamp like 2019-10-17 09:00 or a unix epoch, got {_describe(text)}")
    g = match.groupdict()
    try:
        ordinal = _dt.date(int(g["y"]), int(g["mo"]), int(g["d"])).toordinal()
    except ValueError as err:
        where.fail(index, column, f"invalid date in {text!r}: {err}")
    hour, minute, second = int(g["h"] or 0), int(g["mi"] or 0), int(g["s"] or 0)
    if g["ampm"]:
        if not 1 <= hour <= 12:
            where.fail(index, column, f"hour must be 1-12 with AM/PM, got {text!r}")
        # 12 AM is midnight and 12 PM is noon.
        hour = hour % 12 + (12 if g["ampm"][0] in "Pp" else 0)
    if hour > 23 or minute > 59 or second > 59:
        where.fail(index, column, f"invalid time of day in {text!r}")
    offset_minutes = 0
    tz = (g["tz"] or "").upper()
    if tz and tz not in ("Z", "UTC", "GMT"):
        digits = tz[1:].replace(":", "")
        offset_minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
        if tz[0] == "-":
            offset_minutes = -offset_minutes
    seconds = (ordinal - _EPOCH_ORDINAL) * 86400 + hour * 3600 + (minute - offset_minutes) * 60 + second
    nanos = seconds * _NS_PER_S + int((g["f"] or "0").ljust(9, "0"))
    if not _INT64_MIN <= nanos <= _INT64_MAX:
        where.fail(index, column, f"{text!r} is outside the datetime64[ns] range (1677-2262)")
    return nanos


def _datetime_object_ns(value: Any, where: Where, index: int, column: str) -> int:
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(_dt.UTC).replace(tzinfo=None)
    stamp = np.datetime64(value, "ns")
    if np.isnat(stamp):
        where.fail(index, column, "expected a timestamp, got NaT")
    return int(stamp.astype(np.int64))


def epoch_unit(value: float) -> int:
    """The position in (seconds, ms, us, ns) that the size of an epoch number points to."""
    return int(np.searchsorted(_EPOCH_LIMITS, abs(float(value)), side="right"))


def epochs_to_ns(epochs: np.ndarray, where: Where, column: str, *, scale: int | None = None) -> np.ndarray:
    """``[rows]`` int64 nanoseconds of epoch numbers; ``scale`` (ns per unit) None infers one unit
    for the column from the numbers' size, refusing a column that mixes units."""
    arr = np.asarray(epochs)
    if arr.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    is_float = arr.dtype.kind == "f"
    if is_float:
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            where.fail(i, column, f"expected a unix epoch, got {arr[i]}")
    if scale is None:
        # The unit grows with |value|, so all values share one unit exactly when the
        # smallest and the largest magnitude do.
        sizes = arr if arr.min() >= 0 else np.abs(arr.astype(np.float64))
        units = (epoch_unit(sizes.min()), epoch_unit(sizes.max()))
        if units[0] != units[1]:
            first = epoch_unit(arr[0])
            j = next(i for i in range(arr.shape[0]) if epoch_unit(arr[i]) != first)
            where.fail(
                j,
                column,
                f"the epoch {arr[j]} is in {_EPOCH_NAMES[epoch_unit(arr[j])]} but {where.place(0)} has {arr[0]} in "
                f"{_EPOCH_NAMES[first]}: a time column must use one unit",
            )
        scale = _EPOCH_SCALES[units[0]]
    limit = _INT64_MAX // scale
    outside = (arr > limit) | (arr < -limit)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        where.fail(i, column, f"expected a unix epoch within the datetime64[ns] range, got {arr[i]}")
    if is_float and not np.all(arr == np.round(arr)):
        return np.round(arr * scale).astype(np.int64)
    if arr.dtype != np.int64:
        nanos = arr.astype(np.int64)
        nanos *= scale
        return nanos
    return arr * scale  # a new array: the caller's epochs are never modified

"""Loading OHLCV candles from the places prices usually come from.

Sources are CSV files as exchanges and data vendors publish them, pandas objects and
ccxt-style rows. Everything ends up as numpy arrays: pandas is optional and imported
only by the code paths that need a pandas object.

Conventions shared by every loader:

* Timestamps are ``datetime64[ns]`` in UTC with no time zone attached. Strings with a
  UTC offset are converted to UTC; strings without one are taken to be UTC already.
* Rows come back sorted by time, oldest first (a stable sort, so the file order of
  equal timestamps is kept before de-duplication).
* When several rows share a timestamp, only the one that comes last in the source's
  order is kept, so a vendor's later correction wins over the original row.
* Prices (open, high, low, close) must be finite and > 0. Volume must be >= 0; a
  missing volume (no volume column, an empty cell, ``None``) is stored as NaN.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxlstm._src import validation

PANDAS_HINT = "pip install 'jaxlstm[pandas]'"
DEMO_FILE = "Coinbase_BTCUSD_1h.csv"

_PRICE_FIELDS = ("open", "high", "low", "close")
_FIELDS = _PRICE_FIELDS + ("volume",)

# Header aliases after normalisation (lower case, runs of other characters -> "_").
# The order is the preference when a file has more than one: an epoch column is exact,
# and "time" goes before "date" so that a split date/time pair fails loudly instead of
# silently collapsing intraday rows onto one date.
_TIME_ALIASES = (
    "timestamp",
    "unix",
    "unix_timestamp",
    "datetime",
    "date_time",
    "open_time",
    "time",
    "date",
    "ts",
    "t",
)
_COLUMN_ALIASES = {
    "open": ("open", "o", "open_price"),
    "high": ("high", "h", "high_price"),
    "low": ("low", "l", "low_price"),
    "close": ("close", "c", "close_price", "last", "price"),
}
_SYMBOL_ALIASES = ("symbol", "ticker", "pair", "market", "instrument")

# Epoch numbers carry no unit; their size gives it away. Seconds stay below 1e11 until
# the year 5138, and milliseconds/microseconds of any date after 1973 are above it.
_EPOCH_UNITS = ((1e11, 10**9, "seconds"), (1e14, 10**6, "milliseconds"), (1e17, 10**3, "microseconds"))

# Vendor preambles ("Timestamps are UTC timezone,https://...") are a line or two long.
_MAX_PREAMBLE_LINES = 10

_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_TIMESTAMP_RE = re.compile(
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
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_NS_PER_S = 10**9
_INT64_MIN, _INT64_MAX = -(2**63) + 1, 2**63 - 1  # -2**63 is NaT


@dataclasses.dataclass(frozen=True, eq=False)
class OHLCV:
    """Candles as parallel read-only numpy arrays, oldest first.

    Attributes:
        timestamps: ``[time]`` ``datetime64[ns]``, UTC without a time zone.
        open: ``[time]`` float64 opening prices.
        high: ``[time]`` float64 highest prices.
        low: ``[time]`` float64 lowest prices.
        close: ``[time]`` float64 closing prices.
        volume: ``[time]`` float64 traded volume (base asset when known), NaN if unknown.
        symbol: the instrument, e.g. ``"BTCUSD"``, or None when the source did not say.
    """

    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    symbol: str | None = None

    def __post_init__(self) -> None:
        # Copies, so that freezing them cannot lock or alias an array the caller owns.
        try:
            stamps = np.array(self.timestamps, dtype="datetime64[ns]")
        except (TypeError, ValueError) as err:
            raise TypeError(f"OHLCV.timestamps must be datetime64 values, got {err}") from None
        arrays = {"timestamps": stamps}
        for field in _FIELDS:
            value = getattr(self, field)
            try:
                arrays[field] = np.array(value, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise TypeError(f"OHLCV.{field} must be an array of numbers, got {err}") from None
        for field, arr in arrays.items():
            if arr.ndim != 1:
                raise ValueError(f"OHLCV.{field} must be 1-D [time], got shape {arr.shape}")
            if arr.shape != stamps.shape:
                raise ValueError(
                    f"OHLCV arrays must all have the length of timestamps ({stamps.shape[0]}), "
                    f"got {field} of length {arr.shape[0]}"
                )
            arr.setflags(write=False)
            object.__setattr__(self, field, arr)
        if self.symbol is not None and not isinstance(self.symbol, str):
            raise TypeError(f"OHLCV.symbol must be a str or None, got {type(self.symbol).__name__}")

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    def __repr__(self) -> str:
        if len(self) == 0:
            span = "empty"
        else:
            seconds = self.timestamps[[0, -1]].astype("datetime64[s]")
            span = f"{seconds[0]} .. {seconds[1]}"
        return f"OHLCV(symbol={self.symbol!r}, rows={len(self)}, {span})"

    def to_pandas(self) -> Any:
        """Returns the candles as a pandas DataFrame.

        Returns:
            A DataFrame with a ``DatetimeIndex`` named ``"timestamp"`` (``[time]``),
            columns ``open, high, low, close, volume`` and ``attrs["symbol"]``.

        Raises:
            ImportError: pandas is not installed.
        """
        pd = _import_pandas("OHLCV.to_pandas()")
        frame = pd.DataFrame(
            {field: np.array(getattr(self, field)) for field in _FIELDS},
            index=pd.DatetimeIndex(np.array(self.timestamps), name="timestamp"),
        )
        frame.attrs["symbol"] = self.symbol
        return frame


def load_ohlcv(source: Any, *, symbol: str | None = None) -> OHLCV:
    """Loads candles from a CSV file, a pandas DataFrame or ccxt-style rows.

    CSV files may start with vendor comment lines before the header; header names are
    matched case-insensitively with common aliases (``date``/``time``/``timestamp``/
    ``unix``, ``o``/``h``/``l``/``c``, ``Volume USD``/``volume_btc``...). A headerless
    file whose rows are all numbers is read as ``time, open, high, low, close, volume``.
    Timestamps may be ISO-like strings (``2019-10-17``, ``2019-10-17T09:00:00Z``,
    ``2019-10-17 09-AM``) or unix epochs in seconds, milliseconds, microseconds or
    nanoseconds (the unit is inferred from the size of the numbers). When several volume
    columns exist, the base-asset one (``volume_btc`` for ``BTCUSD``) is preferred, else
    the first. The result is sorted by time; of rows sharing a timestamp, the last in the
    source's order is kept.

    Args:
        source: a path (``str`` or ``os.PathLike``) to a CSV file; a pandas DataFrame with
            a ``DatetimeIndex`` or a time column; ccxt rows ``[[ms, open, high, low,
            close, volume], ...]`` (a sequence of rows or a ``[rows, 6]`` array); or an
            ``OHLCV``, returned unchanged.
        symbol: keeps only the rows of this symbol when the source has a symbol column
            (``"BTC/USD"`` matches ``"BTCUSD"``); otherwise it labels the result.

    Returns:
        ``OHLCV`` with ``[time]`` arrays, oldest first.

    Raises:
        FileNotFoundError: the path does not exist.
        TypeError: an unsupported source type.
        ValueError: no data rows, a missing column, or a value that cannot be parsed or
            is out of range; the message names the line (files) or row and the column.
    """
    if symbol is not None and not isinstance(symbol, str):
        raise TypeError(f"symbol must be a str or None, got {type(symbol).__name__} {symbol!r}")
    if isinstance(source, OHLCV):
        return source
    if isinstance(source, (str, os.PathLike)):
        return _load_csv(Path(source), symbol)
    if _is_pandas(source, "DataFrame"):
        return _load_frame(source, symbol)
    if _is_pandas(source, "Series"):
        raise TypeError(
            "source must be a CSV path, a DataFrame, an OHLCV or ccxt rows, got a pandas Series; "
            "use as_price_series() for a series of prices"
        )
    if isinstance(source, np.ndarray) or (
        isinstance(source, (list, tuple)) and all(isinstance(row, (list, tuple, np.ndarray)) for row in source)
    ):
        return _load_rows(source, symbol)
    raise TypeError(
        "source must be a CSV path (str or os.PathLike), a pandas DataFrame, an OHLCV or ccxt rows "
        f"[[ms, open, high, low, close, volume], ...], got {type(source).__name__}"
    )


def as_price_series(data: Any, *, name: str = "data") -> tuple[np.ndarray, np.ndarray | None]:
    """Turns whatever holds the prices into a float price array and optional timestamps.

    When timestamps are known the series is put in time order and rows sharing a
    timestamp are reduced to the last one, as ``load_ohlcv`` does.

    Args:
        data: a 1-D list/array of prices; a pandas Series (a ``DatetimeIndex`` gives the
            timestamps); an OHLCV-like DataFrame (its close column; timestamps from a
            ``DatetimeIndex`` or a time column); ccxt rows ``[time, 6]`` (close is
            column 4, millisecond timestamps column 0); or an ``OHLCV``.
        name: the argument's name, used in error messages.

    Returns:
        ``(prices, timestamps)``: float64 ``[time]`` prices, and ``datetime64[ns]``
        ``[time]`` timestamps or None when the input has none.

    Raises:
        TypeError: strings, paths, booleans or other non-numeric input.
        ValueError: empty input, a wrong shape, NaN/inf or a price <= 0.
    """
    stamps: np.ndarray | None = None
    if isinstance(data, OHLCV):
        prices, stamps = np.array(data.close), np.array(data.timestamps)
    elif isinstance(data, (str, bytes, os.PathLike)):
        raise TypeError(
            f"{name} must be prices (an array, Series, DataFrame, ccxt rows or OHLCV), got "
            f"{type(data).__name__} {str(data)!r:.60}; to read a CSV file use load_ohlcv(path)"
        )
    elif _is_pandas(data, "Series"):
        prices = validation.as_float_array(name, data.to_numpy(), ndim=1)
        stamps = _index_timestamps(data.index, name)
    elif _is_pandas(data, "DataFrame"):
        prices, stamps = _frame_close(data, name)
    elif isinstance(data, (list, tuple)) and len(data) > 0 and isinstance(data[0], (list, tuple)):
        # Rows are read column-wise so that a ccxt volume of None cannot spoil the prices.
        widths = {len(row) if isinstance(row, (list, tuple)) else -1 for row in data}
        if widths != {6}:
            raise ValueError(
                f"{name} as rows must be ccxt rows [[ms, open, high, low, close, volume], ...] of 6 "
                f"columns each, got rows of lengths {sorted(widths)}"
            )
        prices = validation.as_float_array(name, [row[4] for row in data], ndim=1)
        ms = validation.as_float_array(f"{name} timestamps (column 0)", [row[0] for row in data], ndim=1)
        stamps = _epoch_to_datetime(ms, 10**6)
    else:
        arr = validation.as_float_array(name, data, ndim=(1, 2))
        if arr.ndim == 2:
            if arr.shape[1] != 6:
                raise ValueError(
                    f"{name} must be 1-D prices [time] or ccxt rows [time, 6] "
                    f"(ms, open, high, low, close, volume), got shape {arr.shape}"
                )
            stamps = _epoch_to_datetime(arr[:, 0], 10**6)
            arr = arr[:, 4]
        prices = arr
    prices = np.array(prices, dtype=np.float64)
    if prices.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one price, got an empty series")
    if not np.all(np.isfinite(prices)):
        first = int(np.flatnonzero(~np.isfinite(prices))[0])
        raise ValueError(f"{name} must be finite, got {prices[first]} at position {first}")
    if np.any(prices <= 0):
        first = int(np.flatnonzero(prices <= 0)[0])
        raise ValueError(f"{name} must be positive prices, got {prices[first]} at position {first}")
    if stamps is not None:
        if np.any(np.isnat(stamps)):
            first = int(np.flatnonzero(np.isnat(stamps))[0])
            raise ValueError(f"{name} timestamps must all be set, got NaT at position {first}")
        order = _sorted_unique_order(stamps.astype(np.int64))
        prices, stamps = prices[order], stamps[order]
    return prices, stamps


def infer_interval(timestamps: Any) -> np.timedelta64:
    """The data's own sampling interval: the median of positive consecutive differences.

    Args:
        timestamps: ``[time]`` datetime64 values (array, list or ``DatetimeIndex``), in any
            order, or None. NaT entries are ignored.

    Returns:
        ``np.timedelta64`` in nanoseconds; one hour when there are fewer than two
        distinct timestamps (or None), since hourly candles are the common case.

    Raises:
        TypeError: values that are not dates/times.
        ValueError: not 1-D.
    """
    default = np.timedelta64(1, "h").astype("timedelta64[ns]")
    if timestamps is None:
        return default
    if _is_pandas(timestamps, "DatetimeIndex") and timestamps.tz is not None:
        timestamps = timestamps.tz_convert(None)
    arr = np.asarray(timestamps)
    if arr.dtype.kind in "biufc" or arr.dtype.kind == "m":
        raise TypeError(f"timestamps must be datetime64 values, got an array of dtype {arr.dtype}")
    try:
        arr = arr.astype("datetime64[ns]")
    except (TypeError, ValueError) as err:
        raise TypeError(f"timestamps must be datetime64 values, got dtype {arr.dtype}: {err}") from None
    if arr.ndim != 1:
        raise ValueError(f"timestamps must be 1-D [time], got shape {arr.shape}")
    ns = np.sort(arr[~np.isnat(arr)].astype(np.int64))
    steps = np.diff(ns)
    steps = steps[steps > 0]
    if steps.size == 0:
        return default
    return np.timedelta64(int(round(float(np.median(steps)))), "ns")


def demo_data_path() -> Path:
    """Path of the bundled demo file: ~3000 hourly Coinbase BTC/USD candles up to 2019-10-17.

    Returns:
        The path of ``jaxlstm/demo/Coinbase_BTCUSD_1h.csv`` inside the installed package.

    Raises:
        FileNotFoundError: the package was installed without its data files.
    """
    path = Path(__file__).resolve().parents[2] / "demo" / DEMO_FILE
    if not path.is_file():
        raise FileNotFoundError(f"the demo data file {path} is missing; reinstall jaxlstm with its package data")
    return path


def load_demo() -> OHLCV:
    """Loads the bundled demo candles (hourly BTC/USD from Coinbase, symbol ``BTCUSD``).

    Returns:
        ``OHLCV`` with ``[time]`` arrays of ~3000 hourly rows, oldest first.
    """
    return load_ohlcv(demo_data_path())


# ---------------------------------------------------------------------------- pandas


def _import_pandas(purpose: str) -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(f"{purpose} needs pandas, which is not installed: {PANDAS_HINT}") from None
    return pandas


def _is_pandas(value: Any, class_name: str) -> bool:
    # Only an already-imported pandas can have produced a pandas object, so looking in
    # sys.modules avoids importing pandas just to learn that an input is a plain list.
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, getattr(pd, class_name, ()))


def _index_timestamps(index: Any, name: str) -> np.ndarray | None:
    if not _is_pandas(index, "DatetimeIndex"):
        return None
    if index.tz is not None:
        index = index.tz_convert(None)
    return np.asarray(index).astype("datetime64[ns]")


def _frame_close(frame: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    columns = _match_columns([str(c) for c in frame.columns])
    if "close" not in columns:
        raise ValueError(
            f"{name} as a DataFrame needs a close column (close, c, last or price), got columns {list(frame.columns)}"
        )
    prices = validation.as_float_array(
        f"{name}[{frame.columns[columns['close']]!r}]", frame.iloc[:, columns["close"]].to_numpy(), ndim=1
    )
    if "symbol" in columns:
        symbols = {str(v).strip() for v in frame.iloc[:, columns["symbol"]].to_numpy(dtype=object) if v is not None}
        if len(symbols - {""}) > 1:
            raise ValueError(
                f"{name} holds several symbols ({', '.join(sorted(symbols - {''})[:5])}); "
                "select one first, e.g. with load_ohlcv(frame, symbol=...)"
            )
    stamps = _index_timestamps(frame.index, name)
    if stamps is None and "time" in columns:
        where = _Where(f"{name}", "row", np.arange(len(frame)))
        stamps = _frame_time_column(frame.iloc[:, columns["time"]], where, str(frame.columns[columns["time"]]))
    return prices, stamps


def _frame_time_column(column: Any, where: _Where, label: str) -> np.ndarray:
    kind = column.dtype.kind
    if kind == "M" or hasattr(column.dtype, "tz"):
        if getattr(column.dtype, "tz", None) is not None:
            column = column.dt.tz_convert(None)
        stamps = column.to_numpy().astype("datetime64[ns]")
        if np.any(np.isnat(stamps)):
            where.fail(int(np.flatnonzero(np.isnat(stamps))[0]), label, "expected a timestamp, got NaT")
        return stamps
    values = column.to_numpy(dtype=object)
    return _parse_time_cells(list(values), where, label)


def _load_frame(frame: Any, symbol: str | None) -> OHLCV:
    labels = [str(c) for c in frame.columns]
    columns = _match_columns(labels)
    where = _Where("source DataFrame", "row", np.arange(len(frame)))
    stamps = _index_timestamps(frame.index, "source")
    if stamps is None:
        if "time" not in columns:
            raise ValueError(
                "source DataFrame needs a DatetimeIndex or a time column "
                f"({', '.join(_TIME_ALIASES)}), got index {type(frame.index).__name__} "
                f"and columns {labels}"
            )
    _require_columns(columns, labels, "source DataFrame", need_time=stamps is None)
    keep = np.ones(len(frame), dtype=bool)
    found_symbol = symbol
    if "symbol" in columns:
        found_symbol, keep = _select_symbol(
            [None if v is None else str(v) for v in frame.iloc[:, columns["symbol"]].to_numpy(dtype=object)],
            symbol,
            "source DataFrame",
        )
    _prefer_base_volume(columns, labels, found_symbol)
    where = where.subset(keep)
    if stamps is None:
        stamps = _frame_time_column(frame.iloc[keep, columns["time"]], where, labels[columns["time"]])
    else:
        stamps = stamps[keep]
    values = {}
    for field in _FIELDS:
        if field not in columns:
            values[field] = np.full(len(stamps), np.nan)
            continue
        col = frame.iloc[keep, columns[field]]
        if col.dtype.kind in "iuf":
            values[field] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values[field] = _parse_number_cells(
                list(col.to_numpy(dtype=object)), where, labels[columns[field]], optional=field == "volume"
            )
    return _assemble(stamps.astype(np.int64), values, where, columns, labels, found_symbol)


# ---------------------------------------------------------------------------- CSV


def _load_csv(path: Path, symbol: str | None) -> OHLCV:
    if not path.exists():
        raise FileNotFoundError(f"source: no such file {str(path)!r}")
    if path.is_dir():
        raise IsADirectoryError(f"source must be a CSV file, got the directory {str(path)!r}")
    where_name = f"source {path.name!r}"
    # utf-8-sig drops the byte-order mark that spreadsheet exports put before the header.
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header, header_line, first_row = _find_header(reader, where_name)
        if header is None:
            labels = [f"column {i}" for i in range(len(first_row[1]))]
            columns = {"time": 0, "open": 1, "high": 2, "low": 3, "close": 4, "volume": 5}
            pending = [first_row]
        else:
            labels = [cell.strip() for cell in header]
            columns = _match_columns(labels)
            _require_columns(columns, labels, f"{where_name} (header on line {header_line})")
            pending = []
        lines: list[int] = []
        rows: list[list[str]] = []
        for line, row in pending:
            lines.append(line)
            rows.append(row)
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            lines.append(reader.line_num)
            rows.append(row)
    if not rows:
        raise ValueError(f"{where_name} has no data rows: expected at least one row after the header")
    where = _Where(where_name, "line", np.asarray(lines))
    found_symbol = symbol
    if "symbol" in columns:
        i = columns["symbol"]
        found_symbol, keep = _select_symbol([row[i] if i < len(row) else "" for row in rows], symbol, where_name)
        if not keep.all():
            rows = [row for row, k in zip(rows, keep) if k]
            where = where.subset(keep)
    _prefer_base_volume(columns, labels, found_symbol)
    width = max(columns.values()) + 1
    for line, row in zip(where.numbers, rows):
        if len(row) < width:
            raise ValueError(
                f"{where_name}: line {line} has {len(row)} fields, expected at least {width} (columns {labels})"
            )
    stamps = _parse_time_cells([row[columns["time"]] for row in rows], where, labels[columns["time"]])
    values = {}
    for field in _FIELDS:
        if field in columns:
            values[field] = _parse_number_cells(
                [row[columns[field]] for row in rows], where, labels[columns[field]], optional=field == "volume"
            )
        else:
            values[field] = np.full(len(rows), np.nan)
    return _assemble(stamps.astype(np.int64), values, where, columns, labels, found_symbol)


def _find_header(reader: Any, where_name: str) -> tuple[list[str] | None, int, tuple[int, list[str]]]:
    """Skips vendor preamble lines; returns (header or None if headerless, its line, first row)."""
    seen = []
    for row in reader:
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        seen.append(row)
        columns = _match_columns([cell.strip() for cell in row])
        if "time" in columns and "close" in columns:
            return row, reader.line_num, (reader.line_num, row)
        if len(row) >= 6 and all(_NUMBER_RE.match(cell.strip()) for cell in row):
            return None, 0, (reader.line_num, row)
        if len(seen) >= _MAX_PREAMBLE_LINES:
            break
    if not seen:
        raise ValueError(f"{where_name} is empty: expected a header row and at least one data row")
    raise ValueError(
        f"{where_name}: found no header row with a time column ({', '.join(_TIME_ALIASES[:7])}, ...) and a "
        f"close column in its first {len(seen)} non-blank line(s); the first one was {','.join(seen[0])!r:.120}"
    )


# ---------------------------------------------------------------------------- rows


def _load_rows(source: Any, symbol: str | None) -> OHLCV:
    where_name = "source rows"
    if isinstance(source, np.ndarray):
        if source.ndim != 2 or source.shape[1] != 6:
            raise ValueError(
                f"source as an array must be ccxt rows [rows, 6] (ms, open, high, low, close, volume), "
                f"got shape {source.shape}"
            )
        source = source.tolist()
    widths = sorted({len(row) for row in source})
    if widths and widths != [6]:
        bad = next(i for i, row in enumerate(source) if len(row) != 6)
        raise ValueError(
            f"source rows must be ccxt rows [[ms, open, high, low, close, volume], ...] of 6 values, "
            f"got {len(source[bad])} values in row {bad}"
        )
    if not source:
        raise ValueError(f"{where_name} has no data rows: expected at least one [ms, open, high, low, close, volume]")
    where = _Where(where_name, "row", np.arange(len(source)))
    labels = ["timestamp", "open", "high", "low", "close", "volume"]
    columns = {field: i for i, field in enumerate(["time", *_FIELDS])}
    ms = _parse_number_cells([row[0] for row in source], where, "timestamp", optional=False)
    stamps = _epoch_to_datetime(ms, 10**6, where, "timestamp")
    values = {
        field: _parse_number_cells([row[i] for row in source], where, field, optional=field == "volume")
        for i, field in enumerate(_FIELDS, start=1)
    }
    return _assemble(stamps.astype(np.int64), values, where, columns, labels, symbol)


# ---------------------------------------------------------------------------- shared


@dataclasses.dataclass(frozen=True)
class _Where:
    """Says where a value came from: ``source 'x.csv': line 12``."""

    source: str
    unit: str  # "line" (file line numbers) or "row" (0-based positions)
    numbers: np.ndarray

    def subset(self, keep: np.ndarray) -> _Where:
        return _Where(self.source, self.unit, self.numbers[keep])

    def fail(self, index: int, column: str, problem: str) -> None:
        raise ValueError(f"{self.source}: {self.unit} {int(self.numbers[index])}, column {column!r}: {problem}")


def _normalise(label: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", label.strip().strip('"').lower()).strip("_")


def _match_columns(labels: Sequence[str]) -> dict[str, int]:
    """Maps ``time, open, high, low, close, volume, symbol`` to column positions."""
    names = [_normalise(label) for label in labels]
    found: dict[str, int] = {}

    def first(aliases: Sequence[str]) -> int | None:
        for alias in aliases:
            if alias in names:
                return names.index(alias)
        return None

    for key, aliases in [("time", _TIME_ALIASES), ("symbol", _SYMBOL_ALIASES), *_COLUMN_ALIASES.items()]:
        position = first(aliases)
        if position is not None:
            found[key] = position
    volume = _pick_volume(names)
    if volume is not None:
        found["volume"] = volume
    return found


def _pick_volume(names: list[str]) -> int | None:
    """The first volume-like column, or one explicitly marked as base-asset volume."""
    candidates = [
        i
        for i, n in enumerate(names)
        if (n in ("volume", "vol", "v") or n.startswith(("volume_", "vol_")) or n.endswith("_volume"))
        and "taker" not in n
        and "weighted" not in n
    ]
    if not candidates:
        return None
    for i in candidates:
        if "base" in names[i].split("_"):
            return i
    return candidates[0]


def _prefer_base_volume(columns: dict[str, int], labels: Sequence[str], symbol: str | None) -> None:
    """Points ``columns["volume"]`` at the base-asset volume column when the symbol names one."""
    position = _base_volume_column(labels, symbol)
    if position is not None:
        columns["volume"] = position


def _base_volume_column(labels: Sequence[str], symbol: str | None) -> int | None:
    """The volume column named after the base asset of ``symbol`` (``volume_btc`` for BTCUSD)."""
    if symbol is None:
        return None
    key = re.sub(r"[^0-9a-z]", "", symbol.lower())
    parts = [p for p in re.split(r"[/\-_:]", symbol.lower()) if p]
    base = parts[0] if len(parts) > 1 else None
    names = [_normalise(label) for label in labels]
    for i, n in enumerate(names):
        if not ("volume" in n or n.startswith("vol_")):
            continue
        tokens = [t for t in n.split("_") if t not in ("volume", "vol", "")]
        if len(tokens) != 1:
            continue
        if (base is not None and tokens[0] == base) or (
            base is None and key.startswith(tokens[0]) and key != tokens[0]
        ):
            return i
    return None


def _require_columns(
    columns: dict[str, int], labels: Sequence[str], where_name: str, *, need_time: bool = True
) -> None:
    required = ("time", *_PRICE_FIELDS) if need_time else _PRICE_FIELDS
    missing = [field for field in required if field not in columns]
    if missing:
        raise ValueError(
            f"{where_name} must have {', '.join(required[:-1])} and close columns; missing {', '.join(missing)} "
            f"in columns {list(labels)}"
        )


def _symbol_key(value: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", value.upper())


def _select_symbol(values: list[str | None], wanted: str | None, where_name: str) -> tuple[str | None, np.ndarray]:
    """Returns (symbol, mask of rows to keep) from a symbol column."""
    cleaned = [(v or "").strip() for v in values]
    distinct = list(dict.fromkeys(v for v in cleaned if v))
    if wanted is None:
        if len(distinct) > 1:
            raise ValueError(
                f"{where_name} holds several symbols ({', '.join(distinct[:5])}{', ...' if len(distinct) > 5 else ''}); "
                "pass symbol= to choose one"
            )
        return (distinct[0] if distinct else None), np.ones(len(values), dtype=bool)
    key = _symbol_key(wanted)
    keep = np.array([_symbol_key(v) == key for v in cleaned], dtype=bool)
    if not keep.any():
        raise ValueError(
            f"symbol {wanted!r} does not occur in {where_name}, which holds {', '.join(distinct[:5]) or 'no symbols'}"
        )
    return cleaned[int(np.flatnonzero(keep)[0])], keep


def _parse_number_cells(cells: list[Any], where: _Where, column: str, *, optional: bool) -> np.ndarray:
    out = np.empty(len(cells), dtype=np.float64)
    for i, cell in enumerate(cells):
        if isinstance(cell, str):
            text = cell.strip()
            if not text and optional:
                out[i] = np.nan
                continue
            try:
                out[i] = float(text)
            except ValueError:
                where.fail(i, column, f"expected a number, got {cell!r}")
        elif cell is None and optional:
            out[i] = np.nan
        elif isinstance(cell, bool) or cell is None:
            where.fail(i, column, f"expected a number, got {cell!r}")
        else:
            try:
                out[i] = float(cell)
            except (TypeError, ValueError):
                where.fail(i, column, f"expected a number, got {type(cell).__name__} {cell!r}")
    return out


def _parse_time_cells(cells: list[Any], where: _Where, column: str) -> np.ndarray:
    """Parses a column of timestamps that are all epoch numbers or all date strings."""
    if not cells:
        return np.empty(0, dtype="datetime64[ns]")
    first = cells[0]
    numeric = (isinstance(first, (int, float, np.integer, np.floating)) and not isinstance(first, bool)) or (
        isinstance(first, str) and _NUMBER_RE.match(first.strip()) is not None
    )
    if numeric:
        epochs = _parse_number_cells(cells, where, column, optional=False)
        finite = epochs[np.isfinite(epochs)]
        size = float(np.max(np.abs(finite))) if finite.size else 0.0
        scale = next((s for limit, s, _ in _EPOCH_UNITS if size < limit), 1)
        return _epoch_to_datetime(epochs, scale, where, column)
    out = np.empty(len(cells), dtype=np.int64)
    for i, cell in enumerate(cells):
        if isinstance(cell, str):
            out[i] = _parse_timestamp_text(cell, where, i, column)
        elif isinstance(cell, (_dt.datetime, np.datetime64)) or type(cell).__name__ == "Timestamp":
            out[i] = _datetime_object_ns(cell, where, i, column)
        else:
            where.fail(i, column, f"expected a timestamp, got {type(cell).__name__} {cell!r}")
    return out.view("datetime64[ns]")


def _parse_timestamp_text(text: str, where: _Where, index: int, column: str) -> int:
    match = _TIMESTAMP_RE.match(text)
    if match is None:
        where.fail(index, column, f"expected a timestamp like 2019-10-17 09:00 or a unix epoch, got {text!r}")
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


def _datetime_object_ns(value: Any, where: _Where, index: int, column: str) -> int:
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(_dt.UTC).replace(tzinfo=None)
    stamp = np.datetime64(value, "ns")
    if np.isnat(stamp):
        where.fail(index, column, "expected a timestamp, got NaT")
    return int(stamp.astype(np.int64))


def _epoch_to_datetime(
    epochs: np.ndarray, scale: int, where: _Where | None = None, column: str = "timestamp"
) -> np.ndarray:
    """Converts epoch numbers with ``scale`` nanoseconds per unit to ``datetime64[ns]``."""
    epochs = np.asarray(epochs, dtype=np.float64)
    nanos = epochs * scale
    bad = ~np.isfinite(nanos) | (nanos < _INT64_MIN) | (nanos > _INT64_MAX)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        problem = f"expected a unix epoch within the datetime64[ns] range, got {epochs[i]}"
        if where is None:
            raise ValueError(f"{column} at position {i}: {problem}")
        where.fail(i, column, problem)
    # Whole epochs are converted in integers so that large millisecond values stay exact.
    whole = np.all(epochs == np.round(epochs))
    if whole:
        return (epochs.astype(np.int64) * scale).view("datetime64[ns]")
    return np.round(nanos).astype(np.int64).view("datetime64[ns]")


def _sorted_unique_order(nanos: np.ndarray) -> np.ndarray:
    """Positions that sort ``nanos`` ascending, keeping the last of equal values."""
    order = np.argsort(nanos, kind="stable")
    ordered = nanos[order]
    keep = np.ones(order.shape[0], dtype=bool)
    keep[:-1] = ordered[:-1] != ordered[1:]
    return order[keep]


def _assemble(
    nanos: np.ndarray,
    values: dict[str, np.ndarray],
    where: _Where,
    columns: dict[str, int],
    labels: Sequence[str],
    symbol: str | None,
) -> OHLCV:
    def label(field: str) -> str:
        return labels[columns[field]] if field in columns else field

    for field in _PRICE_FIELDS:
        arr = values[field]
        bad = ~np.isfinite(arr) | (arr <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            where.fail(i, label(field), f"prices must be finite and > 0, got {arr[i]}")
    volume = values["volume"]
    bad = np.isinf(volume) | (volume < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where.fail(i, label("volume"), f"volume must be finite and >= 0, got {volume[i]}")
    order = _sorted_unique_order(nanos)
    return OHLCV(
        timestamps=nanos[order].view("datetime64[ns]"),
        symbol=symbol,
        **{field: values[field][order] for field in _FIELDS},
    )

"""Loading candles and prices: ``load_ohlcv``, ``as_price_series``, ``infer_interval``, the demo data.

Files go to ``csv_reader``, tables in memory (and every parsed column) to ``frames``, which
also says which column is which; ``candles`` holds the ``OHLCV`` record and its checks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.io import frames
from jaxlstm._src.io.candles import FIELDS, OHLCV, PRICE_FIELDS, Where, first_true, sorted_unique_order, with_source
from jaxlstm._src.io.csv_reader import MAX_LINE_BYTES, read_csv
from jaxlstm._src.io.pandas_import import is_pandas
from jaxlstm._src.prep import months

__all__ = [
    "MAX_LINE_BYTES",
    "OHLCV",
    "as_price_series",
    "demo_data_path",
    "infer_interval",
    "load_demo",
    "load_ohlcv",
    "symbol_of",
]


def load_ohlcv(source: Any, *, symbol: str | None = None, columns: Sequence[str] | None = None) -> OHLCV:
    """Loads candles from a CSV file, a pandas DataFrame or ccxt-style rows.

    Headers are found after vendor comment lines and matched by alias, case-insensitively
    (``date``/``time``/``unix``, ``o``/``h``/``l``/``c``, ``Volume USD``...); a headerless
    numeric file is ``time, open, high, low, close, volume``; ``DataFrame.to_csv`` output
    is read with its unnamed date index and a wide frame's assets side by side. Timestamps
    are ISO-like strings (``2019-10-17T09:00:00Z``, ``2019-10-17 09-AM``) or unix epochs in
    one unit (s, ms, us or ns, told by their size). Of several volume columns the base
    asset's is preferred, a quote volume taken only when there is no other; an empty volume
    is NaN. Two columns of one name are refused. Rows come back sorted by time, the last of
    a repeated timestamp kept. One ``pandas.read_csv`` call reads a file; only regular
    UTF-8 files without NUL bytes or lines over ``MAX_LINE_BYTES`` (1 MiB) are read.

    Args:
        source: a CSV path (``str`` or ``os.PathLike``), a DataFrame with a
            ``DatetimeIndex`` or a time column, ccxt rows ``[[ms, open, high, low, close,
            volume], ...]`` (or a ``[rows, 6]`` array), or an ``OHLCV`` (returned as is).
        symbol: keeps this symbol's rows of a symbol column (``"BTC/USD"`` matches
            ``"BTCUSD"``) or picks this asset among several; else it labels the result.
        columns: the fields needed, ``"close"`` among them; None means the four prices. A
            table without a needed column is refused; a field neither needed nor present
            is NaN, so ``("close",)`` reads a plain ``timestamp, close`` file.

    Returns:
        ``OHLCV`` with ``[time]`` arrays, oldest first; from a file, ``source`` is its absolute path.

    Raises:
        FileNotFoundError: no such path.
        IsADirectoryError: a directory.
        TypeError: an unsupported source type.
        ValueError: not a regular text CSV, no data rows, a missing column, several symbols
            or assets without ``symbol=``, or a value that cannot be parsed or is no candle
            (``high < low``, open or close outside ``[low, high]``...); the message names
            the file and line (or row) and the column.
    """
    if symbol is not None and not isinstance(symbol, str):
        raise TypeError(f"symbol must be a str or None, got {type(symbol).__name__} {symbol!r}")
    need: tuple[str, ...] = PRICE_FIELDS
    if columns is not None:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise TypeError(f"columns must be a sequence of field names such as ('close',), got {columns!r:.80}")
        need = tuple(dict.fromkeys(columns))
        if not set(need) <= set(FIELDS) or "close" not in need:
            raise ValueError(f"columns must be fields among {list(FIELDS)}, 'close' included, got {list(columns)}")
    if isinstance(source, OHLCV):
        for field in need if columns is not None and len(source) else ():
            if np.isnan(getattr(source, field)).all():
                raise ValueError(f"source OHLCV has no {field}: every value is NaN (its source had no {field} column)")
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return with_source(read_csv(path, symbol, need), str(path.absolute()))
    if is_pandas(source, "DataFrame"):
        return frames.frame_to_candles(source, symbol, need)
    if is_pandas(source, "Series"):
        raise TypeError(
            "source must be a CSV path, a DataFrame, an OHLCV or ccxt rows, got a pandas Series; "
            "use as_price_series() for a series of prices"
        )
    if isinstance(source, np.ndarray) or (
        isinstance(source, (list, tuple)) and all(isinstance(row, (list, tuple, np.ndarray)) for row in source)
    ):
        return frames.rows_to_candles(source, symbol)
    raise TypeError(
        "source must be a CSV path (str or os.PathLike), a pandas DataFrame, an OHLCV or ccxt rows "
        f"[[ms, open, high, low, close, volume], ...], got {type(source).__name__}"
    )


def symbol_of(data: Any) -> str:
    """The name ``data`` goes by: its symbol, else its file's stem (``BTCUSD_1h``), else ``"series"``.

    ``data`` may be an ``OHLCV``, a CSV path (read for its close), a DataFrame (its
    ``attrs["symbol"]`` or ``attrs["source"]``) or anything else.
    """
    if isinstance(data, (str, os.PathLike)):
        data = load_ohlcv(data, columns=("close",))
    symbol, source = getattr(data, "symbol", None), getattr(data, "source", None)
    attrs = getattr(data, "attrs", None)
    if isinstance(attrs, dict):
        symbol, source = attrs.get("symbol"), attrs.get("source")
    if isinstance(symbol, str) and symbol.strip():
        return symbol.strip()
    if isinstance(source, str) and Path(source).stem.strip():
        return Path(source).stem.strip()
    return "series"


def as_price_series(data: Any, *, name: str = "data") -> tuple[np.ndarray, np.ndarray | None]:
    """Turns whatever holds prices into float64 ``[time]`` prices and optional timestamps.

    With timestamps the series is put in time order, the last of a repeated timestamp kept.

    Args:
        data: a 1-D list/array of prices; a Series (a ``DatetimeIndex`` gives timestamps); a
            DataFrame (its close column; timestamps from a ``DatetimeIndex`` or a time
            column); ccxt rows ``[time, 6]``; an ``OHLCV``; or a CSV path with a time and a
            close column (``load_ohlcv(path, columns=("close",))``).
        name: the argument's name in error messages.

    Returns:
        ``(prices, timestamps)``: float64 ``[time]`` and ``datetime64[ns]`` ``[time]`` or None.

    Raises:
        TypeError: bytes, booleans, complex numbers or other non-numeric input.
        FileNotFoundError: a path to nothing.
        ValueError: no prices, a wrong shape, NaN/inf, a price <= 0, masked entries, or a
            file ``load_ohlcv`` refuses.
    """
    nanos: np.ndarray | None = None
    if isinstance(data, (str, os.PathLike)):
        data = load_ohlcv(data, columns=("close",))
    if isinstance(data, OHLCV):
        prices, nanos = np.array(data.close), np.array(data.timestamps).view(np.int64)
    elif isinstance(data, bytes):
        raise TypeError(
            f"{name} must be prices (an array, Series, DataFrame, ccxt rows or OHLCV) or a CSV path, got "
            f"bytes {data!r:.60}"
        )
    elif is_pandas(data, "Series"):
        prices = validation.as_float_array(name, data.to_numpy(), ndim=1)
        stamps = frames.index_timestamps(data.index)
        nanos = None if stamps is None else stamps.view(np.int64)
    elif is_pandas(data, "DataFrame"):
        prices, nanos = frames.frame_close(data, name)
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
        nanos = frames.epochs_to_ns(ms, Where(name, "row"), "timestamp", scale=10**6)
    else:
        prices = validation.as_float_array(name, data, ndim=(1, 2))
        if prices.ndim == 2:
            if prices.shape[1] != 6:
                raise ValueError(
                    f"{name} must be 1-D prices [time] or ccxt rows [time, 6] "
                    f"(ms, open, high, low, close, volume), got shape {prices.shape}"
                )
            nanos = frames.epochs_to_ns(prices[:, 0], Where(name, "row"), "timestamp", scale=10**6)
            prices = prices[:, 4]
    prices = np.array(prices, dtype=np.float64)
    if prices.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one price, got an empty series")
    for bad, problem in ((~np.isfinite(prices), "be finite"), (prices <= 0, "be positive prices")):
        if (i := first_true(bad)) is not None:
            raise ValueError(f"{name} must {problem}, got {prices[i]} at position {i}")
    if nanos is None:
        return prices, None
    if (i := first_true(nanos == np.iinfo(np.int64).min)) is not None:
        raise ValueError(f"{name} timestamps must all be set, got NaT at position {i}")
    order = sorted_unique_order(nanos)
    if order is not None:
        prices, nanos = prices[order], nanos[order]
    return prices, np.array(nanos).view("datetime64[ns]")


def infer_interval(timestamps: Any) -> np.timedelta64:
    """The median of the positive steps between ``[time]`` datetime64 values (any order, NaT ignored).

    Dates on a grid of calendar months (the same day of every month, or every month's last
    day; ``prep.months.grid_step``) give ``k * prep.months.MONTH``: their steps are ``k``
    months of 28 to 31 days each, not a fixed span.

    Returns:
        ``np.timedelta64`` in ns; one hour when there are fewer than two distinct times.

    Raises:
        TypeError: values that are not datetimes.
        ValueError: not 1-D.
    """
    default = np.timedelta64(1, "h").astype("timedelta64[ns]")
    if timestamps is None:
        return default
    if is_pandas(timestamps, "DatetimeIndex") and timestamps.tz is not None:
        timestamps = timestamps.tz_convert(None)
    arr = np.asarray(timestamps)
    if arr.dtype.kind in "biufcm":
        raise TypeError(f"timestamps must be datetime64 values, got an array of dtype {arr.dtype}")
    try:
        arr = arr.astype("datetime64[ns]")
    except (TypeError, ValueError) as err:
        raise TypeError(f"timestamps must be datetime64 values, got dtype {arr.dtype}: {err}") from None
    if arr.ndim != 1:
        raise ValueError(f"timestamps must be 1-D [time], got shape {arr.shape}")
    unique = np.unique(arr[~np.isnat(arr)].astype(np.int64))  # int64: numpy sorts datetime64 far slower
    steps = np.diff(unique)
    if steps.size == 0:
        return default
    median = float(np.median(steps))
    # Monthly, quarterly, yearly dates: steps of calendar months (checked only where steps are that long).
    months_each = months.grid_step(unique.view("datetime64[ns]")) if median >= months.SHORTEST_MONTH_NS else None
    if months_each is not None:
        return months_each * months.MONTH
    return np.timedelta64(round(median), "ns")


def demo_data_path() -> Path:
    """The bundled demo file: ~3000 hourly Coinbase BTC/USD candles up to 2019-10-17.

    Raises:
        FileNotFoundError: the package was installed without its data files.
    """
    path = Path(__file__).resolve().parents[2] / "demo" / "Coinbase_BTCUSD_1h.csv"
    if not path.is_file():
        raise FileNotFoundError(f"the demo data file {path} is missing; reinstall jaxlstm with its package data")
    return path


def load_demo() -> OHLCV:
    """The bundled demo candles (~3000 hourly BTC/USD rows from Coinbase, symbol ``BTCUSD``)."""
    return load_ohlcv(demo_data_path())

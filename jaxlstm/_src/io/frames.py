"""Tables to ``OHLCV`` (``to_candles``): DataFrames, ccxt rows, files parsed by pandas; and the
long format of many series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.io import cells, columns
from jaxlstm._src.io.candles import OHLCV, assemble
from jaxlstm._src.io.cells import Where
from jaxlstm._src.io.columns import FIELDS, PRICE_FIELDS, Layout
from jaxlstm._src.io.pandas_import import import_pandas, is_pandas
from jaxlstm._src.prep import horizons

_CCXT_LABELS = ("timestamp", "open", "high", "low", "close", "volume")


def to_candles(
    column: Callable[[int], Any],
    layout: Layout,
    where: Where,
    symbol: str | None,
    *,
    stamps: np.ndarray | None = None,
    epoch_scale: int | None = None,
    owned: bool = False,
    explain: Callable[[dict[str, np.ndarray], Where], None] | None = None,
) -> OHLCV:
    """Checked candles, oldest first, from a table whose ``column(position)`` gives a column's values.

    ``stamps`` (int64 ns, a DataFrame's DatetimeIndex) replace the time column; ``epoch_scale``
    fixes the epoch unit (ccxt: ms); ``owned`` keeps parsed arrays nobody else holds rather than
    copying them; ``explain`` sees the parsed values before the candles are checked.
    """
    keep: Any = None
    symbols: list[str] = []
    if "symbol" in layout.positions:
        keep, symbols = columns.symbol_mask(np.asarray(column(layout.positions["symbol"]), dtype=object), symbol)

    def values_of(field: str) -> Any:
        values = column(layout.positions[field])
        return values if keep is None else values[keep]

    if keep is not None:
        where = where.subset(keep)
    if stamps is not None:
        times, epochs = (stamps if keep is None else stamps[keep]), False
    else:
        times, epochs = cells.time_values(values_of("time"), where, layout.label("time"))
    rows = times.shape[0]
    values = {}
    for field in FIELDS:
        if field in layout.positions:
            values[field] = cells.numbers(values_of(field), where, layout.label(field), optional=field == "volume")
        else:
            values[field] = np.full(rows, np.nan)
    if explain is not None:
        explain(values, where)
    if epoch_scale is not None and not epochs:
        where.fail(0, layout.label("time"), "expected unix epochs in milliseconds")
    if "symbol" in layout.positions:
        found = columns.resolve_symbol(symbols, symbol, rows > 0, where.source)
    else:
        found = symbol if symbol is not None or layout.asset is None else layout.asset
    if not rows:
        raise ValueError(f"{where.source} has no data rows: expected at least one candle")
    copy = None if owned else True  # the result must not alias the source
    if epochs:
        nanos = cells.epochs_to_ns(times, where, layout.label("time"), scale=epoch_scale)
    else:
        nanos = np.array(times, dtype=np.int64, copy=copy)
    del times
    values = {field: np.array(values.pop(field), dtype=np.float64, copy=copy) for field in FIELDS}
    labels = {field: layout.label(field) for field in FIELDS}
    prices = [field for field in PRICE_FIELDS if field in layout.positions]
    return assemble(nanos, values, where, labels, found, prices)


# ---------------------------------------------------------------------------- DataFrames


def index_timestamps(index: Any) -> np.ndarray | None:
    """A DatetimeIndex as ``[rows]`` ``datetime64[ns]`` (UTC, naive), else None."""
    if not is_pandas(index, "DatetimeIndex"):
        return None
    if index.tz is not None:
        index = index.tz_convert(None)
    return horizons.as_datetime64_ns(np.asarray(index), "the index")


def frame_labels(frame: Any) -> list[str]:
    """Column names as strings; a two-level header (a wide frame) becomes ``"BTC:close"``."""
    if getattr(frame.columns, "nlevels", 1) == 2:
        return [f"{a}:{b}" for a, b in frame.columns]
    return [str(c) for c in frame.columns]


def unnamed_time(labels: Sequence[str], first_value: Any) -> bool:
    """Whether an unnamed first column (a written DataFrame index) holds date strings."""
    return bool(labels) and columns.is_unnamed(labels[0]) and cells.looks_like_timestamp(first_value)


def frame_to_candles(frame: Any, symbol: str | None, need: Sequence[str] = PRICE_FIELDS) -> OHLCV:
    """Candles from a DataFrame with a DatetimeIndex or a time column, one asset or several side by side."""
    where_name = "source DataFrame"
    labels = frame_labels(frame)
    stamps = index_timestamps(frame.index)
    found = columns.match_columns(labels)
    if stamps is None and "time" not in found:
        if len(frame) and unnamed_time(labels, frame.iloc[0, 0]):
            labels[0] = labels[0] or "index"
            found["time"] = 0
        else:
            raise ValueError(
                f"{where_name} needs a DatetimeIndex or a time column ({', '.join(columns.TIME_ALIASES)}), "
                f"got index {type(frame.index).__name__} and columns {labels}"
            )
    first_symbol = None
    if "symbol" in found and len(frame):
        first_symbol = frame.iloc[0, found["symbol"]]
    layout = columns.layout(
        labels,
        where_name,
        symbol,
        need_time=False,
        row_symbol=first_symbol if isinstance(first_symbol, str) else None,
        need=need,
    )
    if stamps is None:
        layout.positions["time"] = found["time"]
    return to_candles(
        lambda position: frame.iloc[:, position],
        layout,
        Where(where_name, "row"),
        symbol,
        stamps=None if stamps is None else stamps.view(np.int64),
    )


def frame_close(frame: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(prices, nanos)``: a DataFrame's ``[rows]`` close and int64 timestamps (None when it has none)."""
    labels = frame_labels(frame)
    found = columns.match_columns(labels)
    if "close" not in found:
        raise ValueError(
            f"{name} as a DataFrame needs a close column (close, c, last or price), got columns {list(frame.columns)}"
        )
    prices = validation.as_float_array(
        f"{name}[{frame.columns[found['close']]!r}]", frame.iloc[:, found["close"]].to_numpy(), ndim=1
    )
    if "symbol" in found:
        _, symbols = columns.symbol_mask(frame.iloc[:, found["symbol"]].to_numpy(dtype=object), None)
        if len(symbols) > 1:
            raise ValueError(
                f"{name} holds several symbols ({', '.join(sorted(symbols)[:5])}); "
                "select one first, e.g. with load_ohlcv(frame, symbol=...)"
            )
    stamps = index_timestamps(frame.index)
    if stamps is not None:
        return prices, stamps.view(np.int64)
    if "time" not in found and len(frame) and unnamed_time(labels, frame.iloc[0, 0]):
        found["time"] = 0
    if "time" in found:
        where = Where(name, "row")
        return prices, cells.times_to_ns(frame.iloc[:, found["time"]], where, labels[found["time"]])
    return prices, None


# ---------------------------------------------------------------------------- ccxt rows


def rows_to_candles(source: Any, symbol: str | None) -> OHLCV:
    """Candles from ccxt rows ``[[ms, open, high, low, close, volume], ...]`` (a list or ``[rows, 6]`` array)."""
    where_name = "source rows"
    if isinstance(source, np.ndarray):
        if source.ndim != 2 or source.shape[1] != 6:
            raise ValueError(
                f"source as an array must be ccxt rows [rows, 6] (ms, open, high, low, close, volume), "
                f"got shape {source.shape}"
            )
        table = source
    else:
        bad = next((i for i, row in enumerate(source) if len(row) != 6), None)
        if bad is not None:
            raise ValueError(
                f"source rows must be ccxt rows [[ms, open, high, low, close, volume], ...] of 6 values, "
                f"got {len(source[bad])} values in row {bad}"
            )
        table = np.empty((len(source), 6), dtype=object)
        for i, row in enumerate(source):
            table[i] = list(row)
    if table.shape[0] == 0:
        raise ValueError(f"{where_name} has no data rows: expected at least one [ms, open, high, low, close, volume]")
    if table.dtype.kind == "c":
        raise TypeError("source rows must hold real numbers, got complex values")
    layout = Layout({field: i for i, field in enumerate(("time", *FIELDS))}, _CCXT_LABELS)
    return to_candles(lambda position: table[:, position], layout, Where(where_name, "row"), symbol, epoch_scale=10**6)


# ---------------------------------------------------------------------------- long format

#: The columns every long frame has.
LONG_COLUMNS: tuple[str, ...] = ("unique_id", "ds", "y")


def split_long(frame: Any, *, name: str = "data") -> dict[str, Any]:
    """``{unique_id: series}`` from a long DataFrame (Nixtla's ``unique_id, ds, y``, rows in any order).

    Each series is sorted by ``ds``: a Series of ``y``, or a DataFrame with ``y`` as ``close``
    when there are other columns. Raises ValueError for a missing column, no rows, a ``ds``
    of neither times nor integers, or a repeated ``(unique_id, ds)``.
    """
    pd = import_pandas("a long DataFrame (unique_id, ds, y)")
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} as a DataFrame of many series needs the long format's columns {list(LONG_COLUMNS)} "
            f"(one row per series and time), missing {missing}; got columns {list(frame.columns)[:10]}"
        )
    if len(frame) == 0:
        raise ValueError(f"{name} has no rows")
    ds = frame["ds"]
    if pd.api.types.is_integer_dtype(ds) or pd.api.types.is_datetime64_any_dtype(ds):
        times = ds
    else:
        try:
            if ds.dtype == object or pd.api.types.is_string_dtype(ds):
                # Each string in its own offset, none meaning UTC, whatever the pandas version.
                nanos = cells.texts_to_ns(ds.to_numpy(dtype=object), Where(f"{name}['ds']", "row"), "ds")
                times = pd.Series(nanos.view("datetime64[ns]"), index=ds.index, name="ds")
            else:
                times = pd.to_datetime(ds, utc=True)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}['ds'] must hold times or integers, got {ds.iloc[0]!r}: {err}") from None
    is_time = not pd.api.types.is_integer_dtype(times)
    if is_time and getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert(None)
    table = frame.assign(ds=times, unique_id=frame["unique_id"].astype(str))
    repeated = table.duplicated(["unique_id", "ds"])
    if repeated.any():
        row = table[repeated].iloc[0]
        raise ValueError(
            f"{name} has {int(repeated.sum())} repeated (unique_id, ds) rows, first ({row['unique_id']!r}, {row['ds']})"
        )
    extra = [c for c in frame.columns if c not in LONG_COLUMNS]
    out: dict[str, Any] = {}
    for uid, group in table.groupby("unique_id", sort=False):
        rows = group.sort_values("ds")
        index = pd.DatetimeIndex(rows["ds"], name="ds") if is_time else pd.RangeIndex(len(rows))
        if extra:
            out[str(uid)] = pd.DataFrame(
                {"close": rows["y"].to_numpy(), **{c: rows[c].to_numpy() for c in extra}}, index=index
            )
        else:
            out[str(uid)] = pd.Series(rows["y"].to_numpy(), index=index, name=str(uid))
    return out

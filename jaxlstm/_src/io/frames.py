"""Candle tables in memory (pandas DataFrames, ccxt rows) and pieces of files, to ``OHLCV``.

A table is read as one or more ``Piece`` s (a CSV file is read in pieces of a million rows,
a DataFrame is one piece): each piece's symbol rows are selected and its cells parsed,
then ``finish`` joins the pieces, infers the unit of epoch timestamps over all of them,
checks the candles and sorts them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.io import cells, columns
from jaxlstm._src.io.candles import OHLCV, assemble
from jaxlstm._src.io.cells import Where
from jaxlstm._src.io.columns import FIELDS, PRICE_FIELDS, Layout
from jaxlstm._src.io.pandas_import import is_pandas
from jaxlstm._src.prep import horizons

_CCXT_LABELS = ("timestamp", "open", "high", "low", "close", "volume")


class Piece(NamedTuple):
    """The parsed rows of one piece of a table.

    Attributes:
        times: ``[rows]`` int64 nanoseconds, or raw epoch numbers when ``epochs``.
        epochs: whether ``times`` still holds unscaled unix epochs.
        values: ``[rows]`` float64 arrays for ``open, high, low, close, volume``.
        where: where each row came from.
        symbols: the distinct symbols of the piece's symbol column (before selection).
    """

    times: np.ndarray
    epochs: bool
    values: dict[str, np.ndarray]
    where: Where
    symbols: list[str]


def read_piece(
    column: Callable[[int], Any],
    layout: Layout,
    where: Where,
    symbol: str | None,
    *,
    stamps: np.ndarray | None = None,
) -> Piece:
    """Selects a piece's rows of ``symbol`` and parses its cells.

    Args:
        column: returns the ``[rows]`` values (Series or array) of a column position.
        layout: where the fields are.
        where: where each row came from.
        symbol: the symbol whose rows to keep when there is a symbol column.
        stamps: ``[rows]`` int64 nanoseconds that replace the time column (a DataFrame's
            DatetimeIndex), or None.

    Returns:
        The ``Piece``.
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
    return Piece(times, epochs, values, where, symbols)


def finish(
    pieces: list[Piece],
    layout: Layout,
    symbol: str | None,
    where_name: str,
    *,
    epoch_scale: int | None = None,
    owned: bool = False,
) -> OHLCV:
    """Joins the pieces of a table into checked, sorted candles.

    Args:
        pieces: the table's pieces in source order; emptied as they are joined, so that
            a large file is never held twice.
        layout: where the fields are.
        symbol: the ``symbol=`` argument.
        where_name: the source as named in messages.
        epoch_scale: nanoseconds per epoch unit when the source fixes it (ccxt: ms).
        owned: the pieces' arrays belong to nobody else (a file just parsed), so a
            single piece's arrays are kept rather than copied.

    Returns:
        ``OHLCV``, oldest first.

    Raises:
        ValueError: no rows, several symbols, mixed epochs and dates, or a bad candle.
    """
    if "symbol" in layout.positions:
        distinct = list(dict.fromkeys(s for piece in pieces for s in piece.symbols))
        kept_any = any(piece.times.shape[0] for piece in pieces)
        found = columns.resolve_symbol(distinct, symbol, kept_any, where_name)
    else:
        found = symbol if symbol is not None or layout.asset is None else layout.asset
    pieces = [piece for piece in pieces if piece.times.shape[0]]
    if not pieces:
        raise ValueError(f"{where_name} has no data rows: expected at least one candle")
    where = Where.concat([(piece.where, piece.times.shape[0]) for piece in pieces])
    label = layout.label("time")
    kinds = {piece.epochs for piece in pieces}
    if len(kinds) > 1:
        first = pieces[0].epochs
        other = next(piece for piece in pieces if piece.epochs != first)
        other.where.fail(
            0,
            label,
            f"{'epochs' if other.epochs else 'dates'} here but {'epochs' if first else 'dates'} before: "
            "a time column must hold one kind of timestamp",
        )
    times = pieces[0].times if len(pieces) == 1 else np.concatenate([piece.times for piece in pieces])
    if pieces[0].epochs:
        nanos = cells.epochs_to_ns(times, where, label, scale=epoch_scale)
    elif len(pieces) == 1:
        nanos = np.array(times, dtype=np.int64, copy=None if owned else True)  # the result must not alias the source
    else:
        nanos = times
    del times
    values = {}
    for field in FIELDS:
        parts = [piece.values.pop(field) for piece in pieces]
        values[field] = (
            np.concatenate(parts)
            if len(parts) > 1
            else np.array(parts[0], dtype=np.float64, copy=None if owned else True)
        )
        del parts
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
    """Candles from a DataFrame with a DatetimeIndex or a time column.

    Args:
        frame: ``[rows, columns]`` DataFrame; one asset in plain columns (maybe with a
            symbol column) or several side by side (two-level columns ``(asset, field)``
            or ``(field, asset)``, or names like ``"BTC:close"``).
        symbol: the symbol/asset to keep, or None.
        need: the fields that must have a column (see ``columns.layout``).

    Returns:
        ``OHLCV``, oldest first.
    """
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
    where = Where(where_name, "row")
    piece = read_piece(
        lambda position: frame.iloc[:, position],
        layout,
        where,
        symbol,
        stamps=None if stamps is None else stamps.view(np.int64),
    )
    return finish([piece], layout, symbol, where_name)


def frame_close(frame: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The close prices of a DataFrame and its timestamps (None when it has none).

    Args:
        frame: ``[rows, columns]`` DataFrame with a close column.
        name: the argument's name in messages.

    Returns:
        ``(prices, nanos)``: ``[rows]`` float64 and int64 nanoseconds or None.
    """
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
    """Candles from ccxt rows ``[[ms, open, high, low, close, volume], ...]``.

    Args:
        source: a sequence of 6-value rows or a ``[rows, 6]`` array; volume may be None.
        symbol: labels the result.

    Returns:
        ``OHLCV``, oldest first.
    """
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
    where = Where(where_name, "row")
    piece = read_piece(lambda position: table[:, position], layout, where, symbol)
    if not piece.epochs:
        where.fail(0, "timestamp", "expected unix epochs in milliseconds")
    return finish([piece], layout, symbol, where_name, epoch_scale=10**6)

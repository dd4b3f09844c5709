"""Loading candles and prices: ``load_ohlcv``, ``as_price_series``, the demo data.

A CSV file's bytes are checked first and its header found by hand among the first lines; the rest is
parsed by ``pandas.read_csv``'s C parser in chunks and checked vectorised, and a file that fails is
read again with one row per line, only to name the bad line.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import mmap
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.io import frames
from jaxlstm._src.io.candles import FIELDS, OHLCV, PRICE_FIELDS, Where, first_true, labelled, sorted_unique_order
from jaxlstm._src.io.frames import NUMBER_RE, Layout, looks_like_timestamp
from jaxlstm._src.io.model_files import describe_mode
from jaxlstm._src.io.pandas_import import from_polars, import_pandas, is_pandas

#: Longest line ``load_ohlcv`` reads (1 MiB); a longer one is an error naming the line.
MAX_LINE_BYTES = 1 << 20  # far above any candle row; bounds what one bad line can cost
# Vendor preambles ("Timestamps are UTC timezone,https://...") are a line or two long.
_MAX_PREAMBLE_LINES = 10
_CHUNK_ROWS = 1 << 20  # rows per read_csv chunk: each is copied into one preallocated array per column
# The first bytes of compressed files; none starts a text file (bzip2's is checked to its block header).
_COMPRESSED = re.compile(
    rb"(?P<gzip>\x1f\x8b)|(?P<zip>PK\x03\x04)|(?P<bzip2>BZh[1-9]1AY&SY)|(?P<xz>\xfd7zXZ\x00)|(?P<zstd>\x28\xb5\x2f\xfd)"
)


def load_ohlcv(source: Any, *, symbol: str | None = None, columns: Sequence[str] | None = None) -> OHLCV:
    """Loads candles from a CSV file, a pandas DataFrame or ccxt-style rows.

    Headers may follow vendor comment lines and match by alias, any case (``date``/``unix``,
    ``o``/``c``, ``Volume USD``...); a headerless numeric file is ``time, open, high, low, close,
    volume``; ``DataFrame.to_csv`` output is read with its unnamed date index and a wide frame's
    assets side by side. Timestamps are ISO-like strings (``2019-10-17T09:00:00Z``, ``2019-10-17
    09-AM``) or unix epochs of one unit (s, ms, us or ns, told by their size). The base asset's
    volume is preferred to a quote volume; an empty volume is NaN. Rows come back sorted by time,
    the last of a repeated timestamp kept. Only regular UTF-8 files without NUL bytes or lines
    over ``MAX_LINE_BYTES`` (1 MiB) are read.

    Args:
        source: a CSV path (``str`` or ``os.PathLike``), a DataFrame (pandas', or polars' read as
            its pandas twin) with a ``DatetimeIndex`` or a time column, ccxt rows ``[[ms, open, high, low,
            close, volume], ...]`` (or a ``[rows, 6]`` array), or an ``OHLCV`` (returned as is, labelled
            with ``symbol`` if it has none).
        symbol: keeps this symbol's rows of a symbol column (``"BTC/USD"`` matches ``"BTCUSD"``)
            or picks this asset among several; else it labels the result. A source ``OHLCV``
            with a symbol of its own must have this one.
        columns: the fields needed, ``"close"`` among them; None means the four prices. A field
            neither needed nor present is NaN, so ``("close",)`` reads a ``timestamp, close`` file.

    Returns:
        ``OHLCV`` with ``[time]`` arrays, oldest first; from a file, ``source`` is its absolute path.

    Raises:
        FileNotFoundError: no such path.
        IsADirectoryError: a directory.
        TypeError: an unsupported source type.
        ValueError: not a regular text CSV, no data rows, a missing or doubled column, several
            symbols or assets without ``symbol=``, an ``OHLCV`` of another symbol, or a value that
            cannot be parsed or is no candle; the message names the file, line (or row) and column.
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
    source = from_polars(source)
    if isinstance(source, OHLCV):
        for field in need if columns is not None and len(source) else ():
            if np.isnan(getattr(source, field)).all():
                raise ValueError(f"source OHLCV has no {field}: every value is NaN (its source had no {field} column)")
        if symbol is None or source.symbol is None:
            return source if symbol is None else labelled(source, symbol, source.source)
        if frames.symbol_key(symbol) != frames.symbol_key(source.symbol):
            raise ValueError(f"symbol={symbol!r} does not match the source OHLCV's symbol {source.symbol!r}")
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = f"source {path.name!r}"
        with _open_regular(path, name) as handle:
            if (magic := _COMPRESSED.match(handle.peek(10))) is not None:
                raise ValueError(
                    f"{name} is {magic.lastgroup}-compressed: decompress it first, or read it with "
                    "pandas.read_csv(path) and pass the DataFrame"
                )
            if (problem := _bad_bytes(handle, 0, 1)) is not None:
                raise ValueError(f"{name}: {problem}")
            header = _find_header(handle, name, symbol, need)
            candles = _read_whole(handle, header, name, symbol) if header.data.cells else None
            candles = candles if candles is not None else _read_for_message(handle, header, name, symbol)
        return labelled(candles, candles.symbol, str(path.absolute()))
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

    ``data`` may be an ``OHLCV``, a CSV path (read for its close), a DataFrame (its ``attrs``) or anything.
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
        data: a 1-D list/array of prices; a Series (a ``DatetimeIndex`` gives timestamps); a DataFrame
            (pandas', or polars' as its pandas twin: its close column; timestamps from a ``DatetimeIndex``
            or a time column); ccxt rows ``[time, 6]``; an ``OHLCV``; or a CSV path (``load_ohlcv(path,
            columns=("close",))``).
        name: the argument's name in error messages.

    Returns:
        ``(prices, timestamps)``: float64 ``[time]`` and ``datetime64[ns]`` ``[time]`` or None.

    Raises:
        TypeError: bytes, booleans, complex numbers or other non-numeric input.
        FileNotFoundError: a path to nothing.
        ValueError: no prices, a wrong shape, NaN/inf, a price <= 0, masked entries, or a file ``load_ohlcv`` refuses.
    """
    nanos = ms = None
    data = from_polars(data)
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
        nanos = frames.index_timestamps(data.index, name)
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
    else:
        prices = validation.as_float_array(name, data, ndim=(1, 2))
        if prices.ndim == 2 and prices.shape[1] != 6:
            raise ValueError(
                f"{name} must be 1-D prices [time] or ccxt rows [time, 6] "
                f"(ms, open, high, low, close, volume), got shape {prices.shape}"
            )
        ms, prices = (prices[:, 0], prices[:, 4]) if prices.ndim == 2 else (None, prices)
    if ms is not None:
        nanos = frames.epochs_to_ns(ms, Where(name, "row"), "timestamp", scale=10**6)
    prices = np.array(prices, dtype=np.float64)
    if prices.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one price, got an empty series")
    for bad, problem in ((~np.isfinite(prices), "be finite"), (prices <= 0, "be positive prices")):
        if (i := first_true(bad)) is not None:
            raise ValueError(f"{name} must {problem}, got {prices[i]} at position {i}")
    if nanos is None:
        return prices, None
    order = sorted_unique_order(nanos)
    if order is not None:
        prices, nanos = prices[order], nanos[order]
    return prices, np.array(nanos).view("datetime64[ns]")


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


class _Line(NamedTuple):
    number: int  # 1-based line number in the file
    start: int  # byte offset of the line
    end: int  # byte offset just after it
    cells: list[str]


class _Header(NamedTuple):
    layout: Layout
    data: _Line  # where the data rows begin (line number, byte offset) and the first row's cells ([] for none)


def _open_regular(path: Path, name: str) -> io.BufferedReader:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"source: no such file {str(path)!r}") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"source must be a CSV file, got the directory {str(path)!r}")
    if stat.S_ISREG(mode):
        # O_NONBLOCK: should the path become a FIFO after the check, opening it cannot hang.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        if stat.S_ISREG(mode := os.fstat(fd).st_mode):
            return os.fdopen(fd, "rb")
        os.close(fd)
    raise ValueError(f"{name} must be a regular CSV file, got {describe_mode(mode)} {str(path)!r}")


def _bad_bytes(handle: io.BufferedReader, start: int, first_line: int) -> str | None:
    """The first NUL byte or line longer than ``MAX_LINE_BYTES`` from ``start`` on, as ``"line N ..."``, or None."""
    size = os.fstat(handle.fileno()).st_size
    if size <= start:
        return None
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        nul = view.find(b"\0", start)
        # A line is too long when its byte past the limit comes before any NUL; the lines up to the
        # last newline of the next MAX_LINE_BYTES + 1 bytes are short enough, and without one there,
        # the line is too long.
        line, limit = start, size if nul < 0 else nul
        while line + MAX_LINE_BYTES < limit:
            if (last := view.rfind(b"\n", line, line + MAX_LINE_BYTES + 1)) < 0:
                number = first_line + view[start:line].count(b"\n")
                return f"line {number} is longer than {MAX_LINE_BYTES} bytes; not a CSV file of candles"
            line = last + 1
        if nul >= 0:
            number = first_line + view[start:nul].count(b"\n")
            return f"line {number} holds a NUL byte; a binary file, not a CSV file of candles"
    return None


def _find_header(
    handle: io.BufferedReader, name: str, symbol: str | None, need: Sequence[str] = PRICE_FIELDS
) -> _Header:
    """Finds the header among the first non-blank lines (the bytes already checked), and one asset's fields."""
    head: list[_Line] = []
    offset, number = 0, 0
    while len(head) < _MAX_PREAMBLE_LINES + 3 and (raw := handle.readline(MAX_LINE_BYTES + 1)):
        start, offset, number = offset, offset + len(raw), number + 1
        try:  # without the byte-order mark spreadsheet exports put first
            text = (raw.removeprefix(codecs.BOM_UTF8) if number == 1 else raw).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{name}: line {number} is not UTF-8 text ({err.reason} at byte {err.start})") from None
        if text.strip():
            try:
                row = next(csv.reader([text]), [])
            except csv.Error:
                row = [text]  # an odd comment line; it cannot be the header
            head.append(_Line(number, start, offset, [cell.strip() for cell in row]))
    lines = [line for line in head if not line.cells[0].startswith("#")][:_MAX_PREAMBLE_LINES]
    for line in lines:
        row, following = line.cells, head[head.index(line) + 1 :]
        if len(row) >= 6 and all(NUMBER_RE.match(cell) for cell in row):  # headerless
            positions = {field: i for i, field in enumerate(("time", *FIELDS))}
            layout = Layout(positions, tuple(f"column {i}" for i in range(len(row))))
            return _Header(layout, line)
        # ",BTC,BTC,..." over ",open,high,..." (or fields over assets): a wide DataFrame's two header lines.
        second = following[0].cells if following else []
        combined = [f"{a}:{b}" if a and b else a or b for a, b in zip(row, second)]
        numeric = any(NUMBER_RE.match(cell) for cell in row[1:] + second[1:])
        if len(row) == len(second) > len(need) and not numeric and frames.assets(combined[1:], need):
            last, index_name = following[0], ""
            if len(following) > 1 and following[1].cells[0] and not any(following[1].cells[1:]):
                last, index_name = following[1], following[1].cells[0]  # the index's name, on a line of its own
            return _header_from([index_name, *combined[1:]], head[head.index(last) + 1 :], last, name, symbol, need)
        found = frames.match_columns(row)
        if ("close" in found or frames.assets(row, need)) and ("time" in found or frames.is_unnamed(row[0])):
            return _header_from(row, following, line, name, symbol, need)
    if not head:
        raise ValueError(f"{name} is empty: expected a header row and at least one data row")
    first = ",".join(head[0].cells)
    sep = next((s for s in (";", "\t", "|") if len(head[0].cells) == 1 and s in first), None)
    hint = (
        f"; its cells look {sep!r}-separated, and load_ohlcv reads comma-separated files: read it with "
        f"pandas.read_csv(path, sep={sep!r}) (and decimal=',' for decimal commas) and pass the DataFrame"
    )
    raise ValueError(
        f"{name}: found no header row with a time column ({', '.join(frames.TIME_ALIASES[:7])}, ...) and a "
        f"close column in its first {min(len(head), _MAX_PREAMBLE_LINES)} non-blank line(s); the first one was "
        f"{first!r:.120}{hint if sep else ''}"
    )


def _header_from(
    labels: list[str], data: list[_Line], header: _Line, name: str, symbol: str | None, need: Sequence[str]
) -> _Header:
    where_name = f"{name} (header on line {header.number})"
    found = frames.match_columns(labels)
    first = data[0].cells if data else []
    labels = list(labels)
    if "time" not in found:
        if first and not looks_like_timestamp(first[0]):
            raise ValueError(
                f"{where_name}: found no time column in columns {labels}; the unnamed first column holds "
                f"{first[0]!r}, not a timestamp (a DataFrame written with a RangeIndex? write it with its "
                "DatetimeIndex or a time column)"
            )
        labels[0] = labels[0] or "index"
    row_symbol = first[found["symbol"]] or None if "symbol" in found and found["symbol"] < len(first) else None
    layout = frames.layout(labels, where_name, symbol, need_time="time" in found, row_symbol=row_symbol, need=need)
    layout.positions.setdefault("time", 0)  # an unnamed first column of dates: a written index
    return _Header(layout, _Line(header.number + 1, header.end, header.end, first))


def _read_whole(handle: io.BufferedReader, header: _Header, name: str, symbol: str | None) -> OHLCV | None:
    """The candles by the C parser's chunks, each copied into one array per column (so that no column
    is held twice); None when anything is off, since rows here skip blank lines and are not line numbers."""
    pd = import_pandas("load_ohlcv(path)")
    (layout, data), pandas_2 = header, _pandas_2(pd)
    time = layout.positions["time"]
    types = {i: object if field == "symbol" else np.float64 for field, i in layout.positions.items() if field != "time"}
    # Dates are parsed by the tokenizer, never held as strings.
    dates = {} if NUMBER_RE.match(data.cells[time]) else {"parse_dates": [time], "date_format": "ISO8601"}
    handle.seek(data.start)
    size, used = os.fstat(handle.fileno()).st_size - data.start, sorted(set(layout.positions.values()))
    arrays: dict[int, np.ndarray] = {}
    rows = 0
    try:
        with pd.read_csv(
            handle, header=None, names=list(range(len(layout.labels))), usecols=used, index_col=False, dtype=types,
            encoding="utf-8", engine="c", chunksize=_CHUNK_ROWS, **dates,
            float_precision="round_trip" if pandas_2 else None,
        ) as chunks:  # fmt: skip
            for chunk in chunks:
                n = len(chunk)
                for position in used:
                    values = chunk.pop(position)
                    aware = getattr(values.dtype, "tz", None) is not None  # times come back in UTC without a zone
                    if pandas_2 and (aware or (values.dtype == object and isinstance(values.iloc[0], pd.Timestamp))):
                        return None  # pandas 2 may read a string without an offset in its neighbour's offset
                    if aware and (values.dt.tz_localize(None) == values.dt.tz_localize(None).dt.normalize()).all():
                        return None  # local midnights are dates: the slow reader reads them so (texts_to_ns)
                    values = (values.dt.tz_convert(None) if aware else values).to_numpy()
                    if position not in arrays:  # sized from the bytes the first chunk took, a little over
                        taken = max(handle.tell() - data.start, 1)
                        arrays[position] = np.empty(int(n * 1.05 * size / taken) + n, dtype=values.dtype)
                    if arrays[position].dtype != values.dtype:  # epochs that turned into floats, dates into text
                        return None
                    if rows + n > arrays[position].shape[0]:
                        arrays[position] = np.resize(arrays[position][:rows], 2 * rows + n)
                    arrays[position][rows : rows + n] = values
                rows += n
        table = {position: array[:rows] for position, array in arrays.items()}
        return frames.to_candles(table.pop, layout, Where(name, "line", start=data.number), symbol, owned=True)
    except Exception:  # whatever the parser or the checks refuse, the slow reader reads and names
        return None


def _read_for_message(handle: io.BufferedReader, header: _Header, name: str, symbol: str | None) -> OHLCV:
    """Reads a file the fast path refused with one row per line, and raises naming the bad line."""
    pd = import_pandas("load_ohlcv(path)")
    layout, data = header
    handle.seek(data.start)
    try:  # every cell as written: an empty one is "", and so is a field a short row lacks
        table = pd.read_csv(
            handle, header=None, names=list(range(len(layout.labels))), index_col=False, skip_blank_lines=False,
            keep_default_na=False, encoding="utf-8", encoding_errors="replace", engine="c",
            dtype={layout.positions.get("symbol", -1): object}, float_precision="round_trip" if _pandas_2(pd) else None,
        )  # fmt: skip
    except pd.errors.ParserError as err:
        raise ValueError(
            f"{name}: cannot split the rows into fields ({err}; rows are counted from line {data.number})"
        ) from None
    text = table.apply(lambda cells: cells.astype(str).str.strip())
    empty = text.eq("").to_numpy()
    keep = ~empty.all(axis=1)  # blank lines
    where = Where(name, "line", start=data.number).subset(keep)
    table, text, empty = table[keep], text[keep], empty[keep]
    if len(table) == 0:
        raise ValueError(f"{name} has no data rows: expected at least one row after the header")
    if (i := first_true(text.apply(lambda cells: cells.str.contains("\ufffd")).to_numpy().any(axis=1))) is not None:
        raise ValueError(f"{name}: line {where.number(i)} is not UTF-8 text")  # what the decoder replaced
    needed = 1 + max(position for field, position in layout.positions.items() if field in ("time", *PRICE_FIELDS))
    if (i := first_true(empty[:, needed - 1])) is not None:  # a short row, or an empty cell: the first such line tells
        line = where.number(i)
        handle.seek(data.start)
        text = next(itertools.islice(handle, line - data.number, None), b"").decode("utf-8", "replace")
        try:
            fields = len(next(csv.reader([text.rstrip("\r\n")]), []))
        except csv.Error:  # a lone carriage return inside the line, which pandas took as a line break
            fields = text.count(",") + 1
        if fields < needed:
            raise ValueError(
                f"{name}: line {line} has {fields} fields, expected at least {needed} (columns {list(layout.labels)})"
            )
    return frames.to_candles(table.__getitem__, layout, where, symbol)


def _pandas_2(pd: Any) -> bool:
    """Whether pandas is 2.x, whose default float parser can be one unit off in the last place (0.0146875
    read as 0.014687500000000001; ``float_precision="round_trip"`` reads exactly); pandas 3 rounds correctly."""
    return int(pd.__version__.split(".")[0]) < 3

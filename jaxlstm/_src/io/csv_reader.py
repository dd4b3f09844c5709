"""Reading candle CSV files as exchanges, vendors and pandas write them.

The file's first lines are read by hand to find the header among vendor comment lines
(``Timestamps are UTC timezone,https://...``), a headerless numeric layout, the unnamed
index column of ``DataFrame.to_csv`` or the two-line header of a wide DataFrame. The rest
is parsed by one ``pandas.read_csv`` call (pyarrow's engine when installed, else the C
engine, ISO dates parsed by its tokenizer) and checked vectorised (``_read_whole``). Only
when that finds a problem is the file read again by pandas' C parser in pieces of a
million rows that keep every row's line number, so that the message names the line.

Only regular files are read (a FIFO or ``/dev/zero`` would block or never end), lines are
at most ``MAX_LINE_BYTES`` long, and a NUL byte or text that is not UTF-8 ends the read
with the line it is on.
"""

from __future__ import annotations

import codecs
import csv
import functools
import itertools
import mmap
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np

from jaxlstm._src.io import cells, columns, frames
from jaxlstm._src.io.candles import OHLCV
from jaxlstm._src.io.cells import Where
from jaxlstm._src.io.columns import FIELDS, PRICE_FIELDS, Layout
from jaxlstm._src.io.pandas_import import import_pandas

#: Longest line ``load_ohlcv`` reads (1 MiB); a longer one is an error naming the line.
MAX_LINE_BYTES = 1 << 20  # far above any candle row; bounds what one bad line can cost
_CHUNK_ROWS = 1 << 20
_BLOCK_BYTES = 1 << 18
# Vendor preambles ("Timestamps are UTC timezone,https://...") are a line or two long.
_MAX_PREAMBLE_LINES = 10
_BOM = codecs.BOM_UTF8


class _Line(NamedTuple):
    number: int  # 1-based line number in the file
    start: int  # byte offset of the line
    end: int  # byte offset just after it
    cells: list[str]


class _Header(NamedTuple):
    layout: Layout
    data_start: int  # byte offset where the data rows begin
    data_line: int  # line number of the first data row
    width: int  # number of fields a full row has
    first_cells: list[str]  # the cells of the first data row ([] when there is none)


def _column_of(chunk: Any, position: int) -> Any:
    """Column ``position`` of a parsed chunk (what ``frames.read_piece`` reads cells from)."""
    return chunk[position]


def read_csv(path: Path, symbol: str | None, need: Sequence[str] = PRICE_FIELDS) -> OHLCV:
    """Loads candles from a CSV file (see ``ohlcv.load_ohlcv`` for the layouts read).

    Args:
        path: the file.
        symbol: the symbol to keep (symbol column) or asset to pick (wide file), or None.
        need: the fields that must have a column (see ``columns.layout``); a field
            without one is NaN.

    Returns:
        ``OHLCV`` with ``[time]`` arrays, oldest first.

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: a directory.
        ValueError: not a regular file, not UTF-8 text, an overlong line, no header or
            data, or a value that cannot be a candle; the message names file and line.
    """
    name = f"source {path.name!r}"
    with _open_regular(path, name) as handle:
        head = _read_head(handle, name)
        header = _find_header(head, name, symbol, need)
        fast = _read_whole(handle, header, name, symbol)
        if fast is not None:
            try:
                return frames.finish(fast, header.layout, symbol, name, owned=True)
            except ValueError:
                pass  # the reader below finds the same problem and names its line
            del fast
        handle.seek(header.data_start)
        # pandas gets a header line of its own, "c0,c1,...": it fixes the number of fields,
        # so that short rows read as missing cells in every piece, even a piece of blank lines.
        prefix = (",".join(f"c{i}" for i in range(header.width)) + "\n").encode()
        reader = _GuardedReader(handle, name, header.data_line, prefix)
        pieces = _read_pieces(reader, path, header, name, symbol)
    return frames.finish(pieces, header.layout, symbol, name)


def _open_regular(path: Path, name: str) -> BinaryIO:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"source: no such file {str(path)!r}") from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"source must be a CSV file, got the directory {str(path)!r}")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{name} must be a regular CSV file, got {_file_kind(info.st_mode)} {str(path)!r}")
    # O_NONBLOCK: should the path become a FIFO after the check, opening it cannot hang.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{name} must be a regular CSV file, got {_file_kind(info.st_mode)} {str(path)!r}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "a special file"


# ---------------------------------------------------------------------------- header


def _read_head(handle: BinaryIO, name: str) -> list[_Line]:
    """The first non-blank lines of the file, split into cells."""
    head: list[_Line] = []
    offset = 0
    for number in itertools.count(1):
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            break
        start, offset = offset, offset + len(raw)
        if len(raw) > MAX_LINE_BYTES:
            raise ValueError(f"{name}: line {number} is longer than {MAX_LINE_BYTES} bytes; not a CSV file of candles")
        if b"\0" in raw:
            raise ValueError(f"{name}: line {number} holds a NUL byte; a binary file, not a CSV file of candles")
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]  # the byte-order mark spreadsheet exports put first
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{name}: line {number} is not UTF-8 text ({err.reason} at byte {err.start})") from None
        if not text.strip():
            continue
        try:
            row = next(csv.reader([text]), [])
        except csv.Error:
            row = [text]  # an odd comment line; it cannot be the header
        head.append(_Line(number, start, offset, [cell.strip() for cell in row]))
        if len(head) >= _MAX_PREAMBLE_LINES + 3:
            break
    return head


def _is_numeric_row(row: list[str]) -> bool:
    return len(row) >= 6 and all(cells.NUMBER_RE.match(cell) for cell in row)


def _is_data_row(row: list[str]) -> bool:
    return any(cells.NUMBER_RE.match(cell) for cell in row[1:])


def _find_header(head: list[_Line], name: str, symbol: str | None, need: Sequence[str] = PRICE_FIELDS) -> _Header:
    """Finds the header among the first lines and where the fields of one asset are."""
    seen = 0
    for k, line in enumerate(head):
        row = line.cells
        if row[0].startswith("#"):
            continue
        seen += 1
        if _is_numeric_row(row):
            numbered = tuple(f"column {i}" for i in range(len(row)))
            positions = {field: i for i, field in enumerate(("time", *FIELDS))}
            return _Header(Layout(positions, numbered), line.start, line.number, len(row), row)
        following = head[k + 1 :]
        two_line = _two_line_header(row, following[0].cells, need) if following else None
        if two_line is not None:
            last = following[0]
            index_name = ""
            if len(following) > 1 and following[1].cells[0] and not any(following[1].cells[1:]):
                last, index_name = following[1], following[1].cells[0]  # the index's name, on a line of its own
            labels = [index_name, *two_line[1:]]
            data = head[head.index(last) + 1 :]
            return _header_from(labels, data, last, name, symbol, need)
        found = columns.match_columns(row)
        has_close = "close" in found or bool(columns.assets(row, need))
        if has_close and ("time" in found or columns.is_unnamed(row[0])):
            return _header_from(row, head[k + 1 :], line, name, symbol, need)
        if seen >= _MAX_PREAMBLE_LINES:
            break
    if not head:
        raise ValueError(f"{name} is empty: expected a header row and at least one data row")
    raise ValueError(
        f"{name}: found no header row with a time column ({', '.join(columns.TIME_ALIASES[:7])}, ...) and a "
        f"close column in its first {min(len(head), _MAX_PREAMBLE_LINES)} non-blank line(s); the first one was "
        f"{','.join(head[0].cells)!r:.120}"
    )


def _two_line_header(first: list[str], second: list[str], need: Sequence[str]) -> list[str] | None:
    """``",BTC,BTC,..."`` over ``",open,high,..."`` (or fields over assets): a wide DataFrame's header."""
    if len(first) != len(second) or len(first) < 1 + len(need) or _is_data_row(second) or _is_data_row(first):
        return None
    combined = [f"{a}:{b}" if a and b else a or b for a, b in zip(first, second)]
    return combined if columns.assets(combined[1:], need) else None


def _header_from(
    labels: list[str], data: list[_Line], header: _Line, name: str, symbol: str | None, need: Sequence[str]
) -> _Header:
    where_name = f"{name} (header on line {header.number})"
    found = columns.match_columns(labels)
    first_data = data[0].cells if data else None
    labels = list(labels)
    unnamed_time = False
    if "time" not in found:
        cell = first_data[0] if first_data else None
        if first_data is not None and not cells.looks_like_timestamp(cell):
            raise ValueError(
                f"{where_name}: found no time column in columns {labels}; the unnamed first column holds "
                f"{cell!r}, not a timestamp (a DataFrame written with a RangeIndex? write it with its "
                "DatetimeIndex or a time column)"
            )
        labels[0] = labels[0] or "index"
        unnamed_time = True
    row_symbol = None
    if "symbol" in found and first_data is not None and found["symbol"] < len(first_data):
        row_symbol = first_data[found["symbol"]] or None
    layout = columns.layout(labels, where_name, symbol, need_time=not unnamed_time, row_symbol=row_symbol, need=need)
    if unnamed_time:
        layout.positions["time"] = 0
    return _Header(layout, header.end, header.number + 1, len(labels), first_data or [])


# ---------------------------------------------------------------------------- data

# pandas parses with pyarrow's multi-threaded engine when pyarrow is installed; set to
# False to always use its C engine.
USE_PYARROW = True


def _engines() -> list[str]:
    if USE_PYARROW:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return ["c"]
        return ["pyarrow", "c"]
    return ["c"]


def _read_whole(handle: BinaryIO, header: _Header, name: str, symbol: str | None) -> list | None:
    """The fast path: the whole file parsed by one ``pandas.read_csv`` call, checked vectorised.

    Returns:
        The file as one piece, or None when something is off (a bad cell, a short row, a
        NUL byte, an overlong line, text that is not UTF-8, a time column pandas does not
        read as ISO 8601...): the piecewise reader then reads the file again and names the
        line. The fast path skips blank lines, so its row numbers are not line numbers;
        that is why any problem goes back to the piecewise reader rather than being
        reported from here.
    """
    if not header.first_cells or not _plain_bytes(handle, header.data_start):
        return None
    pd = import_pandas("load_ohlcv(path)")
    layout = header.layout
    types: dict[int, Any] = {layout.positions[field]: np.float64 for field in FIELDS if field in layout.positions}
    if "symbol" in layout.positions:
        types[layout.positions["symbol"]] = object
    time_position = layout.positions["time"]
    dates = not cells.NUMBER_RE.match(header.first_cells[time_position])
    frame = None
    for engine in _engines():
        handle.seek(header.data_start)
        options: dict[str, Any] = {"engine": engine, "dtype": types}
        if engine == "c":
            options |= {"index_col": False, **_exact_floats(pd)}
            if dates:  # parsed by the tokenizer, never held as a column of strings
                options |= {"parse_dates": [time_position], "date_format": "ISO8601"}
        try:
            frame = pd.read_csv(
                handle,
                header=None,
                names=list(range(header.width)),
                usecols=sorted(set(layout.positions.values())),
                encoding="utf-8",
                **options,
            )
            break
        except Exception:  # whatever an engine refuses, the next one (then the piecewise reader) reads
            continue
    if frame is None or len(frame) == 0:
        return None
    stamps = frame[time_position]
    if getattr(stamps.dtype, "tz", None) is not None and int(pd.__version__.split(".")[0]) < 3:
        return None  # pandas 2 may read a string without an offset in its neighbour's offset

    def column(position: int) -> Any:
        # Each column leaves the frame as it is read, so the frame is never held twice.
        return frame.pop(position)

    del stamps
    try:
        return [frames.read_piece(column, layout, Where(name, "line", start=header.data_line), symbol)]
    except ValueError:
        return None


def _plain_bytes(handle: BinaryIO, start: int) -> bool:
    """Whether the file from ``start`` holds no NUL byte and no line longer than ``MAX_LINE_BYTES``."""
    size = os.fstat(handle.fileno()).st_size
    if size <= start:
        return True
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        if view.find(b"\0", start) >= 0:
            return False
        line = start  # where the current line begins
        while size - line > MAX_LINE_BYTES:
            # The lines between `line` and the last newline of the next MAX_LINE_BYTES + 1
            # bytes are all short enough; without a newline there, the line is too long.
            last = view.rfind(b"\n", line, line + MAX_LINE_BYTES + 1)
            if last < 0:
                return False
            line = last + 1
    return True


class _GuardedReader:
    """A binary file as pandas reads it, refusing overlong lines and NUL bytes as it goes."""

    def __init__(self, handle: BinaryIO, name: str, first_line: int, prefix: bytes) -> None:
        self._handle = handle
        self._name = name
        self._prefix = prefix  # given to pandas before the file's bytes
        self._line = first_line  # the line the next byte belongs to
        self._run = 0  # bytes of that line read so far
        self.start = handle.tell()

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            prefix, self._prefix = self._prefix, b""
            return prefix
        size = _BLOCK_BYTES if size is None or size < 0 else min(size, _BLOCK_BYTES)
        data = self._handle.read(size)
        nul = data.find(b"\0")
        if nul >= 0:
            line = self._line + data.count(b"\n", 0, nul)
            raise ValueError(f"{self._name}: line {line} holds a NUL byte; a binary file, not a CSV file of candles")
        first = data.find(b"\n")
        if first < 0:
            self._run += len(data)
        else:
            # A line inside one block is shorter than the block, so only lines that span
            # blocks can grow past the limit.
            if self._run + first > MAX_LINE_BYTES:
                self._too_long()
            self._line += data.count(b"\n")
            self._run = len(data) - data.rfind(b"\n") - 1
        if self._run > MAX_LINE_BYTES:
            self._too_long()
        return data

    def _too_long(self) -> None:
        raise ValueError(
            f"{self._name}: line {self._line} is longer than {MAX_LINE_BYTES} bytes; not a CSV file of candles"
        )


def _read_pieces(reader: _GuardedReader, path: Path, header: _Header, name: str, symbol: str | None) -> list:
    pd = import_pandas("load_ohlcv(path)")
    layout = header.layout
    used = sorted(set(layout.positions.values()))
    needed = 1 + max(position for field, position in layout.positions.items() if field in ("time", *PRICE_FIELDS))
    try:
        chunks = pd.read_csv(
            reader,
            header=0,
            usecols=[f"c{i}" for i in used],
            index_col=False,
            skip_blank_lines=False,  # keeps one row per line, so row i is line data_line + i
            encoding="utf-8",
            engine="c",
            chunksize=_CHUNK_ROWS,
            dtype={f"c{layout.positions['symbol']}": object} if "symbol" in layout.positions else None,
            **_exact_floats(pd),
        )
        pieces = []
        first_row = 0
        for raw_chunk in chunks:
            raw_chunk.columns = [int(label[1:]) for label in raw_chunk.columns]
            where = Where(name, "line", start=header.data_line + first_row)
            first_row += len(raw_chunk)
            chunk, where = _drop_blank_rows(raw_chunk, where, used)
            del raw_chunk
            if len(chunk) == 0:
                continue
            piece = frames.read_piece(functools.partial(_column_of, chunk), layout, where, symbol)
            _explain_missing(piece, layout, path, header, needed)
            pieces.append(piece)
    except UnicodeDecodeError:
        line = _first_non_utf8_line(path, reader.start, header.data_line)
        raise ValueError(f"{name}: line {line} is not UTF-8 text") from None
    except pd.errors.ParserError as err:
        raise ValueError(
            f"{name}: cannot split the rows into fields ({err}; rows are counted from line {header.data_line})"
        ) from None
    if not pieces:
        raise ValueError(f"{name} has no data rows: expected at least one row after the header")
    return pieces


def _exact_floats(pd: Any) -> dict[str, str]:
    """The ``read_csv`` option that makes pandas' C parser read every float exactly."""
    # pandas 2's default float parser can be one unit off in the last place (0.0146875
    # read as 0.014687500000000001); pandas 3 rounds correctly and deprecates the option.
    return {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def _drop_blank_rows(chunk: Any, where: Where, used: list[int]) -> tuple[Any, Where]:
    """Drops the rows of blank (or whitespace-only) lines, keeping each row's line number."""
    rest = [position for position in used if position != 0]
    empty_rest = chunk[rest].isna().all(axis=1).to_numpy() if rest else np.ones(len(chunk), dtype=bool)
    if not empty_rest.any():
        return chunk, where
    blank = empty_rest.copy()
    if 0 in used:
        for i in np.flatnonzero(empty_rest):
            cell = chunk[0].iat[i]
            blank[i] = not cell.strip() if isinstance(cell, str) else _is_na(cell)
    if not blank.any():
        return chunk, where
    keep = ~blank
    return chunk[keep], where.subset(keep)


def _is_na(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _explain_missing(piece: frames.Piece, layout: Layout, path: Path, header: _Header, needed: int) -> None:
    """Names the real problem of a row whose price came back NaN: a short row or an empty cell."""
    for field in PRICE_FIELDS:
        if field not in layout.positions:
            continue  # a field the file does not have (a close-only file): NaN by design
        missing = np.isnan(piece.values[field])
        if not missing.any():
            continue
        i = int(np.argmax(missing))
        line = piece.where.number(i)
        position = layout.positions[field]
        text = _line_text(path, header.data_start, header.data_line, line)
        try:
            row = next(csv.reader([text]), [])
        except csv.Error:
            row = []
        if len(row) <= position:
            raise ValueError(
                f"{piece.where.source}: line {line} has {len(row)} fields, expected at least {needed} "
                f"(columns {list(layout.labels)})"
            )
        cell = row[position].strip()
        if not cell:
            piece.where.fail(i, layout.label(field), "expected a number, got an empty cell")
        if not re.fullmatch(r"[+-]?nan", cell, re.IGNORECASE):
            piece.where.fail(i, layout.label(field), f"expected a number, got {cell!r}")


def _line_text(path: Path, start: int, start_line: int, line: int) -> str:
    """The text of one line of the file (for messages only)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        raw = b""
        for _ in range(line - start_line + 1):
            raw = handle.readline(MAX_LINE_BYTES + 1)
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _first_non_utf8_line(path: Path, start: int, start_line: int) -> int:
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = start_line
    with open(path, "rb") as handle:
        handle.seek(start)
        while block := handle.read(_BLOCK_BYTES):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as err:
                return line + block.count(b"\n", 0, max(err.start, 0))
            line += block.count(b"\n")
    return line

"""Long-format files of many series (parquet and CSV), read one share of the series at a time.

A long file holds one row per series and time, in the columns of Nixtla's libraries:
``unique_id`` (the series), ``ds`` (the time) and ``y`` (the price), rows in any order
(see ``series.split_long``). With many processes each one needs only its own series, so
nothing here loads the whole file:

* ``long_file_ids`` reads the ``unique_id`` column alone (parquet: that column's pages;
  CSV: one pass that keeps only that column, a chunk at a time);
* ``read_long_share`` returns the rows of the given ids only (parquet: a filtered scan,
  batch by batch; CSV: chunks filtered as they are read), so a process holds its share
  and one chunk of the file, not the file.

Parquet needs ``pyarrow`` (``pip install 'jaxlstm[parquet]'``); CSV needs only pandas.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import Any

from jaxlstm._src import validation
from jaxlstm._src.io.pandas_import import import_pandas
from jaxlstm._src.io.series import LONG_COLUMNS

#: File name endings read as parquet; every other file is read as CSV.
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
#: Rows of a CSV file parsed at a time (bounds the memory of a read to a chunk plus the share).
CSV_CHUNK_ROWS = 250_000


def _check_path(path: Any) -> pathlib.Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike naming a parquet or CSV file, got {type(path).__name__}")
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no long-format file at {str(path)!r}")
    return path


def is_parquet(path: str | os.PathLike) -> bool:
    """Whether ``path`` is read as parquet (by its suffix: ``.parquet`` or ``.pq``)."""
    return pathlib.Path(path).suffix.lower() in PARQUET_SUFFIXES


def _pyarrow() -> Any:
    try:
        import pyarrow.dataset as ds
    except ImportError:
        raise ImportError(
            "reading a parquet file needs pyarrow: pip install 'jaxlstm[parquet]' (or give a CSV file)"
        ) from None
    return ds


def _csv_chunks(path: pathlib.Path, columns: Sequence[str] | None) -> Any:
    pd = import_pandas("reading a long CSV file")
    try:
        # The id as text whatever it looks like, so that "007" stays "007" and ids compare as strings.
        return pd.read_csv(path, usecols=columns, dtype={"unique_id": str}, chunksize=CSV_CHUNK_ROWS)
    except ValueError as err:
        raise ValueError(
            f"{str(path)!r} must be a long CSV file with columns {list(LONG_COLUMNS)}: {str(err).splitlines()[0]}"
        ) from None


def _missing_columns(path: pathlib.Path, have: Sequence[str]) -> None:
    missing = [c for c in LONG_COLUMNS if c not in have]
    if missing:
        # A vendor's candle file (one symbol, a preamble line) is the likeliest wrong file here.
        candles = missing == list(LONG_COLUMNS) and path.suffix.lower() != ".parquet"
        raise ValueError(
            f"{str(path)!r} must hold the long format's columns {list(LONG_COLUMNS)} "
            f"(one row per series and time), missing {missing}; got columns {list(have)[:10]}"
            + (
                "; a candle file of one symbol is read by load_ohlcv (jaxlstm train or forecast --data)"
                if candles
                else ""
            )
        )


def long_file_ids(path: str | os.PathLike) -> list[str]:
    """The series ids of a long file, sorted, reading its ``unique_id`` column only.

    Args:
        path: a ``.parquet`` / ``.pq`` file (needs pyarrow) or a CSV file.

    Returns:
        The distinct ``unique_id`` values as strings, in sorted order (the order every
        process agrees on when it splits the series, see ``share``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file lacks a long-format column, holds no rows, or has rows without a
            ``unique_id``.
    """
    path = _check_path(path)
    if is_parquet(path):
        ds = _pyarrow()
        dataset = ds.dataset(path, format="parquet")
        _missing_columns(path, dataset.schema.names)
        column = dataset.to_table(columns=["unique_id"]).column("unique_id")
        missing = column.null_count
        ids = {str(v) for v in column.drop_null().unique().to_pylist()}
    else:
        pd = import_pandas("reading a long CSV file")
        header = pd.read_csv(path, nrows=0).columns
        _missing_columns(path, list(header))
        ids, missing = set(), 0
        for chunk in _csv_chunks(path, ["unique_id"]):
            missing += int(chunk["unique_id"].isna().sum())
            ids.update(chunk["unique_id"].dropna().unique().tolist())
    if missing:
        # A CSV's such rows were never read, a parquet file's became the series "None".
        raise ValueError(f"{str(path)!r} has {missing} row(s) without a unique_id: drop or complete them first")
    if not ids:
        raise ValueError(f"{str(path)!r} holds no rows")
    return sorted(ids)


def share(ids: Sequence[str], index: int, count: int) -> list[str]:
    """The ids process ``index`` of ``count`` takes: every ``count``-th id from its own index.

    Taking every ``count``-th of the sorted ids (rather than one contiguous block) spreads
    series of similar names, which often have similar lengths, evenly.
    """
    count = validation.check_positive_int("count", count)
    index = validation.check_positive_int("index", index, minimum=0)
    if index >= count:
        raise ValueError(f"index must be below count={count}, got {index}")
    return list(ids)[index::count]


def read_long_share(path: str | os.PathLike, ids: Sequence[str]) -> Any:
    """The rows of the series ``ids`` in a long file, as a pandas DataFrame (other series are never held).

    Args:
        path: a ``.parquet`` / ``.pq`` file (needs pyarrow) or a CSV file.
        ids: the ``unique_id`` values (strings) to keep.

    Returns:
        A long DataFrame (``unique_id`` as strings, ``ds``, ``y`` and any other columns)
        holding only the rows of ``ids``, in file order; ``series.split_long`` turns it into
        ``{unique_id: series}``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a missing long-format column.
    """
    path = _check_path(path)
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        raise TypeError(f"ids must be a sequence of unique_id strings, got {type(ids).__name__}")
    wanted = [str(i) for i in ids]
    pd = import_pandas("reading a long file")
    if is_parquet(path):
        ds = _pyarrow()
        import pyarrow as pa

        dataset = ds.dataset(path, format="parquet")
        _missing_columns(path, dataset.schema.names)
        field = ds.field("unique_id")
        kind = dataset.schema.field("unique_id").type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            field = field.cast(pa.string())  # compare ids as text, as long_file_ids lists them
        # No ids: no value set to type (pyarrow rejects an empty one), and no rows to read.
        table = dataset.to_table(filter=field.isin(wanted)) if wanted else dataset.schema.empty_table()
        frame = table.to_pandas()
        frame["unique_id"] = frame["unique_id"].astype(str)
        return frame
    header = pd.read_csv(path, nrows=0).columns
    _missing_columns(path, list(header))
    keep = set(wanted)
    parts = [chunk[chunk["unique_id"].isin(keep)] for chunk in _csv_chunks(path, None)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(header))
    return frame

"""Reading a series to fit: prices or candle columns, their timestamps, interval and gaps.

What every forecaster reads its data with: ``read_series`` (the close alone, or the candle
columns a model reads, close first), ``regular_series`` (``fit(gaps=...)``) and
``fingerprint`` (the record a fitted model keeps as ``trained_on_``), and ``split_long`` (many
series in the long format).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.io import frames, ohlcv
from jaxlstm._src.io.candles import Where
from jaxlstm._src.io.pandas_import import from_polars, import_pandas, is_pandas
from jaxlstm._src.prep import business_days, calendars, fingerprints, horizons
from jaxlstm._src.prep import gaps as gap_lib


def price_series(
    data: Any, name: str, interval: Any = None
) -> tuple[np.ndarray, np.ndarray | None, np.timedelta64 | None]:
    """``(prices, timestamps or None, interval or None)`` of anything ``as_price_series`` accepts.

    Args:
        data: prices, with or without timestamps.
        name: the argument's name, for error messages.
        interval: the spacing of the data (``"1h"``, ``"1d"``, a timedelta...), needed only
            by data without timestamps; with timestamps it must match their spacing, except
            that ``"1d"`` reads business-day dates on a calendar-day axis (weekends as gaps).

    Returns:
        ``[time]`` prices, ``[time]`` ``datetime64[ns]`` or None, and the interval: inferred
        from the timestamps, else ``interval``, else None (unknown).
    """
    prices, timestamps = ohlcv.as_price_series(data, name=name)
    return prices, timestamps, _spacing(timestamps, interval, name)


def _spacing(timestamps: np.ndarray | None, interval: Any, name: str) -> np.timedelta64 | None:
    """The interval of a series: inferred from its timestamps (``interval`` must then agree), else ``interval``."""
    given = None if interval is None else horizons.as_interval(interval, name="interval")
    if timestamps is None or timestamps.shape[0] < 2:
        return given
    inferred = horizons.as_interval(horizons.infer_interval(timestamps), name=f"inferred {name} interval")
    if given == np.timedelta64(1, "D") and inferred == business_days.BUSINESS_DAY:
        return given  # business days read as calendar days, weekends as gaps (as before the business-day axis)
    if given is not None and given != inferred:
        raise ValueError(
            f"interval={interval!r} does not match the spacing of {name}'s timestamps "
            f"({horizons.format_interval(inferred)}); interval= is for data without timestamps"
        )
    return inferred


def regular_series(
    values: np.ndarray,
    timestamps: np.ndarray | None,
    interval: np.timedelta64 | None,
    gaps: str,
    name: str,
    columns: Sequence[str] = ("close",),
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Applies ``fit(gaps=...)`` to a read series: warns of, refuses or fills the gaps of its time axis.

    Every model assumes equally spaced steps (see ``prep.gaps``). Data without timestamps
    has no time axis to check.

    Args:
        values: ``[time]`` prices or ``[time, columns]`` candle values.
        timestamps: their timestamps, or None.
        interval: the series' interval (inferred from the timestamps), or None.
        gaps: ``"warn"`` (a ``GapWarning``, then the series as given), ``"raise"`` (a
            ``ValueError``) or ``"fill"`` (``prep.gaps.fill_gaps``: the last close carried
            forward onto the regular grid).
        name: the argument's name, for messages.
        columns: the names of ``values``' columns.

    Returns:
        ``(values, timestamps, filled)``: the series to fit, and whether prices were added.
    """
    if timestamps is None or interval is None:
        return values, timestamps, False
    found = gap_lib.find_gaps(timestamps, interval)
    if found.regular:
        return values, timestamps, False
    if gaps == "fill":
        values, timestamps = gap_lib.fill_gaps(values, timestamps, interval, columns, name)
        return values, timestamps, True
    message = (
        f"{name} has {found.describe(interval)}: the model assumes equally spaced steps, so each gap is "
        f"learned and forecast as a single {horizons.format_interval(interval)} step"
    )
    if gap_lib.between_sessions(timestamps, interval):
        message += (
            " (every gap is a night or a weekend: bars of trading sessions, whose closed hours "
            "gaps='fill' would invent; to count steps in bars, fit the prices without their dates, "
            f"interval={horizons.format_interval(interval)!r}, and forecast with steps=)"
        )
    if gaps == "raise":
        raise ValueError(
            f"{message}; fit(..., gaps='fill') carries the last close forward onto the regular grid, "
            "gaps='warn' fits the data as given"
        )
    warnings.warn(
        f"{message}; fit(..., gaps='fill') carries the last close forward onto the regular grid, "
        "gaps='raise' refuses such data",
        gap_lib.GapWarning,
        stacklevel=validation.user_stacklevel(),
    )
    return values, timestamps, False


def fingerprint(data: Any, interval: Any = None, columns: Sequence[str] = ("close",)) -> fingerprints.DataFingerprint:
    """The record ``fit(data)`` keeps as ``trained_on_``: compare it to a model's to know if it saw this data.

    Args:
        data: anything ``fit`` accepts; several series (a ``{name: prices}`` mapping or a
            long ``unique_id, ds, y`` DataFrame, what a global model is trained on) give one
            record of them all (``prep.fingerprints.combine``).
        interval: as ``fit``'s: the spacing of data without timestamps (recorded in the fingerprint).
        columns: the candle columns the model reads, its ``input_columns`` (the close
            first); a model that reads more than the close needs candles (see ``read_series``).

    Returns:
        A ``DataFingerprint``: interval, first and last timestamp, number of prices, SHA-256
        of the prices and timestamps, a SHA-256 per other column read, and the source (an
        ``OHLCV``'s file) when known. With the close alone it is the same record for the
        same data whatever else the data holds.
    """
    # A calendar's clock and a seasonal encoding's positions are not read from data: the
    # timestamps and the count recorded fix them.
    columns = calendars.data_columns(columns)
    if is_many(data):
        # Many series (what a global model is trained on): one record of them all, in order.
        named = split_long(data, name="data") if not isinstance(data, Mapping) else data
        if not named:
            raise TypeError("data must be a non-empty mapping of name -> prices, got one with no series")
        for name in named:
            if not isinstance(name, str):
                raise TypeError(f"data keys must be series name strings, got {type(name).__name__} {name!r}")
        return fingerprints.combine({name: fingerprint(item, interval, columns) for name, item in named.items()})
    values, timestamps, spacing = read_series(data, "data", columns, interval)
    return fingerprints.fingerprint_series(values, timestamps, spacing, fingerprints.source_of(data), columns)


def read_series(
    data: Any, name: str, columns: Sequence[str] = ("close",), interval: Any = None
) -> tuple[np.ndarray, np.ndarray | None, np.timedelta64 | None]:
    """``(series, timestamps or None, interval)`` holding the candle ``columns`` (the close first).

    Args:
        data: for ``columns == ("close",)`` anything ``as_price_series`` accepts; otherwise
            candles ``load_ohlcv`` reads (an OHLCV DataFrame, ``OHLCV``, ccxt rows, a CSV path).
        name: the argument's name, for messages.
        columns: OHLCV column names, ``"close"`` first.
        interval: the spacing of data without timestamps (see ``price_series``).

    Returns:
        ``[time]`` prices for the close alone, else ``[time, len(columns)]`` float64 values
        (a volume may be NaN where the source has none: the reader of the volume checks it).
    """
    columns = tuple(columns)
    if columns == ("close",):
        return price_series(data, name, interval)
    if not columns or columns[0] != "close":
        raise ValueError(f"columns must start with 'close', got {columns}")
    try:
        candles = ohlcv.load_ohlcv(data, columns=columns)
    except (TypeError, ValueError) as err:
        raise type(err)(
            f"{name} must be candles with the columns {list(columns)} (an OHLCV DataFrame, jaxlstm.data.OHLCV, "
            f"ccxt rows or a CSV path): {err}"
        ) from None
    if len(candles) == 0:
        raise ValueError(f"{name} must hold at least one candle, got none")
    values = np.stack([np.asarray(getattr(candles, column), np.float64) for column in columns], axis=1)
    timestamps = np.asarray(candles.timestamps)
    return values, timestamps, _spacing(timestamps, interval, name)


def select_columns(values: np.ndarray, columns: tuple[str, ...], wanted: tuple[str, ...]) -> np.ndarray:
    """A model's own columns of ``[..., time(, columns)]`` values read with ``columns``: ``[..., time]`` for the close alone.

    Args:
        values: what ``read_series`` returned for ``columns`` (stacked or not).
        columns: the columns read, the close first.
        wanted: the model's ``input_columns`` (a subset of ``columns``, the close first).
    """
    if len(columns) == 1:  # only the close was read
        return values
    if wanted == ("close",):
        return values[..., 0]
    return values[..., [columns.index(c) for c in wanted]]


def close_of(series: np.ndarray) -> np.ndarray:
    """The closes of a ``[..., time]`` price series or a ``[..., time, columns]`` one (close first)."""
    return series if series.ndim == 1 else series[..., 0]


#: The columns every long frame has.
LONG_COLUMNS: tuple[str, ...] = ("unique_id", "ds", "y")


def is_long(data: Any) -> bool:
    """Whether ``data`` is many series in the long format: a DataFrame with a ``unique_id`` column,
    or a DataFrame or Series with a ``unique_id`` index level (``frame.set_index(["unique_id", "ds"])``)."""
    data = from_polars(data)
    if is_pandas(data, "DataFrame") and "unique_id" in data.columns:
        return True
    return (is_pandas(data, "DataFrame") or is_pandas(data, "Series")) and "unique_id" in data.index.names


def is_many(data: Any) -> bool:
    """Whether ``data`` holds many series: a mapping of name -> prices, or a long frame (``is_long``)."""
    return isinstance(data, Mapping) or is_long(data)


def split_long(frame: Any, *, name: str = "data") -> dict[str, Any]:
    """``{unique_id: series}`` from a long DataFrame (Nixtla's ``unique_id, ds, y``, rows in any order).

    ``unique_id`` and ``ds`` may also be index levels (a Series indexed by them holds ``y``).
    Each series is sorted by ``ds``: a Series of ``y``, or a DataFrame with ``y`` as ``close``
    when there are other columns. Raises ValueError for a missing column, no rows, a row
    without a ``unique_id`` or ``ds``, a ``ds`` of neither times nor integers, or a repeated
    ``(unique_id, ds)``.
    """
    pd = import_pandas("a long DataFrame (unique_id, ds, y)")
    frame = from_polars(frame)
    if is_pandas(frame, "Series"):
        frame = frame.rename("y").to_frame()
    levels = [level for level in frame.index.names if level in LONG_COLUMNS and level not in frame.columns]
    if levels:
        frame = frame.reset_index(level=levels)
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        named_levels = [level for level in frame.index.names if level is not None]
        raise ValueError(
            f"{name} as a DataFrame of many series needs the long format's columns {list(LONG_COLUMNS)} "
            f"(one row per series and time, as columns or index levels), missing {missing}; got columns "
            f"{list(frame.columns)[:10]}" + (f" and index levels {named_levels}" if named_levels else "")
        )
    if len(frame) == 0:
        raise ValueError(f"{name} has no rows")
    for column in ("unique_id", "ds"):
        # astype(str) would make a missing id the series "None" or "nan"; a missing time no place.
        if (missing_rows := frame[column].isna().to_numpy()).any():
            first = int(missing_rows.argmax())
            raise ValueError(
                f"{name} has {int(missing_rows.sum())} row(s) without a {column}, the first at row {first}: "
                "drop or complete them first"
            )
    ds = frame["ds"]
    if pd.api.types.is_integer_dtype(ds) or pd.api.types.is_datetime64_any_dtype(ds):
        times = ds
    else:
        try:
            if ds.dtype == object or pd.api.types.is_string_dtype(ds):
                # Each string in its own offset, none meaning UTC, whatever the pandas version.
                nanos = frames.texts_to_ns(ds.to_numpy(dtype=object), Where(f"{name}['ds']", "row"), "ds")
                times = pd.Series(nanos.view("datetime64[ns]"), index=ds.index, name="ds")
            elif isinstance(ds.dtype, pd.DatetimeTZDtype):
                times = ds  # its zone is read below: midnights as dates (horizons.without_zone)
            else:
                times = pd.to_datetime(ds, utc=True)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}['ds'] must hold times or integers, got {ds.iloc[0]!r}: {err}") from None
    is_time = not pd.api.types.is_integer_dtype(times)
    if is_time:
        times = horizons.without_zone(times)
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

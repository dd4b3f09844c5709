"""Many series in one table: the long format of Nixtla's libraries (statsforecast, NeuralForecast).

One row per series and time: ``unique_id`` names the series, ``ds`` is the time and ``y``
the value; any other column travels with its series. ``split_long`` turns such a frame into
the ``{symbol: series}`` mapping that ``Forecaster.fit_many`` takes.
"""

from __future__ import annotations

from typing import Any

from jaxlstm._src.io import cells
from jaxlstm._src.io.cells import Where
from jaxlstm._src.io.pandas_import import import_pandas

#: The columns every long frame has.
LONG_COLUMNS: tuple[str, ...] = ("unique_id", "ds", "y")


def split_long(frame: Any, *, name: str = "data") -> dict[str, Any]:
    """Splits a long DataFrame into one price series per ``unique_id``.

    Args:
        frame: a pandas DataFrame with columns ``unique_id``, ``ds`` (datetimes, date
            strings or integers) and ``y`` (prices); other columns are kept beside ``y``.
            Rows may come in any order.
        name: the argument's name, for error messages.

    Returns:
        ``{str(unique_id): series}`` in order of first appearance. Each series is sorted by
        ``ds``: a ``pandas.Series`` of ``y`` (a ``DatetimeIndex`` when ``ds`` holds times),
        or a DataFrame with ``y`` as its ``close`` column when there are other columns.

    Raises:
        ValueError: a missing column, an empty frame, a ``ds`` that is neither times nor
            integers, or a ``(unique_id, ds)`` pair given twice.
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

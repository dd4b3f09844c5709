"""The columns a network forecaster's windows carry besides candles (the clock of calendar inputs, a seasonal encoding's positions), and the season and calendar a fit resolves that decide them.

``LSTMForecaster(calendar=...)`` reads the calendar of every step from its clock
(``prep.calendars``); ``encoding="seasonal"`` reads each window's phase from the positions of
its steps in the fitted series, which windows carry only while a season is in use
(``reads_positions``). Both are columns of the series after the candle columns
(``ModelInputs.columns``), so every window cut from it (training, held-back, calibration and
backtest origins, the saved last window) carries them. ``read`` adds them to data a model
reads after its fit (``observe``, ``update``, a window of candles); ``with_clock`` adds the
clock to a series to fit on, read with the columns data has (``fit``, ``fit_many``,
``backtest``) and put on its grid first; ``with_fit_positions`` numbers a fit's positions
once ``season_length="auto"`` has resolved the season.

Positions after a fit continue the fitted series' numbering from the model's last price
(the last row of ``prices_``, saved with the model): dated data by its timestamps' steps
from the model's last timestamp (``continued_positions``), prices an ``update`` takes as
continuing right after it by their count; ``update`` then numbers the new prices it keeps
one step each after the last (``continuation.read_update``), as a fit on the longer series
numbers its rows.

A fit first reads its data as an unfitted model would (``unresolved``), then resolves
``season_length="auto"`` on the training part of each series (``resolve_season``) and the
calendar from its timestamps, and adds the columns they imply (``fit_series``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from jaxlstm._src.io.series import close_of, read_series
from jaxlstm._src.prep import business_days, calendars, horizons, seasons

#: An ``LSTMForecaster`` (not imported: ``lstm`` imports this module).
LSTMForecaster = Any


def read(
    model: LSTMForecaster, data: Any, name: str, interval: Any, continues: bool = False
) -> tuple[np.ndarray, np.ndarray | None, np.timedelta64 | None]:
    """``(series, timestamps, interval)`` of a fitted model's new ``data`` with the model's extra columns.

    The fitted calendar's clock, and positions that continue the fitted series'
    (``continued_positions``; ``continues``: undated data follows the model's last price,
    as ``update`` takes it).
    """
    series, stamps, spacing = read_series(data, name, model.model_inputs.candle_columns, interval)
    if model.calendar_step_:
        series = calendars.with_clock(series, stamps, model.calendar_step_, name)
    if not model.model_inputs.position:
        return series, stamps, spacing
    return continued_positions(model, series, stamps, spacing, name, continues), stamps, spacing


def continued_positions(
    model: LSTMForecaster,
    series: np.ndarray,
    stamps: np.ndarray | None,
    spacing: np.timedelta64 | None,
    name: str,
    continues: bool,
) -> np.ndarray:
    """``series`` of a fitted model's new data with the position of each row in the fitted series' numbering.

    The model's last price has position ``p`` (the last row of ``prices_``) at
    ``last_timestamp_``. A dated row at ``t`` is ``p + (t - last_timestamp_) / interval_``
    (rows before the model's last price too: what overlaps it gets the positions the model
    holds); undated rows with ``continues`` are ``p + 1, p + 2, ...``.

    Raises:
        ValueError: data that does not say where it sits in the season: undated (unless
            ``continues``), dated for a model without a time axis, at another interval, or
            off the model's time grid.
    """
    assert model.prices_ is not None, "a fitted model holds its last window"
    last = float(model.prices_[-1, -1])
    anchor, step = model.last_timestamp_, model.interval_
    values = np.asarray(series, np.float64)
    values = values[:, None] if values.ndim == 1 else values
    if stamps is not None and anchor is not None and step is not None:
        if spacing is not None and not business_days.continues(spacing, step):
            raise ValueError(
                f"{name}'s interval {horizons.format_interval(spacing)} is not the model's "
                f"{horizons.format_interval(step)}: a model with encoding='seasonal' reads the season's phase "
                "from the steps since its last price"
            )
        times = np.asarray(stamps, "datetime64[ns]")
        if (axis := horizons.calendar_axis(step)) is not None:  # steps of calendar months or business days
            steps, rest = np.divmod(axis.numbers(times) - axis.numbers(np.asarray([anchor]))[0], axis.units)
            off = np.flatnonzero((rest != 0) | ~axis.on_grid(times, anchor))
        else:
            steps, rest = np.divmod(times - anchor, step)
            off = np.flatnonzero(rest != np.timedelta64(0, "ns"))
        if off.size:
            at, every = horizons.format_moment(times[off[0]]), horizons.format_interval(step)
            raise ValueError(
                f"{name} has a price at {at}, off the model's time grid (every {every} from "
                f"{horizons.format_moment(anchor)}): its place in the season is not a whole step"
            )
        positions = last + steps.astype(np.float64)
    elif continues:
        positions = last + 1 + np.arange(values.shape[0], dtype=np.float64)
    else:
        raise ValueError(
            f"{name}: a model with encoding='seasonal' reads the position of each price in its season from the "
            "steps since the model's last price, which "
            + ("undated data does not say" if stamps is None else "a model fitted on undated prices cannot count")
            + ": give dated prices (a pandas Series with a DatetimeIndex, candles...), update(data, interval=...) "
            f"with prices that continue right after the model's last one, or an array window with the "
            f"{calendars.POSITION_COLUMN!r} column"
        )
    return np.concatenate([values, positions[:, None]], axis=1)


def with_clock(model: LSTMForecaster, series: np.ndarray, timestamps: np.ndarray | None, interval: Any) -> np.ndarray:
    """A validated series to fit on (on its regular grid), with the clock of the model's calendar inputs.

    The calendar is resolved from ``timestamps`` and ``interval`` (``calendars.resolve``)
    and the clock appended. Positions come after the season is resolved (``with_fit_positions``).
    """
    if model.calendar is None:
        return series
    model.use_calendar(*calendars.resolve(model.calendar, timestamps, interval))
    return calendars.with_clock(series, timestamps, model.calendar_step_) if model.calendar_step_ else series


def with_fit_positions(model: LSTMForecaster, series: np.ndarray) -> np.ndarray:
    """A series to fit on with positions ``0, 1, ...`` as its last column exactly when the model reads them.

    A fit reads its data before ``season_length="auto"`` has resolved the season, so the
    series may lack the column the season needs, or hold one numbered before gap filling;
    ``reads_positions`` decides once the season is known.
    """
    values = np.asarray(series, np.float64)
    width = 1 if values.ndim == 1 else values.shape[1]
    wanted = len(model.input_columns)
    if not model.model_inputs.position:
        if width == wanted + 1:  # read with the positions of a season no longer in use
            values = values[:, :-1]
            return values[:, 0] if wanted == 1 else values
        return series
    if width == wanted - 1:
        return calendars.with_positions(values)
    values = np.array(values)
    values[:, -1] = np.arange(values.shape[0])
    return values


def resolve_season(model: LSTMForecaster, series: np.ndarray, interval: Any = None) -> int | None:
    """``LSTMForecaster.resolve_season``: the season of a validated series' training part, put in use.

    The training part is the series before the tail a fit holds back (``planned_holdout``
    with no season); nothing after it moves the season. A season whose window leaves the
    series too short to fit (``min_fit_length`` plus one held-back window) is dropped.
    """
    if model.season_length != "auto":
        return model.season_length_
    model.use_season(None)
    train = close_of(series)[: series.shape[0] - (model.planned_holdout(series.shape[0]) or 0)]
    model.use_season(seasons.detect_season(np.log(train), interval=interval) if train.shape[0] > 2 else None)
    if model.season_length_ is not None and series.shape[0] < model.min_fit_length + 1:
        model.use_season(None)
    return model.season_length_


def fit_series(
    kind: Any, models: Sequence[Any], series: Sequence[np.ndarray], interval: Any, timestamps: Sequence[Any] | None
) -> list[np.ndarray]:
    """The series each network forecaster among ``models`` fits on, its season and calendar resolved (``fit_rows``).

    Series come read with the columns data has (``base.read_to_fit``). Each model of
    ``kind`` (``LSTMForecaster``; the others' series pass unchanged) gains the clock of its
    timestamps, resolves an ``"auto"`` season, which sets the held-back tail and the
    calibration cut, and then its positions, which exist only once a season is in use.
    ``shrink_`` is cleared: the calibration forecasts measure the model itself, unshrunk.
    """
    spacing = list(interval) if isinstance(interval, (list, tuple)) else [interval] * len(models)
    stamps = list(timestamps or [None] * len(models))
    out = list(series)
    for i, model in enumerate(models):
        if isinstance(model, kind):
            out[i] = with_clock(model, out[i], stamps[i], spacing[i])
            resolve_season(model, out[i], spacing[i])
            model.shrink_ = None
            out[i] = with_fit_positions(model, out[i])
    return out


@contextlib.contextmanager
def unresolved(model: LSTMForecaster) -> Iterator[None]:
    """Reads and checks data as an unfitted model reads it: a season or calendar an earlier fit resolved must not shape it.

    A fit that fails leaves a fitted model's season and calendar as they were.
    """
    season, calendar = model.season_length_, (model.calendar_, model.calendar_step_)
    if model.season_length == "auto":
        model.use_season(None)
    model.use_calendar(model.calendar if isinstance(model.calendar, tuple) else (), 0)
    try:
        yield
    except BaseException:
        if model.params_ is not None:
            model.use_season(season)
            model.use_calendar(*calendar)
        raise

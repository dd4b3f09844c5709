"""The columns a network forecaster's windows carry besides candles: the clock of calendar inputs, a seasonal encoding's positions.

``LSTMForecaster(calendar=...)`` reads the calendar of every step from its clock
(``prep.calendars``); ``encoding="seasonal"`` reads each window's phase from the positions of
its steps in the fitted series. Both are columns of the series after the candle columns
(``ModelInputs.columns``), so every window cut from it (training, held-back, calibration and
backtest origins, the saved last window) carries them. ``read`` adds them to data a model
reads itself (``fit``, ``observe``, ``update``); ``for_fit`` to a series read without the
model (``fit_many``, ``backtest``), or renumbers the positions of one ``fit`` read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlstm._src.io.series import read_series
from jaxlstm._src.prep import calendars

#: An ``LSTMForecaster`` (not imported: ``lstm`` imports this module).
LSTMForecaster = Any


def read(
    model: LSTMForecaster, data: Any, name: str, interval: Any, fitting: bool
) -> tuple[np.ndarray, np.ndarray | None, np.timedelta64 | None]:
    """``(series, timestamps, interval)`` of ``data`` with the model's extra columns.

    ``fitting``: the data is what ``fit`` trains on; the calendar parts and spacing are
    resolved from it first (``calendars.resolve``) and positions numbered from 0.
    Otherwise the fitted calendar applies, and a seasonal encoding refuses (new data does
    not say where it sits in the season).
    """
    series, stamps, spacing = read_series(data, name, model.model_inputs.candle_columns, interval)
    if fitting and model.calendar is not None:
        model.use_calendar(*calendars.resolve(model.calendar, stamps, spacing, name))
    if model.calendar_step_:
        series = calendars.with_clock(series, stamps, model.calendar_step_, name)
    if not model.model_inputs.position:
        return series, stamps, spacing
    if not fitting:
        raise ValueError(
            f"{name}: a model with encoding='seasonal' reads the position of each price in its season, which "
            "new data does not say: observe, update and windows read from data are not supported; fit on the "
            f"longer series, or pass an array window with the {calendars.POSITION_COLUMN!r} column"
        )
    return calendars.with_positions(series), stamps, spacing


def for_fit(
    model: LSTMForecaster, series: np.ndarray, timestamps: np.ndarray | None, interval: Any, read_by_fit: bool
) -> np.ndarray:
    """A validated series to fit on, with the model's extra columns.

    ``read_by_fit``: ``read`` made the series (its columns are there; positions are numbered
    again, after any gap filling). Otherwise the calendar is resolved from ``timestamps``
    and ``interval`` and the columns appended.
    """
    position = model.model_inputs.position
    if read_by_fit:
        if position:
            series = np.array(series, np.float64)
            series[:, -1] = np.arange(series.shape[0])
        return series
    if model.calendar is not None:
        model.use_calendar(*calendars.resolve(model.calendar, timestamps, interval))
        if model.calendar_step_:
            series = calendars.with_clock(series, timestamps, model.calendar_step_)
    return calendars.with_positions(series) if position else series

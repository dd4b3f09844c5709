"""``LSTMForecaster.update``: do new prices continue the ones a model holds, and the training on them.

The continuity rules (``continuation``) are pure functions of what the model holds (its
prices, last timestamp, interval and columns) and the new data; they raise ``ValueError``
with the reason, or return the new part. ``read_update`` applies them for a fitted model
and builds what its update trains on (a local model's ``update`` and every series of a
global model's); ``update`` trains a local model's members on it (``rows.update_rows``),
``extended_band`` and ``continue_with`` are what every updated series takes over.
"""

from __future__ import annotations

import datetime
import warnings
from typing import Any, NamedTuple

import numpy as np

from jaxlstm._src import training, validation
from jaxlstm._src.forecasters import bands, fitting, population, prepared, rows
from jaxlstm._src.io.series import close_of
from jaxlstm._src.prep import business_days, horizons, windows
from jaxlstm._src.prep import gaps as gap_lib


class Held(NamedTuple):
    """What a fitted model holds of its series: ``[time(, columns)]`` prices, last timestamp, interval, columns."""

    prices: np.ndarray
    last_timestamp: np.datetime64 | None
    interval: np.timedelta64 | None
    columns: tuple[str, ...]


def continuation(
    held: Held,
    new: np.ndarray,
    timestamps: np.ndarray | None,
    spacing: np.timedelta64 | None,
    dated_by_interval: bool,
    allow_gap: bool,
) -> tuple[np.ndarray, np.datetime64 | None, np.timedelta64 | None]:
    """``(the new prices after the model's last one, their last timestamp, the interval)``, or a ValueError.

    The rules of ``update``: ``new`` must continue ``held.last_timestamp`` at ``held.interval``;
    an overlap is checked and dropped; ``dated_by_interval`` says that undated ``new``
    came with ``interval=`` (``spacing`` is then that interval).
    """
    last, step = held.last_timestamp, held.interval
    if spacing is not None and step is not None and not business_days.continues(spacing, step):
        raise ValueError(
            f"data's interval {horizons.format_interval(spacing)} is not the model's "
            f"{horizons.format_interval(step)}: update with {horizons.format_interval(step)} prices, or fit a "
            "new model on these"
        )
    step = step if step is not None else spacing
    if last is None:
        # Undated prices were fitted: there is no time to check the new ones against.
        return new, None if timestamps is None else np.datetime64(timestamps[-1], "ns"), step
    if step is None:  # not made by fit (it infers the interval of dated prices): nothing to check with
        raise ValueError("the model has a last timestamp but no interval: fit it again to update it")
    if timestamps is None:
        if not dated_by_interval:
            raise ValueError(
                f"data has no timestamps, but the model's prices are dated (the last at "
                f"{horizons.format_moment(last)}, every {horizons.format_interval(step)}): give dated prices "
                f"(a pandas Series with a DatetimeIndex, candles...) or update(data, "
                f"interval={interval_argument(step)}) to say they continue right after its last one"
            )
        return new, horizons.future_timestamps(last, step, new.shape[0])[-1], step
    timestamps = np.asarray(timestamps, "datetime64[ns]")
    if timestamps[-1] <= last:
        raise ValueError(
            f"data ends at {horizons.format_moment(timestamps[-1])}, at or before the model's last price at "
            f"{horizons.format_moment(last)}: it holds nothing new to train on (fit trains on older prices)"
        )
    seen = int(np.searchsorted(timestamps, last, side="right"))
    if seen:
        new = new[checked_overlap(held, new, timestamps, seen) :]
        timestamps = timestamps[seen:]
    found = gap_lib.find_gaps(np.concatenate([[last], timestamps]), step)
    if not found.regular and not allow_gap:
        raise ValueError(
            f"data does not continue the model's prices every {horizons.format_interval(step)} from its last "
            f"one at {horizons.format_moment(last)}: counted from there it has {found.describe(step)}; "
            "update(..., allow_gap=True) trains on it anyway, learning each gap as one step"
        )
    return new, np.datetime64(timestamps[-1], "ns"), step


def interval_argument(step: np.timedelta64) -> str:
    """How to write ``step`` as ``interval=``: its text (``'1h'``, ``'1 month'``), which ``as_interval`` reads back."""
    return repr(horizons.format_interval(step))


def checked_overlap(held: Held, new: np.ndarray, timestamps: np.ndarray, seen: int) -> int:
    """Checks the ``seen`` leading rows of ``new`` (at or before ``held.last_timestamp``) against the prices held; returns ``seen``.

    The rows checked are the data's consecutive steps of one interval back from the
    model's last timestamp (as many as the model holds): the model's own series is on
    that grid there, whether it was fitted with gaps or with them filled.
    """
    assert held.last_timestamp is not None and held.interval is not None
    last, step = held.last_timestamp, held.interval
    if timestamps[seen - 1] != last:
        raise ValueError(
            f"data overlaps the prices the model saw but has no price at its last timestamp "
            f"{horizons.format_moment(last)} (the nearest before it is at "
            f"{horizons.format_moment(timestamps[seen - 1])}): its prices are not on the model's time axis"
        )
    # The grid back from the last timestamp (in calendar months on a month axis).
    expected = horizons.past_timestamps(last, step, seen)
    on_grid = timestamps[:seen][::-1] == expected
    run = seen if on_grid.all() else int(np.argmin(on_grid))
    checked = min(run, held.prices.shape[0])
    # Every column the model reads: a candle whose volume differs is other data too.
    given, kept = new[seen - checked : seen], held.prices[held.prices.shape[0] - checked :]
    same = np.isclose(given, kept, rtol=1e-9, atol=0.0, equal_nan=True)
    if same.ndim == 2:
        same = same.all(axis=1)
    if not same.all():
        i = int(np.flatnonzero(~same)[-1])
        columns = "" if given.ndim == 1 else f" ({', '.join(held.columns)})"
        raise ValueError(
            f"data's prices up to the model's last timestamp differ from those the model saw: "
            f"{np.round(given[i], 10)}{columns} at {horizons.format_moment(timestamps[seen - checked + i])} where "
            f"it saw {np.round(kept[i], 10)}; this is other data (fit a new model on it)"
        )
    warnings.warn(
        f"update: dropped the first {seen} price(s) of data, at or before the model's last timestamp "
        f"{horizons.format_moment(last)}: the model has seen them (the last {checked} checked against the "
        "prices it holds)",
        UserWarning,
        stacklevel=validation.user_stacklevel(),
    )
    return seen


class Update(NamedTuple):
    """What an ``update`` of one fitted series trains on and keeps.

    Attributes:
        series: ``[window_length + new(, columns)]`` the model's last window, then the new prices.
        last_timestamp, interval: of the series after the update.
        data: one training window per new price, encoded with the fitted state (no
            held-back part), padded to its shape bucket with zero-weight windows.
        n_windows: the real (unpadded) windows of ``data``.
    """

    series: np.ndarray
    last_timestamp: np.datetime64 | None
    interval: np.timedelta64 | None
    data: training.TrainData
    n_windows: int


def read_update(model: Any, data: Any, name: str, interval: Any, allow_gap: bool) -> Update:
    """The ``Update`` of a fitted network forecaster by the new prices ``data`` (the rules of ``continuation``).

    Args:
        model: a fitted ``LSTMForecaster`` of one series (it is not changed).
        data: the new prices, any form ``fit`` accepts.
        name: the argument's name in messages (``"data"``, ``"data['A']"``).
        interval, allow_gap: as ``update`` takes them.

    Raises:
        ValueError: data that does not continue the model's prices, or too few new prices.
    """
    new, timestamps, spacing = model.read_data(data, name, interval, continues=True)
    steps = model.direct_steps or 1
    new = model.check_prices(name, new, steps, "to update on")
    assert model.prices_ is not None and model.encoding_state_ is not None and model.feature_state_ is not None
    held = Held(model.prices_, model.last_timestamp_, model.interval_, model.input_columns)
    new, last_timestamp, spacing = continuation(held, new, timestamps, spacing, interval is not None, allow_gap)
    if new.shape[0] < steps:
        raise ValueError(
            f"{name} must hold at least {steps} prices after the model's last timestamp to update {model!r}, "
            f"got {new.shape[0]}"
        )
    if model.model_inputs.position:
        # One step after another from the model's last price, a gap taken with allow_gap as
        # one step: the positions a fit on the longer series gives its rows.
        new = np.array(new, np.float64)
        new[:, -1] = model.prices_[-1, -1] + 1 + np.arange(new.shape[0])
    series = np.concatenate([model.prices_[-model.window_length :], new])
    state = model.model_inputs.device_state(model.encoding_state_, model.feature_state_)
    found = prepared.continuation_data(model.model_inputs, state, series, steps)
    return Update(series, last_timestamp, spacing, found, int(np.asarray(found.weights).sum()))


def extended_band(model: Any, series: np.ndarray, keep: int, fresh: np.ndarray | None = None) -> bands.Band:
    """``model``'s band with its out-of-sample errors from each new origin of an update's ``series`` (window + new prices).

    Args:
        model: a fitted ``LSTMForecaster`` of one series, before the update.
        series: ``Update.series``.
        keep: the most calibration origins a band keeps (the most recent).
        fresh: the ``[new, band_steps]`` forecasts from those origins when already made
            (a global model's update forecasts every series' in one call), else made here.
    """
    assert model.band_ is not None, "fitted models have a band"
    if not model.band_.needs_residuals:
        return model.band_
    origins = np.arange(model.window_length, series.shape[0])
    if fresh is None:
        fresh = model.predict_windows(windows.windows_before(series, origins, model.window_length), model.band_steps)
    new_rows = bands.origin_residuals(close_of(series), origins, fresh)
    return model.band_.extended(new_rows, model.calibration_sources(), keep)


def continue_with(model: Any, found: Update, band: bands.Band) -> None:
    """``model`` takes over the prices of an update (``found``) and its band extended from the new origins."""
    model.prices_, model.last_timestamp_, model.interval_ = found.series, found.last_timestamp, found.interval
    # The models that scored the old residuals belong to the old params: from now on
    # the residuals are fixed arrays, as in a model restored from a file.
    model.calibration_models_ = {}
    model.band_ = band
    model.trained_at_ = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def update(model: Any, data: Any, *, epochs: int, interval: Any, allow_gap: bool, keep: int) -> None:
    """The work of a local ``LSTMForecaster.update`` once its settings are checked: the band, the training, the new state.

    Before training, the current model's forecasts from each new origin join the band's
    residuals (``extended_band``). Every member then continues from its params and
    optimiser state for ``epochs`` epochs, in one call (``rows.update_rows``). Nothing
    changes in ``model`` until the training has succeeded.

    Args:
        model: a fitted ``LSTMForecaster`` of one series.
        data, interval, allow_gap: as ``update`` takes them (``read_update``).
        epochs: passes over the new windows.
        keep: the most calibration origins a band keeps.
    """
    found = read_update(model, data, "data", interval, allow_gap)
    band = extended_band(model, found.series, keep)
    count = int((model.metrics_ or {}).get("updates", 0)) + 1
    results = rows.update_rows(model.members, fitting.member_trees(model), found.data, epochs, count)
    if any(r.epochs_run < epochs for r in results):
        raise ValueError("update diverged (non-finite loss); the model is unchanged, check the data")
    model.params_, model.opt_state_ = population.adopted_state(results)
    train_loss = float(np.mean([r.train_loss[-1] for r in results]))
    model.metrics_ = {**(model.metrics_ or {}), "updates": count, "update_train_loss": train_loss}
    continue_with(model, found, band)

"""A series as a network forecaster's training arrays: windows, chronological split, fitted encoding, encoded rows.

Pure functions of a ``prep.inputs.ModelInputs`` (which columns, which encoding, how long a
window) and a validated ``[time(, columns)]`` series; the arrays are padded to their shape
bucket (``prep.windows.bucket_size``) with zero-weight rows, so that series of other
lengths reuse the compiled encoder and trainer. ``fit`` trains on ``prepare``'s arrays,
``update`` on ``continuation_data``'s.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxlstm._src import training
from jaxlstm._src.prep import features as feature_lib
from jaxlstm._src.prep import inputs as inputs_lib
from jaxlstm._src.prep import windows


@functools.partial(jax.jit, static_argnums=0)
def _encode_jit(model_inputs: inputs_lib.ModelInputs, state: Any, raw: jax.Array, future: jax.Array) -> Any:
    """Encoded ``(inputs, targets)`` of padded raw windows, in one compiled call (op by op, the
    targets alone cost a global fit 15 ms per series)."""
    return model_inputs.encode(state, raw), model_inputs.encode_targets(state, raw, future)


class Prepared(NamedTuple):
    """Training inputs of one series: raw windows, split, fitted encoding and feature scaling, encoded arrays."""

    windows: np.ndarray
    following: np.ndarray
    n_train: int
    n_val: int
    encoding_state: dict[str, float]
    feature_state: inputs_lib.FeatureState
    data: training.TrainData

    @property
    def gap(self) -> int:
        """Windows between the training and the held-back ones (in neither part)."""
        return self.windows.shape[0] - self.n_train - self.n_val

    @property
    def held_back(self) -> np.ndarray:
        """The held-back windows ``[n_val, time(, columns)]`` (whose next closes the params never saw)."""
        return self.windows[self.n_train + self.gap :]


def encoded(
    model_inputs: inputs_lib.ModelInputs, state: Any, raw_windows: Any, closes: Any, future: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Encoded inputs ``[N, time, features]`` and targets ``[N, H]`` (float32, host) of ``N`` raw windows.

    The windows are padded to their shape bucket (copies of the first, dropped after) before
    they reach compiled code, so that series of other lengths reuse the compiled encoder.

    Raises:
        ValueError: an encoded value is not finite.
    """
    count = raw_windows.shape[0]
    size = windows.bucket_size(count, windows.MIN_FORECAST_BUCKET)
    bucket = functools.partial(windows.pad_rows, size=size, fill="first")
    # ``closes`` are the raw windows' first column; the windows' other columns carry the
    # positions a seasonal encoding reads.
    del closes
    raw = bucket(np.asarray(raw_windows, np.float32))
    # Series of different seasons (a global fit's) share one compiled encoder.
    shared, state = model_inputs.shared(state)
    inputs, targets = _encode_jit(shared, state, raw, bucket(np.asarray(future, np.float32)))
    xs, ys = np.asarray(inputs)[:count], np.asarray(targets)[:count]
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("data gives non-finite model inputs after encoding (are prices too extreme for float32?)")
    return xs, ys


def _windows_and_targets(
    model_inputs: inputs_lib.ModelInputs, series: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(raw windows, their last closes, the next steps closes)`` of every window of ``series``."""
    if series.ndim == 2:
        feature_lib.check_values(model_inputs.features, model_inputs.columns, series)
    raw_windows, future = windows.sliding_windows(series, model_inputs.window_length, horizon=steps)
    if series.ndim == 1:
        raw_windows = raw_windows[..., 0]
    return raw_windows, model_inputs.closes(raw_windows), future[..., 0]


def prepare(
    model_inputs: inputs_lib.ModelInputs,
    series: np.ndarray,
    steps: int,
    fraction: float,
    *,
    pad_to: int | None = None,
) -> Prepared:
    """Windows, chronological split, and the encoding and feature scaling fitted on the training part only.

    A window holds ``window_length`` candles and is followed by ``steps`` targets (a direct
    head's ``H``, 1 for a recursive model). The last ``fraction`` of windows is held back,
    and the ``steps - 1`` windows before it are dropped, so that no held-back close is a
    training target; the encoding and the feature statistics see only the training
    windows and their targets. ``pad_to``: a larger window count whose padded shapes the
    data takes (a head refit those of the model it calibrates, so that both train with
    one compiled program; padding changes no result).
    """
    length = model_inputs.window_length
    raw_windows, closes, future = _windows_and_targets(model_inputs, series, steps)
    n_train, n_val = windows.chronological_split(raw_windows.shape[0], fraction, gap=steps - 1)
    encoding_state, feature_state = model_inputs.fit(series[: n_train + length + steps - 1])
    state = model_inputs.device_state(encoding_state, feature_state)
    count = raw_windows.shape[0]
    xs, ys = encoded(model_inputs, state, raw_windows, closes, future)
    ones = np.ones((count,), np.float32)
    start = count - n_val
    # Both parts padded to the shape bucket of the window count (zero-weight rows), so
    # that series of other lengths reuse the compiled trainer.
    size, size_val = windows.bucketed_split(count, fraction, gap=steps - 1)
    if pad_to is not None and pad_to > count:
        size, size_val = (
            max(a, b) for a, b in zip((size, size_val), windows.bucketed_split(pad_to, fraction, gap=steps - 1))
        )
    data = training.TrainData(
        *windows.pad_rows((xs[:n_train], ys[:n_train], ones[:n_train]), size),
        *windows.pad_rows((xs[start:], ys[start:], ones[start:]), size_val),
    )
    return Prepared(raw_windows, future[:, 0], n_train, n_val, encoding_state, feature_state, data)


#: Fewest windows a head-refit calibration copy trains on (one minibatch of the default 32).
#: A copy of a short series trained on fewer is a barely trained network whose forecasts stand
#: for nothing the model does: on the competition benchmark its residuals made lynx's 95% band
#: hundreds of times its forecast wide (MSIS 128.7, 13.9 without the copy; README, "The
#: M-competition protocol").
MIN_REFIT_WINDOWS = 32


class RefitBudget(NamedTuple):
    """What a head-refit calibration copy trains (``refit_budget``).

    Attributes:
        steps: per member, the optimiser steps the calibrated model's kept params took.
        windows: the calibrated model's window count, whose padded shapes the copy takes.
    """

    steps: tuple[int, ...]
    windows: int


def minibatches(n_train: int, batch_size: int, epoch_windows: int | None = None) -> int:
    """Optimiser steps of one epoch on ``n_train`` training windows (at least 1; a partial batch is one step).

    ``epoch_windows``: the most windows one epoch takes (``TrainConfig.epoch_windows``; None: all).
    """
    return training.epoch_batches(int(n_train), batch_size, epoch_windows)


def kept_steps(metrics: dict[str, Any], batch_size: int, epoch_windows: int | None = None) -> tuple[int, ...]:
    """Per member, the optimiser steps its kept params took: its best epoch with early stopping (else its last) times its minibatches per epoch.

    Args:
        metrics: a fitted model's ``metrics_`` (``best_epoch``, ``n_train_windows``, and
            ``member_best_epochs`` for an ensemble).
        batch_size: its windows per step.
        epoch_windows: its most windows per epoch (``TrainConfig.epoch_windows``).
    """
    kept = metrics.get("member_best_epochs") or [metrics["best_epoch"]]
    batches = minibatches(metrics["n_train_windows"], batch_size, epoch_windows)
    return tuple(max(1, int(epoch)) * batches for epoch in kept)


def refit_budget(metrics: dict[str, Any] | None, batch_size: int, count: int) -> RefitBudget | None:
    """What a head refit of a model fitted on ``count`` windows may train: its kept params' optimiser steps (None: unfitted).

    A head refit trained longer would stand for a different model, and on noisy prices,
    where early stopping keeps an early epoch, it would cost several times the model's own
    training.
    """
    return None if metrics is None else RefitBudget(kept_steps(metrics, batch_size), count)


def epoch_caps(steps: Sequence[int], n_train: int, batch_size: int, epoch_windows: int | None = None) -> list[int]:
    """Per member, ``steps`` optimiser steps rounded up to whole epochs of ``n_train`` training windows (at most ``epoch_windows`` each)."""
    return [-(-count // minibatches(n_train, batch_size, epoch_windows)) for count in steps]


def validation_errors(
    prep: Prepared, model_inputs: inputs_lib.ModelInputs, predicted: np.ndarray
) -> dict[str, float | None]:
    """One-step MAE in price units of ``[n_val]`` forecasts of the held-back windows, with naive's for scale."""
    if not prep.n_val:
        return {"val_mae": None, "val_naive_mae": None}
    following = prep.following[prep.n_train + prep.gap :]
    last = model_inputs.closes(prep.held_back)[:, -1]
    return {
        "val_mae": float(np.mean(np.abs(predicted - following))),
        "val_naive_mae": float(np.mean(np.abs(last - following))),
    }


def checked_windows(prep: Prepared) -> np.ndarray:
    """The windows whose one-step forecasts check a fit (divergence, validation MAE): the held-back ones, else the last 64 training windows."""
    return prep.held_back if prep.n_val else prep.windows[: prep.n_train][-64:]


def fit_metrics(
    prep: Prepared, model_inputs: inputs_lib.ModelInputs, metrics: dict[str, Any], predicted: np.ndarray
) -> dict[str, Any]:
    """A fitted series' ``metrics_``: the training ``metrics``, its window counts and ``validation_errors`` of ``predicted``."""
    errors = validation_errors(prep, model_inputs, predicted)
    return {**metrics, "n_train_windows": int(prep.n_train), "n_val_windows": int(prep.n_val), **errors}


def planned_holdout(count: int, steps: int, fraction: float) -> int | None:
    """Trailing prices a fit on ``count`` windows holds back from its params (``prepare``'s split), None if no window."""
    if count < 1:
        return None
    _, n_val = windows.chronological_split(count, fraction, gap=steps - 1)
    return n_val + steps - 1 if n_val else 0


def continuation_data(
    model_inputs: inputs_lib.ModelInputs, state: Any, series: np.ndarray, steps: int
) -> training.TrainData:
    """Training arrays of every window of ``series`` with the fitted ``state`` (no held-back part), for ``update``."""
    raw_windows, closes, future = _windows_and_targets(model_inputs, series, steps)
    xs, ys = encoded(model_inputs, state, raw_windows, closes, future)
    ones = np.ones((xs.shape[0],), np.float32)
    xs_pad, ys_pad, ones_pad = windows.pad_rows((xs, ys, ones), windows.bucket_size(len(xs)))
    return training.TrainData(xs_pad, ys_pad, ones_pad, xs[:0], ys[:0], ones[:0])


def check_candles(
    model_inputs: inputs_lib.ModelInputs, name: str, value: Any, minimum: int, purpose: str, owner: str, head: str
) -> None:
    """The feature-specific checks of a model's candles (before ``Forecaster.check_prices``), so that messages name the feature.

    Args:
        model_inputs: the model's inputs.
        name, value, minimum, purpose: as ``Forecaster.check_prices`` takes them.
        owner: the model's repr, for messages.
        head: what a fit also needs after the window (``", and the head forecasts H steps"``), or "".
    """
    features, columns = model_inputs.features, model_inputs.columns
    if len(columns) > 1 and isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == len(columns):
        feature_lib.check_values(features, columns, value, name)
    longest = feature_lib.longest_warmup(features)
    rows = np.shape(value)[0] if np.ndim(value) else 0
    if longest is not None and rows < minimum:
        raise ValueError(
            f"{name} must have at least {minimum} candles {purpose} with {owner}, got {rows}: feature "
            f"{longest!r} needs {feature_lib.FEATURES[longest].warmup} candles of history before the first of the "
            f"{model_inputs.sequence_length} steps the network reads" + (head if purpose == "to fit" else "")
        )


def check_direct_steps(steps: int, direct_steps: int | None, features: tuple[str, ...], owner: object) -> None:
    """Refuses a forecast of more ``steps`` than a direct head emits (``ValueError`` naming ``owner``, the model)."""
    if direct_steps is not None and steps > direct_steps:
        raise ValueError(
            f"steps must be at most {direct_steps} for {owner!r}: its head forecasts direct_steps="
            f"{direct_steps} steps at once, got steps={steps}; train with a larger direct_steps"
            + (" or direct_steps=None (recursive)" if features == (feature_lib.CLOSE,) else "")
        )


def check_head(features: tuple[str, ...], direct_steps: int | None) -> None:
    """Refuses features beyond the close without a direct head (``ValueError``)."""
    if direct_steps is None and features != (feature_lib.CLOSE,):
        raise ValueError(
            f"features {features} need direct_steps=H (a head that forecasts H steps at once): a recursive "
            "forecast feeds each predicted close back as the next input, and the other features have no "
            "predicted value to feed back"
        )

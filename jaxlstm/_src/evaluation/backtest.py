"""Walk-forward backtests: how good are the forecasts, and do their intervals hold?

``backtest`` refits every forecaster at every origin ``t`` on ``series[t - train_size : t]``
only, forecasts ``horizon`` steps with a prediction interval, and scores the forecast
against ``series[t : t + horizon]``. The naive forecast is always included, so every
model's MAE can be read relative to it.

LSTMs are the expensive part. Every origin trains on the same number of prices, so the
shapes of all origins' training arrays match and ``train.train_arrays`` can be vmapped
over origins (and over seeds, for ``LSTMEnsemble``): one compiled call trains all the
models. It gives the same forecasts as refitting one by one (to float rounding). A
vmapped ``while_loop`` runs until the last model stops early, so on a CPU, where a
vmapped model-epoch costs about as much as a lone one, it is usually slower than the
loop; ``vectorize=None`` therefore uses it on accelerators only.

Experimental forecasters for comparing designs in backtests (``benchmarks/accuracy.py``):
``LSTMEnsemble`` (averaged seeds), ``DirectLSTMForecaster`` (one output per horizon step
instead of feeding predictions back), ``NaiveBlend`` (shrink any model towards the naive
forecast by a weight fitted out of sample, optionally only when its gain is significant)
and ``DriftGate`` (fit on detrended prices, keep the trend only when significant).
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import training as train_lib
from jaxlstm._src import validation
from jaxlstm._src.evaluation import metrics
from jaxlstm._src.forecasters import intervals
from jaxlstm._src.forecasters.base import BaseForecaster, check_calibration, envelope
from jaxlstm._src.forecasters.baselines import DriftForecaster, HybridForecaster, NaiveForecaster
from jaxlstm._src.forecasters.lstm import LSTMForecaster, _Settings
from jaxlstm._src.nn import lstm as model_lib
from jaxlstm._src.prep import encodings as targets
from jaxlstm._src.xla_options import COMPILER_OPTIONS

Factory = Callable[[], BaseForecaster]

#: Model names ``make_forecasters`` knows.
MODEL_NAMES: tuple[str, ...] = ("lstm", "hybrid", "naive", "drift")

#: Per-origin metrics of a backtest, in table order.
METRICS: tuple[str, ...] = (
    "mae",
    "rmse",
    "mape",
    "smape",
    "mase",
    "directional_accuracy",
    "coverage",
    "mean_width",
)

#: The reference model every backtest includes.
REFERENCE = "naive"


# ---------------------------------------------------------------------------- model names


def make_forecasters(names: Sequence[str], **lstm_kwargs: Any) -> dict[str, Factory]:
    """Factories for the named models, ready for ``backtest``.

    Args:
        names: model names from ``MODEL_NAMES`` ("lstm", "hybrid", "naive", "drift").
        **lstm_kwargs: ``LSTMForecaster`` arguments for "lstm" (checked here).

    Returns:
        ``{name: zero-argument factory}`` in the order given.

    Raises:
        ValueError: an unknown or repeated name, or no names.
    """
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError(f"names must list at least one model out of {MODEL_NAMES}")
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"names has unknown model(s) {unknown}; valid names are {list(MODEL_NAMES)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"names lists {repeated} more than once")
    factories: dict[str, Factory] = {}
    for name in names:
        if name == "lstm":
            LSTMForecaster(**lstm_kwargs)  # fail now on a bad argument, not at the first origin
            factories[name] = functools.partial(LSTMForecaster, **lstm_kwargs)
        else:
            factories[name] = {"hybrid": HybridForecaster, "naive": NaiveForecaster, "drift": DriftForecaster}[name]
    return factories


def with_intervals(factory: Factory, *, interval_method: str | None = None, calibration: str | None = None) -> Factory:
    """A factory whose forecasters use the given interval settings (None: leave as built).

    Args:
        factory: a class or zero-argument factory returning a forecaster.
        interval_method: ``"conformal"`` or ``"volatility"``.
        calibration: ``"auto"`` or ``"refit"`` (see ``BaseForecaster.calibration``).

    Returns:
        A zero-argument factory, e.g. ``with_intervals(LSTMForecaster, calibration="refit")``.
    """
    if interval_method is not None:
        intervals.check_interval_method(interval_method)
    if calibration is not None:
        check_calibration(calibration)
    if not callable(factory):
        raise TypeError(f"factory must be a class or zero-argument factory, got {factory!r}")

    def make() -> BaseForecaster:
        model = factory()
        if interval_method is not None:
            model.interval_method = interval_method
        if calibration is not None:
            model.calibration = calibration
        return model

    return make


# ---------------------------------------------------------------------------- experimental LSTMs


class LSTMEnsemble(BaseForecaster):
    """Averages the forecasts of ``n_seeds`` ``LSTMForecaster``s that differ only in their seed.

    Member ``i`` uses ``seed + i``. Averaging removes the part of each member's forecast
    that comes from its initialisation and shuffling, not what all members learned alike.

    Args:
        n_seeds: number of members, >= 1.
        **lstm_kwargs: ``LSTMForecaster`` arguments shared by every member.
    """

    name = "lstm_ensemble"

    def __init__(self, n_seeds: int = 5, **lstm_kwargs: Any) -> None:
        super().__init__()
        self.n_seeds = validation.check_positive_int("n_seeds", n_seeds)
        first = LSTMForecaster(**lstm_kwargs)
        seed = first.get_params()["seed"]
        self.members = [first] + [LSTMForecaster(**{**lstm_kwargs, "seed": seed + i}) for i in range(1, n_seeds)]
        self.symbol = first.symbol
        self._lstm_kwargs = dict(lstm_kwargs)
        self._min_fit_length = first._min_fit_length
        self._min_window_length = first.sequence_length

    def __repr__(self) -> str:
        args = ", ".join([f"n_seeds={self.n_seeds}"] + [f"{k}={v!r}" for k, v in self._lstm_kwargs.items()])
        return f"LSTMEnsemble({args})"

    @property
    def sequence_length(self) -> int:
        return self.members[0].sequence_length

    def _fit_params(self, prices: np.ndarray) -> None:
        for member in self.members:
            member.fit(prices)

    def _forecast_window(self) -> np.ndarray:
        return self.prices_[-self.sequence_length :]

    def _holdout_size(self) -> int | None:
        # Members share data and settings, so they share the validation split.
        return self.members[0]._holdout_size()

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        window = window[..., -self.sequence_length :]
        return np.mean(np.stack([m._predict(window, steps) for m in self.members]), axis=0)


class DirectLSTMForecaster(BaseForecaster):
    """An LSTM whose head predicts all ``steps`` future log returns at once.

    The recursive ``LSTMForecaster`` feeds each prediction back as an input, so its errors
    compound and its training (one step ahead) never sees a multi-step loss. Here the
    head has ``steps`` outputs: output ``k`` is ``log(p[T + k] / p[T]) / sigma`` for the
    window ending at ``T``, with ``sigma`` the training data's one-step log-return
    standard deviation (the "relative" encoding of ``targets``).

    With early stopping the last ``validation_fraction`` of windows is held back and the
    ``steps - 1`` windows before it are dropped, so that no held-back price is a training
    target; the held-back prices are also what the conformal intervals are scored on.

    Args:
        steps: forecast steps the head predicts, >= 1; ``predict_multi_step`` gives at
            most this many.
        hidden_size, sequence_length, learning_rate, epochs, batch_size, num_layers, seed,
        patience, validation_fraction, early_stopping: as for ``LSTMForecaster``.
    """

    name = "lstm_direct"

    def __init__(
        self,
        steps: int = 24,
        hidden_size: int = 32,
        sequence_length: int = 20,
        learning_rate: float = 1e-3,
        epochs: int = 100,
        batch_size: int = 32,
        early_stopping: bool = True,
        num_layers: int = 1,
        seed: int = 0,
        *,
        patience: int = 10,
        validation_fraction: float = 0.1,
    ) -> None:
        super().__init__()
        self.steps = validation.check_positive_int("steps", steps)
        # The recursive model's settings, validated the same way; the encoding is fixed.
        settings = _Settings(
            hidden_size=hidden_size,
            sequence_length=sequence_length,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            early_stopping=early_stopping,
            num_layers=num_layers,
            seed=seed,
            patience=patience,
            validation_fraction=validation_fraction,
            target="relative",
        )
        self.sequence_length = settings.sequence_length
        self.model_config = model_lib.LSTMConfig(
            input_size=1, hidden_size=hidden_size, output_size=self.steps, num_layers=num_layers
        )
        self.train_config = settings.train_config()
        self.early_stopping = early_stopping
        self.seed = seed
        self.validation_fraction = validation_fraction
        self._min_fit_length = self.sequence_length + self.steps
        self._min_window_length = self.sequence_length
        self.params_: model_lib.Params | None = None
        self.encoding_: dict[str, float] | None = None
        self.holdout_: int = 0

    def __repr__(self) -> str:
        return f"DirectLSTMForecaster(steps={self.steps}, sequence_length={self.sequence_length})"

    def _fit_params(self, prices: np.ndarray) -> None:
        seq, steps = self.sequence_length, self.steps
        n_windows = prices.shape[0] - seq - steps + 1
        windows = np.lib.stride_tricks.sliding_window_view(prices[: n_windows + seq - 1], seq)
        future = np.lib.stride_tricks.sliding_window_view(prices[seq:], steps)[:n_windows]
        n_val = int(n_windows * self.validation_fraction) if self.early_stopping else 0
        n_train = n_windows - n_val - (steps - 1 if n_val else 0)
        if n_val < 1 or n_train < 1:
            n_val, n_train = 0, n_windows
        # Trained targets end at index n_train + seq + steps - 2; the encoding sees no later price.
        encoding = targets.fit_encoding("relative", prices[: n_train + seq + steps - 1])
        std = encoding["log_return_std"]
        xs = np.log(windows / windows[:, -1:])[..., None] / std
        ys = np.log(future / windows[:, -1:]) / std
        xs, ys = jnp.asarray(xs, jnp.float32), jnp.asarray(ys, jnp.float32)
        key_init, key_train = jax.random.split(jax.random.key(self.seed))
        params = model_lib.init_params(key_init, self.model_config)
        validation_data = (xs[n_windows - n_val :], ys[n_windows - n_val :]) if n_val else None
        result = train_lib.train(
            key_train, params, xs[:n_train], ys[:n_train], self.train_config, validation_data=validation_data
        )
        if result.epochs_run == 0:
            raise ValueError("training diverged in the first epoch (non-finite loss); check the data and learning_rate")
        self.params_ = result.params
        self.encoding_ = encoding
        self.holdout_ = n_val + steps - 1 if n_val else 0

    def _check_fitted(self) -> None:
        if self.params_ is None:
            raise RuntimeError("DirectLSTMForecaster is not fitted yet: call fit(data) first")

    def _forecast_window(self) -> np.ndarray:
        return self.prices_[-self.sequence_length :]

    def _holdout_size(self) -> int | None:
        return self.holdout_

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        if steps > self.steps:
            raise ValueError(f"steps must be <= {self.steps} (the steps this model predicts at once), got {steps}")
        window = np.asarray(window, np.float64)[-self.sequence_length :]
        std = self.encoding_["log_return_std"]
        xs = jnp.asarray(np.log(window / window[-1])[:, None] / std, jnp.float32)
        out = np.asarray(_apply_jit(self.params_, xs), np.float64)[:steps]
        return window[-1] * np.exp(out * std)


_apply_jit = jax.jit(model_lib.apply)


class DriftGate(BaseForecaster):
    """A scale-free model fitted on detrended prices, with the trend added back only when it is significant.

    A model of log returns fitted on a rising stretch learns its mean return and keeps
    extrapolating it, which on prices with no persistent drift is the drift forecaster's
    loss. Here the model never sees the mean: it is fitted on
    ``prices * exp(-mu * t)``, with ``mu`` the mean one-step log return of the fitted
    data, and its forecasts get ``exp(drift * k)`` at step ``k`` back, where ``drift`` is
    ``mu`` when its t-statistic ``mu / (sd / sqrt(n - 1))`` reaches ``min_t`` and 0 otherwise.

    Only for models whose forecasts depend on price ratios within the window (e.g.
    ``LSTMForecaster(target="relative")``): windows are detrended around their last price.

    Args:
        factory: zero-argument factory of the wrapped forecaster.
        min_t: the drift's t-statistic needed to keep it, > 0.
    """

    name = "drift_gate"

    def __init__(self, factory: Factory, min_t: float = 3.0) -> None:
        super().__init__()
        self.factory = factory
        self.model = factory()
        if not isinstance(self.model, BaseForecaster):
            raise TypeError(f"factory() must return a forecaster, got {type(self.model).__name__}")
        self.min_t = validation.check_positive_float("min_t", min_t)
        self._min_fit_length = max(3, self.model._min_fit_length)
        self._min_window_length = self.model._min_window_length
        self.symbol = getattr(self.model, "symbol", None)
        self.mean_return_: float | None = None
        self.drift_: float | None = None

    def __repr__(self) -> str:
        return f"DriftGate({self.model!r}, min_t={self.min_t:g})"

    def _fit_params(self, prices: np.ndarray) -> None:
        returns = np.diff(np.log(prices))
        mu = float(np.mean(returns))
        sd = float(np.std(returns, ddof=1))
        t_stat = mu / (sd / np.sqrt(returns.shape[0])) if sd > 0 else 0.0
        self.mean_return_ = mu
        self.drift_ = mu if abs(t_stat) >= self.min_t else 0.0
        self.model.fit(prices * np.exp(-mu * np.arange(prices.shape[0])))

    def _forecast_window(self) -> np.ndarray:
        return self.prices_[-self.model._forecast_window().shape[0] :]

    def _holdout_size(self) -> int | None:
        return self.model._holdout_size()

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        k = np.arange(window.shape[-1]) - (window.shape[-1] - 1)
        flat = np.asarray(self.model._predict(window * np.exp(-self.mean_return_ * k), steps), np.float64)
        # The model forecasts the detrended path from the last price; the kept drift is added back.
        return flat * np.exp(self.drift_ * np.arange(1, steps + 1))


class NaiveBlend(BaseForecaster):
    """A model's forecast shrunk towards the naive one by a weight fitted out of sample.

    The forecast is ``last * (model / last) ** w`` (``w * log model + (1 - w) * log last``
    in log prices). ``w`` in [0, 1] minimises the squared log error of that blend over the
    model's own out-of-sample multi-step forecasts for ``steps`` steps:
    ``w = clip(sum(y * d) / sum(d * d), 0, 1)`` with ``d = log(model / last)`` and
    ``y = log(actual / last)``. On prices a model cannot predict, ``w`` goes to 0 and the
    blend to the naive forecast; where it has real skill, ``w`` stays near 1.

    The out-of-sample forecasts are those of the wrapped model's calibration (see
    ``BaseForecaster._calibration_source``): its head refit when its ``calibration`` is
    ``"refit"`` or ``"both"`` (the longer stretch), else its held-back tail. The blend
    takes the wrapped model's ``calibration`` and scores its own intervals on the same
    sources, blended with the same weight (one parameter over many residuals, so the
    optimism is slight).

    With ``min_t``, the blend must also prove itself: on origins ``steps`` apart (so that
    their errors barely overlap) the per-origin MAE of the blend minus that of the naive
    forecast, both in log prices, must be negative with a t-statistic of at least
    ``min_t`` in size; otherwise ``w`` is 0 and the forecast is the naive one.

    Args:
        factory: zero-argument factory of the model to blend, e.g.
            ``with_intervals(partial(LSTMForecaster, target="relative"), calibration="both")``.
        steps: forecast steps the weight is fitted for, >= 1.
        min_t: the significance the improvement over naive needs, > 0; None: no test.
    """

    name = "naive_blend"

    def __init__(self, factory: Factory, steps: int = 24, min_t: float | None = None) -> None:
        super().__init__()
        self.factory = factory
        self.model = factory()
        if not isinstance(self.model, BaseForecaster):
            raise TypeError(f"factory() must return a forecaster, got {type(self.model).__name__}")
        self.steps = validation.check_positive_int("steps", steps)
        self.min_t = None if min_t is None else validation.check_positive_float("min_t", min_t)
        self.calibration = self.model.calibration
        self.interval_method = self.model.interval_method
        self._min_fit_length = self.model._min_fit_length
        self._min_window_length = self.model._min_window_length
        self.symbol = getattr(self.model, "symbol", None)
        self.weight_: float | None = None
        self.t_stat_: float | None = None
        self._blend_sources: dict[str, tuple[BaseForecaster, int] | None] = {}

    def __repr__(self) -> str:
        return f"NaiveBlend({self.model!r}, steps={self.steps}, min_t={self.min_t})"

    def _fit_params(self, prices: np.ndarray) -> None:
        model = self.model
        model.fit(prices)
        fit_source = "refit" if check_calibration(model.calibration) in ("refit", "both") else "auto"
        names = dict.fromkeys([fit_source, *model._calibration_sources()])
        sources = {name: model._calibration_source(prices, name) for name in names}
        self.weight_ = 1.0
        self.t_stat_ = None
        if sources[fit_source] is not None:
            self._fit_weight(prices, *sources[fit_source])
        self._blend_sources = {}
        for name, found in sources.items():
            if found is None:
                self._blend_sources[name] = None
                continue
            # The same scorer, blended with the same weight, gives the blend's calibration residuals.
            shell = copy.copy(self)
            shell.model = found[0]
            shell._reset_calibration(None)
            self._blend_sources[name] = (shell, found[1])

    def _fit_weight(self, prices: np.ndarray, scorer: BaseForecaster, start: int) -> None:
        """Sets ``weight_`` (and ``t_stat_``) from ``scorer``'s forecasts at origins ``start..n-1``."""
        n = prices.shape[0]
        origins = np.arange(max(int(start), self.model._min_window_length), n)
        if origins.size == 0:
            return
        length = self.model._forecast_window().shape[0]
        predicted = np.asarray(scorer._predict_many([prices[max(0, s - length) : s] for s in origins], self.steps))
        last = np.broadcast_to(prices[origins - 1][:, None], predicted.shape)
        index = origins[:, None] + np.arange(self.steps)[None, :]
        actual = np.where(index < n, prices[np.minimum(index, n - 1)], np.nan)
        d = intervals.log_ratio_residuals(predicted, last)
        y = intervals.log_ratio_residuals(actual, last)
        ok = np.isfinite(d) & np.isfinite(y)
        denominator = float(np.sum(d[ok] ** 2))
        if denominator > 0:
            self.weight_ = float(np.clip(np.sum(y[ok] * d[ok]) / denominator, 0.0, 1.0))
        if self.min_t is None:
            return
        # Every steps-th origin counted back from the last full one: nearly independent errors.
        rows = np.arange(origins.size - self.steps, -1, -self.steps)
        rows = rows[ok[rows].all(axis=1)] if rows.size else rows
        gain = np.mean(np.abs(y[rows] - self.weight_ * d[rows]), axis=1) - np.mean(np.abs(y[rows]), axis=1)
        spread = float(np.std(gain, ddof=1)) if rows.size > 2 else 0.0
        self.t_stat_ = float(np.mean(gain) / (spread / np.sqrt(rows.size))) if spread > 0 else 0.0
        if not self.t_stat_ <= -self.min_t:
            self.weight_ = 0.0

    def _calibration_source(self, prices: np.ndarray, source: str) -> tuple[BaseForecaster, int] | None:
        if source in self._blend_sources:
            return self._blend_sources[source]
        return super()._calibration_source(prices, source)

    def _forecast_window(self) -> np.ndarray:
        return self.prices_[-self.model._forecast_window().shape[0] :]

    def _holdout_size(self) -> int | None:
        return self.model._holdout_size()

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        predicted = np.asarray(self.model._predict(window, steps), np.float64)
        return window[-1] * (predicted / window[-1]) ** self.weight_


# ---------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True, eq=False)
class ModelResult:
    """One model's backtest.

    Attributes:
        name: the model's name in the backtest.
        predicted, lower, upper: ``[origins, horizon]`` forecasts and interval bounds.
        interval_methods: ``[origins]`` the interval method each forecast used
            (see ``BaseForecaster.interval_offsets``).
        per_origin: metric name -> ``[origins]`` score of each forecast (``METRICS``).
        metrics: aggregate scores: each metric's mean over origins, plus ``relative_mae``
            (mean MAE over the naive forecast's mean MAE) and the standard errors
            ``relative_mae_se`` and ``coverage_se`` (origins taken as independent).
        coverage_by_step: ``[horizon]`` share of origins whose interval held the price at each step.
        mae_by_step: ``[horizon]`` mean absolute error at each step.
        seconds: wall time of fitting and forecasting at every origin.
        vectorized: whether the origins were trained together in one vmapped call.
    """

    name: str
    predicted: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    interval_methods: tuple[str, ...]
    per_origin: dict[str, np.ndarray]
    metrics: dict[str, float]
    coverage_by_step: np.ndarray
    mae_by_step: np.ndarray
    seconds: float
    vectorized: bool

    def interval_summary(self) -> str:
        """The interval methods used, most common first: ``"conformal"`` or ``"conformal 40, volatility 10"``."""
        counts = collections.Counter(self.interval_methods).most_common()
        if len(counts) == 1:
            return counts[0][0]
        return ", ".join(f"{method} {count}" for method, count in counts)

    def to_dict(self, *, per_origin: bool = False) -> dict[str, Any]:
        """JSON-ready summary; ``per_origin=True`` adds the per-origin scores and forecasts."""
        out: dict[str, Any] = {
            "metrics": {k: _json_float(v) for k, v in self.metrics.items()},
            "coverage_by_step": [_json_float(v) for v in self.coverage_by_step],
            "mae_by_step": [_json_float(v) for v in self.mae_by_step],
            "interval_methods": dict(collections.Counter(self.interval_methods)),
            "seconds": round(self.seconds, 3),
            "vectorized": self.vectorized,
        }
        if per_origin:
            out["per_origin"] = {k: [_json_float(x) for x in v] for k, v in self.per_origin.items()}
            out["predicted"] = self.predicted.tolist()
            out["lower"] = self.lower.tolist()
            out["upper"] = self.upper.tolist()
        return out


_COLUMNS = (
    ("relative_mae", "rel. MAE"),
    ("mae", "MAE"),
    ("rmse", "RMSE"),
    ("mape", "MAPE %"),
    ("smape", "sMAPE %"),
    ("mase", "MASE"),
    ("directional_accuracy", "dir. acc."),
    ("coverage", "coverage"),
    ("mean_width", "width"),
)


@dataclasses.dataclass(frozen=True, eq=False)
class BacktestResult:
    """The outcome of ``backtest``.

    Attributes:
        origins: ``[origins]`` index of the first forecast price of each origin.
        timestamps: ``[origins]`` ``datetime64[ns]`` of those prices, or None without timestamps.
        train_size: prices each model was fitted on.
        horizon: forecast steps.
        confidence: nominal interval coverage.
        actual: ``[origins, horizon]`` the prices forecast.
        models: model name -> ``ModelResult``, the naive reference first.
    """

    origins: np.ndarray
    timestamps: np.ndarray | None
    train_size: int
    horizon: int
    confidence: float
    actual: np.ndarray
    models: dict[str, ModelResult]

    def __getitem__(self, name: str) -> ModelResult:
        return self.models[name]

    def to_dict(self, *, per_origin: bool = False) -> dict[str, Any]:
        """JSON-ready dict of the settings and each model's ``ModelResult.to_dict``."""
        out: dict[str, Any] = {
            "train_size": self.train_size,
            "horizon": self.horizon,
            "confidence": self.confidence,
            "n_origins": int(self.origins.shape[0]),
            "origins": [int(t) for t in self.origins],
            "models": {name: r.to_dict(per_origin=per_origin) for name, r in self.models.items()},
        }
        if self.timestamps is not None:
            out["origin_timestamps"] = [np.datetime_as_string(t, unit="s") + "Z" for t in self.timestamps]
        if per_origin:
            out["actual"] = self.actual.tolist()
        return out

    def to_markdown(self, *, per_step: bool = True, digits: int = 4) -> str:
        """The aggregate table (one row per model), then coverage and MAE per horizon step.

        Args:
            per_step: add the per-step coverage and relative-MAE table.
            digits: significant digits of each number.

        Returns:
            GitHub-flavoured markdown.
        """
        head = (
            f"{len(self.origins)} origins, train_size={self.train_size}, horizon={self.horizon}, "
            f"nominal coverage {self.confidence:g}"
        )
        header = ["model"] + [label for _, label in _COLUMNS] + ["interval"]
        rows = [
            [name] + [_fmt(r.metrics[key], digits) for key, _ in _COLUMNS] + [r.interval_summary()]
            for name, r in self.models.items()
        ]
        lines = [head, "", _markdown_table(header, rows)]
        if per_step:
            naive = self.models[REFERENCE].mae_by_step
            names = list(self.models)
            header = ["step"] + [f"{n} coverage" for n in names] + [f"{n} rel. MAE" for n in names if n != REFERENCE]
            rows = []
            for i in range(self.horizon):
                rows.append(
                    [str(i + 1)]
                    + [_fmt(self.models[n].coverage_by_step[i], 3) for n in names]
                    + [_fmt(_ratio(self.models[n].mae_by_step[i], naive[i]), 3) for n in names if n != REFERENCE]
                )
            lines += ["", "Per horizon step:", "", _markdown_table(header, rows)]
        return "\n".join(lines) + "\n"


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


def _json_float(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _fmt(value: float, digits: int) -> str:
    value = float(value)
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- backtest


def backtest(
    series: Any,
    forecasters: Mapping[str, Factory] | Sequence[str],
    *,
    train_size: int,
    horizon: int,
    origins: Sequence[int] | None = None,
    stride: int | None = None,
    confidence: float = 0.95,
    interval_method: str | None = "conformal",
    calibration: str | None = None,
    vectorize: bool | None = None,
) -> BacktestResult:
    """Walk-forward (rolling-origin) evaluation with a refit at every origin.

    At each origin ``t`` every model is built fresh by its factory, fitted on
    ``series[t - train_size : t]`` only (encoding, parameters and interval calibration
    all come from that slice), and asked for ``forecast(steps=horizon)``; the forecast is
    scored against ``series[t : t + horizon]``.

    Args:
        series: ``[time]`` prices in any form ``market_data.as_price_series`` accepts.
        forecasters: model name -> zero-argument factory (a class or ``functools.partial``)
            returning an unfitted forecaster, or a list of names for ``make_forecasters``.
            A ``"naive"`` model is added first when missing: it is the reference of ``relative_mae``.
        train_size: prices each fit sees, >= 2 and at least what every model needs.
        horizon: forecast steps, >= 1.
        origins: indices of the first forecast price, each in
            ``[train_size, len(series) - horizon]``, strictly increasing; exclusive with ``stride``.
        stride: steps between consecutive default origins (default ``horizon``); the
            default origins run from ``train_size`` to ``len(series) - horizon``.
        confidence: nominal interval coverage, in (0, 1).
        interval_method: ``"conformal"`` (default) or ``"volatility"`` for every model;
            None keeps each model's own ``interval_method``.
        calibration: ``"auto"`` or ``"refit"`` (see ``BaseForecaster.calibration``) for every
            model; None keeps each model's own.
        vectorize: train all origins of an ``LSTMForecaster`` or ``LSTMEnsemble`` in one
            vmapped call (same forecasts to float rounding); None does so on GPU/TPU only.

    Returns:
        A ``BacktestResult`` with ``[origins, horizon]`` forecasts and scores per model.

    Raises:
        ValueError: a bad ``train_size``, ``horizon``, ``origins``, ``stride``, ``confidence``
            or model name, or a model that fails at some origin (named in the message).
    """
    from jaxlstm._src.io import ohlcv as market_data

    prices, stamps = market_data.as_price_series(series, name="series")
    n = prices.shape[0]
    train_size = validation.check_positive_int("train_size", train_size, minimum=2)
    horizon = validation.check_positive_int("horizon", horizon)
    confidence = validation.check_fraction("confidence", confidence)
    if interval_method is not None:
        intervals.check_interval_method(interval_method)
    if calibration is not None:
        check_calibration(calibration)
    if vectorize is None:
        vectorize = jax.default_backend() != "cpu"
    elif not isinstance(vectorize, bool):
        raise TypeError(f"vectorize must be a bool or None, got {type(vectorize).__name__}")
    factories = _check_forecasters(forecasters)
    for name, factory in factories.items():
        probe = _build(name, factory)
        if train_size < probe._min_fit_length:
            raise ValueError(
                f"train_size must be at least {probe._min_fit_length} for model {name!r} ({probe!r}), got {train_size}"
            )
    origins = _check_origins(origins, stride, n, train_size, horizon)
    index = origins[:, None] + np.arange(horizon)[None, :]
    actual = prices[index]
    train = np.stack([prices[t - train_size : t] for t in origins])

    results: dict[str, ModelResult] = {}
    raw: dict[str, tuple] = {}
    for name, factory in factories.items():
        start = time.perf_counter()
        probe = _build(name, factory)
        spec = _lstm_spec(probe) if vectorize else None
        if spec is not None:
            out = _run_lstm_vectorized(name, spec, probe, train, horizon, confidence, interval_method, calibration)
        else:
            out = _run_one_by_one(name, factory, train, origins, horizon, confidence, interval_method, calibration)
        raw[name] = (*out, time.perf_counter() - start, spec is not None)
    naive_mae = None
    for name in factories:
        predicted, lower, upper, methods, seconds, vectorized = raw[name]
        per_origin, by_step = _score(actual, predicted, lower, upper, prices[origins - 1], train)
        if naive_mae is None:
            naive_mae = per_origin["mae"]
        aggregate = _aggregate(per_origin, naive_mae)
        results[name] = ModelResult(
            name=name,
            predicted=predicted,
            lower=lower,
            upper=upper,
            interval_methods=tuple(methods),
            per_origin=per_origin,
            metrics=aggregate,
            coverage_by_step=by_step["coverage"],
            mae_by_step=by_step["mae"],
            seconds=seconds,
            vectorized=vectorized,
        )
    return BacktestResult(
        origins=origins,
        timestamps=None if stamps is None else stamps[origins],
        train_size=train_size,
        horizon=horizon,
        confidence=confidence,
        actual=actual,
        models=results,
    )


def _check_forecasters(forecasters: Any) -> dict[str, Factory]:
    if isinstance(forecasters, str) or (
        isinstance(forecasters, Sequence) and all(isinstance(f, str) for f in forecasters)
    ):
        forecasters = make_forecasters(forecasters)
    if not isinstance(forecasters, Mapping):
        raise TypeError(
            f"forecasters must map names to factories or list model names, got {type(forecasters).__name__}"
        )
    factories: dict[str, Factory] = {}
    if REFERENCE not in forecasters:
        factories[REFERENCE] = NaiveForecaster
    for name, factory in forecasters.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"forecasters keys must be non-empty model names, got {name!r}")
        if not callable(factory):
            raise TypeError(f"forecasters[{name!r}] must be a class or zero-argument factory, got {factory!r}")
        factories[name] = factory
    if REFERENCE in forecasters:
        factories = {REFERENCE: factories.pop(REFERENCE), **factories}
    return factories


def _build(name: str, factory: Factory) -> BaseForecaster:
    model = factory()
    if not isinstance(model, BaseForecaster):
        raise TypeError(f"forecasters[{name!r}]() must return a forecaster, got {type(model).__name__}")
    return model


def _check_origins(
    origins: Sequence[int] | None, stride: int | None, n: int, train_size: int, horizon: int
) -> np.ndarray:
    last = n - horizon
    if origins is not None:
        if stride is not None:
            raise ValueError("origins and stride are exclusive: give the origins, or a stride between default origins")
        values = np.asarray(origins)
        if values.ndim != 1 or values.shape[0] == 0 or values.dtype.kind not in "iu":
            raise ValueError(f"origins must be a non-empty 1-D sequence of integers, got {origins!r:.80}")
        bad = values[(values < train_size) | (values > last)]
        if bad.size:
            raise ValueError(
                f"origins must lie in [train_size, len(series) - horizon] = [{train_size}, {last}] so that each "
                f"has train_size prices before it and horizon prices after it, got {int(bad[0])}"
            )
        if np.any(np.diff(values) <= 0):
            raise ValueError("origins must be strictly increasing")
        return values.astype(np.int64)
    stride = horizon if stride is None else validation.check_positive_int("stride", stride)
    if last < train_size:
        raise ValueError(
            f"series has {n} prices, too few for train_size={train_size} plus horizon={horizon} "
            f"(needs at least {train_size + horizon})"
        )
    return np.arange(train_size, last + 1, stride, dtype=np.int64)


def _run_one_by_one(
    name: str,
    factory: Factory,
    train: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    confidence: float,
    interval_method: str | None,
    calibration: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Fits a fresh model on each ``[train_size]`` row of ``train`` and forecasts ``horizon`` steps."""
    shape = (train.shape[0], horizon)
    predicted, lower, upper = np.empty(shape), np.empty(shape), np.empty(shape)
    methods: list[str] = []
    for i, prices in enumerate(train):
        try:
            model = _build(name, factory)
            if calibration is not None:
                model.calibration = calibration
            model.fit(prices)
            forecast = model.forecast(steps=horizon, confidence=confidence, interval_method=interval_method)
            method = model.interval_offsets(horizon, confidence, interval_method)[2]
        except (ValueError, RuntimeError, FloatingPointError) as err:
            raise ValueError(f"model {name!r} failed at origin {int(origins[i])}: {err}") from err
        predicted[i], lower[i], upper[i] = forecast.predicted, forecast.lower, forecast.upper
        methods.append(method)
    return predicted, lower, upper, methods


def _standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of ``[origins]`` values (NaN for fewer than 2)."""
    values = np.asarray(values, np.float64)
    if values.shape[0] < 2 or not np.all(np.isfinite(values)):
        return float("nan")
    return float(np.std(values, ddof=1) / np.sqrt(values.shape[0]))


def _aggregate(per_origin: dict[str, np.ndarray], naive_mae: np.ndarray) -> dict[str, float]:
    """Means over origins, ``relative_mae`` and the standard errors of it and of coverage.

    The standard errors treat origins as independent, which holds roughly when they are at
    least ``horizon`` apart; ``relative_mae_se`` is the delta-method error of the ratio of means.
    """
    aggregate = {k: float(np.mean(v)) for k, v in per_origin.items()}
    reference = float(np.mean(naive_mae))
    ratio = _ratio(aggregate["mae"], reference)
    if reference > 0:
        influence = (per_origin["mae"] - ratio * naive_mae) / reference
    else:
        influence = np.full_like(naive_mae, np.nan)
    return {
        "relative_mae": ratio,
        "relative_mae_se": _standard_error(influence),
        **aggregate,
        "coverage_se": _standard_error(per_origin["coverage"]),
    }


def _score(
    actual: np.ndarray,
    predicted: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    last: np.ndarray,
    train: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-origin metrics ``{metric: [origins]}`` and per-step ``{"coverage", "mae": [horizon]}``."""
    # float64 so that hand-checkable inputs give exact scores and a price on a bound counts as inside.
    with jax.enable_x64(True):
        per_origin = {
            "mae": metrics.mae(actual, predicted),
            "rmse": metrics.rmse(actual, predicted),
            "mape": metrics.mape(actual, predicted),
            "smape": metrics.smape(actual, predicted),
            "mase": metrics.mase(actual, predicted, train),
            "directional_accuracy": metrics.directional_accuracy(actual, predicted, last),
            "coverage": metrics.interval_coverage(actual, lower, upper),
            "mean_width": metrics.mean_interval_width(lower, upper),
        }
        per_origin = {k: np.asarray(v, np.float64) for k, v in per_origin.items()}
    inside = (lower <= actual) & (actual <= upper)
    by_step = {"coverage": inside.mean(axis=0), "mae": np.abs(actual - predicted).mean(axis=0)}
    return per_origin, by_step


# ---------------------------------------------------------------------------- vectorised LSTM path


@dataclasses.dataclass(frozen=True)
class _LSTMSpec:
    template: LSTMForecaster
    seeds: tuple[int, ...]


def _lstm_spec(model: BaseForecaster) -> _LSTMSpec | None:
    """What the vectorised path needs to reproduce ``model.fit``, or None for other models."""
    if type(model) is LSTMForecaster:
        return _LSTMSpec(model, (model.get_params()["seed"],))
    if type(model) is LSTMEnsemble:
        return _LSTMSpec(model.members[0], tuple(m.get_params()["seed"] for m in model.members))
    return None


@functools.partial(jax.jit, static_argnames="cfg", compiler_options=COMPILER_OPTIONS)
def _train_many(keys, params, xs, ys, weights, xs_val, ys_val, weights_val, cfg):
    """``train_arrays`` vmapped over seeds (keys, params ``[S, ...]``) inside origins (data ``[O, ...]``)."""

    def one(key, p, x, y, w, xv, yv, wv):
        return train_lib.train_arrays(key, p, x, y, w, xv, yv, wv, cfg)

    per_seed = jax.vmap(one, in_axes=(0, 0, None, None, None, None, None, None))
    return jax.vmap(per_seed, in_axes=(None, None, 0, 0, 0, 0, 0, 0))(
        keys, params, xs, ys, weights, xs_val, ys_val, weights_val
    )


@functools.partial(jax.jit, static_argnames=("target", "steps"), compiler_options=COMPILER_OPTIONS)
def _forecast_many(params, target: str, state: dict, windows: jax.Array, steps: int) -> jax.Array:
    """Params ``[O, S, ...]``, state ``[O]``, windows ``[O, ..., time]`` -> ``[O, S, ..., steps]`` prices."""

    def per_seed(p, st, w):
        return targets.forecast_prices(p, target, st, w, steps)

    return jax.vmap(jax.vmap(per_seed, in_axes=(0, None, None)))(params, state, windows)


@dataclasses.dataclass(frozen=True)
class _FittedMany:
    params: Any  # pytree with leading [origins, seeds] axes
    state: dict  # encoding constants, each [origins]
    n_val: int  # held-back windows per origin


def _fit_many(name: str, spec: _LSTMSpec, rows: np.ndarray) -> _FittedMany:
    """``LSTMForecaster._fit_params`` on each ``[size]`` row of ``rows`` for every seed, in one call.

    Each row is prepared by the template's own ``_prepare`` (windows, chronological split,
    encoding fitted on the training part only) and every seed starts from the template's
    ``_initial_state``; only the training runs, vmapped over seeds inside origins, differ
    from one ``fit`` per origin and seed.
    """
    template = spec.template
    try:
        preps = [template._prepare(row) for row in rows]
    except ValueError as err:
        raise ValueError(f"model {name!r}: {err}") from None
    n_train, n_val = preps[0].n_train, preps[0].n_val
    xs, ys = jnp.stack([p.xs for p in preps]), jnp.stack([p.ys for p in preps])
    state = {k: jnp.stack([p.device_encoding[k] for p in preps]) for k in preps[0].device_encoding}
    settings = template.get_params()
    starts = [type(template)(**{**settings, "seed": seed})._initial_state() for seed in spec.seeds]
    params = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[p for p, _ in starts])
    keys = jnp.stack([k for _, k in starts])
    ones = jnp.ones(xs.shape[:2], xs.dtype)
    trained, _, _, epochs_run, _, _ = _train_many(
        keys,
        params,
        xs[:, :n_train],
        ys[:, :n_train],
        ones[:, :n_train],
        xs[:, n_train:],
        ys[:, n_train:],
        ones[:, n_train:],
        template.train_config,
    )
    if bool(jnp.any(epochs_run == 0)):
        raise ValueError(f"model {name!r}: training diverged in the first epoch at some origin (non-finite loss)")
    return _FittedMany(trained, state, n_val)


def _run_lstm_vectorized(
    name: str,
    spec: _LSTMSpec,
    probe: BaseForecaster,
    train: np.ndarray,
    horizon: int,
    confidence: float,
    interval_method: str | None,
    calibration: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Same as ``_run_one_by_one`` for an ``LSTMForecaster``/``LSTMEnsemble``, all origins and seeds in one call.

    Mirrors ``BaseForecaster.forecast`` / ``calibration_residuals`` / ``_calibration_source``:
    the held-back tail (or a head refit) gives the calibration origins, and seeds are
    averaged as ``LSTMEnsemble._predict`` does.
    """
    target = spec.template.get_params()["target"]
    seq = spec.template.sequence_length
    size = train.shape[1]
    fitted = _fit_many(name, spec, train)
    last_windows = jnp.asarray(train[:, -seq:], jnp.float32)
    predicted = np.asarray(_forecast_many(fitted.params, target, fitted.state, last_windows, horizon), np.float64)
    predicted = predicted.mean(axis=1)
    if not np.all(np.isfinite(predicted)) or np.any(predicted <= 0):
        raise ValueError(f"model {name!r} gives a non-finite or non-positive forecast at some origin")

    method = interval_method or probe.interval_method or probe._default_interval_method()
    method = intervals.check_interval_method(method)
    mode = check_calibration(calibration or probe.calibration)
    sources: list[tuple[_FittedMany, int]] = []
    if method == "conformal":
        # As BaseForecaster._calibration_sources: "both" is "auto" (the held-back tail) plus "refit".
        if mode in ("auto", "both") and fitted.n_val > 0:
            sources.append((fitted, size - fitted.n_val))
        if mode in ("refit", "both"):
            cut = max(probe._min_fit_length, probe._min_window_length, size // 2, size - probe._max_calibration_origins)
            if size - cut >= 2:
                sources.append((_fit_many(name, spec, train[:, :cut]), cut))
    residual_sets = []
    for model, start in sources:
        cal_origins = np.arange(max(start, probe._min_window_length), size)
        cal_windows = np.stack([train[:, s - seq : s] for s in cal_origins], axis=1)
        cal_windows = jnp.asarray(cal_windows, jnp.float32)
        cal_predicted = np.asarray(_forecast_many(model.params, target, model.state, cal_windows, horizon), np.float64)
        cal_predicted = cal_predicted.mean(axis=1)
        idx = cal_origins[:, None] + np.arange(horizon)[None, :]
        cal_actual = np.where(idx < size, train[:, np.minimum(idx, size - 1)], np.nan)
        residual_sets.append(intervals.log_ratio_residuals(cal_actual, cal_predicted))
    lower, upper, methods = np.empty_like(predicted), np.empty_like(predicted), []
    for i in range(train.shape[0]):
        bands = [intervals.conformal_offsets(residuals[i], confidence) for residuals in residual_sets]
        bands = [b for b in bands if b is not None]
        if bands:
            calibrated = envelope(bands)
        else:
            volatility = intervals.log_return_volatility(train[i])
            calibrated = (*intervals.volatility_offsets(horizon, volatility, confidence), "volatility")
        lower[i], upper[i] = intervals.apply_offsets(predicted[i], calibrated[0], calibrated[1])
        methods.append(calibrated[2])
    return predicted, lower, upper, methods

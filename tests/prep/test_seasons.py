"""Season detection: the ACF against its textbook formula, the calendar table, and the test on known series."""

from __future__ import annotations

import datetime
import statistics

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxlstm._src.prep import seasons


def _acf_reference(x, max_lag):
    """The biased sample ACF written as its definition, one lag at a time."""
    x = np.asarray(x, np.float64) - np.mean(x)
    denominator = np.sum(x * x)
    return np.array([np.sum(x[: x.size - k] * x[k:]) / denominator for k in range(max_lag + 1)])


def test_acf_matches_its_definition():
    rng = np.random.default_rng(0)
    for n, lag in ((2, 1), (17, 16), (300, 40)):
        x = rng.normal(size=n).cumsum()
        np.testing.assert_allclose(seasons.acf(x, lag), _acf_reference(x, lag), atol=1e-12)


def test_acf_of_a_constant_is_one_then_zero():
    np.testing.assert_array_equal(seasons.acf(np.full(10, 3.0), 4), [1.0, 0.0, 0.0, 0.0, 0.0])


def test_acf_refuses_a_lag_past_the_data():
    with pytest.raises(ValueError, match="max_lag must be below the number of values"):
        seasons.acf(np.ones(5), 5)


@settings(max_examples=40, deadline=None)
@example(x=np.array([5e-5, 0, 0, 0, 0, 0, 0, 0]), scale=0.001, shift=64.0)
@example(x=np.array([5e-5, 0, 0, 0, 0, 0, 0, 0]), scale=1000.0, shift=64.0)
@given(
    x=hnp.arrays(np.float64, st.integers(8, 60), elements=st.floats(-1e3, 1e3)),
    scale=st.floats(1e-3, 1e3),
    shift=st.floats(-1e3, 1e3),
)
def test_acf_is_bounded_and_affine_invariant(x, scale, shift):
    r = seasons.acf(x, 5)
    assert r[0] == 1.0 and np.all(np.abs(r) <= 1 + 1e-12)
    y = x * scale + shift
    # Invariance holds to the rounding of the deviations from the mean: a spread tiny beside the
    # values (e.g. 5e-8 on a shift of 64) leaves them only a few significant digits in float64.
    spread = float(np.std(x))
    if spread > 1e-6 * max(1.0, float(np.max(np.abs(x)))) and spread * scale > 1e-6 * float(np.max(np.abs(y))):
        np.testing.assert_allclose(seasons.acf(y, 5), r, atol=1e-7)


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("1h", (24, 168)),
        ("30min", (48, 336)),
        ("4h", (6, 42)),
        ("7h", (24,)),  # a week is 24 steps, a day is not whole
        ("5h", ()),
        ("1d", (7,)),
        ("7d", (52,)),
        (datetime.timedelta(days=31), (12,)),
        (np.timedelta64(28, "D"), (12,)),
        ("91d", (4,)),
        ("365d", ()),
        ("12h", (2, 14)),
    ],
)
def test_calendar_seasons(interval, expected):
    assert seasons.calendar_seasons(interval) == expected


def _monthly_like(seed, n=144):
    """Airline-passengers shape: a growing level with a multiplicative 12-month season and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (100 + 2 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.03, n))


def test_finds_the_season_of_seasonal_series():
    rng = np.random.default_rng(1)
    assert seasons.detect_season(_monthly_like(0)) == 12
    assert seasons.detect_season(_monthly_like(0), interval="30d") == 12
    days = np.arange(400)
    weekly = 50 + 0.05 * days + 3 * (days % 7 >= 5) + rng.normal(0, 1, days.size)
    # The weekly rhythm also peaks at 14, 21, ...: the shortest that divides the strongest is kept.
    assert seasons.detect_season(weekly) == 7
    hours = np.arange(24 * 60)
    hourly = (
        10 + np.sin(2 * np.pi * hours / 24) + 0.5 * np.sin(2 * np.pi * hours / 168) + rng.normal(0, 0.5, hours.size)
    )
    found = seasons.find_season(hourly, interval="1h")
    assert found.length == 24 and found.tested == (24, 168) and found.significant.tolist() == [True, True]


def test_a_strong_harmonic_is_not_the_season():
    # Twice-yearly peaks (summer and winter) with an annual difference between them: the ACF
    # passes at 6 and 12, much stronger at 12; a 6-month season would leave the annual part.
    t = np.arange(240)
    x = 0.01 * t + 0.5 * np.sin(2 * np.pi * t / 12) + np.cos(2 * np.pi * t / 6)
    found = seasons.find_season(x + np.random.default_rng(0).normal(0, 0.3, t.size))
    assert found.significant[found.tested.index(6)] and found.length == 12
    # Nearly as strong (a pure 6-month rhythm peaks at 12 as well): the shorter is kept.
    assert seasons.detect_season(np.cos(2 * np.pi * t / 6) + np.random.default_rng(0).normal(0, 0.3, t.size)) == 6


def test_random_walks_and_noise_have_no_season():
    # Each test is at 5% (the dated one at 10%), split over the lags: a few in 60 could pass by chance.
    found = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        walk = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 1000)))
        found += seasons.detect_season(walk) is not None
        found += seasons.detect_season(walk, interval="1h") is not None
        found += seasons.detect_season(rng.normal(size=500)) is not None
    assert found <= 2


def _garch_walk(n: int, seed: int) -> np.ndarray:
    """Log prices whose returns are uncorrelated but whose volatility clusters (GARCH(1,1), Student-t 4 shocks)."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(4, n) / np.sqrt(2)
    returns, variance, last = np.zeros(n), 1e-4, 0.0
    for t in range(n):
        variance = 2e-6 + 0.2 * last**2 + 0.78 * variance
        last = returns[t] = np.sqrt(variance) * shocks[t]
    return np.cumsum(returns)


def test_clustered_volatility_is_not_a_season():
    # Bartlett's bound assumes independent returns; with clustered volatility it found a
    # "season" in 13 of 40 such walks of 1,000 steps. The robust bound keeps the test's level.
    found = [seasons.detect_season(_garch_walk(1000, seed)) for seed in range(20)]
    assert sum(m is not None for m in found) <= 1, found
    x = np.arange(1000)
    seasonal = _garch_walk(1000, 0) + 0.05 * np.sin(2 * np.pi * x / 24)
    assert seasons.detect_season(seasonal) == 24


def test_robust_spread_is_bartletts_for_independent_noise():
    noise = np.random.default_rng(0).normal(size=20_000)
    spread = seasons.robust_acf_spread(noise, 5)
    assert spread[0] == 0 and np.allclose(spread[1:], 1 / np.sqrt(20_000), rtol=0.05)
    # A direct sum for one lag.
    x = noise[:300] - noise[:300].mean()
    assert seasons.robust_acf_spread(noise[:300], 3)[3] == pytest.approx(
        np.sqrt(np.sum(x[:-3] ** 2 * x[3:] ** 2)) / np.sum(x**2)
    )


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e6])
def test_exact_trends_and_constants_have_no_season(scale):
    # The residuals of an exact line are float rounding: their correlations are not a season.
    steps = np.arange(240.0)
    for values in (np.log(scale * np.exp(0.01 * steps)), scale * (1 + 0.002 * steps), np.full(240, scale)):
        found = seasons.find_season(values)
        assert found.length is None and not found.significant.any()
    assert seasons.detect_season(np.log(scale) + 0.01 * steps + 0.1 * np.sin(2 * np.pi * steps / 12)) == 12


def test_too_short_for_two_seasons_tests_nothing():
    found = seasons.find_season(_monthly_like(0, n=23), interval="30d")
    assert found.length is None and found.tested == ()


def test_a_spacing_without_a_calendar_season_tests_every_lag():
    # A 10-year cycle in yearly data (lynx, sunspots) is no calendar's season: dating the
    # values must not hide it, while a spacing with calendar seasons tests only those.
    rng = np.random.default_rng(3)
    years = np.arange(100)
    cycle = 5 + np.sin(2 * np.pi * years / 10) + rng.normal(0, 0.1, years.size)
    undated = seasons.find_season(cycle)
    yearly = seasons.find_season(cycle, interval="365d")
    assert undated.length == yearly.length == 10 and yearly.tested == undated.tested
    assert seasons.find_season(cycle, interval="30d").tested == (12,)


def _short_monthly(seed, years=4):
    """Four years of log values: a slow level, a 12-month season of 10% and 3% noise."""
    rng = np.random.default_rng(seed)
    months = np.arange(12 * years)
    return 0.002 * months + 0.1 * np.sin(2 * np.pi * months / 12) + rng.normal(0, 0.03, months.size)


def test_a_calendar_season_is_tested_at_ten_percent_and_need_not_be_a_peak():
    x = _short_monthly(0)
    dated, strict = seasons.find_season(x, interval="30d"), seasons.find_season(x, interval="30d", alpha=0.05)
    z = [statistics.NormalDist().inv_cdf(1 - a / 2) for a in (seasons.CALENDAR_ALPHA, 0.05)]
    np.testing.assert_allclose(dated.bound[1] / strict.bound[1], z[0] / z[1])
    assert seasons.find_season(x).tested[0] == 2  # undated: the scan, at ALPHA
    found = [seasons.detect_season(_short_monthly(seed), interval="30d") for seed in range(40)]
    assert found.count(12) >= 34 and set(found) <= {12, None}
    # The same values undated: a 12 among 22 lags at 5% is rarely significant in 48 values.
    assert sum(seasons.detect_season(_short_monthly(seed)) is not None for seed in range(40)) <= 5


def test_candidates_override_the_calendar_and_are_checked():
    assert seasons.find_season(_monthly_like(0), interval="1h", candidates=[12]).length == 12
    with pytest.raises(ValueError, match="candidates must be an integer >= 2"):
        seasons.find_season(_monthly_like(0), candidates=[1])


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(1e-3, 1e4), shift=st.floats(0, 1e4), seed=st.integers(0, 3))
def test_the_season_does_not_depend_on_units(scale, shift, seed):
    x = _monthly_like(seed)
    assert seasons.detect_season(x * scale + shift) == seasons.detect_season(x)


def test_default_window_covers_the_season_and_horizon():
    assert seasons.default_window(20, 1, None) == 20
    assert seasons.default_window(20, 1, 12) == 20
    assert seasons.default_window(20, 1, 24) == 30
    assert seasons.default_window(20, 48, 24) == 60
    assert seasons.default_window(200, 48, 24) == 200


def test_calendar_features_sincos_against_pandas():
    pd = pytest.importorskip("pandas")
    times = pd.date_range("2023-12-30 22:30", periods=60, freq="h")
    got = seasons.calendar_features(times.to_numpy(), ("hour", "weekday", "month"))
    assert got.names == ("hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "month_sin", "month_cos")
    hour = times.hour + times.minute / 60
    want = np.stack(
        [
            np.sin(2 * np.pi * hour / 24),
            np.cos(2 * np.pi * hour / 24),
            np.sin(2 * np.pi * times.day_of_week / 7),
            np.cos(2 * np.pi * times.day_of_week / 7),
            np.sin(2 * np.pi * (times.month - 1) / 12),
            np.cos(2 * np.pi * (times.month - 1) / 12),
        ],
        axis=-1,
    )
    np.testing.assert_allclose(got.values, want, atol=1e-6)


def test_calendar_features_onehot_and_quarter_week():
    pd = pytest.importorskip("pandas")
    times = pd.date_range("2021-01-01", periods=40, freq="W-MON")
    onehot = seasons.calendar_features(times.to_numpy(), ("month", "quarter", "week"), kind="onehot")
    assert onehot.values.shape == (40, 12 + 4 + 53) and np.all(onehot.values.sum(axis=1) == 3)
    np.testing.assert_array_equal(np.argmax(onehot.values[:, :12], axis=1), times.month - 1)
    np.testing.assert_array_equal(np.argmax(onehot.values[:, 12:16], axis=1), (times.month - 1) // 3)
    np.testing.assert_array_equal(np.argmax(onehot.values[:, 16:], axis=1), (times.day_of_year - 1) // 7)


def test_future_calendar_continues_the_past():
    pd = pytest.importorskip("pandas")
    times = pd.date_range("2024-03-01", periods=30, freq="h").to_numpy()
    whole = seasons.calendar_features(times)
    future = seasons.future_calendar(times[9], "1h", 20)
    np.testing.assert_array_equal(future.values, whole.values[10:])


def test_calendar_parts_follow_the_spacing():
    assert seasons.calendar_parts("1h") == ("hour", "weekday")
    assert seasons.calendar_parts("1d") == ("weekday",)
    assert seasons.calendar_parts("7d") == ("week",)
    assert seasons.calendar_parts("30d") == ("month",)
    assert seasons.calendar_parts("91d") == ("quarter",)
    assert seasons.calendar_parts("365d") == ()


def test_calendar_features_refuse_bad_input():
    with pytest.raises(ValueError, match="parts must be one of"):
        seasons.calendar_features(np.array(["2024-01-01"], "datetime64[ns]"), ("minute",))
    with pytest.raises(ValueError, match="kind must be one of"):
        seasons.calendar_features(np.array(["2024-01-01"], "datetime64[ns]"), ("hour",), kind="binary")
    with pytest.raises(ValueError, match="without NaT"):
        seasons.calendar_features(np.array(["NaT"], "datetime64[ns]"))

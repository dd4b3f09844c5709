"""The pure parts of benchmarks/competition.py: origins, M4's seasonality test and Naive2, the scores, OWA."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from benchmarks import competition as comp

PATTERN = np.array([0.8, 0.9, 1.3, 1.0])


def test_rolling_origins_end_one_horizon_before_the_end_stride_apart():
    monthly = comp.FREQUENCIES["monthly"]
    n = monthly.min_length()
    origins = comp.rolling_origins(n, monthly)
    assert origins[-1] == n - monthly.horizon
    np.testing.assert_array_equal(np.diff(origins), monthly.stride)
    assert len(origins) == comp.ORIGINS and origins[0] == monthly.min_train
    with pytest.raises(ValueError, match="too short"):
        comp.rolling_origins(n - 1, monthly)


def test_seasonality_test_finds_a_season_and_not_in_noise():
    rng = np.random.default_rng(1)
    seasonal = 100 * np.tile(PATTERN, 12) * (1 + 0.01 * rng.normal(size=48))
    assert comp.is_seasonal(seasonal, 4)
    assert not comp.is_seasonal(100 + rng.normal(size=48), 4)
    assert not comp.is_seasonal(seasonal, 1)
    assert not comp.is_seasonal(seasonal[:11], 4)  # fewer than three seasons


def test_multiplicative_indices_recover_a_known_pattern():
    # A constant level times a pattern of mean 1: the centred moving average is the level exactly.
    x = 50.0 * np.tile(PATTERN, 10)
    np.testing.assert_allclose(comp.multiplicative_indices(x, 4), PATTERN / PATTERN.mean(), rtol=1e-12)
    odd = np.array([0.7, 1.1, 1.2])
    np.testing.assert_allclose(comp.multiplicative_indices(20.0 * np.tile(odd, 9), 3), odd / odd.mean(), rtol=1e-12)


def _indices_by_loops(x: np.ndarray, season: int) -> np.ndarray:
    """The textbook definition, one position at a time: R's decompose() for a multiplicative series."""
    n = len(x)
    ratios: list[list[float]] = [[] for _ in range(season)]
    for t in range(n):
        if season % 2 == 0:
            if t - season // 2 < 0 or t + season // 2 >= n:
                continue
            window = x[t - season // 2 : t + season // 2 + 1]
            trend = (0.5 * window[0] + window[1:-1].sum() + 0.5 * window[-1]) / season
        else:
            if t - season // 2 < 0 or t + season // 2 >= n:
                continue
            trend = x[t - season // 2 : t + season // 2 + 1].mean()
        ratios[t % season].append(x[t] / trend)
    figure = np.array([np.mean(r) for r in ratios])
    return figure / figure.mean()


@pytest.mark.parametrize("season", [6, 7])
def test_multiplicative_indices_match_the_definition_position_by_position(season):
    rng = np.random.default_rng(2)
    pattern = 1 + 0.2 * np.sin(2 * np.pi * np.arange(season) / season)
    x = np.linspace(100, 160, 10 * season) * np.tile(pattern, 10) * (1 + 0.02 * rng.normal(size=10 * season))
    np.testing.assert_allclose(comp.multiplicative_indices(x, season), _indices_by_loops(x, season), rtol=1e-12)


def test_naive2_continues_the_season_and_is_naive_without_one():
    x = 100.0 * np.tile(PATTERN, 6)[:-1]  # ends one step into a season
    n = len(x)
    np.testing.assert_allclose(comp.naive2(x, 6, 4), 100.0 * PATTERN[(n + np.arange(6)) % 4], rtol=1e-12)
    walk = 100 + np.random.default_rng(3).normal(size=40).cumsum()
    np.testing.assert_array_equal(comp.naive2(walk, 5, 4), np.full(5, walk[-1]))


def test_score_origin_scales_by_the_in_sample_seasonal_naive_error():
    train = np.array([10.0, 12.0, 11.0, 13.0, 12.0, 14.0])
    scale = np.mean(np.abs(train[2:] - train[:-2]))  # season 2
    actual = np.array([15.0, 13.0, 16.0])
    mean = np.array([14.0, 14.0, 14.0])
    lower95, upper95 = mean - 1.5, mean + 1.5
    s = comp.score_origin(actual, train, 2, mean, {95: (lower95, upper95)})
    assert s["mase"] == pytest.approx(np.mean(np.abs(actual - mean)) / scale)
    assert s["smape"] == pytest.approx(200 * np.mean(np.abs(actual - mean) / (actual + mean)))
    assert s["coverage95"] == pytest.approx(2 / 3)
    # Interval score: width 3 plus 2 / 0.05 times the miss of 0.5 at the last step, averaged over 3 steps.
    assert s["msis95"] == pytest.approx((3.0 + (2 / 0.05) * 0.5 / 3) / scale)
    assert "coverage80" not in s


def test_owa_of_naive2_is_one_and_geometric_mean():
    assert comp.owa(12.0, 1.5, 12.0, 1.5) == 1.0
    assert comp.owa(6.0, 1.5, 12.0, 1.0) == pytest.approx(0.5 * (0.5 + 1.5))
    gm, se = comp.geometric_mean(np.array([1.0, 4.0]))
    assert gm == pytest.approx(2.0)
    assert se == pytest.approx(2.0 * np.std(np.log([1.0, 4.0]), ddof=1) / np.sqrt(2))


def _series_entry(frequency: str, scores: dict[str, float]) -> dict:
    rows = {
        r: {"mean": {"mase": m, "smape": 10 * m, "mae": m, "seconds": 0.1, "cpu_seconds": 0.1}}
        for r, m in scores.items()
    }
    return {"frequency": frequency, "seasonal": True, "price": False, "rows": rows}


def test_aggregate_compares_rows_on_the_series_every_row_ran():
    doc = {
        "rows": dict.fromkeys(("model", "SeasonalNaive", "Naive", "Naive2"), ""),
        "series": {
            "a": _series_entry("monthly", {"model": 1.0, "SeasonalNaive": 2.0, "Naive": 4.0, "Naive2": 2.0}),
            "b": _series_entry("monthly", {"model": 4.0, "SeasonalNaive": 2.0, "Naive": 4.0, "Naive2": 2.0}),
            "c": _series_entry("monthly", {"SeasonalNaive": 1.0, "Naive": 1.0, "Naive2": 1.0}),
        },
    }
    monthly = comp.aggregate(doc)["monthly"]
    assert monthly["series"] == ["a", "b"] and monthly["missing"] == ["c"]
    model = monthly["rows"]["model"]
    assert model["gm_mase"] == pytest.approx(2.0)
    assert model["mase_vs_snaive"] == pytest.approx(1.0)  # 0.5 and 2
    assert model["relative_mae"] == pytest.approx(np.sqrt(0.25 * 1.0))
    assert model["owa"] == pytest.approx(0.5 * (25 / 20 + 2.5 / 2))
    assert monthly["rows"]["Naive2"]["owa"] == pytest.approx(1.0)
    assert model["wins_vs_snaive"] == 1


def test_run_series_fits_on_the_past_only():
    """Values after an origin never reach the fit: poisoning them changes no forecast."""
    seen: list[np.ndarray] = []

    def row(train: np.ndarray, horizon: int, season: int) -> comp.Prediction:
        seen.append(train.copy())
        return comp.Prediction(np.full(horizon, train[-1]), {})

    values = 100 + np.random.default_rng(5).normal(size=60).cumsum()
    series = comp.Series("s", "yearly", values, "test")
    entry = comp.run_series(series, {"last": row}, 6, lambda message: None)
    origins = entry["origins"]
    assert [len(t) for t in seen] == [origins[0]] * 6
    for t, train in zip(origins, seen):
        np.testing.assert_array_equal(train, values[t - origins[0] : t])


def test_select_keeps_the_first_series_of_each_frequency_in_order():
    values = np.arange(1.0, 30.0)
    series = [comp.Series(name, freq, values, "test") for name, freq in zip("abcdef", ["m", "q", "m", "m", "q", "y"])]
    assert [s.name for s in comp.select(series, None, None, False, per_frequency=2)] == ["a", "b", "c", "e", "f"]
    assert [s.name for s in comp.select(series, None, ["m"], False, per_frequency=1)] == ["a"]
    assert len(comp.select(series, None, None, False)) == 6
    with pytest.raises(ValueError, match="per-frequency must be >= 1, got 0"):
        comp.select(series, None, None, False, per_frequency=0)


def test_r_dates_put_each_value_on_the_first_day_of_its_period():
    monthly = comp.r_dates(1949 + np.arange(14) / 12, 12)
    assert str(monthly[0])[:10] == "1949-01-01" and str(monthly[13])[:10] == "1950-02-01"
    quarterly = comp.r_dates(1960 + np.arange(5) / 4, 4)
    assert [str(d)[:10] for d in quarterly] == ["1960-01-01", "1960-04-01", "1960-07-01", "1960-10-01", "1961-01-01"]
    assert str(comp.r_dates(np.array([1821.0, 1822.0]), 1)[1])[:10] == "1822-01-01"
    weekly = comp.r_dates(1991.1 + np.arange(3) / 52.18, 52)
    assert np.all(np.diff(weekly) == np.timedelta64(7, "D")) and str(weekly[0])[:7] == "1991-02"
    # The library reads the monthly dates as a calendar-month grid: 12 is the season tested.
    from jaxlstm._src.prep import months, seasons
    from jaxlstm._src.prep.horizons import infer_interval

    assert months.grid_step(monthly) == 1 and infer_interval(monthly) == months.MONTH
    assert seasons.calendar_seasons(infer_interval(monthly)) == (12,)
    assert seasons.calendar_seasons(infer_interval(quarterly)) == (4,)


def test_merge_unites_series_and_rows_and_keeps_each_command_once():
    rows = dict.fromkeys(("SeasonalNaive", "Naive", "Naive2"), "")
    base = {
        "settings": {"origins": 6},
        "rows": dict(rows),
        "series": {"a": _series_entry("monthly", {"SeasonalNaive": 2.0, "Naive": 4.0, "Naive2": 2.0})},
        "commands": ["first run"],
        "seconds": 10.0,
    }
    # Two processes appended a row each to copies of the same document.
    left = {**base, "rows": {**rows, "x": ""}, "commands": ["first run", "x on a"], "seconds": 12.0}
    left["series"] = {"a": _series_entry("monthly", {"SeasonalNaive": 2.0, "Naive": 4.0, "Naive2": 2.0, "x": 1.0})}
    right = {**base, "rows": {**rows, "x": ""}, "commands": ["first run", "x on b"], "seconds": 15.0}
    right["series"] = {
        **base["series"],
        "b": _series_entry("monthly", {"SeasonalNaive": 1.0, "Naive": 1.0, "Naive2": 1.0, "x": 2.0}),
    }
    merged = comp.merge([base, left, right])
    assert merged["commands"] == ["first run", "x on a", "x on b"] and merged["seconds"] == 15.0
    assert set(merged["series"]) == {"a", "b"} and set(merged["series"]["a"]["rows"]) == {*rows, "x"}
    with pytest.raises(ValueError, match="different settings"):
        comp.merge([base, {**left, "settings": {"origins": 2}}])

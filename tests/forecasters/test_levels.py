"""``forecast(level=[80, 95])``: one band per level, named as statsforecast names them, each the model's own band."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxlstm._src.forecasters.baselines import DriftForecaster, NaiveForecaster
from jaxlstm._src.forecasters.forecast import Forecast, Forecasts
from jaxlstm.data import load_demo


@pytest.fixture(scope="module")
def models():
    prices = load_demo().to_pandas()["close"][-600:]
    return {"naive": NaiveForecaster().fit(prices), "drift": DriftForecaster().fit(prices)}


def test_each_level_is_the_band_at_that_confidence(models):
    m = models["naive"]
    fc = m.forecast(steps=12, level=[95, 80])
    assert sorted(fc.levels) == [80.0, 95.0] and fc.confidence == 0.95
    for level in (80, 95):
        alone = m.forecast(steps=12, confidence=level / 100)
        np.testing.assert_array_equal(fc.levels[level][0], alone.lower)
        np.testing.assert_array_equal(fc.levels[level][1], alone.upper)
    np.testing.assert_array_equal(fc.lower, fc.levels[95][0])
    # Nested: the 80% band lies inside the 95% band, around the point forecast.
    assert np.all(fc.levels[95][0] <= fc.levels[80][0]) and np.all(fc.levels[80][0] <= fc.predicted)
    assert np.all(fc.levels[80][1] <= fc.levels[95][1]) and np.all(fc.predicted <= fc.levels[80][1])


def test_columns_are_named_as_statsforecast_names_them(models):
    fc = models["naive"].forecast(steps=3, level=[80, 97.5])
    frame = fc.to_pandas()
    assert list(frame.columns) == ["predicted", "lower", "upper", "lo-80", "hi-80", "lo-97.5", "hi-97.5"]
    np.testing.assert_array_equal(frame["hi-97.5"], fc.upper)
    row = json.loads(json.dumps(fc.to_dict()))["predictions"][0]
    assert row["lo-80"] == pytest.approx(fc.levels[80][0][0]) and row["confidence"] == 0.975
    one = models["naive"].forecast(steps=3, level=90)
    assert list(one.to_pandas().columns) == ["predicted", "lower", "upper", "lo-90", "hi-90"]
    assert list(models["naive"].forecast(steps=3).to_pandas().columns) == ["predicted", "lower", "upper"]


def test_forecast_many_and_the_long_format_carry_the_levels(models):
    many = NaiveForecaster.forecast_many({"a": models["naive"]}, steps=4, level=[80, 95])
    long = many.to_pandas()
    assert list(long.columns) == ["unique_id", "ds", "predicted", "lower", "upper", "lo-80", "hi-80", "lo-95", "hi-95"]
    np.testing.assert_allclose(long["lo-80"], models["naive"].forecast(steps=4, level=[80, 95]).levels[80][0])
    assert isinstance(many, Forecasts)


@pytest.mark.parametrize("bad", [[0, 95], [100], [80, 80], [], "80", [True], 150])
def test_bad_levels_are_refused(models, bad):
    with pytest.raises((TypeError, ValueError), match="level must be"):
        models["naive"].forecast(steps=2, level=bad)


def test_confidence_and_level_together_are_refused(models):
    # forecast(confidence=0.9, level=[80]) drew the 80% band and dropped the 0.9 without a word.
    m = models["naive"]
    pattern = r"give confidence or level, not both: got confidence=0.9 and level=\[80\]"
    with pytest.raises(ValueError, match=pattern):
        m.forecast(steps=2, confidence=0.9, level=[80])
    with pytest.raises(ValueError, match=pattern):
        NaiveForecaster.forecast_many({"a": m}, steps=2, confidence=0.9, level=[80])
    with pytest.raises(ValueError, match=pattern):
        m.forecast_from(m.forecast(steps=2).predicted, 0.9, level=[80])
    assert m.forecast(steps=2).confidence == 0.95 and m.forecast(steps=2, confidence=None).confidence == 0.95
    assert m.forecast(steps=2, level=[80]).confidence == 0.8


def test_levels_given_as_fractions_are_refused_naming_the_percent_meant(models):
    # level=[0.95] drew a 0.95% band (a line around the forecast) without a word.
    with pytest.raises(
        ValueError, match=r"in percent, at least 1.*for a 95% band give level=\[95\] \(or confidence=0.95\)"
    ):
        models["naive"].forecast(steps=2, level=[0.95])
    with pytest.raises(ValueError, match=r"for 80, 95% bands give level=\[80, 95\]$"):
        models["naive"].forecast(steps=2, level=[0.8, 0.95])
    assert set(models["naive"].forecast(steps=2, level=[1, 50]).levels) == {1.0, 50.0}


def test_a_forecast_refuses_levels_of_the_wrong_length():
    p = np.ones(3)
    with pytest.raises(ValueError, match="Forecast.levels"):
        Forecast(None, p, p, p, levels={80.0: (p, p[:2])})


def test_backtest_measures_coverage_per_level():
    from jaxlstm._src.evaluation.backtest import backtest

    prices = load_demo().to_pandas()["close"][-700:]
    result = backtest(prices, {"drift": DriftForecaster}, train_size=500, steps=6, stride=12, levels=[80, 95])
    for name in ("naive", "drift"):
        r = result[name]
        assert sorted(r.coverage_by_level) == [80.0, 95.0]
        np.testing.assert_array_equal(r.levels[95][0], r.lower)  # the 95% band is the backtest's own at confidence 0.95
        inside = (result.actual >= r.levels[80][0]) & (result.actual <= r.levels[80][1])
        assert r.coverage_by_level[80] == pytest.approx(inside.mean())
        assert r.coverage_by_level[80] <= r.coverage_by_level[95]
        assert r.to_dict()["coverage_by_level"].keys() == {"80", "95"}
    assert backtest(prices, ["drift"], train_size=500, steps=6, stride=48)["drift"].coverage_by_level == {}

"""Every prediction path refuses what it cannot forecast with a clear ValueError, before compiling.

Issue "Nothing lost, nothing crashes": ``steps >= 2**31`` and data spaced a microsecond
apart (3.6e9 steps for "1h") raised OverflowError from inside ``lax.scan``; ``predict()``
returned a negative price where ``forecast()`` refused it.
"""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm._src import stacked, validation
from jaxlstm._src.prep import encodings, horizons

SMALL = dict(hidden_size=4, sequence_length=5, epochs=2)
PRICES = 100 + np.sin(np.arange(60) / 4)
TOO_MANY = [validation.MAX_STEPS + 1, 2**31, 2**63]


@pytest.fixture(scope="module")
def model():
    return jl.LSTMForecaster(**SMALL, encoding="minmax").fit(PRICES)


@pytest.fixture(scope="module")
def microsecond_model():
    series = pd.Series(PRICES, index=pd.date_range("2020-01-01", periods=PRICES.size, freq="us"))
    return jl.LSTMForecaster(**SMALL).fit(series)


def test_check_steps_bounds():
    assert validation.check_steps(1) == 1 and validation.check_steps(validation.MAX_STEPS) == validation.MAX_STEPS
    with pytest.raises(ValueError, match=r"steps must be at most 1,000,000 forecast steps, got 2,147,483,648"):
        validation.check_steps(2**31)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        validation.check_steps(0)
    with pytest.raises(TypeError, match="steps must be an integer"):
        validation.check_steps(2.0**31)


@pytest.mark.parametrize("steps", TOO_MANY)
@pytest.mark.slow
def test_too_many_steps_are_refused_on_every_path(model, steps):
    window = PRICES[-5:]
    calls = {
        "predict_multi_step": lambda: model.predict_multi_step(window, steps),
        "forecast": lambda: model.forecast(steps=steps),
        "forecast_many": lambda: jl.LSTMForecaster.forecast_many({"A": model}, steps=steps),
        "band_offsets": lambda: model.band_offsets(steps),
        "calibration_residuals": lambda: model.calibration_residuals(steps),
        "core predict_multi_step": lambda: jl.predict_multi_step(model.params_, np.ones((5, 1), np.float32), steps),
        "predict_many": lambda: stacked.predict_many(
            jax.tree.map(lambda a: np.asarray(a)[None], model.params_), np.ones((1, 5, 1), np.float32), steps
        ),
        "forecast_prices": lambda: encodings.forecast_prices(
            model.model_config,
            model.params_,
            model.model_inputs.encoding,
            model.forecast_plan(1).state,
            np.ones((5,), np.float32),
            steps,
        ),
        "future_timestamps": lambda: horizons.future_timestamps(None, np.timedelta64(1, "h"), steps),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="at most 1,000,000 forecast steps"):
            call()
            pytest.fail(f"{name} accepted {steps} steps")


def test_a_horizon_of_billions_of_steps_is_refused_before_compiling(microsecond_model):
    with pytest.raises(ValueError, match=r"horizon '1h' is 3,600,000,000 steps of the data's interval 1us"):
        microsecond_model.forecast("1h")
    with pytest.raises(ValueError, match="horizon '7d' is 604,800,000,000 steps"):
        horizons.horizon_to_steps("7d", np.timedelta64(1, "us"))
    # A horizon the bound allows still works on such data.
    assert horizons.horizon_to_steps("1h", np.timedelta64(10, "ms")) == 360_000
    fc = microsecond_model.forecast(steps=3)
    assert np.all(np.diff(fc.timestamps) == np.timedelta64(1, "us"))


def test_backtest_refuses_too_many_steps():
    with pytest.raises(ValueError, match="at most 1,000,000 forecast steps"):
        jl.evaluation.backtest(PRICES, {"naive": jl.baselines.NaiveForecaster}, train_size=30, steps=2**31)


@pytest.mark.parametrize(
    "ns, text", [(3_600 * 10**9, "1h"), (86_400 * 10**9, "1d"), (900 * 10**9, "15min"), (1_000, "1us"), (7, "7ns")]
)
def test_format_interval(ns, text):
    assert horizons.format_interval(np.timedelta64(ns, "ns")) == text


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_predict_refuses_a_negative_price_like_forecast():
    # The case: min-max target, learning_rate=10, a falling series. Seed 1 drives the
    # first one-step prediction far below zero, which fit itself now refuses as diverged.
    falling = np.linspace(100, 1, 80)
    settings = dict(**{**SMALL, "epochs": 5}, encoding="minmax", seed=1, early_stopping=False)
    with pytest.raises(ValueError, match="training diverged"):
        jl.LSTMForecaster(**settings, learning_rate=10).fit(falling)
    # A model that forecasts below zero all the same (its head pushed down after fit).
    model = jl.LSTMForecaster(**settings).fit(falling)
    model.params_ = {**model.params_, "head": {**model.params_["head"], "b": model.params_["head"]["b"] - 10.0}}
    assert model._predict(falling[-5:], 1)[0] < 0  # the raw network output the rule must catch
    for call in (
        lambda: model.predict(falling[-5:]),
        lambda: model.predict_multi_step(falling[-5:], 2),
        lambda: model.forecast(steps=1),
    ):
        with pytest.raises(ValueError, match="non-positive price .* at step 1"):
            call()

"""A training run that diverges raises (or, in an ensemble, loses the members that diverged) instead of passing as a fit."""

import copy
import warnings

import jax
import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm.data import load_demo

TINY = dict(hidden_size=4, sequence_length=8, epochs=2, batch_size=32)


@pytest.fixture(scope="module")
def series():
    return load_demo().to_pandas()["close"][-160:]


@pytest.mark.slow
def test_a_fit_that_diverges_raises_and_says_what_to_try(series):
    model = jl.LSTMForecaster(**TINY, learning_rate=1e6)
    with pytest.raises(ValueError, match=r"training diverged.*lower learning_rate"):
        model.fit(series)
    assert model.params_ is None and model.prices_ is None  # not half fitted
    with pytest.raises(RuntimeError, match="not fitted"):
        model.forecast(steps=2)


@pytest.mark.slow
def test_an_ensemble_drops_the_members_that_diverged_and_warns(series, tmp_path):
    members = [{"learning_rate": 1e6}, {"learning_rate": 3e-4}, {"learning_rate": 1e-3, "seed": 5}]
    model = jl.LSTMForecaster(**TINY, ensemble=members)
    with pytest.warns(UserWarning, match=r"1 of 3 ensemble members diverged"):
        model.fit(series)
    assert model.n_members == 2
    assert [m["learning_rate"] for m in model.ensemble] == [3e-4, 1e-3]
    assert np.isfinite(model.metrics_["val_mae"]) and model.metrics_["members"] == 2
    # The head refit is copied from the fitted model: its kept members, not the diverged one.
    head = model.calibration_models_["refit"].model
    assert [m["learning_rate"] for m in head.ensemble] == [3e-4, 1e-3] and head.n_members == 2
    fc = model.forecast(steps=3)
    assert np.all(np.isfinite(fc.predicted))
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.forecast(steps=3).predicted, fc.predicted)


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_an_ensemble_whose_every_member_diverged_raises(series):
    with pytest.raises(ValueError, match=r"training diverged in all 2 ensemble members.*lower learning_rate"):
        jl.LSTMForecaster(**TINY, ensemble=2, learning_rate=1e6).fit(series)


def test_member_forecasts_raise_like_every_other_prediction_path(series):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = jl.LSTMForecaster(**TINY, ensemble=2).fit(series)
    broken = copy.deepcopy(model)
    broken.params_ = jax.tree.map(lambda a: a * 1e30, broken.params_)
    window = np.asarray(series[-8:])[None]
    with pytest.raises(ValueError, match="forecast reaches a non-finite value"):
        broken.member_forecasts(window, 3)
    with pytest.raises(ValueError, match="forecast reaches a non-finite value"):
        broken.forecast(steps=3)
    assert np.all(np.isfinite(model.member_forecasts(window, 3)))

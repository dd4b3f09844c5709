"""Settings are constructor arguments: read-only afterwards, changed only by ``set_params``."""

import copy
import pickle

import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src.io import model_files as persistence
from jaxlstm.data import load_demo

TINY = dict(hidden_size=4, sequence_length=8, epochs=1, batch_size=32)


@pytest.fixture(scope="module")
def series():
    return load_demo().to_pandas()["close"][-120:]


@pytest.fixture(scope="module")
def fitted(series):
    return jl.LSTMForecaster(**TINY).fit(series)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("hidden_size", 32),
        ("architecture", "bilstm"),
        ("sequence_length", 12),
        ("direct_steps", 24),
        ("encoding", "minmax"),
        ("ensemble", 2),
        ("band", "volatility"),
    ],
)
def test_a_setting_of_a_fitted_model_cannot_be_assigned(fitted, setting, value):
    model = copy.deepcopy(fitted)
    before = model.forecast(steps=3).predicted
    with pytest.raises(AttributeError, match=f"{setting}.*set_params"):
        setattr(model, setting, value)
    assert getattr(model, setting) == getattr(fitted, setting)
    np.testing.assert_array_equal(model.forecast(steps=3).predicted, before)


def test_a_setting_of_an_unfitted_model_cannot_be_assigned_either():
    # The network config is derived from the settings at construction: assigning one
    # would train a network of the old shape under the new setting's name.
    model = jl.LSTMForecaster(**TINY)
    with pytest.raises(AttributeError, match="hidden_size.*set_params"):
        model.hidden_size = 64
    with pytest.raises(AttributeError, match="season.*set_params"):
        jl.baselines.SeasonalNaiveForecaster(24).season = 12


def test_set_params_copy_pickle_and_labels_still_work(fitted, tmp_path):
    model = copy.deepcopy(fitted)
    model.symbol = "ETHUSD"  # a label, not a setting the fitted state depends on
    assert model.forecast(steps=2).symbol == "ETHUSD"
    assert pickle.loads(pickle.dumps(model)).symbol == "ETHUSD"
    assert copy.copy(model).hidden_size == 4
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "m"))
    assert loaded.symbol == "ETHUSD" and loaded.hidden_size == 4
    model.set_params(hidden_size=6)
    assert model.hidden_size == 6 and model.params_ is None and model.model_config.hidden_size == 6


def test_save_refuses_a_model_whose_settings_and_params_disagree(fitted, tmp_path):
    path = fitted.save(tmp_path / "m")
    model = copy.deepcopy(fitted)
    # Even written past the guard, the disagreement is caught before anything is written.
    model.__dict__["hidden_size"] = 32
    with pytest.raises(ValueError, match="settings and fitted state disagree"):
        model.save(path)
    with pytest.raises(ValueError, match="settings and fitted state disagree"):
        model.to_json()
    # The good model is still there.
    assert jl.LSTMForecaster.load(path).hidden_size == 4
    assert persistence.load_model(path)[1]["settings"]["hidden_size"] == 4


def test_an_unknown_setting_is_named_with_the_settings_wherever_settings_are_given(tmp_path):
    # fit_many(epoch=1) and distributed.fit_many(settings={"epoch": 1}) raised Python's
    # "__init__() got an unexpected keyword argument", without the settings there are.
    from jaxlstm import distributed

    pattern = r"LSTMForecaster has no setting\(s\) \['epoch'\]; settings: \['hidden_size', "
    with pytest.raises(ValueError, match=pattern):
        jl.LSTMForecaster.fit_many({"A": np.linspace(100, 120, 60)}, epoch=1)
    with pytest.raises(ValueError, match=pattern):
        distributed.fit_many({"A": np.linspace(100, 120, 60)}, tmp_path, settings={"epoch": 1})
    with pytest.raises(ValueError, match=pattern):
        jl.LSTMForecaster().set_params(epoch=1)
    assert not any(tmp_path.iterdir())  # refused before anything was written
    with pytest.raises(ValueError, match=r"NaiveForecaster has no setting\(s\) \['window'\]"):
        jl.baselines.NaiveForecaster.fit_many({"A": np.linspace(100, 120, 60)}, window=3)

"""``Forecaster``'s save/load/to_json/from_json over the ``saved_parts``/``from_saved`` hooks, and ``observe``."""

from __future__ import annotations

import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src.evaluation.synthetic import random_walk

BASELINES = [jl.baselines.NaiveForecaster, jl.baselines.DriftForecaster, jl.baselines.HybridForecaster]


@pytest.mark.parametrize("kind", BASELINES)
def test_a_baseline_round_trips_through_a_folder_and_json(tmp_path, kind):
    prices = random_walk(120, seed=1).prices
    model = kind().fit(prices, interval="1h")
    want = model.forecast(steps=6)
    for back in (kind.load(model.save(tmp_path / "m")), kind.from_json(model.to_json())):
        got = back.forecast(steps=6)
        np.testing.assert_array_equal(got.predicted, want.predicted)
        np.testing.assert_array_equal(got.lower, want.lower)
        assert back.get_params() == model.get_params()


def test_loading_another_class_names_both(tmp_path):
    path = jl.baselines.NaiveForecaster().fit(random_walk(50, seed=0).prices).save(tmp_path / "m")
    with pytest.raises(ValueError, match="DriftForecaster"):
        jl.baselines.DriftForecaster.load(path)


@pytest.mark.slow  # compiles an LSTM of its own: the quick tier stays under 90 s
def test_forecaster_load_gives_the_model_of_whichever_class_saved_it(tmp_path):
    # Forecaster.load(path) raised NotImplementedError("Forecaster must implement from_saved()").
    prices = random_walk(120, seed=1).prices
    models = [kind().fit(prices, interval="1h") for kind in BASELINES]
    models.append(jl.LSTMForecaster(hidden_size=4, sequence_length=8, epochs=1, season_length=None).fit(prices))
    for i, model in enumerate(models):
        want = model.forecast(steps=4)
        for back in (jl.Forecaster.load(model.save(tmp_path / str(i))), jl.Forecaster.from_json(model.to_json())):
            assert type(back) is type(model)
            np.testing.assert_array_equal(back.forecast(steps=4).predicted, want.predicted)
    path = models[0].save(tmp_path / "odd")
    with pytest.raises(ValueError, match=r"holds a model of kind 'NoSuchForecaster', which is no imported Forecaster"):
        jl.Forecaster.from_saved({}, {"model": "NoSuchForecaster"}, "model at 'odd'")
    assert jl.Forecaster.load(path).name == "naive"


def test_observe_moves_a_baselines_origin_without_refitting():
    prices = random_walk(200, seed=3).prices
    model = jl.baselines.DriftForecaster().fit(prices[:150])
    slope = model.slope_
    assert model.observe(prices[:180]) is model
    assert model.slope_ == slope  # nothing fitted changes
    np.testing.assert_allclose(model.forecast(steps=2).predicted, prices[179] + slope * np.arange(1, 3))
    naive = jl.baselines.NaiveForecaster().fit(prices[:150]).observe(prices[:180])
    assert naive.forecast(steps=3).predicted.tolist() == [prices[179]] * 3

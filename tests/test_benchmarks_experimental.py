"""The experimental forecasters of benchmarks/experimental.py: built on public names only."""

from __future__ import annotations

import functools
import pathlib
import sys

import numpy as np
import pytest

import jaxlstm as jl

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from benchmarks import experimental

TINY = dict(hidden_size=4, sequence_length=5, epochs=2, batch_size=16)


def test_naive_blend_falls_back_to_naive_without_skill():
    prices = jl.evaluation.random_walk(300, seed=4).prices
    blend = experimental.NaiveBlend(jl.baselines.DriftForecaster, steps=5, min_t=2.0).fit(prices)
    assert blend.weight_ == 0.0 and blend.t_stat_ > -2.0
    np.testing.assert_allclose(blend.forecast(steps=5).predicted, prices[-1])
    trend = jl.evaluation.trending(300, drift=0.01, noise=0.001, seed=4).prices
    blend = experimental.NaiveBlend(jl.baselines.DriftForecaster, steps=5, min_t=2.0).fit(trend)
    assert blend.weight_ > 0.9 and blend.t_stat_ < -2.0


@pytest.mark.slow
def test_experimental_models_run_in_a_vectorised_backtest():
    series = jl.evaluation.random_walk(160, seed=6).prices
    factories = {"gate": functools.partial(experimental.DriftGate, functools.partial(jl.LSTMForecaster, **TINY))}
    loop = jl.evaluation.backtest(series, factories, train_size=120, steps=3, stride=15, vectorize=False)
    fast = jl.evaluation.backtest(series, factories, train_size=120, steps=3, stride=15, vectorize=True)
    np.testing.assert_allclose(fast["gate"].predicted, loop["gate"].predicted, rtol=1e-6)

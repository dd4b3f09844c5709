"""``rows.forecast_rows``: many models' windows, cut into chunks of one size, forecast in one runner call."""

from __future__ import annotations

import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src import stacked
from jaxlstm._src.evaluation.synthetic import random_walk
from jaxlstm._src.forecasters import rows
from jaxlstm._src.prep import windows

TINY = dict(hidden_size=4, sequence_length=8, epochs=2, calibration="auto")


@pytest.fixture(scope="module")
def models():
    prices = random_walk(260, seed=2).prices
    return [jl.LSTMForecaster(**TINY, seed=s).fit(prices) for s in (0, 1)], prices


@pytest.mark.slow
def test_windows_of_other_counts_are_one_call_and_equal_each_models_own_forecasts(models, monkeypatch):
    (first, second), prices = models
    few = windows.windows_before(prices, np.arange(200, 230), 8)  # 30 windows: a bucket of 64
    many = windows.windows_before(prices, np.arange(8, 208), 8)  # 200 windows: 4 chunks of 64
    plans = [first.forecast_plan(5), second.forecast_plan(5)]
    alone = [rows.forecast_rows([plans[0]], [few])[0], rows.forecast_rows([plans[1]], [many])[0]]
    calls = []
    real = stacked.run_stacked

    def counting(fn, args, **kwargs):
        calls.append(int(np.shape(args[2])[0]))
        return real(fn, args, **kwargs)

    monkeypatch.setattr(stacked, "run_stacked", counting)
    together = rows.forecast_rows(plans, [few, many])
    assert calls == [1 + 4]
    assert together[0].shape == (1, 30, 5) and together[1].shape == (1, 200, 5)
    for got, want in zip(together, alone, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    # The reference: each window forecast on its own by the public path.
    np.testing.assert_allclose(together[1][0, 123], second.predict_multi_step(many[123], 5), rtol=1e-5)


def test_a_model_without_windows_gets_an_empty_row(models):
    (first, _), _ = models
    out = rows.forecast_rows([first.forecast_plan(3)], [np.zeros((0, 8), np.float32)])
    assert out[0].shape == (1, 0, 3)

"""Bands are what they were before calibration moved into ``fit`` (recorded from the previous version).

The offsets below were computed by the previous version of the library (calibration on
the first ``forecast``) for the same fits: ``band_offsets(30, confidence=0.9)`` at steps
1, 2, 3, 10 and 30 of a 300-price random walk (``random_walk(300, seed=21)``). The
baselines reproduce them exactly. The LSTM's windows are now padded to shape buckets
(zero-weight rows, so that a new length does not recompile), which changes its float32
rounding: its point forecasts moved by at most 1e-4 and its band quantiles by at most
0.3% (relative). A head-refit copy trains in the same runner call as the model, which
leaves its band as close to the old one as the model's own.
"""

from __future__ import annotations

import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src.evaluation.synthetic import random_walk
from jaxlstm._src.forecasters import bands
from jaxlstm._src.forecasters.baselines import DriftForecaster, HybridForecaster

TINY = dict(hidden_size=4, sequence_length=8, epochs=3, batch_size=32)
STEPS = [0, 1, 2, 9, 29]

# (lower, upper) at STEPS, and the method, as the previous version computed them.
REFERENCE = {
    "drift_auto": (
        [-0.016768350819024416, -0.02563265586458, -0.031414104707961056, -0.057430561873526145, -0.1227684627562065],
        [0.014406052576389395, 0.01787951165988788, 0.02201892312417284, 0.02440736331087363, 0.029490374675896554],
        "conformal",
    ),
    "hybrid_both_adaptive": (
        [-0.018422304860161786, -0.026177819744148772, -0.03177045548501205, -0.06567188071439571, -0.1272822874457598],
        [0.014320466218731976, 0.02115258351099938, 0.023729975504412793, 0.028773013199826083, 0.028773013199826083],
        "adaptive conformal",
    ),
    "lstm_auto_conformal": (
        [-0.01909467465908577, -0.02387480572257493, -0.026886684242528186, -0.06964611068374672, -0.12613727488131898],
        [0.005298928051948882, 0.006625453433320722, 0.007461274302928915, 0.01932736410544907, 0.03500412320180427],
        "conformal pooled over steps",
    ),
    "lstm_refit_conformal": (
        [-0.01837533005975778, -0.027640202792628587, -0.03436610174864137, -0.06391305656788625, -0.13897084225159614],
        [0.0127626335904537, 0.017392062793542162, 0.020325996827387127, 0.02070264454816984, 0.02070264454816984],
        "conformal",
    ),
}

MODELS = {
    "drift_auto": DriftForecaster,
    "hybrid_both_adaptive": lambda: HybridForecaster(band="adaptive", calibration="both"),
    "lstm_auto_conformal": lambda: jl.LSTMForecaster(**TINY, band="conformal", calibration="auto"),
}


@pytest.fixture(scope="module")
def prices():
    return random_walk(300, seed=21).prices


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bands_equal_the_previous_versions(prices, name):
    lower, upper, method = MODELS[name]().fit(prices).band_offsets(30, 0.9)
    expected = REFERENCE[name]
    # Same numpy arithmetic for the baselines; the LSTM's bucket-padded fit agrees to float32 rounding.
    rtol = 1e-12 if name.startswith(("drift", "hybrid")) else 5e-3
    np.testing.assert_allclose(lower[STEPS], expected[0], rtol=rtol)
    np.testing.assert_allclose(upper[STEPS], expected[1], rtol=rtol)
    assert method == expected[2]


def test_the_head_refit_trained_with_the_model_gives_the_previous_band(prices):
    model = jl.LSTMForecaster(**TINY, band="conformal", calibration="refit").fit(prices)
    lower, upper, method = model.band_offsets(30, 0.9)
    expected = REFERENCE["lstm_refit_conformal"]
    assert method == expected[2]
    np.testing.assert_allclose(lower[STEPS], expected[0], rtol=5e-3)
    np.testing.assert_allclose(upper[STEPS], expected[1], rtol=5e-3)
    # The same copy trained alone gives the previous band too.
    start = model.calibration_models_["refit"].start
    alone = jl.LSTMForecaster(**TINY, band="conformal", calibration="refit")
    jl.LSTMForecaster._fit_together([alone], [prices[:start]])
    origins = np.arange(start, prices.shape[0])
    predicted = alone.predict_windows(np.stack([prices[s - 8 : s] for s in origins]), model.band_steps)
    index = origins[:, None] + np.arange(model.band_steps)[None, :]
    actual = np.where(index < prices.shape[0], prices[np.minimum(index, prices.shape[0] - 1)], np.nan)
    band = bands.ConformalBand({"refit": np.log(actual / predicted)}, model.volatility_)
    lower, upper, _ = band.offsets(30, 0.9)
    np.testing.assert_allclose(lower[STEPS], expected[0], rtol=5e-3)
    np.testing.assert_allclose(upper[STEPS], expected[1], rtol=5e-3)

"""band="quantile": a network's quantile heads, trained with the pinball loss, give the band of each level."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src.forecasters import bands


def test_nested_offsets_order_crossing_heads():
    predicted = np.array([100.0, 100.0, 100.0])
    # 80%: a lower head above the forecast at step 0, heads swapped at step 1; 95% narrower than 80% at step 2.
    quantiles = np.array([[101.0, 103.0, 95.0], [104.0, 97.0, 105.0], [99.0, 90.0, 97.0], [102.0, 110.0, 103.0]])
    out = bands.nested_offsets(predicted, quantiles)
    for level in (80, 95):
        lower, upper = out[level]
        assert np.all(lower <= 0) and np.all(upper >= 0)
    np.testing.assert_allclose(np.exp(out[80][0]) * 100, [100.0, 97.0, 95.0])
    np.testing.assert_allclose(np.exp(out[80][1]) * 100, [104.0, 103.0, 105.0])
    np.testing.assert_allclose(np.exp(out[95][0]) * 100, [99.0, 90.0, 95.0])
    np.testing.assert_allclose(np.exp(out[95][1]) * 100, [104.0, 110.0, 105.0])
    assert bands.quantile_pairs() == (0.1, 0.9, 0.025, 0.975)


def test_cqr_margins_against_a_hand_computation():
    # One level (80%), 4 origins x 1 step: heads [90, 110] around actual values 100, 120, 85, 100.
    quantiles = np.tile(np.array([[[90.0], [110.0]]]), (4, 1, 1))
    actual = np.array([[100.0], [120.0], [85.0], [np.nan]])
    scores = sorted([max(np.log(90 / 100), np.log(100 / 110)), np.log(120 / 110), np.log(90 / 85)])
    # n = 3 scores: the ceil(4 * 0.8) = 4th smallest does not exist -> no margin at 80%.
    assert np.isnan(bands.cqr_margins(quantiles, actual, levels=(80,))[80.0])
    # At 50%: the ceil(4 * 0.5) = 2nd smallest.
    np.testing.assert_allclose(bands.cqr_margins(quantiles, actual, levels=(50,))[50.0], scores[1])
    band = bands.QuantileBand({"auto": np.zeros((2, 3))}, 0.01, {80: 0.05, 95: np.nan})
    back = bands.QuantileBand.from_json(band.to_json(), 0.01)
    assert back.margins[80.0] == 0.05 and np.isnan(back.margins[95.0])
    np.testing.assert_array_equal(back.residuals["auto"], band.residuals["auto"])


@pytest.fixture(scope="module")
def model():
    prices = jl.evaluation.seasonal(300, period=12, seed=1).prices
    settings = dict(architecture="esrnn", season_length=12, encoding="log", hidden_size=4, epochs=10)
    return jl.LSTMForecaster(**settings, direct_steps=4, band="quantile").fit(prices)


def test_forecast_levels_come_from_the_heads(model, tmp_path):
    assert model.model_config.output_size == 4 * 5
    fc = model.forecast(steps=4, level=[80, 95])
    assert fc.band == "quantile heads"
    lo80, hi80 = fc.levels[80]
    lo95, hi95 = fc.levels[95]
    assert np.all(lo95 <= lo80) and np.all(lo80 <= fc.predicted) and np.all(fc.predicted <= hi80)
    assert np.all(hi80 <= hi95)
    # The heads, read independently: the network's rows decoded to prices.
    state = model.model_inputs.device_state(model.encoding_state_, model.feature_state_)
    window = jnp.asarray(model.forecast_window(), jnp.float32)
    rows = model.model_config.apply(model.params_, model.model_inputs.encode(state, window)).reshape(5, 4)
    prices = np.asarray(jax.vmap(lambda r: model.model_inputs.encoding.decode(state["encoding"], window, r))(rows))
    np.testing.assert_allclose(prices[0], fc.predicted, rtol=1e-5)
    m80, m95 = model.band_.margins[80.0], model.band_.margins[95.0]
    want_lo80 = np.minimum(fc.predicted, prices[1:3].min(axis=0) * np.exp(-m80))
    np.testing.assert_allclose(lo80, want_lo80, rtol=1e-5)
    want_hi95 = np.maximum.reduce(
        [fc.predicted, prices[1:3].max(axis=0) * np.exp(m80), prices[3:].max(axis=0) * np.exp(m95)]
    )
    np.testing.assert_allclose(hi95, want_hi95, rtol=1e-5)
    # Other levels: the adaptive conformal band it falls back on.
    assert "conformal" in model.forecast(steps=4, confidence=0.5).band
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "q"))
    np.testing.assert_array_equal(loaded.forecast(steps=4, level=[80, 95]).levels[80][1], hi80)


def test_quantile_band_needs_a_direct_head():
    with pytest.raises(ValueError, match="band='quantile' needs direct_steps"):
        jl.LSTMForecaster(band="quantile")
    with pytest.raises(ValueError, match="band must be one of"):
        jl.LSTMForecaster(band="quantiles")

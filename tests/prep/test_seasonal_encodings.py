"""The new encodings against their formulas, classical decomposition against a textbook loop, and the poisoned future."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src.nn.lstm import config_of
from jaxlstm._src.prep import encodings


def _decompose_reference(x, m, kind):
    """Classical decomposition written as in Brockwell & Davis / R's decompose(), one value at a time."""
    n = len(x)
    trend = np.full(n, np.nan)
    half = m // 2
    for t in range(half, n - half):
        if m % 2:
            trend[t] = np.mean(x[t - half : t + half + 1])
        else:
            trend[t] = (0.5 * x[t - half] + np.sum(x[t - half + 1 : t + half]) + 0.5 * x[t + half]) / m
    ratio = x / trend if kind == "multiplicative" else x - trend
    raw = np.array([np.nanmean(ratio[p::m]) for p in range(m)])
    return raw / raw.mean() if kind == "multiplicative" else raw - raw.mean()


@pytest.mark.parametrize("m", [2, 3, 4, 7, 12])
@pytest.mark.parametrize("kind", encodings.SEASON_KINDS)
def test_seasonal_indices_match_classical_decomposition(m, kind):
    rng = np.random.default_rng(m)
    t = np.arange(5 * m + 3)
    x = (50 + t) * (1 + 0.2 * np.cos(2 * np.pi * t / m)) + rng.normal(0, 1, t.size)
    np.testing.assert_allclose(encodings.seasonal_indices(x, m, kind), _decompose_reference(x, m, kind), rtol=1e-12)


def test_seasonal_indices_recover_a_known_season():
    m = 12
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(m) / m)
    season /= season.mean()
    x = 100.0 * np.tile(season, 10)
    np.testing.assert_allclose(encodings.seasonal_indices(x, m), season, rtol=1e-12)
    np.testing.assert_allclose(encodings.seasonal_indices(x, m, "additive"), 100 * (season - 1), atol=1e-9)


def test_seasonal_indices_refuse_bad_input():
    with pytest.raises(ValueError, match="at least two seasons"):
        encodings.seasonal_indices(np.ones(23), 12)
    with pytest.raises(ValueError, match="positive for a multiplicative season"):
        encodings.seasonal_indices(np.r_[np.ones(23), -1.0], 12)
    with pytest.raises(ValueError, match="kind must be one of"):
        encodings.seasonal_indices(np.ones(24), 12, "stl")
    with pytest.raises(TypeError, match="base must be a non-seasonal Encoding"):
        encodings.SeasonalEncoding(encodings.SeasonalEncoding())


def test_log_and_window_encodings_follow_their_formulas():
    train = np.array([10.0, 20.0, 30.0, 90.0])
    log_state = encodings.fit_state(encodings.LogEncoding(), train)
    assert log_state["center"] == pytest.approx(np.exp(np.mean(np.log(train))))
    assert log_state["log_scale"] == pytest.approx(np.std(np.log(train)))
    window_state = encodings.fit_state(encodings.WindowEncoding(), train)
    assert window_state == encodings.fit_state(encodings.RelativeEncoding(), train)
    w = jnp.asarray([[10.0, 30.0]])
    got = np.asarray(encodings.WindowEncoding().encode_inputs(encodings.device_state(window_state), w))[..., 0]
    spread = np.std(np.diff(np.log(train)))
    np.testing.assert_allclose(got, np.log(np.array([[10.0, 30.0]]) / 20.0) / spread, rtol=1e-6)
    assert encodings.get_encoding("log").pipelined and not encodings.get_encoding("window").pipelined


def _seasonal_series(n, m=7, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 * np.exp(0.001 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / m)) * np.exp(rng.normal(0, 0.01, n))


def test_seasonal_encoding_removes_the_season_from_inputs():
    m, x = 7, _seasonal_series(70)
    enc = encodings.SeasonalEncoding(encodings.get_encoding("minmax"), m)
    state = encodings.device_state(encodings.fit_state(enc, x))
    # A window ending at index e has end phase e mod 7 (x[0] is at phase 0).
    ends = np.arange(14, 60)
    windows = jnp.asarray(np.stack([x[e - 13 : e + 1] for e in ends]))
    flat = np.asarray(enc.deseasonalise(state, windows, ends % m))
    raw_spread = np.std(np.diff(np.log(x)))
    assert np.std(np.diff(np.log(flat), axis=1)) < raw_spread / 4
    # The same windows with wrong phases keep (and double) the season.
    wrong = np.asarray(enc.deseasonalise(state, windows, (ends + 3) % m))
    assert np.std(np.diff(np.log(wrong), axis=1)) > raw_spread


def test_poisoned_future_does_not_move_the_fitted_encodings():
    x = _seasonal_series(120)
    cut = 84
    poisoned = x.copy()
    poisoned[cut:] = np.random.default_rng(9).uniform(1, 1e6, x.size - cut)
    seasonal = [encodings.SeasonalEncoding(season_length=7, method=method) for method in encodings.SEASON_METHODS]
    for enc in (*encodings.ENCODINGS.values(), *seasonal):
        # What a forecaster passes to fit: the training part before its cut.
        assert encodings.fit_state(enc, poisoned[:cut]) == encodings.fit_state(enc, x[:cut]), enc


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_forecast_prices_with_a_seasonal_encoding_matches_a_price_space_loop():
    m, x = 7, _seasonal_series(60)
    enc = encodings.SeasonalEncoding(encodings.WindowEncoding(), m)
    with jax.enable_x64(True):
        state = encodings.device_state(encodings.fit_state(enc, x), jnp.float64)
        params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4), dtype=jnp.float64)
        cfg = config_of(params)
        windows = jnp.asarray(np.stack([x[:20], x[5:25]]))
        end_phase = np.array([19, 24]) % m
        got = np.asarray(encodings.forecast_prices(cfg, params, enc, state, windows, 5, end_phase=end_phase))
        # Reference: re-encode each window around its own phase, one step at a time.
        want = []
        for start, p in zip(np.asarray(windows), end_phase, strict=True):
            w, out = start.copy(), []
            for k in range(5):
                y = cfg.apply(params, enc.encode_inputs(state, jnp.asarray(w), end_phase=p + k))
                nxt = float(enc.decode(state, jnp.asarray(w), y[:1], end_phase=p + k)[0])
                out.append(nxt)
                w = np.r_[w[1:], nxt]
            want.append(out)
    np.testing.assert_allclose(got, np.array(want), rtol=1e-10)
    with pytest.raises(TypeError, match="end_phase"):
        encodings.forecast_prices(cfg, params, enc, state, windows, 5)


def test_loess_matches_weighted_least_squares_point_by_point():
    rng = np.random.default_rng(4)
    y, w, span = rng.normal(size=40).cumsum(), rng.uniform(0.2, 1.0, 40), 9
    got = encodings._loess(y, w, span)
    want = []
    for i in range(40):
        start = min(max(i - span // 2, 0), 40 - span)
        index = np.arange(start, start + span)
        reach = max(np.abs(index - i).max(), 1.0) * 1.000001
        tricube = (1 - (np.abs(index - i) / reach) ** 3) ** 3
        # np.polyfit weights multiply the residuals: the square root of the regression weights.
        slope, intercept = np.polyfit(index, y[index], 1, w=np.sqrt(tricube * w[index]))
        want.append(slope * i + intercept)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_stl_recovers_a_season_on_a_line_and_shrugs_off_outliers():
    m = 12
    season = np.sin(2 * np.pi * np.arange(m) / m) + 0.5 * (np.arange(m) == 3)
    season -= season.mean()
    t = np.arange(10 * m)
    clean = 50 + 0.3 * t + season[t % m]
    np.testing.assert_allclose(encodings.seasonal_indices(clean, m, "additive", "stl"), season, atol=1e-3)
    spiked = clean + np.random.default_rng(0).normal(0, 0.1, t.size)
    stl_noise = np.abs(encodings.seasonal_indices(spiked, m, "additive", "stl") - season).max()
    spiked[[5, 40, 77]] += 60.0
    stl_error = np.abs(encodings.seasonal_indices(spiked, m, "additive", "stl") - season).max()
    classical_error = np.abs(encodings.seasonal_indices(spiked, m, "additive") - season).max()
    # Three spikes of 600 noise spreads: STL's season moves little beyond the noise's share, the classical one by ~10.
    assert stl_error < 2 * stl_noise + 0.05 and classical_error > 5
    positive = np.exp(0.01 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / m))
    multiplicative = encodings.seasonal_indices(positive, m, "multiplicative", "stl")
    assert multiplicative.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(multiplicative, encodings.seasonal_indices(positive, m), rtol=0.02)


@pytest.mark.slow  # compiles the encoding's programs
@pytest.mark.parametrize("start", [0, 5])
def test_model_inputs_read_each_windows_phase_from_its_positions_and_invert_exactly(start):
    # A series numbered from ``start``: the state is keyed by position mod m, so windows
    # anywhere in it encode and decode with the phases of their own positions.
    from jaxlstm._src.prep import inputs as inputs_lib

    m, n, length, steps = 4, 48, 6, 3
    t = np.arange(n)
    prices = 100 * (1 + 0.2 * np.sin(2 * np.pi * (t + start) / m)) * np.exp(0.001 * t)
    series = np.column_stack([prices, t + start])
    inputs = inputs_lib.ModelInputs(
        ("close",), encodings.SeasonalEncoding(encodings.RelativeEncoding(), m), length, position=True
    )
    state_, _ = inputs.fit(series)
    reference = encodings.SeasonalEncoding(encodings.RelativeEncoding(), m).fit(prices[(-start) % m :])
    # The same indices by phase as a fit whose first price is at phase 0.
    for j in range(m):
        assert state_[f"season_{j}"] == pytest.approx(reference[f"season_{j}"], rel=1e-3)
    state = inputs.device_state(state_, {})
    origins = np.arange(length, n - steps)
    windows = np.stack([series[o - length : o] for o in origins]).astype(np.float32)
    future = np.stack([prices[o : o + steps] for o in origins]).astype(np.float32)
    targets = inputs.encode_targets(state, windows, future)
    np.testing.assert_allclose(np.asarray(inputs.decode(state, windows, targets)), future, rtol=2e-6)


@pytest.mark.parametrize(
    ("encoding", "m"),
    [
        (encodings.SeasonalEncoding(encodings.RelativeEncoding(), 4), 4),
        (encodings.SeasonalEncoding(encodings.RelativeEncoding(), 12), 12),
        (encodings.SeasonalEncoding(encodings.LogEncoding(), 7, "additive"), 7),
        (encodings.SeasonalEncoding(encodings.RelativeEncoding(), 100), 100),
        (encodings.RelativeEncoding(), 1),
    ],
)
def test_the_shared_seasonal_form_computes_what_the_encoding_does(encoding, m):
    # Models of any season share one program through this form: it must give the very values
    # of the encoding it stands for, at every phase, encoding, targets and decoding alike.
    from jaxlstm._src.prep import inputs as inputs_lib

    n, length, steps = 160, 9, 5
    t = np.arange(n)
    prices = 100 * (1 + 0.2 * np.sin(2 * np.pi * t / max(m, 2))) * np.exp(0.002 * t)
    series = np.column_stack([prices, t + 3])
    inputs = inputs_lib.ModelInputs(("close",), encoding, length, position=True)
    state = inputs.device_state(*inputs.fit(series))
    shared, shared_state = inputs.shared(state)
    assert shared.encoding.season_length == encodings.shared_season_length(m) >= max(m, 64)
    assert float(shared_state["encoding"][encodings.SHARED_PERIOD]) == m
    origins = np.arange(length, n - steps)
    windows = np.stack([series[o - length : o] for o in origins]).astype(np.float32)
    future = np.stack([prices[o : o + steps] for o in origins]).astype(np.float32)
    for method, args in (("encode", ()), ("encode_targets", (future,))):
        expected = np.asarray(getattr(inputs, method)(state, windows, *args))
        np.testing.assert_array_equal(np.asarray(getattr(shared, method)(shared_state, windows, *args)), expected)
    y = inputs.encode_targets(state, windows, future)
    np.testing.assert_array_equal(np.asarray(shared.decode(shared_state, windows, y)), inputs.decode(state, windows, y))


def test_seasons_up_to_the_shared_length_give_one_static_form_and_longer_ones_a_power_of_two():
    from jaxlstm._src.prep import inputs as inputs_lib

    def static(encoding):
        inputs = inputs_lib.ModelInputs(("close",), encoding, 6, position=True)
        fitted = inputs.fit(np.column_stack([np.linspace(100, 120, 400), np.arange(400)]))
        return inputs.shared(inputs.device_state(*fitted))[0]

    found = {static(encodings.SeasonalEncoding(encodings.RelativeEncoding(), m)) for m in (2, 4, 7, 12, 24, 52, 64)}
    assert found == {static(encodings.RelativeEncoding())}  # no season too: one program
    assert [encodings.shared_season_length(m) for m in (1, 64, 65, 168)] == [64, 64, 128, 256]
    assert static(encodings.SeasonalEncoding(encodings.RelativeEncoding(), 12, "additive")) not in found
    # Windows without positions have no season to share: unchanged.
    plain = inputs_lib.ModelInputs(("close",), encodings.RelativeEncoding(), 6)
    state = plain.device_state(*plain.fit(np.linspace(100, 120, 50)))
    assert plain.shared(state) == (plain, state)

"""Candle features: values by hand and against pandas, warm-ups, causality and finite memory, bad inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlstm._src.prep import features as F
from jaxlstm._src.prep.features import FEATURE_NAMES
from jaxlstm.data import FEATURE_SETS, FEATURES, compute_features


def _candles(n, seed=0):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal(n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * np.exp(np.abs(0.005 * rng.standard_normal(n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(0.005 * rng.standard_normal(n)))
    volume = np.exp(3 + rng.standard_normal(n))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


_compute = jax.jit(compute_features, static_argnums=0)


def _all(columns, names=tuple(FEATURES)):
    """The features in float64 (compiled once per shape)."""
    with jax.enable_x64(True):
        return np.asarray(_compute(names, {k: jnp.asarray(v, jnp.float64) for k, v in columns.items()}))


def test_values_by_hand():
    columns = {
        "open": np.array([10.0, 10.0, 11.0]),
        "high": np.array([12.0, 11.0, 12.0]),
        "low": np.array([9.0, 10.0, 10.0]),
        "close": np.array([10.0, 11.0, 12.0]),
        "volume": np.array([0.0, np.e - 1, 3.0]),
    }
    one = lambda name: _all(columns, (name,))[:, 0]
    with jax.enable_x64(True):
        np.testing.assert_allclose(one("log_return"), [np.nan, np.log(1.1), np.log(12 / 11)])
        # Zero volume is log(1 + 0) = 0, not -inf.
        np.testing.assert_allclose(one("volume"), [0.0, 1.0, np.log(4.0)])
        np.testing.assert_allclose(one("range"), [np.log(12 / 9), np.log(1.1), np.log(1.2)])
        np.testing.assert_allclose(one("body"), [0.0, np.log(1.1), np.log(12 / 11)])
        # Two gains of 1 over a 2-change RSI: 100; a fall of 1 and a rise of 2: 100 * 1 / (1 + 0.5) (means of 2).
        np.testing.assert_allclose(F.rsi(jnp.asarray([10.0, 11.0, 12.0]), 2), [np.nan, np.nan, 100.0])
        np.testing.assert_allclose(F.rsi(jnp.asarray([10.0, 9.0, 11.0]), 2), [np.nan, np.nan, 100 * 2 / 3])
        # A flat window has no gains and no losses: RSI 50, Bollinger position 0, volatility 0.
        flat = jnp.full(30, 5.0)
        assert float(F.rsi(flat)[-1]) == 50.0 and float(F.bollinger_position(flat)[-1]) == 0.0
        assert float(F.rolling_volatility(flat)[-1]) == 0.0


def test_against_pandas():
    c = _candles(300, seed=1)
    out = _all(c)
    close = pd.Series(c["close"])
    got = {name: out[:, i] for i, name in enumerate(FEATURES)}

    def same(name, expected):
        w = FEATURES[name].warmup
        assert np.isnan(got[name][:w]).all() and np.isfinite(got[name][w:]).all(), name
        np.testing.assert_allclose(got[name][w:], np.asarray(expected)[w:], rtol=1e-9, atol=1e-12, err_msg=name)

    returns = np.log(close).diff()
    same("log_return", returns)
    same("volatility", returns.rolling(20).std())
    diff = close.diff()
    gains, losses = diff.clip(lower=0).rolling(14).mean(), (-diff).clip(lower=0).rolling(14).mean()
    same("rsi", 100 * gains / (gains + losses))
    same("bollinger", (close - close.rolling(20).mean()) / (2 * close.rolling(20).std(ddof=0)))
    level = np.log1p(pd.Series(c["volume"]))
    same("rel_volume", level - level.rolling(20).mean())

    # The truncated EMA of span n at t is pandas' ewm(span=n, adjust=False) over the last 3n values.
    def truncated_ema(series, span):
        window = 3 * span
        values = [np.nan] * (window - 1)
        for t in range(window - 1, len(series)):
            values.append(series.iloc[t - window + 1 : t + 1].ewm(span=span, adjust=False).mean().iloc[-1])
        return pd.Series(values)

    log_close = np.log(close)
    line = truncated_ema(log_close, 12) - truncated_ema(log_close, 26)
    same("macd", line)
    signal = truncated_ema(line.iloc[77:].reset_index(drop=True), 9)
    same("macd_hist", line - pd.concat([pd.Series([np.nan] * 77), signal]).reset_index(drop=True))


def test_truncated_ema_is_close_to_the_infinite_one():
    x = pd.Series(np.random.default_rng(2).normal(size=400)).cumsum()
    with jax.enable_x64(True):
        ours = np.asarray(F.ema(jnp.asarray(x.to_numpy()), 12))
    full = x.ewm(span=12, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(ours[100:], full[100:], atol=0.01 * np.std(np.diff(x)) * 10)
    np.testing.assert_allclose(F.ema_weights(12).sum(), 1.0)


def test_unknown_features_and_missing_columns_are_named():
    # compute_features raised a bare KeyError('nosuch') for either.
    close = np.linspace(1.0, 2.0, 30)
    with pytest.raises(ValueError, match=r"features has unknown feature\(s\) \['nosuch'\]; known: \("):
        compute_features(["rsi", "nosuch"], {"close": close})
    with pytest.raises(ValueError, match=r"columns lacks \['volume'\], which \['rsi', 'volume'\] read"):
        compute_features(("rsi", "volume"), {"close": close})


def test_warmups_are_what_the_functions_need():
    c = _candles(200, seed=3)
    out = _all(c)
    for i, (name, feature) in enumerate(FEATURES.items()):
        first_valid = int(np.flatnonzero(np.isfinite(out[:, i]))[0])
        assert first_valid == feature.warmup, name


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(min_value=1, max_value=149), seed=st.integers(0, 2**16), shift=st.floats(-0.5, 0.5))
def test_a_feature_at_t_never_changes_when_later_candles_change(cut, seed, shift):
    c = _candles(150, seed=7)
    rng = np.random.default_rng(seed)
    changed = {k: v.copy() for k, v in c.items()}
    # Everything from `cut` on moves: later prices scale by random factors, later volumes are redrawn.
    factor = np.exp(shift + 0.02 * rng.standard_normal(150 - cut))
    for k in ("open", "high", "low", "close"):
        changed[k][cut:] *= factor
    changed["volume"][cut:] = rng.exponential(50.0, 150 - cut)
    np.testing.assert_array_equal(_all(c)[:cut], _all(changed)[:cut])


@pytest.mark.parametrize("end", [104, 131, 150])
def test_a_feature_needs_only_its_warmup_of_history(end):
    # The last warmup + 1 candles give the value the whole series gives: what a forecast window relies on.
    c = _candles(150, seed=8)
    full = _all(c)
    for i, (name, feature) in enumerate(FEATURES.items()):
        window = {k: v[end - 1 - feature.warmup : end] for k, v in c.items()}
        np.testing.assert_allclose(_all(window, (name,))[-1, 0], full[end - 1, i], rtol=1e-12, atol=1e-15, err_msg=name)


def test_jit_and_float32():
    c = _candles(120, seed=4)
    out = jax.jit(compute_features, static_argnums=0)(tuple(FEATURES), c)
    assert out.shape == (120, len(FEATURES)) and out.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out)[103:], _all(c)[103:], rtol=2e-3, atol=1e-5)


def test_names_columns_and_sets():
    assert FEATURE_NAMES[0] == "close" and set(FEATURE_SETS["indicators"]) == set(FEATURE_NAMES)
    assert F.required_columns(("close",)) == ("close",)
    assert F.required_columns(("rsi", "volume", "range", "close")) == ("close", "high", "low", "volume")
    assert F.required_columns(("body",)) == ("close", "open")
    assert F.warmup(("close",)) == 0 and F.warmup(("close", "rsi", "macd")) == 77
    assert F.longest_warmup(FEATURE_NAMES) == "macd_hist" and F.longest_warmup(("close", "volume")) is None
    assert F.check_features(["close", "rsi"]) == ("close", "rsi")


@pytest.mark.parametrize(
    ("features", "error", "match"),
    [
        ("close", TypeError, "sequence of feature names"),
        ((), ValueError, "at least one"),
        (("close", "obv"), ValueError, "unknown feature 'obv'"),
        (("close", "rsi", "rsi"), ValueError, r"\['rsi'\] more than once"),
        ((1,), ValueError, "unknown feature 1"),
    ],
)
def test_bad_feature_lists(features, error, match):
    with pytest.raises(error, match=match):
        F.check_features(features)


@pytest.mark.parametrize(("volume", "match"), [(np.nan, "volume nan at row 3"), (-1.0, "volume -1.0 at row 3")])
def test_bad_volume_names_the_feature(volume, match):
    values = np.ones((6, 2))
    values[3, 1] = volume
    with pytest.raises(ValueError, match=f"feature 'rel_volume' needs a finite volume.*{match}"):
        F.check_values(("close", "rel_volume", "volume"), ("close", "volume"), values)
    F.check_values(("close", "rsi"), ("close",), values[:, :1])  # no volume read: nothing to check

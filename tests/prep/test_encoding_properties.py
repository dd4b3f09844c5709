"""Properties of the encodings: ``decode`` is the exact inverse of ``encode_targets`` for any prices.

Checked in float64 (where "exact" means to a few ulps of the prices involved) for every
named encoding and the seasonal one over prices spanning many orders of magnitude, windows of any length, one or
several future steps, and fitted states from any positive training series.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxlstm._src.prep import encodings

PRICE = st.floats(1e-4, 1e8)


@pytest.mark.slow  # 100 examples of encode and decode: the quick tier stays under 90 s
@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(sorted(encodings.ENCODINGS)),
    train=hnp.arrays(np.float64, st.integers(1, 40), elements=PRICE),
    # Few distinct shapes: every new shape compiles the encodings' operations again.
    windows=hnp.arrays(np.float64, st.tuples(st.sampled_from([1, 3]), st.sampled_from([1, 2, 12])), elements=PRICE),
    steps=st.sampled_from([1, 4]),
    data=st.data(),
)
def test_decode_inverts_encode_targets(name, train, windows, steps, data):
    future = data.draw(hnp.arrays(np.float64, (windows.shape[0], steps), elements=PRICE))
    enc = encodings.get_encoding(name)
    state = encodings.fit_state(enc, train)
    assert all(np.isfinite(v) and v > 0 for k, v in state.items() if k != "data_min")
    with jax.enable_x64(True):
        device = encodings.device_state(state, jnp.float64)
        w, f = jnp.asarray(windows), jnp.asarray(future)
        targets = enc.encode_targets(device, w, f)
        assert targets.shape == future.shape and bool(jnp.all(jnp.isfinite(targets)))
        back = np.asarray(enc.decode(device, w, targets))
        inputs = np.asarray(enc.encode_inputs(device, w))
    assert inputs.shape == (*windows.shape, 1) and np.all(np.isfinite(inputs))
    if name == "minmax":
        # y * range + min after (p - min) / range: the rounding is relative to the larger of p and the scale.
        scale = np.maximum(future, abs(state["data_min"]) + state["data_range"])
        np.testing.assert_array_less(np.abs(back - future), 8 * np.finfo(np.float64).eps * scale)
    else:
        # a * exp(log(p / a)) around an anchor a: the rounding grows with the size of the log ratio.
        anchor = {
            "relative": windows[:, -1:],
            "window": windows.mean(axis=1, keepdims=True),
            "log": np.full((1, 1), state.get("center", 1.0)),
        }[name]
        ratio = np.abs(np.log(future / anchor)) + 1
        np.testing.assert_array_less(np.abs(back - future), 8 * np.finfo(np.float64).eps * ratio * future)


@settings(max_examples=60, deadline=None)
@given(train=hnp.arrays(np.float64, st.integers(1, 40), elements=PRICE), factor=st.floats(1e-3, 1e3))
def test_relative_state_is_scale_free_and_minmax_state_scales(train, factor):
    relative = encodings.fit_state(encodings.RelativeEncoding(), train)
    scaled = encodings.fit_state(encodings.RelativeEncoding(), train * factor)
    # Near the 1e-9 floor (a constant series) rounding noise decides which side a spread lands on.
    assume(min(relative["log_return_std"], scaled["log_return_std"]) > 1e-6)
    np.testing.assert_allclose(scaled["log_return_std"], relative["log_return_std"], rtol=1e-6, atol=1e-9)
    minmax = encodings.fit_state(encodings.MinMaxEncoding(), train)
    assert minmax["data_min"] == train.min()
    assert minmax["data_range"] == (train.max() - train.min() or 1.0)


@pytest.mark.slow  # 60 examples of a seasonal encode and decode: the quick tier stays under 90 s
@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(encodings.SEASON_KINDS),
    method=st.sampled_from(encodings.SEASON_METHODS),
    base=st.sampled_from(sorted(encodings.ENCODINGS)),
    m=st.sampled_from([2, 4, 7]),
    level=st.floats(10.0, 1e6),
    amplitude=st.floats(0.0, 0.3),
    phase=st.integers(-20, 20),
    data=st.data(),
)
def test_seasonal_decode_inverts_encode_targets(kind, method, base, m, level, amplitude, phase, data):
    train = (
        level
        * (1 + amplitude * np.sin(2 * np.pi * np.arange(3 * m) / m))
        * np.exp(data.draw(hnp.arrays(np.float64, 3 * m, elements=st.floats(-0.1, 0.1))))
    )
    windows = data.draw(hnp.arrays(np.float64, (2, 5), elements=st.floats(level / 2, level * 2)))
    future = data.draw(hnp.arrays(np.float64, (2, 3), elements=st.floats(level / 2, level * 2)))
    enc = encodings.SeasonalEncoding(encodings.get_encoding(base), m, kind, method)
    state = encodings.fit_state(enc, train)
    end_phase = np.array([phase, phase + 3])
    with jax.enable_x64(True):
        device = encodings.device_state(state, jnp.float64)
        w, f = jnp.asarray(windows), jnp.asarray(future)
        targets = enc.encode_targets(device, w, f, end_phase=end_phase)
        back = np.asarray(enc.decode(device, w, targets, end_phase=end_phase))
        inputs = np.asarray(enc.encode_inputs(device, w, end_phase=end_phase))
    assert inputs.shape == (2, 5, 1) and np.all(np.isfinite(inputs))
    # The base's rounding (log ratios of at most log 4, or min-max around the level) and one more division.
    np.testing.assert_allclose(back, future, rtol=64 * np.finfo(np.float64).eps)

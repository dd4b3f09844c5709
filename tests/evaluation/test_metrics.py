"""Tests for jaxlstm.metrics: hand-computed values, properties, jit, bad inputs."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from compilations import counted
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxlstm import metrics

# One small forecast whose errors y_true - y_pred are [-1, 2, 0, -3].
Y_TRUE = np.array([100.0, 102.0, 101.0, 105.0])
Y_PRED = np.array([101.0, 100.0, 101.0, 108.0])
Y_TRAIN = np.array([98.0, 99.0, 97.0, 100.0])
LOWER = np.array([100.0, 101.0, 100.0, 106.0])
UPPER = np.array([101.0, 103.0, 101.0, 110.0])


def close(actual, expected, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol, atol=1e-6)


# ----------------------------------------------------------------- hand-computed values


def test_mae_hand_computed():
    # (1 + 2 + 0 + 3) / 4
    close(metrics.mae(Y_TRUE, Y_PRED), 1.5)


def test_rmse_hand_computed():
    # sqrt((1 + 4 + 0 + 9) / 4) = sqrt(3.5)
    close(metrics.rmse(Y_TRUE, Y_PRED), 1.8708286933869707)


def test_mape_hand_computed():
    # 100 / 4 * (1/100 + 2/102 + 0/101 + 3/105)
    close(metrics.mape(Y_TRUE, Y_PRED), 1.4544817927170868)


def test_smape_hand_computed():
    # 200 / 4 * (1/201 + 2/202 + 0/202 + 3/213)
    close(metrics.smape(Y_TRUE, Y_PRED), 1.4480310759686439)


def test_smape_zero_over_zero_is_zero():
    # Step 0 is 0/0 (counts 0); step 1 is |0 - 2| / (0 + 2) = 1 -> 200 * 1 / 2.
    close(metrics.smape([0.0, 0.0], [0.0, 2.0]), 100.0)
    grad = jax.grad(lambda p: metrics.smape(np.zeros(2), p))(np.zeros(2, np.float32))
    assert np.all(np.isfinite(grad))


def test_mase_hand_computed():
    # In-sample naive MAE of [98, 99, 97, 100]: (1 + 2 + 3) / 3 = 2  ->  1.5 / 2.
    close(metrics.mase(Y_TRUE, Y_PRED, Y_TRAIN), 0.75)
    # Season 2: (|97 - 98| + |100 - 99|) / 2 = 1  ->  1.5 / 1.
    close(metrics.mase(Y_TRUE, Y_PRED, Y_TRAIN, season=2), 1.5)


def test_directional_accuracy_hand_computed():
    # Against 101: true moves [-1, +1, 0, +4], forecast moves [0, -1, 0, +7]; steps 2 and 3 agree.
    close(metrics.directional_accuracy(Y_TRUE, Y_PRED, 101.0), 0.5)


def test_interval_coverage_counts_closed_bounds():
    # 100 in [100, 101] and 101 in [100, 101] sit on a bound and count; 105 < 106 misses.
    close(metrics.interval_coverage(Y_TRUE, LOWER, UPPER), 0.75)


def test_mean_interval_width_hand_computed():
    # (1 + 2 + 1 + 4) / 4
    close(metrics.mean_interval_width(LOWER, UPPER), 2.0)


def test_pinball_loss_hand_computed():
    # d = [-1, 2, 0, -3]; q=0.9: [0.1, 1.8, 0, 0.3] -> 0.55; q=0.1: [0.9, 0.2, 0, 2.7] -> 0.95.
    close(metrics.pinball_loss(Y_TRUE, Y_PRED, 0.9), 0.55)
    close(metrics.pinball_loss(Y_TRUE, Y_PRED, 0.1), 0.95)


def test_integer_inputs_are_promoted():
    close(metrics.mae([1, 2, 3], [2, 2, 2]), 2.0 / 3.0)


# ----------------------------------------------------------------- batched [..., horizon]


def test_batched_inputs_reduce_over_last_axis():
    y_true = np.stack([Y_TRUE, Y_TRUE + 10.0])
    y_pred = np.stack([Y_PRED, Y_TRUE + 10.0])
    close(metrics.mae(y_true, y_pred), [1.5, 0.0])
    close(metrics.rmse(y_true, y_pred), [1.8708286933869707, 0.0])
    close(metrics.mase(y_true, y_pred, np.stack([Y_TRAIN, Y_TRAIN])), [0.75, 0.0])
    close(metrics.mase(y_true, y_pred, Y_TRAIN), [0.75, 0.0])
    close(metrics.directional_accuracy(y_true, y_pred, np.array([101.0, 111.0])), [0.5, 1.0])
    close(metrics.interval_coverage(y_true, np.stack([LOWER] * 2), np.stack([UPPER] * 2)), [0.75, 0.0])
    # Row one misses by d = y_true - y_pred = [-1, 2, 0, -3]; row two is exact.
    # quantile 0.5: half of |d|, mean (0.5 + 1 + 0 + 1.5) / 4.
    close(metrics.pinball_loss(y_true, y_pred, 0.5), [0.75, 0.0])
    # quantile 0.9: 0.9 * d above the forecast, 0.1 * |d| below, mean (0.1 + 1.8 + 0 + 0.3) / 4.
    close(metrics.pinball_loss(y_true, y_pred, 0.9), [0.55, 0.0])


# ----------------------------------------------------------------- jit


@pytest.mark.parametrize(
    "fn, args, static",
    [
        (metrics.mae, (Y_TRUE, Y_PRED), {}),
        (metrics.rmse, (Y_TRUE, Y_PRED), {}),
        (metrics.mape, (Y_TRUE, Y_PRED), {}),
        (metrics.smape, (Y_TRUE, Y_PRED), {}),
        (metrics.mase, (Y_TRUE, Y_PRED, Y_TRAIN), {"season": 2}),
        (metrics.directional_accuracy, (Y_TRUE, Y_PRED, 101.0), {}),
        (metrics.interval_coverage, (Y_TRUE, LOWER, UPPER), {}),
        (metrics.mean_interval_width, (LOWER, UPPER), {}),
        (metrics.pinball_loss, (Y_TRUE, Y_PRED), {"quantile": 0.9}),
    ],
)
def test_jit_matches_eager(fn, args, static):
    jitted = jax.jit(fn, static_argnames=tuple(static))
    close(jitted(*args, **static), fn(*args, **static))


_EVERY_METRIC = [
    (metrics.mae, (Y_TRUE, Y_PRED)),
    (metrics.rmse, (Y_TRUE, Y_PRED)),
    (metrics.mape, (Y_TRUE, Y_PRED)),
    (metrics.smape, (Y_TRUE, Y_PRED)),
    (metrics.mase, (Y_TRUE, Y_PRED, Y_TRAIN)),
    (metrics.directional_accuracy, (Y_TRUE, Y_PRED, 101.0)),
    (metrics.interval_coverage, (Y_TRUE, LOWER, UPPER)),
    (metrics.mean_interval_width, (LOWER, UPPER)),
    (metrics.winkler_score, (Y_TRUE, LOWER, UPPER)),
    (metrics.pinball_loss, (Y_TRUE, Y_PRED, 0.9)),
]


@pytest.mark.parametrize("fn, args", _EVERY_METRIC)
def test_numpy_in_numpy_out_in_float64_compiling_nothing(fn, args):
    # Scored op by op with jax.numpy, every new shape compiled about 25 small programs (a
    # backtest with a new count of origins: 0.6 s); numpy inputs now stay on the host.
    # Two forecasts; a scalar stays one (the quantile) or becomes one per forecast (the last price).
    keep = fn is metrics.pinball_loss
    batch = tuple(np.stack([a, a * 1.5]) if np.ndim(a) else a if keep else np.array([a, a * 1.5]) for a in args)
    with counted() as compiled:
        found = fn(*batch)
    assert not compiled, dict(compiled)
    assert isinstance(found, np.ndarray) and found.dtype == np.float64 and found.shape == (2,)
    # The same formula as the JAX path (float32 there).
    with_jax = fn(*(jax.numpy.asarray(a) for a in batch))
    assert isinstance(with_jax, jax.Array)
    np.testing.assert_allclose(found, np.asarray(with_jax), rtol=1e-6)


@pytest.mark.parametrize("bad", [["1.5", "2", "3", "4"], [None, 1.0, 2.0, 3.0], np.array([1 + 2j] * 4)])
def test_numpy_inputs_that_are_not_real_numbers_are_refused_naming_the_argument(bad):
    # numpy reads text as numbers and None as NaN: a score from them would be a quiet wrong answer.
    with pytest.raises(TypeError, match="y_pred must hold real numbers"):
        metrics.mae(Y_TRUE, bad)
    with pytest.raises(TypeError, match="upper must hold real numbers"):
        metrics.interval_coverage(Y_TRUE, LOWER, bad)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_numpy_inputs_that_are_not_finite_are_refused_naming_the_argument_and_index(bad):
    # mae([1, 1, 1], [1, nan, 1]) was nan: a NaN score that says nothing of where it came from.
    with pytest.raises(ValueError, match=r"y_pred must be finite, got (nan|inf|-inf) at index \(1,\)"):
        metrics.mae(np.ones(3), np.array([1.0, bad, 1.0]))
    with pytest.raises(ValueError, match=r"y_true must be finite, got .* at index \(1, 0\)"):
        metrics.rmse(np.array([[1.0, 2.0], [bad, 1.0]]), np.ones((2, 2)))
    with pytest.raises(ValueError, match="lower must be finite"):
        metrics.interval_coverage(Y_TRUE, np.where(np.arange(Y_TRUE.shape[-1]) == 0, bad, LOWER), UPPER)


def test_a_jax_input_keeps_the_metric_differentiable():
    pred = Y_PRED + 0.5  # no step exact: |t - p| has a kink there
    grad = jax.grad(lambda p: metrics.mae(Y_TRUE, p))(jax.numpy.asarray(pred))
    close(grad, -np.sign(Y_TRUE - pred) / 4)  # d/dp mean|t - p|


def test_pinball_loss_accepts_traced_quantile():
    value = jax.jit(metrics.pinball_loss)(Y_TRUE, Y_PRED, 0.9)
    close(value, 0.55)


# ----------------------------------------------------------------- properties

_values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32)
_positive = st.floats(min_value=1.0, max_value=1e3, allow_nan=False, width=32)


@st.composite
def _pairs(draw, elements=_values):
    n = draw(st.sampled_from([1, 3, 8]))
    a = draw(hnp.arrays(np.float32, n, elements=elements))
    b = draw(hnp.arrays(np.float32, n, elements=elements))
    return a, b


@settings(max_examples=30, deadline=None)
@given(_pairs())
def test_mae_at_most_rmse(pair):
    y_true, y_pred = pair
    assert float(metrics.mae(y_true, y_pred)) <= float(metrics.rmse(y_true, y_pred)) * (1 + 1e-5) + 1e-4


@settings(max_examples=30, deadline=None)
@given(_pairs())
def test_pinball_at_median_is_half_mae(pair):
    y_true, y_pred = pair
    close(metrics.pinball_loss(y_true, y_pred, 0.5), float(metrics.mae(y_true, y_pred)) / 2, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(_pairs(), st.floats(min_value=0.01, max_value=0.99))
def test_pinball_is_nonnegative(pair, q):
    assert float(metrics.pinball_loss(*pair, q)) >= 0.0


@settings(max_examples=30, deadline=None)
@given(_pairs(), _values, _values)
def test_fractions_in_unit_interval(pair, a, b):
    y_true, y_pred = pair
    lower, upper = y_pred - abs(a), y_pred + abs(b)
    coverage = float(metrics.interval_coverage(y_true, lower, upper))
    direction = float(metrics.directional_accuracy(y_true, y_pred, a))
    assert 0.0 <= coverage <= 1.0
    assert 0.0 <= direction <= 1.0


@settings(max_examples=30, deadline=None)
@given(_pairs())
def test_smape_bounded_and_symmetric(pair):
    y_true, y_pred = pair
    value = float(metrics.smape(y_true, y_pred))
    assert 0.0 <= value <= 200.0 + 1e-3
    close(metrics.smape(y_pred, y_true), value, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(_pairs(_positive))
def test_perfect_forecast_scores(pair):
    y_true, _ = pair
    for fn in (metrics.mae, metrics.rmse, metrics.mape, metrics.smape):
        assert float(fn(y_true, y_true)) == 0.0
    assert float(metrics.interval_coverage(y_true, y_true, y_true)) == 1.0
    assert float(metrics.mean_interval_width(y_true, y_true)) == 0.0


# ----------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: metrics.mae(Y_TRUE, Y_PRED[:3]), "y_pred"),
        (lambda: metrics.rmse(Y_TRUE[None], Y_PRED), "y_pred"),
        (lambda: metrics.mase(Y_TRUE, Y_PRED[:2], Y_TRAIN), "y_pred"),
        (lambda: metrics.mase(Y_TRUE, Y_PRED, np.ones((3, 5))), "y_train"),
        (lambda: metrics.directional_accuracy(Y_TRUE, Y_PRED, np.ones(4)), "last_observed"),
        (lambda: metrics.interval_coverage(Y_TRUE, LOWER, UPPER[:2]), "upper"),
        (lambda: metrics.interval_coverage(Y_TRUE, LOWER[:2], UPPER), "lower"),
        (lambda: metrics.mean_interval_width(LOWER, UPPER[:1]), "upper"),
        (lambda: metrics.pinball_loss(Y_TRUE, Y_PRED[:1], 0.5), "y_quantile"),
        (lambda: metrics.mae(1.0, 1.0), "y_true"),
        (lambda: metrics.mae(np.ones(0), np.ones(0)), "y_true"),
    ],
)
def test_shape_mismatch_names_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


def test_shape_mismatch_raises_under_jit():
    with pytest.raises(ValueError, match="y_pred"):
        jax.jit(metrics.mae)(Y_TRUE, Y_PRED[:3])


@pytest.mark.parametrize("q", [0.0, 1.0, -0.5, 1.5, float("nan")])
def test_quantile_outside_unit_interval(q):
    with pytest.raises(ValueError, match="quantile"):
        metrics.pinball_loss(Y_TRUE, Y_PRED, q)


def test_quantile_must_be_a_number():
    with pytest.raises(TypeError, match="quantile"):
        metrics.pinball_loss(Y_TRUE, Y_PRED, "0.5")
    with pytest.raises(ValueError, match="quantile"):
        metrics.pinball_loss(Y_TRUE, Y_PRED, np.array([0.1, 0.9]))


@pytest.mark.parametrize("season, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError)])
def test_season_below_one(season, error):
    with pytest.raises(error, match="season"):
        metrics.mase(Y_TRUE, Y_PRED, Y_TRAIN, season=season)


def test_training_series_shorter_than_season():
    with pytest.raises(ValueError, match="y_train.*season=4"):
        metrics.mase(Y_TRUE, Y_PRED, Y_TRAIN, season=4)


def test_winkler_score_by_hand():
    from jaxlstm.metrics import winkler_score

    y = np.array([[10.0, 10.0, 10.0]])
    lower = np.array([[9.0, 11.0, 8.0]])
    upper = np.array([[11.0, 12.0, 9.5]])
    # widths 2, 1, 1.5; misses 0, 1 (below), 0.5 (above); 2 / alpha = 40 at 95%.
    expected = np.mean([2.0, 1.0 + 40 * 1.0, 1.5 + 40 * 0.5])
    np.testing.assert_allclose(winkler_score(y, lower, upper, 0.95), [expected], rtol=1e-6)
    np.testing.assert_allclose(winkler_score(y, lower, upper, 0.5)[0], np.mean([2.0, 5.0, 3.5]), rtol=1e-6)
    with pytest.raises(ValueError, match="confidence"):
        winkler_score(y, lower, upper, 1.5)
    with pytest.raises(ValueError, match="upper"):
        winkler_score(y, lower, upper[:, :2])

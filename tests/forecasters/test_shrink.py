"""``shrink="auto"``: the weight toward the last price chosen by ``fit`` out of sample, used by every forecast and band."""

from __future__ import annotations

import math

import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src.forecasters import bands, shrinkage
from jaxlstm._src.prep import windows

# Enough training for the small network to learn a clean cycle (the lr is high for speed).
SMALL = dict(hidden_size=8, sequence_length=12, epochs=30, learning_rate=1e-2, shrink="auto")


def _walk(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))


def _sine(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return 100 + 10 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 0.3, n)


@pytest.fixture(scope="module")
def walk_model():
    return jl.LSTMForecaster(**SMALL).fit(_walk())


@pytest.fixture(scope="module")
def sine_model():
    return jl.LSTMForecaster(**SMALL).fit(_sine())


# ---------------------------------------------------------------------------- the rule, on known changes


def _rows(closes, d):
    """Residual rows ``y - d`` of forecasts whose predicted log change from each origin is ``d``."""
    y, _ = shrinkage.changes(closes, np.zeros_like(d))
    return y - d


def test_a_model_that_forecasts_the_realised_changes_keeps_weight_one():
    closes = _walk(400, 1)
    y, _ = shrinkage.changes(closes, np.zeros((200, 10)))
    found = shrinkage.fit_weight(closes, {"refit": np.where(np.isfinite(y), 0.0, np.nan)})
    assert found is not None and found.weight == 1.0 and found.t == np.inf


def test_predicted_changes_unrelated_to_the_outcome_shrink_to_naive():
    closes = _walk(400, 2)
    noise = np.random.default_rng(5).normal(0, 0.01, (200, 10))
    found = shrinkage.fit_weight(closes, {"refit": _rows(closes, noise)})
    assert found is not None and found.weight < 0.15


_LEGENDRE = np.polynomial.legendre.leggauss(200)


def _student_tail(t, df):
    """Independent of ``shrinkage.student_tail``: ``P(T > t) = I_x(df / 2, 1 / 2) / 2`` for ``x = df / (df + t^2)``, the incomplete beta by Gauss-Legendre quadrature (``u = s^2``)."""
    a, top = df / 2, math.sqrt(df / (df + t**2))
    nodes, weights = _LEGENDRE
    s = top * (nodes + 1) / 2
    integral = top / 2 * np.sum(weights * 2 * s ** (2 * a - 1) / np.sqrt(1 - s**2))
    return 0.5 * integral / math.exp(math.lgamma(a) + math.lgamma(0.5) - math.lgamma(a + 0.5))


def _above_one():
    return 0.5 * math.erfc(1 / math.sqrt(2))  # P(Z > 1) of a standard normal


def _quantile(tail, df):
    """Student's upper ``tail`` quantile by bisection on the quadrature reference."""
    lo, hi = 0.0, 50.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _student_tail(mid, df) > tail else (lo, mid)
    return lo


def _expected_weight(found):
    """The rule's weight from its coefficient, ``t`` and degrees of freedom, with the gate read from the references."""
    c = _quantile(_above_one(), math.floor(found.df))
    return min(found.coefficient, 1.0) * (1 - (c / found.t) ** 2) if found.t > c else 0.0


def test_the_coefficient_is_the_least_squares_weight_of_the_scored_triangles():
    closes = _walk(400, 3)
    y, _ = shrinkage.changes(closes, np.zeros((160, 40)))
    # Overconfident forecasts: 1.6 times the realised change, plus noise (least squares weight about 0.6).
    d = 1.6 * np.nan_to_num(y) + np.random.default_rng(1).normal(0, 0.01, y.shape)
    found = shrinkage.fit_weight(closes, {"refit": y - d})
    k = found.steps
    assert found is not None and k == 160 // shrinkage.TARGET_BLOCKS and found.blocks == 160 // k
    # Independent reference: least squares through the origin on every scored (origin, step),
    # listed one by one: the j-th origin of each block (blocks counted back from the last) on
    # its first k - j steps, so that no target lies past its block.
    start = 160 - found.blocks * k
    pairs = [(o, h) for o in range(start, 160) for h in range(k - (o - start) % k)]
    yy, dd = np.array([y[o, h] for o, h in pairs]), np.array([d[o, h] for o, h in pairs])
    beta = np.linalg.lstsq(dd[:, None], yy, rcond=None)[0][0]
    assert found.coefficient == pytest.approx(beta, rel=1e-10)
    assert found.weight == pytest.approx(_expected_weight(found), rel=1e-9)
    assert 0 < found.weight < 1


def test_a_model_that_forecasts_too_small_changes_is_capped_before_the_reliability_factor():
    closes = _walk(400, 9)
    y, _ = shrinkage.changes(closes, np.zeros((160, 40)))
    # Changes a tenth of the realised ones, plus noise: a least-squares weight far above 1.
    d = 0.1 * np.nan_to_num(y) + np.random.default_rng(4).normal(0, 0.003, y.shape)
    found = shrinkage.fit_weight(closes, {"refit": y - d})
    assert found is not None and found.coefficient > 2 and found.t > 1
    assert found.weight == pytest.approx(_expected_weight(found), rel=1e-9)


def test_the_held_back_tail_decides_and_the_head_refit_only_without_one():
    closes = _walk(400, 4)
    y, _ = shrinkage.changes(closes, np.zeros((200, 8)))
    good = np.where(np.isfinite(y), 0.0, np.nan)  # perfect forecasts
    bad = _rows(closes, np.random.default_rng(2).normal(0, 0.05, y.shape))
    # The model's own held-back forecasts are perfect, the head refit's are noise: the tail decides.
    assert shrinkage.fit_weight(closes, {"auto": good[160:], "refit": bad}).weight == 1.0
    assert shrinkage.fit_weight(closes, {"auto": bad[160:], "refit": good}).weight < 0.15
    # A band without a tail (calibration="refit") has only the head refit's.
    assert shrinkage.fit_weight(closes, {"refit": good}).weight == 1.0


def test_too_few_origins_leave_the_model_as_it_is():
    closes = _walk(50, 0)
    assert shrinkage.fit_weight(closes, {"auto": np.zeros((3, 5))}) is None
    assert shrinkage.fit_weight(closes, {}) is None


def test_shrunk_forecasts_and_residuals_agree():
    closes = _walk(200, 6)
    origins = np.arange(150, 200)
    last = closes[origins - 1]
    predicted = last[:, None] * np.exp(np.random.default_rng(3).normal(0, 0.02, (50, 6)))
    residuals = bands.origin_residuals(closes, origins, predicted)
    w = 0.37
    shrunk = shrinkage.shrink_forecasts(last, predicted, w)
    np.testing.assert_allclose(shrunk, last[:, None] * (predicted / last[:, None]) ** w, rtol=1e-12)
    expected = bands.origin_residuals(closes, origins, shrunk)
    np.testing.assert_allclose(
        shrinkage.shrunk_residuals(closes, {"auto": residuals}, w)["auto"], expected, rtol=1e-9, atol=1e-12
    )
    assert shrinkage.shrink_forecasts(last, predicted, 1.0) is predicted


def test_a_block_is_scored_on_its_own_price_moves_only():
    closes = _walk(400, 10)
    d = np.random.default_rng(6).normal(0, 0.01, (120, 30))
    length = 10
    y, _ = shrinkage.changes(closes, np.zeros_like(d))
    before = shrinkage.block_sums(y, d, length)
    # Prices after the end of the fourth of the twelve blocks move: the first four blocks' sums do not.
    cut = closes.size - 120 + 4 * length
    moved = closes.copy()
    moved[cut:] *= np.exp(np.random.default_rng(7).normal(0, 0.05, closes.size - cut))
    y, _ = shrinkage.changes(moved, np.zeros_like(d))
    after = shrinkage.block_sums(y, d, length)
    np.testing.assert_array_equal(before[0][:4], after[0][:4])
    np.testing.assert_array_equal(before[1], after[1])  # the predicted changes were not moved
    assert not np.any(np.isclose(before[0][4:], after[0][4:]))


def test_the_student_tail_and_its_normal_deviate_match_an_independent_reference():
    for df in (1, 2, 3, 4, 7, 10, 11):
        for t in (0.3, 1.0, 2.5, 6.0):
            assert shrinkage.student_tail(t, df) == pytest.approx(_student_tail(t, df), rel=1e-6)
            # The normal deviate of the same tail (a fractional df read as the whole one below).
            z = shrinkage.normal_equivalent(t, df + 0.5)
            assert 0.5 * math.erfc(z / math.sqrt(2)) == pytest.approx(_student_tail(t, df), rel=1e-6)
            assert shrinkage.normal_equivalent(-t, df) == -z
        assert shrinkage.critical_t(df + 0.5) == pytest.approx(_quantile(_above_one(), df), rel=1e-9)
    assert shrinkage.normal_equivalent(1.7, float("inf")) == 1.7 and shrinkage.critical_t(float("inf")) == 1.0


def test_the_degrees_of_freedom_fall_as_a_few_blocks_carry_the_weight():
    scores = np.random.default_rng(8).normal(size=8)
    assert shrinkage.cr2_variance(scores, np.ones(8))[2] == pytest.approx(7.0)
    assert shrinkage.cr2_variance(scores, np.array([1, 1, 1, 1, 1, 1, 1, 20.0]))[2] < 3
    # Equal blocks: CR2 is the usual unbiased variance of a mean of independent block ratios.
    _, variance, _ = shrinkage.cr2_variance(scores, np.ones(8))
    assert variance == pytest.approx(np.var(scores, ddof=1) / 8)


def test_when_one_block_carries_the_evidence_the_model_is_left_as_it_is():
    closes = _walk(400, 11)
    y, _ = shrinkage.changes(closes, np.zeros((120, 10)))
    d = np.random.default_rng(9).normal(0, 1e-4, y.shape)
    d[-10:] *= 300  # the last block's predicted changes dwarf the others': about one degree of freedom
    found = shrinkage.fit_weight(closes, {"auto": y - d})
    assert found is None
    d[-10:] /= 300
    assert shrinkage.fit_weight(closes, {"auto": y - d}).df > shrinkage.MIN_DF


def test_under_no_edge_the_weight_is_not_kept_by_luck_more_often_than_nominal():
    # A drift-only forecast on random walks (no edge): the normal deviate the rule reads should
    # exceed 1 and 2 as often as a standard normal does (0.159, 0.023). The square blocks with
    # one lag of Newey-West that the rule replaced gave 0.23 and 0.11 on these settings
    # (python -m benchmarks.shrink_checks null).
    rng = np.random.default_rng(0)
    walks = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (200, 600)), axis=1))
    d = np.broadcast_to(1e-3 * np.arange(1, 169), (58, 168))
    z = []
    for closes in walks:
        found = shrinkage.fit_weight(closes, {"auto": _rows(closes, d)})
        z.append(shrinkage.normal_equivalent(found.t, found.df))
    z = np.array(z)
    # Binomial sampling error over 200 walks: about 0.026 at 0.159 and 0.011 at 0.023.
    assert 0.09 < np.mean(z > 1) < 0.23 and np.mean(z > 2) < 0.055, (np.mean(z > 1), np.mean(z > 2))


# ---------------------------------------------------------------------------- the estimator


@pytest.mark.slow
def test_on_random_walks_the_default_model_is_shrunk_to_naive():
    # One walk's held-back tail is a few dozen origins: a model can look right by luck (a
    # drift-only forecast gets w > 0.5 on 8% of walks, README "Knowing when there is no
    # edge"), so the property is checked over eight walks fitted together.
    models = [jl.LSTMForecaster(shrink="auto") for _ in range(8)]
    jl.LSTMForecaster.fit_rows(models, [_walk(600, seed) for seed in range(8)])
    weights = np.array([m.shrink_weight for m in models])
    assert np.median(weights) < 0.1 and np.sum(weights > 0.5) <= 2, weights


def test_the_forecast_is_the_model_shrunk_by_its_weight(walk_model):
    forecast = walk_model.forecast(steps=6)
    last = walk_model.forecast_window()[-1]
    unshrunk = jl.LSTMForecaster(**{**SMALL, "shrink": None}).fit(_walk())
    raw = unshrunk.forecast(steps=6).predicted
    np.testing.assert_allclose(forecast.predicted, last * (raw / last) ** walk_model.shrink_weight, rtol=1e-6)


def test_on_a_clean_cycle_the_model_is_kept(sine_model):
    assert sine_model.shrink_ is not None and sine_model.shrink_.weight > 0.9 and sine_model.shrink_.t > 10


def test_the_band_is_calibrated_on_the_shrunk_forecasts(walk_model):
    prices = _walk()
    n = prices.shape[0]
    for source, found in walk_model.calibration_models_.items():
        saved = walk_model.band_.residuals[source]
        origins = np.arange(n - saved.shape[0], n)
        length = walk_model.window_length
        predicted = found.model.predict_windows(windows.windows_before(prices, origins, length), saved.shape[1])
        # Independent of the shrinkage code: the calibration model's own (shrunk) forecasts, scored again.
        np.testing.assert_allclose(saved, bands.origin_residuals(prices, origins, predicted), atol=1e-5, equal_nan=True)
    forecast = walk_model.forecast(steps=4)
    lower, upper, _ = walk_model.band_offsets(4)
    np.testing.assert_allclose(forecast.lower, forecast.predicted * np.exp(lower), rtol=1e-12)
    np.testing.assert_allclose(forecast.upper, forecast.predicted * np.exp(upper), rtol=1e-12)


def test_save_load_and_json_keep_the_weight_bit_for_bit(walk_model, tmp_path):
    walk_model.save(tmp_path / "m")
    for loaded in (jl.LSTMForecaster.load(tmp_path / "m"), jl.LSTMForecaster.from_json(walk_model.to_json())):
        assert loaded.shrink == "auto" and loaded.shrink_ == walk_model.shrink_
        a, b = loaded.forecast(steps=5), walk_model.forecast(steps=5)
        np.testing.assert_array_equal(a.predicted, b.predicted)
        np.testing.assert_array_equal(a.lower, b.lower)
        np.testing.assert_array_equal(a.upper, b.upper)


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_nothing_after_the_training_cut_moves_the_weight_or_the_forecast():
    prices = _walk(260, 7)
    t, steps = 220, 5
    poisoned = prices.copy()
    poisoned[t:] = 1e4 * (2 + np.sin(np.arange(prices.size - t)))  # a wild future
    results = [
        jl.evaluation.backtest(
            series, {"lstm": lambda: jl.LSTMForecaster(**SMALL)}, train_size=200, steps=steps, origins=[t]
        ).models["lstm"]
        for series in (prices, poisoned)
    ]
    for key in ("predicted", "lower", "upper"):
        np.testing.assert_array_equal(getattr(results[0], key), getattr(results[1], key))
    model = jl.LSTMForecaster(**SMALL).fit(prices[t - 200 : t])
    np.testing.assert_allclose(results[0].predicted[0], model.forecast(steps=steps).predicted, rtol=1e-6)
    # Newer prices handed over later move the origin, never the weight.
    before = model.shrink_
    model.observe(poisoned[t - 40 :])
    assert model.shrink_ == before


def test_no_shrink_is_the_model_as_it_was():
    prices = _walk(200, 8)
    plain = jl.LSTMForecaster(**{**SMALL, "shrink": None}).fit(prices)
    assert plain.shrink_ is None and plain.shrink_weight == 1.0
    assert jl.LSTMForecaster().shrink is None


@pytest.mark.parametrize("bad", ["yes", "Auto", 1, 0.5, True, ""])
def test_bad_shrink_values_are_refused(bad):
    with pytest.raises(ValueError, match="shrink"):
        jl.LSTMForecaster(shrink=bad)

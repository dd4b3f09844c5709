"""Tests for the prediction intervals: volatility band, split-conformal offsets and their use in forecast()."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlstm._src.evaluation.synthetic import mean_reverting, random_walk
from jaxlstm._src.forecasters import bands, intervals
from jaxlstm._src.forecasters.baselines import DriftForecaster, HybridForecaster, NaiveForecaster

# ----------------------------------------------------------------- volatility band


def test_volatility_offsets_match_band():
    predicted = np.array([100.0, 101.0, 102.0])
    lower, upper = intervals.volatility_band(predicted, 0.01, 0.95)
    lo, hi = intervals.volatility_offsets(3, 0.01, 0.95)
    half = 1.959963984540054 * 0.01 * np.sqrt([1.0, 2.0, 3.0])
    np.testing.assert_allclose(hi, half)
    np.testing.assert_allclose(lo, -half)
    np.testing.assert_allclose(lower, predicted * np.exp(-half))
    np.testing.assert_allclose(upper, predicted * np.exp(half))


# ----------------------------------------------------------------- conformal offsets


def test_min_residuals_is_the_smallest_sample_with_finite_ends():
    assert [intervals.min_residuals(c) for c in (0.5, 0.9, 0.95, 0.99)] == [3, 19, 39, 199]


def test_conformal_offsets_pick_the_finite_sample_ranks():
    # 99 residuals -49..49 per step; at 0.9 the ranks are floor(100 * 0.05) = 5 and ceil(100 * 0.95) = 95.
    column = np.arange(-49.0, 50.0)
    residuals = np.stack([np.random.default_rng(0).permutation(column) for _ in range(3)], axis=1) / 100
    lower, upper, method = intervals.conformal_offsets(residuals, 0.9, min_per_step=50)
    assert method == "conformal"
    np.testing.assert_allclose(lower, [-0.45] * 3)
    np.testing.assert_allclose(upper, [0.45] * 3)


def test_conformal_offsets_are_per_step_and_ignore_missing():
    residuals = np.full((60, 2), np.nan)
    residuals[:, 0] = np.linspace(-0.01, 0.01, 60)
    residuals[:55, 1] = np.linspace(-0.05, 0.05, 55)  # the last origins have no second step
    lower, upper, method = intervals.conformal_offsets(residuals, 0.9, min_per_step=50)
    assert method == "conformal"
    assert abs(upper[0]) < 0.011 and upper[1] > 0.04 and lower[1] < -0.04


def test_conformal_offsets_pool_scaled_scores_when_steps_are_short():
    # 30 origins per step is below min_per_step: each step's residuals are scaled by their RMS
    # and pooled, so the offsets follow each step's spread, whatever its shape over the horizon.
    rng = np.random.default_rng(1)
    spread = np.array([3.0, 1.0, 2.0, 4.0])
    residuals = rng.normal(size=(30, 4)) * spread
    lower, upper, method = intervals.conformal_offsets(residuals, 0.9, min_per_step=50)
    assert method == "conformal pooled over steps"
    rms = np.sqrt(np.mean(residuals**2, axis=0))
    np.testing.assert_allclose(upper / upper[0], rms / rms[0])
    np.testing.assert_allclose(lower / lower[0], rms / rms[0])
    assert 1.3 < upper[0] / rms[0] < 2.2  # a 95% quantile of roughly normal scores


def test_conformal_offsets_pooled_needs_every_step():
    residuals = np.random.default_rng(2).normal(size=(30, 3))
    residuals[:, 2] = np.nan
    assert intervals.conformal_offsets(residuals, 0.9) is None


def test_conformal_offsets_none_when_too_few():
    assert intervals.conformal_offsets(np.zeros((5, 2)), 0.95) is None


def test_conformal_offsets_always_hold_the_forecast():
    # Every residual positive: the lower offset is clipped to 0 so that lower <= predicted.
    residuals = np.random.default_rng(2).uniform(0.01, 0.02, size=(100, 3))
    lower, upper, _ = intervals.conformal_offsets(residuals, 0.95)
    np.testing.assert_array_equal(lower, 0.0)
    assert np.all(upper >= 0.019)


def test_conformal_offsets_cover_exchangeable_residuals():
    # Split-conformal guarantee: a fresh exchangeable residual falls inside with probability >= confidence.
    rng = np.random.default_rng(3)
    draws = rng.standard_t(df=3, size=(2000, 100))
    hits = 0
    for row in draws:
        lower, upper, _ = intervals.conformal_offsets(row[:99, None], 0.9, min_per_step=50)
        hits += lower[0] <= row[99] <= upper[0]
    assert 0.88 <= hits / len(draws) <= 0.94


def test_log_ratio_residuals_mark_missing_as_nan():
    out = intervals.log_ratio_residuals([[110.0, np.nan, 90.0]], [[100.0, 100.0, -1.0]])
    np.testing.assert_allclose(out[0, 0], np.log(1.1))
    assert np.isnan(out[0, 1]) and np.isnan(out[0, 2])


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((2, 2, 2))])
def test_conformal_offsets_reject_wrong_shapes(bad):
    with pytest.raises(ValueError, match="residuals"):
        intervals.conformal_offsets(bad)


def test_check_band_names_the_options():
    with pytest.raises(ValueError, match="band must be one of"):
        intervals.check_band("bootstrap")
    with pytest.raises(ValueError, match="band must be one of"):
        NaiveForecaster(band="bootstrap")


# ----------------------------------------------------------------- through forecast()


def test_forecast_uses_conformal_by_default_and_volatility_on_request():
    prices = random_walk(600, seed=4).prices
    model = NaiveForecaster().fit(prices)
    lo, hi, method = model.band_offsets(10)
    assert method == "conformal"
    fc = model.forecast(steps=10)
    assert fc.band == "conformal"
    np.testing.assert_allclose(fc.lower, fc.predicted * np.exp(lo))
    np.testing.assert_allclose(fc.upper, fc.predicted * np.exp(hi))
    band = NaiveForecaster(band="volatility").fit(prices).forecast(steps=10)
    expected = intervals.volatility_band(band.predicted, model.volatility_, 0.95)
    assert band.band == "volatility"
    np.testing.assert_allclose(band.lower, expected[0])
    np.testing.assert_allclose(band.upper, expected[1])


def test_calibration_residuals_use_only_the_fitted_series():
    prices = random_walk(300, seed=5).prices
    model = DriftForecaster().fit(prices)
    residuals = model.calibration_residuals(4)
    # Head refit on the first 150 prices, one origin per later price; steps past the end are NaN.
    assert residuals.shape == (150, 4)
    assert np.all(np.isnan(residuals[-1, 1:])) and np.all(np.isfinite(residuals[:-3]))
    head = DriftForecaster().fit(prices[:150])
    s = 200
    expected = np.log(prices[s : s + 4] / head.predict_multi_step(prices[:s], 4))
    np.testing.assert_allclose(residuals[s - 150], expected)


class _CountingDrift(DriftForecaster):
    """Drift with a held-back tail of 40 prices (as a model trained with validation has), counting fits."""

    fits = 0

    def _fit(self, prices, **options):
        type(self).fits += 1
        super()._fit(prices, **options)

    def holdout_size(self):
        return 40


def test_calibration_happens_in_fit_and_forecast_never_trains():
    prices = random_walk(300, seed=6).prices
    fits = _CountingDrift.fits
    model = _CountingDrift(calibration="both").fit(prices)
    assert _CountingDrift.fits == fits + 2  # the model and its head refit, both in fit
    auto = model.calibration_residuals(3, "auto")
    refit = model.calibration_residuals(3, "refit")
    assert auto.shape == (40, 3) and refit.shape == (150, 3)  # the held-back tail; the head refit's 150 origins
    model.forecast(steps=5)
    longer = model.calibration_residuals(5, "refit")
    np.testing.assert_array_equal(longer[:, :3], refit)
    assert _CountingDrift.fits == fits + 2  # forecasts and residuals train nothing
    assert set(model.calibration_models_) == {"auto", "refit"}
    assert model.calibration_models_["auto"].model is model and model.calibration_models_["auto"].start == 260
    assert model.calibration_models_["refit"].start == 150
    # The refit residuals are the head copy's own forecasts, recomputed here independently.
    head = model.calibration_models_["refit"].model
    s = 200
    np.testing.assert_allclose(refit[s - 150], np.log(prices[s : s + 3] / head.predict_windows([prices[:s]], 3)[0]))
    # ... and the sources differ: the tail scores the fitted model, the refit a head copy.
    assert not np.allclose(auto, refit[-40:])
    # A new fit calibrates anew.
    model.fit(prices[:-10])
    assert model.calibration_models_["refit"].start == 145
    with pytest.raises(ValueError, match="calibration must be one of"):
        DriftForecaster(calibration="jackknife")
    with pytest.raises(ValueError, match="source must be one of"):
        model.calibration_residuals(3, "both")


def test_short_series_fall_back_to_the_volatility_band():
    model = NaiveForecaster().fit([100.0, 101.0, 99.0, 100.0, 102.0])
    assert model.band_offsets(3)[2] == "volatility"


def test_conformal_is_narrower_than_the_band_on_a_mean_reverting_series():
    # The band grows like sqrt(step); the errors of a mean-reverting series level off.
    prices = mean_reverting(800, reversion=0.3, seed=7).prices
    model = NaiveForecaster().fit(prices)
    _lo, hi, method = model.band_offsets(24)
    _vol_lo, vol_hi = intervals.volatility_offsets(24, model.volatility_, 0.95)
    assert method == "conformal"
    assert hi[-1] < 0.6 * vol_hi[-1]


def test_envelope_takes_the_wider_band_per_step():
    a = (np.array([-0.1, -0.3]), np.array([0.2, 0.1]), "conformal")
    b = (np.array([-0.2, -0.1]), np.array([0.1, 0.4]), "conformal pooled over steps")
    lower, upper, method = intervals.envelope([a, b])
    np.testing.assert_allclose(lower, [-0.2, -0.3])
    np.testing.assert_allclose(upper, [0.2, 0.4])
    assert method == "wider of conformal and conformal pooled over steps"
    assert intervals.envelope([a, a])[2] == "conformal"


def test_both_without_a_held_back_tail_is_the_head_refit():
    prices = random_walk(400, seed=8).prices
    refit = HybridForecaster(calibration="refit").fit(prices).band_offsets(6)
    model = HybridForecaster(calibration="both").fit(prices)
    both = model.band_offsets(6)
    np.testing.assert_allclose(both[0], refit[0])
    np.testing.assert_allclose(both[1], refit[1])
    assert model.calibration_sources() == ("refit",)


def test_calibration_state_survives_json():
    import copy
    import json

    model = DriftForecaster().fit(random_walk(400, seed=9).prices)
    state = json.loads(json.dumps(model.band_.to_json(), allow_nan=False))
    restored = copy.copy(model)
    restored.band_ = bands.ConformalBand({}, model.volatility_)  # a model restored without residuals
    assert restored.band_offsets(8)[2] == "volatility"
    restored.band_ = bands.band_class(model.band).from_json(state, model.volatility_)
    for steps in (3, 8, 200):
        expected = model.band_offsets(steps)
        got = restored.band_offsets(steps)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        assert got[2] == expected[2] == "conformal"
    with pytest.raises(ValueError, match="calibration source must be one of"):
        bands.ConformalBand.from_json({"jackknife": []}, 0.01)


# ----------------------------------------------------------------- one band per model


class _HeldBack(DriftForecaster):
    """Drift with a held-back tail of ``tail`` prices, as a model trained with validation has."""

    tail = 45

    def holdout_size(self):
        return self.tail


@pytest.mark.parametrize(
    "model, prices, method",
    [
        (NaiveForecaster(), random_walk(600, seed=11).prices, "conformal"),  # 300 origins: per step
        (_HeldBack(), random_walk(300, seed=12).prices, "conformal pooled over steps"),  # 45 origins: pooled
        (NaiveForecaster(), random_walk(60, seed=13).prices, "volatility"),  # 30 origins: too few
        (
            _HeldBack(calibration="both"),
            random_walk(300, seed=14).prices,
            "wider of conformal pooled over steps and conformal",
        ),
    ],
    ids=["per-step", "pooled", "too-few", "both"],
)
@given(horizons=st.lists(st.integers(1, 400), min_size=2, max_size=4))
@settings(max_examples=15, deadline=None)
def test_the_band_of_a_step_does_not_depend_on_the_horizon(model, prices, method, horizons):
    model = model if model.prices_ is not None else model.fit(prices)
    longest = model.band_offsets(max(horizons))
    assert longest[2] == method == model.band_method()
    for steps in horizons:
        lower, upper, got = model.band_offsets(steps)
        assert got == method and lower.shape == (steps,)
        np.testing.assert_array_equal(lower, longest[0][:steps])
        np.testing.assert_array_equal(upper, longest[1][:steps])
        assert np.all(lower <= 0) and np.all(upper >= 0)


def test_past_its_calibrated_steps_the_band_grows_like_a_random_walk():
    model = _HeldBack().fit(random_walk(300, seed=12).prices)
    residuals = model.calibration_residuals(model.band_steps)
    calibrated = intervals.calibrated_steps(residuals)
    # 45 origins: a step needs 39 residuals (0.95), so steps 1..7 are calibrated.
    assert calibrated == 45 - intervals.min_residuals(0.95) + 1 == 7
    lower, upper, _ = model.band_offsets(28)
    np.testing.assert_allclose(upper[calibrated:], upper[calibrated - 1] * np.sqrt(np.arange(8, 29) / 7))
    np.testing.assert_allclose(lower[calibrated:], lower[calibrated - 1] * np.sqrt(np.arange(8, 29) / 7))


def test_calibrated_steps():
    def tail(origins, steps=5):  # residuals of a held-back tail: step j misses its last j - 1 origins
        return np.where(np.arange(origins)[:, None] + np.arange(steps)[None, :] < origins, 0.0, np.nan)

    assert intervals.calibrated_steps(np.zeros((60, 5))) == 5
    assert intervals.calibrated_steps(tail(60)) == 5  # 60..56 residuals, all >= 50: per-step quantiles
    assert intervals.calibrated_steps(tail(53)) == 4  # 53..49: steps 1-4 have 50
    assert intervals.calibrated_steps(tail(45)) == 5  # 45..41: none has 50, all have the 39 of a pooled band
    assert intervals.calibrated_steps(tail(41)) == 3  # 41..37
    assert intervals.calibrated_steps(np.zeros((30, 5))) == 0
    assert intervals.calibrated_steps(np.zeros((50, 5)), confidence=0.99) == 0  # 0.99 needs 199
    with pytest.raises(ValueError, match="residuals"):
        intervals.calibrated_steps(np.zeros(3))


def test_extend_offsets():
    band = (np.array([-0.1, -0.2]), np.array([0.1, 0.3]), "conformal")
    lower, upper, method = intervals.extend_offsets(band, 4)
    np.testing.assert_allclose(upper, [0.1, 0.3, 0.3 * np.sqrt(1.5), 0.3 * np.sqrt(2)])
    np.testing.assert_allclose(lower, [-0.1, -0.2, -0.2 * np.sqrt(1.5), -0.2 * np.sqrt(2)])
    assert method == "conformal" and intervals.extend_offsets(band, 1)[0].tolist() == [-0.1]


def test_adaptive_confidence_rises_after_misses_and_stays_without_them():
    rng = np.random.default_rng(0)
    calm = rng.standard_normal((300, 3))
    assert intervals.adaptive_confidence(calm, 0.95, 0.0) == 0.95
    steady = intervals.adaptive_confidence(calm, 0.95, 0.005)
    assert abs(steady - 0.95) < 0.03
    # The newest origins are four times as wide: the band missed there, so the level rises.
    shifted = np.concatenate([calm, 4.0 * rng.standard_normal((100, 3))])
    assert intervals.adaptive_confidence(shifted, 0.95, 0.005) > steady + 0.02
    assert intervals.adaptive_confidence(shifted, 0.95, 1.0) <= 0.999


def _sequential_adaptive_confidence(scores, confidence, gamma):
    """The walk as first written, one origin at a time with a sorted history: the reference."""
    scores = np.asarray(scores, np.float64)
    if gamma == 0 or scores.ndim != 2 or scores.shape[0] < 2:
        return confidence
    finite = np.isfinite(scores)
    rms = np.sqrt(np.where(finite, np.square(scores), 0.0).sum(axis=0) / np.maximum(finite.sum(axis=0), 1))
    pooled = np.abs(scores / np.where(rms > 0, rms, 1.0))
    level, warmup = confidence, intervals.min_residuals(confidence)
    history = np.sort(pooled[0][np.isfinite(pooled[0])])
    for row in pooled[1:]:
        values = np.sort(row[np.isfinite(row)])
        if history.size >= warmup and values.size:
            threshold = history[min(int(np.ceil(np.clip(level, 0.0, 1.0) * history.size)), history.size - 1)]
            level += gamma * (float(np.mean(values > threshold)) - (1.0 - confidence))
        history = np.sort(np.concatenate([history, values]))
    return float(np.clip(level, confidence / 2.0, 0.999))


def _score_matrix(rng, origins, steps, ties):
    scores = rng.standard_normal((origins, steps)) * np.exp(rng.normal(0, 0.5, (origins, 1)))
    if ties:
        scores = np.round(scores, 1)  # many equal scores: the quantile must pick among ties alike
    # Later steps of the last origins fall past the data (NaN), as calibration residuals do.
    last = np.arange(origins)[:, None] + np.arange(steps)[None, :]
    scores[last >= origins + rng.integers(0, steps + 1)] = np.nan
    scores[rng.random(scores.shape) < 0.02] = np.nan
    return scores


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    confidence=st.sampled_from([0.8, 0.9, 0.95]),
    gamma=st.sampled_from([0.0, 0.005, 0.05, 1.0]),
    ties=st.booleans(),
)
def test_adaptive_confidences_equal_the_sequential_walk_of_each_matrix(seed, confidence, gamma, ties):
    rng = np.random.default_rng(seed)
    matrices = [
        _score_matrix(rng, int(rng.integers(1, 90)), int(rng.integers(1, 40)), ties)
        for _ in range(int(rng.integers(1, 6)))
    ]
    matrices.append(np.full((50, 3), np.nan))  # no values at all: the level stays
    found = intervals.adaptive_confidences(matrices, confidence, gamma)
    expected = [_sequential_adaptive_confidence(m, confidence, gamma) for m in matrices]
    assert found == expected  # the same float64 arithmetic: equal, not close
    assert [intervals.adaptive_confidence(m, confidence, gamma) for m in matrices] == expected


def test_adaptive_confidences_walk_more_matrices_than_one_chunk_and_long_histories():
    rng = np.random.default_rng(3)
    short = [_score_matrix(rng, 40, 5, True)] * (intervals._WALK_CHUNK + 10)
    matrices = [_score_matrix(rng, 300, 30, False) for _ in range(3)] + short
    expected = [_sequential_adaptive_confidence(m, 0.95, 0.005) for m in matrices]
    assert intervals.adaptive_confidences(matrices, 0.95, 0.005) == expected
    assert intervals.adaptive_confidences([], 0.95) == []
    with pytest.raises(ValueError, match="confidence"):
        intervals.adaptive_confidences(matrices[:1], 1.5)


def test_conformal_band_plain_adaptive_and_scaled():
    rng = np.random.default_rng(1)
    residuals = 0.01 * rng.standard_normal((200, 4))
    plain = intervals.conformal_band(residuals, 0.9)
    reference = intervals.conformal_offsets(residuals, 0.9)
    np.testing.assert_array_equal(plain[0], reference[0])
    assert plain[2] == "conformal"
    assert intervals.conformal_band(residuals, 0.9, adaptive=0.005)[2] == "adaptive conformal"
    assert intervals.conformal_band(residuals, 0.9, adaptive=0.005, pooled=True)[2] == (
        "adaptive conformal pooled over steps"
    )
    # Scores scaled by a constant scale and scaled back give the same band.
    scaled = intervals.conformal_band(residuals, 0.9, scales=np.full(200, 2.0), scale_now=2.0)
    np.testing.assert_allclose(scaled[0], reference[0], rtol=1e-12)
    assert scaled[2] == "conformal scaled by recent volatility"
    doubled = intervals.conformal_band(residuals, 0.9, scales=np.full(200, 2.0), scale_now=4.0)
    np.testing.assert_allclose(doubled[1], 2 * reference[1], rtol=1e-12)
    with pytest.raises(ValueError, match="scale_now"):
        intervals.conformal_band(residuals, 0.9, scales=np.ones(200))
    assert intervals.conformal_band(residuals[:5], 0.95) is None


def test_log_return_rms_counts_the_drift_the_standard_deviation_leaves_out():
    trend = 100 * 1.05 ** np.arange(20)
    assert intervals.log_return_volatility(trend) == pytest.approx(0.0, abs=1e-12)
    assert intervals.log_return_rms(trend) == pytest.approx(np.log(1.05), rel=1e-12)
    walk = np.exp(np.cumsum(np.random.default_rng(3).normal(0.001, 0.01, 200)))
    returns = np.diff(np.log(walk))
    assert intervals.log_return_rms(walk) == pytest.approx(np.sqrt(np.mean(returns**2)), rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 values"):
        intervals.log_return_rms([1.0])
    with pytest.raises(ValueError, match="positive"):
        intervals.log_return_rms([1.0, -1.0])


def test_recent_volatility_matches_numpy():
    prices = np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.01, 60)))
    ends = np.array([10, 30, 60])
    got = intervals.recent_volatility(prices, ends, 8)
    want = [np.std(np.diff(np.log(prices[e - 8 : e])), ddof=1) for e in ends]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert intervals.recent_volatility(prices, np.array([1]), 8)[0] == 0.0


# ----------------------------------------------------------------- the band widens with the step


def _is_monotone(lower, upper):
    return bool(np.all(np.diff(lower) <= 0) and np.all(np.diff(upper) >= 0))


@st.composite
def _residual_tables(draw):
    """``[origins, k]`` residuals whose spread changes step to step, NaN where a held-back tail ends."""
    origins = draw(st.integers(40, 240))
    k = draw(st.integers(1, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    spread = rng.uniform(0.001, 0.05, size=k)  # any shape over the steps, not a growing one
    residuals = rng.standard_t(3, size=(origins, k)) * spread + rng.normal(0, 0.01, size=k)
    if draw(st.booleans()):  # a held-back tail: step j has no residual at the last j - 1 origins
        residuals[np.arange(origins)[:, None] + np.arange(k)[None, :] >= origins] = np.nan
    return residuals


@given(
    tables=st.lists(_residual_tables(), min_size=1, max_size=2),
    confidence=st.sampled_from([0.8, 0.9, 0.95]),
    adaptive=st.sampled_from([0.0, intervals.ADAPTIVE_GAMMA]),
    beyond=st.integers(0, 200),
)
@settings(max_examples=60, deadline=None)
def test_both_sides_of_the_band_are_non_decreasing_in_the_step(tables, confidence, adaptive, beyond):
    """Past the calibrated steps and within them, whatever the residuals: no step is narrower than an earlier one."""
    bands = []
    for residuals in tables:
        k = intervals.calibrated_steps(residuals, confidence)
        band = intervals.conformal_band(residuals[:, :k], confidence, adaptive=adaptive) if k else None
        if band is not None:
            bands.append((band, k))
    for band, k in bands:
        steps = k + beyond
        lower, upper, _ = intervals.extend_offsets(band, steps)
        assert lower.shape == upper.shape == (steps,)
        assert _is_monotone(lower, upper) and lower[0] <= 0 <= upper[0]
        # Only ever wider than the calibrated offsets, and the same for a shorter horizon.
        assert np.all(lower[:k] <= band[0]) and np.all(upper[:k] >= band[1])
        short = intervals.extend_offsets(band, max(1, steps // 2))
        np.testing.assert_array_equal(short[1], upper[: short[1].shape[0]])
    if len(bands) == 2:  # calibration="both": the wider of two sources calibrated on different steps
        steps = max(k for _, k in bands) + beyond
        lower, upper, _ = intervals.envelope([intervals.extend_offsets(b, steps) for b, _ in bands])
        assert _is_monotone(lower, upper)


@given(seed=st.integers(0, 10_000), steps=st.integers(1, 300))
@settings(max_examples=20, deadline=None)
def test_the_band_of_fitted_models_widens_with_the_step(seed, steps):
    """Fitted models of each calibration (per step, pooled, both sources): the band never narrows."""
    prices = random_walk(300, seed=seed).prices
    for model in (NaiveForecaster(), _HeldBack(), _HeldBack(calibration="both"), _HeldBack(band="adaptive")):
        lower, upper, _ = model.fit(prices).band_offsets(steps)
        assert _is_monotone(lower, upper)


@pytest.mark.slow
def test_a_fitted_lstm_band_widens_with_the_step_and_says_its_method_in_words():
    """The default band of an LSTM (adaptive, both sources), 200 steps: past its calibrated steps too."""
    from jaxlstm import LSTMForecaster
    from jaxlstm.data import load_demo

    model = LSTMForecaster(hidden_size=4, epochs=2, sequence_length=8).fit(load_demo()[-600:])
    fc = model.forecast(steps=200)
    assert np.all(np.diff(fc.upper / fc.predicted) >= -1e-12) and np.all(np.diff(fc.lower / fc.predicted) <= 1e-12)
    assert fc.band == model.band_method()
    parts = fc.band.removeprefix(intervals.WIDER_OF).split(" and ")
    assert all(p in ("adaptive conformal", "adaptive conformal" + intervals.POOLED) for p in parts), fc.band


def test_bands_calibrated_together_equal_each_band_calibrated_alone(monkeypatch):
    rng = np.random.default_rng(7)
    made = []
    for i in range(9):
        residuals = {"auto": 0.01 * _score_matrix(rng, 60 + 7 * i, 12, i % 3 == 0)}
        if i % 2:
            residuals["refit"] = 0.02 * _score_matrix(rng, 150, 12, False)
        kind = (bands.AdaptiveBand, bands.ConformalBand, bands.VolatilityBand)[i % 3]
        made.append((kind, residuals))
    made.append((bands.AdaptiveBand, {"auto": np.zeros((5, 12))}))  # too few residuals: the volatility band
    together = [kind(residuals, 0.01) for kind, residuals in made]
    for confidence in (0.8, 0.95):
        bands.Band.calibrate_many(together, confidence)
    # Calibrated: reading them walks nothing more (the bands made alone below walk their own).
    walks = []
    real = intervals.adaptive_confidences
    monkeypatch.setattr(intervals, "adaptive_confidences", lambda *a, **k: walks.append(len(a[0])) or real(*a, **k))
    for band in together:
        band.offsets(5, 0.95), band.offsets(5, 0.8)
    assert walks == []
    for (kind, residuals), band in zip(made, together, strict=True):
        alone = kind(residuals, 0.01)
        for confidence in (0.8, 0.95):
            for steps in (1, 12, 30):
                got, want = band.offsets(steps, confidence), alone.offsets(steps, confidence)
                np.testing.assert_array_equal(got[0], want[0])
                np.testing.assert_array_equal(got[1], want[1])
                assert got[2] == want[2]
    with pytest.raises(ValueError, match="confidence"):
        bands.Band.calibrate_many(together, 0.0)


@pytest.mark.slow  # three fits, a global one among them: the quick tier stays under 90 s
def test_a_network_has_no_head_refit_that_would_train_on_fewer_windows_than_a_minibatch():
    # A short series' head copy, a network trained on a handful of windows, forecast so badly
    # that its residuals made lynx's 95% band hundreds of times its forecast wide.
    import jaxlstm as jl
    from jaxlstm._src.forecasters import prepared

    small = dict(hidden_size=4, sequence_length=6, epochs=2, season_length=None)
    short = random_walk(70, seed=3).prices  # the copy: 35 prices, 29 windows
    model = jl.LSTMForecaster(**small).fit(short)
    assert prepared.MIN_REFIT_WINDOWS == 32
    assert set(model.calibration_models_) == {"auto"} and model.forecast(steps=3).upper.shape == (3,)
    longer = jl.LSTMForecaster(**small).fit(random_walk(80, seed=3).prices)  # 40 prices, 34 windows
    assert set(longer.calibration_models_) == {"auto", "refit"}
    assert longer.calibration_models_["refit"].start == 40
    # A global model's head copy trains on the heads of every series: a short one keeps it.
    both = jl.LSTMForecaster(**small).fit({"short": short, "long": random_walk(200, seed=4).prices})
    assert set(both.series_["short"].calibration_models_) == {"auto", "refit"}

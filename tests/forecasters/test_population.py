"""Ensembles and online updates of ``LSTMForecaster``: populations trained in one runner call."""

import jax
import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src.forecasters import population
from jaxlstm.data import load_demo

SMALL = dict(hidden_size=8, sequence_length=10, epochs=6, batch_size=32)


@pytest.fixture(scope="module")
def prices():
    return np.asarray(load_demo().close[-260:], np.float64)


@pytest.fixture(scope="module")
def ensemble(prices):
    return jl.LSTMForecaster(**SMALL, ensemble=3, seed=4).fit(prices)


def _leaves(tree):
    import jax

    return [np.asarray(a) for a in jax.tree.leaves(tree)]


@pytest.mark.slow
def test_a_member_of_the_population_equals_the_same_model_fitted_alone(prices, ensemble):
    assert ensemble.n_members == 3
    for j in range(3):
        alone = jl.LSTMForecaster(**SMALL, seed=4 + j).fit(prices)
        for member, single in zip(_leaves(ensemble.params_), _leaves(alone.params_)):
            assert member.shape == (3, *single.shape)
            np.testing.assert_allclose(member[j], single, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_same_seed_same_population(prices, ensemble):
    again = jl.LSTMForecaster(**SMALL, ensemble=3, seed=4).fit(prices)
    for a, b in zip(_leaves(ensemble.params_), _leaves(again.params_)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_members_with_their_own_learning_rate_train_together_and_equal_lone_fits(prices):
    members = [{"learning_rate": 3e-3}, {"learning_rate": 3e-4, "seed": 9}, {"weight_decay": 1e-3}]
    model = jl.LSTMForecaster(**SMALL, ensemble=members).fit(prices)
    settings = [dict(learning_rate=3e-3), dict(learning_rate=3e-4, seed=9), dict(weight_decay=1e-3)]
    for j, extra in enumerate(settings):
        alone = jl.LSTMForecaster(**{**SMALL, **extra}).fit(prices)
        for member, single in zip(_leaves(model.params_), _leaves(alone.params_)):
            np.testing.assert_allclose(member[j], single, rtol=1e-5, atol=1e-6)


def test_forecast_combines_the_members(prices, ensemble):
    window = prices[-10:]
    members = ensemble.member_forecasts(window[None], 6)
    assert members.shape == (3, 1, 6)
    np.testing.assert_allclose(ensemble.predict_multi_step(window, 6), members[:, 0].mean(axis=0), rtol=1e-12)
    median = jl.LSTMForecaster(**SMALL, ensemble=3, seed=4, combine="median")
    median.params_, median.encoding_state_, median.prices_ = ensemble.params_, ensemble.encoding_state_, prices
    np.testing.assert_allclose(median.predict_multi_step(window, 6), np.median(members[:, 0], axis=0), rtol=1e-12)
    fc = ensemble.forecast(steps=6)
    assert np.all(fc.lower <= fc.predicted) and np.all(fc.predicted <= fc.upper)
    # The band holds every member's own forecast too.
    now = ensemble.member_forecasts(ensemble.forecast_window()[None], 6)[:, 0]
    assert np.all(fc.lower <= now.min(axis=0)) and np.all(now.max(axis=0) <= fc.upper)
    assert fc.band.endswith(" widened to the members' range")


def test_ensemble_saves_loads_and_exports_with_a_members_axis(tmp_path, prices, ensemble):
    path = ensemble.save(tmp_path / "ens")
    back = jl.LSTMForecaster.load(path)
    assert back.n_members == 3 and back.get_params() == ensemble.get_params()
    for a, b in zip(_leaves(ensemble.params_), _leaves(back.params_)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_leaves(ensemble.opt_state_), _leaves(back.opt_state_)):
        np.testing.assert_array_equal(a, b)
    before, after = ensemble.forecast(steps=8), back.forecast(steps=8)
    np.testing.assert_array_equal(before.predicted, after.predicted)
    np.testing.assert_array_equal(before.lower, after.lower)
    restored = jl.LSTMForecaster.from_json(ensemble.to_json())
    np.testing.assert_array_equal(restored.forecast(steps=8).predicted, before.predicted)


@pytest.mark.slow
def test_fit_many_and_forecast_many_with_ensembles(prices):
    models = jl.LSTMForecaster.fit_many({"A": prices, "B": prices[:-40]}, **SMALL, ensemble=2)
    together = jl.LSTMForecaster.forecast_many(models, steps=4)
    for symbol, model in models.items():
        assert model.n_members == 2
        np.testing.assert_allclose(together[symbol].predicted, model.forecast(steps=4).predicted, rtol=1e-5)


@pytest.fixture(scope="module")
def direct_ensemble_forecasts(prices):
    """The two-member ensemble fitted on each backtest origin's 200 training prices, by hand."""
    return [jl.LSTMForecaster(**SMALL, ensemble=2).fit(prices[t - 200 : t]).forecast(steps=5) for t in (200, 220, 240)]


@pytest.mark.slow
@pytest.mark.parametrize("vectorize", [False, True])
def test_backtest_of_ensembles_equals_fitting_them_at_each_origin(prices, direct_ensemble_forecasts, vectorize):
    factory = lambda: jl.LSTMForecaster(**SMALL, ensemble=2)
    result = jl.evaluation.backtest(prices, {"ens": factory}, train_size=200, steps=5, stride=20, vectorize=vectorize)
    ens = result["ens"]
    assert ens.vectorized == vectorize
    np.testing.assert_array_equal(result.origins, [200, 220, 240])
    assert ens.bands == tuple(fc.band for fc in direct_ensemble_forecasts)
    for field in ("predicted", "lower", "upper"):
        direct = np.stack([getattr(fc, field) for fc in direct_ensemble_forecasts])
        np.testing.assert_allclose(getattr(ens, field), direct, rtol=1e-5)


@pytest.mark.slow
def test_update_after_reload_equals_update_without(tmp_path, prices, ensemble):
    single = jl.LSTMForecaster(**SMALL).fit(prices[:-30])
    for model in (single, ensemble):
        model_path = model.save(tmp_path / f"m{model.n_members}")
        new = prices[-30:] * 1.01
        here = jl.LSTMForecaster.load(model_path).update(new, epochs=3)
        there = jl.LSTMForecaster.load(model_path)
        copy = jl.LSTMForecaster.load(model_path)
        copy.save(tmp_path / "again")
        there = jl.LSTMForecaster.load(tmp_path / "again").update(new, epochs=3)
        for a, b in zip(_leaves(here.params_), _leaves(there.params_)):
            np.testing.assert_array_equal(a, b)
        in_memory = jl.LSTMForecaster.load(model_path)
        in_memory.update(new, epochs=3)
        np.testing.assert_array_equal(in_memory.forecast(steps=5).upper, here.forecast(steps=5).upper)
        assert here.metrics_["updates"] == 1


@pytest.mark.slow
def test_update_in_memory_equals_update_after_reload(tmp_path, prices):
    model = jl.LSTMForecaster(**SMALL).fit(prices[:-20])
    back = jl.LSTMForecaster.load(model.save(tmp_path / "m"))
    new = prices[-20:]
    model.update(new, epochs=2)
    back.update(new, epochs=2)
    for a, b in zip(_leaves(model.params_), _leaves(back.params_)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.forecast(steps=24).lower, back.forecast(steps=24).lower)


@pytest.mark.slow
def test_update_continues_training_on_the_newest_windows_only(prices):
    model = jl.LSTMForecaster(**SMALL).fit(prices[:-20])
    twin = jl.LSTMForecaster(**SMALL).fit(prices[:-20])
    # Older history than the last window is not read by an update.
    twin.prices_ = np.concatenate([twin.prices_[:-10] * 3.0, twin.prices_[-10:]])
    before = _leaves(model.params_)
    model.update(prices[-20:], epochs=2)
    twin.update(prices[-20:], epochs=2)
    for a, b in zip(_leaves(model.params_), _leaves(twin.params_)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(before, _leaves(model.params_)))
    assert model.prices_.shape[0] == 30  # its last window and the new prices
    np.testing.assert_array_equal(model.predict_multi_step(prices[-10:], 3), model.forecast(steps=3).predicted)
    # A second update draws new minibatch orders and counts on.
    model.update(prices[-5:], epochs=1)
    assert model.metrics_["updates"] == 2


@pytest.mark.slow
def test_update_from_a_model_saved_without_optimiser_state_starts_a_fresh_one(tmp_path, prices):
    model = jl.LSTMForecaster(**SMALL).fit(prices[:-10])
    model.opt_state_ = None
    back = jl.LSTMForecaster.load(model.save(tmp_path / "old"))
    assert back.opt_state_ is None
    back.update(prices[-10:], epochs=1)
    assert back.opt_state_ is not None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ensemble": 0}, ValueError, "ensemble"),
        ({"ensemble": True}, TypeError, "ensemble"),
        ({"ensemble": "3"}, TypeError, "ensemble"),
        ({"ensemble": []}, ValueError, "ensemble"),
        ({"ensemble": [{"hidden_size": 4}]}, ValueError, "cannot change"),
        ({"ensemble": [3]}, TypeError, "ensemble\\[0\\]"),
        ({"ensemble": [{"learning_rate": -1.0}]}, ValueError, "learning_rate"),
        ({"ensemble": [{"seed": -1}]}, ValueError, "seed"),
        ({"ensemble": 10**6}, ValueError, "at most"),
        # Identical members trained identical params, silently.
        (
            {"ensemble": [{"seed": 1}, {"seed": 2}, {"seed": 1}]},
            ValueError,
            r"ensemble\[2\] has the settings of ensemble\[0\]",
        ),
        ({"ensemble": [{}, {"seed": 0}], "seed": 0}, ValueError, r"ensemble\[1\] has the settings of ensemble\[0\]"),
        ({"combine": "max"}, ValueError, "combine"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay"),
    ],
)
def test_bad_population_settings_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        jl.LSTMForecaster(**kwargs)


def test_bad_updates_are_refused(prices, ensemble):
    with pytest.raises(RuntimeError, match="not fitted"):
        jl.LSTMForecaster().update(prices)
    with pytest.raises(ValueError, match="positive"):
        ensemble.update(np.array([100.0, -1.0]))
    with pytest.raises(ValueError, match="finite"):
        ensemble.update(np.array([100.0, np.nan]))
    with pytest.raises(ValueError, match="epochs"):
        ensemble.update(prices[-3:], epochs=0)
    with pytest.raises(ValueError, match="at least one"):
        ensemble.update(np.array([]))


def test_damaged_optimiser_state_is_refused_on_load(tmp_path, prices, ensemble):
    from jaxlstm._src.io import model_files as persistence

    tree, metadata = persistence.load_model(ensemble.save(tmp_path / "e"))
    # The band's residuals are saved beside the params and optimiser state (stacked_residuals).
    tree["state"]["opt_state"] = tree["state"]["opt_state"][:-1]
    persistence.save_model(
        tmp_path / "bad", tree, {k: v for k, v in metadata.items() if k not in persistence.RESERVED_METADATA_KEYS}
    )
    with pytest.raises(ValueError, match="optimiser state"):
        jl.LSTMForecaster.load(tmp_path / "bad")


def test_combine_members_and_spread():
    forecasts = np.array([[[1.0, 2.0]], [[3.0, 2.0]], [[2.0, 8.0]]])
    np.testing.assert_allclose(population.combine_members(forecasts, "mean"), [[2.0, 4.0]])
    np.testing.assert_allclose(population.combine_members(forecasts, "median"), [[2.0, 2.0]])
    assert population.member_spread(forecasts[:1]).shape == (1, 2)
    np.testing.assert_allclose(population.member_spread(forecasts)[0, 0], np.std(np.log([1, 3, 2]), ddof=1))


# ------------------------------------------------------------ populations of every network and input set

RICH = dict(
    hidden_size=4, sequence_length=8, epochs=3, batch_size=32, num_heads=2, features=("close", "volume"), direct_steps=3
)


@pytest.fixture(scope="module")
def candles():
    return load_demo()[-240:]


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["bilstm", "transformer"])
def test_an_ensemble_of_any_network_with_features_matches_its_members_fitted_alone(candles, architecture, tmp_path):
    ens = jl.LSTMForecaster(**RICH, architecture=architecture, ensemble=2, seed=1).fit(candles)
    window = candles.to_pandas()[list(ens.input_columns)].to_numpy()[-ens.window_length :]
    members = ens.member_forecasts(window[None], 3)
    assert members.shape == (2, 1, 3)
    for j in range(2):
        alone = jl.LSTMForecaster(**RICH, architecture=architecture, seed=1 + j).fit(candles)
        np.testing.assert_allclose(members[j, 0], alone.predict_multi_step(window, 3), rtol=1e-4)
    fc = ens.forecast(steps=3)
    np.testing.assert_allclose(fc.predicted, members[:, 0].mean(axis=0), rtol=1e-6)
    loaded = jl.LSTMForecaster.load(ens.save(tmp_path / "ens"))
    np.testing.assert_array_equal(loaded.forecast(steps=3).predicted, fc.predicted)


@pytest.mark.slow
def test_update_of_a_model_with_features_and_a_direct_head(candles, tmp_path):
    model = jl.LSTMForecaster(**RICH, architecture="attention").fit(candles[:-12])
    before = _leaves(model.params_)
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "m"))
    model.update(candles[-12:], epochs=2)
    assert model.metrics_["updates"] == 1 and model.last_timestamp_ == candles.timestamps[-1]
    assert any(not np.array_equal(a, b) for a, b in zip(before, _leaves(model.params_), strict=True))
    assert np.all(np.isfinite(model.forecast(steps=3).predicted))
    # The optimiser state is saved: an update after a reload equals one without.
    loaded.update(candles[-12:], epochs=2)
    for a, b in zip(_leaves(loaded.params_), _leaves(model.params_), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="at least 3"):
        model.update(candles[-2:])
    with pytest.raises(ValueError, match="candles with the columns"):
        model.update(candles.close[-5:])


@pytest.mark.slow
def test_tune_searches_architectures_and_inputs(candles):
    space = {"architecture": ["lstm", "attention"], "features": [("close",), ("close", "volume")]}
    settings = {k: v for k, v in RICH.items() if k != "features"}
    best = jl.tune(candles, space, folds=1, horizon=3, halving=None, **settings)
    assert len(best.tuning_) == 4 and best.direct_steps == 3
    assert best.architecture in ("lstm", "attention") and best.features in space["features"]
    assert np.all(np.isfinite(best.forecast(steps=3).predicted))


def test_seeds_that_differ_above_32_bits_give_different_models():
    # Without x64, jax.random.key keeps a seed's low 32 bits: seeds 1 and 2**32 + 1 made one model.
    for low in (0, 1, 5, 2**32 - 1):
        np.testing.assert_array_equal(
            jax.random.key_data(population.seed_key(low)), jax.random.key_data(jax.random.key(low))
        )  # seeds below 2**32 keep their keys (and every model fitted with them)
    keys = [population.seed_key(s) for s in (1, 2**32 + 1, 2**33 + 1, 2**62 + 1, 2**63 - 1)]
    data = {tuple(np.asarray(jax.random.key_data(k)).tolist()) for k in keys}
    assert len(data) == len(keys)
    prices = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 120)))
    small = dict(hidden_size=4, sequence_length=8, epochs=1, season_length=None)
    one, other = (jl.LSTMForecaster(seed=s, **small).fit(prices) for s in (1, 2**32 + 1))
    assert not np.allclose(jax.tree.leaves(one.params_)[0], jax.tree.leaves(other.params_)[0])

"""``jaxlstm.tune``: grid and random search, successive halving, walk-forward selection without look-ahead."""

import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src.forecasters import tuning
from jaxlstm.data import load_demo

TINY = dict(hidden_size=4, epochs=4, batch_size=64)


def _key(trial):
    return tuple(sorted(trial.items()))


@pytest.fixture(scope="module")
def prices():
    return np.asarray(load_demo().close[-220:], np.float64)


@pytest.fixture(scope="module")
def tuned(prices):
    space = {"learning_rate": [1e-3, 1e-2], "sequence_length": [8, 12]}
    return jl.tune(prices, space, horizon=6, folds=2, **TINY)


@pytest.mark.slow
def test_tune_returns_the_best_trial_fitted_on_all_data(prices, tuned):
    table = tuned.tuning_
    assert isinstance(tuned, jl.LSTMForecaster) and len(table) == 4
    best = table.best
    assert best["score"] == min(r["score"] for r in table.rows if r["rung"] == max(x["rung"] for x in table.rows))
    assert (tuned.learning_rate, tuned.sequence_length) == (best["learning_rate"], best["sequence_length"])
    assert tuned.prices_.shape[0] == prices.shape[0]
    np.testing.assert_array_equal(
        tuned.forecast(steps=3).predicted, tuned.predict_multi_step(prices[-best["sequence_length"] :], 3)
    )
    # Learning rates share a compiled call; the two window lengths are two groups.
    assert table.groups == 2
    frame = table.to_pandas()
    assert list(frame["score"]) == sorted(frame["score"]) and set(frame.columns) >= {"learning_rate", "score", "best"}
    assert table.to_dict()["space"] == {"learning_rate": [1e-3, 1e-2], "sequence_length": [8, 12]}


@pytest.mark.slow
def test_successive_halving_stops_the_worst_trials_early(tuned):
    rows = tuned.tuning_.rows
    assert tuning.rung_epochs(4, 3, 4) == [2, 4]
    assert sorted(r["epochs"] for r in rows) == [2, 2, 4, 4]
    assert max(r["epochs"] for r in rows if not r["best"]) <= 4 and tuned.tuning_.best["epochs"] == 4


def test_rung_epochs_and_sampling():
    assert tuning.rung_epochs(100, None, 9) == [100]
    assert tuning.rung_epochs(100, 3, 9) == [34, 68, 100]
    assert tuning.rung_epochs(100, 3, 1) == [100]
    space = {"learning_rate": [1e-3, 3e-3, 1e-2], "hidden_size": [4, 8]}
    every = [{"learning_rate": lr, "hidden_size": h} for lr in space["learning_rate"] for h in space["hidden_size"]]
    grid = tuning.sample_trials(space)
    assert len(grid) == 6 and sorted(map(_key, grid)) == sorted(map(_key, every))
    drawn = tuning.sample_trials(space, "random", 4, seed=1)
    assert len(drawn) == 4 and len({_key(d) for d in drawn}) == 4
    assert all(d in every for d in drawn)
    assert drawn == tuning.sample_trials(space, "random", 4, seed=1)


@pytest.mark.slow
def test_random_search_without_halving(prices):
    model = jl.tune(
        prices,
        {"learning_rate": [1e-3, 3e-3, 1e-2]},
        sampling="random",
        n_trials=2,
        halving=None,
        horizon=4,
        folds=1,
        sequence_length=8,
        **TINY,
    )
    rows = model.tuning_.rows
    assert len(rows) == 2 and all(r["epochs"] == 4 for r in rows)
    rates = [r["learning_rate"] for r in rows]
    assert len(set(rates)) == 2 and set(rates) <= {1e-3, 3e-3, 1e-2}
    best = min(rows, key=lambda r: r["score"])
    assert [r["best"] for r in rows] == [r is best for r in rows]
    assert model.learning_rate == best["learning_rate"] and model.tuning_.best["score"] == best["score"]


@pytest.mark.slow
def test_no_trial_or_score_sees_prices_after_its_fold(prices):
    """Poisoned future: scores of the first fold do not move when everything after what it may read changes."""
    space = {"learning_rate": [1e-3, 1e-2]}
    settings = dict(halving=None, horizon=6, folds=2, sequence_length=8, **TINY)
    clean = jl.tune(prices, space, **settings).tuning_
    (_, end0), _ = clean.folds
    poisoned = prices.copy()
    # Fold 0 trains on prices[:start0] and scores origins in [start0, end0) up to 6 steps ahead.
    cut = end0 + 6 - 1
    poisoned[cut:] *= np.random.default_rng(0).uniform(0.2, 5.0, size=poisoned.shape[0] - cut)
    dirty = jl.tune(poisoned, space, **settings).tuning_
    assert dirty.folds == clean.folds
    for a, b in zip(clean.rows, dirty.rows):
        assert a["fold_scores"][0] == b["fold_scores"][0]
        assert a["fold_scores"][1] != b["fold_scores"][1]


@pytest.mark.slow
def test_a_tuned_forecaster_in_a_backtest_sees_nothing_after_the_origin(prices):
    factory = lambda: jl.TunedLSTMForecaster(
        {"learning_rate": [1e-3, 1e-2]}, {"horizon": 4, "folds": 1, "halving": None}, dict(sequence_length=8, **TINY)
    )
    origin = 180
    poisoned = prices.copy()
    poisoned[origin:] *= 3.0
    runs = [
        jl.evaluation.backtest(p, {"tuned": factory}, train_size=150, steps=4, origins=[origin])["tuned"]
        for p in (prices, poisoned)
    ]
    np.testing.assert_array_equal(runs[0].predicted, runs[1].predicted)
    np.testing.assert_array_equal(runs[0].upper, runs[1].upper)


@pytest.mark.parametrize(
    ("space", "options", "error", "match"),
    [
        ({}, {}, TypeError, "space"),
        ([("learning_rate", [1e-3])], {}, TypeError, "space"),
        ({"learning_rate": []}, {}, ValueError, "non-empty"),
        ({"learning_rate": 1e-3}, {}, ValueError, "list"),
        ({"symbol": ["A"]}, {}, ValueError, "tunable"),
        ({"no_such": [1]}, {}, ValueError, "tunable"),
        ({"hidden_size": [0]}, {}, ValueError, "invalid value"),
        ({"learning_rate": [1e-3]}, {"learning_rate": 1e-2}, ValueError, "both"),
        ({"learning_rate": [1e-3]}, {"sampling": "bayes"}, ValueError, "sampling"),
        ({"learning_rate": [1e-3]}, {"sampling": "random"}, ValueError, "n_trials"),
        ({"learning_rate": [1e-3]}, {"sampling": "random", "n_trials": 2}, ValueError, "at most"),
        ({"learning_rate": [1e-3]}, {"n_trials": 2}, ValueError, "n_trials"),
        ({"learning_rate": [1e-3]}, {"halving": 1}, ValueError, "halving"),
        ({"learning_rate": [1e-3]}, {"folds": 0}, ValueError, "folds"),
        ({"learning_rate": [1e-3]}, {"validation_share": 1.5}, ValueError, "validation_share"),
        ({"learning_rate": [1e-3]}, {"hidden_size": -1}, ValueError, "hidden_size"),
        # Repeated values ran the same trial twice.
        ({"learning_rate": [1e-3, 1e-2, 1e-3]}, {}, ValueError, r"space\['learning_rate'\] lists 0.001 more than once"),
        (
            {"ensemble": [[{"seed": 1}], [{"seed": 1}]]},
            {},
            ValueError,
            r"space\['ensemble'\] lists \[\{'seed': 1\}\] more",
        ),
        # A horizon longer than the validation part was scored on its first few steps only.
        (
            {"learning_rate": [1e-3]},
            {"horizon": 1_000},
            ValueError,
            r"horizon=1000 is longer than the \d+ prices after",
        ),
        ({"learning_rate": np.array([[1e-3]])}, {}, ValueError, "non-empty list"),
    ],
)
def test_bad_searches_are_refused(prices, space, options, error, match):
    with pytest.raises(error, match=match):
        jl.tune(prices, space, **options)


def test_a_bad_fixed_setting_is_blamed_not_the_first_value_of_the_space():
    # tune(prices, {"hidden_size": [4, 8]}, epochs=0) said "space['hidden_size'] holds an
    # invalid value 4: epochs must be ...", and an unknown setting blamed the value too.
    with pytest.raises(ValueError, match=r"^epochs must be an integer >= 1, got 0$"):
        tuning.check_space({"hidden_size": [4, 8]}, {"epochs": 0})
    with pytest.raises(TypeError, match=r"^tune got unknown setting\(s\) \['steps'\]; LSTMForecaster's settings"):
        tuning.check_space({"hidden_size": [4, 8]}, {"steps": 5})
    with pytest.raises(ValueError, match=r"^space\['hidden_size'\] holds an invalid value 0: hidden_size must"):
        tuning.check_space({"hidden_size": [0, 8]}, {"epochs": 3})
    with pytest.raises(ValueError, match=r"^space\['hidden_size'\] holds an invalid value 0"):
        tuning.check_space({"hidden_size": [0]}, {})
    # Settings valid only with the space's values are no fault: features beyond the close need direct_steps.
    assert tuning.check_space({"direct_steps": [6, 12]}, {"features": ("close", "rsi")}) == {"direct_steps": (6, 12)}


def test_a_numpy_array_of_values_is_a_list_of_its_values():
    assert tuning.check_space({"learning_rate": np.logspace(-4, -2, 3)}) == {"learning_rate": (1e-4, 1e-3, 1e-2)}
    assert all(type(v) is float for v in tuning.check_space({"learning_rate": np.array([1e-3, 1e-2])})["learning_rate"])


def test_too_short_data_is_refused():
    with pytest.raises(ValueError, match="too short to tune|at least"):
        jl.tune(np.linspace(100, 110, 30), {"learning_rate": [1e-3]}, sequence_length=20)


def _huge_space():
    """3,000 x 3,000 x 3 = 27 million combinations (valid values, checked cheaply)."""
    return {
        "learning_rate": tuple(1e-4 + i * 1e-7 for i in range(3000)),
        "weight_decay": tuple(i * 1e-6 for i in range(3000)),
        "hidden_size": (4, 8, 16),
    }


def _no_grid(*args, **kwargs):
    raise AssertionError("the grid was listed (itertools.product)")


def test_random_search_of_a_huge_space_draws_trials_without_listing_the_grid(monkeypatch):
    import itertools
    import tracemalloc

    monkeypatch.setattr(itertools, "product", _no_grid)
    space = _huge_space()
    tracemalloc.start()
    try:
        drawn = tuning.sample_trials(space, "random", 2, seed=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(drawn) == 2 and drawn[0] != drawn[1]
    assert all(set(d) == set(space) and all(d[k] in space[k] for k in space) for d in drawn)
    assert peak < 5e6, f"drawing 2 trials peaked at {peak / 1e6:.1f} MB"
    assert drawn == tuning.sample_trials(space, "random", 2, seed=3)
    assert drawn != tuning.sample_trials(space, "random", 2, seed=4)


def test_a_grid_larger_than_the_bound_is_refused_before_it_is_built(monkeypatch):
    import itertools

    monkeypatch.setattr(itertools, "product", _no_grid)
    with pytest.raises(ValueError, match=r"27,000,000 combinations.*MAX_TRIALS.*sampling='random'"):
        tuning.sample_trials(_huge_space())
    with pytest.raises(ValueError, match="n_trials must be at most MAX_TRIALS"):
        tuning.sample_trials(_huge_space(), "random", tuning.MAX_TRIALS + 1)
    # tune refuses the same grid before it reads data or trains anything.
    with pytest.raises(ValueError, match="combinations"):
        jl.tune(np.linspace(100, 200, 50), _huge_space(), epochs=1)


def test_random_draws_are_distinct_uniform_grid_combinations():
    space = {"a": (1, 2, 3), "b": ("x", "y"), "c": (0.1, 0.2, 0.3, 0.4)}
    grid = tuning.sample_trials(space)
    assert len(grid) == tuning.grid_size(space) == 24
    assert grid[:3] == [{"a": 1, "b": "x", "c": 0.1}, {"a": 1, "b": "x", "c": 0.2}, {"a": 1, "b": "x", "c": 0.3}]
    assert len({tuple(t.values()) for t in grid}) == 24
    # Every combination is drawn, each once, when n_trials is the grid's size.
    drawn = tuning.sample_trials(space, "random", 24, seed=5)
    assert sorted(map(str, drawn)) == sorted(map(str, grid))
    # A space beyond int64 combinations (100 ** 10) still draws distinct indices into it.
    picks = tuning._distinct_indices([100] * 10, 50, np.random.default_rng(0))
    assert len(set(picks)) == 50 and all(0 <= p < 100**10 for p in picks)

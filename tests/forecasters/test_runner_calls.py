"""Every fit and every forecast goes through the one runner, ``stacked.run_stacked``, once per group.

A spy on ``run_stacked`` counts the calls of the trainer (``fit_one_model``) and of the
forecasters (``_forecast_one_model``, ``_direct_one_model``) with the rows of each.
"""

from __future__ import annotations

import numpy as np
import pytest
from compilations import counted

import jaxlstm as jl
from jaxlstm._src import stacked
from jaxlstm._src.evaluation.synthetic import random_walk
from jaxlstm._src.forecasters import bands
from jaxlstm._src.prep import windows

TINY = dict(hidden_size=4, sequence_length=8, epochs=2, batch_size=32)
TRAINER = "fit_one_model"


class Spy:
    """Records ``(function name, rows, static)`` of every ``run_stacked`` call, and each call's last argument.

    That argument is a ``[rows]`` cap of every row: the epochs of a trainer call, the
    forecast steps of a forecaster call.
    """

    def __init__(self) -> None:
        #: ``(function name, rows, static, the most steps a row runs)`` (0 for the trainer).
        self.calls: list[tuple[str, int, dict, int]] = []
        #: ``(steps, [rows] step limits)`` of each forecaster call.
        self.limits: list[tuple[int, np.ndarray]] = []
        #: ``[rows]`` epoch caps of each trainer call.
        self.epochs: list[np.ndarray] = []
        #: The training windows' shape of each trainer call.
        self.shapes: list[tuple[int, ...]] = []

    def trainer(self) -> list[int]:
        """Rows of each trainer call."""
        return [rows for name, rows, _, _ in self.calls if name == TRAINER]

    def forecasts(self, steps: int | None = None) -> list[int]:
        """Rows of each forecaster call (whose longest row runs ``steps`` steps when given).

        A recursive forecaster is compiled for at least ``rows.RECURSIVE_STEPS`` steps and
        stops each row after the steps it was asked for.
        """
        return [rows for name, rows, _, most in self.calls if name != TRAINER and (steps is None or most == steps)]

    def calibration(self) -> list[int]:
        """Rows of each forecaster call that runs more than one step (fit's other forecasts run one)."""
        return [rows for name, rows, _, most in self.calls if name != TRAINER and most > 1]

    def clear(self) -> None:
        self.calls.clear()
        self.limits.clear()
        self.epochs.clear()
        self.shapes.clear()


@pytest.fixture
def spy(monkeypatch):
    found = Spy()
    real = stacked.run_stacked

    def counting(fn, args, **kwargs):
        import jax

        most = 0 if fn.__name__ == TRAINER else int(np.max(args[-1]))
        rows = int(np.shape(jax.tree.leaves(args)[0])[0])
        found.calls.append((fn.__name__, rows, dict(kwargs.get("static") or {}), most))
        if fn.__name__ != TRAINER:
            found.limits.append(((kwargs.get("static") or {}).get("steps"), np.asarray(args[-1])))
        else:
            found.epochs.append(np.asarray(args[-1]))
            found.shapes.append(tuple(np.shape(args[2].xs)[1:]) + tuple(np.shape(args[2].xs_val)[1:]))
        return real(fn, args, **kwargs)

    monkeypatch.setattr(stacked, "run_stacked", counting)
    return found


@pytest.fixture(scope="module")
def prices():
    return random_walk(300, seed=4).prices


def test_fit_trains_model_then_calibration_copy_and_forecast_never_trains(spy, prices):
    model = jl.LSTMForecaster(**TINY, calibration="both").fit(prices)
    # The model, then its head-refit calibration copy (which needs the model's kept epoch).
    assert spy.trainer() == [1, 1]
    assert set(model.calibration_models_) == {"auto", "refit"}
    # Calibration forecasts (up to 168 steps): one call, the tail's windows and the head's in chunks of one size.
    assert len(spy.calibration()) == 1
    spy.clear()
    with counted() as compiled:
        model.forecast(steps=24)
        model.forecast(steps=5, confidence=0.8)
    assert spy.trainer() == []
    assert spy.forecasts() == [1, 1] and spy.forecasts(24) == spy.forecasts(5) == [1]
    # Every horizon up to band_steps runs the program the calibration compiled: none compiles.
    assert {static["steps"] for _, _, static, _ in spy.calls} == {model.band_steps}
    assert not [name for name in compiled if "one_model" in name], dict(compiled)


def test_calibration_forecasts_stop_at_the_last_fitted_price_and_equal_full_forecasts(spy, prices):
    model = jl.LSTMForecaster(**TINY, calibration="both").fit(prices)
    n, steps, length = prices.shape[0], model.band_steps, model.window_length
    origins = {
        source: np.arange(max(scorer.start, model.min_window()), n)
        for source, scorer in model.calibration_models_.items()
    }
    # The plan: each source's origins in chunks of the group's smallest bucket; a chunk runs
    # as many steps as its earliest origin still has fitted prices for, at most band_steps.
    size = min(windows.bucket_size(o.size, windows.MIN_FORECAST_BUCKET) for o in origins.values())
    planned = [min(steps, n - o[c]) for o in origins.values() for c in range(0, o.size, size)]
    (limits,) = [lim for _, lim in spy.limits if lim.max() > 1]  # fit's other forecasts run one step
    assert sorted(limits.tolist()) == sorted(planned)
    assert min(planned) < steps  # the last chunk of each source stops early
    for source, scorer in model.calibration_models_.items():
        # The reference: every step forecast, then scored where a fitted price exists.
        full = scorer.model.predict_windows(windows.windows_before(prices, origins[source], length), steps)
        want = bands.origin_residuals(prices, origins[source], full)
        got = model.calibration_residuals(steps, source)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
@pytest.mark.parametrize("ensemble", [1, 3])
def test_head_refit_takes_no_more_optimiser_steps_than_each_member_kept(spy, ensemble):
    # Demo hourly closes whose held-back tail stops the model at its first epoch, while the
    # head alone, uncapped, would train all 30: the cap is what stops the copy.
    closes = jl.data.load_demo().to_pandas()["close"].to_numpy()[700:1000]
    settings = {**TINY, "epochs": 30, "patience": 2, "ensemble": ensemble}
    model = jl.LSTMForecaster(**settings, calibration="both").fit(closes)
    head = model.calibration_models_["refit"]
    kept = model.metrics_.get("member_best_epochs") or [model.metrics_["best_epoch"]]
    batches = lambda m: -(-m.metrics_["n_train_windows"] // m.batch_size)  # optimiser steps per epoch
    # Each copy member: its model member's kept steps, in whole epochs of the shorter head.
    caps = [-(-epoch * batches(model) // batches(head.model)) for epoch in kept]
    first, second = spy.epochs
    assert first.tolist() == [30] * ensemble
    assert second.tolist() == caps
    runs = head.model.metrics_.get("member_epochs_run") or [head.model.metrics_["epochs_run"]]
    assert all(run <= cap for run, cap in zip(runs, caps, strict=True))
    if ensemble == 1:
        assert kept == [1] and caps == [3] and head.model.metrics_["stop_reason"] == "max_epochs"
        assert jl.LSTMForecaster(**settings).fit(closes[: head.start]).metrics_["epochs_run"] == 30
    # One compiled trainer for both calls: the copy's data takes the model's padded shapes.
    assert spy.shapes[0] == spy.shapes[1]


def test_calibration_auto_with_a_held_back_tail_trains_one_row(spy, prices):
    jl.LSTMForecaster(**TINY, calibration="auto").fit(prices)
    assert spy.trainer() == [1]
    assert spy.calibration() == [1]


@pytest.mark.slow
def test_ensemble_members_and_their_calibration_copies_train_together(spy, prices):
    model = jl.LSTMForecaster(**TINY, ensemble=3, calibration="refit").fit(prices)
    assert spy.trainer() == [3, 3]  # 3 members of the model, then 3 of the head copy
    spy.clear()
    model.forecast(steps=3)
    assert spy.trainer() == []


def test_fit_many_and_forecast_many_are_one_call_each(spy, prices):
    data = {"a": prices, "b": prices[:250] * 1.1, "c": prices[20:]}
    models = jl.LSTMForecaster.fit_many(data, **TINY, calibration="both")
    assert spy.trainer() == [3, 3]  # 3 models, then their 3 head copies
    # Each trainer call's one-step check of every model it trained (the validation MAE, and
    # whether a member diverged): one forecaster call, not one per model.
    assert len(spy.forecasts(1)) == 2
    spy.clear()
    jl.LSTMForecaster.forecast_many(models, steps=4)
    assert spy.trainer() == [] and spy.forecasts() == [3]


def test_a_warm_fit_many_of_another_count_of_series_compiles_nothing(prices):
    # Stacking the rows' keys, padding the rows to whole blocks and trimming the results
    # with jnp compiled a few small programs per count of rows (a warm fit_many of 23 series:
    # 14 of them); the host does that now, and the fit and forecast programs are warm.
    data = {f"s{i}": prices[i * 7 :] * (1 + i / 10) for i in range(4)}
    jl.LSTMForecaster.fit_many(data, **TINY, calibration="both", workers=2)
    # Three models' one-step checks take the same two forecaster blocks of two rows as four's,
    # and their windows the same shape buckets (training runs one row per block anyway).
    fewer = {name: values[3:] for name, values in list(data.items())[:3]}
    with counted() as compiled:
        models = jl.LSTMForecaster.fit_many(fewer, **TINY, calibration="both", workers=2)
    assert not compiled, dict(compiled)
    assert sorted(models) == ["s0", "s1", "s2"] and all(m.band_ is not None for m in models.values())


def test_on_a_cpu_every_trainer_row_runs_on_its_own_so_any_count_shares_one_program(spy, prices):
    # Vmapped blocks of up to 6 rows computed both branches of the skip of an all-padding
    # minibatch for every row and ran until the block's last row stopped, and each block
    # size was a program of its own (fit_many of 200 series: 90.0 s, now 44.0 s, benchmarks.speed.many).
    data = {f"s{i}": prices[i * 7 :] * (1 + i / 10) for i in range(5)}
    with counted() as compiled:
        for count in (5, 3, 2):
            # A hidden size of its own: no other test has compiled these programs.
            settings = {**TINY, "hidden_size": 5, "calibration": "auto", "workers": 2}
            jl.LSTMForecaster.fit_many(dict(list(data.items())[:count]), **settings)
    assert compiled["jit(fit_one_model)"] == 1, dict(compiled)
    assert spy.trainer() == [5, 3, 2]


def test_models_of_different_seasons_forecast_in_one_call_of_one_program(spy):
    # Seasonal models of seasons 3, 4 and 6 (and a series with none, reading positions in a
    # global model) used to need one program each; the shared seasonal form runs them together.
    t = np.arange(240)
    data = {f"m{m}": 100 * (1 + 0.2 * np.sin(2 * np.pi * t / m)) * np.exp(0.001 * t) for m in (3, 4, 6)}
    models = {
        name: jl.LSTMForecaster(**TINY, season_length=int(name[1:]), calibration="auto").fit(values)
        for name, values in data.items()
    }
    assert {m.season_length_ for m in models.values()} == {3, 4, 6}
    spy.clear()
    with counted() as compiled:
        found = jl.LSTMForecaster.forecast_many(models, steps=4)
    assert spy.forecasts() == [3]
    assert compiled["jit(_calendar_one_model)"] <= 1, dict(compiled)
    for name, model in models.items():
        np.testing.assert_array_equal(found[name].predicted, model.forecast(steps=4).predicted)
    # A global model whose series have other seasons or none: every calibration forecast in one call.
    spy.clear()
    pooled = jl.LSTMForecaster(**TINY, calibration="auto").fit({**data, "walk": random_walk(240, seed=1).prices})
    assert sorted(v.season_length_ or 0 for v in pooled.series_.values()) == [0, 3, 4, 6]
    assert len(spy.calibration()) == 1


@pytest.mark.slow
def test_update_is_one_call(spy, prices):
    model = jl.LSTMForecaster(**TINY, ensemble=2).fit(prices[:280], interval="1h")
    spy.clear()
    model.update(prices[280:], interval="1h", epochs=2)
    assert spy.trainer() == [2]


@pytest.mark.slow
def test_tune_trains_each_rung_and_its_final_fit_in_one_call(spy, prices):
    model = jl.tune(
        prices, {"learning_rate": [1e-3, 3e-3, 1e-2]}, **TINY, folds=2, horizon=4, halving=3, calibration="auto"
    )
    assert [row["rung"] for row in model.tuning_.rows].count(1) == 1  # rungs of 1 and 2 epochs, one survivor
    # Rung 0: 3 trials x 2 folds; rung 1: the survivor's 2 folds; then the final fit (no copy: a held-back tail).
    assert spy.trainer() == [6, 2, 1]
    # The validation forecasts of each rung: one call (the folds' window counts pad alike).
    assert spy.forecasts(4) == [6, 2]
    assert len(spy.forecasts(1)) == 3  # each rung's one-step checks, then the final fit's: one call each


@pytest.mark.parametrize("vectorize", [True, False])
@pytest.mark.slow
def test_backtest_origins(spy, prices, vectorize):
    origins = [200, 220, 240]
    jl.evaluation.backtest(
        prices,
        {"lstm": lambda: jl.LSTMForecaster(**TINY, calibration="auto")},
        train_size=150,
        steps=4,
        origins=origins,
        vectorize=vectorize,
    )
    if vectorize:
        assert spy.trainer() == [3]  # every origin one row of one call
        assert spy.forecasts(4) == [3]
    else:
        assert spy.trainer() == [1, 1, 1]

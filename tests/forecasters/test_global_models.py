"""Global models: one network on the windows of many series, each encoded on its own."""

from __future__ import annotations

import contextlib
import copy

import jax
import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm._src.forecasters import continuation, global_models, rows, stacked_residuals
from jaxlstm._src.forecasters.forecast import Forecasts
from jaxlstm._src.io.series import is_many

SMALL = dict(hidden_size=4, sequence_length=6, epochs=2, batch_size=32)


def _walk(n: int, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))


SERIES = {"A": _walk(90, 0.01, 0), "B": _walk(130, 0.04, 1), "C": _walk(110, 0.02, 2)}


def _long(series: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame({"unique_id": name, "ds": pd.date_range("2024-01-01", periods=len(v), freq="D"), "y": v})
            for name, v in series.items()
        ]
    )


@contextlib.contextmanager
def _spying(name: str):
    """Replaces ``rows.<name>`` with a spy for the block; yields the list of first arguments it was called with."""
    seen: list = []
    original = getattr(rows, name)

    def spy(first, **options):
        seen.append(first)
        return original(first, **options)

    setattr(rows, name, spy)
    try:
        yield seen
    finally:
        setattr(rows, name, original)


@pytest.fixture(scope="module")
def captured():
    """A global fit of SERIES (a long frame), and the training rows it handed to the runner."""
    with _spying("train_models") as seen:
        model = jl.LSTMForecaster(**SMALL).fit(_long(SERIES))
    return model, seen


@pytest.mark.slow  # shares the module's global fit, which compiles a trainer and a forecaster
def test_fit_on_a_long_frame_is_one_global_model_whose_series_share_the_params(captured):
    model, seen = captured
    assert list(model.series_) == ["A", "B", "C"]
    assert model.metrics_["series"] == 3
    for name, view in model.series_.items():
        assert view.symbol == name and view.params_ is model.params_
        assert view.interval_ == np.timedelta64(1, "D")
    # One row for the global model, then one for its head-refit calibration copy (a second
    # call: its epochs are capped by the steps the global model's kept params took).
    assert [[len(plan) for plan in call] for call in seen] == [[1], [1]]
    assert seen[1][0][0].epochs is not None and seen[1][0][0].data.xs.shape == seen[0][0][0].data.xs.shape
    assert (
        model.series_["B"].calibration_models_["refit"].model.pool_
        is model.series_["A"].calibration_models_["refit"].model.pool_
    )


@pytest.mark.slow  # shares the module's global fit, which compiles a trainer and a forecaster
def test_training_rows_hold_every_series_windows_in_its_own_encoding(captured):
    model, seen = captured
    data = seen[0][0][0].data
    length, start = SMALL["sequence_length"], 0
    for name, prices in SERIES.items():
        count = len(prices) - length
        n_val = int(count * 0.1)
        n_train = count - n_val
        # The relative encoding, written out: log price over the window's last, in units of
        # the spread of the one-step log returns of this series' own training part.
        scale = np.std(np.diff(np.log(prices[: n_train + length])))
        windows = np.stack([prices[k : k + length] for k in range(count)])
        expected = np.log(windows / windows[:, -1:]) / scale
        targets = np.log(prices[length:] / windows[:, -1]) / scale
        np.testing.assert_allclose(data.xs[start : start + n_train, :, 0], expected[:n_train], atol=2e-5)
        np.testing.assert_allclose(data.ys[start : start + n_train, 0], targets[:n_train], atol=2e-5)
        assert model.series_[name].encoding_state_["log_return_std"] == pytest.approx(scale, rel=1e-12)
        start += n_train
    assert data.weights.sum() == start and not data.weights[start:].any()


@pytest.mark.slow  # shares the module's global fit, which compiles a trainer and a forecaster
def test_forecast_of_a_global_model_is_forecasts_with_each_series_band(captured):
    model, _ = captured
    found = model.forecast("3D", level=[80, 95])
    assert type(found) is Forecasts and list(found) == ["A", "B", "C"]
    again = jl.LSTMForecaster.forecast_many(model.series_, steps=3, level=[80, 95])
    for name, fc in found.items():
        assert fc.symbol == name and len(fc) == 3
        assert np.all(fc.lower < fc.predicted) and np.all(fc.predicted < fc.upper)
        np.testing.assert_array_equal(fc.predicted, again[name].predicted)
        assert fc.timestamps[0] == np.datetime64(pd.Timestamp("2024-01-01") + pd.Timedelta(days=len(SERIES[name])))
    frame = found.to_pandas()
    assert list(frame.columns[:5]) == ["unique_id", "ds", "predicted", "lower", "upper"] and "lo-80" in frame
    assert frame["unique_id"].tolist() == ["A"] * 3 + ["B"] * 3 + ["C"] * 3
    # Each series has its own band: the volatile series' is the widest.
    widths = {name: float(np.log(fc.upper[0] / fc.lower[0])) for name, fc in found.items()}
    assert widths["B"] > widths["C"] > widths["A"]


@pytest.mark.slow  # shares the module's global fit, which compiles a trainer and a forecaster
def test_a_global_model_refuses_what_only_one_series_means(captured):
    model, _ = captured
    with pytest.raises(ValueError, match="global model of 3 series"):
        model.predict_multi_step(SERIES["A"][-6:], 2)
    with pytest.raises(TypeError, match="non-empty mapping of series name -> new prices"):
        model.update(SERIES["A"][-10:])
    with pytest.raises(ValueError, match=r"does not have; it has 'A', 'B', 'C'"):
        model.update({"D": SERIES["A"][-10:]})
    with pytest.raises(ValueError, match="global model of 3 series"):
        jl.LSTMForecaster.forecast_many({"group": model}, steps=2)
    # The band of one series asked of the whole model was an AssertionError ("fitted models have a band").
    for call in (
        lambda: model.forecast_from(np.ones(2)),
        lambda: model.band_offsets(2),
        lambda: model.calibration_residuals(2),
        model.forecast_window,
    ):
        with pytest.raises(ValueError, match="global model of 3 series"):
            call()
    assert model.series_["A"].predict_multi_step(SERIES["A"][-6:], 2).shape == (2,)


@pytest.mark.slow  # shares the module's global fit, which compiles a trainer and a forecaster
def test_observe_moves_the_origin_of_the_series_it_names_and_of_no_other(captured):
    # observe(prices) on a global model set an origin no forecast read, without a word.
    model = jl.LSTMForecaster.from_json(captured[0].to_json())
    before = model.forecast(steps=3)
    with pytest.raises(TypeError, match="mapping of series name -> new prices .* to observe the global model"):
        model.observe(SERIES["A"][-10:])
    newer = {"A": SERIES["A"][: len(SERIES["A"]) - 5]}
    # All or nothing: a refused series leaves the named series before it as they were.
    with pytest.raises(ValueError, match=r"data\['B'\]: data must have at least 6 prices"):
        model.observe({**newer, "B": SERIES["B"][:2]})
    np.testing.assert_array_equal(model.forecast(steps=3)["A"].predicted, before["A"].predicted)
    model.observe(_long(newer))
    after = model.forecast(steps=3)
    alone = jl.LSTMForecaster.from_json(captured[0].to_json()).series_["A"].observe(newer["A"])
    np.testing.assert_array_equal(after["A"].predicted, alone.forecast(steps=3).predicted)
    assert not np.allclose(after["A"].predicted, before["A"].predicted)
    for name in ("B", "C"):
        np.testing.assert_array_equal(after[name].predicted, before[name].predicted)


@pytest.mark.slow  # shares the module's global fit, which compiles a trainer and a forecaster
def test_save_load_and_json_round_trip_give_identical_forecasts(captured, tmp_path):
    model, _ = captured
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "global"))
    from_json = jl.LSTMForecaster.from_json(model.to_json())
    before = model.forecast(steps=4)
    for other in (loaded, from_json):
        after = other.forecast(steps=4)
        assert list(after) == list(before) and other.trained_on_.same_data(model.trained_on_)
        for name in before:
            for field in ("predicted", "lower", "upper"):
                np.testing.assert_array_equal(getattr(after[name], field), getattr(before[name], field))
    assert loaded.get_params() == model.get_params()


def test_the_residuals_are_saved_as_arrays_not_in_the_metadata(captured):
    """A global model's metadata stays small: its series' residual rows go to the array tree."""
    model, _ = captured
    tree, metadata = model.saved_parts()
    assert metadata["global"]["order"] == ["A", "B", "C"] and metadata["global"]["residuals"]
    for saved in metadata["global"]["series"].values():
        assert not any(rows for rows in saved["calibration"].values())
    unstacked = stacked_residuals.unstack(tree["residuals"], 3)
    for found, view in zip(unstacked, model.series_.values(), strict=True):
        assert set(found) == {s for s, kept in view.band_.residuals.items() if kept.size}
        for source, kept in found.items():
            np.testing.assert_array_equal(kept, view.band_.residuals[source])


def test_a_global_model_saved_with_residuals_in_its_metadata_still_loads(captured):
    """The layout before the residual arrays: rows in each series' calibration entry, no order."""
    model, _ = captured
    tree, metadata = copy.deepcopy(model.saved_parts())
    unstacked = stacked_residuals.unstack(tree["residuals"], 3)
    for saved, found in zip(metadata["global"]["series"].values(), unstacked, strict=True):
        for source, kept in found.items():
            saved["calibration"][source] = [[None if np.isnan(x) else float(x) for x in row] for row in kept]
    del metadata["global"]["order"], metadata["global"]["residuals"]
    old = global_models.from_parts(jl.LSTMForecaster, tree["state"], metadata, "test")
    before, after = model.forecast(steps=4), old.forecast(steps=4)
    for name in before:
        for field in ("predicted", "lower", "upper"):
            np.testing.assert_array_equal(getattr(after[name], field), getattr(before[name], field))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda tree, meta: meta["global"].update(order=["A", "B"]), "order of the series must list each"),
        (lambda tree, meta: meta["global"].update(order=["A", "A", "B"]), "order of the series must list each"),
        (lambda tree, meta: tree.pop("residuals"), "lack the calibration residuals"),
        (
            lambda tree, meta: tree["residuals"]["auto"].update(shape=tree["residuals"]["auto"]["shape"] + 1000),
            "exceeds its arrays",
        ),
    ],
)
def test_a_tampered_global_model_is_refused_as_damaged(captured, change, match):
    model, _ = captured
    tree, metadata = copy.deepcopy(model.saved_parts())
    change(tree, metadata)
    with pytest.raises(ValueError, match=f"test is damaged.*{match}"):
        global_models.from_parts(jl.LSTMForecaster, tree, metadata, "test")


@pytest.mark.slow
def test_a_global_model_of_many_long_series_saves_and_loads(tmp_path):
    """24 series x 300 prices hold 720,000 residuals: past the metadata's element limit, saved as arrays."""
    rng = np.random.default_rng(3)
    data = {f"s{i:02d}": 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 300))) for i in range(24)}
    model = jl.LSTMForecaster(hidden_size=2, sequence_length=6, epochs=1, batch_size=64).fit(data)
    assert sum(kept.size for view in model.series_.values() for kept in view.band_.residuals.values()) > 500_000
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "many"))
    before, after = model.forecast(steps=30), loaded.forecast(steps=30)
    for name in data:
        for field in ("predicted", "lower", "upper"):
            np.testing.assert_array_equal(getattr(after[name], field), getattr(before[name], field))


@pytest.mark.slow
def test_a_saved_global_model_keeps_the_order_of_its_embedding_rows(tmp_path):
    """JSON objects come back with sorted keys; the rows of the series' embeddings must not follow them."""
    data = {"C": SERIES["C"], "A": SERIES["A"], "B": SERIES["B"]}
    model = jl.LSTMForecaster(**SMALL, series_embedding=2).fit(data)
    for loaded in (jl.LSTMForecaster.load(model.save(tmp_path / "emb")), jl.LSTMForecaster.from_json(model.to_json())):
        assert list(loaded.series_) == ["C", "A", "B"]
        before, after = model.forecast(steps=3), loaded.forecast(steps=3)
        for name in data:
            np.testing.assert_array_equal(after[name].predicted, before[name].predicted)


@pytest.mark.slow  # shares the module's global fit, which compiles a trainer and a forecaster
def test_the_data_fingerprint_of_many_series_is_what_the_global_model_records(captured):
    model, _ = captured
    assert jl.data.fingerprint(_long(SERIES)).same_data(model.trained_on_)
    other = {**SERIES, "C": SERIES["C"] * 1.01}
    assert not jl.data.fingerprint(_long(other)).same_data(model.trained_on_)


@pytest.mark.slow  # shares the module's global fit, which compiles a trainer and a forecaster
def test_model_cache_serves_a_global_model(captured, tmp_path):
    model, _ = captured
    calls = []

    def train(symbol):
        calls.append(symbol)
        return model

    cache = jl.ModelCache(tmp_path, train_fn=train)
    data = _long(SERIES)
    first = cache.get("group", settings=SMALL, data=data)
    second = jl.ModelCache(tmp_path).get("group", settings=SMALL, data=data)
    assert calls == ["group"] and list(second.series_) == ["A", "B", "C"]
    np.testing.assert_array_equal(second.forecast(steps=2)["B"].predicted, first.forecast(steps=2)["B"].predicted)
    status = cache.status("group", settings=SMALL, data=_long({**SERIES, "A": SERIES["A"][:-1]}))
    assert not status.fresh and status.reason.startswith("trained on other data")


@pytest.mark.slow
def test_a_global_fit_of_one_series_equals_the_plain_fit():
    settings = dict(SMALL, epochs=3)
    alone = jl.LSTMForecaster(**settings).fit(SERIES["B"])
    pooled = jl.LSTMForecaster(**settings).fit({"B": SERIES["B"]})
    for leaf, other in zip(jax.tree.leaves(pooled.params_), jax.tree.leaves(alone.params_), strict=True):
        np.testing.assert_allclose(np.asarray(leaf), np.asarray(other), rtol=1e-6, atol=1e-7)
    a, b = alone.forecast(steps=5), pooled.forecast(steps=5)["B"]
    for field in ("predicted", "lower", "upper"):
        np.testing.assert_allclose(getattr(b, field), getattr(a, field), rtol=1e-6)
    assert pooled.metrics_["epochs_run"] == alone.metrics_["epochs_run"]


@pytest.mark.slow
def test_series_embedding_learns_one_vector_per_series_and_saves(tmp_path):
    model = jl.LSTMForecaster(**SMALL, series_embedding=3).fit(SERIES)
    table = np.asarray(model.params_["embedding"])
    assert table.shape == (3, 3) and np.abs(table).sum() > 0
    assert not np.allclose(table[0], table[1])
    np.testing.assert_array_equal(np.asarray(model.series_["C"].params_["embedding"]), table[2])
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "emb"))
    np.testing.assert_array_equal(loaded.forecast(steps=3)["C"].predicted, model.forecast(steps=3)["C"].predicted)
    # An update's windows carry their series' row of the table, as the fit's do.
    with _spying("train_rows") as seen:
        model.update({"C": SERIES["C"][-1] * np.array([1.01, 1.0, 0.99])}, epochs=1, interval="1D")
    data = seen[0][0].data
    assert data.weights.sum() == 3 and np.all(data.xs[:3, :, -1] == 2)
    assert model.series_["C"].prices_.shape[0] == model.series_["C"].window_length + 3


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ({}, TypeError, "non-empty mapping"),
        ({1: SERIES["A"]}, TypeError, "keys must be symbol strings, got int 1"),
        ({"A": SERIES["A"], "B": SERIES["B"][:5]}, ValueError, r"data\['B'\] must have at least 7 prices"),
        ({"A": SERIES["A"], "B": np.r_[SERIES["B"][:50], np.nan, SERIES["B"][51:]]}, ValueError, r"data\['B'\]"),
        (
            {
                "A": pd.Series(SERIES["A"], index=pd.date_range("2024", periods=90, freq="D")),
                "B": pd.Series(SERIES["B"], index=pd.date_range("2024", periods=130, freq="h")),
            },
            ValueError,
            r"data\['B'\] is at an interval of 1h, but data\['A'\] at 1d",
        ),
    ],
)
def test_bad_series_are_refused_naming_the_argument_and_the_series(data, error, match):
    with pytest.raises(error, match=match):
        jl.LSTMForecaster(**SMALL).fit(data)


def test_is_many_tells_global_data_from_one_series():
    assert is_many({"A": [1.0, 2.0]}) and is_many(_long(SERIES))
    assert not is_many(SERIES["A"]) and not is_many(pd.Series(SERIES["A"]))
    assert not is_many(pd.DataFrame({"close": SERIES["A"]}))


@pytest.mark.slow  # a second global fit
def test_a_frame_indexed_by_unique_id_and_ds_fits_the_global_model_of_its_long_frame(captured):
    # A Series indexed by (unique_id, ds) was fitted as ONE undated series of every row.
    model = captured[0]
    indexed = jl.LSTMForecaster(**SMALL).fit(_long(SERIES).set_index(["unique_id", "ds"])["y"])
    assert list(indexed.series_) == ["A", "B", "C"]
    assert indexed.series_["B"].interval_ == np.timedelta64(1, "D")
    for mine, theirs in zip(jax.tree.leaves(indexed.params_), jax.tree.leaves(model.params_), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(indexed.forecast(steps=3)["C"].predicted, model.forecast(steps=3)["C"].predicted)


@pytest.mark.slow
def test_other_sets_of_series_in_one_bucket_reuse_the_compiled_trainer():
    import collections

    counts: collections.Counter[str] = collections.Counter()

    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            counts[str(kwargs.get("fun_name"))] += 1

    settings = dict(SMALL, hidden_size=3)
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        # 3, 4 and 3 series of other lengths: 315 to 328 windows in all, one bucket.
        for lengths in ((120, 110, 103), (80, 85, 90, 84), (140, 100, 106)):
            data = {f"S{i}": _walk(n, 0.02, i) for i, n in enumerate(lengths)}
            jl.LSTMForecaster(**settings).fit(data)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert counts["jit(fit_arrays)"] + counts["jit(fit_one_model)"] == 1, dict(counts)


@pytest.mark.slow
def test_each_series_chooses_its_own_shrinkage_and_keeps_it_through_save(tmp_path):
    model = jl.LSTMForecaster(**SMALL, shrink="auto").fit(SERIES)
    weights = {name: view.shrink_weight for name, view in model.series_.items()}
    assert all(0.0 <= w <= 1.0 for w in weights.values())
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "shrunk"))
    assert {name: view.shrink_weight for name, view in loaded.series_.items()} == weights
    before, after = model.forecast(steps=3), loaded.forecast(steps=3)
    for name in SERIES:
        np.testing.assert_array_equal(after[name].predicted, before[name].predicted)
        np.testing.assert_array_equal(after[name].upper, before[name].upper)


@pytest.mark.slow
def test_a_global_update_of_one_series_equals_the_local_update():
    settings = dict(SMALL, epochs=3)
    prices = _walk(150, 0.04, 1)
    alone = jl.LSTMForecaster(**settings).fit(prices[:130], interval="1d")
    pooled = jl.LSTMForecaster(**settings).fit({"B": prices[:130]}, interval="1d")
    alone.update(prices[130:], epochs=2, interval="1d")
    pooled.update({"B": prices[130:]}, epochs=2, interval="1d")
    for leaf, other in zip(jax.tree.leaves(pooled.params_), jax.tree.leaves(alone.params_), strict=True):
        np.testing.assert_array_equal(np.asarray(leaf), np.asarray(other))
    a, b = alone.forecast(steps=4), pooled.forecast(steps=4)["B"]
    for field in ("predicted", "lower", "upper"):
        np.testing.assert_array_equal(getattr(b, field), getattr(a, field))
    np.testing.assert_array_equal(pooled.series_["B"].prices_, alone.prices_)
    assert pooled.metrics_["updates"] == alone.metrics_["updates"] == 1


@pytest.mark.slow  # shares the module's global fit; the update compiles its own trainer
def test_a_global_update_trains_the_shared_params_on_the_new_windows_of_the_series_given(captured, tmp_path):
    model = copy.deepcopy(captured[0])
    before = model.forecast(steps=3)
    length = SMALL["sequence_length"]
    new = {name: _walk(8, 0.02, 10 + k) * SERIES[name][-1] / 100 for k, name in enumerate(("A", "C"))}
    later = pd.concat(
        [
            pd.DataFrame(
                {"unique_id": name, "ds": pd.date_range("2024-01-01", periods=len(SERIES[name]) + 8)[-8:], "y": v}
            )
            for name, v in new.items()
        ]
    )
    with _spying("train_rows") as seen:
        model.update(later, epochs=2)
    # One runner call, one row: the windows of A then C, each in its own fitted encoding, written out.
    assert len(seen) == 1 and len(seen[0]) == 1
    data = seen[0][0].data
    start = 0
    for name in ("A", "C"):
        series = np.concatenate([SERIES[name][-length:], new[name]])
        scale = model.series_[name].encoding_state_["log_return_std"]
        windows = np.stack([series[k : k + length] for k in range(8)])
        np.testing.assert_allclose(
            data.xs[start : start + 8, :, 0], np.log(windows / windows[:, -1:]) / scale, atol=2e-5
        )
        np.testing.assert_allclose(
            data.ys[start : start + 8, 0], np.log(series[length:] / windows[:, -1]) / scale, atol=2e-5
        )
        start += 8
    assert data.weights.sum() == 16 and data.xs_val.shape[0] == 0
    assert model.metrics_["updates"] == 1
    after = model.forecast(steps=3)
    # A and C continue from their new prices; B keeps its prices, forecast by the new params.
    assert model.series_["B"].prices_.shape[0] == len(SERIES["B"])
    np.testing.assert_array_equal(model.series_["A"].prices_[-8:], new["A"])
    assert after["A"].timestamps[0] == before["A"].timestamps[0] + np.timedelta64(8, "D")
    assert after["B"].timestamps[0] == before["B"].timestamps[0]
    assert not np.array_equal(after["B"].predicted, before["B"].predicted)
    for view in model.series_.values():
        assert view.params_ is model.params_ and view.calibration_models_ == {}
    # Each updated band gained the residuals the model before the update makes, series by series.
    for name in ("A", "C"):
        series = np.concatenate([SERIES[name][-length:], new[name]])
        view = captured[0].series_[name]
        expected = continuation.extended_band(view, series, view._max_calibration_origins).residuals
        found = model.series_[name].band_.residuals
        assert list(found) == list(expected)
        for source in expected:
            np.testing.assert_allclose(found[source], expected[source], rtol=1e-12, equal_nan=True)
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "updated"))
    # The same update of the model saved before it: the optimiser state and bands saved are the ones in memory.
    restored = jl.LSTMForecaster.load(captured[0].save(tmp_path / "before"))
    restored.update(later, epochs=2)
    for other in (loaded, restored):
        again = other.forecast(steps=3)
        for name in after:
            for field in ("predicted", "lower", "upper"):
                np.testing.assert_array_equal(getattr(again[name], field), getattr(after[name], field))


@pytest.mark.slow
def test_a_global_ensemble_drops_the_members_that_diverged_and_warns(tmp_path):
    members = [{"learning_rate": 1e6}, {"learning_rate": 3e-4}, {"learning_rate": 1e-3, "seed": 5}]
    model = jl.LSTMForecaster(**SMALL, ensemble=members)
    with pytest.warns(UserWarning, match=r"1 of 3 ensemble members diverged") as record:
        model.fit(SERIES)
    assert [w.filename for w in record if "diverged" in str(w.message)] == [__file__]  # the caller's line
    assert model.n_members == 2 and [m["learning_rate"] for m in model.ensemble] == [3e-4, 1e-3]
    assert model.metrics_["members"] == 2 and jax.tree.leaves(model.params_)[0].shape[0] == 2
    for view in model.series_.values():
        assert view.ensemble == model.ensemble and np.isfinite(view.metrics_["val_mae"])
        # The head-refit copies are copied from the fitted series: its kept members.
        assert view.calibration_models_["refit"].model.n_members == 2
    fc = model.forecast(steps=3)
    assert all(np.all(np.isfinite(f.predicted)) for f in fc.values())
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "kept"))
    assert loaded.ensemble == model.ensemble
    for name, f in loaded.forecast(steps=3).items():
        np.testing.assert_array_equal(f.predicted, fc[name].predicted)


@pytest.mark.slow
def test_a_global_update_warns_at_the_callers_line_about_the_prices_it_dropped(captured):
    model = copy.deepcopy(captured[0])
    dates = pd.date_range("2024-01-01", periods=len(SERIES["A"]) + 3)[-4:]
    later = pd.DataFrame(
        {"unique_id": "A", "ds": dates, "y": np.r_[SERIES["A"][-1], SERIES["A"][-1] * 1.01 ** np.arange(1, 4)]}
    )
    with pytest.warns(UserWarning, match=r"dropped the first 1 price\(s\)") as record:
        model.update(later, epochs=1)
    assert [w.filename for w in record if "dropped" in str(w.message)] == [__file__]
    assert model.series_["A"].prices_[-1] == pytest.approx(SERIES["A"][-1] * 1.01**3)


@pytest.mark.slow
def test_a_global_ensemble_whose_every_member_diverged_raises():
    model = jl.LSTMForecaster(**SMALL, ensemble=2, learning_rate=1e6)
    with pytest.raises(ValueError, match=r"training diverged in all 2 ensemble members.*lower learning_rate"):
        model.fit(SERIES)
    assert model.params_ is None and model.series_ is None and model.ensemble == 2


@pytest.mark.slow
def test_a_pool_of_more_windows_than_epoch_windows_samples_its_epochs_and_caps_its_head_copies(monkeypatch):
    monkeypatch.setattr(global_models, "EPOCH_WINDOWS", 100)
    settings = dict(SMALL, epochs=3, batch_size=16)
    with _spying("train_models") as seen:
        model = jl.LSTMForecaster(**settings).fit(SERIES)
    (parent,), (head,) = seen  # the pool, then its head-refit copies: one compiled trainer for both
    assert parent[0].static == head[0].static and parent[0].static["config"].epoch_windows == 100
    # The copies' cap: the parent's kept optimiser steps (7 minibatches of 16 per sampled epoch)
    # in epochs of the copies' own sampled minibatches.
    metrics = model.metrics_
    assert metrics["n_train_windows"] > 100
    steps = max(1, metrics["best_epoch"]) * 7
    heads = int(head[0].data.weights.sum())
    assert head[0].epochs == -(-steps // min(-(-heads // 16), 7))
    # Fewer windows than that: an epoch is a pass over all of them, as before.
    monkeypatch.setattr(global_models, "EPOCH_WINDOWS", 10**6)
    with _spying("train_models") as seen:
        jl.LSTMForecaster(**settings).fit(SERIES)
    assert seen[0][0][0].static["config"].epoch_windows is None

import datetime
import threading
import time

import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src.io.cache import symbol_folder_name

SMALL = dict(hidden_size=4, sequence_length=5, epochs=2)
PRICES = 100 + np.sin(np.arange(60) / 4)


class Clock:
    def __init__(self):
        self.now = datetime.datetime.now(datetime.UTC)

    def __call__(self):
        return self.now


def counting_trainer(calls):
    def train(symbol):
        calls.append(symbol)
        time.sleep(0.05)  # widen the window in which a second thread could start another run
        return jl.LSTMForecaster(**SMALL).fit(PRICES)

    return train


def test_missing_model_is_trained_saved_and_reused(tmp_path):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=counting_trainer(calls))
    m1 = cache.get("BTC/USDT")
    m2 = cache.get("BTC/USDT")
    assert calls == ["BTC/USDT"] and m1 is m2 and m1.symbol == "BTC/USDT"
    assert (tmp_path / "BTC-USDT" / "metadata.json").is_file()
    assert cache.symbols() == ["BTC-USDT"]
    # A new cache (a new process) loads the saved model instead of retraining.
    again = jl.ModelCache(tmp_path, train_fn=counting_trainer(calls)).get("BTC/USDT")
    assert calls == ["BTC/USDT"]
    np.testing.assert_array_equal(again.forecast(steps=3).predicted, m1.forecast(steps=3).predicted)


def test_stale_model_is_retrained_after_max_age(tmp_path):
    calls, clock = [], Clock()
    cache = jl.ModelCache(tmp_path, train_fn=counting_trainer(calls), clock=clock)
    cache.get("ETH")
    clock.now += datetime.timedelta(hours=23, minutes=59)
    cache.get("ETH")
    assert calls == ["ETH"]
    clock.now += datetime.timedelta(minutes=2)
    assert not cache.is_fresh(cache.peek("ETH"))
    cache.get("ETH")
    assert calls == ["ETH", "ETH"]


def test_configurable_max_age_in_seconds(tmp_path):
    calls, clock = [], Clock()
    cache = jl.ModelCache(tmp_path, train_fn=counting_trainer(calls), max_age=60, clock=clock)
    cache.get("X")
    clock.now += datetime.timedelta(seconds=61)
    cache.get("X")
    assert len(calls) == 2


def test_threads_share_one_training_run(tmp_path):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=counting_trainer(calls))
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("SOL"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["SOL"] and len(results) == 6 and all(r is results[0] for r in results)


def test_damaged_model_on_disk_is_retrained(tmp_path):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=counting_trainer(calls))
    cache.get("ADA")
    (tmp_path / "ADA" / "metadata.json").write_text("garbage")
    fresh_cache = jl.ModelCache(tmp_path, train_fn=counting_trainer(calls))
    assert fresh_cache.peek("ADA") is None
    fresh_cache.get("ADA")
    assert calls == ["ADA", "ADA"]


def test_errors(tmp_path):
    cache = jl.ModelCache(tmp_path)
    with pytest.raises(ValueError, match="missing"):
        cache.get("BTC")
    with pytest.raises(ValueError, match="train_fn must return"):
        cache.get("BTC", train_fn=lambda s: "not a model")
    with pytest.raises(ValueError, match="max_age"):
        jl.ModelCache(tmp_path, max_age=-1)
    with pytest.raises(TypeError, match="train_fn"):
        jl.ModelCache(tmp_path, train_fn=3)
    with pytest.raises(ValueError, match="symbol"):
        symbol_folder_name("../..")
    assert symbol_folder_name("../etc/passwd") == "etc-passwd"


def _hourly_cache(tmp_path):
    """A cache whose trainer fits the first 60 of 80 hourly prices; returns it, its clock, the calls and the series."""
    import pandas as pd

    clock, calls = Clock(), []
    series = pd.Series(100 + np.sin(np.arange(80) / 4), index=pd.date_range("2024-01-01", periods=80, freq="h"))

    def train(symbol):
        calls.append(symbol)
        return jl.LSTMForecaster(**SMALL).fit(series[:60])

    return jl.ModelCache(tmp_path, train_fn=train, clock=clock), clock, calls, series, train


def test_a_stale_model_is_refreshed_by_update_on_the_new_prices(tmp_path):
    cache, clock, calls, series, _train = _hourly_cache(tmp_path)
    first = cache.get("X")
    before = [np.asarray(a).copy() for a in jax_leaves(first.params_)]
    clock.now += datetime.timedelta(hours=25)
    refreshed = cache.get("X", data=series)
    assert calls == ["X"] and refreshed.metrics_["updates"] == 1
    assert refreshed.last_timestamp_ == np.datetime64(series.index[-1], "ns")
    assert any(not np.array_equal(a, b) for a, b in zip(before, jax_leaves(refreshed.params_)))
    # Saved: a new cache (a new process) loads the updated model, fresh again.
    again = jl.ModelCache(tmp_path, clock=clock).get("X")
    assert again.metrics_["updates"] == 1
    np.testing.assert_array_equal(again.forecast(steps=3).predicted, refreshed.forecast(steps=3).predicted)


def test_update_is_not_used_when_it_cannot_apply(tmp_path):
    cache, clock, calls, series, train = _hourly_cache(tmp_path)
    cache.get("X")
    for kwargs in (
        {},  # no data
        {"data": series[61:]},  # a gap after the model's last price
        {"data": series, "settings": {"hidden_size": 8}},  # other settings
        {"data": series, "retrain": True},
    ):
        clock.now += datetime.timedelta(hours=25)
        model = cache.get("X", **kwargs)
        assert "updates" not in model.metrics_
    assert len(calls) == 5
    clock.now += datetime.timedelta(hours=25)
    retraining = jl.ModelCache(tmp_path, train_fn=train, clock=clock, refresh="retrain")
    assert "updates" not in retraining.get("X", data=series).metrics_ and len(calls) == 6
    with pytest.raises(ValueError, match="refresh"):
        jl.ModelCache(tmp_path, refresh="sometimes")
    with pytest.raises(ValueError, match="update_epochs"):
        jl.ModelCache(tmp_path, update_epochs=0)


def jax_leaves(tree):
    import jax

    return jax.tree.leaves(tree)

import copy
import datetime
import pathlib
import re
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlstm as jl
from jaxlstm._src.io import model_files as persistence
from jaxlstm._src.io.cache import NAME_MAX, CacheStatus, folder_symbol, symbol_folder_name
from jaxlstm._src.io.ohlcv import demo_data_path
from jaxlstm.data import load_demo

SMALL = dict(hidden_size=4, sequence_length=5, epochs=2)
PRICES = 100 + np.sin(np.arange(60) / 4)


class Clock:
    def __init__(self):
        self.now = datetime.datetime.now(datetime.UTC)

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def template():
    return jl.LSTMForecaster(**SMALL).fit(PRICES)


def counting_trainer(calls):
    def train(symbol):
        calls.append(symbol)
        time.sleep(0.05)  # widen the window in which a second thread could start another run
        return jl.LSTMForecaster(**SMALL).fit(PRICES)

    return train


def copying_trainer(calls, template):
    """A trainer that returns a copy of one fitted model (saves are real, training is skipped)."""

    def train(symbol):
        calls.append(symbol)
        model = copy.deepcopy(template)
        model.trained_at_ = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return model

    return train


def test_missing_model_is_trained_saved_and_reused(tmp_path):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=counting_trainer(calls))
    m1 = cache.get("BTC/USDT")
    m2 = cache.get("BTC/USDT")
    assert calls == ["BTC/USDT"] and m1 is m2 and m1.symbol == "BTC/USDT"
    assert (tmp_path / "BTC_2fUSDT" / "metadata.json").is_file()
    assert cache.symbols() == ["BTC/USDT"]
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


def test_configurable_max_age_in_seconds(tmp_path, template):
    calls, clock = [], Clock()
    cache = jl.ModelCache(tmp_path, train_fn=copying_trainer(calls, template), max_age=60, clock=clock)
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


def test_damaged_model_on_disk_is_retrained(tmp_path, template):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=copying_trainer(calls, template))
    cache.get("ADA")
    (tmp_path / "ADA" / "metadata.json").write_text("garbage")
    fresh_cache = jl.ModelCache(tmp_path, train_fn=copying_trainer(calls, template))
    assert fresh_cache.peek("ADA") is None
    status = fresh_cache.status("ADA")
    assert not status.fresh and status.reason.startswith("damaged: model at ") and status.model is None
    fresh_cache.get("ADA")
    assert calls == ["ADA", "ADA"]


def test_max_age_is_written_as_horizons_are(tmp_path):
    # The seed's "retrain after 24 hours" as the library writes spans; text was a TypeError.
    assert jl.ModelCache(tmp_path, max_age="24h").max_age == datetime.timedelta(hours=24)
    assert jl.ModelCache(tmp_path, max_age="1d12h").max_age == datetime.timedelta(hours=36)
    assert jl.ModelCache(tmp_path, max_age="90min").max_age == datetime.timedelta(minutes=90)
    with pytest.raises(ValueError, match=r"max_age must be a positive span of time, got '0h'"):
        jl.ModelCache(tmp_path, max_age="0h")
    with pytest.raises(ValueError, match=r"max_age must be a span of time with a unit"):
        jl.ModelCache(tmp_path, max_age="soon")


def test_errors(tmp_path):
    cache = jl.ModelCache(tmp_path)
    with pytest.raises(ValueError, match=r"the model of 'BTC' must be trained \(no model saved\) and no train_fn"):
        cache.get("BTC")
    with pytest.raises(ValueError, match="train_fn must return"):
        cache.get("BTC", train_fn=lambda s: "not a model")
    with pytest.raises(ValueError, match="max_age"):
        jl.ModelCache(tmp_path, max_age=-1)
    with pytest.raises(TypeError, match="train_fn"):
        jl.ModelCache(tmp_path, train_fn=3)
    with pytest.raises(ValueError, match="lock_timeout"):
        jl.ModelCache(tmp_path, lock_timeout=-1)
    with pytest.raises(ValueError, match="symbol must be a non-empty string"):
        symbol_folder_name("")
    with pytest.raises(TypeError, match="symbol must be a str"):
        cache.get(3)
    with pytest.raises(TypeError, match="retrain must be a bool"):
        cache.get("BTC", retrain=1)


# ----------------------------------------------------------------- symbols and folders

COLLIDED = [("ÄPFEL", "PFEL"), ("BTC€", "BTC"), ("a/b", "ab"), ("a/b", "a-b"), ("a\x00b", "ab"), ("a\nb", "ab")]


@pytest.mark.parametrize("one, other", COLLIDED)
def test_symbols_that_shared_a_folder_no_longer_do(one, other):
    assert symbol_folder_name(one) != symbol_folder_name(other)
    assert symbol_folder_name(one).lower() != symbol_folder_name(other).lower()


def test_folder_names_of_common_symbols():
    names = {s: symbol_folder_name(s) for s in ("BTCUSD", "BTC-USD", "BTC/USDT", "ÄPFEL", "btc", "CON", "../..")}
    assert names == {
        "BTCUSD": "BTCUSD",
        "BTC-USD": "BTC-USD",
        "BTC/USDT": "BTC_2fUSDT",
        "ÄPFEL": "_c3_84PFEL",
        "btc": "_62_74_63",  # lower case is escaped: "btc" and "BTC" differ on case-insensitive file systems too
        "CON": "_43ON",  # a device name on Windows
        "../..": "_2e_2e_2f_2e_2e",
    }
    # Names that no symbol maps to are not cache folders.
    for name in ("btc", "BTC.tmp-0", "_41BC", "_ff", "CON", ""):
        assert folder_symbol(name) is None


@pytest.mark.slow  # 300 examples of two symbols
@settings(max_examples=300, deadline=None)
# 18 characters of up to 4 UTF-8 bytes, 3 name bytes each, fit the 218-byte limit; longer
# symbols are refused as too long (tested below), which made this test fail at random.
@given(st.text(min_size=1, max_size=18), st.text(min_size=1, max_size=18))
def test_symbol_folder_names_are_one_to_one_even_ignoring_case(one, other):
    name = symbol_folder_name(one)
    assert folder_symbol(name) == one
    assert name.isascii() and all(c.isalnum() or c in "_-" for c in name)
    if one != other:
        assert name.casefold() != symbol_folder_name(other).casefold()


def test_a_symbol_too_long_for_the_file_system_is_refused_before_training(tmp_path):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=counting_trainer(calls))
    longest = "A" * (NAME_MAX - len(persistence.TMP_INFIX) - 32)
    assert cache.path(longest).name == longest
    for symbol in ("A" + longest, "€" * 30):
        with pytest.raises(ValueError, match="is too long: its model folder name would be"):
            cache.get(symbol)
    assert calls == []


def test_a_model_saved_for_another_symbol_is_a_miss(tmp_path, template):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=copying_trainer(calls, template))
    cache.get("ÄPFEL")
    # The folder of one symbol under the name of another (an old version's shared folder, a copy).
    (tmp_path / "_c3_84PFEL").rename(tmp_path / "PFEL")
    fresh = jl.ModelCache(tmp_path, train_fn=copying_trainer(calls, template))
    status = fresh.status("PFEL")
    assert not status.fresh and status.reason == "saved for symbol 'ÄPFEL', not 'PFEL'"
    assert fresh.peek("PFEL") is None
    assert fresh.get("PFEL").symbol == "PFEL" and calls == ["ÄPFEL", "PFEL"]
    assert jl.LSTMForecaster.load(tmp_path / "PFEL").symbol == "PFEL"


def test_apfel_and_pfel_get_their_own_models(tmp_path, template):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=copying_trainer(calls, template))
    assert cache.get("ÄPFEL").symbol == "ÄPFEL"
    assert cache.get("PFEL").symbol == "PFEL"
    assert calls == ["ÄPFEL", "PFEL"] and cache.symbols() == ["PFEL", "ÄPFEL"]


def test_train_fn_returning_a_model_for_another_symbol_is_an_error(tmp_path, template):
    other = copy.deepcopy(template)
    other.symbol = "ETH"
    with pytest.raises(ValueError, match="returned a model that is not what was asked for: saved for symbol 'ETH'"):
        jl.ModelCache(tmp_path).get("BTC", train_fn=lambda s: other)


# ----------------------------------------------------------------- clock


def saved_with_trained_at(cache, symbol, template, stamp):
    model = copy.deepcopy(template)
    model.symbol, model.trained_at_ = symbol, stamp
    cache.directory.mkdir(parents=True, exist_ok=True)
    model.save(cache.path(symbol))


@pytest.mark.parametrize(
    "stamp, reason",
    [
        ("2999-01-01T00:00:00+00:00", r"trained_at 2999-01-01T00:00:00\+00:00 is .* d in the future"),
        ("yesterday", "trained_at 'yesterday' is not a timestamp"),
        (None, "trained_at is missing"),
    ],
)
def test_a_trained_at_in_the_future_or_unreadable_is_retrained(tmp_path, template, stamp, reason):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=copying_trainer(calls, template))
    saved_with_trained_at(cache, "BTC", template, stamp)
    status = cache.status("BTC")
    assert not status.fresh and status.model is not None
    assert re.fullmatch(reason, status.reason), status.reason
    assert not cache.is_fresh(status.model)
    cache.get("BTC")
    assert calls == ["BTC"] and cache.status("BTC").fresh


def test_a_trained_at_a_little_ahead_counts_as_just_trained(tmp_path, template):
    cache = jl.ModelCache(tmp_path)
    ahead = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=2)
    saved_with_trained_at(cache, "BTC", template, ahead.isoformat())
    assert cache.status("BTC").fresh


def test_a_naive_or_broken_clock_fails_at_construction(tmp_path):
    with pytest.raises(TypeError, match="clock must return a timezone-aware datetime .* got a naive datetime"):
        jl.ModelCache(tmp_path, clock=datetime.datetime.now)
    with pytest.raises(TypeError, match="clock must return a timezone-aware datetime"):
        jl.ModelCache(tmp_path, clock=time.time)
    with pytest.raises(TypeError, match="clock must be a callable"):
        jl.ModelCache(tmp_path, clock=3)


def test_status_says_how_old_a_stale_model_is(tmp_path, template):
    clock = Clock()
    cache = jl.ModelCache(tmp_path, train_fn=copying_trainer([], template), clock=clock)
    assert cache.status("BTC") == CacheStatus(False, "no model saved", None)
    model = cache.get("BTC")
    assert cache.status("BTC") == CacheStatus(True, None, model)
    clock.now += datetime.timedelta(hours=30.2)
    status = cache.status("BTC")
    assert status.reason == "trained 30.2 h ago (max 24 h)" and status.model is model and not status.fresh


# ----------------------------------------------------------------- settings and data (issue: the cache ignored them)


@pytest.fixture(scope="module")
def demo():
    return load_demo()


def fitting_trainer(calls, data, **settings):
    def train(symbol):
        calls.append(settings)
        return jl.LSTMForecaster(**{**SMALL, **settings}, symbol=symbol).fit(data)

    return train


def test_other_settings_retrain(tmp_path):
    calls = []
    cache = jl.ModelCache(tmp_path)
    model = cache.get("BTC", fitting_trainer(calls, PRICES, hidden_size=4), settings={"hidden_size": 4, "epochs": 2})
    assert cache.get("BTC", settings={"hidden_size": 4}) is model and len(calls) == 1
    status = cache.status("BTC", settings={"hidden_size": 8, "epochs": 2, "encoding": "minmax"})
    assert not status.fresh and status.reason == "settings differ: hidden_size 8 != 4, encoding 'minmax' != 'seasonal'"
    # Settings are compared after the constructor's validation; all of get_params() may be passed.
    assert cache.status("BTC", settings={"features": ["close"], "calendar": None}).fresh
    relative = cache.status("BTC", settings={"encoding": jl.data.RelativeEncoding()})
    assert not relative.fresh and relative.reason == "settings differ: encoding 'relative' != 'seasonal'"
    assert cache.status("BTC", settings=model.get_params()).fresh
    assert cache.status("BTC", settings={**model.get_params(), "symbol": None}).fresh
    # (Another seed rather than another size: the compiled training step of the other tests serves it.)
    reseeded = cache.get("BTC", fitting_trainer(calls, PRICES, seed=1), settings={"seed": 1, "hidden_size": 4})
    assert reseeded.seed == 1 and len(calls) == 2
    assert jl.LSTMForecaster.load(cache.path("BTC")).seed == 1


def test_bad_settings_fail_before_training(tmp_path):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=fitting_trainer(calls, PRICES))
    with pytest.raises(ValueError, match=r"unknown LSTMForecaster settings \['hiden_size'\]"):
        cache.get("BTC", settings={"hiden_size": 4})
    with pytest.raises(ValueError, match="hidden_size must be an integer >= 1"):
        cache.get("BTC", settings={"hidden_size": 0})
    with pytest.raises(ValueError, match=r"settings\['symbol'\] is 'ETH'"):
        cache.get("BTC", settings={"symbol": "ETH"})
    with pytest.raises(TypeError, match="settings must be a mapping"):
        cache.status("BTC", settings=[("hidden_size", 4)])
    assert calls == []


def test_train_fn_ignoring_the_settings_is_an_error(tmp_path):
    cache = jl.ModelCache(tmp_path, train_fn=fitting_trainer([], PRICES))
    with pytest.raises(ValueError, match="not what was asked for: settings differ: hidden_size 64 != 4"):
        cache.get("BTC", settings={"hidden_size": 64})


def test_other_data_retrains_and_status_says_which(tmp_path, demo):
    # As long as PRICES: the compiled training step of the other tests serves these fits too.
    hourly = demo[-60:]
    daily = jl.data.load_ohlcv(pathlib.Path(__file__).parent / "data" / "Coinbase_BTCUSD_d.csv")[-60:]
    calls = []
    cache = jl.ModelCache(tmp_path)
    model = cache.get("BTCUSD", fitting_trainer(calls, hourly), data=hourly)
    assert model.trained_on_.source == str(demo_data_path())
    assert cache.get("BTCUSD", data=hourly) is model and cache.status("BTCUSD", data=demo[-60:]).fresh
    status = cache.status("BTCUSD", data=daily)
    assert not status.fresh and status.reason == (
        "trained on other data: 60 1d prices 2019-08-19 .. 2019-10-17 != 60 1h prices 2019-10-14 22:00 .. 2019-10-17 09:00"
    )
    # The same span with one price changed is other data too.
    changed = hourly.close.copy()
    changed[30] *= 1.01
    edited = jl.data.OHLCV(
        hourly.timestamps, hourly.open, np.maximum(hourly.high, changed), hourly.low, changed, hourly.volume
    )
    assert "with other prices (sha256 " in cache.status("BTCUSD", data=edited).reason
    retrained = cache.get("BTCUSD", fitting_trainer(calls, daily), data=daily)
    assert len(calls) == 2 and retrained.trained_on_.same_data(jl.data.fingerprint(daily))
    assert retrained.trained_on_.interval == np.timedelta64(1, "D")


def test_train_fn_training_on_other_data_is_an_error(tmp_path, demo):
    cache = jl.ModelCache(tmp_path, train_fn=fitting_trainer([], demo[-60:]))
    with pytest.raises(ValueError, match="not what was asked for: trained on other data: 60 1h prices .* 08:00 != "):
        cache.get("BTC", data=demo[-61:-1])


def test_a_model_without_a_data_fingerprint_is_a_miss_only_when_data_is_asked_for(tmp_path, template):
    cache = jl.ModelCache(tmp_path)
    model = copy.deepcopy(template)
    model.symbol, model.trained_on_ = "BTC", None
    cache.directory.mkdir(parents=True, exist_ok=True)
    model.save(cache.path("BTC"))
    assert cache.status("BTC").fresh
    assert cache.status("BTC", data=PRICES).reason.startswith("trained on unknown data")


def test_retrain_forces_a_new_model(tmp_path, template):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=copying_trainer(calls, template))
    first = cache.get("BTC")
    second = cache.get("BTC", retrain=True)
    assert calls == ["BTC", "BTC"] and second is not first and cache.get("BTC") is second


# ----------------------------------------------------------------- waiting for the lock


def test_waiting_longer_than_lock_timeout_is_a_timeout_error(tmp_path, template):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=copying_trainer(calls, template), lock_timeout=0.2)
    errors = []
    with persistence.model_lock(cache.path("BTC")):  # held here as another trainer would hold it
        thread = threading.Thread(target=lambda: errors.append(_raised(lambda: cache.get("BTC"))))
        thread.start()
        thread.join()
    assert calls == [] and len(errors) == 1 and isinstance(errors[0], TimeoutError)
    assert "gave up after 0.2 s waiting for another process or thread that trains or saves the model of 'BTC'" in str(
        errors[0]
    )
    cache.get("BTC")
    assert calls == ["BTC"]


def test_a_model_saved_while_waiting_is_used_not_retrained(tmp_path, template):
    calls = []
    cache = jl.ModelCache(tmp_path, train_fn=copying_trainer(calls, template))
    other = jl.ModelCache(tmp_path, train_fn=copying_trainer([], template))  # another process, in effect
    got = []
    with persistence.model_lock(cache.path("BTC")):
        thread = threading.Thread(target=lambda: got.append(cache.get("BTC")))
        thread.start()
        time.sleep(0.3)
        other.get("BTC")  # re-entrant: this thread holds the lock
    thread.join()
    assert calls == [] and got[0].symbol == "BTC"


def _raised(fn):
    try:
        fn()
    except Exception as err:
        return err
    return None


def test_something_else_at_the_model_path_is_a_value_error(tmp_path, template):
    cache = jl.ModelCache(tmp_path, train_fn=copying_trainer([], template))
    cache.path("BTC").write_text("not a model")
    status = cache.status("BTC")
    assert not status.fresh and status.reason.startswith("damaged: model at ") and "is not a folder" in status.reason
    with pytest.raises(
        ValueError, match="cannot save the model of 'BTC': path .* exists and is not a model folder"
    ) as err:
        cache.get("BTC")
    assert "\n" not in str(err.value)
    assert cache.path("BTC").read_text() == "not a model"


# ----------------------------------------------------------------- refresh by update


def _hourly_cache(tmp_path, **options):
    """A cache whose trainer fits what ``asked`` holds (data and settings); the first model sees 60 of 80 hourly prices."""
    import pandas as pd

    clock, calls = Clock(), []
    series = pd.Series(100 + np.sin(np.arange(80) / 4), index=pd.date_range("2024-01-01", periods=80, freq="h"))
    asked = {"data": series[:60], "settings": {}}

    def train(symbol):
        calls.append(symbol)
        return jl.LSTMForecaster(**{**SMALL, **asked["settings"]}).fit(asked["data"])

    cache = jl.ModelCache(tmp_path, train_fn=train, clock=clock, **options)
    cache.get("X", data=series[:60])
    return cache, clock, calls, series, asked


def test_a_stale_model_is_refreshed_by_update_on_the_new_prices(tmp_path):
    cache, clock, calls, series, _ = _hourly_cache(tmp_path)
    first = cache.peek("X")
    before = [np.asarray(a).copy() for a in jax_leaves(first.params_)]
    clock.now += datetime.timedelta(hours=25)
    assert cache.status("X", data=series).reason.startswith("trained on other data")
    refreshed = cache.get("X", data=series)
    assert calls == ["X"] and refreshed.metrics_["updates"] == 1 and refreshed is not first
    assert "updates" not in first.metrics_  # the object callers held is unchanged
    assert refreshed.last_timestamp_ == np.datetime64(series.index[-1], "ns")
    assert refreshed.trained_on_ == jl.data.fingerprint(series)
    assert any(not np.array_equal(a, b) for a, b in zip(before, jax_leaves(refreshed.params_), strict=True))
    # Saved: a new cache (a new process) loads the updated model, fresh for the same data.
    again_cache = jl.ModelCache(tmp_path, clock=clock)
    assert again_cache.status("X", data=series).fresh
    again = again_cache.get("X", data=series)
    assert again.metrics_["updates"] == 1
    np.testing.assert_array_equal(again.forecast(steps=3).predicted, refreshed.forecast(steps=3).predicted)


@pytest.mark.slow  # a global fit and its update compile their own trainer and forecaster
def test_a_stale_global_model_is_refreshed_by_update_not_retrained(tmp_path):
    import pandas as pd

    clock, calls = Clock(), []
    stamps = pd.date_range("2024-01-01", periods=80, freq="h")
    full = {name: pd.Series(100 + np.sin(np.arange(80) / k), index=stamps) for name, k in (("A", 4), ("B", 7))}
    first_part = {name: series[:60] for name, series in full.items()}

    def train(symbol):
        calls.append(symbol)
        return jl.LSTMForecaster(**SMALL).fit(first_part)

    cache = jl.ModelCache(tmp_path, train_fn=train, clock=clock)
    first = cache.get("U", data=first_part)
    clock.now += datetime.timedelta(hours=25)
    refreshed = cache.get("U", data=full)
    assert calls == ["U"] and refreshed.metrics_["updates"] == 1 and "updates" not in first.metrics_
    assert refreshed.trained_on_ == jl.data.fingerprint(full)
    for name, series in full.items():
        assert refreshed.series_[name].last_timestamp_ == np.datetime64(series.index[-1], "ns")
    again = jl.ModelCache(tmp_path, clock=clock).get("U", data=full)  # saved: another process loads it, fresh
    before, after = refreshed.forecast(steps=3), again.forecast(steps=3)
    for name in full:
        np.testing.assert_array_equal(after[name].predicted, before[name].predicted)
    with pytest.raises(ValueError, match="cannot be updated on the data given"):
        jl.ModelCache(tmp_path, clock=clock).get("U", data={"A": full["A"][75:], "B": full["B"][75:]})


def test_new_candles_update_a_model_without_a_train_fn(tmp_path):
    cache, _, calls, series, _ = _hourly_cache(tmp_path)
    bare = jl.ModelCache(tmp_path, clock=cache._clock)  # no train_fn: only an update can refresh
    assert bare.get("X", data=series[:70]).metrics_["updates"] == 1 and calls == ["X"]
    with pytest.raises(ValueError, match="cannot be updated on the data given"):
        bare.get("X", data=series[75:])


@pytest.mark.parametrize(
    "case",
    # "other settings" trains a second network shape: its compilation is most of the module's time.
    ["no data", "a gap", pytest.param("other settings", marks=pytest.mark.slow), "retrain=True", "refresh='retrain'"],
)
def test_update_is_not_used_when_it_cannot_apply(tmp_path, case):
    cache, clock, calls, series, asked = _hourly_cache(
        tmp_path, **({"refresh": "retrain"} if "refresh" in case else {})
    )
    clock.now += datetime.timedelta(hours=25)
    kwargs = {
        "no data": {},
        "a gap": {"data": series[61:]},
        "other settings": {"data": series, "settings": {"hidden_size": 8}},
        "retrain=True": {"data": series, "retrain": True},
        "refresh='retrain'": {"data": series},
    }[case]
    asked["data"] = kwargs.get("data", series[:60])
    asked["settings"] = kwargs.get("settings", {})
    model = cache.get("X", **kwargs)
    assert "updates" not in model.metrics_ and calls == ["X", "X"]


def test_bad_refresh_options(tmp_path):
    with pytest.raises(ValueError, match="refresh"):
        jl.ModelCache(tmp_path, refresh="sometimes")
    with pytest.raises(ValueError, match="update_epochs"):
        jl.ModelCache(tmp_path, update_epochs=0)


def jax_leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def test_a_baseline_is_cached_saved_and_loaded_through_its_own_class(tmp_path):
    from jaxlstm.baselines import HybridForecaster, NaiveForecaster

    calls = []
    series = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0.0, 0.01, 200)))

    def train(symbol):
        calls.append(symbol)
        return HybridForecaster(band="conformal").fit(series)

    clock = Clock()
    cache = jl.ModelCache(tmp_path, train_fn=train, model=HybridForecaster, clock=clock)
    trained = cache.get("ETH", data=series, settings={"band": "conformal"})
    # Another cache (another process, in effect) loads the saved folder through HybridForecaster.load.
    loaded = jl.ModelCache(tmp_path, model=HybridForecaster, clock=clock).get("ETH", data=series)
    assert calls == ["ETH"] and type(loaded) is HybridForecaster and loaded is not trained
    for name in ("alpha_", "beta_", "phi_", "drift_weight_", "log_drift_"):
        assert getattr(loaded, name) == getattr(trained, name), name
    np.testing.assert_array_equal(loaded.prices_, series)
    ours, theirs = trained.forecast(steps=12), loaded.forecast(steps=12)
    np.testing.assert_array_equal(theirs.predicted, ours.predicted)
    np.testing.assert_array_equal(theirs.lower, ours.lower)
    np.testing.assert_array_equal(theirs.upper, ours.upper)
    # Other data means a retrain (a baseline has no update); another class reads the folder as damaged.
    cache.get("ETH", data=series * 1.01, train_fn=lambda s: HybridForecaster().fit(series * 1.01))
    np.testing.assert_array_equal(jl.ModelCache(tmp_path, model=HybridForecaster).peek("ETH").prices_, series * 1.01)
    status = jl.ModelCache(tmp_path, model=NaiveForecaster).status("ETH")
    assert not status.fresh and "does not hold a NaiveForecaster" in status.reason
    naive = jl.ModelCache(tmp_path / "naive", model=NaiveForecaster, train_fn=lambda s: NaiveForecaster().fit(series))
    assert naive.get("BTC").forecast(steps=3).predicted.tolist() == [series[-1]] * 3
    with pytest.raises(ValueError, match="train_fn must return a fitted NaiveForecaster"):
        naive.get("ETH", train_fn=lambda s: HybridForecaster().fit(series))
    with pytest.raises(ValueError, match=r"unknown HybridForecaster settings \['hidden_size'\]"):
        cache.status("ETH", settings={"hidden_size": 3})


def test_the_io_cache_needs_a_model_class_and_the_top_level_one_serves_the_lstm(tmp_path):
    from jaxlstm._src.io import cache as io_cache

    with pytest.raises(ValueError, match="model must be the model class"):
        io_cache.ModelCache(tmp_path)
    assert jl.ModelCache(tmp_path).model is jl.LSTMForecaster
    assert jl.ModelCache(tmp_path, model=jl.baselines.NaiveForecaster).model is jl.baselines.NaiveForecaster

"""The model cache and the data fingerprint cover every candle column a model reads, not only the close."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlstm as jl
from jaxlstm.data import OHLCV, DataFingerprint, fingerprint, load_demo

FIELDS = ("open", "high", "low", "close", "volume")
FEATURES = ("close", "volume", "range")  # reads close, high, low and volume; not open
TINY = dict(hidden_size=4, epochs=1, sequence_length=8, direct_steps=4, features=FEATURES)


@pytest.fixture(scope="module")
def candles():
    return load_demo()[-220:-20]  # the last 20 candles are new data for an update


@pytest.fixture(scope="module")
def cache(candles, tmp_path_factory):
    """A cache holding one features model fitted on ``candles`` (fitted once for the module)."""
    cache = jl.ModelCache(tmp_path_factory.mktemp("models"))
    cache.get("BTCUSD", lambda s: jl.LSTMForecaster(**TINY, symbol=s).fit(candles), data=candles)
    return cache


def edited(candles: OHLCV, **columns: np.ndarray) -> OHLCV:
    values = {f: np.asarray(getattr(candles, f), np.float64) for f in FIELDS}
    return OHLCV(candles.timestamps, **{**values, **columns})


@pytest.mark.slow
def test_other_volume_and_high_make_a_features_model_stale(cache, candles):
    model = cache.peek("BTCUSD")
    assert model.input_columns == ("close", "high", "low", "volume")
    assert cache.status("BTCUSD", data=candles).fresh
    changed = edited(candles, volume=candles.volume * 50, high=candles.high * 1.05)
    status = cache.status("BTCUSD", data=changed)
    assert not status.fresh
    assert status.reason.startswith("trained on other data: 200 1h candles (close, high, low, volume) ")
    assert "with other high, volume (sha256 " in status.reason
    # The same data in another container (a DataFrame) is still the same data.
    assert cache.status("BTCUSD", data=candles.to_pandas()).fresh


def test_a_column_the_model_does_not_read_keeps_it_fresh(cache, candles):
    shifted = edited(candles, open=np.clip(candles.open * 1.01, candles.low, candles.high))
    assert not np.array_equal(shifted.open, candles.open)
    assert cache.status("BTCUSD", data=shifted).fresh


def _change(column: str, values: np.ndarray, candles: OHLCV, factor: float, rows: list[int]) -> np.ndarray:
    """``values`` with ``rows`` scaled by ``factor``, kept a valid candle (low <= open, close <= high)."""
    new = values.copy()
    new[rows] = new[rows] * factor
    if column in ("open", "close"):
        new = np.clip(new, candles.low, candles.high)
    return new


FACTORS = {
    "open": st.floats(0.9, 1.1),
    "close": st.floats(0.9, 1.1),
    "high": st.floats(1.0, 1.5),  # a higher high and a lower low stay valid candles
    "low": st.floats(0.5, 1.0),
    "volume": st.floats(0.0, 100.0),
}


@st.composite
def column_changes(draw):
    column = draw(st.sampled_from(FIELDS))
    rows = draw(st.lists(st.integers(0, 199), max_size=8, unique=True))
    return column, rows, draw(FACTORS[column])


@given(change=column_changes())
@settings(max_examples=40, deadline=None)
def test_fresh_exactly_when_no_column_the_model_reads_changed(cache, candles, change):
    column, rows, factor = change
    before = np.asarray(getattr(candles, column), np.float64)
    after = _change(column, before, candles, factor, rows)
    data = edited(candles, **{column: after})
    read = column in cache.peek("BTCUSD").input_columns
    changed = not np.array_equal(before, after)
    status = cache.status("BTCUSD", data=data)
    assert status.fresh == (not (read and changed)), (column, rows, factor, status.reason)
    if not status.fresh:
        assert status.reason.startswith("trained on other data")
        assert ("prices" if column == "close" else column) in status.reason


def test_the_fit_record_covers_the_columns_read_and_survives_a_save(cache, candles, tmp_path):
    model = cache.peek("BTCUSD")
    record = model.trained_on_
    assert record == fingerprint(candles, columns=model.input_columns)
    # The close part is what a close-only model records of the same data.
    assert record.sha256 == fingerprint(candles).sha256 and fingerprint(candles).columns == ()
    assert [name for name, _ in record.columns] == ["high", "low", "volume"]
    assert jl.LSTMForecaster.load(cache.path("BTCUSD")).trained_on_ == record
    assert DataFingerprint.from_json(record.to_json()) == record


def test_a_features_model_saved_before_columns_were_recorded_loads_and_is_a_miss(cache, candles, tmp_path):
    import copy

    model = copy.deepcopy(cache.peek("BTCUSD"))
    old = model.trained_on_.to_json()
    del old["columns"]
    model.trained_on_ = DataFingerprint.from_json(old)  # what such a file holds
    other = jl.ModelCache(tmp_path)
    other.directory.mkdir(parents=True, exist_ok=True)
    model.save(other.path("BTCUSD"))
    status = other.status("BTCUSD", data=candles)
    assert status.model is not None and not status.fresh
    assert status.reason == (
        "trained on other data: 200 1h candles (close, high, low, volume) 2019-10-08 06:00 .. 2019-10-16 13:00 "
        "!= 200 1h prices 2019-10-08 06:00 .. 2019-10-16 13:00"
    )
    # Fresh again for a close-only request of a close-only model: its record is the same as before.
    assert other.status("BTCUSD").fresh


def test_data_without_the_columns_a_model_reads_is_other_data(cache, candles):
    closes = candles.to_pandas()["close"]
    status = cache.status("BTCUSD", data=closes)
    assert not status.fresh and status.reason.startswith("trained on other data: the model reads close, high, low")


def test_a_stale_features_model_is_refreshed_by_update_on_the_new_candles(cache, tmp_path):
    import datetime
    import shutil

    shutil.copytree(cache.path("BTCUSD"), tmp_path / "BTCUSD")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=25)
    cache = jl.ModelCache(tmp_path, clock=lambda: later)
    more = load_demo()[-220:]
    model = cache.get("BTCUSD", data=more)  # no train_fn: only an update can refresh it
    assert model.metrics_["updates"] == 1
    assert model.trained_on_ == fingerprint(more, columns=model.input_columns)
    assert cache.status("BTCUSD", data=more).fresh


def test_an_update_whose_overlap_has_another_volume_is_other_data(cache, tmp_path):
    # update compares every column the model reads over the overlap, so neither it nor the
    # cache's refresh (which is update) continues a model on candles that rewrote its history.
    import datetime
    import shutil

    more = load_demo()[-220:]
    rewritten = edited(more, volume=np.where(np.arange(len(more)) == 198, more.volume * 2 + 1, more.volume))
    with pytest.raises(ValueError, match=r"differ from those the model saw: .*\(close, high, low, volume\)"):
        cache.peek("BTCUSD").update(rewritten, epochs=1)
    shutil.copytree(cache.path("BTCUSD"), tmp_path / "BTCUSD")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=25)
    stale = jl.ModelCache(tmp_path, clock=lambda: later)
    with pytest.raises(ValueError, match="it cannot be updated on the data given"):  # no train_fn: only an update could
        stale.get("BTCUSD", data=rewritten)

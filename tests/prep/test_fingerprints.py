"""What a model was trained on: ``DataFingerprint``, ``fingerprint(data)`` and ``trained_on_``."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxlstm as jl
from jaxlstm._src.forecasters import lstm_state
from jaxlstm._src.io.ohlcv import demo_data_path
from jaxlstm._src.prep import fingerprints as F
from jaxlstm.data import DataFingerprint, fingerprint

HOUR = np.timedelta64(1, "h").astype("timedelta64[ns]")
PRICES = 100 + np.sin(np.arange(60) / 4)
SMALL = dict(hidden_size=4, sequence_length=5, epochs=2)


def series(n=60, start="2020-01-01", freq="h", scale=1.0):
    return pd.Series(PRICES[:n] * scale, index=pd.date_range(start, periods=n, freq=freq))


def test_the_checksum_is_sha256_of_the_prices_then_the_timestamps():
    prices = np.array([1.0, 2.5])
    assert F.series_sha256(prices, None) == hashlib.sha256(prices.astype("<f8").tobytes()).hexdigest()
    stamps = np.array(["2020-01-01T00", "2020-01-01T01"], "datetime64[ns]")
    expected = hashlib.sha256(prices.astype("<f8").tobytes() + b"timestamps" + stamps.view("<i8").tobytes())
    assert F.series_sha256(prices, stamps) == expected.hexdigest()


@pytest.mark.slow
def test_fingerprint_of_data_is_what_fit_records():
    s = series()
    record = fingerprint(s)
    assert record.count == 60 and record.interval == HOUR and record.source is None
    assert record.first == np.datetime64("2020-01-01T00", "ns") and record.last == np.datetime64("2020-01-03T11", "ns")
    model = jl.LSTMForecaster(**SMALL).fit(s)
    assert model.trained_on_ == record
    # The same prices in another container are the same data; other spacing, span or prices are not.
    assert fingerprint(s.to_frame("close")).same_data(record)
    assert not fingerprint(series(freq="D")).same_data(record)
    assert not fingerprint(series(start="2020-01-02")).same_data(record)
    assert not fingerprint(series(n=59)).same_data(record)
    assert not fingerprint(series(scale=1.0 + 1e-12)).same_data(record)
    plain = fingerprint(PRICES)
    assert plain.first is None and plain.last is None and not plain.same_data(record)


def test_describe_and_difference():
    hourly, daily = fingerprint(series()), fingerprint(series(freq="D"))
    assert hourly.describe() == "60 1h prices 2020-01-01 .. 2020-01-03 11:00"
    assert (
        daily.difference(hourly)
        == "60 1d prices 2020-01-01 .. 2020-02-29 != 60 1h prices 2020-01-01 .. 2020-01-03 11:00"
    )
    assert hourly.difference(hourly) is None
    other = fingerprint(series(scale=2.0))
    assert other.difference(hourly) == (
        f"60 1h prices 2020-01-01 .. 2020-01-03 11:00 with other prices (sha256 {other.sha256[:12]} != {hourly.sha256[:12]})"
    )
    sourced = DataFingerprint(hourly.interval, hourly.first, hourly.last, 60, hourly.sha256, "/data/btc.csv")
    assert sourced.describe().endswith(" from /data/btc.csv") and sourced.same_data(hourly) and sourced != hourly
    assert fingerprint(PRICES[:3]).describe() == "3 prices"
    assert fingerprint(PRICES[:3], interval="1h").describe() == "3 1h prices"
    odd = DataFingerprint(None, None, None, 3, hourly.sha256, "/data/a\nb.csv")
    assert odd.describe() == "3 prices from '/data/a\\nb.csv'"  # printed on one line


@settings(max_examples=50, deadline=None)
@given(
    prices=hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(1e-6, 1e9)),
    stamped=st.booleans(),
    step=st.integers(1, 10**15),
    source=st.one_of(st.none(), st.text(max_size=20)),
)
def test_json_round_trip_is_exact(prices, stamped, step, source):
    stamps = np.datetime64("2001-02-03T04:05:06.789", "ns") + np.arange(prices.size) * step if stamped else None
    record = F.fingerprint_series(prices, stamps, np.timedelta64(step, "ns"), source)
    assert DataFingerprint.from_json(record.to_json()) == record


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("count", 0, "count must be an integer >= 1"),
        ("count", 1.0, "count must be an integer >= 1"),
        ("sha256", "ab", "sha256 must be 64 hex digits"),
        ("interval_ns", -5, "interval_ns must be a positive int64"),
        ("interval_ns", 2**63, "interval_ns must be a positive int64"),
        ("first", "yesterday", "first must be an ISO timestamp"),
        ("first", None, "first and trained_on.last must both be set"),
        ("last", 5, "last must be an ISO timestamp"),
        ("source", 5, "source must be a string or null"),
    ],
)
def test_from_json_refuses_damaged_records(field, value, message):
    doc = fingerprint(series()).to_json()
    doc[field] = value
    with pytest.raises(ValueError, match=message):
        DataFingerprint.from_json(doc)
    with pytest.raises(ValueError, match="trained_on must be an object"):
        DataFingerprint.from_json({**doc, "extra": 1})


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_trained_on_is_saved_and_restored(tmp_path):
    candles = jl.data.load_demo()[-100:]
    model = jl.LSTMForecaster(**SMALL).fit(candles)
    assert model.trained_on_.source == str(demo_data_path()) and model.trained_on_.count == 100
    model.save(tmp_path / "m")
    assert jl.LSTMForecaster.load(tmp_path / "m").trained_on_ == model.trained_on_
    assert jl.LSTMForecaster.from_json(model.to_json()).trained_on_ == model.trained_on_
    # A model saved before fingerprints existed (no "trained_on" key) loads with None.
    meta = lstm_state.metadata(model)
    del meta["trained_on"]
    restored = lstm_state.from_parts(jl.LSTMForecaster, model.params_, meta, "test model")
    assert restored.trained_on_ is None
    meta["trained_on"] = {**model.trained_on_.to_json(), "count": "many"}
    with pytest.raises(ValueError, match="test model is damaged: .*trained_on.count must be an integer"):
        lstm_state.from_parts(jl.LSTMForecaster, model.params_, meta, "test model")


@pytest.mark.slow  # fits models of its own: the quick tier stays under 90 s
def test_fit_many_records_each_series():
    data = {"A": series(), "B": series(freq="D")}
    models = jl.LSTMForecaster.fit_many(data, **SMALL)
    for symbol, model in models.items():
        assert model.trained_on_ == fingerprint(data[symbol])


def test_observe_does_not_change_what_the_model_was_trained_on():
    model = jl.LSTMForecaster(**SMALL).fit(series())
    before = model.trained_on_
    model.observe(series(start="2021-01-01"))
    assert model.trained_on_ == before


def test_loaded_candles_remember_their_file(tmp_path, monkeypatch):
    path = tmp_path / "btc.csv"
    path.write_text("date,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n2020-01-02,1,2,0.5,1.6\n")
    monkeypatch.chdir(tmp_path)
    candles = jl.data.load_ohlcv("btc.csv")
    assert candles.source == str(path)  # absolute, whatever the working folder later is
    assert candles[-1:].source == str(path) and candles[[0]].source == str(path)
    assert candles.to_pandas().attrs["source"] == str(path)
    assert fingerprint(candles.to_pandas()).source == str(path)
    assert jl.data.load_ohlcv(candles.to_pandas()).source is None  # a frame in memory has no file
    with pytest.raises(TypeError, match="OHLCV.source must be a str"):
        jl.data.OHLCV(
            candles.timestamps, *(getattr(candles, f) for f in ("open", "high", "low", "close", "volume")), source=3
        )


# ----------------------------------------------------------------- the other columns a model reads


def test_a_fingerprint_of_more_columns_hashes_each_and_keeps_the_close_record():
    candles = jl.data.load_demo()[-50:]
    close_only = fingerprint(candles)
    record = fingerprint(candles, columns=("close", "high", "low", "volume"))
    assert close_only.columns == () and set(close_only.to_json()) == {
        "interval_ns",
        "first",
        "last",
        "count",
        "sha256",
        "source",
    }
    assert record.sha256 == close_only.sha256 and not record.same_data(close_only)
    assert dict(record.columns) == {
        c: F.column_sha256(np.asarray(getattr(candles, c), np.float64)) for c in ("high", "low", "volume")
    }
    assert record.describe().startswith("50 1h candles (close, high, low, volume) 2019-10-15 08:00 .. ")
    louder = jl.data.OHLCV(
        candles.timestamps, candles.open, candles.high, candles.low, candles.close, candles.volume * 2
    )
    other = fingerprint(louder, columns=("close", "high", "low", "volume"))
    assert fingerprint(louder).same_data(close_only)  # a close-only model did not read the volume
    volume = dict(other.columns)["volume"]
    assert other.difference(record) == (
        f"{record.describe().split(' from ')[0]} with other volume (sha256 {volume[:12]} != "
        f"{dict(record.columns)['volume'][:12]})"
    )
    assert DataFingerprint.from_json(record.to_json()) == record
    with pytest.raises(ValueError, match="must be candles with the columns"):
        fingerprint(PRICES, columns=("close", "volume"))


@pytest.mark.parametrize(
    "columns, message",
    [
        ([], "columns must be an object"),
        ({"close": "0" * 64}, "other than the close"),
        ({"Volume!": "0" * 64}, "other than the close"),
        ({"volume": "xyz"}, r"columns\['volume'\] must be 64 hex digits"),
    ],
)
def test_from_json_refuses_damaged_column_records(columns, message):
    doc = {**fingerprint(series()).to_json(), "columns": columns}
    with pytest.raises(ValueError, match=message):
        DataFingerprint.from_json(doc)


def test_a_csv_path_records_the_same_source_as_its_loaded_candles(tmp_path, monkeypatch):
    # fit("file.csv") reads the file itself: its record names the file as load_ohlcv does.
    path = tmp_path / "prices.csv"
    series(24).rename_axis("timestamp").rename("close").to_frame().to_csv(path)
    monkeypatch.chdir(tmp_path)
    by_path = fingerprint("prices.csv")
    by_candles = fingerprint(jl.data.load_ohlcv("prices.csv", columns=("close",)))
    assert by_path.source == by_candles.source == str(path)
    assert by_path == by_candles


def test_combined_record_of_many_series_changes_with_any_series_its_name_or_order():
    from jaxlstm._src.prep import fingerprints

    days = pd.date_range("2024-01-01", periods=5, freq="D").to_numpy()
    a = fingerprints.fingerprint_series(np.arange(1.0, 6.0), days, "1d")
    later = pd.date_range("2024-02-01", periods=7, freq="D").to_numpy()
    b = fingerprints.fingerprint_series(np.arange(2.0, 9.0), later, "1d")
    both = fingerprints.combine({"A": a, "B": b})
    assert (both.count, both.first, both.last, both.interval) == (12, a.first, b.last, np.timedelta64(1, "D"))
    assert fingerprints.DataFingerprint.from_json(both.to_json()).same_data(both)
    for other in ({"B": b, "A": a}, {"A": a, "C": b}, {"A": a, "B": a}):
        assert not fingerprints.combine(other).same_data(both)
    # jaxlstm.data.fingerprint of a mapping is this record of its series.
    data = {"A": pd.Series(np.arange(1.0, 6.0), index=days), "B": pd.Series(np.arange(2.0, 9.0), index=later)}
    assert jl.data.fingerprint(data).same_data(both)
    undated = fingerprints.combine({"A": fingerprints.fingerprint_series(np.ones(3), None, None), "B": b})
    assert undated.first is None and undated.interval is None
    with pytest.raises(ValueError, match="at least one"):
        fingerprints.combine({})


def test_a_series_on_a_calendar_axis_is_described_by_its_adjective():
    # "120 1 month prices" read badly: a calendar axis's step is named as a frequency.
    monthly = fingerprint(pd.Series(np.arange(1.0, 13.0), index=pd.date_range("2024-01-01", periods=12, freq="MS")))
    assert monthly.describe() == "12 monthly prices 2024-01-01 .. 2024-12-01"
    quarterly = fingerprint(pd.Series(np.arange(1.0, 5.0), index=pd.date_range("2024-01-01", periods=4, freq="QS")))
    assert quarterly.describe().startswith("4 quarterly prices")
    weekdays = fingerprint(pd.Series(np.arange(1.0, 11.0), index=pd.bdate_range("2024-01-01", periods=10)))
    assert weekdays.describe() == "10 business-day prices 2024-01-01 .. 2024-01-12"

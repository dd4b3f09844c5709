"""Tests for parsing cell values (io/frames.py): numbers, timestamps and unix epochs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlstm._src.io import frames
from jaxlstm._src.io.candles import Where

WHERE = Where("source 'x.csv'", "line", start=2)


def ns_of(value: dt.datetime) -> int:
    """An independent reference: whole microseconds since the epoch from datetime, in ns."""
    delta = value.replace(tzinfo=None) - dt.datetime(1970, 1, 1)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


datetimes = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(datetimes, min_size=1, max_size=20), st.sampled_from(["iso", "iso_t_z", "offset", "vendor"]))
def test_date_strings_parse_to_the_reference(stamps, style):
    if style == "vendor":
        stamps = [s.replace(minute=0, second=0, microsecond=0) for s in stamps]
        texts = [s.strftime("%Y-%m-%d %I-%p") for s in stamps]
        expected = [ns_of(s) for s in stamps]
    elif style == "iso":
        texts = [s.isoformat(sep=" ") for s in stamps]
        expected = [ns_of(s) for s in stamps]
    elif style == "iso_t_z":
        texts = [s.isoformat() + "Z" for s in stamps]
        expected = [ns_of(s) for s in stamps]
    else:
        offset = dt.timezone(dt.timedelta(hours=5, minutes=30))
        texts = [s.replace(tzinfo=offset).isoformat() for s in stamps]
        expected = [ns_of(s) - (5 * 3600 + 1800) * 10**9 for s in stamps]
    got = frames.texts_to_ns(np.array(texts, dtype=object), WHERE, "date")
    assert got.tolist() == expected


def test_twelve_am_is_midnight_and_twelve_pm_noon():
    got = frames.texts_to_ns(np.array(["2019-10-17 12-AM", "2019-10-17 12-PM"], dtype=object), WHERE, "date")
    assert got.tolist() == [ns_of(dt.datetime(2019, 10, 17, 0)), ns_of(dt.datetime(2019, 10, 17, 12))]


def test_bad_date_names_its_line():
    with pytest.raises(ValueError, match=r"source 'x.csv': line 3, column 'date': invalid date in '2020-02-30'"):
        frames.texts_to_ns(np.array(["2020-02-28", "2020-02-30"], dtype=object), WHERE, "date")


# Milliseconds and microseconds tell themselves apart from seconds for dates after 1973-03-03.
epoch_datetimes = st.datetimes(min_value=dt.datetime(1973, 3, 4), max_value=dt.datetime(2200, 1, 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(epoch_datetimes, min_size=1, max_size=20), st.sampled_from([(1, 10**9), (1000, 10**6), (10**6, 10**3)]))
def test_epochs_of_one_unit_parse_to_the_reference(stamps, unit):
    per_second, _ = unit
    seconds = [int(ns_of(s) // 10**9) for s in stamps]
    epochs = np.array([s * per_second for s in seconds], dtype=np.int64)
    got = frames.epochs_to_ns(epochs, WHERE, "unix")
    assert got.tolist() == [s * 10**9 for s in seconds]


def test_mixed_epoch_units_are_refused():
    with pytest.raises(ValueError, match=r"line 4, column 'unix': the epoch 1571310000000 is in milliseconds but"):
        frames.epochs_to_ns(np.array([1571302800, 1571306400, 1571310000000]), WHERE, "unix")


def test_fractional_epochs_and_fixed_scale():
    got = frames.epochs_to_ns(np.array([1571302800.5]), WHERE, "unix")
    assert got.tolist() == [1571302800_500_000_000]
    assert frames.epochs_to_ns(np.array([5]), WHERE, "ms", scale=10**6).tolist() == [5_000_000]
    with pytest.raises(ValueError, match="expected a unix epoch, got nan"):
        frames.epochs_to_ns(np.array([1.0, np.nan]), WHERE, "unix")
    with pytest.raises(ValueError, match="within the datetime64"):
        frames.epochs_to_ns(np.array([10**17]), WHERE, "unix", scale=10**6)


def test_epoch_input_is_not_modified():
    epochs = np.array([1571302800, 1571306400])
    frames.epochs_to_ns(epochs, WHERE, "unix")
    assert epochs.tolist() == [1571302800, 1571306400]


def test_numbers_from_text_and_objects():
    got = frames.numbers(np.array(["1.5", " 2 ", "nan", "", None], dtype=object), WHERE, "v", optional=True)
    assert got[:2].tolist() == [1.5, 2.0] and np.isnan(got[2:]).all()
    with pytest.raises(ValueError, match=r"line 4, column 'c': expected a number, got 'abc'"):
        frames.numbers(np.array(["1", "2", "abc"], dtype=object), WHERE, "c", optional=False)
    with pytest.raises(ValueError, match=r"line 2, column 'c': expected a number, got an empty cell"):
        frames.numbers(np.array([""], dtype=object), WHERE, "c", optional=False)
    with pytest.raises(ValueError, match="got bool True"):
        frames.numbers(np.array([True], dtype=object), WHERE, "c", optional=False)
    with pytest.raises(ValueError, match="got complex"):
        frames.numbers(np.array([1j], dtype=object), WHERE, "c", optional=False)


def test_time_values_tell_epochs_from_dates():
    arr, is_epoch = frames.time_values(pd.Series([1571302800000, 1571306400000]), WHERE, "t")
    assert is_epoch and arr.dtype == np.int64
    arr, is_epoch = frames.time_values(pd.Series(["1571302800", "1571306400"]), WHERE, "t")
    assert is_epoch and arr.tolist() == [1571302800.0, 1571306400.0]
    arr, is_epoch = frames.time_values(pd.Series(pd.to_datetime(["2020-01-01"]).tz_localize("UTC")), WHERE, "t")
    assert not is_epoch and arr.tolist() == [ns_of(dt.datetime(2020, 1, 1))]


def test_where_numbers_and_subsets():
    where = Where("s", "line", start=10)
    assert where.place(3) == "line 13"
    sub = where.subset(np.array([True, False, True]))
    assert sub.numbers.tolist() == [10, 12]
    assert sub.place(1) == "line 12"

"""Tests for the long format (unique_id, ds, y) read into one series per id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jaxlstm._src.io.series import is_long, is_many
from jaxlstm.data import split_long


def test_ds_strings_keep_their_own_offsets_and_no_offset_means_utc():
    # pandas 2 read a string without an offset in the offset of the strings before it.
    frame = pd.DataFrame(
        {
            "unique_id": ["A", "A", "A"],
            "ds": ["2019-10-17 09:00", "2019-10-17 12:30+02:00", "2019-10-17 11:00"],
            "y": [1.0, 2.0, 3.0],
        }
    )
    series = split_long(frame)["A"]
    np.testing.assert_array_equal(
        series.index.to_numpy(),
        np.array(["2019-10-17T09:00", "2019-10-17T10:30", "2019-10-17T11:00"], "datetime64[ns]"),
    )
    assert series.tolist() == [1.0, 2.0, 3.0]


def _frame() -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=3, freq="h")
    return pd.DataFrame(
        {"unique_id": ["B"] * 3 + ["A"] * 3, "ds": list(stamps) * 2, "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}
    )


def test_unique_id_and_ds_may_be_index_levels_of_a_frame_or_a_series():
    # frame.set_index(["unique_id", "ds"]) is how pandas users hold a panel; its y as a Series too.
    expected = split_long(_frame())
    indexed = _frame().set_index(["unique_id", "ds"])
    for data in (indexed, indexed["y"], _frame().set_index("ds"), _frame().set_index("unique_id")):
        assert is_long(data) and is_many(data)
        found = split_long(data)
        assert list(found) == ["B", "A"]
        for name in expected:
            pd.testing.assert_series_equal(found[name], expected[name])


def test_is_many_tells_many_series_from_one():
    assert is_many({"A": [1.0, 2.0]}) and is_many(_frame()) and not is_long({"A": [1.0]})
    one = pd.Series([1.0, 2.0], index=pd.date_range("2024-01-01", periods=2, freq="h", name="ds"))
    assert not is_many(one) and not is_many(one.to_frame("close")) and not is_many([1.0, 2.0])


def test_a_long_frame_missing_a_column_names_its_index_levels_too():
    frame = _frame().rename(columns={"ds": "time"}).set_index(["unique_id", "time"])
    with pytest.raises(ValueError, match=r"missing \['ds'\].*index levels \['time'\]"):
        split_long(frame)

"""Tests for the long format (unique_id, ds, y) read into one series per id."""

from __future__ import annotations

import numpy as np
import pandas as pd

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

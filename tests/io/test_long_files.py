"""Long-format files read one share of the series at a time (``long_files``), against pandas reading the whole file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jaxlstm._src.io import long_files
from jaxlstm._src.io.series import split_long


def _frame(count: int = 7, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = [
        pd.DataFrame(
            {
                "unique_id": f"id{i}",
                "ds": pd.date_range("2024-01-01", periods=10 + i, freq="D"),
                "y": rng.uniform(1, 2, 10 + i),
                "volume": rng.uniform(0, 5, 10 + i),
            }
        )
        for i in range(count)
    ]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.assign(
        ds=pd.to_datetime(frame["ds"]).astype("datetime64[ns]"), unique_id=frame["unique_id"].astype(str)
    )
    return out.sort_values(["unique_id", "ds"]).reset_index(drop=True)[["unique_id", "ds", "y", "volume"]]


@pytest.fixture(params=["csv", "parquet"])
def long_file(request, tmp_path):
    frame = _frame()
    if request.param == "parquet":
        pytest.importorskip("pyarrow", reason="parquet needs pyarrow (the test extra installs it)")
        path = tmp_path / "long.parquet"
        frame.to_parquet(path, row_group_size=11)  # several row groups, each with several series
    else:
        path = tmp_path / "long.csv"
        frame.to_csv(path, index=False)
    return path, frame


def test_ids_are_the_sorted_distinct_ids(long_file):
    path, frame = long_file
    assert long_files.long_file_ids(path) == sorted(frame["unique_id"].unique())


def test_a_share_holds_exactly_its_series_rows(long_file, monkeypatch):
    path, frame = long_file
    monkeypatch.setattr(long_files, "CSV_CHUNK_ROWS", 9)  # many chunks, most holding several series
    ids = long_files.long_file_ids(path)
    seen = []
    for index in range(3):
        mine = long_files.share(ids, index, 3)
        got = long_files.read_long_share(path, mine)
        assert set(got["unique_id"]) == set(mine)
        expected = frame[frame["unique_id"].isin(mine)]
        pd.testing.assert_frame_equal(_rows(got), _rows(expected), check_dtype=False)
        seen += list(split_long(got))
    assert sorted(seen) == ids


def test_an_empty_share_has_no_rows(long_file):
    path, _ = long_file
    assert len(long_files.read_long_share(path, [])) == 0


def test_integer_ids_in_parquet_are_read_as_text(tmp_path):
    pytest.importorskip("pyarrow", reason="parquet needs pyarrow (the test extra installs it)")
    frame = _frame(4).assign(unique_id=lambda f: f["unique_id"].str[2:].astype(int) + 10)
    path = tmp_path / "ints.parquet"
    frame.to_parquet(path)
    assert long_files.long_file_ids(path) == ["10", "11", "12", "13"]
    got = long_files.read_long_share(path, ["12"])
    assert list(got["unique_id"].unique()) == ["12"]
    assert len(got) == int((frame["unique_id"] == 12).sum())


def test_bad_files_are_named(tmp_path):
    path = tmp_path / "wide.csv"
    pd.DataFrame({"ds": [1, 2], "close": [1.0, 2.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"missing \['unique_id', 'y'\]"):
        long_files.long_file_ids(path)
    with pytest.raises(ValueError, match=r"missing \['unique_id', 'y'\]"):
        long_files.read_long_share(path, ["a"])
    with pytest.raises(FileNotFoundError, match="no long-format file"):
        long_files.long_file_ids(tmp_path / "nothing.csv")
    with pytest.raises(TypeError, match="ids must be a sequence of unique_id strings, got str"):
        long_files.read_long_share(path, "a")


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_rows_without_an_id_are_refused_in_either_format(tmp_path, kind):
    # A CSV's such rows were dropped unread; a parquet file's became the series "None".
    if kind == "parquet":
        pytest.importorskip("pyarrow", reason="parquet needs pyarrow (the test extra installs it)")
    frame = pd.DataFrame({"unique_id": ["a", None, "b", None], "ds": pd.date_range("2024", periods=4), "y": [1.0] * 4})
    path = tmp_path / f"holes.{kind}"
    frame.to_csv(path, index=False) if kind == "csv" else frame.to_parquet(path)
    with pytest.raises(ValueError, match=r"has 2 row\(s\) without a unique_id: drop or complete them first"):
        long_files.long_file_ids(path)


def test_a_candle_file_given_as_a_long_file_says_where_candles_are_read(tmp_path):
    # The demo's candle file, given to fit-many, was refused listing its preamble as columns, and nothing more.
    from jaxlstm._src.io.ohlcv import demo_data_path

    with pytest.raises(ValueError, match=r"missing \['unique_id', 'ds', 'y'\].*a candle file of one symbol is read by"):
        long_files.long_file_ids(demo_data_path())
    half = tmp_path / "half.csv"
    half.write_text("unique_id,when,y\nA,2024-01-01,1.0\n")
    with pytest.raises(ValueError, match=r"missing \['ds'\]; got columns \['unique_id', 'when', 'y'\]$"):
        long_files.long_file_ids(half)

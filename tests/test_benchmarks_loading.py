"""Smoke test of the loading benchmark: a small file end to end, checking the JSON's shape."""

from __future__ import annotations

import json
import pathlib

import pytest

from benchmarks import loading


@pytest.mark.slow
def test_small_run_writes_json_and_markdown(tmp_path: pathlib.Path) -> None:
    assert loading.main(["--rows", "3000", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "loading.json").read_text())
    assert results["rows"] == 3000 and results["file_bytes"] > 3000 * 50
    for name, result in results["loaders"].items():
        assert result["rows"] == 3000, name
        assert result["seconds"] > 0 and result["peak_rss_bytes"] >= result["rss_after_imports_bytes"] > 0
        assert result["first"].startswith("2015-01-01") and result["peak_rss_over_file"] > 0
    assert {"jaxlstm", "pandas"} <= set(results["loaders"])
    assert (tmp_path / "loading.md").read_text().startswith("# Loading a large candle CSV file")


def test_written_candles_are_possible_candles(tmp_path: pathlib.Path) -> None:
    from jaxlstm.data import load_ohlcv

    path = tmp_path / "c.csv"
    loading.write_candles(path, 50)
    data = load_ohlcv(path)
    assert len(data) == 50 and data.timestamps[-1] == data.timestamps[0] + 49 * (
        data.timestamps[1] - data.timestamps[0]
    )

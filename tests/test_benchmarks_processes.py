"""Section 9 of the speed benchmark (processes): its data file and its table, without starting processes."""

from __future__ import annotations

import numpy as np

from benchmarks.speed import markdown, processes
from jaxlstm._src.io import long_files
from jaxlstm._src.io.series import split_long


def test_the_long_file_holds_every_series_in_full(tmp_path):
    path = processes.write_long_file(tmp_path, series=3, prices=7)
    ids = long_files.long_file_ids(path)
    assert ids == ["S00000", "S00001", "S00002"]
    series = split_long(long_files.read_long_share(path, ids))
    assert all(len(s) == 7 and np.all(np.asarray(s) > 0) for s in series.values())


def test_the_table_shows_every_row_from_the_results():
    row = {
        "processes": 2,
        "wall_s": 12.5,
        "series_per_s": 16.0,
        "cpu_s_total": 20.0,
        "series_per_cpu_s_of_busiest": 19.5,
        "speedup_wall": 1.8,
        "speedup_cpu": 1.9,
        "per_process": [{"peak_rss_bytes": 500 * 2**20}, {"peak_rss_bytes": 510 * 2**20}],
    }
    result = {"series": 200, "prices": 500, "epochs": 10, "file": "parquet", "file_bytes": 2**20}
    bound = {**row, "cores": [[0, 1], [2]]}
    lines = markdown._processes({**result, "data_bytes_float64": 800_000, "rows": [row, bound]})
    table = "\n".join(lines)
    assert "| 2 | 12.50 s | 16.00 | 20.0 | 19.50 | 1.80x / 1.90x | 500.0 MiB, 510.0 MiB |" in table
    assert "| 2 (cores 0,1 / 2) | 12.50 s |" in table
    assert "200 synthetic series x 500 prices (parquet file, 1.0 MiB" in table

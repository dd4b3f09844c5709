"""``benchmarks.saving``: the folder it fills and its table, without timing anything."""

from __future__ import annotations

from benchmarks import saving


def test_the_folder_holds_a_model_folder_and_a_lock_file_per_model(tmp_path):
    saving.fill(tmp_path, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "S000000",
        "S000000.lock",
        "S000001",
        "S000001.lock",
        "S000002",
        "S000002.lock",
    ]
    assert all((tmp_path / f"S00000{i}").is_dir() for i in range(3))


def test_the_table_has_a_row_per_folder_size():
    save = {"median_s": 0.0523, "min_s": 0.05, "max_s": 0.061}
    results = {
        "saves": 20,
        "machine": {"cpu_model": "AMD EPYC", "load_average_at_start": [0.1, 0.2, 0.3]},
        "rows": [
            {"models": 0, "save": save, "cpu_s_per_save": 0.0511},
            {"models": 10_000, "save": {**save, "median_s": 0.0612}, "cpu_s_per_save": 0.0603},
        ],
    }
    text = saving.markdown(results)
    assert "`python -m benchmarks.saving --sizes 0,10000 --saves 20`" in text
    assert "| 0 | 52.3 | 50.0 | 61.0 | 51.1 |" in text
    assert "| 10,000 | 61.2 | 50.0 | 61.0 | 60.3 |" in text

"""Smoke test of the benchmark harness: ``--quick`` end to end, checking the JSON's shape.

The numbers themselves are not checked (tiny sizes, shared machines); only that every
section ran, produced the documented keys, and that the markdown and plots were written.
"""

import json
import pathlib

from benchmarks import run as bench
from benchmarks import torch_lstm


def test_quick_run_writes_json_markdown_and_plots(tmp_path: pathlib.Path) -> None:
    assert bench.main(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "bench.json").read_text())
    assert (tmp_path / "bench.md").read_text().startswith("# jaxlstm benchmarks")

    assert results["quick"] is True
    for key in ("machine", "settings", "targets", "duration_s", "plots"):
        assert key in results
    machine = results["machine"]
    for key in ("cpu_model", "logical_cores", "versions", "load_average_at_start"):
        assert key in machine
    assert {"jax", "jaxlib", "numpy", "torch"} <= set(machine["versions"])
    assert results["profile"] == {"skipped": True}  # --quick leaves the profile out

    train = results["train"]
    for key in ("config", "jax_functional", "jax_forecaster", "torch", "torch_1_thread", "batch1"):
        assert key in train
    fn = train["jax_functional"]
    assert fn["available"] and fn["first_call_s"] > 0 and fn["warm"]["median_s"] > 0 and "compile_s" in fn

    predict = results["predict"]
    for steps in (1, 24, 168):
        assert predict["functional"][f"steps_{steps}"]["warm"]["median_s"] > 0
    for key in (
        "vmap_params",
        "batch_windows",
        "predict_many",
        "forecast_many_relative",
        "forecast_many_minmax",
        "forecaster_loop",
    ):
        assert predict["multi_symbol"][key]["warm"]["median_s"] > 0, key

    cold = results["cold_start"]
    assert "available" in cold
    if cold["available"]:
        for mode in ("no_cache", "cache_filling", "cache_warm"):
            assert {"import_jax_s", "load_s", "first_forecast_s", "total_to_first_forecast_s"} <= set(
                cold[mode]["median"]
            )

    scaling = results["scaling"]
    assert [row["symbols"] for row in scaling["symbols"]["rows"]] == [1, 2]
    assert all("per_model_epoch_s" in row and "per_epoch_s_blocks" in row for row in scaling["symbols"]["rows"])
    assert [row["block_size"] for row in scaling["block_sizes"]["rows"]] == [1, 2]
    for block in ("hidden", "sequence"):
        assert all("jax_per_epoch_s" in row and "memory" in row for row in scaling[block]["rows"])

    if torch_lstm.available():
        assert train["torch"]["available"] and train["ratio_torch_over_jax"] > 0
    else:
        assert train["torch"]["available"] is False
    for name in results["plots"]:
        assert (tmp_path / name).stat().st_size > 0

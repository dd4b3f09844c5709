"""Smoke test of the benchmark harness: ``--quick`` end to end, checking the JSON's shape.

The numbers themselves are not checked (tiny sizes, shared machines); only that every
requested section ran without an error and produced the documented keys, that the markdown
has a table for each of them, and that the plots were written.
"""

import json
import pathlib
from typing import Any

import pytest

from benchmarks import run as bench
from benchmarks import torch_lstm

# The sections the smoke run asks for: all but the profile, which compiles ten training loops.
REQUESTED = ("train", "predict", "cold_start", "scaling", "concurrency", "population", "architectures")
HEADINGS = {
    "train": "## 1. Training, seed configuration",
    "predict": "## 2. Prediction latency (warm)",
    "cold_start": "## 3. Cold start (new process)",
    "scaling": "## 4. Scaling",
    "profile": "## 5. Profile of the training step (seed configuration)",
    "concurrency": "## 6. Two fits in two threads",
    "population": "## 7. Populations: K members in one call",
    "architectures": "## 8. Architectures against PyTorch",
    "processes": "## 9. Many series across processes",
}
# Why a measurement inside a section may be missing without the section being broken.
ALLOWED_GAPS = ("torch is not installed", "not analysed in --quick", "needs at least 2 cores")


def _failures(value: Any, path: str) -> list[str]:
    """Every measurement under ``value`` that recorded an error or is unavailable for a reason not allowed."""
    if isinstance(value, list):
        return [f for i, item in enumerate(value) for f in _failures(item, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return []
    reason = str(value.get("reason", ""))
    broken = "traceback" in value or (value.get("available") is False and not reason.startswith(ALLOWED_GAPS))
    own = [f"{path}: {reason or 'error'}"] if broken else []
    return own + [f for key, item in value.items() for f in _failures(item, f"{path}/{key}")]


def _markdown_section(md: str, heading: str) -> str:
    """The markdown between ``heading`` and the next ``## `` heading."""
    assert heading in md, f"bench.md lacks the heading {heading!r}"
    return md.split(heading, 1)[1].split("\n## ", 1)[0]


def check_sections(results: dict[str, Any], md: str, requested: tuple[str, ...]) -> None:
    """Fails unless every requested section ran without an error, in the JSON and in the markdown."""
    assert results.get("sections_run") == list(requested)
    for name in requested:
        section = results.get(name)
        assert isinstance(section, dict) and section, f"section {name!r} is missing from bench.json"
        assert not section.get("skipped"), f"section {name!r} was requested but skipped"
        failures = _failures(section, name)
        assert not failures, f"section {name!r} reported errors: {failures}"
        body = _markdown_section(md, HEADINGS[name])
        assert "|---" in body, f"bench.md has no table under {HEADINGS[name]!r}: {body[:300]!r}"
        assert "(error:" not in body, f"bench.md reports an error under {HEADINGS[name]!r}"
    for name in set(HEADINGS) - set(requested):
        assert results.get(name) == {"skipped": True}
        assert _markdown_section(md, HEADINGS[name]).strip().endswith("skipped.")


def _results(**sections: dict[str, Any]) -> tuple[dict[str, Any], str]:
    results = {"sections_run": list(REQUESTED), **{key: {"skipped": True} for key in HEADINGS}, **sections}
    md = "\n".join(
        f"{heading}\n\n| a |\n|---|\n" if name in sections else f"{heading}\n\nX: skipped.\n"
        for name, heading in HEADINGS.items()
    )
    return results, md


def test_check_sections_rejects_a_missing_skipped_or_failed_section() -> None:
    ok = {"rows": [{"memory": {"available": False, "reason": "not analysed in --quick (it needs a second compile)"}}]}
    torch = {"torch": {"available": False, "reason": "torch is not installed"}}
    good = {
        "train": torch,
        "predict": ok,
        "cold_start": {"available": True},
        "scaling": ok,
        "concurrency": {"two_over_one": 1.1},
        "population": {"rows": [{"members": 2, "throughput_vs_library": 1.5}]},
        "architectures": {"rows": [{"architecture": "lstm", "torch_train": torch["torch"]}]},
    }
    check_sections(*_results(**good), REQUESTED)

    error = {"available": False, "reason": "error: RuntimeError()", "traceback": "..."}
    for broken in (
        {"cold_start": {"skipped": True}},  # requested, not run
        {"cold_start": error},  # the whole section failed
        {"cold_start": {}},  # ran but recorded nothing
        {"scaling": {"rows": [{"symbols": 2, **error}]}},  # one measurement failed
        {"predict": {"predict_many": {"available": False, "reason": "the library has no predict_many"}}},
    ):
        with pytest.raises(AssertionError):
            check_sections(*_results(**{**good, **broken}), REQUESTED)
    results, md = _results(**good)
    del results["cold_start"]
    with pytest.raises(AssertionError, match="missing from bench.json"):
        check_sections(results, md, REQUESTED)
    results, md = _results(**good)
    with pytest.raises(AssertionError, match="lacks the heading"):
        check_sections(results, md.replace(HEADINGS["cold_start"], ""), REQUESTED)


@pytest.mark.slow
def test_quick_run_writes_json_markdown_and_plots(tmp_path: pathlib.Path) -> None:
    assert bench.main(["--quick", "--out", str(tmp_path), "--sections", ",".join(REQUESTED)]) == 0
    results = json.loads((tmp_path / "bench.json").read_text())
    md = (tmp_path / "bench.md").read_text()
    assert md.startswith("# jaxlstm benchmarks")
    check_sections(results, md, REQUESTED)

    assert results["quick"] is True
    for key in ("machine", "settings", "targets", "duration_s", "plots"):
        assert key in results
    machine = results["machine"]
    for key in ("cpu_model", "logical_cores", "versions", "load_average_at_start"):
        assert key in machine
    assert {"jax", "jaxlib", "numpy", "torch"} <= set(machine["versions"])

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
    assert cold["available"] is True
    for mode in ("no_cache", "cache_filling", "cache_warm"):
        assert {"import_jax_s", "load_s", "first_forecast_s", "total_to_first_forecast_s"} <= set(cold[mode]["median"])
        assert cold[mode]["median"]["total_to_first_forecast_s"] > 0

    scaling = results["scaling"]
    assert [row["symbols"] for row in scaling["symbols"]["rows"]] == [1, 2]
    assert all("per_model_epoch_s" in row and "per_epoch_s_blocks" in row for row in scaling["symbols"]["rows"])
    assert [row["block_size"] for row in scaling["block_sizes"]["rows"]] == [1, 2]
    for block in ("hidden", "sequence"):
        assert all("jax_per_epoch_s" in row and "memory" in row for row in scaling[block]["rows"])

    population = results["population"]
    assert [row["members"] for row in population["rows"]] == [2, 4]
    assert all(row["throughput_vs_library"] > 0 and row["warm"]["median_s"] > 0 for row in population["rows"])
    rows = results["architectures"]["rows"]
    assert [row["architecture"] for row in rows] == ["lstm", "bilstm", "attention", "transformer"]
    for row in rows:
        assert row["jax_train"]["warm"]["median_s"] > 0 and row["jax_predict"]["warm"]["median_s"] > 0
        if torch_lstm.available():
            assert row["ratio_train"] > 0 and row["ratio_predict_1_thread"] > 0

    if torch_lstm.available():
        assert train["torch"]["available"] and train["ratio_torch_over_jax"] > 0
    else:
        assert train["torch"]["available"] is False
    assert results["plots"]
    for name in results["plots"]:
        assert (tmp_path / name).stat().st_size > 0

"""The speed goals and how this run's measurements compare with them.

Goals for the seed configuration on a 2-core float32 CPU; reported next to the
measurement, never used to decide anything.
"""

from __future__ import annotations

from typing import Any

from benchmarks.speed.common import get

TARGETS = {
    "seed_train_warm_s": 0.25,
    "seed_train_compile_s": 1.5,
    "torch_over_jax_train": 6.0,
    "predict_1_step_s": 50e-6,
    "predict_24_steps_s": 100e-6,
    "predict_10x168_s": 2e-3,
    "multi_10_throughput": 2.0,
    "two_threads_over_one_fit": 1.5,
    # 32 members in one call: throughput vs 32 sequential fits of this library / of PyTorch.
    "population_32_vs_library": 4.0,
    "population_32_vs_torch": 8.0,
    # GPU only: 128 members in at most 2x the time of one fit.
    "gpu_128_over_1": 2.0,
    # GPU only: 10 symbols in at most 1.2x the time of one; 1,000 symbols x 100 epochs in 10 s.
    "gpu_10_over_1": 1.2,
    "gpu_1000_symbols_s": 10.0,
}
# Goals that a measurement meets by reaching at least the goal; the others by staying at or below it.
_AT_LEAST = frozenset(
    {"torch_over_jax_train", "multi_10_throughput", "population_32_vs_library", "population_32_vs_torch"}
)


def _population_row(results: dict[str, Any], members: int, key: str) -> Any:
    rows = get(results, "population", "rows") or []
    row = next((r for r in rows if r.get("members") == members), None)
    return None if row is None else row.get(key)


def _best_torch(results: dict[str, Any], members: int) -> Any:
    """Throughput against the faster of the two PyTorch settings (the harder comparison)."""
    values = [
        _population_row(results, members, f"throughput_vs_{k}") for k in ("torch_1_thread", "torch_default_threads")
    ]
    values = [v for v in values if v is not None]
    return min(values) if values else None


def _symbols_row(results: dict[str, Any], symbols: int, key: str) -> Any:
    rows = get(results, "scaling", "symbols", "rows") or []
    row = next((r for r in rows if r.get("symbols") == symbols), None)
    return None if row is None else row.get(key)


def _symbols_time_ratio(results: dict[str, Any], symbols: int) -> float | None:
    many, one = _symbols_row(results, symbols, "per_epoch_s"), _symbols_row(results, 1, "per_epoch_s")
    return None if many is None or one is None else many / one


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The reference goals next to this run's measurements (quick runs use other sizes)."""
    fn, ms = ("predict", "functional"), ("predict", "multi_symbol")
    warm = lambda *path: get(results, *path, "warm", "median_s")
    rows = [
        ("seed config trains (warm, functional)", "seed_train_warm_s", warm("train", "jax_functional")),
        (
            "seed config compiles (first call - warm)",
            "seed_train_compile_s",
            get(results, "train", "jax_functional", "compile_s"),
        ),
        (
            "faster PyTorch setting / JAX, seed config",
            "torch_over_jax_train",
            get(results, "train", "ratio_best_torch_over_jax"),
        ),
        ("one-step prediction (functional, warm)", "predict_1_step_s", warm(*fn, "steps_1")),
        ("24-step prediction (functional, warm)", "predict_24_steps_s", warm(*fn, "steps_24")),
        (
            "24-step prediction (functional with the library's XLA options, warm)",
            "predict_24_steps_s",
            warm("predict", "functional_tuned", "steps_24"),
        ),
        ("10 symbols x 168 steps (stacked `predict_many`, warm)", "predict_10x168_s", warm(*ms, "predict_many")),
        (
            "10 symbols x 168 steps (`forecast_many`, relative target)",
            "predict_10x168_s",
            warm(*ms, "forecast_many_relative"),
        ),
        (
            "10 symbols x 168 steps (`forecast_many`, min-max target)",
            "predict_10x168_s",
            warm(*ms, "forecast_many_minmax"),
        ),
        (
            "10 symbols trained together, throughput vs one at a time",
            "multi_10_throughput",
            _symbols_row(results, 10, "speedup_vs_one_at_a_time_blocks"),
        ),
        (
            "two threads fitting two models / one fit alone (2 cores)",
            "two_threads_over_one_fit",
            get(results, "concurrency", "two_over_one"),
        ),
    ]
    rows += [
        (
            "32 members in one call, throughput vs 32 sequential fits (library)",
            "population_32_vs_library",
            _population_row(results, 32, "throughput_vs_library"),
        ),
        (
            "32 members in one call, throughput vs 32 sequential PyTorch fits (faster setting)",
            "population_32_vs_torch",
            _best_torch(results, 32),
        ),
    ]
    if get(results, "machine", "jax_backend") == "gpu":
        rows += [
            ("GPU: 128 members in one call / one fit", "gpu_128_over_1", _population_row(results, 128, "over_one_fit")),
            ("GPU: 10 symbols / 1 symbol, time per epoch", "gpu_10_over_1", _symbols_time_ratio(results, 10)),
            (
                "GPU: 1,000 symbols x 100 epochs (from the timed epochs)",
                "gpu_1000_symbols_s",
                _symbols_row(results, 1000, "est_100_epochs_s"),
            ),
        ]
    out = []
    for label, key, value in rows:
        goal, op = TARGETS[key], "ge" if key in _AT_LEAST else "le"
        met = None if value is None else (value <= goal if op == "le" else value >= goal)
        out.append({"what": label, "key": key, "goal": goal, "direction": op, "measured": value, "met": met})
    return out

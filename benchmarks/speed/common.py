"""Helpers every section of the speed benchmark uses: logging, failure records, JAX timing, PyTorch runs.

Nothing here calls jaxlstm (``library`` holds the calls several sections share); jax and
torch are imported inside the functions that need them, so importing the harness starts
neither.
"""

from __future__ import annotations

import math
import pathlib
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import _timing, torch_lstm

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
# Seconds after which a PyTorch measurement stops adding repeats (it keeps at least one
# timed run); the JSON lists the runs actually made.
TORCH_BUDGET_S = 120.0


# ---------------------------------------------------------------------------- results


def log(msg: str) -> None:
    """One progress line on stderr, with the time of day."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def jsonable(value: Any) -> Any:
    """Plain JSON types for numpy scalars, arrays, tuples and paths."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pathlib.Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def unavailable(reason: str) -> dict[str, Any]:
    """The record of a measurement that could not be made, and why."""
    return {"available": False, "reason": reason}


def guarded(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Runs one measurement; a failure is recorded instead of aborting the whole run."""
    try:
        return fn()
    except Exception as err:  # keep the rest of the run; the JSON says what failed
        log(f"{name} failed: {err!r}")
        return {"available": False, "reason": f"error: {err!r}", "traceback": traceback.format_exc(limit=5)}


def get(d: Any, *path: str) -> Any:
    """``d[path[0]][path[1]]...``, or ``None`` where a key is missing."""
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def na(d: Any) -> str | None:
    """The reason a measurement is missing, or ``None`` when it is there."""
    if not isinstance(d, dict):
        return "not measured"
    if d.get("skipped"):
        return "skipped"
    if d.get("available") is False:
        return f"not available ({d.get('reason', '')})"
    return None


def ratio(slow: dict[str, Any], fast: dict[str, Any], key: str | None = None) -> float | None:
    """``slow / fast`` of two measurements' warm medians (or ``key``), ``None`` if either is missing."""
    try:
        if key is None:
            return slow["warm"]["median_s"] / fast["warm"]["median_s"]
        return slow[key] / fast[key]
    except (KeyError, TypeError, ZeroDivisionError):
        return None


# ---------------------------------------------------------------------------- JAX timing


def block(tree: Any) -> Any:
    """``jax.block_until_ready``: a JAX call is timed to its result, not to its dispatch."""
    import jax

    return jax.block_until_ready(tree)


def param_count(params: Any) -> int:
    """Number of scalars in a params pytree."""
    import jax

    return int(sum(np.prod(np.shape(leaf)) for leaf in jax.tree.leaves(params)))


def memory_stats(compiled: Any) -> dict[str, Any]:
    """XLA's static buffer sizes for a compiled function (not a measured RSS)."""
    try:
        stats = compiled.memory_analysis()
    except Exception as err:  # some backends do not implement it
        return unavailable(f"memory_analysis() failed: {err!r}")
    if stats is None:
        return unavailable("memory_analysis() returned None on this backend")
    fields = (
        "argument_size_in_bytes",
        "output_size_in_bytes",
        "alias_size_in_bytes",
        "temp_size_in_bytes",
        "generated_code_size_in_bytes",
        "peak_memory_in_bytes",
    )
    return {"available": True, **{f: int(getattr(stats, f)) for f in fields if hasattr(stats, f)}}


def first_and_warm(fn: Callable[[], Any], repeats: int) -> tuple[float, dict[str, Any], Any]:
    """One first call (compile + run), then ``repeats`` timed calls with no untimed warm-up.

    Returns:
        ``(first-call seconds, _timing.time_repeated summary, the first call's output)``.
    """
    first, out = _timing.time_first_call(fn)
    return first, _timing.time_repeated(fn, repeats, warmup=0), out


def latency(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """First-call seconds and warm per-call latency of ``fn`` (which blocks on its result)."""
    first, _ = _timing.time_first_call(fn)
    number = _timing.calls_for(fn, target_s=0.05 if repeats > 2 else 0.01)
    warm = _timing.time_repeated(fn, repeats, number=number, warmup=1)
    return {"available": True, "first_call_s": first, "warm": warm}


def aot(lower: Callable[[], Any], compiler_options: dict[str, Any] | None = None) -> tuple[Any, float]:
    """Traces, lowers and compiles ahead of time; returns the executable and the seconds taken."""
    start = _timing.now()
    compiled = lower().compile(compiler_options)
    return compiled, _timing.now() - start


def time_compiled(compiled: Any, args: tuple, repeats: int) -> dict[str, Any]:
    """First and warm run times of an ahead-of-time compiled executable on ``args``."""
    first, warm, _ = first_and_warm(lambda: block(compiled(*args)), repeats)
    return {"first_run_s": first, "warm": warm}


# ---------------------------------------------------------------------------- PyTorch


def torch_runs(
    hidden: int,
    params: Any,
    xs: Any,
    ys: Any,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    repeats: int,
    threads: int | None = None,
) -> tuple[list[float], list[float], int]:
    """A warm-up and ``repeats`` timed PyTorch trainings from the JAX initial weights.

    Returns ``(seconds per run, final loss per run, threads used)``; the warm-up is the
    first entry. ``threads`` sets PyTorch's thread count for these runs only (``None``: its
    default). Stops adding runs past ``TORCH_BUDGET_S`` once two have run, so a PyTorch
    stalled on a busy machine cannot hold up the benchmark.
    """
    import torch

    default_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        x_np, y_np = np.asarray(xs), np.asarray(ys)
        times, losses = [], []
        for r in range(repeats + 1):
            if r >= 2 and sum(times) > TORCH_BUDGET_S:
                break
            model = torch_lstm.build_model(hidden, jax_params=params)
            start = _timing.now()
            hist = torch_lstm.train(
                model, x_np, y_np, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=r
            )
            times.append(_timing.now() - start)
            losses.append(hist[-1])
        return times, losses, torch.get_num_threads()
    finally:
        torch.set_num_threads(default_threads)


def torch_missing() -> dict[str, Any] | None:
    """The record of a PyTorch measurement when torch is not installed, else ``None``."""
    return None if torch_lstm.available() else unavailable("torch is not installed")

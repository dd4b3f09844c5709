"""Timing helpers and a description of the machine a benchmark ran on.

Every timing is a list of raw per-run seconds plus their median: the machine may be
shared with other work, so the median of several runs is reported rather than the
mean, and the spread is kept so a reader can see how noisy a run was.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def now() -> float:
    """A monotonic high-resolution clock in seconds."""
    return time.perf_counter()


def summarize(seconds: list[float]) -> dict[str, Any]:
    """Median, min, max and the raw runs of a list of timings (seconds)."""
    if not seconds:
        raise ValueError("summarize needs at least one timing")
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "runs_s": list(seconds),
    }


def time_first_call(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by one call of ``fn`` (which must block until its result is ready)."""
    start = now()
    out = fn()
    return now() - start, out


def time_repeated(fn: Callable[[], Any], repeats: int, number: int = 1, warmup: int = 1) -> dict[str, Any]:
    """Median-of-``repeats`` time of one call of ``fn``.

    Each repeat runs ``fn`` ``number`` times back to back and records the mean of those,
    so calls far shorter than the clock's resolution and Python's noise (a few
    microseconds) are still measured well. ``fn`` must block until its result is ready
    (``.block_until_ready()``), otherwise only JAX's asynchronous dispatch is timed.

    Args:
        fn: a no-argument callable.
        repeats: how many timed repeats (the median of these is reported).
        number: calls per repeat.
        warmup: untimed calls first (compilation, caches).

    Returns:
        ``summarize`` of the per-call seconds of each repeat, plus ``number``.
    """
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(max(1, repeats)):
        start = now()
        for _ in range(number):
            fn()
        runs.append((now() - start) / number)
    return {**summarize(runs), "number": number}


def calls_for(fn: Callable[[], Any], target_s: float = 0.05, cap: int = 10_000) -> int:
    """How many calls of ``fn`` fill about ``target_s`` seconds (at least 1, at most ``cap``)."""
    start = now()
    fn()
    one = max(now() - start, 1e-7)
    return int(max(1, min(cap, target_s / one)))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    """The vector instruction sets that matter for float32 matmuls, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return sorted(f for f in flags if f in ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"))
    except OSError:
        pass
    return []


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except Exception:  # an absent or broken optional dependency is reported as None
        return None
    return getattr(mod, "__version__", None)


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (a busy machine makes timings slower)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine_info() -> dict[str, Any]:
    """CPU model, core counts, load and library versions of this process's machine."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average_at_start": load_average(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {name: _version(name) for name in ("jax", "jaxlib", "numpy", "optax", "torch")},
    }
    try:
        import jax

        info["jax_backend"] = jax.default_backend()
        info["jax_devices"] = [str(d) for d in jax.devices()]
    except Exception as err:  # keep the description even when JAX cannot start
        info["jax_backend"] = f"unavailable: {err}"
    try:
        import torch

        info["torch_num_threads"] = torch.get_num_threads()
        info["torch_num_interop_threads"] = torch.get_num_interop_threads()
    except Exception:
        info["torch_num_threads"] = None
    return info

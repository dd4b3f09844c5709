"""Section 3, cold start: a new process imports jaxlstm, loads a saved model and forecasts "1d".

Without JAX's persistent compilation cache, with an empty cache folder (the first process
compiles and fills it), and with the warm cache. Every phase is timed inside the child,
from the first line of its script; the parent adds the process's wall time.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from typing import Any

import numpy as np

from benchmarks import _timing
from benchmarks.speed import library
from benchmarks.speed.common import REPO_ROOT, log, unavailable
from benchmarks.speed.settings import Settings

# ---------------------------------------------------------------------------- calls into jaxlstm

# Runs in a fresh interpreter: every phase is timed from the first line of the script.
_COLD_SCRIPT = r"""
import time
t0 = time.perf_counter()
import json, sys
path, cache = sys.argv[1], sys.argv[2]
import jax
if cache:
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
else:
    jax.config.update("jax_compilation_cache_dir", None)
t1 = time.perf_counter()
import jaxlstm
t2 = time.perf_counter()
model = jaxlstm.LSTMForecaster.load(path)
t3 = time.perf_counter()
fc = model.forecast("1d")
t4 = time.perf_counter()
fc = model.forecast("1d")
t5 = time.perf_counter()
print("COLD_START_JSON " + json.dumps({
    "import_jax_s": t1 - t0,
    "import_jaxlstm_s": t2 - t1,
    "load_s": t3 - t2,
    "first_forecast_s": t4 - t3,
    "second_forecast_s": t5 - t4,
    "compile_s": (t4 - t3) - (t5 - t4),
    "total_to_first_forecast_s": t4 - t0,
    "steps": int(len(fc.predicted)),
}))
"""
WHAT = "python -c \"import jax; import jaxlstm; LSTMForecaster.load(path).forecast('1d')\" in a new process"


def _save(model: Any, folder: pathlib.Path) -> pathlib.Path:
    """Saves a fitted ``LSTMForecaster`` under ``folder``; returns the path ``LSTMForecaster.load`` takes."""
    return model.save(folder)


# ---------------------------------------------------------------------------- child processes

_COLD_KEYS = (
    "import_jax_s",
    "import_jaxlstm_s",
    "load_s",
    "first_forecast_s",
    "second_forecast_s",
    "compile_s",
    "total_to_first_forecast_s",
    "process_wall_s",
)


def _launch(model_path: pathlib.Path, cache_dir: str) -> tuple[subprocess.Popen, float]:
    """Starts one cold-start process; ``cache_dir`` empty means no persistent cache."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    # The child configures the persistent cache itself (or turns it off): no outside
    # setting may leak in and change what is measured.
    env["JAXLSTM_COMPILATION_CACHE"] = "0"
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    start = _timing.now()
    proc = subprocess.Popen(
        [sys.executable, "-c", _COLD_SCRIPT, str(model_path), cache_dir],
        cwd=str(REPO_ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, start


def _collect(launched: tuple[subprocess.Popen, float]) -> dict[str, Any]:
    """Waits for a process from ``_launch`` and returns its phase timings."""
    proc, start = launched
    try:
        stdout, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError("cold-start process took more than 300 s") from None
    wall = _timing.now() - start
    line = next((ln for ln in stdout.splitlines() if ln.startswith("COLD_START_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"cold-start process failed (rc={proc.returncode}): {stderr[-2000:]}")
    return {**json.loads(line.split(" ", 1)[1]), "process_wall_s": wall}


def _processes(model_path: pathlib.Path, cache_dir: str, count: int) -> dict[str, Any]:
    """``count`` cold-start processes one after another, summarised."""
    return _summary([_collect(_launch(model_path, cache_dir)) for _ in range(count)])


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": runs,
        "median": {k: float(np.median([r[k] for r in runs])) for k in _COLD_KEYS},
    }


# ---------------------------------------------------------------------------- the section


def bench_cold_start(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """New-process import + load + forecast("1d"), with and without the persistent cache."""
    cls, why = library.forecaster_class()
    if cls is None:
        return unavailable(why)
    if not hasattr(cls, "load") or not hasattr(cls, "save"):
        return unavailable("LSTMForecaster has no save/load")
    model = state.get("forecaster")
    if model is None:
        model = library.quick_forecaster(cls, s)
    work = pathlib.Path(tempfile.mkdtemp(prefix="jaxlstm-bench-"))
    try:
        model_path = _save(model, work / "model")
        cache_dir = work / "jax-cache"
        cache_dir.mkdir()
        out: dict[str, Any] = {
            "available": True,
            "model": {"hidden_size": s.hidden, "sequence_length": s.window, "saved_with": "LSTMForecaster.save"},
            "what": WHAT,
        }
        if s.quick:
            # Smoke run: the two processes that need no warm cache run side by side
            # (their timings disturb each other; quick numbers are not comparable anyway).
            log("cold start: no cache and cache-filling processes together (--quick)")
            launched = [_launch(model_path, ""), _launch(model_path, str(cache_dir))]
            out["no_cache"] = _summary([_collect(launched[0])])
            out["cache_filling"] = _summary([_collect(launched[1])])
        else:
            log("cold start: no cache")
            out["no_cache"] = _processes(model_path, "", s.cold_repeats)
            log("cold start: cache, first process (fills the cache)")
            out["cache_filling"] = _processes(model_path, str(cache_dir), 1)
        out["cache_entries"] = len([p for p in cache_dir.rglob("*") if p.is_file()])
        log("cold start: cache, warm")
        out["cache_warm"] = _processes(model_path, str(cache_dir), s.cold_repeats)
        try:
            out["cache_speedup_total"] = (
                out["no_cache"]["median"]["total_to_first_forecast_s"]
                / out["cache_warm"]["median"]["total_to_first_forecast_s"]
            )
        except ZeroDivisionError:
            out["cache_speedup_total"] = None
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)

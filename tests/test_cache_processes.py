"""ModelCache under real processes: one trains a symbol, the others wait and load its model.

Issue "Nothing lost, nothing crashes": ``ModelCache.get`` from 2-3 processes on one symbol
trained the model once per process, crashed inside Orbax (7 of 12 runs) or left an
unloadable model (2 of 12).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

import jaxlstm as jl
from jaxlstm._src.io import locking
from jaxlstm._src.io import model_files as persistence

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not locking.PROCESS_LOCKS, reason="needs fcntl to lock across processes"),
]

HERE = pathlib.Path(__file__).resolve().parent


def start(tmp_path: pathlib.Path, symbol: str, *, train_seconds: float, lock_timeout: float) -> subprocess.Popen:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAXLSTM_COMPILATION_CACHE="0", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), env.get("PYTHONPATH")) if p)
    args = [tmp_path / "models", symbol, tmp_path / "trained.log", tmp_path / "go", train_seconds, lock_timeout]
    return subprocess.Popen(
        [sys.executable, str(HERE / "cache_worker.py"), *map(str, args)], stdout=subprocess.PIPE, text=True, env=env
    )


def answer(proc: subprocess.Popen) -> dict:
    line = proc.stdout.readline()
    assert line, f"worker {proc.pid} exited with {proc.wait()}"
    return json.loads(line)


def run_together(tmp_path: pathlib.Path, count: int, **options) -> list[dict]:
    procs = [start(tmp_path, "BTC/USD", **options) for _ in range(count)]
    try:
        for proc in procs:
            assert "ready" in answer(proc)
        (tmp_path / "go").touch()  # every worker calls get() now
        results = [answer(proc) for proc in procs]
        for proc in procs:
            assert proc.wait(timeout=120) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def trainers(tmp_path: pathlib.Path) -> list[int]:
    log = tmp_path / "trained.log"
    return [int(pid) for pid in log.read_text().split()] if log.exists() else []


def test_three_processes_train_once_and_share_the_model(tmp_path):
    results = run_together(tmp_path, 3, train_seconds=2.0, lock_timeout=300)
    assert all(r["ok"] for r in results), results
    assert len(trainers(tmp_path)) == 1, results
    (trainer,) = trainers(tmp_path)
    assert [r["pid"] for r in results if r["trained"]] == [trainer]
    assert {r["seed"] for r in results} == {trainer} and len({r["trained_at"] for r in results}) == 1
    model = jl.LSTMForecaster.load(tmp_path / "models" / "BTC_2fUSD")
    assert model.seed == trainer and model.symbol == "BTC/USD"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["BTC_2fUSD", "BTC_2fUSD.lock"]
    # A later process finds the model fresh and trains nothing.
    (tmp_path / "go").unlink()
    (again,) = run_together(tmp_path, 1, train_seconds=0, lock_timeout=300)
    assert again["ok"] and not again["trained"] and again["seed"] == trainer


def test_a_process_waiting_longer_than_lock_timeout_gets_a_timeout_error(tmp_path):
    path = tmp_path / "models" / "BTC_2fUSD"
    with persistence.model_lock(path):  # this process trains, as far as the worker can tell
        (result,) = run_together(tmp_path, 1, train_seconds=0, lock_timeout=1)
    assert not result["ok"] and result["error"] == "TimeoutError", result
    assert result["message"].startswith("gave up after 1 s waiting for another process or thread")
    assert "\n" not in result["message"] and trainers(tmp_path) == []

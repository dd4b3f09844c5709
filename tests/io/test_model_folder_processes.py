"""Model folders under real processes: concurrent saves, saves killed with SIGKILL, stderr after failed loads.

The processes are forked from one worker (``model_folder_worker.py``) that has imported
JAX and Orbax once, so a trial costs a fork, not a new interpreter.
"""

from __future__ import annotations

import json
import os
import pathlib
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings

import pytest
from persist_trees import assert_identical, biggest_params_file, lstm_params

from jaxlstm._src.io import model_files as F

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(os, "mkfifo"), reason="needs fork and FIFOs"),
]

HERE = pathlib.Path(__file__).resolve().parent
HIDDEN = 8  # as in model_folder_worker


class Worker:
    """The forking worker process and the JSON lines it and its children write."""

    def __init__(self) -> None:
        env = dict(os.environ, JAX_PLATFORMS="cpu", JAXLSTM_COMPILATION_CACHE="0", OPENBLAS_NUM_THREADS="1")
        root = str(HERE.parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "model_folder_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue = queue.Queue()
        self.pending: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.expect(lambda m: "ready" in m, timeout=120)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put({"eof": True})

    def expect(self, match, timeout: float = 60) -> dict:
        """The first message (kept or new) for which ``match`` is true; others are kept."""
        for i, message in enumerate(self.pending):
            if match(message):
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no matching message within {timeout} s; kept: {self.pending[-5:]}") from None
            assert "eof" not in message, "the worker exited"
            assert "crashed" not in message, message["crashed"]
            if match(message):
                return message
            self.pending.append(message)

    def send(self, **command) -> int:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self.expect(lambda m: "forked" in m)["forked"]

    def kill_and_reap(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        self.proc.stdin.write(json.dumps({"op": "reap", "pid": pid}) + "\n")
        self.proc.stdin.flush()
        self.expect(lambda m: m.get("reaped") == pid)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def _params(seed: int) -> dict:
    return lstm_params(seed=seed, hidden=HIDDEN)


def _check_model(path: pathlib.Path, allowed: set[int]) -> int:
    """Loads ``path``; its seed must be in ``allowed`` and its params those of that seed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a backup left between two renames
        params, metadata = F.load_model(path)
    assert metadata["seed"] in allowed, (metadata["seed"], allowed)
    assert_identical(params, _params(metadata["seed"]))
    return metadata["seed"]


def _debris(parent: pathlib.Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if F.TMP_INFIX in p.name or F.BAK_INFIX in p.name)


def test_two_processes_saving_one_model_both_succeed(worker, tmp_path):
    path = tmp_path / "m"
    F.save_model(path, _params(0), {"seed": 0})
    fifos = [tmp_path / "a.fifo", tmp_path / "b.fifo"]
    pids = []
    for fifo in fifos:
        os.mkfifo(fifo)
        pids.append(worker.send(op="saver", fifo=str(fifo)))
    writers = [open(fifo, "w") for fifo in fifos]  # noqa: SIM115  (closed in finally)
    winners = []
    try:
        for rnd in range(1, 26):
            seeds = (1000 + rnd, 2000 + rnd)
            for writer, seed in zip(writers, seeds):
                writer.write(json.dumps({"path": str(path), "seed": seed, "round": rnd}) + "\n")
                writer.flush()
            for pid in pids:
                result = worker.expect(lambda m, pid=pid, rnd=rnd: m.get("pid") == pid and m.get("round") == rnd)
                assert result["ok"], f"round {rnd}: {result['error']}"
            winners.append(_check_model(path, set(seeds)))
            assert _debris(tmp_path) == []
    finally:
        for writer in writers:
            writer.close()  # the savers read EOF and exit
        for pid in pids:
            worker.proc.stdin.write(json.dumps({"op": "reap", "pid": pid}) + "\n")
            worker.proc.stdin.flush()
            worker.expect(lambda m, pid=pid: m.get("reaped") == pid)
    print(f"rounds won by the first saver: {sum(w < 2000 for w in winners)} of {len(winners)}")


def _kill_trial(worker, path: pathlib.Path, seed: int, last: int, delay: float | None, kill_at=None) -> tuple[int, int]:
    """Starts a looping saver, kills it after ``delay`` s (or at ``kill_at``); returns (loaded seed, last saved)."""
    pid = worker.send(op="looper", path=str(path), seed=seed, kill_at=kill_at)
    worker.expect(lambda m: m.get("pid") == pid and m.get("started"))
    if kill_at is None:
        time.sleep(delay)
        worker.kill_and_reap(pid)
    else:
        worker.proc.stdin.write(json.dumps({"op": "reap", "pid": pid}) + "\n")
        worker.proc.stdin.flush()
        reaped = worker.expect(lambda m: m.get("reaped") == pid, timeout=60)
        assert reaped["signal"] == signal.SIGKILL
    saved = []
    while True:
        try:
            saved.append(worker.expect(lambda m: m.get("pid") == pid and "saved" in m, timeout=0.05)["saved"])
        except AssertionError:
            break
    last_saved = max(saved, default=last)
    in_flight = seed + len(saved)
    return _check_model(path, {last_saved, in_flight}), last_saved


def test_saves_killed_at_random_points_leave_the_old_or_the_new_model(worker, tmp_path):
    path = tmp_path / "m"
    F.save_model(path, _params(0), {"seed": 0})
    rng = random.Random(20240601)
    last, after_swap = 0, 0
    for trial in range(14):
        seed = 100 * (trial + 1)
        loaded, last = _kill_trial(worker, path, seed, last, delay=rng.uniform(0.0, 0.4))
        after_swap += loaded != last
        last = loaded
    print(f"kills after the swap of a save that had not returned yet: {after_swap} of 14")
    F.save_model(path, _params(1), {"seed": 1})
    assert _debris(tmp_path) == []
    _check_model(path, {1})


@pytest.mark.parametrize("kill_at", ["mid_orbax", "after_metadata", "before_swap", "after_swap", "between_renames"])
def test_saves_killed_at_each_step_leave_the_old_or_the_new_model(worker, tmp_path, kill_at):
    path = tmp_path / "m"
    F.save_model(path, _params(0), {"seed": 0})
    # The looper saves seed 10, then dies in the middle of saving seed 11.
    loaded, last = _kill_trial(worker, path, 10, 0, delay=None, kill_at=kill_at)
    assert last == 10
    assert loaded == (11 if kill_at == "after_swap" else 10)
    if kill_at == "between_renames":
        assert not path.exists() and len(_debris(tmp_path)) == 2  # the backup and the new model
    F.save_model(path, _params(1), {"seed": 1})  # cleans up after the dead save
    assert _debris(tmp_path) == []
    _check_model(path, {1})


def test_failed_loads_print_nothing_on_stderr(worker, tmp_path):
    good = tmp_path / "good"
    F.save_model(good, lstm_params(seed=3, n_layers=2), {})
    damages = [
        lambda m: (m / F.PARAMS_DIR / "manifest.ocdbt").write_bytes(b"xx"),
        lambda m: (m / F.PARAMS_DIR / "_METADATA").write_text("{}"),
        lambda m: biggest_params_file(m).write_bytes(biggest_params_file(m).read_bytes()[:10]),
        lambda m: biggest_params_file(m).unlink(),
        lambda m: shutil.rmtree(next((m / F.PARAMS_DIR).glob("ocdbt.process_*"))),
    ]
    paths = []
    for i in range(30):
        model = tmp_path / f"damaged{i}"
        shutil.copytree(good, model)
        damages[i % len(damages)](model)
        paths.append(str(model))
    stderr = tmp_path / "stderr.txt"
    pid = worker.send(op="loader", paths=paths, stderr=str(stderr))
    outcomes = worker.expect(lambda m: m.get("pid") == pid and "outcomes" in m, timeout=120)["outcomes"]
    worker.proc.stdin.write(json.dumps({"op": "reap", "pid": pid}) + "\n")
    worker.proc.stdin.flush()
    worker.expect(lambda m: m.get("reaped") == pid)
    assert outcomes == ["ValueError"] * 30
    text = stderr.read_text()
    assert "Traceback" not in text and "Event loop is closed" not in text, text[:2000]

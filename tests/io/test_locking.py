"""Tests for ``model_lock``: one writer per model path, across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from jaxlstm._src.io import locking as L

needs_fcntl = pytest.mark.skipif(L.fcntl is None, reason="process locks need fcntl")


@pytest.fixture(params=["process", "thread"])
def kind(request, monkeypatch):
    """Runs a test with the fcntl lock and with the lock used where fcntl is missing."""
    if request.param == "process" and L.fcntl is None:
        pytest.skip("no fcntl here")
    monkeypatch.setattr(L, "PROCESS_LOCKS", request.param == "process")
    return request.param


def test_lock_file_sits_beside_the_model_and_stays(tmp_path, kind):
    with L.model_lock(tmp_path / "sub" / "m") as lock_file:
        assert lock_file == tmp_path / "sub" / "m.lock" and lock_file.is_file()
    assert lock_file.is_file()  # deleting it would break mutual exclusion
    assert L.lock_file_for("models/BTC") == L.lock_file_for("models/BTC/")


def _taken_by_another_thread(path) -> bool:
    """Whether a fresh thread gets ``model_lock(path, timeout=0)``; it releases it at once."""
    outcome = []

    def attempt():
        try:
            with L.model_lock(path, timeout=0):
                outcome.append(True)
        except TimeoutError:
            outcome.append(False)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(10)
    assert len(outcome) == 1, "the other thread neither got the lock nor timed out"
    return outcome[0]


def test_reentrant_within_a_thread(tmp_path, kind):
    model = tmp_path / "m"
    with L.model_lock(model):
        with L.model_lock(model, timeout=0), L.model_lock(str(model)):
            assert not _taken_by_another_thread(model)
        # Leaving the inner blocks keeps the outer one's hold.
        assert not _taken_by_another_thread(model)
        with L.model_lock(model, timeout=0):
            assert not _taken_by_another_thread(model)
    assert _taken_by_another_thread(model)  # released after the outermost block
    with L.model_lock(model, timeout=0):
        pass


def test_other_threads_wait_and_time_out(tmp_path, kind):
    held, release, events = threading.Event(), threading.Event(), []

    def holder():
        with L.model_lock(tmp_path / "m"):
            held.set()
            release.wait(10)
            events.append("released")

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    start = time.monotonic()
    with (
        pytest.raises(TimeoutError, match=r"model at .*/m' is locked.*0\.2 s"),
        L.model_lock(tmp_path / "m", timeout=0.2),
    ):
        pass
    assert 0.15 < time.monotonic() - start < 5
    threading.Timer(0.2, release.set).start()
    with L.model_lock(tmp_path / "m", timeout=10):
        events.append("acquired")
    thread.join()
    assert events == ["released", "acquired"]


@pytest.mark.parametrize("timeout", [-1, float("nan"), float("inf"), "1", True])
def test_bad_timeouts(tmp_path, timeout):
    with pytest.raises(ValueError, match="timeout"), L.model_lock(tmp_path / "m", timeout=timeout):
        pass


def test_bad_paths(tmp_path):
    with pytest.raises(TypeError, match="path"), L.model_lock(3):
        pass
    with pytest.raises(ValueError, match="name"), L.model_lock("."):
        pass


@needs_fcntl
def test_another_process_holding_the_lock_makes_us_wait(tmp_path):
    lock_file = L.lock_file_for(tmp_path / "m")
    # A process that only takes the same flock: the lock is the file, not this module.
    code = (
        "import fcntl, sys, time\n"
        "f = open(sys.argv[1], 'a')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(lock_file)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(TimeoutError), L.model_lock(tmp_path / "m", timeout=0.1):
            pass
    finally:
        proc.kill()  # the kernel drops a dead holder's lock
        proc.wait()
    with L.model_lock(tmp_path / "m", timeout=5):
        pass

"""One writer per model path: an OS file lock beside the model folder.

``model_lock(path)`` holds an exclusive ``fcntl.flock`` on ``<name>.lock`` next to the
model folder ``path``. ``save_model`` takes it around every save, so concurrent saves to
one path, from threads or processes, run one after the other; a caller (the model cache)
may hold it longer, e.g. around training a model, so other processes wait for that model
instead of training it again. Inside the lock, saves of the same thread do not wait for
themselves: the lock is re-entrant per thread.

The kernel drops the lock when its holder exits, however it exits (``SIGKILL``
included), so a crashed process never leaves a path locked, and holding the lock proves
that no other process is writing that model: leftovers of earlier saves can be removed.
The lock file itself stays in place: deleting it would let a later process lock a new
file while an earlier one still holds the old one.

Platforms without ``fcntl`` (Windows): the lock serialises the threads of one process
only; concurrent saves from several processes to one path are then not serialised (each
save is still atomic on its own, see ``model_files``). File systems that do not honour
``flock`` across machines (some network file systems) give the same, per-machine, guarantee.
"""

from __future__ import annotations

import contextlib
import math
import os
import pathlib
import threading
import time
from collections.abc import Iterator
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

PROCESS_LOCKS = fcntl is not None
"""Whether ``model_lock`` excludes other processes (True where ``fcntl`` exists), not only threads."""

LOCK_SUFFIX = ".lock"
"""The lock file of model folder ``<name>`` is ``<name>.lock`` in the same folder."""

_POLL_SECONDS = 0.02

# Per thread: (st_dev, st_ino) of each lock file this thread holds -> nesting count.
_held = threading.local()

# Without fcntl: one process-wide lock per lock file path.
_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def lock_file_for(path: str | os.PathLike) -> pathlib.Path:
    """The lock file of the model folder ``path``: ``<parent>/<name>.lock``."""
    path = pathlib.Path(path)
    return path.parent / f"{path.name}{LOCK_SUFFIX}"


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout < 0:
        raise ValueError(f"timeout must be None or a finite number of seconds >= 0, got {timeout!r}")
    return float(timeout)


def _timeout_error(path: pathlib.Path, lock_file: pathlib.Path, timeout: float) -> TimeoutError:
    return TimeoutError(
        f"model at {str(path)!r} is locked by another process or thread (lock file {str(lock_file)!r}); "
        f"gave up after {timeout:g} s"
    )


def _counts() -> dict:
    counts = getattr(_held, "counts", None)
    if counts is None:
        counts = _held.counts = {}
    return counts


@contextlib.contextmanager
def _flock(path: pathlib.Path, lock_file: pathlib.Path, timeout: float | None) -> Iterator[None]:
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino)
        counts = _counts()
        if key in counts:  # this thread holds it already (through another open file)
            counts[key] += 1
            try:
                yield
            finally:
                counts[key] -= 1
            return
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise _timeout_error(path, lock_file, timeout) from None
                    time.sleep(_POLL_SECONDS)
        counts[key] = 1
        try:
            yield
        finally:
            del counts[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _thread_lock(path: pathlib.Path, lock_file: pathlib.Path, timeout: float | None) -> Iterator[None]:
    lock_file.touch(exist_ok=True)  # the same files on every platform
    key = os.path.normcase(os.path.realpath(lock_file))
    counts = _counts()
    if key in counts:
        counts[key] += 1
        try:
            yield
        finally:
            counts[key] -= 1
        return
    with _local_locks_guard:
        lock = _local_locks.setdefault(key, threading.Lock())
    if timeout is None:
        lock.acquire()
    elif not lock.acquire(timeout=timeout):
        raise _timeout_error(path, lock_file, timeout)
    counts[key] = 1
    try:
        yield
    finally:
        del counts[key]
        lock.release()


@contextlib.contextmanager
def model_lock(path: str | os.PathLike, *, timeout: float | None = None) -> Iterator[pathlib.Path]:
    """Holds the exclusive lock of the model folder ``path`` for the ``with`` block.

    Re-entrant within a thread (``save_model`` inside the block does not wait for it);
    other threads and processes wait. The parent folder of ``path`` is created if needed.

    Args:
      path: the model folder (it need not exist).
      timeout: seconds to wait for the lock; ``None`` waits as long as it takes, 0 tries once.

    Yields:
      The lock file's path.

    Raises:
      TimeoutError: the lock is still held by someone else after ``timeout`` seconds.
      ValueError: a negative or non-finite ``timeout``.

    Example::

        with model_lock("models/BTCUSD", timeout=600):
            if not fresh("models/BTCUSD"):
                save_model("models/BTCUSD", *train())
    """
    path = as_path(path)
    timeout = _check_timeout(timeout)
    if path.name in ("", ".", ".."):
        raise ValueError(f"path {str(path)!r} cannot be a model folder: its name must not be empty, '.' or '..'")
    lock_file = lock_file_for(path)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with (_flock if PROCESS_LOCKS else _thread_lock)(path, lock_file, timeout):
        yield lock_file


def as_path(path: Any, name: str = "path") -> pathlib.Path:
    """``path`` as a ``pathlib.Path``; TypeError naming ``name`` unless it is a str or os.PathLike."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return pathlib.Path(path)

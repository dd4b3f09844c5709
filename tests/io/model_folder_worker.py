"""Forks processes that save and load model folders, for the multi-process tests (not a test module).

Importing JAX and Orbax takes seconds, so this process imports them once, starts no
threads and no JAX backend, and forks a fresh child per job. Commands arrive as JSON
lines on stdin; every process answers with JSON lines on stdout, written with one
``os.write`` each (shorter than PIPE_BUF, so lines of different processes never mix).

Commands:
    {"op": "saver", "fifo": F}            a child that saves one model per JSON line read from
                                          the FIFO F ({"path", "seed", "round"}) and answers
                                          {"pid", "round", "ok", "error"}
    {"op": "looper", "path": P, "seed": S, "kill_at": K}
                                          a child that saves seeds S, S+1, ... to P forever,
                                          answering {"pid", "started"} then {"pid", "saved": seed}
                                          after each save; with K it SIGKILLs itself at that
                                          point of its second save
    {"op": "loader", "paths": [...], "stderr": E}
                                          a child that loads every path with stderr sent to E
                                          and answers {"pid", "outcomes": [...]}
    {"op": "reap", "pid": N}              waits for child N: {"reaped": N, "signal": sig or null}
The answer to "saver", "looper" and "loader" is {"forked": pid}.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback

import orbax.checkpoint  # noqa: F401  (imported once here, so children start fast)
from persist_trees import lstm_params

from jaxlstm._src.io import model_files as F

HIDDEN = 8


def send(**message) -> None:
    line = json.dumps(message)[:3000] + "\n"
    os.write(1, line.encode())


def params_for(seed: int) -> dict:
    return lstm_params(seed=seed, hidden=HIDDEN)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install_kill(kill_at: str, armed: list) -> None:
    """Makes the child SIGKILL itself at ``kill_at`` once ``armed[0]`` is true."""

    def wrap(owner, name, before: bool):
        real = getattr(owner, name)

        def wrapper(*args, **kwargs):
            if armed[0] and before:
                _die()
            out = real(*args, **kwargs)
            if armed[0] and not before:
                _die()
            return out

        setattr(owner, name, wrapper)

    if kill_at == "mid_orbax":  # after Orbax wrote the params, before anything else
        wrap(F, "_save_params_orbax", before=False)
    elif kill_at == "after_metadata":
        wrap(F, "write_file_synced", before=False)
    elif kill_at == "before_swap":
        wrap(F, "_swap_in", before=True)
    elif kill_at == "after_swap":  # the old model is still under the temporary name
        wrap(F, "_swap_in", before=False)
    elif kill_at == "between_renames":  # two-rename swap: old model moved aside, new not in place
        F._exchange = lambda a, b: False
        real_rename = os.rename

        def rename(src, dst):
            real_rename(src, dst)
            if armed[0] and F.BAK_INFIX in os.fspath(dst):
                _die()

        F.os.rename = rename
    else:
        raise ValueError(f"unknown kill_at {kill_at!r}")


def saver(fifo: str) -> None:
    with open(fifo) as commands:
        for line in commands:
            job = json.loads(line)
            try:
                F.save_model(job["path"], params_for(job["seed"]), {"seed": job["seed"]})
                send(pid=os.getpid(), round=job["round"], ok=True, error=None)
            except Exception as err:
                send(pid=os.getpid(), round=job["round"], ok=False, error=f"{type(err).__name__}: {err}")


def looper(path: str, seed: int, kill_at: str | None) -> None:
    armed = [False]
    if kill_at:
        _install_kill(kill_at, armed)
    send(pid=os.getpid(), started=True)
    for k in range(10_000):
        armed[0] = bool(kill_at) and k == 1
        F.save_model(path, params_for(seed + k), {"seed": seed + k})
        send(pid=os.getpid(), saved=seed + k)
    time.sleep(3600)  # never exit on its own: the test kills it


def loader(paths: list[str], stderr: str) -> None:
    fd = os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 2)
    outcomes = []
    for path in paths:
        try:
            F.load_model(path)
            outcomes.append("loaded")
        except ValueError:
            outcomes.append("ValueError")
        except Exception as err:
            outcomes.append(f"{type(err).__name__}: {err}")
    time.sleep(1.0)  # stray tracebacks from background threads arrive late
    send(pid=os.getpid(), outcomes=outcomes)


def child(command: dict) -> None:
    try:
        if command["op"] == "saver":
            saver(command["fifo"])
        elif command["op"] == "looper":
            looper(command["path"], command["seed"], command.get("kill_at"))
        else:
            loader(command["paths"], command["stderr"])
    except BaseException:
        send(pid=os.getpid(), crashed=traceback.format_exc()[-2000:])
    finally:
        os._exit(0)


def main() -> None:
    send(ready=os.getpid())
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "reap":
            _, status = os.waitpid(command["pid"], 0)
            send(reaped=command["pid"], signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)
            continue
        pid = os.fork()
        if pid == 0:
            child(command)
        send(forked=pid)


if __name__ == "__main__":
    main()

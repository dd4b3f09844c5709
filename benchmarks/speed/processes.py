"""Section 9, processes: many series fitted across 1 and 2 processes with ``jaxlstm.distributed.fit_many``.

Synthetic random walks (``--series`` of ``--prices`` each) in one long parquet file (CSV
without pyarrow), every model with the default settings but a fixed number of epochs
(no early stopping), so 1 and 2 processes do the same work. Each process is started here
as the ``jaxlstm fit-many`` launcher starts it (the same ``fit_many`` call, joined through
``jax.distributed`` on localhost) and reaped with ``os.wait4``, which gives its own CPU
time and peak memory.

Reported per process count: wall time and series per second, the CPU seconds (user+sys)
of each process and series per CPU-second of the busiest one (what the wall time would be
with a free core per process: the figure to read on a shared machine), and each process's
peak resident memory next to the size of the data it read.

Alone: ``python -m benchmarks.speed.processes --series 10000`` (the issue's size; default); ``--mode global``
(or ``global-split``) fits ONE global model of the series instead, data-parallel over the processes.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from benchmarks.speed.common import REPO_ROOT, log
from benchmarks.speed.settings import Settings

WORKER = """
import json, sys, time
from jaxlstm import distributed
path, models, epochs, coordinator, size, rank, mode, chunk_size = sys.argv[1:9]
placement = {} if coordinator == "-" else {"coordinator": coordinator, "num_processes": int(size), "process_id": int(rank)}
settings = {"epochs": int(epochs), "early_stopping": False}
if mode == "local":
    report = distributed.fit_many(
        path, models, settings=settings, heartbeat_timeout=300, chunk_size=int(chunk_size), **placement
    )
    print(json.dumps({"rank": report.group.rank, "fitted": len(report.fitted), "seconds": report.seconds}))
else:
    # fit_many(global_name=) without its save: a global model of many long series holds more
    # band residuals in its metadata than a saved model may (see the README), so this times
    # the read, the fit across processes and the gathering of every series' state.
    import jaxlstm as jl
    from jaxlstm._src import distributed as parts
    from jaxlstm._src.forecasters import global_processes
    started = time.perf_counter()
    group = parts.initialize(heartbeat_timeout=300, **placement)
    ids, read = parts._series_source(path)
    mine = global_processes.block(ids, group.rank, group.size)
    found = read(mine)
    model = global_processes.fit_across(
        jl.LSTMForecaster(**settings), {s: found[s] for s in mine}, group, split_minibatches=mode == "global-split"
    )
    assert len(model.series_) == len(ids)
    seconds = time.perf_counter() - started
    print(json.dumps({"rank": group.rank, "fitted": len(mine), "seconds": seconds}))
"""

#: What each process fits: one model per series, or ONE global model of them all (its
#: minibatches whole on every process, or split over the processes: data-parallel gradients).
MODES = ("local", "global", "global-split")


def write_long_file(folder: pathlib.Path, series: int, prices: int, seed: int = 0) -> pathlib.Path:
    """``series`` random walks of ``prices`` hourly prices in one long file (parquet, else CSV)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.01, (series, prices))
    closes = 100.0 * np.exp(np.cumsum(steps, axis=1))
    stamps = pd.date_range("2024-01-01", periods=prices, freq="h")
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat([f"S{i:05d}" for i in range(series)], prices),
            "ds": np.tile(stamps.to_numpy(), series),
            "y": closes.reshape(-1),
        }
    )
    try:
        import pyarrow  # noqa: F401

        path = folder / "long.parquet"
        frame.to_parquet(path, row_group_size=100_000)
    except ImportError:
        path = folder / "long.csv"
        frame.to_csv(path, index=False)
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAXLSTM_COMPILATION_CACHE="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def run_processes(
    path: pathlib.Path,
    models: pathlib.Path,
    epochs: int,
    size: int,
    mode: str = "local",
    bind: bool = True,
    chunk_size: int | None = None,
) -> dict[str, Any]:
    """Fits every series of ``path`` with ``size`` processes; wall time, and CPU time and peak memory per process.

    ``bind``: each process on its own cores (``processes.core_shares``), as ``jaxlstm fit-many
    --processes`` starts them unless told ``--no-bind``. ``chunk_size``: series per saved
    chunk of ``fit_many`` (None: its default), which bounds a process's working set.
    """
    from jaxlstm._src import distributed

    chunk_size = distributed.CHUNK_SIZE if chunk_size is None else chunk_size
    from jaxlstm._src import processes

    shares = processes.core_shares(size) if bind else None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        coordinator = "-" if size == 1 else f"127.0.0.1:{s.getsockname()[1]}"
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(path),
                str(models),
                str(epochs),
                coordinator,
                str(size),
                str(rank),
                mode,
                str(chunk_size),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_env(),
        )
        for rank in range(size)
    ]
    for rank, proc in enumerate(procs):
        if shares is not None:
            os.sched_setaffinity(proc.pid, shares[rank])
    rows = []
    for rank, proc in enumerate(procs):
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"process {rank} of {size} failed with code {proc.returncode}")
        report = json.loads(out.strip().splitlines()[-1])
        rows.append(
            {
                "rank": rank,
                "fitted": report["fitted"],
                "fit_many_seconds": report["seconds"],
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "peak_rss_bytes": usage.ru_maxrss * 1024,
            }
        )
    wall = time.perf_counter() - start
    fitted = sum(r["fitted"] for r in rows)
    busiest = max(r["cpu_s"] for r in rows)
    return {
        "processes": size,
        "mode": mode,
        "chunk_size": chunk_size,
        "cores": None if shares is None else [sorted(share) for share in shares],
        "series": fitted,
        "wall_s": wall,
        "series_per_s": fitted / wall,
        "cpu_s_total": sum(r["cpu_s"] for r in rows),
        "series_per_cpu_s_of_busiest": fitted / busiest,
        "per_process": rows,
    }


def bench_processes(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """Section runner: ``s.processes_series`` series fitted with each of ``s.processes_counts`` processes."""
    del state
    return measure(s.processes_series, s.processes_prices, s.processes_epochs, s.processes_counts)


def measure(
    series: int,
    prices: int,
    epochs: int,
    counts: tuple[int, ...],
    mode: str = "local",
    bind: bool = True,
    chunk_size: int | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jaxlstm-processes-") as tmp:
        folder = pathlib.Path(tmp)
        path = write_long_file(folder, series, prices)
        rows = []
        for size in counts:
            log(f"processes: {series} series x {prices} prices, {epochs} epochs, {size} process(es), {mode}")
            rows.append(run_processes(path, folder / f"models-{size}", epochs, size, mode, bind, chunk_size))
        base = rows[0]
        for row in rows:
            row["speedup_wall"] = row["series_per_s"] / base["series_per_s"]
            row["speedup_cpu"] = row["series_per_cpu_s_of_busiest"] / base["series_per_cpu_s_of_busiest"]
        return {
            "mode": mode,
            "series": series,
            "prices": prices,
            "epochs": epochs,
            "file": path.suffix.lstrip("."),
            "file_bytes": path.stat().st_size,
            "data_bytes_float64": series * prices * 8,
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "rows": rows,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed.processes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--prices", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts, the first the reference")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="local",
        help="local: one model per series; global: ONE global model, each process holding a block of the series "
        "and every process computing each whole minibatch; global-split: its minibatches split over the processes",
    )
    parser.add_argument(
        "--no-bind",
        dest="bind",
        action="store_false",
        help="let every process run on every core (default: each on its own cores, as jaxlstm fit-many --processes)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="series per saved chunk of fit_many (default: its own, distributed.CHUNK_SIZE): bounds a process's "
        "working set (local mode)",
    )
    args = parser.parse_args(argv)
    counts = tuple(int(x) for x in args.processes.split(","))
    result = measure(args.series, args.prices, args.epochs, counts, args.mode, args.bind, args.chunk_size)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

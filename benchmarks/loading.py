"""Speed and memory of loading a large candle CSV file.

    python -m benchmarks.loading [--rows N] [--repeat N] [--out DIR] [--file CSV]

Writes a CSV of ``--rows`` one-minute candles (default 10 million, about 620 MB; columns
``date,open,high,low,close,volume`` with ``2019-10-17 09:00:00`` timestamps) into a
temporary folder, then loads it in a fresh subprocess with ``jaxlstm.data.load_ohlcv``
and, for reference, with ``pandas.read_csv(path, parse_dates=["date"])``. Each subprocess reports its wall time
and its peak resident memory (``resource.getrusage``; ``VmHWM`` too on Linux), also after
imports alone, so the memory the loading itself costs can be told from the interpreter,
numpy, pandas and JAX. ``--repeat N`` runs each loader N times, taking turns, and reports
the run of least CPU time (user + system), the figure a shared machine moves least.

Writes ``loading.json`` (every number) and ``loading.md`` (rendered from it) into
``--out`` (default ``benchmarks/results``). Targets: under 10 s and under 3x the file's
size in peak memory for 10 million rows.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks import _timing

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results"
DEFAULT_ROWS = 10_000_000
TARGETS = {"seconds_10m_rows": 10.0, "peak_rss_over_file": 3.0, "time_over_read_csv": 1.2, "peak_over_read_csv": 1.5}
_WRITE_CHUNK = 1_000_000

# Runs in a fresh interpreter, so that its peak memory is the loader's alone.
_MEASURE = r"""
import json, resource, sys, time
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
def high_water_mark():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
path, how = sys.argv[1], sys.argv[2]
if how == "jaxlstm":
    from jaxlstm.data import load_ohlcv
    import pandas
else:
    import pandas
after_imports = peak()
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu_after_imports = usage.ru_utime + usage.ru_stime
start = time.perf_counter()
if how == "jaxlstm":
    data = load_ohlcv(path)
    rows, first, last = len(data), str(data.timestamps[0]), str(data.timestamps[-1])
else:
    frame = pandas.read_csv(path, parse_dates=["date"])
    rows, first, last = len(frame), str(frame.iloc[0, 0]), str(frame.iloc[-1, 0])
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu_seconds = usage.ru_utime + usage.ru_stime - cpu_after_imports
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_bytes": peak(), "rss_after_imports_bytes": after_imports,
                  "vm_hwm_bytes": high_water_mark(), "rows": rows, "first": first, "last": last}))
"""
_WRITE = r"""
import pathlib, sys
from benchmarks.loading import write_candles
write_candles(pathlib.Path(sys.argv[1]), int(sys.argv[2]))
"""


def write_candles(path: pathlib.Path, rows: int, seed: int = 0) -> None:
    """Writes ``rows`` one-minute candles from 2015-01-01 as a plain CSV file, in chunks.

    Minutes, not hours: 10 million hourly candles would end in the year 3155, past the
    datetime64[ns] range that ``load_ohlcv`` (rightly) refuses to go beyond.

    Args:
        path: the file to write.
        rows: number of candles.
        seed: seed of the random walk of prices.
    """
    rng = np.random.default_rng(seed)
    price = 1_000_000  # cents
    day0 = np.datetime64("2015-01-01", "D")
    with open(path, "w", newline="") as handle:
        handle.write("date,open,high,low,close,volume\n")
        for first in range(0, rows, _WRITE_CHUNK):
            n = min(_WRITE_CHUNK, rows - first)
            close = np.maximum(np.round(price * np.exp(np.cumsum(rng.normal(0.0, 0.002, size=n)))), 100).astype(int)
            open_ = np.concatenate([[price], close[:-1]])
            spread = np.round(np.abs(rng.normal(0.0, 0.001, size=n)) * close).astype(int)
            high = np.maximum(open_, close) + spread + 1
            low = np.maximum(np.minimum(open_, close) - spread - 1, 1)
            volume = np.round(rng.gamma(2.0, 5000.0, size=n)).astype(int)
            minutes = np.arange(first, first + n)
            days = np.datetime_as_string(day0 + np.arange(first // 1440, (first + n) // 1440 + 1)).tolist()
            handle.writelines(
                f"{days[m // 1440 - first // 1440]} {m % 1440 // 60:02d}:{m % 60:02d}:00,"
                f"{o / 100:.2f},{hi / 100:.2f},{lo / 100:.2f},{c / 100:.2f},{v / 100:.2f}\n"
                for m, o, hi, lo, c, v in zip(
                    minutes.tolist(), open_.tolist(), high.tolist(), low.tolist(), close.tolist(), volume.tolist()
                )
            )
            price = int(close[-1])


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    # Linux carries a process's peak RSS across exec, so the parent stays small (no pandas,
    # no JAX imported before the measurements) and every heavy step runs in a child.
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAXLSTM_COMPILATION_CACHE="0")
    return subprocess.run(
        [sys.executable, "-c", code, *args], check=False, capture_output=True, text=True, env=env, cwd=REPO_ROOT
    )


def measure(path: pathlib.Path, how: str, repeat: int = 1) -> dict[str, Any]:
    """Loads ``path`` in ``repeat`` fresh subprocesses and reports the best one's time and memory.

    The best is the run of least CPU time (user + system), the figure least moved by other
    work on a shared machine; every run's wall and CPU seconds are kept.

    Args:
        path: the CSV file.
        how: ``"jaxlstm"`` (``load_ohlcv``) or ``"pandas"`` (``pandas.read_csv(path, parse_dates=["date"])``).
        repeat: how many runs.
    """
    runs = []
    for _ in range(repeat):
        out = _run(_MEASURE, str(path), how)
        if out.returncode != 0:
            raise RuntimeError(f"loading with {how} failed:\n{out.stderr[-2000:]}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    result = min(runs, key=lambda run: run["cpu_seconds"])
    result["runs_seconds"] = [run["seconds"] for run in runs]
    result["runs_cpu_seconds"] = [run["cpu_seconds"] for run in runs]
    size = path.stat().st_size
    result["peak_rss_over_file"] = result["peak_rss_bytes"] / size
    result["loading_rss_over_file"] = (result["peak_rss_bytes"] - result["rss_after_imports_bytes"]) / size
    return result


def render(results: dict[str, Any]) -> str:
    """The markdown report of one run, from its JSON."""
    mib = 2**20
    lines = [
        "# Loading a large candle CSV file",
        "",
        f"`{results['command']}`: {results['rows']:,} one-minute candles, "
        f"{results['file_bytes'] / mib:,.0f} MiB (`date,open,high,low,close,volume`, "
        "`2019-10-17 09:00:00` timestamps), each load in a fresh process. Peak memory is the "
        "process's peak resident set (imports included); *loading* subtracts the peak after imports.",
        "",
        "| loader | seconds | CPU seconds | peak RSS (MiB) | peak / file | loading / file | after imports (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    labels = (
        ("jaxlstm", "`load_ohlcv`"),
        ("pandas", "`pandas.read_csv` (reference)"),
    )
    for name, label in labels:
        r = results["loaders"].get(name)
        if r is None:
            continue
        lines.append(
            f"| {label} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['peak_rss_bytes'] / mib:,.0f} | {r['peak_rss_over_file']:.2f}x | "
            f"{r['loading_rss_over_file']:.2f}x | {r['rss_after_imports_bytes'] / mib:,.0f} |"
        )
    reference = results["loaders"].get("pandas")
    if reference is not None:
        lines += ["", 'Against `pandas.read_csv(path, parse_dates=["date"])`:', ""]

        def ratio(ours: float, theirs: float) -> str:
            return f"{ours / theirs:.2f}x" if theirs > 0 else "n/a"

        for name, label in labels[:1]:
            r = results["loaders"].get(name)
            if r is None:
                continue
            loading = r["peak_rss_bytes"] - r["rss_after_imports_bytes"]
            loading_ref = reference["peak_rss_bytes"] - reference["rss_after_imports_bytes"]
            lines.append(
                f"- {label}: {ratio(r['cpu_seconds'], reference['cpu_seconds'])} its CPU time, "
                f"{ratio(r['seconds'], reference['seconds'])} its wall time, "
                f"{ratio(r['peak_rss_bytes'], reference['peak_rss_bytes'])} its peak memory "
                f"({ratio(loading, loading_ref)} counting the loading alone)."
            )
    lines += [
        "",
        f"Targets for 10 million rows: under {TARGETS['seconds_10m_rows']:.0f} s and under "
        f"{TARGETS['peak_rss_over_file']:.0f}x the file's size in peak memory; within "
        f"{TARGETS['time_over_read_csv']}x the time and {TARGETS['peak_over_read_csv']}x the peak memory of "
        "`pandas.read_csv(path, parse_dates=[...])`.",
        "",
        f"Machine: {results['machine'].get('cpu_model')}, {results['machine'].get('logical_cores')} logical cores, "
        f"load average {results['machine'].get('load_average_at_start')} at the start; pyarrow "
        + (
            "installed (`load_ohlcv` reads with pandas' C parser all the same); "
            if results["pyarrow"]
            else "not installed; "
        )
        + (
            "the file was written by an earlier run (`--file`, same generator and seed)."
            if results.get("file_reused")
            else f"writing the file took {results['write_seconds']:.1f} s."
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="candles in the generated file")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="folder for loading.json/.md")
    parser.add_argument("--no-reference", action="store_true", help="skip the pandas.read_csv reference")
    parser.add_argument("--repeat", type=int, default=1, help="runs per loader; the least CPU time is reported")
    parser.add_argument("--file", type=pathlib.Path, help="read this file (written by an earlier run) instead")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be >= 1")
    load_at_start = _timing.load_average()
    has_pyarrow = importlib.util.find_spec("pyarrow") is not None
    with tempfile.TemporaryDirectory(prefix="jaxlstm-loading-") as folder:
        path = args.file or pathlib.Path(folder) / "candles.csv"
        start = time.perf_counter()
        if args.file is None:
            written = _run(_WRITE, str(path), str(args.rows))
            if written.returncode != 0:
                raise RuntimeError(f"writing the file failed:\n{written.stderr[-2000:]}")
        write_seconds = time.perf_counter() - start
        # The loaders take turns, so that a change in the machine's load falls on both alike.
        hows = ["jaxlstm"] + ([] if args.no_reference else ["pandas"])
        runs: dict[str, list[dict[str, Any]]] = {how: [] for how in hows}
        for _ in range(args.repeat):
            for how in hows:
                runs[how].append(measure(path, how))
        loaders = {}
        for how, measured in runs.items():
            loaders[how] = min(measured, key=lambda run: run["cpu_seconds"])
            loaders[how]["runs_seconds"] = [run["seconds"] for run in measured]
            loaders[how]["runs_cpu_seconds"] = [run["cpu_seconds"] for run in measured]
        size = path.stat().st_size
    machine = _timing.machine_info()
    machine["load_average_at_start"] = load_at_start
    for name, result in loaders.items():
        if result["rows"] != args.rows:
            raise RuntimeError(f"{name} read {result['rows']} rows of {args.rows}")
    results = {
        "command": "python -m benchmarks.loading"
        + ("" if args.rows == DEFAULT_ROWS else f" --rows {args.rows}")
        + ("" if args.repeat == 1 else f" --repeat {args.repeat}")
        + ("" if args.file is None else " --file CSV"),
        "pyarrow": has_pyarrow,
        "rows": args.rows,
        "file_bytes": size,
        "write_seconds": write_seconds,
        "file_reused": args.file is not None,
        "loaders": loaders,
        "targets": TARGETS,
        "machine": machine,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "loading.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / "loading.md").write_text(render(results))
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

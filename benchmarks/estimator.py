"""What a user waits for: the default estimator's fit + forecast, and the command from cold.

    python -m benchmarks.estimator [--repeats 5] [--out benchmarks/results]

Measures, on the machine it runs on:

* ``warm``: ``LSTMForecaster(**settings).fit(500 hourly prices).forecast("1d")`` after one
  untimed call of the same shapes, for ``calibration="both"`` (the default) and
  ``"auto"``; the median of ``--repeats`` runs, each on a different slice of the demo
  candles so no result is reused; wall time and the process's CPU time (on a shared
  machine the wall time also counts the others' work);
* ``cold_cli``: a new process running ``jaxlstm forecast --horizon 1d`` on the demo data
  from an empty models folder (trains, saves, prints), and a new process that only imports
  JAX, so the command's own time is the difference.

Writes ``estimator.json`` and ``estimator.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

from benchmarks import _timing

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
CALIBRATIONS = ("both", "auto")


def warm_fit_forecast(repeats: int) -> dict[str, Any]:
    """Median seconds of a warm default fit on 500 hourly prices + a 24-step forecast."""
    import jaxlstm as jl

    candles = jl.data.load_demo().to_pandas()["close"]
    out: dict[str, Any] = {}
    for calibration in CALIBRATIONS:

        def run(end: int, calibration: str = calibration) -> Any:
            model = jl.LSTMForecaster(calibration=calibration)
            return model.fit(candles.iloc[end - 500 : end]).forecast("1d")

        run(len(candles))  # compiles
        seconds, cpu = [], []
        for i in range(repeats):
            start, start_cpu = _timing.now(), time.process_time()
            run(len(candles) - 7 * (i + 1))
            seconds.append(_timing.now() - start)
            cpu.append(time.process_time() - start_cpu)
        out[calibration] = _timing.summarize(seconds)
        # CPU time of the process (every thread): what the run costs whatever else the
        # machine is doing, where wall time on a shared machine also counts the others' work.
        out[calibration]["cpu"] = _timing.summarize(cpu)
    return out


def _process_seconds(args: list[str], cwd: str) -> float:
    start = _timing.now()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, timeout=600)
    seconds = _timing.now() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed: {done.stderr[-2000:]}")
    return seconds


def cold_cli(repeats: int) -> dict[str, Any]:
    """Seconds of a new ``jaxlstm forecast --horizon 1d`` process, and of importing JAX alone."""
    command, imports = [], []
    env_cli = [sys.executable, "-m", "jaxlstm.cli"]
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            imports.append(_process_seconds([sys.executable, "-c", "import jax, jax.numpy"], folder))
            command.append(
                _process_seconds(
                    [*env_cli, "forecast", "--horizon", "1d", "--models", str(pathlib.Path(folder) / "m")], folder
                )
            )
    result = {"command": _timing.summarize(command), "import_jax": _timing.summarize(imports)}
    result["command_minus_import_s"] = result["command"]["median_s"] - result["import_jax"]["median_s"]
    return result


def markdown(results: dict[str, Any]) -> str:
    warm, cold = results["warm"], results["cold_cli"]
    lines = [
        "# The default estimator, warm and from cold",
        "",
        f"`python -m benchmarks.estimator --repeats {results['repeats']}"
        + (" --warm-only" if results["cold_cli"] is None else "")
        + f"`; medians of {results['repeats']} runs.",
        f"Machine: {results['machine'].get('cpu_model', '?')}, load average at start {results['machine'].get('load_average_at_start')}.",
        "",
        "| what | median | min | max |",
        "|---|---|---|---|",
    ]
    for calibration in CALIBRATIONS:
        row = warm[calibration]
        lines.append(
            f"| warm fit(500 hourly) + forecast('1d'), calibration={calibration!r} | {row['median_s']:.3f} s "
            f"| {row['min_s']:.3f} s | {row['max_s']:.3f} s |"
        )
    for calibration in CALIBRATIONS:
        row = warm[calibration].get("cpu")
        if row is not None:
            lines.append(
                f"| the same, CPU time of the process (all threads), calibration={calibration!r} "
                f"| {row['median_s']:.3f} s | {row['min_s']:.3f} s | {row['max_s']:.3f} s |"
            )
    if cold is None:
        return "\n".join([*lines, "", "New-process rows not run (`--warm-only`).", ""])
    for key, label in (
        ("command", "new process: `jaxlstm forecast --horizon 1d`, empty models folder"),
        ("import_jax", "new process: `import jax` alone"),
    ):
        row = cold[key]
        lines.append(f"| {label} | {row['median_s']:.2f} s | {row['min_s']:.2f} s | {row['max_s']:.2f} s |")
    lines += [
        "",
        f"The command's own time (median minus the import of JAX): {cold['command_minus_import_s']:.2f} s.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    parser.add_argument(
        "--warm-only", action="store_true", help="skip the new-process rows (for back-to-back CPU-time comparisons)"
    )
    args = parser.parse_args(argv)
    os.environ.pop("JAXLSTM_COMPILATION_CACHE", None)
    results = {
        "repeats": args.repeats,
        "machine": _timing.machine_info(),
        "warm": warm_fit_forecast(args.repeats),
        "cold_cli": None if args.warm_only else cold_cli(args.repeats),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "estimator.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "estimator.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

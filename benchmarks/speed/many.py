"""What the estimators that train many models cost: ``fit_many``, ``tune`` and a walk-forward ``backtest``.

    python -m benchmarks.speed.many [--series 200] [--label NAME] [--out FILE.json]
    python -m benchmarks.speed.many --render BEFORE.json AFTER.json > many.md

With the default settings (early stopping, so rows stop at different epochs), on the machine
it runs on, each after one untimed call of the same kind that compiles its programs:

* ``fit_many``: ``LSTMForecaster.fit_many`` of ``--series`` seeded hourly random walks of
  500 prices (dated, so the bands calibrate 168 steps);
* ``tune``: ``jaxlstm.tune`` of 8 trials (hidden size x learning rate x window) on the last
  600 demo closes, successive halving as its defaults run it;
* ``backtest``: the default ``LSTMForecaster()`` at 49 origins (train size 500, 24 steps,
  stride 12) of the demo closes, its origins fitted together (``vectorize=True``) and one
  after another (``vectorize=False``).

Wall time and the process's CPU time of each. It uses only the public API, so the same file
measures an older checkout (run it from that checkout's root with this file copied in).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def _timed(fn: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}, out


def _walks(count: int, first_seed: int) -> dict[str, Any]:
    import pandas as pd

    out = {}
    for i in range(count):
        rng = np.random.default_rng(first_seed + i)
        prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 500)))
        out[f"s{i:04d}"] = pd.Series(prices, index=pd.date_range("2024-01-01", periods=500, freq="h"))
    return out


def measure(series: int) -> dict[str, Any]:
    """Every measurement of the module docstring; each timed after an untimed call that compiles."""
    import jaxlstm as jl

    warnings.simplefilter("ignore")  # dropped members, detected seasons: not what is measured
    out: dict[str, Any] = {}
    jl.LSTMForecaster.fit_many(_walks(12, 10_000))
    took, models = _timed(lambda: jl.LSTMForecaster.fit_many(_walks(series, 0)))
    epochs = [m.metrics_["epochs_run"] for m in models.values()]
    out["fit_many"] = {**took, "series": series, "epochs_mean": float(np.mean(epochs)), "epochs_max": max(epochs)}
    print(f"fit_many: {out['fit_many']}", file=sys.stderr, flush=True)

    closes = np.asarray(jl.data.load_demo().close, np.float64)
    space = {"hidden_size": [16, 32], "learning_rate": [3e-3, 1e-2], "sequence_length": [20, 40]}
    jl.tune(closes[-700:], space)
    out["tune"], _ = _timed(lambda: jl.tune(closes[-600:], space))
    out["tune"]["trials"] = 8
    print(f"tune: {out['tune']}", file=sys.stderr, flush=True)

    series_bt = closes[-(500 + 49 * 12 + 12) :]
    for together in (True, False):
        options = dict(train_size=500, steps=24, stride=12, vectorize=together)
        jl.evaluation.backtest(closes[-(500 + 3 * 12 + 12) :], {"lstm": jl.LSTMForecaster}, **options)
        took, result = _timed(lambda o=options: jl.evaluation.backtest(series_bt, {"lstm": jl.LSTMForecaster}, **o))
        name = "backtest_together" if together else "backtest_in_turn"
        out[name] = {**took, "origins": len(result.origins), "mae": float(result["lstm"].metrics["mae"])}
        print(f"{name}: {out[name]}", file=sys.stderr, flush=True)
    return out


ROWS = (
    ("fit_many", "`fit_many` of {series} hourly random walks"),
    ("tune", "`tune` of 8 trials"),
    ("backtest_together", "backtest, {origins} origins fitted together (`vectorize=True`)"),
    ("backtest_in_turn", "backtest, {origins} origins one after another (`vectorize=False`)"),
)


def render(*runs: dict[str, Any]) -> str:
    """A markdown table of runs (e.g. before and after a change), from their JSON alone."""
    lines = [
        "# Estimators that train many models",
        "",
        "`python -m benchmarks.speed.many`: default settings (early stopping), each timed after an untimed",
        "call that compiles; wall and CPU seconds of the process (see the module docstring).",
        "",
        "| measurement | run | wall s | CPU s | detail |",
        "|---|---|---:|---:|---|",
    ]
    for key, title in ROWS:
        for run in runs:
            row = run[key]
            detail = ", ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items() if k[-2:] != "_s"
            )
            name = title.format(series=row.get("series", ""), origins=row.get("origins", ""))
            lines.append(f"| {name} | {run['label']} | {row['wall_s']:.1f} | {row['cpu_s']:.1f} | {detail} |")
    machine = runs[-1].get("load_average")
    lines += ["", f"Load average at the start of the last run: {machine}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed.many", description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=200, help="random walks for fit_many")
    parser.add_argument("--label", default="", help="what was measured (e.g. the commit)")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="write the results as JSON here")
    parser.add_argument("--render", nargs="+", type=pathlib.Path, metavar="JSON", help="print a table of these runs")
    args = parser.parse_args(argv)
    if args.render:
        print(render(*(json.loads(path.read_text()) for path in args.render)), end="")
        return 0
    if args.series < 1:
        parser.error(f"--series must be at least 1, got {args.series}")
    import os

    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    result = {"label": args.label, "load_average": load, **measure(args.series)}
    text = json.dumps(result, indent=1)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

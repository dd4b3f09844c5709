"""New series lengths: compilations and CPU time of default fits on 20 lengths, and a 50-origin backtest.

    python -m benchmarks.speed.lengths [--quick] [--label NAME] [--out FILE.json]
    python -m benchmarks.speed.lengths --render BEFORE.json AFTER.json > lengths.md

Fits ``LSTMForecaster()`` (the defaults) on the last ``L`` demo closes for 20 lengths ``L``
between 100 and 1,000, then forecasts 24 steps from each fit (the first forecast of a
default model also fits its calibration copy); then runs a walk-forward backtest of the
default model over 50 origins. Every compilation is counted through ``jax.monitoring``
(XLA's backend-compile event, with the name of the compiled function), and each phase's
CPU time (user + sys of this process, ``time.process_time``) is recorded next to its wall
time: CPU time is what to compare on a shared machine.

It uses only the public API, so the same file measures an older checkout (run it from that
checkout's root with this file copied in) as well as this one.
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import sys
import time
from typing import Any

import numpy as np

#: The 20 series lengths of the measurement (prices), 100 to 1,000.
LENGTHS = tuple(int(x) for x in np.linspace(100, 1000, 20).round())
#: Functions whose compilations are training runs (the trainer, alone or over a models axis).
TRAINER_NAMES = ("fit_arrays", "fit_one_model")


class CompileCounter:
    """Counts XLA compilations by function name while it is installed (``jax.monitoring``)."""

    def __init__(self) -> None:
        self.names: collections.Counter[str] = collections.Counter()

    def __call__(self, event: str, duration: float, **kwargs: Any) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            self.names[str(kwargs.get("fun_name", "?"))] += 1

    def snapshot(self) -> collections.Counter[str]:
        return collections.Counter(self.names)


def _trainer(counts: collections.Counter[str]) -> int:
    return sum(n for name, n in counts.items() if any(t in name for t in TRAINER_NAMES))


def _phase(counter: CompileCounter, fn: Any) -> dict[str, Any]:
    before = counter.snapshot()
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    new = counter.snapshot() - before
    return {"cpu_s": cpu, "wall_s": wall, "compiles": sum(new.values()), "trainer_compiles": _trainer(new)}


def measure(lengths: tuple[int, ...], origins: int, epochs: int | None) -> dict[str, Any]:
    """Runs both measurements (the backtest alone when ``lengths`` is empty); returns per-length rows and totals."""
    import jax

    import jaxlstm as jl

    counter = CompileCounter()
    jax.monitoring.register_event_duration_secs_listener(counter)
    closes = np.asarray(jl.data.load_demo().close, np.float64)
    settings = {} if epochs is None else {"epochs": epochs}
    rows = []
    for length in lengths:
        model = jl.LSTMForecaster(**settings)
        fit = _phase(counter, lambda m=model, n=length: m.fit(closes[-n:]))
        forecast = _phase(counter, lambda m=model: m.forecast(steps=24))
        rows.append({"length": length, "fit": fit, "forecast": forecast})
        print(f"length {length}: fit {fit}, forecast {forecast}", file=sys.stderr, flush=True)
    total = {
        phase: {k: float(sum(r[phase][k] for r in rows)) for k in ("cpu_s", "wall_s", "compiles", "trainer_compiles")}
        for phase in ("fit", "forecast")
    }
    steps, train_size = 24, 500
    series = closes[-(train_size + origins * steps) :]
    factories = {"lstm": lambda: jl.LSTMForecaster(**settings)}
    bt = _phase(
        counter,
        lambda: jl.evaluation.backtest(series, factories, train_size=train_size, steps=steps, vectorize=False),
    )
    print(f"backtest of {origins} origins: {bt}", file=sys.stderr, flush=True)
    return {
        "lengths": list(lengths),
        "rows": rows,
        "total": total,
        "backtest": {"origins": origins, "train_size": train_size, "steps": steps, **bt},
        "compiled_functions": dict(counter.names.most_common()),
    }


def render(before: dict[str, Any], after: dict[str, Any], *fresh: dict[str, Any]) -> str:
    """A markdown table of two runs (e.g. before and after a change), from their JSON alone.

    ``fresh``: optionally two ``--backtest-only`` runs (before, after), each in a new process.
    """
    lines = [
        "# New series lengths: compilations and CPU time",
        "",
        "`python -m benchmarks.speed.lengths`: `LSTMForecaster()` (defaults) fitted on the last L demo closes",
        f"for {len(after['lengths'])} lengths L from {min(after['lengths'])} to {max(after['lengths'])}, then "
        "`forecast(steps=24)` of each (the first forecast",
        "of a default model also fits its calibration copy); then a walk-forward `backtest` of the default",
        f"over {after['backtest']['origins']} origins (train size {after['backtest']['train_size']}, "
        f"{after['backtest']['steps']} steps). CPU time is user + sys of the process",
        "(the machine was shared, so wall times are inflated and only indicative). Compilations count",
        "XLA backend compiles; trainer compiles those of `fit_arrays` (alone or over a models axis).",
        "",
        "| measurement | run | CPU s | wall s | compilations | trainer compilations |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, pick in (
        ("fit, all lengths", lambda r: r["total"]["fit"]),
        ("first forecast, all lengths", lambda r: r["total"]["forecast"]),
        ("backtest, after the fits", lambda r: r["backtest"]),
        ("backtest, in a new process", lambda r: r["backtest"]),
    ):
        runs = fresh if name.endswith("new process") else (before, after)
        for run in runs:
            row = pick(run)
            lines.append(
                f"| {name} | {run['label']} | {row['cpu_s']:.1f} | {row['wall_s']:.1f} | {int(row['compiles'])} | "
                f"{int(row['trainer_compiles'])} |"
            )
    lines += [
        "",
        "Per length, fit CPU seconds (trainer compilations):",
        "",
        "| L | " + " | ".join(r["label"] for r in (before, after)) + " |",
        "|---:|---:|---:|",
    ]
    for b, a in zip(before["rows"], after["rows"], strict=True):
        cells = [f"{r['fit']['cpu_s']:.2f} ({r['fit']['trainer_compiles']})" for r in (b, a)]
        lines.append(f"| {a['length']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed.lengths", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 lengths, 3 origins, 2 epochs (a smoke run)")
    parser.add_argument("--backtest-only", action="store_true", help="only the backtest (in a fresh process)")
    parser.add_argument("--label", default="", help="what was measured (e.g. the commit)")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="write the results as JSON here")
    parser.add_argument(
        "--render",
        nargs="+",
        type=pathlib.Path,
        metavar="JSON",
        help="print a table of BEFORE.json AFTER.json [BACKTEST_BEFORE.json BACKTEST_AFTER.json]",
    )
    args = parser.parse_args(argv)
    if args.render:
        if len(args.render) not in (2, 4):
            parser.error(f"--render takes 2 or 4 JSON files, got {len(args.render)}")
        print(render(*(json.loads(path.read_text()) for path in args.render)), end="")
        return 0
    lengths = () if args.backtest_only else LENGTHS[::5] if args.quick else LENGTHS
    result = measure(lengths, 3 if args.quick else 50, 2 if args.quick else None)
    result = {"label": args.label, "quick": args.quick, **result}
    text = json.dumps(result, indent=1)
    if args.out is not None:
        args.out.write_text(text + "\n")
    summary = {k: result[k] for k in ("label", "total", "backtest")}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

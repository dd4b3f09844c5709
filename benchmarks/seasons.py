"""How often season detection finds a season where there is none, and finds one that is there.

    python -m benchmarks.seasons [--seeds N] [--out DIR]

``detect_season`` (``jaxlstm/_src/prep/seasons.py``) as ``LSTMForecaster(season_length="auto")``
runs it on undated values (every lag from 2 to n / 2), with the robust bound in the
differences (the default) and with Bartlett's bound alone (``robust=False``, the M4 test as
published), on:

* random walks whose returns are uncorrelated but whose volatility clusters (GARCH(1,1)
  with Student-t(4) shocks, as price returns): any season found is a false alarm;
* windows of the bundled hourly BTC/USD closes (log), one every 50 candles, given without
  dates: no season is known there (the dated test, which tries only 24 and 168, finds none);
* the same walks plus a 24-step sine of a given amplitude: the power to find 24 (a
  multiple such as 48 counts as found, not as 24).

Writes ``seasons.json`` and ``seasons.md`` into ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from jaxlstm._src.prep import seasons
from jaxlstm.data import load_demo

LENGTHS = (220, 500, 1000)
AMPLITUDES = (0.03, 0.05)


def garch_walk(n: int, seed: int) -> np.ndarray:
    """``[n]`` log prices: a random walk of GARCH(1,1) returns (omega 2e-6, alpha 0.2, beta 0.78, t(4) shocks)."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(4, n) / np.sqrt(2)  # unit variance
    returns, variance, last = np.zeros(n), 1e-4, 0.0
    for t in range(n):  # a recursion in time: the generator, not a hot path
        variance = 2e-6 + 0.2 * last**2 + 0.78 * variance
        last = returns[t] = np.sqrt(variance) * shocks[t]
    return np.cumsum(returns)


def _rates(samples: Sequence[np.ndarray], want: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, robust in (("robust", True), ("bartlett", False)):
        found = [seasons.detect_season(x, robust=robust) for x in samples]
        hits = sum(m is not None and (want is None or m % want == 0) for m in found)
        out[label] = {"found": hits, "of": len(found), "seasons": [m for m in found if m is not None]}
    return out


def run(seeds: int) -> dict[str, Any]:
    closes = np.log(np.asarray(load_demo().close, np.float64))
    rows: list[dict[str, Any]] = []
    for n in LENGTHS:
        walks = [garch_walk(n, seed) for seed in range(seeds)]
        rows.append({"case": f"GARCH random walks, {n} steps", "kind": "false alarms", **_rates(walks)})
        windows = [closes[i : i + n] for i in range(0, closes.shape[0] - n + 1, 50)]
        rows.append({"case": f"demo hourly BTC/USD closes, windows of {n}", "kind": "false alarms", **_rates(windows)})
        for amplitude in AMPLITUDES:
            steps = np.arange(n)
            seasonal = [w + amplitude * np.sin(2 * np.pi * steps / 24) for w in walks]
            rows.append(
                {
                    "case": f"GARCH walks + 24-step sine of {amplitude}, {n} steps",
                    "kind": "found 24",
                    **_rates(seasonal, 24),
                }
            )
    return {"seeds": seeds, "rows": rows}


def render(doc: dict[str, Any]) -> str:
    lines = [
        "# Season detection: false alarms and power",
        "",
        f"Produced by `{doc['command']}` in {doc['seconds']:.0f} s. Undated values (every lag from 2 to n / 2 "
        "tested, 5% split over the lags); robust: the default bound of the differences' test; bartlett: "
        "`robust=False`.",
        "",
        "| case | counts | robust | bartlett |",
        "|---|---|---|---|",
    ]
    for row in doc["rows"]:
        cells = [f"{row[k]['found']} of {row[k]['of']}" for k in ("robust", "bartlett")]
        lines.append(f"| {row['case']} | {row['kind']} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.seasons", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=40, help="random walks per length (default 40)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    doc = run(args.seeds)
    doc["command"] = (
        "python -m benchmarks.seasons" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    )
    doc["seconds"] = time.perf_counter() - started
    out = pathlib.Path(args.out) if args.out else pathlib.Path(__file__).resolve().parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "seasons.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "seasons.md").write_text(render(doc))
    print(render(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How often season detection finds a season where there is none, and finds one that is there.

    python -m benchmarks.seasons [--seeds N] [--out DIR]

``detect_season`` (``jaxlstm/_src/prep/seasons.py``) as ``LSTMForecaster(season_length="auto")``
runs it, four ways: on undated values (every lag from 2 to n / 2), with the robust bound in
the differences (the default) and with Bartlett's bound alone (``robust=False``, the M4 test
as published); and on dated values (only the calendar's seasons tested: 24 and 168 for
hourly values, 12 for monthly ones), at the default calendar level (``CALENDAR_ALPHA``,
10%) and at the lag scan's 5%. On:

* random walks whose returns are uncorrelated but whose volatility clusters (GARCH(1,1)
  with Student-t(4) shocks, as price returns): any season found is a false alarm;
* windows of the bundled hourly BTC/USD closes (log), one every 50 candles, given without
  dates: no season is known there (the dated test, which tries only 24 and 168, finds none);
* the same walks plus a 24-step sine of a given amplitude: the power to find 24 (a
  multiple such as 48 counts as found, not as 24);
* short monthly series, three and four years of a level with a 12-month multiplicative
  season of 10% and 3% noise (dated: monthly): the power to find 12.

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
#: Years of the short monthly series.
MONTHLY_YEARS = (3, 4)
#: The four ways: (label, given the spacing, robust bound, alpha or None for the default).
WAYS: tuple[tuple[str, bool, bool, float | None], ...] = (
    ("robust", False, True, None),
    ("bartlett", False, False, None),
    ("dated", True, True, None),
    ("dated at 5%", True, True, seasons.ALPHA),
)


def garch_walk(n: int, seed: int) -> np.ndarray:
    """``[n]`` log prices: a random walk of GARCH(1,1) returns (omega 2e-6, alpha 0.2, beta 0.78, t(4) shocks)."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(4, n) / np.sqrt(2)  # unit variance
    returns, variance, last = np.zeros(n), 1e-4, 0.0
    for t in range(n):  # a recursion in time: the generator, not a hot path
        variance = 2e-6 + 0.2 * last**2 + 0.78 * variance
        last = returns[t] = np.sqrt(variance) * shocks[t]
    return np.cumsum(returns)


def _rates(samples: Sequence[np.ndarray], interval: str, want: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, dated, robust, alpha in WAYS:
        spacing = interval if dated else None
        found = [seasons.detect_season(x, interval=spacing, robust=robust, alpha=alpha) for x in samples]
        hits = sum(m is not None and (want is None or m % want == 0) for m in found)
        out[label] = {"found": hits, "of": len(found), "seasons": [m for m in found if m is not None]}
    return out


def monthly_seasonal(years: int, seed: int) -> np.ndarray:
    """``[12 * years]`` log values: a slow level, a 12-month season of 10% and 3% noise."""
    rng = np.random.default_rng(seed)
    months = np.arange(12 * years)
    return 0.002 * months + 0.1 * np.sin(2 * np.pi * months / 12) + rng.normal(0, 0.03, months.size)


def run(seeds: int) -> dict[str, Any]:
    closes = np.log(np.asarray(load_demo().close, np.float64))
    rows: list[dict[str, Any]] = []
    for n in LENGTHS:
        walks = [garch_walk(n, seed) for seed in range(seeds)]
        rows.append({"case": f"GARCH random walks, {n} steps", "kind": "false alarms", **_rates(walks, "1h")})
        windows = [closes[i : i + n] for i in range(0, closes.shape[0] - n + 1, 50)]
        rows.append(
            {"case": f"demo hourly BTC/USD closes, windows of {n}", "kind": "false alarms", **_rates(windows, "1h")}
        )
        for amplitude in AMPLITUDES:
            steps = np.arange(n)
            seasonal = [w + amplitude * np.sin(2 * np.pi * steps / 24) for w in walks]
            rows.append(
                {
                    "case": f"GARCH walks + 24-step sine of {amplitude}, {n} steps",
                    "kind": "found 24",
                    **_rates(seasonal, "1h", 24),
                }
            )
    for years in MONTHLY_YEARS:
        short = [monthly_seasonal(years, seed) for seed in range(seeds)]
        case = f"monthly, {years} years, 12-month season of 10%"
        rows.append({"case": case, "kind": "found 12", **_rates(short, "30d", 12)})
        walks = [garch_walk(12 * years, seed) for seed in range(seeds)]
        rows.append(
            {"case": f"GARCH random walks, {12 * years} months", "kind": "false alarms", **_rates(walks, "30d")}
        )
    return {"seeds": seeds, "rows": rows}


def render(doc: dict[str, Any]) -> str:
    lines = [
        "# Season detection: false alarms and power",
        "",
        f"Produced by `{doc['command']}` in {doc['seconds']:.0f} s. robust and bartlett: undated values (every "
        "lag from 2 to n / 2 tested, 5% split over the lags), with the default bound of the differences' test "
        "and with `robust=False`. dated: the values given their spacing (hourly cases: 1 h, 24 and 168 tested; "
        "monthly cases: 30 days, 12 tested), at the default calendar level of 10% and at 5%.",
        "",
        "| case | counts | robust | bartlett | dated | dated at 5% |",
        "|---|---|---|---|---|---|",
    ]
    for row in doc["rows"]:
        cells = [f"{row[way[0]]['found']} of {row[way[0]]['of']}" for way in WAYS]
        lines.append(f"| {row['case']} | {row['kind']} | " + " | ".join(cells) + " |")
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

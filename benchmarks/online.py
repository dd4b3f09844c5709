"""Online learning in a walk-forward run: refit from scratch vs ``update`` vs a frozen model.

    python -m benchmarks.online [--quick] [--origins N] [--dataset btc_1h] [--out DIR]

One ``LSTMForecaster()`` (the defaults) is fitted on the ``train_size`` prices before the
first origin. Then, every ``horizon`` steps, as new prices arrive, three copies go on:

* ``refit``: a new model fitted from scratch on the latest ``train_size`` prices;
* ``update``: the same model continued by ``update(new_prices)`` (the newest windows only,
  from its params and optimiser state);
* ``frozen``: the first model unchanged, only ``observe``-ing the new prices.

At each origin each forecasts ``horizon`` steps; scores are MAE relative to naive,
coverage of the 95% band and the Winkler score, and the seconds each refresh took.
Writes ``online.json`` and ``online.md`` into ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import copy
import json
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import jaxlstm as jl
from benchmarks import accuracy
from benchmarks.calibration import winkler


def run(dataset: str, origins: int, horizon: int, train_size: int, lstm: dict[str, Any]) -> dict[str, Any]:
    settings = accuracy.QUICK if lstm else accuracy.FULL
    data = accuracy.load_datasets([dataset], settings, accuracy.find_data_dir(None))[0]
    prices = data.prices
    first = prices.shape[0] - horizon * (origins + 1)
    if first < train_size:
        raise ValueError(f"{dataset} is too short for {origins} origins after {train_size} training prices")
    start = time.perf_counter()
    base = jl.LSTMForecaster(**lstm).fit(prices[first - train_size : first])
    initial_s = time.perf_counter() - start
    models = {"update": base, "frozen": copy.deepcopy(base)}
    scores: dict[str, dict[str, list[float]]] = {
        k: {"mae": [], "inside": [], "winkler": [], "seconds": []} for k in ("refit", "update", "frozen")
    }
    naive_mae = []
    for i in range(origins):
        t = first + i * horizon
        actual = prices[t : t + horizon]
        naive_mae.append(float(np.mean(np.abs(actual - prices[t - 1]))))
        for name in ("refit", "update", "frozen"):
            started = time.perf_counter()
            if name == "refit":
                model = jl.LSTMForecaster(**lstm).fit(prices[t - train_size : t]) if i else base
            elif i:
                model = models[name]
                new = prices[t - horizon : t]
                if name == "update":
                    model.update(new)
                else:
                    model.observe(prices[t - model.sequence_length : t])
            else:
                model = models[name]
            seconds = time.perf_counter() - started if i else 0.0
            fc = model.forecast(steps=horizon)
            s = scores[name]
            s["mae"].append(float(np.mean(np.abs(actual - fc.predicted))))
            s["inside"].append(float(np.mean((fc.lower <= actual) & (actual <= fc.upper))))
            s["winkler"].append(float(np.mean(winkler(actual, fc.lower, fc.upper, 0.95)) / prices[t - 1]))
            if i:
                s["seconds"].append(seconds)
        print(f"origin {i + 1}/{origins}", file=sys.stderr, flush=True)
    naive = float(np.mean(naive_mae))
    return {
        "dataset": dataset,
        "description": data.description,
        "origins": origins,
        "horizon": horizon,
        "train_size": train_size,
        "initial_fit_s": initial_s,
        "results": {
            name: {
                "relative_mae": float(np.mean(s["mae"])) / naive,
                "coverage": float(np.mean(s["inside"])),
                "relative_winkler": float(np.mean(s["winkler"])),
                "seconds_per_refresh": float(np.median(s["seconds"])) if s["seconds"] else 0.0,
            }
            for name, s in scores.items()
        },
    }


def render(doc: dict[str, Any]) -> str:
    lines = [
        "# Online learning: refit vs update vs frozen",
        "",
        f"Produced by `{doc['command']}`: `{doc['dataset']}` ({doc['description']}), the first model fitted on "
        f"{doc['train_size']} prices, then {doc['origins']} origins {doc['horizon']} steps apart; at each, "
        f"`refit` fits a new model on the latest {doc['train_size']} prices, `update` continues the model on the "
        f"{doc['horizon']} new prices (`update(new_prices)`, 5 epochs), `frozen` keeps the first model. "
        "Seconds are the median per refresh (the first fit took "
        f"{doc['initial_fit_s']:.1f} s); Winkler score in % of the price.",
        "",
        "| model | relative MAE | 95% coverage | Winkler % | seconds per refresh |",
        "|---|---|---|---|---|",
    ]
    for name, r in doc["results"].items():
        lines.append(
            f"| {name} | {r['relative_mae']:.3f} | {r['coverage']:.3f} | {100 * r['relative_winkler']:.2f} | "
            f"{r['seconds_per_refresh']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.online", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--origins", type=int, default=None)
    parser.add_argument("--dataset", default="btc_1h")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    lstm = {"hidden_size": 8, "epochs": 3} if args.quick else {}
    origins = args.origins or (3 if args.quick else 30)
    horizon = 12 if args.quick else 24
    doc = run(args.dataset, origins, horizon, 200 if args.quick else 1000, lstm)
    doc["command"] = (
        "python -m benchmarks.online" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    )
    out = pathlib.Path(args.out) if args.out else accuracy.DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    stem = "online_quick" if args.quick else "online"
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / f"{stem}.md").write_text(render(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

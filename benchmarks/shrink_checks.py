"""Checks of ``shrink="auto"``'s rule that need no refit per rule: how often it shrinks too little by luck, and tail vs pooled.

    python -m benchmarks.shrink_checks null [--walks 400]
    python -m benchmarks.shrink_checks origins [--dataset btc_1h] [--every 2]
    python -m benchmarks.shrink_checks walks

``null``: random walks of 600 log-normal steps, a held-back tail of 58 origins and 168 steps
(the default model's on 600 prices); the "model" forecasts a constant drift, or the momentum of
its last 5 steps. Prints how often ``t > 1`` and ``t > 2`` and ``w > 0.5`` (no edge exists).

``origins``: fits ``LSTMForecaster()`` (no shrinkage) at every ``every``-th origin of
``benchmarks/accuracy.py``'s suite for a data set, then scores the shrunk 24-step forecasts
for the weight from the held-back tail alone (the library's rule) and from the head refit's
origins before the tail pooled with it (the rule it replaced).

``walks``: the eight random walks of ``tests/forecasters/test_shrink.py`` (600 prices, seeds
0-7), the default model fitted on each: the weight of either rule.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from jaxlstm._src.forecasters import shrinkage


def pooled_weight(closes: np.ndarray, residuals: dict[str, np.ndarray]) -> float:
    """The replaced rule: the head refit's origins before the tail, then the tail, in one regression."""
    tail, head = residuals.get("auto"), residuals.get("refit")
    if tail is None or head is None:
        found = shrinkage.fit_weight(closes, residuals)
        return 1.0 if found is None else found.weight
    y, d = shrinkage.changes(closes, head)
    keep = head.shape[0] - tail.shape[0]
    parts = [(y[:keep], d[:keep]), shrinkage.changes(closes, tail)]
    length = int(np.clip(sum(p[0].shape[0] for p in parts) // shrinkage.TARGET_BLOCKS, 1, tail.shape[1]))
    sums = [shrinkage.block_sums(a, b, length) for a, b in parts]
    yd = np.concatenate([s[0] for s in sums])
    dd = np.concatenate([s[1] for s in sums])
    beta = float(yd.sum() / dd.sum())
    variance = sum(float(np.sum(e**2) + np.sum(e[1:] * e[:-1])) for e in (s[0] - beta * s[1] for s in sums))
    t = beta / (np.sqrt(variance) / float(dd.sum()))
    return min(beta, 1.0) * (1 - 1 / t**2) if t > 1 else 0.0


def null(walks: int) -> None:
    rng = np.random.default_rng(0)
    steps = np.arange(1, 169)
    for label in ("constant drift", "momentum of the last 5 steps"):
        ts, ws = [], []
        for _ in range(walks):
            closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 600)))
            y, _ = shrinkage.changes(closes, np.zeros((58, 168)))
            if label == "constant drift":
                d = np.broadcast_to(1e-3 * steps, y.shape)
            else:
                origins = 600 - 58 + np.arange(58)
                d = np.log(closes[origins - 1] / closes[origins - 6])[:, None] * steps / 5
            found = shrinkage.fit_weight(closes, {"auto": y - d})
            assert found is not None
            ts.append(found.t)
            ws.append(found.weight)
        t, w = np.array(ts), np.array(ws)
        print(f"{label}: P(t>1) {np.mean(t > 1):.2f}  P(t>2) {np.mean(t > 2):.2f}  P(w>0.5) {np.mean(w > 0.5):.2f}")


def origins(dataset: str, every: int) -> None:
    import jaxlstm as jl
    from benchmarks import accuracy

    data = accuracy.load_datasets([dataset], accuracy.FULL, accuracy.find_data_dir(None))[0]
    x, train, horizon = data.prices, accuracy.FULL.train_size[dataset], accuracy.FULL.horizon
    starts = accuracy.spread_origins(len(x), train, horizon, accuracy.FULL.n_origins)[::every]
    models = [jl.LSTMForecaster() for _ in starts]
    jl.LSTMForecaster.fit_rows(models, [x[t - train : t] for t in starts])
    raw = np.stack(
        [r[0] for r in jl.Forecaster.predict_rows(models, [m.forecast_window()[None] for m in models], horizon)]
    )
    actual = np.stack([x[t : t + horizon] for t in starts])
    last = x[starts - 1][:, None]
    naive = np.abs(actual - last).mean(axis=1)
    rules = {
        "tail (the library's rule)": lambda c, r: getattr(shrinkage.fit_weight(c, r), "weight", 1.0),
        "head refit before the tail, pooled": pooled_weight,
        "unshrunk": lambda c, r: 1.0,
    }
    for name, rule in rules.items():
        w = np.array([rule(x[t - train : t], dict(m.band_.residuals)) for t, m in zip(starts, models, strict=True)])
        mae = np.abs(actual - last * (raw / last) ** w[:, None]).mean(axis=1)
        diff = (mae - naive) / naive.mean()
        se = diff.std(ddof=1) / np.sqrt(diff.size)
        print(f"{dataset} {name}: relative MAE {mae.mean() / naive.mean():.3f} ± {se:.3f} over {len(starts)} origins")


def walks() -> None:
    import jaxlstm as jl

    series = [100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, 600))) for seed in range(8)]
    models = [jl.LSTMForecaster() for _ in series]
    jl.LSTMForecaster.fit_rows(models, series)
    tail = [getattr(shrinkage.fit_weight(x, dict(m.band_.residuals)), "weight", 1.0) for x, m in zip(series, models)]
    pooled = [pooled_weight(x, dict(m.band_.residuals)) for x, m in zip(series, models, strict=True)]
    print("tail  ", np.round(tail, 2))
    print("pooled", np.round(pooled, 2))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shrink_checks", description=__doc__.split("\n")[0])
    parser.add_argument("check", choices=("null", "origins", "walks"))
    parser.add_argument("--walks", type=int, default=400)
    parser.add_argument("--dataset", default="btc_1h")
    parser.add_argument("--every", type=int, default=2)
    args = parser.parse_args(argv)
    if args.check == "null":
        null(args.walks)
    elif args.check == "walks":
        walks()
    else:
        origins(args.dataset, args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())

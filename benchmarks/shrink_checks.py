"""Checks of ``shrink="auto"``'s rule that need no refit per rule: how often it shrinks too little by luck, and tail vs pooled.

    python -m benchmarks.shrink_checks null [--walks 400] [--edge 0.0]
    python -m benchmarks.shrink_checks origins [--dataset btc_1h] [--every 2]
    python -m benchmarks.shrink_checks walks

``null``: random walks of 600 log-normal steps, a held-back tail of 58 origins and 168 steps
(the default model's on 600 prices); the "model" forecasts a constant drift, the momentum of
its last 5 steps, or a tenth of the last step. For the library's rule and the square-block rule
it replaced, prints how often the normal deviate of ``t`` (read with the rule's degrees of
freedom) exceeds 1 and 2, how often ``w > 0.5``, and the mean ``w`` (no edge exists: a
calibrated rule exceeds 1 and 2 on 15.9% and 2.3% of walks). ``--edge A``: log returns an
AR(1) with coefficient ``A`` instead, where "the last step's AR(1) forecast" is the true
conditional mean (power: how much of a real edge is kept).

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


def square_rule(closes: np.ndarray, residuals: dict[str, np.ndarray]) -> tuple[float, float]:
    """``(weight, t)`` of the rule before the triangular blocks: square blocks (every origin of a block on its first ``length`` steps), one lag of Newey-West, ``t`` read as a normal deviate."""
    y, d = shrinkage.changes(closes, residuals["auto"])
    length = int(np.clip(y.shape[0] // 8, 1, y.shape[1]))  # that rule's 8 blocks
    y, d = y[:, :length], d[:, :length]
    ok = np.isfinite(y) & np.isfinite(d)
    yd_origin = np.where(ok, y * np.where(ok, d, 0.0), 0.0).sum(axis=1)
    dd_origin = np.where(ok, np.where(ok, d, 0.0) ** 2, 0.0).sum(axis=1)
    count = y.shape[0] // length
    start = y.shape[0] - count * length
    yd = yd_origin[start:].reshape(count, length).sum(axis=1)
    dd = dd_origin[start:].reshape(count, length).sum(axis=1)
    beta = float(yd.sum() / dd.sum())
    e = yd - beta * dd
    t = beta / (np.sqrt(max(float(np.sum(e**2) + np.sum(e[1:] * e[:-1])), 0.0)) / float(dd.sum()))
    return (min(beta, 1.0) * (1 - 1 / t**2) if t > 1 else 0.0), t


def simulated(walks: int, edge: float, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """``{forecast: {rule: [walks, 2]}}`` of ``(weight, z)`` on simulated log prices (``z``: the deviate the rule compares with 1).

    ``edge = 0``: random walks (no forecast has an edge). ``edge > 0``: log returns an AR(1)
    with coefficient ``edge``, where the momentum forecast is the true conditional mean.
    """
    rng = np.random.default_rng(seed)
    steps = np.arange(1, 169)
    origins = 600 - 58 + np.arange(58)
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for _ in range(walks):
        shocks = rng.normal(0, 0.01, 600)
        returns = np.empty(600)
        returns[0] = shocks[0]
        for i in range(1, 600):  # a simulation's recursion, not library code
            returns[i] = edge * returns[i - 1] + shocks[i]
        closes = 100 * np.exp(np.cumsum(returns))
        y, _ = shrinkage.changes(closes, np.zeros((58, 168)))
        last_return = np.log(closes[origins - 1] / closes[origins - 2])
        forecasts = {
            "constant drift": np.broadcast_to(1e-3 * steps, y.shape),
            "momentum of the last 5 steps": np.log(closes[origins - 1] / closes[origins - 6])[:, None] * steps / 5,
            # The AR(1) conditional mean of the cumulative change: r * (edge + edge^2 + ... + edge^h).
            "last step's AR(1) forecast": last_return[:, None] * np.cumsum(edge**steps)[None, :]
            if edge
            else last_return[:, None] * 0.1 * np.ones_like(steps)[None, :],
        }
        for label, d in forecasts.items():
            residuals = {"auto": y - d}
            found = shrinkage.fit_weight(closes, residuals)
            rules = out.setdefault(label, {"square blocks, Newey-West, normal": [], "triangles, CR2, Student": []})
            rules["square blocks, Newey-West, normal"].append(square_rule(closes, residuals))
            # No weight (too few degrees of freedom): the model is kept whole, counted as a keep.
            kept = (1.0, np.inf) if found is None else (found.weight, shrinkage.normal_equivalent(found.t, found.df))
            rules["triangles, CR2, Student"].append(kept)
    return {label: {rule: np.array(v) for rule, v in rules.items()} for label, rules in out.items()}


def null(walks: int, edge: float) -> None:
    for label, rules in simulated(walks, edge).items():
        for rule, values in rules.items():
            w, z = values[:, 0], values[:, 1]
            print(
                f"{label:30s} {rule:34s} P(z>1) {np.mean(z > 1):.3f}  P(z>2) {np.mean(z > 2):.3f}  "
                f"P(w>0.5) {np.mean(w > 0.5):.3f}  mean w {w.mean():.3f}  kept whole (too few df) {np.mean(np.isinf(z)):.3f}"
            )
    if not edge:
        print("a calibrated rule under no edge: P(z>1) 0.159, P(z>2) 0.023")


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
    parser.add_argument(
        "--edge", type=float, default=0.0, help="null: AR(1) coefficient of the returns (0: random walks)"
    )
    parser.add_argument("--dataset", default="btc_1h")
    parser.add_argument("--every", type=int, default=2)
    args = parser.parse_args(argv)
    if args.check == "null":
        null(args.walks, args.edge)
    elif args.check == "walks":
        walks()
    else:
        origins(args.dataset, args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())

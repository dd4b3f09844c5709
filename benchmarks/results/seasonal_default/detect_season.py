"""Which season ``season_length="auto"`` detects on BTC/USD (the defaults suite's origins, the last 500 candles, the demo) and the synthetic sets.

Run from the repository root: ``python benchmarks/results/seasonal_default/detect_season.py [DATA_DIR]``
(the folder of the Coinbase CSV files; default: the benchmarks' own search). Nothing is
fitted: ``resolve_season`` runs the detection a fit runs on the training part of each slice.
"""

from __future__ import annotations

import collections
import sys

import numpy as np

import jaxlstm as jl
from benchmarks import accuracy as acc


def detected(candles: jl.data.OHLCV, ends: object, size: int, dated: bool = True) -> dict[int | None, int]:
    """``{season: count}`` over the slices of ``size`` candles ending at each of ``ends``."""
    found: collections.Counter[int | None] = collections.Counter()
    for end in ends:  # type: ignore[attr-defined]
        part = candles[end - size : end]
        interval = jl.data.infer_interval(part.timestamps) if dated else None
        model = jl.LSTMForecaster(encoding="seasonal", season_length="auto")
        found[model.resolve_season(np.asarray(part.close, np.float64), interval)] += 1
    return dict(found)


def main() -> None:
    data_dir = acc.find_data_dir(sys.argv[1] if len(sys.argv) > 1 else None)
    assert data_dir is not None, "no folder with the Coinbase BTC/USD CSV files"
    for name, path, size in [("btc_1h", acc.HOURLY_FILE, 1000), ("btc_1d", acc.DAILY_FILE, 500)]:
        candles = jl.data.load_ohlcv(data_dir / path)
        n = len(candles.close)
        origins = acc.spread_origins(n, size, acc.FULL.horizon, acc.FULL.n_origins)
        print(f"{name}: the suite's {len(origins)} origins (training {size}): {detected(candles, origins, size)}")
        print(f"{name}: without timestamps (every lag scanned): {detected(candles, origins, size, dated=False)}")
        print(f"{name}: last 500 candles {detected(candles, [n], 500)}, all {n} {detected(candles, [n], n)}")
    demo = jl.data.load_demo()
    n = len(demo.close)
    print(f"demo (hourly, {n}): last 500 {detected(demo, [n], 500)}, all {detected(demo, [n], n)}")
    print(f"demo: slices of 500 ending every 250 candles {detected(demo, range(500, n + 1, 250), 500)}")


def synthetic() -> None:
    """The same count on the suite's synthetic sets (no timestamps: every lag scanned)."""
    for dataset in acc.load_datasets(acc.STRUCTURED_SETS, acc.FULL, None):
        size = acc.FULL.train_size[dataset.name]
        origins = acc.spread_origins(dataset.prices.shape[0], size, acc.FULL.horizon, acc.FULL.n_origins)
        found: collections.Counter[int | None] = collections.Counter(
            jl.LSTMForecaster(encoding="seasonal", season_length="auto").resolve_season(
                dataset.prices[end - size : end]
            )
            for end in origins
        )
        print(f"{dataset.name}: the suite's {len(origins)} origins (training {size}): {dict(found)}")


if __name__ == "__main__":
    main()
    synthetic()

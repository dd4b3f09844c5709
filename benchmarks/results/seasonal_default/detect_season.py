"""Which season season_length="auto" detects on BTC: at the defaults suite's origins and on the CLI's last 500 candles."""
import collections, pathlib, numpy as np
import jaxlstm as jl
from benchmarks import accuracy as acc

def detected(candles, ends, size):
    found = collections.Counter()
    for end in ends:
        part = candles[end - size : end]
        m = jl.LSTMForecaster(encoding="seasonal", season_length="auto")
        series, interval = np.asarray(part.close, np.float64), jl.data.infer_interval(part.timestamps)
        found[m.resolve_season(series, interval)] += 1
    return dict(found)

data_dir = pathlib.Path("/work/shared/data")
for name, path, size in [("btc_1h", acc.HOURLY_FILE, 1000), ("btc_1d", acc.DAILY_FILE, 500)]:
    candles = jl.data.load_ohlcv(data_dir / path)
    n = len(candles.close)
    origins = acc.spread_origins(n, size, acc.FULL.horizon, acc.FULL.n_origins)
    print(name, "benchmark origins (train", size, "):", detected(candles, origins, size))
    print(name, "last 500 candles:", detected(candles, [n], 500), " all", n, ":", detected(candles, [n], n))
demo = jl.data.load_demo()
print("demo (hourly)", len(demo.close), "last 500:", detected(demo, [len(demo.close)], 500), "all:", detected(demo, [len(demo.close)], len(demo.close)))
print("demo windows of 500 ending every 250:", detected(demo, range(500, len(demo.close) + 1, 250), 500))

# Without timestamps every lag is scanned (not only the calendar seasons).
for name, path, size in [("btc_1h", acc.HOURLY_FILE, 1000), ("btc_1d", acc.DAILY_FILE, 500)]:
    candles = jl.data.load_ohlcv(data_dir / path)
    n = len(candles.close)
    origins = acc.spread_origins(n, size, acc.FULL.horizon, acc.FULL.n_origins)
    found = collections.Counter(
        jl.LSTMForecaster(encoding="seasonal", season_length="auto").resolve_season(
            np.asarray(candles.close[end - size : end], np.float64)
        )
        for end in origins
    )
    print(name, "benchmark origins, undated (every lag scanned):", dict(found))

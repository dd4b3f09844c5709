"""One process asking a ModelCache for a symbol, for ``test_cache_processes.py`` (not a test module).

Usage: ``cache_worker.py MODELS SYMBOL LOG GO TRAIN_SECONDS LOCK_TIMEOUT``. The process
imports jaxlstm, prints ``{"ready": pid}``, waits until the file GO exists (so that
several workers call ``get`` at the same moment), calls ``ModelCache.get`` and prints one
JSON line: ``{"pid", "ok": true, "trained", "seed", "trained_at"}`` or ``{"pid", "ok":
false, "error", "message"}``. Its ``train_fn`` appends the pid to LOG, sleeps
TRAIN_SECONDS and fits a small model seeded with the pid, so the model says who trained it.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

import jaxlstm as jl

PRICES = 100 + np.sin(np.arange(60) / 4)
SETTINGS = {"hidden_size": 4, "sequence_length": 5, "epochs": 2}


def main() -> None:
    models, symbol, log, go, train_seconds, lock_timeout = sys.argv[1:7]
    trained = []

    def train(name: str) -> jl.LSTMForecaster:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        trained.append(name)
        time.sleep(float(train_seconds))
        return jl.LSTMForecaster(**SETTINGS, seed=os.getpid(), symbol=name).fit(PRICES)

    cache = jl.ModelCache(models, train_fn=train, lock_timeout=float(lock_timeout))
    print(json.dumps({"ready": os.getpid()}), flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    try:
        model = cache.get(symbol, settings=SETTINGS, data=PRICES)
    except Exception as err:
        out = {"pid": os.getpid(), "ok": False, "error": type(err).__name__, "message": str(err)}
    else:
        out = {
            "pid": os.getpid(),
            "ok": True,
            "trained": bool(trained),
            "seed": model.seed,
            "trained_at": model.trained_at_,
        }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

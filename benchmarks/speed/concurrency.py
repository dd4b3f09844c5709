"""Section 6, concurrency: two threads fitting two different models at the same time.

A library imported as a component must not serialise unrelated work: two fits in two
threads of one process should run on two cores. Goal on a 2-core machine: both fits
together take at most 1.5x the wall time of one fit alone. Each fit is the seed
configuration without early stopping (a fixed amount of work), on different data and
seeds; both are compiled before timing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from benchmarks import _timing
from benchmarks.speed import library
from benchmarks.speed.common import block, log, unavailable
from benchmarks.speed.settings import Settings

# ---------------------------------------------------------------------------- calls into jaxlstm


def _fit_call(s: Settings, prices: Any, seed: int) -> Callable[[], Any]:
    """A no-argument call that fits a new seed-configuration ``LSTMForecaster`` and blocks on it."""
    import jaxlstm as jl

    def fit() -> Any:
        model = jl.LSTMForecaster(
            hidden_size=s.hidden,
            sequence_length=s.window,
            learning_rate=s.learning_rate,
            epochs=s.epochs,
            batch_size=s.batch_size,
            early_stopping=False,
            seed=seed,
        ).fit(prices)
        return block(model.params_)

    return fit


# ---------------------------------------------------------------------------- the section


def _together(calls: list[Callable[[], Any]]) -> float:
    """Wall seconds for running every call in its own thread at once."""
    threads = [threading.Thread(target=call) for call in calls]
    start = _timing.now()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return _timing.now() - start


def bench_concurrency(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """One fit alone against two fits in two threads, repeated; the ratio of medians."""
    del state
    cores = _timing.machine_info().get("usable_cores") or 1
    if cores < 2:
        return unavailable(f"needs at least 2 cores, this process may use {cores}")
    n = s.candles
    close = library.demo().close
    if close.shape[0] < 2 * n:
        return unavailable(f"needs {2 * n} demo candles")
    a, b = _fit_call(s, close[-n:], seed=0), _fit_call(s, close[-2 * n : -n], seed=1)
    a(), b()  # compile (both models share shapes: one compilation)
    repeats = max(3, s.scale_repeats)
    alone = [_timing.time_first_call(a)[0] for _ in range(repeats)]
    together = [_together([a, b]) for _ in range(repeats)]
    one, two = _timing.summarize(alone), _timing.summarize(together)
    ratio = two["median_s"] / one["median_s"]
    log(f"concurrency: one fit {one['median_s']:.3f} s, two threads {two['median_s']:.3f} s ({ratio:.2f}x)")
    return {
        "what": "LSTMForecaster(seed config, early_stopping=False).fit on two different series and seeds",
        "cores": cores,
        "one_fit": one,
        "two_threads": two,
        "two_over_one": ratio,
    }

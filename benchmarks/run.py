"""One command that measures jaxlstm's speed and writes JSON, a markdown table and plots.

    python -m benchmarks.run [--quick] [--out DIR] [--sections train,predict,cold_start,scaling]

Sections (``benchmarks/README.md`` explains every row):

1. ``train``: the seed configuration (500 demo candles, window 20, hidden 32, Adam 1e-3,
   100 epochs, batch 32, no early stopping) through ``jaxlstm.train``, through
   ``LSTMForecaster.fit`` and in PyTorch; then batch size 1 for a few epochs.
2. ``predict``: warm latency of 1, 24 and 168 step forecasts (functional and wrapper),
   and 10 symbols x 168 steps at once.
3. ``cold_start``: a new process that imports jaxlstm, loads a saved model and forecasts
   "1d", without and with JAX's persistent compilation cache.
4. ``scaling``: training time against the number of symbols trained together, the hidden
   size and the sequence length, with parameter counts and XLA's memory estimate.

Every number in ``bench.md`` is rendered from ``bench.json`` of the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import _timing, torch_lstm

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "results"
SECTIONS = ("train", "predict", "cold_start", "scaling", "profile")
# --quick leaves the profile out unless asked for: it compiles ten training loops.
QUICK_SECTIONS = ("train", "predict", "cold_start", "scaling")
SCHEMA_VERSION = 1
# Seconds after which a PyTorch measurement stops adding repeats (it keeps at least one
# timed run); the JSON lists the runs actually made.
TORCH_BUDGET_S = 120.0
# Idle seconds before each section of a full run (see _run).
SECTION_PAUSE_S = 2.0

# Goals for the seed configuration on a 2-core float32 CPU; reported next to the
# measurement, never used to decide anything.
TARGETS = {
    "seed_train_warm_s": 0.25,
    "seed_train_compile_s": 1.5,
    "torch_over_jax_train": 6.0,
    "predict_1_step_s": 50e-6,
    "predict_24_steps_s": 100e-6,
    "predict_10x168_s": 2e-3,
    "multi_10_throughput": 2.0,
    # GPU only: 10 symbols in at most 1.2x the time of one; 1,000 symbols x 100 epochs in 10 s.
    "gpu_10_over_1": 1.2,
    "gpu_1000_symbols_s": 10.0,
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Sizes and repeat counts of one run (the full run, or ``--quick`` for smoke tests)."""

    quick: bool = False
    candles: int = 500
    window: int = 20
    hidden: int = 32
    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    train_repeats: int = 5
    torch_repeats: int = 3
    batch1_epochs: int = 5
    batch1_repeats: int = 3
    predict_steps: tuple[int, ...] = (1, 24, 168)
    predict_repeats: int = 7
    multi_symbols: int = 10
    multi_steps: int = 168
    cold_repeats: int = 3
    scale_symbols: tuple[int, ...] = (1, 10, 100, 1000)
    scale_symbol_epochs: tuple[int, ...] = (10, 10, 3, 1)
    sweep_symbols: int = 120
    sweep_epochs: int = 2
    sweep_block_sizes: tuple[int, ...] = (1, 2, 4, 6, 10, 20, 60)
    scale_hidden: tuple[int, ...] = (32, 64, 128, 256)
    scale_sequence: tuple[int, ...] = (20, 50, 100, 200)
    scale_windows: int = 480
    scale_epochs: int = 10
    scale_repeats: int = 3
    torch_scale_epochs: int = 3
    torch_scale_repeats: int = 2
    profile_epochs: int = 20
    profile_repeats: int = 5
    # None leaves PyTorch's default thread count (the measurement the README reports).
    torch_threads: int | None = None
    # TrainConfig.restore_best of the functional runs (the seed configuration's default).
    restore_best: bool = True


# A smoke run: the smallest sizes that still go through every code path. Compiling is
# what takes the time here, so the settings are chosen to share compiled programs: with
# batch size 1, one epoch and restore_best=False (as LSTMForecaster(early_stopping=False)
# uses), the seed run, the wrapper's fit, the batch-1 run and the single-model scaling
# row are one program, compiled once.
QUICK = Settings(
    quick=True,
    candles=60,
    window=10,
    hidden=8,
    epochs=1,
    batch_size=1,
    train_repeats=1,
    torch_repeats=1,
    batch1_epochs=1,
    batch1_repeats=1,
    predict_steps=(1, 24, 168),
    predict_repeats=2,
    multi_symbols=10,
    multi_steps=168,
    cold_repeats=1,
    scale_symbols=(1, 2),
    scale_symbol_epochs=(1, 1),
    sweep_symbols=4,
    sweep_epochs=1,
    sweep_block_sizes=(1, 2),
    scale_hidden=(8,),
    scale_sequence=(10,),
    scale_windows=50,
    scale_epochs=1,
    scale_repeats=1,
    torch_scale_epochs=1,
    torch_scale_repeats=1,
    profile_epochs=1,
    profile_repeats=1,
    # On a busy machine PyTorch's default OpenMP threads stall waiting for a core, which
    # can make a smoke run take minutes; one thread keeps it short.
    torch_threads=1,
    restore_best=False,
)


# ---------------------------------------------------------------------------- helpers


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _jsonable(value: Any) -> Any:
    """Plain JSON types for numpy scalars, arrays, tuples and paths."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pathlib.Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _unavailable(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason}


def _guarded(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Runs one measurement; a failure is recorded instead of aborting the whole run."""
    try:
        return fn()
    except Exception as err:  # keep the rest of the run; the JSON says what failed
        _log(f"{name} failed: {err!r}")
        return {"available": False, "reason": f"error: {err!r}", "traceback": traceback.format_exc(limit=5)}


def _forecaster_class() -> tuple[Any, str | None]:
    """``jaxlstm.LSTMForecaster`` when the wrapper exists, else ``(None, why)``."""
    try:
        import jaxlstm

        return jaxlstm.LSTMForecaster, None
    except (ImportError, AttributeError) as err:
        return None, f"jaxlstm.LSTMForecaster not available: {err!r}"


def _block(tree: Any) -> Any:
    import jax

    return jax.block_until_ready(tree)


def _param_count(params: Any) -> int:
    import jax

    return int(sum(np.prod(np.shape(leaf)) for leaf in jax.tree.leaves(params)))


def _memory_stats(compiled: Any) -> dict[str, Any]:
    """XLA's static buffer sizes for a compiled function (not a measured RSS)."""
    try:
        stats = compiled.memory_analysis()
    except Exception as err:  # some backends do not implement it
        return _unavailable(f"memory_analysis() failed: {err!r}")
    if stats is None:
        return _unavailable("memory_analysis() returned None on this backend")
    fields = (
        "argument_size_in_bytes",
        "output_size_in_bytes",
        "alias_size_in_bytes",
        "temp_size_in_bytes",
        "generated_code_size_in_bytes",
        "peak_memory_in_bytes",
    )
    return {"available": True, **{f: int(getattr(stats, f)) for f in fields if hasattr(stats, f)}}


@functools.lru_cache(maxsize=1)
def _demo() -> Any:
    """The bundled demo candles, parsed once per process."""
    from jaxlstm.data import load_demo

    return load_demo()


def _demo_candles(n: int) -> Any:
    """The last ``n`` bundled demo candles as an ``OHLCV`` (keeps timestamps for "1d")."""
    demo = _demo()
    if n > demo.close.shape[0]:
        raise ValueError(f"the demo data has {demo.close.shape[0]} candles, fewer than {n}")
    fields = {f.name: getattr(demo, f.name) for f in dataclasses.fields(demo)}
    sliced = {k: (v[-n:] if isinstance(v, np.ndarray) else v) for k, v in fields.items()}
    return type(demo)(**sliced)


def _scaled_windows(n_candles: int, window: int) -> tuple[np.ndarray, Any, Any]:
    """Min-max scaled windows of the last ``n_candles`` demo closes: ``(prices, xs, ys)``."""
    import jax.numpy as jnp

    import jaxlstm as jl

    prices = np.asarray(_demo().close[-n_candles:], np.float64)
    scaler = jl.fit_scaler(prices)
    scaled = jl.transform(scaler, jnp.asarray(prices, jnp.float32)).astype(jnp.float32)
    xs, ys = jl.sliding_windows(scaled, window)
    return prices, xs, ys


# ---------------------------------------------------------------------------- 1. training


def bench_train(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """Seed-configuration training: functional, wrapper and PyTorch; then batch size 1."""
    import jax

    import jaxlstm as jl

    prices, xs, ys = _scaled_windows(s.candles, s.window)
    model_cfg = jl.LSTMConfig(hidden_size=s.hidden)
    params0 = jl.init_params(jax.random.key(0), model_cfg)
    cfg = jl.TrainConfig(
        learning_rate=s.learning_rate,
        epochs=s.epochs,
        batch_size=s.batch_size,
        patience=None,
        restore_best=s.restore_best,
    )
    key = jax.random.key(1)
    out: dict[str, Any] = {
        "config": {
            "candles": s.candles,
            "windows": int(xs.shape[0]),
            "window": s.window,
            "hidden_size": s.hidden,
            "epochs": s.epochs,
            "batch_size": s.batch_size,
            "learning_rate": s.learning_rate,
            "early_stopping": False,
            "validation_split": None,
            "steps_per_epoch": torch_lstm.steps_per_epoch(int(xs.shape[0]), s.batch_size),
            "params": _param_count(params0),
        }
    }

    # -- functional train()
    def functional() -> dict[str, Any]:
        run = lambda: _block(jl.train(key, params0, xs, ys, cfg))
        first, result = _timing.time_first_call(run)
        warm = _timing.time_repeated(run, s.train_repeats, warmup=0)
        state["params"] = result.params
        state["xs"], state["ys"], state["prices"] = xs, ys, prices
        return {
            "available": True,
            "api": "jaxlstm.train(key, params, xs, ys, TrainConfig(epochs, patience=None))",
            "first_call_s": first,
            "compile_s": max(first - warm["median_s"], 0.0),
            "warm": warm,
            "final_train_loss": float(result.train_loss[-1]),
            "epochs_run": result.epochs_run,
        }

    _log("train: functional")
    out["jax_functional"] = _guarded("train functional", functional)

    # -- LSTMForecaster.fit
    def wrapper() -> dict[str, Any]:
        cls, why = _forecaster_class()
        if cls is None:
            return _unavailable(why)
        candles = _demo_candles(s.candles)

        def make() -> Any:
            return cls(
                hidden_size=s.hidden,
                sequence_length=s.window,
                learning_rate=s.learning_rate,
                epochs=s.epochs,
                batch_size=s.batch_size,
                early_stopping=False,
                num_layers=1,
                seed=0,
            )

        def fit() -> Any:
            m = make().fit(candles)
            _block(m.params_)
            return m

        first, model = _timing.time_first_call(fit)
        warm = _timing.time_repeated(fit, s.train_repeats, warmup=0)
        state["forecaster"] = model
        metrics = getattr(model, "metrics_", None) or {}
        return {
            "available": True,
            "api": "LSTMForecaster(..., early_stopping=False).fit(candles)",
            "first_call_s": first,
            "compile_s": max(first - warm["median_s"], 0.0),
            "warm": warm,
            "final_train_loss": metrics.get("final_train_loss"),
            "epochs_run": metrics.get("epochs_run"),
        }

    _log("train: LSTMForecaster.fit")
    out["jax_forecaster"] = _guarded("train forecaster", wrapper)

    # -- PyTorch, same windows, same initial weights
    def torch_side(threads: int | None) -> dict[str, Any]:
        if not torch_lstm.available():
            return _unavailable("torch is not installed")
        times, losses, used = _torch_runs(
            s.hidden,
            params0,
            xs,
            ys,
            epochs=s.epochs,
            batch_size=s.batch_size,
            learning_rate=s.learning_rate,
            repeats=s.torch_repeats,
            threads=threads,
        )
        return {
            "available": True,
            "api": "nn.LSTM + nn.Linear, Adam, shuffled minibatches, float32, eager",
            "torch_version": torch_lstm.version(),
            "num_threads": used,
            "num_threads_is_default": threads is None and s.torch_threads is None,
            "first_call_s": times[0],
            "warm": _timing.summarize(times[1:]),
            "final_train_loss": losses[-1],
        }

    _log("train: torch (default threads)")
    out["torch"] = _guarded("train torch", lambda: torch_side(None))
    # One thread as well: on a shared machine PyTorch's OpenMP threads can stall waiting
    # for a core, so both figures are kept; the ratio uses the default.
    _log("train: torch (1 thread)")
    out["torch_1_thread"] = _guarded("train torch 1 thread", lambda: torch_side(1))
    out["ratio_torch_over_jax"] = _ratio(out["torch"], out["jax_functional"])
    out["ratio_torch_over_forecaster"] = _ratio(out["torch"], out["jax_forecaster"])
    out["ratio_torch1_over_jax"] = _ratio(out["torch_1_thread"], out["jax_functional"])
    ratios = [x for x in (out["ratio_torch_over_jax"], out["ratio_torch1_over_jax"]) if x is not None]
    # Against the faster PyTorch setting: the conservative comparison on a shared machine.
    out["ratio_best_torch_over_jax"] = min(ratios) if ratios else None

    # -- batch size 1 (the seed's per-sample loop), a few epochs, per-epoch times
    cfg1 = jl.TrainConfig(
        learning_rate=s.learning_rate, epochs=s.batch1_epochs, batch_size=1, patience=None, restore_best=s.restore_best
    )

    def batch1_jax() -> dict[str, Any]:
        run = lambda: _block(jl.train(key, params0, xs, ys, cfg1))
        first, _ = _timing.time_first_call(run)
        warm = _timing.time_repeated(run, s.batch1_repeats, warmup=0)
        return {
            "available": True,
            "epochs": s.batch1_epochs,
            "first_call_s": first,
            "warm": warm,
            "per_epoch_s": warm["median_s"] / s.batch1_epochs,
        }

    def batch1_torch(threads: int | None) -> dict[str, Any]:
        if not torch_lstm.available():
            return _unavailable("torch is not installed")
        times, _, used = _torch_runs(
            s.hidden,
            params0,
            xs,
            ys,
            epochs=s.batch1_epochs,
            batch_size=1,
            learning_rate=s.learning_rate,
            repeats=s.batch1_repeats,
            threads=threads,
        )
        warm = _timing.summarize(times[1:])
        return {
            "available": True,
            "epochs": s.batch1_epochs,
            "num_threads": used,
            "first_call_s": times[0],
            "warm": warm,
            "per_epoch_s": warm["median_s"] / s.batch1_epochs,
        }

    _log("train: batch size 1")
    b1: dict[str, Any] = {"epochs": s.batch1_epochs, "steps_per_epoch": int(xs.shape[0])}
    b1["jax_functional"] = _guarded("batch1 jax", batch1_jax)
    b1["torch"] = _guarded("batch1 torch", lambda: batch1_torch(None))
    b1["torch_1_thread"] = _guarded("batch1 torch 1 thread", lambda: batch1_torch(1))
    b1["ratio_torch_over_jax"] = _ratio(b1["torch"], b1["jax_functional"], key="per_epoch_s")
    b1["ratio_torch1_over_jax"] = _ratio(b1["torch_1_thread"], b1["jax_functional"], key="per_epoch_s")
    out["batch1"] = b1
    return out


def _torch_runs(
    hidden: int,
    params: Any,
    xs: Any,
    ys: Any,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    repeats: int,
    threads: int | None = None,
) -> tuple[list[float], list[float], int]:
    """A warm-up and ``repeats`` timed PyTorch trainings from the JAX initial weights.

    Returns ``(seconds per run, final loss per run, threads used)``; the warm-up is the
    first entry. ``threads`` sets PyTorch's thread count for these runs only (``None``: its
    default). Stops adding runs past ``TORCH_BUDGET_S`` once two have run, so a PyTorch
    stalled on a busy machine cannot hold up the benchmark.
    """
    import torch

    default_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        x_np, y_np = np.asarray(xs), np.asarray(ys)
        times, losses = [], []
        for r in range(repeats + 1):
            if r >= 2 and sum(times) > TORCH_BUDGET_S:
                break
            model = torch_lstm.build_model(hidden, jax_params=params)
            start = _timing.now()
            hist = torch_lstm.train(
                model, x_np, y_np, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=r
            )
            times.append(_timing.now() - start)
            losses.append(hist[-1])
        return times, losses, torch.get_num_threads()
    finally:
        torch.set_num_threads(default_threads)


def _ratio(slow: dict[str, Any], fast: dict[str, Any], key: str | None = None) -> float | None:
    """``slow / fast`` of two measurements' warm medians (or ``key``), ``None`` if either is missing."""
    try:
        if key is None:
            return slow["warm"]["median_s"] / fast["warm"]["median_s"]
        return slow[key] / fast[key]
    except (KeyError, TypeError, ZeroDivisionError):
        return None


# ---------------------------------------------------------------------------- 2. prediction


def _latency(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """First-call seconds and warm per-call latency of ``fn`` (which blocks on its result)."""
    first, _ = _timing.time_first_call(fn)
    number = _timing.calls_for(fn, target_s=0.05 if repeats > 2 else 0.01)
    warm = _timing.time_repeated(fn, repeats, number=number, warmup=1)
    return {"available": True, "first_call_s": first, "warm": warm}


def bench_predict(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """Warm forecast latency through the functional API, the wrapper, vmap and PyTorch."""
    import jax
    import jax.numpy as jnp

    import jaxlstm as jl

    if "params" not in state:
        prices, xs, ys = _scaled_windows(s.candles, s.window)
        state.update(
            prices=prices, xs=xs, ys=ys, params=jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=s.hidden))
        )
    params, xs, prices = state["params"], state["xs"], state["prices"]
    window = xs[-1:]
    out: dict[str, Any] = {"window": s.window, "hidden_size": s.hidden, "steps": list(s.predict_steps)}

    pms = jax.jit(jl.predict_multi_step, static_argnames="steps")
    functional: dict[str, Any] = {
        "api": 'jax.jit(predict_multi_step, static_argnames="steps")(params, window[1, T, 1], steps=k)'
    }
    for k in s.predict_steps:
        _log(f"predict: functional {k} steps")
        functional[f"steps_{k}"] = _guarded(
            f"predict functional {k}",
            lambda k=k: _latency(lambda: pms(params, window, steps=k).block_until_ready(), s.predict_repeats),
        )
    out["functional"] = functional
    options = getattr(jl, "COMPILER_OPTIONS", None)
    if options is not None:
        tuned_pms = jax.jit(jl.predict_multi_step, static_argnames="steps", compiler_options=options)
        tuned: dict[str, Any] = {
            "api": 'jax.jit(predict_multi_step, static_argnames="steps", compiler_options=jl.COMPILER_OPTIONS)'
        }
        for k in s.predict_steps:
            _log(f"predict: functional {k} steps, jl.COMPILER_OPTIONS")
            tuned[f"steps_{k}"] = _guarded(
                f"predict tuned {k}",
                lambda k=k: _latency(lambda: tuned_pms(params, window, steps=k).block_until_ready(), s.predict_repeats),
            )
        out["functional_tuned"] = tuned

    def wrapper() -> dict[str, Any]:
        cls, why = _forecaster_class()
        if cls is None:
            return _unavailable(why)
        model = state.get("forecaster")
        if model is None:
            model = cls(hidden_size=s.hidden, sequence_length=s.window, epochs=1, early_stopping=False).fit(
                _demo_candles(s.candles)
            )
            state["forecaster"] = model
        price_window = np.asarray(prices[-s.window :], np.float64)
        res: dict[str, Any] = {
            "available": True,
            "api": "LSTMForecaster.predict / predict_multi_step / forecast (numpy in, numpy out)",
        }
        res["predict_1"] = _latency(lambda: model.predict(price_window), s.predict_repeats)
        for k in s.predict_steps:
            if k == 1:
                continue
            res[f"steps_{k}"] = _latency(lambda k=k: model.predict_multi_step(price_window, k), s.predict_repeats)
        res["forecast_1d"] = _latency(lambda: model.forecast("1d"), s.predict_repeats)
        res["forecast_1d_steps"] = len(model.forecast("1d").predicted)
        return res

    _log("predict: wrapper")
    out["forecaster"] = _guarded("predict forecaster", wrapper)

    # -- many symbols at once
    n, k = s.multi_symbols, s.multi_steps
    windows = xs[-n:]  # [n, T, 1], one window per symbol
    multi: dict[str, Any] = {"symbols": n, "steps": k}

    def vmap_params() -> dict[str, Any]:
        stacked = jax.tree.map(lambda a: jnp.stack([a] * n), params)
        f = jax.jit(jax.vmap(jl.predict_multi_step, in_axes=(0, 0, None)), static_argnums=2)
        res = _latency(lambda: f(stacked, windows[:, None], k).block_until_ready(), s.predict_repeats)
        res["api"] = (
            "jax.jit(jax.vmap(predict_multi_step, in_axes=(0, 0, None))) over stacked params (one model per symbol)"
        )
        return res

    def batch_windows() -> dict[str, Any]:
        res = _latency(lambda: pms(params, windows, steps=k).block_until_ready(), s.predict_repeats)
        res["api"] = "predict_multi_step(params, windows[n, T, 1]) (one model, a batch of windows)"
        return res

    def predict_many() -> dict[str, Any]:
        if not hasattr(jl, "predict_many"):
            return _unavailable("jaxlstm.predict_many is absent")
        from jaxlstm._src import parallel

        stacked = jax.tree.map(lambda a: jnp.stack([a] * n), params)
        res = _latency(lambda: jl.predict_many(stacked, windows, k).block_until_ready(), s.predict_repeats)
        res["api"] = "jaxlstm.predict_many(stacked params, windows[n, T, 1], steps) (one model per symbol)"
        res["blocks"] = parallel.plan_blocks(None, n, windows.devices().pop().platform)._asdict()
        return res

    def forecast_many(target: str) -> dict[str, Any]:
        cls, why = _forecaster_class()
        if cls is None or not hasattr(cls, "forecast_many"):
            return _unavailable(why or "LSTMForecaster.forecast_many is absent")
        key = f"forecasters_{target}"
        if key not in state:
            close = _demo_candles(s.candles + n).close
            data = {f"S{i}": close[i : i + s.candles] for i in range(n)}
            state[key] = cls.fit_many(
                data, hidden_size=s.hidden, sequence_length=s.window, epochs=1, early_stopping=False, target=target
            )
        models = state[key]
        res = _latency(lambda: cls.forecast_many(models, steps=k), s.predict_repeats)
        res["api"] = (
            f"LSTMForecaster.forecast_many({n} fitted models, steps={k}) (target={target!r}; with band and timestamps)"
        )
        return res

    def wrapper_loop() -> dict[str, Any]:
        model = state.get("forecaster")
        if model is None:
            return _unavailable("no LSTMForecaster")
        pw = [np.asarray(prices[-s.window - i : len(prices) - i], np.float64) for i in range(n)]
        res = _latency(lambda: [model.predict_multi_step(w, k) for w in pw], s.predict_repeats)
        res["api"] = f"a Python loop of {n} LSTMForecaster.predict_multi_step calls on one model"
        return res

    _log("predict: many symbols")
    multi["vmap_params"] = _guarded("predict vmap", vmap_params)
    multi["batch_windows"] = _guarded("predict batch", batch_windows)
    multi["predict_many"] = _guarded("predict_many", predict_many)
    multi["forecast_many_relative"] = _guarded("forecast_many relative", lambda: forecast_many("relative"))
    multi["forecast_many_minmax"] = _guarded("forecast_many minmax", lambda: forecast_many("minmax"))
    multi["forecaster_loop"] = _guarded("predict wrapper loop", wrapper_loop)
    out["multi_symbol"] = multi

    def torch_side() -> dict[str, Any]:
        if not torch_lstm.available():
            return _unavailable("torch is not installed")
        import torch

        model = torch_lstm.build_model(s.hidden, jax_params=params)
        w_np = np.asarray(window)
        res: dict[str, Any] = {
            "available": True,
            "api": "eager nn.LSTM under inference_mode, Python loop over steps",
            "num_threads": torch.get_num_threads(),
        }
        for steps in s.predict_steps:
            res[f"steps_{steps}"] = _latency(
                lambda steps=steps: torch_lstm.predict_multi_step(model, w_np, steps), s.predict_repeats
            )
        wn = np.asarray(windows)
        res[f"batch_{n}x{k}"] = _latency(lambda: torch_lstm.predict_multi_step(model, wn, k), s.predict_repeats)
        return res

    _log("predict: torch")
    out["torch"] = _guarded("predict torch", torch_side)
    return out


# ---------------------------------------------------------------------------- 3. cold start

# Runs in a fresh interpreter: every phase is timed from the first line of the script.
_COLD_SCRIPT = r"""
import time
t0 = time.perf_counter()
import json, sys
path, cache = sys.argv[1], sys.argv[2]
import jax
if cache:
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
else:
    jax.config.update("jax_compilation_cache_dir", None)
t1 = time.perf_counter()
import jaxlstm
t2 = time.perf_counter()
model = jaxlstm.LSTMForecaster.load(path)
t3 = time.perf_counter()
fc = model.forecast("1d")
t4 = time.perf_counter()
fc = model.forecast("1d")
t5 = time.perf_counter()
print("COLD_START_JSON " + json.dumps({
    "import_jax_s": t1 - t0,
    "import_jaxlstm_s": t2 - t1,
    "load_s": t3 - t2,
    "first_forecast_s": t4 - t3,
    "second_forecast_s": t5 - t4,
    "compile_s": (t4 - t3) - (t5 - t4),
    "total_to_first_forecast_s": t4 - t0,
    "steps": int(len(fc.predicted)),
}))
"""

_COLD_KEYS = (
    "import_jax_s",
    "import_jaxlstm_s",
    "load_s",
    "first_forecast_s",
    "second_forecast_s",
    "compile_s",
    "total_to_first_forecast_s",
    "process_wall_s",
)


def _cold_launch(model_path: pathlib.Path, cache_dir: str) -> tuple[subprocess.Popen, float]:
    """Starts one cold-start process; ``cache_dir`` empty means no persistent cache."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    # The child configures the persistent cache itself (or turns it off): no outside
    # setting may leak in and change what is measured.
    env["JAXLSTM_COMPILATION_CACHE"] = "0"
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    start = _timing.now()
    proc = subprocess.Popen(
        [sys.executable, "-c", _COLD_SCRIPT, str(model_path), cache_dir],
        cwd=str(REPO_ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, start


def _cold_collect(launched: tuple[subprocess.Popen, float]) -> dict[str, Any]:
    """Waits for a process from ``_cold_launch`` and returns its phase timings."""
    proc, start = launched
    try:
        stdout, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError("cold-start process took more than 300 s") from None
    wall = _timing.now() - start
    line = next((l for l in stdout.splitlines() if l.startswith("COLD_START_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"cold-start process failed (rc={proc.returncode}): {stderr[-2000:]}")
    return {**json.loads(line.split(" ", 1)[1]), "process_wall_s": wall}


def _cold_process(model_path: pathlib.Path, cache_dir: str) -> dict[str, Any]:
    return _cold_collect(_cold_launch(model_path, cache_dir))


def _cold_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": runs,
        "median": {k: float(np.median([r[k] for r in runs])) for k in _COLD_KEYS},
    }


def bench_cold_start(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """New-process import + load + forecast("1d"), with and without the persistent cache."""
    cls, why = _forecaster_class()
    if cls is None:
        return _unavailable(why)
    if not hasattr(cls, "load") or not hasattr(cls, "save"):
        return _unavailable("LSTMForecaster has no save/load")
    model = state.get("forecaster")
    if model is None:
        model = cls(hidden_size=s.hidden, sequence_length=s.window, epochs=1, early_stopping=False).fit(
            _demo_candles(s.candles)
        )
    work = pathlib.Path(tempfile.mkdtemp(prefix="jaxlstm-bench-"))
    try:
        model_path = model.save(work / "model")
        cache_dir = work / "jax-cache"
        cache_dir.mkdir()
        out: dict[str, Any] = {
            "available": True,
            "model": {"hidden_size": s.hidden, "sequence_length": s.window, "saved_with": "LSTMForecaster.save"},
            "what": "python -c \"import jax; import jaxlstm; LSTMForecaster.load(path).forecast('1d')\" in a new process",
        }
        if s.quick:
            # Smoke run: the two processes that need no warm cache run side by side
            # (their timings disturb each other; quick numbers are not comparable anyway).
            _log("cold start: no cache and cache-filling processes together (--quick)")
            launched = [_cold_launch(model_path, ""), _cold_launch(model_path, str(cache_dir))]
            out["no_cache"] = _cold_summary([_cold_collect(launched[0])])
            out["cache_filling"] = _cold_summary([_cold_collect(launched[1])])
        else:
            _log("cold start: no cache")
            out["no_cache"] = _cold_summary([_cold_process(model_path, "") for _ in range(s.cold_repeats)])
            _log("cold start: cache, first process (fills the cache)")
            out["cache_filling"] = _cold_summary([_cold_process(model_path, str(cache_dir))])
        out["cache_entries"] = len([p for p in cache_dir.rglob("*") if p.is_file()])
        _log("cold start: cache, warm")
        out["cache_warm"] = _cold_summary([_cold_process(model_path, str(cache_dir)) for _ in range(s.cold_repeats)])
        try:
            out["cache_speedup_total"] = (
                out["no_cache"]["median"]["total_to_first_forecast_s"]
                / out["cache_warm"]["median"]["total_to_first_forecast_s"]
            )
        except ZeroDivisionError:
            out["cache_speedup_total"] = None
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------- 4. scaling


def _aot(lower: Callable[[], Any], compiler_options: dict[str, Any] | None = None) -> tuple[Any, float]:
    """Traces, lowers and compiles ahead of time; returns the executable and the seconds taken."""
    start = _timing.now()
    compiled = lower().compile(compiler_options)
    return compiled, _timing.now() - start


def _time_compiled(compiled: Any, args: tuple, repeats: int) -> dict[str, Any]:
    run = lambda: _block(compiled(*args))
    first, _ = _timing.time_first_call(run)
    warm = _timing.time_repeated(run, repeats, warmup=0)
    return {"first_run_s": first, "warm": warm}


def _scale_data(n_windows: int, window: int) -> tuple[Any, Any]:
    """``n_windows`` scaled windows of length ``window`` (candle count grows with the window)."""
    _, xs, ys = _scaled_windows(n_windows + window, window)
    return xs, ys


def _symbol_blocks(n_sym: int, epochs: int, args: tuple, lower: Callable[[tuple], Any], repeats: int) -> dict[str, Any]:
    """The same training split into blocks of a few symbols, run by one host thread per core.

    What ``train_many`` does by default on a CPU (``jaxlstm._src.parallel``); one block
    (a single core, or one symbol) reports the one-call figures.
    """
    import jax

    try:
        from jaxlstm._src import parallel
    except ImportError:
        return {"blocks": 1}
    plan = parallel.plan_blocks(None, n_sym, jax.default_backend())
    if plan.blocks == 1:
        return {"blocks": 1, "threads": plan.threads}
    padded, _ = parallel.pad_leading(args, plan.blocks, parallel.repeat_first)
    size = jax.tree.leaves(padded)[0].shape[0] // plan.blocks
    compiled, compile_s = _aot(lambda: lower(jax.tree.map(lambda a: a[:size], padded)))
    run = lambda: _block(parallel.run_blocks(lambda *block: compiled, padded, plan))
    first, _ = _timing.time_first_call(run)
    warm = _timing.time_repeated(run, repeats, warmup=0)
    return {
        "blocks": plan.blocks,
        "threads": plan.threads,
        "blocks_compile_s": compile_s,
        "blocks_warm": warm,
        "per_epoch_s_blocks": warm["median_s"] / epochs,
    }


def _block_size_sweep(s: Settings, lower: Callable[..., Any], xs1: Any, ys1: Any, model_cfg: Any) -> dict[str, Any]:
    """Time per model-epoch of ``s.sweep_symbols`` models split into blocks of each size.

    The blocks run on one thread per core, as ``train_many`` runs them; this is the curve
    behind ``parallel.MAX_BLOCK_SIZE``.
    """
    import jax
    import jax.numpy as jnp

    import jaxlstm as jl
    from jaxlstm._src import parallel

    n_sym, epochs = s.sweep_symbols, s.sweep_epochs
    cfg = jl.TrainConfig(learning_rate=s.learning_rate, epochs=epochs, batch_size=s.batch_size, patience=None)
    one_model = jl.init_params(jax.random.key(0), model_cfg)
    args = (
        jax.random.split(jax.random.key(1), n_sym),
        jax.tree.map(lambda a: jnp.tile(a[None], (n_sym,) + (1,) * a.ndim), one_model),
        jnp.tile(xs1[None], (n_sym, 1, 1, 1)),
        jnp.tile(ys1[None], (n_sym, 1, 1)),
        jnp.ones((n_sym, xs1.shape[0]), jnp.float32),
        jnp.zeros((n_sym, 0, *xs1.shape[1:]), jnp.float32),
        jnp.zeros((n_sym, 0, ys1.shape[-1]), jnp.float32),
        jnp.zeros((n_sym, 0), jnp.float32),
    )
    threads = parallel.plan_blocks(None, n_sym, jax.default_backend()).threads
    rows = []
    for size in s.sweep_block_sizes:
        if n_sym % size:
            continue
        plan = parallel.BlockPlan(n_sym // size, min(threads, n_sym // size))
        compiled, _ = _aot(lambda: lower(jax.tree.map(lambda a: a[:size], args), cfg))
        run = lambda: _block(parallel.run_blocks(lambda *block: compiled, args, plan))
        run()
        warm = _timing.time_repeated(run, s.scale_repeats, warmup=0)
        rows.append(
            {
                "block_size": size,
                "blocks": plan.blocks,
                "threads": plan.threads,
                "warm": warm,
                "per_model_epoch_s": warm["median_s"] / n_sym / epochs,
            }
        )
    return {"symbols": n_sym, "epochs_timed": epochs, "max_block_size": parallel.MAX_BLOCK_SIZE, "rows": rows}


def bench_scaling(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """Training time against symbols trained together, hidden size and sequence length."""
    import jax
    import jax.numpy as jnp

    import jaxlstm as jl
    from jaxlstm._src import training as train_lib

    out: dict[str, Any] = {"windows_per_model": s.scale_windows, "batch_size": s.batch_size}

    # -- symbols trained together
    try:
        from jaxlstm._src import stacked as multi

        lower = lambda args, cfg: multi.train_many_arrays.lower(*args, cfg=cfg, mesh=None)
        via = "jaxlstm._src.stacked (train_many's compiled core, mesh=None: one device, vmap)"
    except ImportError:
        vmapped = jax.jit(
            lambda cfg, *a: jax.vmap(lambda *one: train_lib.train_arrays(*one, cfg))(*a), static_argnums=0
        )
        lower = lambda args, cfg: vmapped.lower(cfg, *args)
        via = "jax.jit(jax.vmap(train.train_arrays)) with cfg static (jaxlstm._src.stacked absent)"

    xs1, ys1 = _scale_data(s.scale_windows, s.window)
    model_cfg = jl.LSTMConfig(hidden_size=s.hidden)
    rows = []
    for n_sym, epochs in zip(s.scale_symbols, s.scale_symbol_epochs):
        _log(f"scaling: {n_sym} symbols, {epochs} epochs")

        def one(n_sym: int = n_sym, epochs: int = epochs) -> dict[str, Any]:
            cfg = jl.TrainConfig(learning_rate=s.learning_rate, epochs=epochs, batch_size=s.batch_size, patience=None)
            # One initialisation copied to every symbol: the values do not change the cost,
            # and initialising 1000 models would take longer than training them for an epoch.
            one_model = jl.init_params(jax.random.key(0), model_cfg)
            params = jax.tree.map(lambda a: jnp.tile(a[None], (n_sym,) + (1,) * a.ndim), one_model)
            args = (
                jax.random.split(jax.random.key(1), n_sym),
                params,
                jnp.tile(xs1[None], (n_sym, 1, 1, 1)),
                jnp.tile(ys1[None], (n_sym, 1, 1)),
                jnp.ones((n_sym, xs1.shape[0]), jnp.float32),
                jnp.zeros((n_sym, 0, *xs1.shape[1:]), jnp.float32),
                jnp.zeros((n_sym, 0, ys1.shape[-1]), jnp.float32),
                jnp.zeros((n_sym, 0), jnp.float32),
            )
            compiled, compile_s = _aot(lambda: lower(args, cfg))
            repeats = s.scale_repeats if n_sym <= 100 else 1
            timing = _time_compiled(compiled, args, repeats)
            per_epoch = timing["warm"]["median_s"] / epochs
            blocks = _symbol_blocks(n_sym, epochs, args, lambda a: lower(a, cfg), repeats)
            blocks.setdefault("per_epoch_s_blocks", per_epoch)
            return {
                **blocks,
                "epochs_timed": epochs,
                "compile_s": compile_s,
                **timing,
                "per_epoch_s": per_epoch,
                "per_model_epoch_s": per_epoch / n_sym,
                "est_100_epochs_s": per_epoch * 100,
                "params_per_model": _param_count(jax.tree.map(lambda a: a[0], params)),
                "memory": _memory_stats(compiled),
            }

        rows.append({"symbols": n_sym, **_guarded(f"scaling symbols {n_sym}", one)})
    base = next((r for r in rows if r.get("symbols") == 1 and "per_epoch_s" in r), None)
    for r in rows:
        if base is not None and "per_epoch_s" in r:
            r["speedup_vs_one_at_a_time"] = base["per_epoch_s"] * r["symbols"] / r["per_epoch_s"]
            r["speedup_vs_one_at_a_time_blocks"] = base["per_epoch_s"] * r["symbols"] / r["per_epoch_s_blocks"]
    out["symbols"] = {"via": via, "rows": rows}
    _log("scaling: block size sweep")
    out["block_sizes"] = _guarded("scaling block sizes", lambda: _block_size_sweep(s, lower, xs1, ys1, model_cfg))

    # -- hidden size and sequence length, one model, jax and torch per epoch
    def single(hidden: int, window: int) -> dict[str, Any]:
        xs, ys = _scale_data(s.scale_windows, window)
        cfg = jl.TrainConfig(
            learning_rate=s.learning_rate,
            epochs=s.scale_epochs,
            batch_size=s.batch_size,
            patience=None,
            restore_best=s.restore_best,
        )
        params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=hidden))
        w = jnp.ones((xs.shape[0],), jnp.float32)
        xv, yv, wv = (
            jnp.zeros((0, window, 1), jnp.float32),
            jnp.zeros((0, 1), jnp.float32),
            jnp.zeros((0,), jnp.float32),
        )
        args = (jax.random.key(1), params, xs, ys, w, xv, yv, wv)
        if s.quick:
            # Called the way ``train`` calls it, so with the quick sizes it reuses the
            # program the seed run compiled; a memory analysis would need a second compile.
            run = lambda: _block(train_lib._train_jit(*args, cfg, None))
            first, _ = _timing.time_first_call(run)
            timing = {"first_run_s": first, "warm": _timing.time_repeated(run, s.scale_repeats, warmup=0)}
            compile_s = max(first - timing["warm"]["median_s"], 0.0)
            memory = _unavailable("not analysed in --quick (it needs a second compile)")
        else:
            compiled, compile_s = _aot(lambda: train_lib._train_jit.lower(*args, cfg=cfg, callback=None))
            timing = _time_compiled(compiled, args, s.scale_repeats)
            memory = _memory_stats(compiled)
        row: dict[str, Any] = {
            "hidden_size": hidden,
            "sequence_length": window,
            "params": _param_count(params),
            "epochs_timed": s.scale_epochs,
            "compile_s": compile_s,
            **timing,
            "jax_per_epoch_s": timing["warm"]["median_s"] / s.scale_epochs,
            "memory": memory,
        }
        if torch_lstm.available():
            times, _, _ = _torch_runs(
                hidden,
                params,
                xs,
                ys,
                epochs=s.torch_scale_epochs,
                batch_size=s.batch_size,
                learning_rate=s.learning_rate,
                repeats=s.torch_scale_repeats,
            )
            row["torch_epochs_timed"] = s.torch_scale_epochs
            row["torch_warm"] = _timing.summarize(times[1:])
            row["torch_per_epoch_s"] = row["torch_warm"]["median_s"] / s.torch_scale_epochs
            row["torch_over_jax"] = row["torch_per_epoch_s"] / row["jax_per_epoch_s"]
        return row

    hidden_rows = []
    for h in s.scale_hidden:
        _log(f"scaling: hidden {h}")
        hidden_rows.append({"hidden_size": h, **_guarded(f"scaling hidden {h}", lambda h=h: single(h, s.window))})
    out["hidden"] = {"sequence_length": s.window, "rows": hidden_rows}
    seq_rows = []
    for L in s.scale_sequence:
        same = next((r for r in hidden_rows if r.get("hidden_size") == s.hidden and s.window == L), None)
        if same is not None:
            # The identical configuration was just measured: a second compile would hit
            # JAX's in-memory cache and report a meaningless compile time.
            seq_rows.append({**same, "sequence_length": L, "same_run_as": f"hidden_size={s.hidden} row"})
            continue
        _log(f"scaling: sequence {L}")
        seq_rows.append({"sequence_length": L, **_guarded(f"scaling sequence {L}", lambda L=L: single(s.hidden, L))})
    out["sequence"] = {"hidden_size": s.hidden, "rows": seq_rows}
    return out


# ---------------------------------------------------------------------------- 5. profile


def _apply_hoisted(params: Any, xs: Any) -> Any:
    """``model.apply`` with each layer's input projection done for all steps before the scan."""
    import jax
    import jax.numpy as jnp

    hidden = params["layers"][0]["b"].shape[-1] // 4
    inp = jnp.moveaxis(xs, -2, 0)
    for layer in params["layers"]:
        w_h, w_x = layer["w"][:hidden], layer["w"][hidden:]
        zx = inp @ w_x + layer["b"]

        def step(carry: Any, z_t: Any, w_h: Any = w_h) -> tuple[Any, Any]:
            h, c = carry
            f, i, g, o = jnp.split(h @ w_h + z_t, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        zeros = jnp.zeros(zx.shape[1:-1] + (hidden,), xs.dtype)
        (h, _), inp = jax.lax.scan(step, (zeros, zeros), zx)
    return h @ params["head"]["w"] + params["head"]["b"]


def _apply_custom_vjp() -> Callable[[Any, Any], Any]:
    """``model.apply`` whose LSTM layers have a hand-written backward pass.

    The backward scan carries only ``dh`` and ``dc`` and emits each step's gate
    gradient; every step-independent factor is computed for all steps before it, and
    the weight gradient is one matmul over all steps instead of one per step.
    """
    import jax
    import jax.numpy as jnp

    def forward(w: Any, b: Any, xs_tm: Any) -> tuple[Any, Any, Any]:
        hidden = b.shape[-1] // 4

        def step(carry: Any, x_t: Any) -> tuple[Any, Any]:
            h, c = carry
            f, i, g, o = jnp.split(jnp.concatenate([h, x_t], -1) @ w + b, 4, axis=-1)
            f, i, g, o = jax.nn.sigmoid(f), jax.nn.sigmoid(i), jnp.tanh(g), jax.nn.sigmoid(o)
            c = f * c + i * g
            h = o * jnp.tanh(c)
            return (h, c), (h, c, jnp.concatenate([f, i, g, o], -1))

        zeros = jnp.zeros(xs_tm.shape[1:-1] + (hidden,), xs_tm.dtype)
        _, out = jax.lax.scan(step, (zeros, zeros), xs_tm)
        return out

    @jax.custom_vjp
    def layer(w: Any, b: Any, xs_tm: Any) -> Any:
        return forward(w, b, xs_tm)[0]

    def layer_fwd(w: Any, b: Any, xs_tm: Any) -> tuple[Any, Any]:
        hs, cs, acts = forward(w, b, xs_tm)
        return hs, (w, xs_tm, hs, cs, acts)

    def layer_bwd(res: Any, dhs: Any) -> tuple[Any, Any, Any]:
        w, xs_tm, hs, cs, acts = res
        n = hs.shape[-1]
        zero = jnp.zeros_like(hs[:1])
        h_prev = jnp.concatenate([zero, hs[:-1]], 0)
        c_prev = jnp.concatenate([zero, cs[:-1]], 0)
        f, i, g, o = jnp.split(acts, 4, axis=-1)
        tc = jnp.tanh(cs)
        # dz_f, dz_i, dz_g = dc * (first three factors); dz_o = dh * (fourth);
        # dc gains dh * (fifth) and hands dc * f back to the previous step.
        coef = jnp.concatenate(
            [c_prev * f * (1 - f), g * i * (1 - i), i * (1 - g * g), tc * o * (1 - o), o * (1 - tc * tc), f], -1
        )
        w_h_t = w[:n].T

        def step(carry: Any, inp: Any) -> tuple[Any, Any]:
            dh_rec, dc_in = carry
            dh_out, k = inp
            dh = dh_out + dh_rec
            dc = dc_in + dh * k[..., 4 * n : 5 * n]
            dz = jnp.concatenate([jnp.concatenate([dc, dc, dc], -1) * k[..., : 3 * n], dh * k[..., 3 * n : 4 * n]], -1)
            return (dz @ w_h_t, dc * k[..., 5 * n :]), dz

        _, dzs = jax.lax.scan(step, (zero[0], zero[0]), (dhs, coef), reverse=True)
        dw = jnp.einsum("tbk,tbg->kg", jnp.concatenate([h_prev, xs_tm], -1), dzs)
        db = jnp.sum(dzs, axis=tuple(range(dzs.ndim - 1)))
        return dw, db, dzs @ w[n:].T

    layer.defvjp(layer_fwd, layer_bwd)

    def apply(params: Any, xs: Any) -> Any:
        inp = jnp.moveaxis(xs, -2, 0)
        for lp in params["layers"]:
            inp = layer(lp["w"], lp["b"], inp)
        return inp[-1] @ params["head"]["w"] + params["head"]["b"]

    return apply


def _variant_loop(
    apply_fn: Callable[[Any, Any], Any],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    *,
    prepermute: bool = False,
    flat: bool = False,
    donate: bool = False,
) -> Any:
    """A jitted ``epochs``-epoch training loop (no early stopping) built from the given pieces.

    The reference is what ``train.train_arrays`` did per step before any change:
    params as a tree, one gather of the minibatch rows per step. Each variant changes
    one thing.
    """
    import jax
    import jax.numpy as jnp
    import optax
    from jax.flatten_util import ravel_pytree

    optimizer = optax.adam(learning_rate)

    def run(key: Any, params: Any, xs: Any, ys: Any) -> Any:
        unravel = lambda p: p
        if flat:
            params, unravel = ravel_pytree(params)

        def loss_fn(p: Any, x: Any, y: Any, w: Any) -> Any:
            err = jnp.mean(jnp.square(apply_fn(unravel(p), x) - y), axis=-1)
            return jnp.sum(w * err) / jnp.maximum(jnp.sum(w), 1e-12)

        n = xs.shape[0]
        bs = min(batch_size, n)
        nb = math.ceil(n / bs)
        pad = nb * bs - n
        real = jnp.concatenate([jnp.ones((n,), xs.dtype), jnp.zeros((pad,), xs.dtype)])

        def update(carry: Any, x: Any, y: Any, w: Any) -> tuple[Any, Any]:
            p, o = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, x, y, w)
            updates, o = optimizer.update(grads, o, p)
            return (optax.apply_updates(p, updates), o), loss * jnp.sum(w)

        def epoch(e: Any, carry: Any) -> Any:
            order = jax.random.permutation(jax.random.fold_in(key, e), n)
            order = jnp.concatenate([order, jnp.zeros((pad,), order.dtype)])
            bw = real.reshape(nb, bs)
            if prepermute:
                bx = xs[order].reshape(nb, bs, *xs.shape[1:])
                by = ys[order].reshape(nb, bs, *ys.shape[1:])
                body = lambda c, b: update(c, *b)
                (p, o), _ = jax.lax.scan(body, carry, (bx, by, bw))
            else:
                body = lambda c, b: update(c, xs[b[0]], ys[b[0]], b[1])
                (p, o), _ = jax.lax.scan(body, carry, (order.reshape(nb, bs), bw))
            return p, o

        p, _ = jax.lax.fori_loop(0, epochs, epoch, (params, optimizer.init(params)))
        return unravel(p)

    return jax.jit(run, donate_argnums=(1,) if donate else ())


def _arithmetic_rate(s: Settings, breakdown: dict[str, Any], repeats: int) -> dict[str, Any]:
    """FLOP of one loss-and-gradient step per second, next to a large matmul's on the same CPU.

    The step's FLOP are counted by hand (XLA's cost analysis counts a loop body once):
    per time step the gate matmul ``[B, H + 1] x [H + 1, 4H]`` runs forward, and twice
    backward (the weight gradient and the gradient of ``[h, x]``); the elementwise gate
    math and the head are left out, so this is a lower bound.
    """
    import jax
    import jax.numpy as jnp

    batch, hidden, window = s.batch_size, s.hidden, s.window
    flop = 3 * 2 * batch * (hidden + 1) * 4 * hidden * window
    step = _get(breakdown, "loss_and_gradient", "warm", "median_s")
    n = 1024
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    timing = _latency(lambda: matmul(a, a).block_until_ready(), repeats)
    return {
        "step_matmul_flop": flop,
        "step_gflops_per_s": flop / step / 1e9 if step else None,
        "matmul_size": n,
        "matmul_gflops_per_s": 2 * n**3 / timing["warm"]["median_s"] / 1e9,
    }


def bench_profile(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """Timing variants of the seed configuration's training step, and where a step's time goes."""

    import jax
    import jax.numpy as jnp
    import optax

    import jaxlstm as jl
    from jaxlstm._src import training as train_lib

    _, xs, ys = _scaled_windows(s.candles, s.window)
    params0 = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=s.hidden))
    epochs, lr, bs = s.profile_epochs, s.learning_rate, s.batch_size
    steps = epochs * torch_lstm.steps_per_epoch(int(xs.shape[0]), bs)
    key = jax.random.key(1)
    out: dict[str, Any] = {"epochs_timed": epochs, "steps_timed": steps, "repeats": s.profile_repeats}

    # -- where one minibatch step's time goes (batch of bs windows, jitted, warm)
    x_b, y_b, w_b = xs[:bs], ys[:bs], jnp.ones((min(bs, xs.shape[0]),), jnp.float32)
    opt = optax.adam(lr)
    opt_state = opt.init(params0)
    parts = {
        "forward": (jax.jit(jl.apply), (params0, x_b)),
        "loss_and_gradient": (jax.jit(jax.value_and_grad(jl.mse_loss)), (params0, x_b, y_b, w_b)),
        "train_step_with_adam": (jax.jit(functools.partial(jl.train_step, opt)), (params0, opt_state, x_b, y_b, w_b)),
    }
    out["step_breakdown"] = {
        name: _guarded(f"profile {name}", lambda f=f, a=a: _latency(lambda: _block(f(*a)), s.profile_repeats))
        for name, (f, a) in parts.items()
    }
    out["arithmetic"] = _guarded(
        "profile arithmetic", lambda: _arithmetic_rate(s, out["step_breakdown"], s.profile_repeats)
    )

    # -- whole-loop variants, each changing one thing against the reference
    apply_cvjp = _apply_custom_vjp()
    specs: dict[str, tuple[str, Callable[[], Any]]] = {
        "reference": ("params as a tree, gather per step, unroll 1", lambda: _variant_loop(jl.apply, epochs, bs, lr)),
        "unroll_2": (
            "lax.scan unroll=2 over time",
            lambda: _variant_loop(functools.partial(jl.apply, unroll=2), epochs, bs, lr),
        ),
        "unroll_4": (
            "lax.scan unroll=4 over time",
            lambda: _variant_loop(functools.partial(jl.apply, unroll=4), epochs, bs, lr),
        ),
        "unroll_full": (
            "time loop fully unrolled",
            lambda: _variant_loop(functools.partial(jl.apply, unroll=True), epochs, bs, lr),
        ),
        "hoisted_input_projection": (
            "x @ W_x for all steps before the scan",
            lambda: _variant_loop(_apply_hoisted, epochs, bs, lr),
        ),
        "pre_permuted_batches": (
            "one gather per epoch instead of one per step",
            lambda: _variant_loop(jl.apply, epochs, bs, lr, prepermute=True),
        ),
        "donated_params": (
            "params buffer donated to the jitted loop",
            lambda: _variant_loop(jl.apply, epochs, bs, lr, donate=True),
        ),
        "flat_params": (
            "params raveled to one vector: one Adam update",
            lambda: _variant_loop(jl.apply, epochs, bs, lr, flat=True),
        ),
        "custom_vjp": (
            "hand-written backward pass, weight gradient hoisted",
            lambda: _variant_loop(apply_cvjp, epochs, bs, lr),
        ),
        "vector_width_512": (
            "compiled with xla_cpu_prefer_vector_width=512 (as the library compiles training and forecasts)",
            lambda: _variant_loop(jl.apply, epochs, bs, lr),
        ),
    }
    options = {"vector_width_512": {"xla_cpu_prefer_vector_width": 512}}
    compiled: dict[str, Any] = {}
    variants: dict[str, Any] = {}
    for name, (what, build) in specs.items():
        _log(f"profile: compile {name}")
        try:
            exe, compile_s = _aot(lambda build=build: build().lower(key, params0, xs, ys), options.get(name))
            compiled[name] = exe
            variants[name] = {"what": what, "compile_s": compile_s, "runs_s": []}
        except Exception as err:  # a variant that fails to build is reported, not fatal
            variants[name] = _unavailable(f"error: {err!r}")
    cfg = jl.TrainConfig(learning_rate=lr, epochs=epochs, batch_size=bs, patience=None)
    lib_args = (
        key,
        params0,
        xs,
        ys,
        jnp.ones((xs.shape[0],), jnp.float32),
        jnp.zeros((0, *xs.shape[1:]), jnp.float32),
        jnp.zeros((0, ys.shape[-1]), jnp.float32),
        jnp.zeros((0,), jnp.float32),
    )
    _log("profile: compile library")
    lib_exe, compile_s = _aot(lambda: train_lib._train_jit.lower(*lib_args, cfg=cfg, callback=None))
    variants["library"] = {
        "what": "jaxlstm's train_arrays as it is now (with early-stopping bookkeeping)",
        "compile_s": compile_s,
        "runs_s": [],
    }
    reference_out = None
    for name, exe in compiled.items():
        fresh = jax.tree.map(jnp.copy, params0)  # a donated buffer must not be params0 itself
        res = _block(exe(key, fresh, xs, ys))
        if name == "reference":
            reference_out = res
        elif reference_out is not None:
            variants[name]["max_abs_param_diff_vs_reference"] = max(
                float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(res), jax.tree.leaves(reference_out))
            )
    _block(lib_exe(*lib_args))
    # Interleaved repeats, so a burst of load from other work hits every variant alike.
    for _ in range(s.profile_repeats):
        for name, v_exe in [*compiled.items(), ("library", lib_exe)]:
            call_args = lib_args if name == "library" else (key, jax.tree.map(jnp.copy, params0), xs, ys)
            _block(call_args)
            start = _timing.now()
            _block(v_exe(*call_args))
            variants[name]["runs_s"].append(_timing.now() - start)
    for name, v in variants.items():
        if v.get("runs_s"):
            v.update(_timing.summarize(v.pop("runs_s")))
            v["per_step_median_s"] = v["median_s"] / steps
            v["per_step_min_s"] = v["min_s"] / steps
    base = variants.get("reference", {})
    for name, v in variants.items():
        if "min_s" in v and "min_s" in base:
            v["min_vs_reference"] = v["min_s"] / base["min_s"]
            v["median_vs_reference"] = v["median_s"] / base["median_s"]
    out["variants"] = variants
    return out


# ---------------------------------------------------------------------------- targets


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _symbols_row(results: dict[str, Any], symbols: int, key: str) -> Any:
    rows = _get(results, "scaling", "symbols", "rows") or []
    row = next((r for r in rows if r.get("symbols") == symbols), None)
    return None if row is None else row.get(key)


def _symbols_speedup(results: dict[str, Any], symbols: int) -> float | None:
    return _symbols_row(results, symbols, "speedup_vs_one_at_a_time_blocks")


def _symbols_time_ratio(results: dict[str, Any], symbols: int) -> float | None:
    many, one = _symbols_row(results, symbols, "per_epoch_s"), _symbols_row(results, 1, "per_epoch_s")
    return None if many is None or one is None else many / one


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The reference goals next to this run's measurements (quick runs use other sizes)."""
    tr, pr = results.get("train", {}), results.get("predict", {})
    rows = [
        (
            "seed config trains (warm, functional)",
            "seed_train_warm_s",
            _get(tr, "jax_functional", "warm", "median_s"),
            "le",
        ),
        (
            "seed config compiles (first call - warm)",
            "seed_train_compile_s",
            _get(tr, "jax_functional", "compile_s"),
            "le",
        ),
        (
            "faster PyTorch setting / JAX, seed config",
            "torch_over_jax_train",
            _get(tr, "ratio_best_torch_over_jax"),
            "ge",
        ),
        (
            "one-step prediction (functional, warm)",
            "predict_1_step_s",
            _get(pr, "functional", "steps_1", "warm", "median_s"),
            "le",
        ),
        (
            "24-step prediction (functional, warm)",
            "predict_24_steps_s",
            _get(pr, "functional", "steps_24", "warm", "median_s"),
            "le",
        ),
        (
            "24-step prediction (functional with `jl.COMPILER_OPTIONS`, warm)",
            "predict_24_steps_s",
            _get(pr, "functional_tuned", "steps_24", "warm", "median_s"),
            "le",
        ),
        (
            "10 symbols x 168 steps (`jl.predict_many`, warm)",
            "predict_10x168_s",
            _get(pr, "multi_symbol", "predict_many", "warm", "median_s"),
            "le",
        ),
        (
            "10 symbols x 168 steps (`forecast_many`, relative target)",
            "predict_10x168_s",
            _get(pr, "multi_symbol", "forecast_many_relative", "warm", "median_s"),
            "le",
        ),
        (
            "10 symbols x 168 steps (`forecast_many`, min-max target)",
            "predict_10x168_s",
            _get(pr, "multi_symbol", "forecast_many_minmax", "warm", "median_s"),
            "le",
        ),
        (
            "10 symbols trained together, throughput vs one at a time",
            "multi_10_throughput",
            _symbols_speedup(results, 10),
            "ge",
        ),
    ]
    if _get(results, "machine", "jax_backend") == "gpu":
        rows += [
            ("GPU: 10 symbols / 1 symbol, time per epoch", "gpu_10_over_1", _symbols_time_ratio(results, 10), "le"),
            (
                "GPU: 1,000 symbols x 100 epochs (from the timed epochs)",
                "gpu_1000_symbols_s",
                _symbols_row(results, 1000, "est_100_epochs_s"),
                "le",
            ),
        ]
    out = []
    for label, key, value, op in rows:
        goal = TARGETS[key]
        met = None if value is None else (value <= goal if op == "le" else value >= goal)
        out.append({"what": label, "key": key, "goal": goal, "direction": op, "measured": value, "met": met})
    return out


# ---------------------------------------------------------------------------- markdown


def _fmt_t(x: Any) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    if x >= 1:
        return f"{x:.2f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.1f} us"


def _fmt_x(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.2f}x"


def _fmt_b(x: Any) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if x < 1024 or unit == "GiB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return str(x)


def _na(d: Any) -> str | None:
    """The reason a measurement is missing, or ``None`` when it is there."""
    if not isinstance(d, dict):
        return "not measured"
    if d.get("skipped"):
        return "skipped"
    if d.get("available") is False:
        return f"not available ({d.get('reason', '')})"
    return None


def render_markdown(r: dict[str, Any]) -> str:
    """``bench.md`` from the results dict alone (so every number traces back to the JSON)."""
    m = r["machine"]
    lines = [
        "# jaxlstm benchmarks",
        "",
        f"Run {r['started_at']} ({'QUICK smoke run: tiny sizes, not comparable to the targets' if r['quick'] else 'full run'}),"
        f" {r['duration_s']:.0f} s. Times are medians of several runs on this machine; raw runs are in `bench.json`.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m.get('cpu_model')} ({', '.join(m.get('cpu_flags') or []) or 'flags n/a'}) |",
        f"| cores | {m.get('logical_cores')} logical, {m.get('usable_cores')} usable by this process |",
        f"| load average (1/5/15 min) | start {m.get('load_average_at_start')}, end {r.get('load_average_at_end')} |",
        f"| JAX backend | {m.get('jax_backend')} {m.get('jax_devices')} |",
        "| versions | " + ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items()) + " |",
        f"| torch threads | {m.get('torch_num_threads')} by default; this run: "
        f"{'the default' if r['settings'].get('torch_threads') is None else r['settings'].get('torch_threads')} |",
        f"| persistent compilation cache in this process | {r.get('in_process_compilation_cache')} |",
        "",
        "A load average above the core count means other work shared the CPU during the run.",
        "",
    ]

    tr = r.get("train", {})
    lines += ["## 1. Training, seed configuration", ""]
    if _na(tr):
        lines += [f"Training: {_na(tr)}.", ""]
    else:
        c = tr["config"]
        lines += [
            f"{c['candles']} demo candles, min-max scaled, {c['windows']} windows of {c['window']}, hidden {c['hidden_size']}, "
            f"Adam {c['learning_rate']:g}, {c['epochs']} epochs x {c['steps_per_epoch']} steps of batch {c['batch_size']}, "
            f"no early stopping, no validation split, float32 ({c['params']} params).",
            "",
            "| path | first call (compile + run) | compile | warm median | warm min | runs | final train loss |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, label in (
            ("jax_functional", "JAX `train()`"),
            ("jax_forecaster", "JAX `LSTMForecaster.fit`"),
            ("torch", "PyTorch eager, default threads"),
            ("torch_1_thread", "PyTorch eager, 1 thread"),
        ):
            d = tr.get(key)
            if _na(d):
                lines.append(f"| {label} | {_na(d)} | | | | | |")
                continue
            loss = d.get("final_train_loss")
            lines.append(
                f"| {label} | {_fmt_t(d.get('first_call_s'))} | {_fmt_t(d.get('compile_s')) if 'compile_s' in d else '(no compile)'} | "
                f"{_fmt_t(d['warm']['median_s'])} | {_fmt_t(d['warm']['min_s'])} | {len(d['warm']['runs_s'])} | "
                f"{'n/a' if loss is None else f'{loss:.3g}'} |"
            )
        threads = _get(tr, "torch", "num_threads")
        lines += [
            "",
            f"Ratios of warm medians: PyTorch ({threads} threads{', its default' if _get(tr, 'torch', 'num_threads_is_default') else ''}) / JAX `train()` = {_fmt_x(tr.get('ratio_torch_over_jax'))};"
            f" PyTorch (1 thread) / JAX `train()` = {_fmt_x(tr.get('ratio_torch1_over_jax'))};"
            f" PyTorch ({threads} threads) / `LSTMForecaster.fit` = {_fmt_x(tr.get('ratio_torch_over_forecaster'))}.",
        ]
        b1 = tr.get("batch1", {})
        lines += [
            "",
            f"Batch size 1 (the seed's per-sample loop), timed over {b1.get('epochs')} epochs of {b1.get('steps_per_epoch')} steps"
            " and reported per epoch:",
            "",
            "| path | first call | per epoch (warm median) | per epoch (warm min) |",
            "|---|---|---|---|",
        ]
        for key, label in (
            ("jax_functional", "JAX `train()`"),
            ("torch", "PyTorch eager, default threads"),
            ("torch_1_thread", "PyTorch eager, 1 thread"),
        ):
            d = b1.get(key)
            if _na(d):
                lines.append(f"| {label} | {_na(d)} | | |")
                continue
            lines.append(
                f"| {label} | {_fmt_t(d.get('first_call_s'))} | {_fmt_t(d.get('per_epoch_s'))} | "
                f"{_fmt_t(d['warm']['min_s'] / b1['epochs'])} |"
            )
        lines += [
            "",
            f"Ratios of per-epoch medians: PyTorch (default threads) / JAX = {_fmt_x(b1.get('ratio_torch_over_jax'))};"
            f" PyTorch (1 thread) / JAX = {_fmt_x(b1.get('ratio_torch1_over_jax'))}.",
            "",
        ]

    pr = r.get("predict", {})
    lines += ["## 2. Prediction latency (warm)", ""]
    if _na(pr):
        lines += [f"Prediction: {_na(pr)}.", ""]
    else:
        lines += [
            f"One window of {pr['window']} scaled prices, hidden {pr['hidden_size']}; each call blocks until the result is ready.",
            "",
            "| path | steps | warm median | warm min | first call (compile + run) |",
            "|---|---|---|---|---|",
        ]
        for key, label in (
            ("functional", "JAX functional, jitted"),
            ("functional_tuned", "JAX functional, jitted with `jl.COMPILER_OPTIONS`"),
        ):
            fn = pr.get(key)
            if fn is None:
                continue
            for k in pr["steps"]:
                d = fn.get(f"steps_{k}")
                if _na(d):
                    lines.append(f"| {label} | {k} | {_na(d)} | | |")
                else:
                    lines.append(
                        f"| {label} | {k} | {_fmt_t(d['warm']['median_s'])} | {_fmt_t(d['warm']['min_s'])} | {_fmt_t(d['first_call_s'])} |"
                    )
        fw = pr.get("forecaster")
        if _na(fw):
            lines.append(f"| `LSTMForecaster` | - | {_na(fw)} | | |")
        else:
            for key, steps, label in (
                [("predict_1", 1, "`LSTMForecaster.predict`")]
                + [(f"steps_{k}", k, "`LSTMForecaster.predict_multi_step`") for k in pr["steps"] if k != 1]
                + [
                    (
                        "forecast_1d",
                        fw.get("forecast_1d_steps"),
                        '`LSTMForecaster.forecast("1d")` (with band, timestamps)',
                    )
                ]
            ):
                d = fw.get(key)
                if isinstance(d, dict) and "warm" in d:
                    lines.append(
                        f"| {label} | {steps} | {_fmt_t(d['warm']['median_s'])} | {_fmt_t(d['warm']['min_s'])} | {_fmt_t(d['first_call_s'])} |"
                    )
        tp = pr.get("torch")
        if _na(tp):
            lines.append(f"| PyTorch eager | - | {_na(tp)} | | |")
        else:
            for k in pr["steps"]:
                d = tp.get(f"steps_{k}")
                lines.append(
                    f"| PyTorch eager | {k} | {_fmt_t(d['warm']['median_s'])} | {_fmt_t(d['warm']['min_s'])} | {_fmt_t(d['first_call_s'])} |"
                )
        ms = pr.get("multi_symbol", {})
        n, k = ms.get("symbols"), ms.get("steps")
        lines += [
            "",
            f"{n} symbols x {k} steps at once. `predict_many` and `forecast_many` split the symbols into"
            " blocks run by one host thread per core; the vmap rows are one call on one core:",
            "",
            "| path | warm median | warm min | first call |",
            "|---|---|---|---|",
        ]
        for key, label in (
            ("predict_many", "`jl.predict_many` (one model per symbol, min-max inputs)"),
            ("vmap_params", "`jax.jit(jax.vmap(predict_multi_step))`, one call"),
            ("batch_windows", "one model, batch of windows, one call"),
            ("forecast_many_relative", "`LSTMForecaster.forecast_many`, relative target (default)"),
            ("forecast_many_minmax", "`LSTMForecaster.forecast_many`, min-max target"),
            ("forecaster_loop", "`LSTMForecaster.predict_multi_step` loop"),
        ):
            d = ms.get(key)
            if _na(d):
                lines.append(f"| {label} | {_na(d)} | | |")
            else:
                lines.append(
                    f"| {label} | {_fmt_t(d['warm']['median_s'])} | {_fmt_t(d['warm']['min_s'])} | {_fmt_t(d['first_call_s'])} |"
                )
        if not _na(tp) and f"batch_{n}x{k}" in tp:
            d = tp[f"batch_{n}x{k}"]
            lines.append(
                f"| PyTorch eager, batch of windows | {_fmt_t(d['warm']['median_s'])} | {_fmt_t(d['warm']['min_s'])} | {_fmt_t(d['first_call_s'])} |"
            )
        lines.append("")

    cs = r.get("cold_start", {})
    lines += ["## 3. Cold start (new process)", ""]
    if _na(cs):
        lines += [f"Cold start: {_na(cs)}.", ""]
    else:
        lines += [
            f'{cs["what"]}; medians over runs. "compile" = first forecast - second forecast.',
            "",
            "| mode | runs | import jax | import jaxlstm | load | first forecast | of which compile | second forecast | to first forecast | process wall |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for key, label in (
            ("no_cache", "no persistent cache"),
            ("cache_filling", "cache, first process (fills it)"),
            ("cache_warm", "cache, warm"),
        ):
            d = cs.get(key)
            if not d:
                continue
            md = d["median"]
            lines.append(
                f"| {label} | {len(d['runs'])} | {_fmt_t(md['import_jax_s'])} | {_fmt_t(md['import_jaxlstm_s'])} | {_fmt_t(md['load_s'])} | "
                f"{_fmt_t(md['first_forecast_s'])} | {_fmt_t(md['compile_s'])} | {_fmt_t(md['second_forecast_s'])} | "
                f"{_fmt_t(md['total_to_first_forecast_s'])} | {_fmt_t(md['process_wall_s'])} |"
            )
        lines += [
            "",
            f"Cache entries written: {cs.get('cache_entries')}; time to first forecast, no cache / warm cache: {_fmt_x(cs.get('cache_speedup_total'))}.",
            "",
        ]

    sc = r.get("scaling", {})
    lines += ["## 4. Scaling", ""]
    if _na(sc):
        lines += [f"Scaling: {_na(sc)}.", ""]
    else:
        sy = sc["symbols"]
        lines += [
            f"Symbols trained together, {sc['windows_per_model']} windows each, batch {sc['batch_size']}, via {sy['via']}."
            ' Few epochs are timed at large sizes (column 2) and reported per epoch; "est. 100 epochs" scales that up.'
            ' "vs one at a time" = symbols x (1-symbol time per epoch) / this time per epoch.'
            ' "blocks": the same symbols split into blocks of a few symbols, run by one host thread per core'
            " (what `train_many` and `fit_many` do by default on a CPU).",
            "",
            "| symbols | epochs timed | compile | warm total | per epoch | per model-epoch | est. 100 epochs | vs one at a time | blocks | per epoch, blocks | vs one at a time, blocks | XLA temp | XLA peak |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in sy["rows"]:
            if _na(row):
                lines.append(f"| {row.get('symbols')} | {_na(row)} | | | | | | | | | | | |")
                continue
            mem = row.get("memory", {})
            lines.append(
                f"| {row['symbols']} | {row['epochs_timed']} | {_fmt_t(row['compile_s'])} | {_fmt_t(row['warm']['median_s'])} | "
                f"{_fmt_t(row['per_epoch_s'])} | {_fmt_t(row['per_model_epoch_s'])} | {_fmt_t(row['est_100_epochs_s'])} | "
                f"{_fmt_x(row.get('speedup_vs_one_at_a_time'))} | {row.get('blocks', 1)} | "
                f"{_fmt_t(row.get('per_epoch_s_blocks', row['per_epoch_s']))} | "
                f"{_fmt_x(row.get('speedup_vs_one_at_a_time_blocks'))} | {_fmt_b(mem.get('temp_size_in_bytes'))} | {_fmt_b(mem.get('peak_memory_in_bytes'))} |"
            )
        bs = sc.get("block_sizes")
        if bs and not _na(bs) and bs.get("rows"):
            lines += [
                "",
                f"Block size ({bs['symbols']} symbols, {bs['epochs_timed']} epochs timed, blocks run by one thread per core;"
                f" the library uses blocks of at most {bs['max_block_size']}):",
                "",
                "| block size | blocks | threads | per model-epoch |",
                "|---|---|---|---|",
            ]
            for row in bs["rows"]:
                lines.append(
                    f"| {row['block_size']} | {row['blocks']} | {row['threads']} | {_fmt_t(row['per_model_epoch_s'])} |"
                )
        for key, label, col in (
            ("hidden", "Hidden size", "hidden_size"),
            ("sequence", "Sequence length", "sequence_length"),
        ):
            block = sc[key]
            fixed = (
                f"sequence length {block['sequence_length']}" if key == "hidden" else f"hidden {block['hidden_size']}"
            )
            rows = block["rows"]
            ep = next((x.get("epochs_timed") for x in rows if "epochs_timed" in x), None)
            tep = next((x.get("torch_epochs_timed") for x in rows if "torch_epochs_timed" in x), None)
            lines += [
                "",
                f"{label} ({fixed}, one model, {sc['windows_per_model']} windows, batch {sc['batch_size']}; JAX timed over {ep} epochs,"
                f" PyTorch over {tep}; per epoch). Memory is XLA's static estimate for the compiled training run"
                " (`memory_analysis()`), not a measured RSS.",
                "",
                f"| {col.replace('_', ' ')} | params | compile | JAX per epoch | PyTorch per epoch | PyTorch / JAX | XLA args | XLA temp | XLA peak |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for row in rows:
                if _na(row):
                    lines.append(f"| {row.get(col)} | {_na(row)} | | | | | | | |")
                    continue
                mem = row.get("memory", {})
                lines.append(
                    f"| {row[col]} | {row['params']} | {_fmt_t(row['compile_s'])} | {_fmt_t(row['jax_per_epoch_s'])} | "
                    f"{_fmt_t(row.get('torch_per_epoch_s'))} | {_fmt_x(row.get('torch_over_jax'))} | "
                    f"{_fmt_b(mem.get('argument_size_in_bytes'))} | {_fmt_b(mem.get('temp_size_in_bytes'))} | {_fmt_b(mem.get('peak_memory_in_bytes'))} |"
                )
        lines.append("")

    pf = r.get("profile", {})
    lines += ["## 5. Profile of the training step (seed configuration)", ""]
    if _na(pf):
        lines += [f"Profile: {_na(pf)}.", ""]
    else:
        lines += [
            "Where one minibatch step's time goes (batch of windows, jitted, warm):",
            "",
            "| piece | warm median | warm min |",
            "|---|---|---|",
        ]
        for name, d in pf.get("step_breakdown", {}).items():
            if _na(d):
                lines.append(f"| {name.replace('_', ' ')} | {_na(d)} | |")
            else:
                lines.append(
                    f"| {name.replace('_', ' ')} | {_fmt_t(d['warm']['median_s'])} | {_fmt_t(d['warm']['min_s'])} |"
                )
        ar = pf.get("arithmetic")
        if ar and not _na(ar) and ar.get("step_gflops_per_s"):
            lines += [
                "",
                f"Arithmetic: one loss-and-gradient step is {ar['step_matmul_flop'] / 1e6:.1f} MFLOP of gate matmuls (counted by hand), run at"
                f" {ar['step_gflops_per_s']:.0f} GFLOP/s; a {ar['matmul_size']}x{ar['matmul_size']} float32 matmul runs at"
                f" {ar['matmul_gflops_per_s']:.0f} GFLOP/s on the same CPU.",
            ]
        lines += [
            "",
            f"Whole training loops of {pf['epochs_timed']} epochs ({pf['steps_timed']} steps), each variant changing one thing"
            f" against the reference; {pf['repeats']} interleaved repeats, per step. Below 1.00x is faster.",
            "",
            "| variant | change | compile | per step (median) | per step (min) | min vs reference | median vs reference | max abs param diff vs reference |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, v in pf.get("variants", {}).items():
            if _na(v):
                lines.append(f"| {name} | {_na(v)} | | | | | | |")
                continue
            diff = v.get("max_abs_param_diff_vs_reference")
            lines.append(
                f"| {name} | {v['what']} | {_fmt_t(v['compile_s'])} | {_fmt_t(v.get('per_step_median_s'))} | {_fmt_t(v.get('per_step_min_s'))} | "
                f"{_fmt_x(v.get('min_vs_reference'))} | {_fmt_x(v.get('median_vs_reference'))} | {'' if diff is None else f'{diff:.1e}'} |"
            )
        lines.append("")

    lines += ["## Targets", ""]
    if r["quick"]:
        lines += ["(Quick run: the sizes differ from the seed configuration, so these are not meaningful.)", ""]
    lines += ["| what | goal | measured | met |", "|---|---|---|---|"]
    for t in r.get("targets", []):
        fmt = _fmt_t if t["key"].endswith("_s") else _fmt_x
        sign = "<=" if t["direction"] == "le" else ">="
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "NO")
        lines.append(f"| {t['what']} | {sign} {fmt(t['goal'])} | {fmt(t['measured'])} | {met} |")
    lines += [
        "",
        "Plots: " + ", ".join(f"`{p}`" for p in r.get("plots", []))
        if r.get("plots")
        else "Plots: none (matplotlib missing).",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- plots


def make_plots(r: dict[str, Any], out_dir: pathlib.Path) -> list[str]:
    """PNG plots of the scaling curves and JAX vs PyTorch; returns the file names written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []

    sc = r.get("scaling", {})
    if not _na(sc):
        rows = [x for x in sc["symbols"]["rows"] if "per_model_epoch_s" in x]
        if rows:
            fig, ax = plt.subplots(figsize=(6, 4))
            syms = [x["symbols"] for x in rows]
            ax.plot(syms, [x["per_model_epoch_s"] * 1e3 for x in rows], "o-", label="trained together, one call")
            if any(x.get("blocks", 1) > 1 for x in rows):
                ax.plot(
                    syms,
                    [x["per_epoch_s_blocks"] / x["symbols"] * 1e3 for x in rows],
                    "s-",
                    label="blocks of a few symbols, one thread per core",
                )
            ax.plot(
                syms,
                [rows[0]["per_model_epoch_s"] * 1e3] * len(rows),
                "--",
                color="gray",
                label="one at a time (1-symbol rate)",
            )
            ax.set_xscale("log")
            ax.set_xlabel("symbols trained together")
            ax.set_ylabel("ms per model per epoch")
            ax.set_title("Training cost per model vs symbols")
            ax.legend()
            fig.tight_layout()
            fig.savefig(out_dir / "scaling_symbols.png", dpi=110)
            plt.close(fig)
            written.append("scaling_symbols.png")
        for key, col, xlabel in (
            ("hidden", "hidden_size", "hidden size"),
            ("sequence", "sequence_length", "sequence length"),
        ):
            rows = [x for x in sc[key]["rows"] if "jax_per_epoch_s" in x]
            if not rows:
                continue
            fig, ax = plt.subplots(figsize=(6, 4))
            xsv = [x[col] for x in rows]
            ax.plot(xsv, [x["jax_per_epoch_s"] * 1e3 for x in rows], "o-", label="JAX")
            trows = [x for x in rows if "torch_per_epoch_s" in x]
            if trows:
                ax.plot([x[col] for x in trows], [x["torch_per_epoch_s"] * 1e3 for x in trows], "s-", label="PyTorch")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("ms per epoch")
            ax.set_title(f"Training time per epoch vs {xlabel}")
            ax.legend()
            fig.tight_layout()
            name = f"scaling_{key}.png"
            fig.savefig(out_dir / name, dpi=110)
            plt.close(fig)
            written.append(name)

    tr = r.get("train", {})
    bars: list[tuple[str, float]] = []
    for key, label in (
        ("jax_functional", "JAX train()"),
        ("jax_forecaster", "JAX fit()"),
        ("torch", "PyTorch\ndefault thr."),
        ("torch_1_thread", "PyTorch\n1 thread"),
    ):
        d = tr.get(key) if isinstance(tr, dict) else None
        if not _na(d):
            bars.append((label, d["warm"]["median_s"]))
    b1 = tr.get("batch1", {}) if isinstance(tr, dict) else {}
    bars1 = [
        (lbl, b1[k]["per_epoch_s"])
        for k, lbl in (
            ("jax_functional", "JAX"),
            ("torch", "PyTorch\ndefault thr."),
            ("torch_1_thread", "PyTorch\n1 thread"),
        )
        if not _na(b1.get(k))
    ]
    if bars or bars1:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for ax, data, title in (
            (axes[0], bars, "seed config, batch 32 (s, warm)"),
            (axes[1], bars1, "batch 1 (s per epoch, warm)"),
        ):
            if data:
                colors = ["tab:orange" if d[0].startswith("PyTorch") else "tab:blue" for d in data]
                ax.bar([d[0] for d in data], [d[1] for d in data], color=colors)
                ax.set_yscale("log")
                for i, (_, v) in enumerate(data):
                    ax.text(i, v, f"{v:.3g}", ha="center", va="bottom")
            ax.set_title(title)
        fig.suptitle("Training: JAX vs PyTorch on the same work")
        fig.tight_layout()
        fig.savefig(out_dir / "jax_vs_torch.png", dpi=110)
        plt.close(fig)
        written.append("jax_vs_torch.png")
    return written


# ---------------------------------------------------------------------------- main


def _disable_persistent_cache() -> str:
    """Turns JAX's persistent compilation cache off in this process; says what was found.

    Compile times must be real compiles, so this process never reads a persistent cache
    (the cold-start section measures the cache in separate processes). jaxlstm may turn
    the cache on when imported, so it is imported with that switched off, and the JAX
    setting is cleared afterwards in case it was imported earlier.
    """
    previous = os.environ.get("JAXLSTM_COMPILATION_CACHE")
    os.environ["JAXLSTM_COMPILATION_CACHE"] = "0"
    try:
        import jax

        import jaxlstm  # noqa: F401  (imported here, with the switch above, on purpose)
    finally:
        if previous is None:
            os.environ.pop("JAXLSTM_COMPILATION_CACHE", None)
        else:
            os.environ["JAXLSTM_COMPILATION_CACHE"] = previous
    found = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    try:
        from jax._src import compilation_cache

        compilation_cache.reset_cache()
    except (ImportError, AttributeError):  # private API; the config update above is the main switch
        pass
    return "off" if not found else f"off (was {found} before this run turned it off)"


def run(settings: Settings, out_dir: pathlib.Path, sections: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    """Runs the selected sections and writes ``bench.json``, ``bench.md`` and the plots.

    The persistent compilation cache is off while it runs and restored afterwards, so
    running the harness inside another program leaves that program's setting alone.
    """
    import jax

    previous_cache_dir = jax.config.jax_compilation_cache_dir
    machine = _timing.machine_info()  # before any thread change, so it records the defaults
    previous_threads = None
    if settings.torch_threads is not None and torch_lstm.available():
        import torch

        previous_threads = torch.get_num_threads()
        torch.set_num_threads(settings.torch_threads)
    try:
        return _run(settings, out_dir, sections, machine)
    finally:
        jax.config.update("jax_compilation_cache_dir", previous_cache_dir)
        if previous_threads is not None:
            import torch

            torch.set_num_threads(previous_threads)


def _run(
    settings: Settings, out_dir: pathlib.Path, sections: tuple[str, ...], machine: dict[str, Any]
) -> dict[str, Any]:
    cache_state = _disable_persistent_cache()
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "quick": settings.quick,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "settings": dataclasses.asdict(settings),
        "sections_run": list(sections),
        "machine": machine,
        "in_process_compilation_cache": cache_state,
        "targets_reference": TARGETS,
    }
    state: dict[str, Any] = {}
    for name, fn in (
        ("train", bench_train),
        ("predict", bench_predict),
        ("cold_start", bench_cold_start),
        ("scaling", bench_scaling),
        ("profile", bench_profile),
    ):
        if name in sections:
            # PyTorch's OpenMP threads keep spinning for a while after its last call; a
            # full run measured 1-step forecasts at 76 us right after the training section
            # and 29 us alone. A pause lets them go to sleep before the next section.
            time.sleep(0.0 if settings.quick else SECTION_PAUSE_S)
            _log(f"section {name}")
            results[name] = _guarded(name, lambda fn=fn: fn(settings, state))
        else:
            results[name] = {"skipped": True}
    results["targets"] = evaluate_targets(results)
    results["load_average_at_end"] = _timing.load_average()
    try:
        import resource

        results["process_max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except (ImportError, OSError):
        results["process_max_rss_bytes"] = None
    results["duration_s"] = time.time() - started
    results["plots"] = make_plots(results, out_dir)
    results = _jsonable(results)
    (out_dir / "bench.json").write_text(json.dumps(results, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    # Rendered from the JSON just written, so the table cannot show a number the JSON lacks.
    reloaded = json.loads((out_dir / "bench.json").read_text(encoding="utf-8"))
    (out_dir / "bench.md").write_text(render_markdown(reloaded), encoding="utf-8")
    return reloaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and single repeats (a smoke test, seconds)")
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=DEFAULT_OUT,
        help=f"output folder (default {DEFAULT_OUT.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--sections",
        default=None,
        help=f"comma-separated subset of {','.join(SECTIONS)} (default: all; with --quick all but profile)",
    )
    args = parser.parse_args(argv)
    if args.sections is None:
        sections = QUICK_SECTIONS if args.quick else SECTIONS
    else:
        sections = tuple(x.strip() for x in args.sections.split(",") if x.strip())
    unknown = [x for x in sections if x not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {SECTIONS}")
    results = run(QUICK if args.quick else Settings(), args.out, sections)
    _log(f"wrote {args.out / 'bench.json'} and {args.out / 'bench.md'} ({results['duration_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

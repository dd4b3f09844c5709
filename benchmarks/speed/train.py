"""Section 1, training: the seed configuration through ``jaxlstm.train``, ``LSTMForecaster.fit`` and PyTorch.

The seed configuration is 500 demo candles, windows of 20, hidden 32, Adam 1e-3, 100
epochs of batch 32, no early stopping; then batch size 1 for a few epochs, per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import _timing, torch_lstm
from benchmarks.speed import library
from benchmarks.speed.common import (
    block,
    first_and_warm,
    guarded,
    log,
    param_count,
    ratio,
    torch_missing,
    torch_runs,
    unavailable,
)
from benchmarks.speed.settings import Settings

# ---------------------------------------------------------------------------- calls into jaxlstm

_TRAIN_API = "jaxlstm.train(key, params, xs, ys, TrainConfig(epochs, patience=None))"
_FIT_API = "LSTMForecaster(..., early_stopping=False).fit(candles)"


def _train_call(key: Any, params: Any, xs: Any, ys: Any, cfg: Any) -> Callable[[], Any]:
    """``jaxlstm.train`` on these arguments as a no-argument call that blocks on its result."""
    import jaxlstm as jl

    return lambda: block(jl.train(key, params, xs, ys, cfg))


def _train_result(result: Any) -> tuple[Any, float, int]:
    """``(trained params, final training loss, epochs run)`` of ``jaxlstm.train``'s result."""
    return result.params, float(result.train_loss[-1]), result.epochs_run


def _fit_call(cls: Any, s: Settings, candles: Any) -> Callable[[], Any]:
    """A no-argument call that builds and fits a new seed-configuration ``LSTMForecaster``."""

    def fit() -> Any:
        m = cls(
            hidden_size=s.hidden,
            sequence_length=s.window,
            learning_rate=s.learning_rate,
            epochs=s.epochs,
            batch_size=s.batch_size,
            early_stopping=False,
            num_layers=1,
            seed=0,
        ).fit(candles)
        block(m.params_)
        return m

    return fit


def _fit_metrics(model: Any) -> dict[str, Any]:
    """The fitted forecaster's ``metrics_`` (empty when it has none)."""
    return getattr(model, "metrics_", None) or {}


# ---------------------------------------------------------------------------- the section


def bench_train(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """Seed-configuration training: functional, wrapper and PyTorch; then batch size 1.

    Leaves the trained params, the windows and the fitted forecaster in ``state`` for the
    later sections.
    """
    import jax

    prices, xs, ys = library.scaled_windows(s.candles, s.window)
    params0 = library.init_params(s.hidden)
    cfg = library.train_config(s, s.epochs, restore_best=s.restore_best)
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
            "params": param_count(params0),
        }
    }

    def timed(api: str, run: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
        first, warm, result = first_and_warm(run, s.train_repeats)
        timing = {
            "available": True,
            "api": api,
            "first_call_s": first,
            "compile_s": max(first - warm["median_s"], 0.0),
            "warm": warm,
        }
        return timing, result

    def functional() -> dict[str, Any]:
        res, result = timed(_TRAIN_API, _train_call(key, params0, xs, ys, cfg))
        state["params"], final_loss, epochs_run = _train_result(result)
        state["xs"], state["ys"], state["prices"] = xs, ys, prices
        return {**res, "final_train_loss": final_loss, "epochs_run": epochs_run}

    log("train: functional")
    out["jax_functional"] = guarded("train functional", functional)

    def wrapper() -> dict[str, Any]:
        cls, why = library.forecaster_class()
        if cls is None:
            return unavailable(why)
        res, model = timed(_FIT_API, _fit_call(cls, s, library.demo_candles(s.candles)))
        state["forecaster"] = model
        metrics = _fit_metrics(model)
        return {**res, "final_train_loss": metrics.get("final_train_loss"), "epochs_run": metrics.get("epochs_run")}

    log("train: LSTMForecaster.fit")
    out["jax_forecaster"] = guarded("train forecaster", wrapper)

    # -- PyTorch, same windows, same initial weights
    def torch_times(epochs: int, batch_size: int, repeats: int, threads: int | None) -> tuple[list, list, int]:
        return torch_runs(
            s.hidden,
            params0,
            xs,
            ys,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=s.learning_rate,
            repeats=repeats,
            threads=threads,
        )

    def torch_side(threads: int | None) -> dict[str, Any]:
        if (missing := torch_missing()) is not None:
            return missing
        times, losses, used = torch_times(s.epochs, s.batch_size, s.torch_repeats, threads)
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

    log("train: torch (default threads)")
    out["torch"] = guarded("train torch", lambda: torch_side(None))
    # One thread as well: on a shared machine PyTorch's OpenMP threads can stall waiting
    # for a core, so both figures are kept; the ratio uses the default.
    log("train: torch (1 thread)")
    out["torch_1_thread"] = guarded("train torch 1 thread", lambda: torch_side(1))
    out["ratio_torch_over_jax"] = ratio(out["torch"], out["jax_functional"])
    out["ratio_torch_over_forecaster"] = ratio(out["torch"], out["jax_forecaster"])
    out["ratio_torch1_over_jax"] = ratio(out["torch_1_thread"], out["jax_functional"])
    ratios = [x for x in (out["ratio_torch_over_jax"], out["ratio_torch1_over_jax"]) if x is not None]
    # Against the faster PyTorch setting: the conservative comparison on a shared machine.
    out["ratio_best_torch_over_jax"] = min(ratios) if ratios else None

    # -- batch size 1 (the seed's per-sample loop), a few epochs, per-epoch times
    cfg1 = library.train_config(s, s.batch1_epochs, batch_size=1, restore_best=s.restore_best)

    def batch1_jax() -> dict[str, Any]:
        first, warm, _ = first_and_warm(_train_call(key, params0, xs, ys, cfg1), s.batch1_repeats)
        return {
            "available": True,
            "epochs": s.batch1_epochs,
            "first_call_s": first,
            "warm": warm,
            "per_epoch_s": warm["median_s"] / s.batch1_epochs,
        }

    def batch1_torch(threads: int | None) -> dict[str, Any]:
        if (missing := torch_missing()) is not None:
            return missing
        times, _, used = torch_times(s.batch1_epochs, 1, s.batch1_repeats, threads)
        warm = _timing.summarize(times[1:])
        return {
            "available": True,
            "epochs": s.batch1_epochs,
            "num_threads": used,
            "first_call_s": times[0],
            "warm": warm,
            "per_epoch_s": warm["median_s"] / s.batch1_epochs,
        }

    log("train: batch size 1")
    b1: dict[str, Any] = {"epochs": s.batch1_epochs, "steps_per_epoch": int(xs.shape[0])}
    b1["jax_functional"] = guarded("batch1 jax", batch1_jax)
    b1["torch"] = guarded("batch1 torch", lambda: batch1_torch(None))
    b1["torch_1_thread"] = guarded("batch1 torch 1 thread", lambda: batch1_torch(1))
    b1["ratio_torch_over_jax"] = ratio(b1["torch"], b1["jax_functional"], key="per_epoch_s")
    b1["ratio_torch1_over_jax"] = ratio(b1["torch_1_thread"], b1["jax_functional"], key="per_epoch_s")
    out["batch1"] = b1
    return out

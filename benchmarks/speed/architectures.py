"""Section 8, architectures: training time and forecast latency of each network against PyTorch.

Every ``jaxlstm.nn`` network (``lstm``, ``bilstm``, ``attention``, ``transformer``) at the
same sizes on both sides: the seed's windows (demo candles, window 20, min-max scaled),
width 32, one layer, 4 attention heads (the transformer's feed-forward 128), one output,
Adam 1e-3, batch 32, a fixed number of epochs (no early stopping). PyTorch runs the module
``jaxlstm.to_torch_module`` builds from stock parts (``nn.LSTM``, ``nn.MultiheadAttention``,
``nn.TransformerEncoderLayer``) with the same initial weights, trained by
``benchmarks.torch_lstm.train``, once with its default thread count and once with one
thread. The forecast latency is one window through the jitted network against the
module's forward pass under ``torch.inference_mode``. Ratios are PyTorch over JAX (above 1:
JAX is faster).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import _timing, torch_lstm
from benchmarks.speed import library
from benchmarks.speed.common import (
    TORCH_BUDGET_S,
    block,
    first_and_warm,
    guarded,
    latency,
    log,
    param_count,
    ratio,
    torch_missing,
)
from benchmarks.speed.settings import Settings

# ---------------------------------------------------------------------------- calls into jaxlstm

WIDTH_LAYERS_HEADS = (1, 4)


def _architectures() -> tuple[str, ...]:
    """The networks with a PyTorch counterpart to time against (the ES-RNN has none)."""
    from jaxlstm._src.nn import networks

    return networks.TORCH_ARCHITECTURES


def _network(architecture: str, hidden: int) -> Any:
    """The network config of ``architecture`` at the benchmark's sizes."""
    import jaxlstm as jl

    layers, heads = WIDTH_LAYERS_HEADS
    return jl.nn.make_network(architecture, hidden_size=hidden, num_layers=layers, num_heads=heads)


def _init(network: Any) -> Any:
    import jax

    return jax.jit(network.init)(jax.random.key(0))


def _train_call(network: Any, params: Any, xs: Any, ys: Any, cfg: Any) -> Callable[[], Any]:
    """``jaxlstm.train`` of ``network`` as a no-argument call that blocks on its result."""
    import jax

    import jaxlstm as jl

    return lambda: block(jl.train(jax.random.key(1), params, xs, ys, cfg, network=network).params)


def _predict_call(network: Any, params: Any, window: Any) -> Callable[[], Any]:
    """One window through the jitted network, blocking."""
    import jax

    apply = jax.jit(network.apply)
    return lambda: block(apply(params, window))


def _torch_module(network: Any, params: Any) -> Any:
    import jaxlstm as jl

    return jl.to_torch_module(params, network)


# ---------------------------------------------------------------------------- PyTorch


def _with_threads(threads: int | None, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    import torch

    default = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return {**fn(), "num_threads": torch.get_num_threads()}
    finally:
        torch.set_num_threads(default)


def _torch_train(network: Any, params: Any, xs: Any, ys: Any, s: Settings, threads: int | None) -> dict[str, Any]:
    if (missing := torch_missing()) is not None:
        return missing
    x_np, y_np = np.asarray(xs), np.asarray(ys)

    def run() -> dict[str, Any]:
        times = []
        for r in range(s.arch_repeats + 1):
            if r >= 2 and sum(times) > TORCH_BUDGET_S:
                break
            module = _torch_module(network, params)
            start = _timing.now()
            torch_lstm.train(
                module, x_np, y_np, epochs=s.arch_epochs, batch_size=s.batch_size, learning_rate=s.learning_rate, seed=r
            )
            times.append(_timing.now() - start)
        return {"available": True, "first_call_s": times[0], "warm": _timing.summarize(times[1:] or times)}

    return _with_threads(threads, run)


def _torch_predict(network: Any, params: Any, window: Any, s: Settings, threads: int | None) -> dict[str, Any]:
    if (missing := torch_missing()) is not None:
        return missing
    import torch

    module = _torch_module(network, params).eval()
    x = torch.from_numpy(np.array(window, np.float32)[None])

    def call() -> Any:
        with torch.inference_mode():
            return module(x)

    return _with_threads(threads, lambda: latency(call, s.predict_repeats))


# ---------------------------------------------------------------------------- the section


def bench_architectures(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """Per architecture: JAX training and one-window forecast against PyTorch (default and 1 thread)."""
    del state
    _, xs, ys = library.scaled_windows(s.candles, s.window)
    cfg = library.train_config(s, s.arch_epochs, restore_best=False)
    layers, heads = WIDTH_LAYERS_HEADS
    out: dict[str, Any] = {
        "config": {
            "candles": s.candles,
            "windows": int(xs.shape[0]),
            "window": s.window,
            "width": s.hidden,
            "num_layers": layers,
            "num_heads": heads,
            "epochs": s.arch_epochs,
            "batch_size": s.batch_size,
            "learning_rate": s.learning_rate,
            "torch_version": torch_lstm.version(),
        },
        "rows": [],
    }
    window = np.asarray(xs[-1])

    def measure(architecture: str) -> dict[str, Any]:
        network = _network(architecture, s.hidden)
        params = _init(network)
        row: dict[str, Any] = {"architecture": architecture, "params": param_count(params)}

        def jax_train() -> dict[str, Any]:
            first, warm, _ = first_and_warm(_train_call(network, params, xs, ys, cfg), s.arch_repeats)
            return {
                "available": True,
                "first_call_s": first,
                "compile_s": max(first - warm["median_s"], 0.0),
                "warm": warm,
            }

        log(f"architectures: {architecture}")
        row["jax_train"] = guarded(f"{architecture} jax train", jax_train)
        for suffix, threads in (("", None), ("_1_thread", 1)):
            row[f"torch_train{suffix}"] = guarded(
                f"{architecture} torch train{suffix}", lambda t=threads: _torch_train(network, params, xs, ys, s, t)
            )
        row["jax_predict"] = guarded(
            f"{architecture} jax predict", lambda: latency(_predict_call(network, params, window), s.predict_repeats)
        )
        for suffix, threads in (("", None), ("_1_thread", 1)):
            row[f"torch_predict{suffix}"] = guarded(
                f"{architecture} torch predict{suffix}", lambda t=threads: _torch_predict(network, params, window, s, t)
            )
        for kind in ("train", "predict"):
            row[f"ratio_{kind}"] = ratio(row[f"torch_{kind}"], row[f"jax_{kind}"])
            row[f"ratio_{kind}_1_thread"] = ratio(row[f"torch_{kind}_1_thread"], row[f"jax_{kind}"])
        return row

    out["rows"] = [measure(architecture) for architecture in _architectures()]
    return out

"""Section 2, prediction: warm latency of 1, 24 and 168 step forecasts, and many symbols at once.

Through the functional API (jitted, plainly and with the library's compiler options), the
``LSTMForecaster`` wrapper, the many-models calls, vmap, and PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import torch_lstm
from benchmarks.speed import library
from benchmarks.speed.common import guarded, latency, log, torch_missing, unavailable
from benchmarks.speed.settings import Settings

# ---------------------------------------------------------------------------- calls into jaxlstm


def _jitted_forecasts() -> dict[str, tuple[str, str, str, Callable[..., Any]]]:
    """``predict_multi_step`` jitted plainly and, where the library has them, with its compiler options.

    Returns:
        result key -> ``(api, name in failure logs, progress-log suffix, fn(params, window, steps=k))``.
    """
    import jax

    import jaxlstm as jl

    fns = {
        "functional": (
            'jax.jit(predict_multi_step, static_argnames="steps")(params, window[1, T, 1], steps=k)',
            "functional",
            "",
            jax.jit(jl.predict_multi_step, static_argnames="steps"),
        )
    }
    try:
        from jaxlstm._src.xla_options import COMPILER_OPTIONS as options
    except ImportError:
        options = getattr(jl, "COMPILER_OPTIONS", None)
    if options is not None:
        fns["functional_tuned"] = (
            'jax.jit(predict_multi_step, static_argnames="steps", compiler_options=COMPILER_OPTIONS)',
            "tuned",
            ", COMPILER_OPTIONS",
            jax.jit(jl.predict_multi_step, static_argnames="steps", compiler_options=options),
        )
    return fns


def _vmapped_forecast() -> Callable[[Any, Any, int], Any]:
    """``predict_multi_step`` vmapped over stacked params and windows, jitted with ``steps`` static."""
    import jax

    import jaxlstm as jl

    return jax.jit(jax.vmap(jl.predict_multi_step, in_axes=(0, 0, None)), static_argnums=2)


def _forecaster_calls(model: Any, price_window: np.ndarray, steps: tuple[int, ...]) -> dict[str, Callable[[], Any]]:
    """The wrapper's forecasts on one price window, result key -> no-argument call."""
    calls: dict[str, Callable[[], Any]] = {"predict_1": lambda: model.predict(price_window)}
    for k in steps:
        if k != 1:
            calls[f"steps_{k}"] = lambda k=k: model.predict_multi_step(price_window, k)
    calls["forecast_1d"] = lambda: model.forecast("1d")
    return calls


def _forecast_1d_steps(model: Any) -> int:
    """How many steps ``forecast("1d")`` predicts."""
    return len(model.forecast("1d").predicted)


def _forecaster_loop_call(model: Any, price_windows: list[np.ndarray], steps: int) -> Callable[[], Any]:
    """A Python loop of ``predict_multi_step`` calls on one wrapper, one per window."""
    return lambda: [model.predict_multi_step(w, steps) for w in price_windows]


def _predict_many_call(stacked: Any, windows: Any, steps: int) -> Callable[[], Any] | None:
    """The library's many-models prediction as a no-argument call that blocks, or ``None`` when it lacks one."""
    import jaxlstm as jl

    try:
        from jaxlstm._src.stacked import predict_many
    except ImportError:
        predict_many = getattr(jl, "predict_many", None)
    if predict_many is None:
        return None
    return lambda: predict_many(stacked, windows, steps).block_until_ready()


def _many_blocks(symbols: int, platform: str) -> dict[str, Any]:
    """How the many-models calls split ``symbols`` into blocks on ``platform`` by default."""
    from jaxlstm._src import stacked

    return stacked.plan_blocks(None, symbols, platform)._asdict()


def _fit_many(cls: Any, data: dict[str, Any], s: Settings, target: str) -> Any:
    """One-epoch wrappers for every series in ``data``, fitted together."""
    return cls.fit_many(
        data, hidden_size=s.hidden, sequence_length=s.window, epochs=1, early_stopping=False, encoding=target
    )


def _forecast_many_call(cls: Any, models: Any, steps: int) -> Callable[[], Any]:
    """``LSTMForecaster.forecast_many`` as a no-argument call."""
    return lambda: cls.forecast_many(models, steps=steps)


# ---------------------------------------------------------------------------- the section


def bench_predict(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """Warm forecast latency through the functional API, the wrapper, vmap and PyTorch."""
    import jax
    import jax.numpy as jnp

    if "params" not in state:
        prices, xs, ys = library.scaled_windows(s.candles, s.window)
        state.update(prices=prices, xs=xs, ys=ys, params=library.init_params(s.hidden))
    params, xs, prices = state["params"], state["xs"], state["prices"]
    window = xs[-1:]
    out: dict[str, Any] = {"window": s.window, "hidden_size": s.hidden, "steps": list(s.predict_steps)}

    jitted = _jitted_forecasts()
    pms = jitted["functional"][3]
    for key, (api, name, suffix, fn) in jitted.items():
        rows: dict[str, Any] = {"api": api}
        for k in s.predict_steps:
            log(f"predict: functional {k} steps{suffix}")
            rows[f"steps_{k}"] = guarded(
                f"predict {name} {k}",
                lambda k=k, fn=fn: latency(lambda: fn(params, window, steps=k).block_until_ready(), s.predict_repeats),
            )
        out[key] = rows

    def wrapper() -> dict[str, Any]:
        cls, why = library.forecaster_class()
        if cls is None:
            return unavailable(why)
        model = state.get("forecaster")
        if model is None:
            model = state["forecaster"] = library.quick_forecaster(cls, s)
        price_window = np.asarray(prices[-s.window :], np.float64)
        res: dict[str, Any] = {
            "available": True,
            "api": "LSTMForecaster.predict / predict_multi_step / forecast (numpy in, numpy out)",
        }
        for key, call in _forecaster_calls(model, price_window, s.predict_steps).items():
            res[key] = latency(call, s.predict_repeats)
        res["forecast_1d_steps"] = _forecast_1d_steps(model)
        return res

    log("predict: wrapper")
    out["forecaster"] = guarded("predict forecaster", wrapper)

    # -- many symbols at once
    n, k = s.multi_symbols, s.multi_steps
    windows = xs[-n:]  # [n, T, 1], one window per symbol
    multi: dict[str, Any] = {"symbols": n, "steps": k}

    def stacked_params() -> Any:
        return jax.tree.map(lambda a: jnp.stack([a] * n), params)

    def vmap_params() -> dict[str, Any]:
        stacked, f = stacked_params(), _vmapped_forecast()
        res = latency(lambda: f(stacked, windows[:, None], k).block_until_ready(), s.predict_repeats)
        res["api"] = (
            "jax.jit(jax.vmap(predict_multi_step, in_axes=(0, 0, None))) over stacked params (one model per symbol)"
        )
        return res

    def batch_windows() -> dict[str, Any]:
        res = latency(lambda: pms(params, windows, steps=k).block_until_ready(), s.predict_repeats)
        res["api"] = "predict_multi_step(params, windows[n, T, 1]) (one model, a batch of windows)"
        return res

    def predict_many() -> dict[str, Any]:
        call = _predict_many_call(stacked_params(), windows, k)
        if call is None:
            return unavailable("the library has no predict_many")
        res = latency(call, s.predict_repeats)
        res["api"] = "predict_many(stacked params, windows[n, T, 1], steps) (one model per symbol)"
        res["blocks"] = _many_blocks(n, windows.devices().pop().platform)
        return res

    def forecast_many(target: str) -> dict[str, Any]:
        cls, why = library.forecaster_class()
        if cls is None or not hasattr(cls, "forecast_many"):
            return unavailable(why or "LSTMForecaster.forecast_many is absent")
        key = f"forecasters_{target}"
        if key not in state:
            close = library.demo_candles(s.candles + n).close
            state[key] = _fit_many(cls, {f"S{i}": close[i : i + s.candles] for i in range(n)}, s, target)
        res = latency(_forecast_many_call(cls, state[key], k), s.predict_repeats)
        res["api"] = (
            f"LSTMForecaster.forecast_many({n} fitted models, steps={k}) (encoding={target!r}; with band and timestamps)"
        )
        return res

    def wrapper_loop() -> dict[str, Any]:
        model = state.get("forecaster")
        if model is None:
            return unavailable("no LSTMForecaster")
        pw = [np.asarray(prices[-s.window - i : len(prices) - i], np.float64) for i in range(n)]
        res = latency(_forecaster_loop_call(model, pw, k), s.predict_repeats)
        res["api"] = f"a Python loop of {n} LSTMForecaster.predict_multi_step calls on one model"
        return res

    log("predict: many symbols")
    multi["vmap_params"] = guarded("predict vmap", vmap_params)
    multi["batch_windows"] = guarded("predict batch", batch_windows)
    multi["predict_many"] = guarded("predict_many", predict_many)
    multi["forecast_many_relative"] = guarded("forecast_many relative", lambda: forecast_many("relative"))
    multi["forecast_many_minmax"] = guarded("forecast_many minmax", lambda: forecast_many("minmax"))
    multi["forecaster_loop"] = guarded("predict wrapper loop", wrapper_loop)
    out["multi_symbol"] = multi

    def torch_side() -> dict[str, Any]:
        if (missing := torch_missing()) is not None:
            return missing
        import torch

        model = torch_lstm.build_model(s.hidden, jax_params=params)
        w_np = np.asarray(window)
        res: dict[str, Any] = {
            "available": True,
            "api": "eager nn.LSTM under inference_mode, Python loop over steps",
            "num_threads": torch.get_num_threads(),
        }
        for steps in s.predict_steps:
            res[f"steps_{steps}"] = latency(
                lambda steps=steps: torch_lstm.predict_multi_step(model, w_np, steps), s.predict_repeats
            )
        wn = np.asarray(windows)
        res[f"batch_{n}x{k}"] = latency(lambda: torch_lstm.predict_multi_step(model, wn, k), s.predict_repeats)
        return res

    log("predict: torch")
    out["torch"] = guarded("predict torch", torch_side)
    return out

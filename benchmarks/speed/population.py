"""Section 7, populations: K models of the same shapes trained in one call against K fits one after another.

The seed configuration (demo windows, hidden 32, Adam, no early stopping) trained as a
population of K members (seeds) in one call of ``jaxlstm.run_stacked`` (what
``LSTMForecaster(ensemble=K)``, ``fit_many`` and ``tune`` run), against K sequential
``fit_arrays`` calls of this library and K sequential PyTorch fits of the same network
(1 thread and PyTorch's default threads). Sequential fits are timed for at most
``population_sequential_fits`` models and scaled to K (every fit is the same work); the
JSON records how many were timed.

Goals (2-core CPU): a 32-member population at >= 4x the throughput of 32 sequential fits
of this library and >= 8x that of PyTorch; on a GPU, 128 members in <= 2x the time of one.
"""

from __future__ import annotations

from typing import Any

from benchmarks import _timing, torch_lstm
from benchmarks.speed import library
from benchmarks.speed.common import block, guarded, log, torch_missing, torch_runs
from benchmarks.speed.settings import Settings

# ---------------------------------------------------------------------------- calls into jaxlstm


def _population_call(s: Settings, members: int, epochs: int) -> Any:
    """A no-argument call training ``members`` seeds of the seed model in one ``run_stacked`` call (blocking)."""
    import jax
    import numpy as np

    import jaxlstm as jl

    _, xs, ys = library.scaled_windows(s.candles, s.window)
    keys = jax.random.split(jax.random.key(1), members)
    init_keys = jax.random.split(jax.random.key(0), members)
    params = jax.vmap(lambda k: jl.init_params(k, jl.LSTMConfig(hidden_size=s.hidden)))(init_keys)
    _, _, data = library.train_core_args(keys[0], library.init_params(s.hidden), xs, ys)
    data = jax.tree.map(lambda a: np.broadcast_to(np.asarray(a), (members, *a.shape)), data)
    cfg = library.train_config(s, epochs, restore_best=s.restore_best)
    static = {"config": cfg, "network": jl.LSTMConfig(hidden_size=s.hidden)}
    return lambda: block(jl.run_stacked(jl.fit_arrays, (keys, params, data), static=static))


def _sequential_call(s: Settings, epochs: int) -> Any:
    """A no-argument call training one model with the library's compiled ``fit_arrays`` (blocking)."""
    import jax

    _, xs, ys = library.scaled_windows(s.candles, s.window)
    args = library.train_core_args(jax.random.key(1), library.init_params(s.hidden), xs, ys)
    cfg = library.train_config(s, epochs, restore_best=s.restore_best)
    return lambda: block(library.train_core(args, cfg))


# ---------------------------------------------------------------------------- the section


def _torch_fit_seconds(s: Settings, epochs: int, threads: int | None) -> dict[str, Any]:
    missing = torch_missing()
    if missing is not None:
        return missing
    _, xs, ys = library.scaled_windows(s.candles, s.window)
    times, _, used = torch_runs(
        s.hidden,
        library.init_params(s.hidden),
        xs,
        ys,
        epochs=epochs,
        batch_size=s.batch_size,
        learning_rate=s.learning_rate,
        repeats=s.population_sequential_fits,
        threads=threads,
    )
    return {"available": True, "threads": used, "fits_timed": len(times) - 1, "per_fit": _timing.summarize(times[1:])}


def bench_population(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """K members in one call vs K sequential fits (this library, PyTorch 1 thread, PyTorch default threads)."""
    del state
    epochs = s.population_epochs
    log(f"population: one lone fit, {epochs} epochs")
    lone = _sequential_call(s, epochs)
    lone()  # compile
    lone_fits = [_timing.time_first_call(lone)[0] for _ in range(s.population_sequential_fits)]
    per_fit = _timing.summarize(lone_fits)
    torch_one = guarded("population torch 1 thread", lambda: _torch_fit_seconds(s, epochs, 1))
    torch_default = guarded("population torch default threads", lambda: _torch_fit_seconds(s, epochs, None))
    rows = []
    for members in s.population_sizes:
        log(f"population: {members} members in one call")

        def one(members: int = members) -> dict[str, Any]:
            call = _population_call(s, members, epochs)
            first, _ = _timing.time_first_call(call)
            warm = _timing.time_repeated(call, s.population_repeats, warmup=0)
            seconds = warm["median_s"]
            row: dict[str, Any] = {
                "first_call_s": first,
                "warm": warm,
                "sequential_library_s": per_fit["median_s"] * members,
                "throughput_vs_library": per_fit["median_s"] * members / seconds,
                "over_one_fit": seconds / per_fit["median_s"],
            }
            for key, torch in (("torch_1_thread", torch_one), ("torch_default_threads", torch_default)):
                if torch.get("available"):
                    row[f"sequential_{key}_s"] = torch["per_fit"]["median_s"] * members
                    row[f"throughput_vs_{key}"] = torch["per_fit"]["median_s"] * members / seconds
            return row

        rows.append({"members": members, **guarded(f"population {members}", one)})
    return {
        "what": f"seed configuration ({s.candles} demo candles, window {s.window}, hidden {s.hidden}), "
        f"{epochs} epochs, no early stopping; members differ by seed",
        "epochs": epochs,
        "library_one_fit": {"fits_timed": len(lone_fits), "per_fit": per_fit},
        "torch_1_thread": torch_one,
        "torch_default_threads": torch_default,
        "torch": torch_lstm.version(),
        "rows": rows,
    }

"""Section 4, scaling: training time against symbols trained together, hidden size and sequence length.

With parameter counts and XLA's static memory estimate of each compiled training run, and
the block-size sweep behind the library's default split of many models over the cores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import _timing, torch_lstm
from benchmarks.speed import library
from benchmarks.speed.common import (
    aot,
    block,
    first_and_warm,
    guarded,
    log,
    memory_stats,
    param_count,
    time_compiled,
    torch_runs,
    unavailable,
)
from benchmarks.speed.settings import Settings

# ---------------------------------------------------------------------------- calls into jaxlstm
# (the single-model training core is in ``library``, shared with the profile section)


def _many_core() -> tuple[Callable[[tuple[Any, ...], Any], Any], str]:
    """The compiled core that trains stacked models together, as ``(lower(args, cfg), description)``.

    ``args`` are ``library.train_core_args`` with a leading models axis on every leaf.
    """
    import jaxlstm as jl
    from jaxlstm._src import stacked, training
    from jaxlstm._src.nn.lstm import config_of

    def lower(args: tuple[Any, ...], cfg: Any) -> Any:
        static = {"config": cfg, "network": config_of(args[1]), "loss": training.mse, "optimizer": None}
        return stacked.stacked_function(jl.fit_arrays, static).lower(*args)

    return lower, "jaxlstm.run_stacked's compiled core: jax.vmap(fit_arrays) (one device)"


def _default_plan(symbols: int) -> Any:
    """The library's default split of ``symbols`` models into blocks on this backend (``.blocks``, ``.threads``)."""
    import jax

    from jaxlstm._src import stacked

    return stacked.plan_blocks(None, symbols, jax.default_backend())


def _plan(blocks: int, threads: int) -> Any:
    """A split into ``blocks`` blocks run by ``threads`` host threads."""
    from jaxlstm._src import stacked

    return stacked.BlockPlan(blocks, threads)


def _pad_to_blocks(args: tuple[Any, ...], blocks: int) -> Any:
    """``args`` padded along the symbols axis to a multiple of ``blocks`` (repeating the first symbol)."""
    import jax

    from jaxlstm._src.prep import windows

    count = jax.tree.leaves(args)[0].shape[0]
    return windows.pad_rows(args, -(-count // blocks) * blocks, fill="first")


def _blocks_call(compiled: Any, args: tuple[Any, ...], plan: Any) -> Callable[[], Any]:
    """A no-argument call running ``compiled`` on every block of ``args`` as the library does, blocking."""
    from jaxlstm._src import stacked

    return lambda: block(stacked.run_blocks(lambda *_: compiled, args, plan))


def _max_block_size() -> int:
    """The largest block the library uses by default."""
    from jaxlstm._src import stacked

    return stacked.MAX_BLOCK_SIZE


# ---------------------------------------------------------------------------- helpers


def _scale_data(n_windows: int, window: int) -> tuple[Any, Any]:
    """``n_windows`` scaled windows of length ``window`` (candle count grows with the window)."""
    _, xs, ys = library.scaled_windows(n_windows + window, window)
    return xs, ys


def _stacked_args(symbols: int, params: Any, xs: Any, ys: Any) -> tuple[Any, ...]:
    """``library.train_core_args`` of one model copied to ``symbols`` models, each with its own key.

    One initialisation copied to every symbol: the values do not change the cost, and
    initialising 1000 models would take longer than training them for an epoch.
    """
    import jax
    import jax.numpy as jnp

    one = library.train_core_args(jax.random.key(1), params, xs, ys)
    tile = lambda a: jnp.tile(a[None], (symbols,) + (1,) * a.ndim)
    return (jax.random.split(one[0], symbols), *jax.tree.map(tile, one[1:]))


def _compile_first_block(
    lower: Callable[[tuple[Any, ...]], Any], args: tuple[Any, ...], size: int
) -> tuple[Any, float]:
    """Compiles ``lower`` for the first ``size`` symbols of ``args``; returns it and the seconds taken."""
    import jax

    return aot(lambda: lower(jax.tree.map(lambda a: a[:size], args)))


def _symbol_blocks(n_sym: int, epochs: int, args: tuple, lower: Callable[[tuple], Any], repeats: int) -> dict[str, Any]:
    """The same training split into blocks of a few symbols, run by one host thread per core.

    What ``train_many`` does by default on a CPU; one block (a single core, or one symbol)
    reports the one-call figures.
    """
    import jax

    try:
        plan = _default_plan(n_sym)
    except ImportError:
        return {"blocks": 1}
    if plan.blocks == 1:
        return {"blocks": 1, "threads": plan.threads}
    padded = _pad_to_blocks(args, plan.blocks)
    compiled, compile_s = _compile_first_block(lower, padded, jax.tree.leaves(padded)[0].shape[0] // plan.blocks)
    _, warm, _ = first_and_warm(_blocks_call(compiled, padded, plan), repeats)
    return {
        "blocks": plan.blocks,
        "threads": plan.threads,
        "blocks_compile_s": compile_s,
        "blocks_warm": warm,
        "per_epoch_s_blocks": warm["median_s"] / epochs,
    }


def _block_size_sweep(s: Settings, lower: Callable[..., Any], xs1: Any, ys1: Any) -> dict[str, Any]:
    """Time per model-epoch of ``s.sweep_symbols`` models split into blocks of each size.

    The blocks run on one thread per core, as ``train_many`` runs them; this is the curve
    behind the library's largest default block size.
    """
    n_sym, epochs = s.sweep_symbols, s.sweep_epochs
    cfg = library.train_config(s, epochs)
    args = _stacked_args(n_sym, library.init_params(s.hidden), xs1, ys1)
    threads = _default_plan(n_sym).threads
    rows = []
    for size in s.sweep_block_sizes:
        if n_sym % size:
            continue
        plan = _plan(n_sym // size, min(threads, n_sym // size))
        compiled, _ = _compile_first_block(lambda a: lower(a, cfg), args, size)
        warm = _timing.time_repeated(_blocks_call(compiled, args, plan), s.scale_repeats, warmup=1)
        rows.append(
            {
                "block_size": size,
                "blocks": plan.blocks,
                "threads": plan.threads,
                "warm": warm,
                "per_model_epoch_s": warm["median_s"] / n_sym / epochs,
            }
        )
    return {"symbols": n_sym, "epochs_timed": epochs, "max_block_size": _max_block_size(), "rows": rows}


# ---------------------------------------------------------------------------- the section


def bench_scaling(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """Training time against symbols trained together, hidden size and sequence length."""
    import jax

    out: dict[str, Any] = {"windows_per_model": s.scale_windows, "batch_size": s.batch_size}

    # -- symbols trained together
    lower, via = _many_core()
    xs1, ys1 = _scale_data(s.scale_windows, s.window)
    rows = []
    for n_sym, epochs in zip(s.scale_symbols, s.scale_symbol_epochs):
        log(f"scaling: {n_sym} symbols, {epochs} epochs")

        def one(n_sym: int = n_sym, epochs: int = epochs) -> dict[str, Any]:
            cfg = library.train_config(s, epochs)
            args = _stacked_args(n_sym, library.init_params(s.hidden), xs1, ys1)
            compiled, compile_s = aot(lambda: lower(args, cfg))
            repeats = s.scale_repeats if n_sym <= 100 else 1
            timing = time_compiled(compiled, args, repeats)
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
                "params_per_model": param_count(jax.tree.map(lambda a: a[0], args[1])),
                "memory": memory_stats(compiled),
            }

        rows.append({"symbols": n_sym, **guarded(f"scaling symbols {n_sym}", one)})
    base = next((r for r in rows if r.get("symbols") == 1 and "per_epoch_s" in r), None)
    for r in rows:
        if base is not None and "per_epoch_s" in r:
            r["speedup_vs_one_at_a_time"] = base["per_epoch_s"] * r["symbols"] / r["per_epoch_s"]
            r["speedup_vs_one_at_a_time_blocks"] = base["per_epoch_s"] * r["symbols"] / r["per_epoch_s_blocks"]
    out["symbols"] = {"via": via, "rows": rows}
    log("scaling: block size sweep")
    out["block_sizes"] = guarded("scaling block sizes", lambda: _block_size_sweep(s, lower, xs1, ys1))

    # -- hidden size and sequence length, one model, jax and torch per epoch
    def single(hidden: int, window: int) -> dict[str, Any]:
        xs, ys = _scale_data(s.scale_windows, window)
        cfg = library.train_config(s, s.scale_epochs, restore_best=s.restore_best)
        params = library.init_params(hidden)
        args = library.train_core_args(jax.random.key(1), params, xs, ys)
        if s.quick:
            # Called the way ``train`` calls it, so with the quick sizes it reuses the
            # program the seed run compiled; a memory analysis would need a second compile.
            first, warm, _ = first_and_warm(lambda: block(library.train_core(args, cfg)), s.scale_repeats)
            timing = {"first_run_s": first, "warm": warm}
            compile_s = max(first - warm["median_s"], 0.0)
            memory = unavailable("not analysed in --quick (it needs a second compile)")
        else:
            compiled, compile_s = aot(lambda: library.lower_train_core(args, cfg))
            timing = time_compiled(compiled, args, s.scale_repeats)
            memory = memory_stats(compiled)
        row: dict[str, Any] = {
            "hidden_size": hidden,
            "sequence_length": window,
            "params": param_count(params),
            "epochs_timed": s.scale_epochs,
            "compile_s": compile_s,
            **timing,
            "jax_per_epoch_s": timing["warm"]["median_s"] / s.scale_epochs,
            "memory": memory,
        }
        if torch_lstm.available():
            times, _, _ = torch_runs(
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
        log(f"scaling: hidden {h}")
        hidden_rows.append({"hidden_size": h, **guarded(f"scaling hidden {h}", lambda h=h: single(h, s.window))})
    out["hidden"] = {"sequence_length": s.window, "rows": hidden_rows}
    seq_rows = []
    for L in s.scale_sequence:
        same = next((r for r in hidden_rows if r.get("hidden_size") == s.hidden and s.window == L), None)
        if same is not None:
            # The identical configuration was just measured: a second compile would hit
            # JAX's in-memory cache and report a meaningless compile time.
            seq_rows.append({**same, "sequence_length": L, "same_run_as": f"hidden_size={s.hidden} row"})
            continue
        log(f"scaling: sequence {L}")
        seq_rows.append({"sequence_length": L, **guarded(f"scaling sequence {L}", lambda L=L: single(s.hidden, L))})
    out["sequence"] = {"hidden_size": s.hidden, "rows": seq_rows}
    return out

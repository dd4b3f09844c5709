"""Section 5, profile: where the seed configuration's training step spends its time.

One minibatch step split into forward, loss and gradient, and the full step with Adam;
then whole training loops in variants that each change one thing against a reference
loop (scan unroll, the input projection hoisted, one gather per epoch, donated buffers,
raveled params, a hand-written backward pass, the vector width) and the library's own
training core. Repeats are interleaved across variants so load from other work hits them
alike.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from benchmarks import _timing, torch_lstm
from benchmarks.speed import library
from benchmarks.speed.common import aot, block, get, guarded, latency, log, unavailable
from benchmarks.speed.settings import Settings

# ---------------------------------------------------------------------------- calls into jaxlstm
# (and the params layout ``{"layers": [{"w", "b"}, ...], "head": {"w", "b"}}`` that the
# rewritten forward passes below read; the training core is in ``library``)


def _model_apply(unroll: int | bool | None = None) -> Callable[[Any, Any], Any]:
    """jaxlstm's forward pass ``apply(params, xs)``, with the time scan unrolled when ``unroll`` is given."""
    import jaxlstm as jl

    return jl.apply if unroll is None else functools.partial(jl.apply, unroll=unroll)


def _step_pieces(params: Any, optimizer: Any, x: Any, y: Any, w: Any) -> dict[str, tuple[Callable[..., Any], tuple]]:
    """The pieces of one minibatch step, jitted, with their arguments: name -> ``(fn, args)``."""
    import jax
    import optax

    import jaxlstm as jl
    from jaxlstm._src import training

    loss = training.weighted_loss

    def train_step(params: Any, opt_state: Any, x: Any, y: Any, w: Any) -> tuple[Any, Any, Any]:
        # One minibatch step of fit_arrays: loss and gradient, then the optimiser's update.
        value, grads = jax.value_and_grad(loss)(params, x, y, w)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return {
        "forward": (jax.jit(jl.apply), (params, x)),
        "loss_and_gradient": (jax.jit(jax.value_and_grad(loss)), (params, x, y, w)),
        "train_step_with_adam": (jax.jit(train_step), (params, optimizer.init(params), x, y, w)),
    }


# ---------------------------------------------------------------------------- the variants


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

        zeros = jnp.zeros((*zx.shape[1:-1], hidden), xs.dtype)
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

        zeros = jnp.zeros((*xs_tm.shape[1:-1], hidden), xs_tm.dtype)
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

    The reference is what ``fit_arrays`` did per step before any change:
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
    step = get(breakdown, "loss_and_gradient", "warm", "median_s")
    n = 1024
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    timing = latency(lambda: matmul(a, a).block_until_ready(), repeats)
    return {
        "step_matmul_flop": flop,
        "step_gflops_per_s": flop / step / 1e9 if step else None,
        "matmul_size": n,
        "matmul_gflops_per_s": 2 * n**3 / timing["warm"]["median_s"] / 1e9,
    }


def _variant_specs(apply_cvjp: Callable[[Any, Any], Any]) -> dict[str, tuple[str, Callable[[Any, Any], Any], dict]]:
    """The whole-loop variants: name -> ``(what it changes, forward pass, _variant_loop options)``."""
    apply = _model_apply()
    return {
        "reference": ("params as a tree, gather per step, unroll 1", apply, {}),
        "unroll_2": ("lax.scan unroll=2 over time", _model_apply(2), {}),
        "unroll_4": ("lax.scan unroll=4 over time", _model_apply(4), {}),
        "unroll_full": ("time loop fully unrolled", _model_apply(True), {}),
        "hoisted_input_projection": ("x @ W_x for all steps before the scan", _apply_hoisted, {}),
        "pre_permuted_batches": ("one gather per epoch instead of one per step", apply, {"prepermute": True}),
        "donated_params": ("params buffer donated to the jitted loop", apply, {"donate": True}),
        "flat_params": ("params raveled to one vector: one Adam update", apply, {"flat": True}),
        "custom_vjp": ("hand-written backward pass, weight gradient hoisted", apply_cvjp, {}),
        "vector_width_512": (
            "compiled with xla_cpu_prefer_vector_width=512 (as the library compiles training and forecasts)",
            apply,
            {},
        ),
    }


# Compiler options of the variants that change only how the reference loop is compiled.
_VARIANT_OPTIONS = {"vector_width_512": {"xla_cpu_prefer_vector_width": 512}}


# ---------------------------------------------------------------------------- the section


def bench_profile(s: Settings, state: dict[str, Any]) -> dict[str, Any]:
    """Timing variants of the seed configuration's training step, and where a step's time goes."""
    import jax
    import jax.numpy as jnp
    import optax

    _, xs, ys = library.scaled_windows(s.candles, s.window)
    params0 = library.init_params(s.hidden)
    epochs, lr, bs = s.profile_epochs, s.learning_rate, s.batch_size
    steps = epochs * torch_lstm.steps_per_epoch(int(xs.shape[0]), bs)
    key = jax.random.key(1)
    out: dict[str, Any] = {"epochs_timed": epochs, "steps_timed": steps, "repeats": s.profile_repeats}

    # -- where one minibatch step's time goes (batch of bs windows, jitted, warm)
    x_b, y_b, w_b = xs[:bs], ys[:bs], jnp.ones((min(bs, xs.shape[0]),), jnp.float32)
    parts = _step_pieces(params0, optax.adam(lr), x_b, y_b, w_b)
    out["step_breakdown"] = {
        name: guarded(f"profile {name}", lambda f=f, a=a: latency(lambda: block(f(*a)), s.profile_repeats))
        for name, (f, a) in parts.items()
    }
    out["arithmetic"] = guarded(
        "profile arithmetic", lambda: _arithmetic_rate(s, out["step_breakdown"], s.profile_repeats)
    )

    # -- whole-loop variants, each changing one thing against the reference
    compiled: dict[str, Any] = {}
    variants: dict[str, Any] = {}
    for name, (what, apply_fn, options) in _variant_specs(_apply_custom_vjp()).items():
        log(f"profile: compile {name}")
        try:
            build = functools.partial(_variant_loop, apply_fn, epochs, bs, lr, **options)
            exe, compile_s = aot(lambda build=build: build().lower(key, params0, xs, ys), _VARIANT_OPTIONS.get(name))
            compiled[name] = exe
            variants[name] = {"what": what, "compile_s": compile_s, "runs_s": []}
        except Exception as err:  # a variant that fails to build is reported, not fatal
            variants[name] = unavailable(f"error: {err!r}")
    cfg = library.train_config(s, epochs)
    lib_args = library.train_core_args(key, params0, xs, ys)
    log("profile: compile library")
    lib_exe, compile_s = aot(lambda: library.lower_train_core(lib_args, cfg))
    variants["library"] = {
        "what": "jaxlstm's fit_arrays as it is now (with early-stopping bookkeeping)",
        "compile_s": compile_s,
        "runs_s": [],
    }
    reference_out = None
    for name, exe in compiled.items():
        fresh = jax.tree.map(jnp.copy, params0)  # a donated buffer must not be params0 itself
        res = block(exe(key, fresh, xs, ys))
        if name == "reference":
            reference_out = res
        elif reference_out is not None:
            variants[name]["max_abs_param_diff_vs_reference"] = max(
                float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(res), jax.tree.leaves(reference_out))
            )
    block(lib_exe(*lib_args))
    # Interleaved repeats, so a burst of load from other work hits every variant alike.
    for _ in range(s.profile_repeats):
        for name, v_exe in [*compiled.items(), ("library", lib_exe)]:
            call_args = lib_args if name == "library" else (key, jax.tree.map(jnp.copy, params0), xs, ys)
            block(call_args)
            start = _timing.now()
            block(v_exe(*call_args))
            variants[name]["runs_s"].append(_timing.now() - start)
    for v in variants.values():
        if v.get("runs_s"):
            v.update(_timing.summarize(v.pop("runs_s")))
            v["per_step_median_s"] = v["median_s"] / steps
            v["per_step_min_s"] = v["min_s"] / steps
    base = variants.get("reference", {})
    for v in variants.values():
        if "min_s" in v and "min_s" in base:
            v["min_vs_reference"] = v["min_s"] / base["min_s"]
            v["median_vs_reference"] = v["median_s"] / base["median_s"]
    out["variants"] = variants
    return out

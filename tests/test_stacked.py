import json
import os
import pathlib
import subprocess
import sys
import threading
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compilations import counted

import jaxlstm
from jaxlstm._src import stacked
from jaxlstm._src import training as train
from jaxlstm._src.nn import lstm as model
from jaxlstm._src.prep import windows

TOL = 1e-5
WINDOW = 5
HIDDEN = 4


def _series(lengths, seed=0):
    """Sines of different periods; the third is noisy so its validation loss stalls early."""
    rng = np.random.default_rng(seed)
    out = []
    for i, length in enumerate(lengths):
        t = np.arange(length)
        clean = 0.5 + 0.4 * np.sin(2 * np.pi * t / (8 + 3 * i))
        out.append((clean + [0.0, 0.02, 0.3][i % 3] * rng.normal(size=length)).astype(np.float32))
    return out


def _stacked_params(num, seed=1):
    cfg = model.LSTMConfig(hidden_size=HIDDEN)
    each = [model.init_params(k, cfg) for k in jax.random.split(jax.random.key(seed), num)]
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *each)


def _row(tree, s):
    return jax.tree.map(lambda a: a[s], tree)


def _assert_params_close(a, b, tol=TOL):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=tol, rtol=0)


def _assert_matches_alone(many, s, alone):
    _assert_params_close(_row(many.params, s), alone.params)
    run = alone.epochs_run
    assert many.epochs_run[s] == run
    assert many.best_epoch[s] == alone.best_epoch
    assert many.stop_reason[s] == alone.stop_reason
    np.testing.assert_allclose(many.train_loss[s, :run], alone.train_loss, atol=TOL, rtol=0)
    assert np.all(np.isnan(many.train_loss[s, run:])) and np.all(np.isnan(many.val_loss[s, run:]))
    np.testing.assert_allclose(many.val_loss[s, :run], alone.val_loss, atol=TOL, rtol=0)


class Stacked(NamedTuple):
    xs: np.ndarray
    ys: np.ndarray
    weights: np.ndarray
    xs_val: np.ndarray
    ys_val: np.ndarray
    weights_val: np.ndarray
    n_train: np.ndarray
    n_val: np.ndarray


def _stack(series_list, window, fraction):
    """Windows each series, splits it in time and pads the set, with the library's own functions."""
    parts = []
    for s in series_list:
        xs, ys = windows.sliding_windows(np.asarray(s, np.float32), window)
        n_train, n_val = windows.chronological_split(xs.shape[0], fraction)
        parts.append((xs[:n_train], ys[:n_train], xs[n_train:], ys[n_train:], n_train, n_val))
    xs, weights = windows.pad_stack([p[0] for p in parts])
    ys, _ = windows.pad_stack([p[1] for p in parts])
    xs_val, weights_val = windows.pad_stack([p[2] for p in parts])
    ys_val, _ = windows.pad_stack([p[3] for p in parts])
    counts = np.array([[p[4], p[5]] for p in parts])
    return Stacked(xs, ys, weights, xs_val, ys_val, weights_val, counts[:, 0], counts[:, 1])


# ------------------------------------------------------------- equality with lone training

# One minibatch per epoch (batch_size >= n_max): padding then changes neither the batches
# nor the loss, so every symbol must match its lone, unpadded run.
ONE_BATCH = train.TrainConfig(learning_rate=3e-2, epochs=15, batch_size=64, patience=2)


@pytest.fixture(scope="module")
def ragged():
    series = _series((47, 40, 33))
    data = _stack(series, WINDOW, 0.2)
    keys = jax.random.split(jax.random.key(0), 3)
    params = _stacked_params(3)
    many = stacked.train_many(keys, params, *data[:6], ONE_BATCH)
    return data, keys, params, many


def _alone(data, keys, params, s, cfg):
    n, m = data.n_train[s], data.n_val[s]
    val = (data.xs_val[s, :m], data.ys_val[s, :m])
    return train.train(keys[s], _row(params, s), data.xs[s, :n], data.ys[s, :n], cfg, validation_data=val)


@pytest.mark.slow
def test_ragged_symbols_match_training_each_alone(ragged):
    data, keys, params, many = ragged
    assert data.xs.shape[1] <= ONE_BATCH.batch_size
    assert len(set(data.n_train)) == 3
    for s in range(3):
        _assert_matches_alone(many, s, _alone(data, keys, params, s, ONE_BATCH))


@pytest.mark.slow
def test_ragged_symbols_in_several_shuffled_minibatches_match_training_each_alone(ragged):
    # Batch 8: the models have different numbers of real batches, and the shorter ones
    # batches of padding only, which must not step Adam (under vmap too).
    data, keys, params, _ = ragged
    cfg = train.TrainConfig(learning_rate=3e-2, epochs=6, batch_size=8, patience=2)
    many = stacked.train_many(keys, params, *data[:6], cfg)
    assert len({-(-int(n) // 8) for n in data.n_train}) > 1
    for s in range(3):
        _assert_matches_alone(many, s, _alone(data, keys, params, s, cfg))


@pytest.mark.slow
def test_early_stopping_is_independent_per_symbol(ragged):
    # The loop runs until the last model stops; the first to stop must stay frozen
    # meanwhile, so it still equals its lone run, as does the last one.
    data, keys, params, many = ragged
    first, last = int(np.argmin(many.epochs_run)), int(np.argmax(many.epochs_run))
    assert many.stop_reason[first] == train.StopReason.EARLY_STOPPING
    assert many.epochs_run[first] < many.epochs_run[last]
    for s in (first, last):
        _assert_matches_alone(many, s, _alone(data, keys, params, s, ONE_BATCH))


@pytest.mark.slow
def test_symbol_without_validation_weight_monitors_its_training_loss(ragged):
    data, keys, params, many = ragged
    weights_val = data.weights_val.copy()
    weights_val[1] = 0.0
    args = list(data[:6])
    args[5] = weights_val
    mixed = stacked.train_many(keys, params, *args, ONE_BATCH)
    run, patience = int(mixed.epochs_run[1]), ONE_BATCH.patience
    assert np.all(np.isnan(mixed.val_loss[1]))
    # Monitoring does not change the updates: the same trajectory as with its validation rows ...
    common = min(run, int(many.epochs_run[1]))
    np.testing.assert_allclose(mixed.train_loss[1, :common], many.train_loss[1, :common], atol=TOL, rtol=0)
    # ... but the stopping decision follows the training loss (strict improvement, so the
    # first minimum), rather than stopping after `patience` epochs of a constant zero.
    history = mixed.train_loss[1, :run]
    assert mixed.best_epoch[1] == 1 + int(np.argmin(history))
    assert run > patience + 1
    if mixed.stop_reason[1] == train.StopReason.EARLY_STOPPING:
        assert run - mixed.best_epoch[1] == patience
    else:
        assert (mixed.stop_reason[1], run) == (train.StopReason.MAX_EPOCHS, ONE_BATCH.epochs)
    for s in (0, 2):
        _assert_params_close(_row(mixed.params, s), _row(many.params, s), tol=0)
        np.testing.assert_array_equal(mixed.val_loss[s], many.val_loss[s])


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_blocks_of_symbols_on_several_cores_match_one_call(ragged, workers):
    # 3 symbols in 2 blocks needs a dummy symbol, which must not reach the result.
    data, keys, params, many = ragged
    split = stacked.train_many(keys, params, *data[:6], ONE_BATCH, workers=workers)
    assert split.train_loss.shape == many.train_loss.shape and len(split.stop_reason) == 3
    assert jax.tree.leaves(split.params)[0].shape[0] == 3
    _assert_params_close(split.params, many.params)
    np.testing.assert_allclose(split.train_loss, many.train_loss, atol=TOL, rtol=0)
    np.testing.assert_array_equal(split.epochs_run, many.epochs_run)
    assert split.stop_reason == many.stop_reason


def test_padding_rows_do_not_influence_training(ragged):
    data, keys, params, many = ragged
    rng = np.random.default_rng(5)
    junk = [a.copy() for a in data[:6]]
    for arr, counts in ((junk[0], data.n_train), (junk[1], data.n_train), (junk[3], data.n_val), (junk[4], data.n_val)):
        for s in range(3):
            arr[s, counts[s] :] = 100 * rng.normal(size=arr[s, counts[s] :].shape)
    assert not np.array_equal(junk[0], data.xs) and not np.array_equal(junk[4], data.ys_val)
    dirty = stacked.train_many(keys, params, *junk, ONE_BATCH)
    _assert_params_close(dirty.params, many.params)
    np.testing.assert_allclose(dirty.train_loss, many.train_loss, atol=TOL, rtol=0)
    np.testing.assert_allclose(dirty.val_loss, many.val_loss, atol=TOL, rtol=0)
    np.testing.assert_array_equal(dirty.epochs_run, many.epochs_run)


# ------------------------------------------------------------------------------ sharding

# Equal lengths and several shuffled minibatches per epoch: with no padding rows every
# symbol must match its lone run, sharded or not.
SHARDED = dict(learning_rate=3e-2, epochs=8, batch_size=8, patience=2)

_SHARDED_SCRIPT = r"""
import json, sys
import jax, jax.numpy as jnp, numpy as np
from jaxlstm._src.nn import lstm as model
from jaxlstm._src import stacked
from jaxlstm._src import training as train

inputs = np.load(sys.argv[1])
cfg = train.TrainConfig(**json.loads(sys.argv[3]))
data = [inputs[f"a{i}"] for i in range(6)]
num = data[0].shape[0]
mc = model.LSTMConfig(hidden_size=int(inputs["hidden"]))
each = [model.init_params(k, mc) for k in jax.random.split(jax.random.key(1), num)]
params = jax.tree.map(lambda *leaves: jnp.stack(leaves), *each)
keys = jax.random.split(jax.random.key(0), num)
six = stacked.train_many(keys, params, *data, cfg)
# Two real extra symbols (copies of symbols 0 and 1) in place of the two dummies.
extend = lambda a: jnp.concatenate([a, a[:2]]) if isinstance(a, jax.Array) else np.concatenate([a, a[:2]])
eight = stacked.train_many(extend(keys), jax.tree.map(extend, params), *map(extend, data), cfg)
leaf6, leaf8 = six.params["layers"][0]["w"], eight.params["layers"][0]["w"]
report = {
    "devices": jax.device_count(),
    "devices6": sorted(str(d) for d in leaf6.sharding.device_set),
    "shards8": sorted([str(sh.device), sh.index[0].start, sh.index[0].stop] for sh in leaf8.addressable_shards),
    "stop6": [int(r) for r in six.stop_reason],
}
arrays = {f"p{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(six.params))}
arrays.update({f"q{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(eight.params))})
np.savez(sys.argv[2], train_loss=six.train_loss, val_loss=six.val_loss, epochs_run=six.epochs_run,
         best_epoch=six.best_epoch, train_loss8=eight.train_loss, **arrays)
print(json.dumps(report))
"""


@pytest.mark.slow
def test_sharded_over_four_simulated_devices_matches_one_device(tmp_path):
    num, length = 6, 30
    data = _stack(_series([length] * num, seed=3), 4, 0.25)
    assert data.weights.all() and data.weights_val.all()
    assert data.xs.shape[1] > 2 * SHARDED["batch_size"]
    np.savez(tmp_path / "in.npz", hidden=HIDDEN, **{f"a{i}": a for i, a in enumerate(data[:6])})
    root = str(pathlib.Path(jaxlstm.__file__).resolve().parents[1])
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
    )
    files = [str(tmp_path / "in.npz"), str(tmp_path / "out.npz")]
    command = [sys.executable, "-c", _SHARDED_SCRIPT, *files, json.dumps(SHARDED)]
    # The one-device reference (each symbol alone; one compile, as all share a shape) runs
    # here while the child compiles.
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        cfg = train.TrainConfig(**SHARDED)
        keys, params = jax.random.split(jax.random.key(0), num), _stacked_params(num)
        alone = [_alone(data, keys, params, s, cfg) for s in range(num)]
        stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    out = np.load(tmp_path / "out.npz")
    assert jax.device_count() == 1 and report["devices"] == 4

    # Padded to 8 = 4 x 2: the run spanned all four devices; the six kept symbols are
    # sliced off the padded result (replicated, as a JAX array must tile evenly).
    assert len(report["devices6"]) == 4
    # Unpadded, the params stay sharded: each device holds its own two symbols.
    assert sorted((start, stop) for _, start, stop in report["shards8"]) == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert len({device for device, _, _ in report["shards8"]}) == 4

    many = train.TrainResult(
        params=[out[f"p{i}"] for i in range(len(jax.tree.leaves(params)))],
        opt_state=None,
        train_loss=out["train_loss"],
        val_loss=out["val_loss"],
        epochs_run=out["epochs_run"],
        best_epoch=out["best_epoch"],
        stop_reason=[train.StopReason(r) for r in report["stop6"]],
    )
    treedef = jax.tree.structure(params)
    many = many._replace(params=jax.tree.unflatten(treedef, many.params))
    for s in range(num):
        _assert_matches_alone(many, s, alone[s])
    assert len(set(many.epochs_run.tolist())) >= 2
    for i in range(treedef.num_leaves):
        # Real symbols on the fourth device instead of dummies change nothing for the first
        # six, and a symbol's copy on another device trains identically.
        np.testing.assert_array_equal(out[f"q{i}"][:num], out[f"p{i}"])
        np.testing.assert_allclose(out[f"q{i}"][num:], out[f"p{i}"][:2], atol=TOL, rtol=0)
    np.testing.assert_allclose(out["train_loss8"][num:], out["train_loss"][:2], atol=TOL, rtol=0)


# ---------------------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def small():
    data = _stack(_series((20, 24)), WINDOW, 0.25)
    return jax.random.split(jax.random.key(0), 2), _stacked_params(2), list(data[:6])


@pytest.mark.parametrize(
    "index, name, change",
    [
        (0, "xs", lambda a: a[:1]),
        (1, "ys", lambda a: a[:1]),
        (2, "weights", lambda a: np.concatenate([a, a[:1]])),
        (3, "xs_val", lambda a: a[:1]),
        (5, "weights_val", lambda a: a[:, :-1]),
        (0, "xs", lambda a: a[0]),
        (1, "ys", lambda a: a[..., None]),
        (3, "xs_val", lambda a: a[:, :, :-1]),
        (2, "weights", lambda a: -a),
        (0, "xs", lambda a: np.where(a > 0.5, np.nan, a)),
    ],
)
def test_bad_arrays_raise_value_error_naming_the_argument(small, index, name, change):
    keys, params, data = small
    data = list(data)
    data[index] = change(data[index])
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        stacked.train_many(keys, params, *data, ONE_BATCH)


def test_bad_keys_and_params_are_refused(small):
    keys, params, data = small
    with pytest.raises(ValueError, match="keys"):
        stacked.train_many(keys.reshape(2, 1), params, *data, ONE_BATCH)
    with pytest.raises(ValueError, match=r"^params\[.*M=1"):
        stacked.train_many(keys[:1], params, *data, ONE_BATCH)
    with pytest.raises(ValueError, match="params"):
        stacked.train_many(keys, _row(params, 0), *data, ONE_BATCH)
    with pytest.raises(TypeError, match="keys"):
        stacked.train_many(jax.random.key_data(keys), params, *data, ONE_BATCH)
    with pytest.raises(TypeError, match="cfg"):
        stacked.train_many(keys, params, *data, {"epochs": 3})
    with pytest.raises(ValueError, match="^workers must be"):
        stacked.train_many(keys, params, *data, ONE_BATCH, workers=0)
    with pytest.raises(ValueError, match="^workers applies to one device"):
        stacked.train_many(keys, params, *data, ONE_BATCH, devices=jax.devices()[:1], workers=2)


# ---------------------------------------------------------------------------- predict_many


@pytest.mark.parametrize(
    "workers",
    [
        pytest.param(None, marks=pytest.mark.slow),
        pytest.param(1, marks=pytest.mark.slow),
        2,
        pytest.param(3, marks=pytest.mark.slow),
    ],
)
def test_predict_many_equals_each_models_own_forecast(workers):
    params = _stacked_params(3)
    xs = jax.random.normal(jax.random.key(4), (3, 2, WINDOW, 1))
    many = stacked.predict_many(params, xs, 6, workers=workers)
    assert many.shape == (3, 2, 6, 1)
    for s in range(3):
        np.testing.assert_allclose(many[s], model.predict_multi_step(_row(params, s), xs[s], 6), atol=1e-6, rtol=0)
    one_window = stacked.predict_many(params, np.asarray(xs[:, 0]), 6, workers=workers)
    assert one_window.shape == (3, 6, 1)
    np.testing.assert_allclose(one_window, many[:, 0], atol=1e-6, rtol=0)


@pytest.mark.slow
def test_predict_many_bad_inputs():
    params = _stacked_params(2)
    xs = np.zeros((2, WINDOW, 1), np.float32)
    with pytest.raises(ValueError, match=r"^xs must be \[M, time, 1\].*M=2.*got shape \(3, 5, 1\)"):
        stacked.predict_many(params, np.zeros((3, WINDOW, 1)), 4)
    with pytest.raises(ValueError, match="^xs must be"):
        stacked.predict_many(params, np.zeros((2, WINDOW, 2)), 4)
    with pytest.raises(ValueError, match="^xs must be finite"):
        stacked.predict_many(params, np.full((2, WINDOW, 1), np.nan), 4)
    with pytest.raises(ValueError, match=r"^params\[.*leading models axis"):
        stacked.predict_many(_row(params, 0), xs, 4)
    with pytest.raises(ValueError, match="^steps must be an integer >= 1"):
        stacked.predict_many(params, xs, 0)
    with pytest.raises(ValueError, match="^workers must be"):
        stacked.predict_many(params, xs, 4, workers=0)
    two_out = jax.vmap(lambda k: model.init_params(k, model.LSTMConfig(hidden_size=HIDDEN, output_size=2)))(
        jax.random.split(jax.random.key(0), 2)
    )
    with pytest.raises(ValueError, match="output_size == input_size"):
        stacked.predict_many(two_out, xs, 4)


def test_plan_blocks_uses_the_cores_on_a_cpu_and_one_call_elsewhere():
    cores = stacked.available_cores()
    assert cores >= 1
    size = stacked.MAX_BLOCK_SIZE
    many = stacked.plan_blocks(None, 1000, "cpu")
    # Small blocks, queued on one thread per core.
    assert many == stacked.BlockPlan(blocks=-(-1000 // size), threads=min(cores, 1000))
    assert stacked.plan_blocks(None, 1000, "gpu") == stacked.BlockPlan(1, 1)
    # One thread on a CPU runs the small blocks in turn, not one vmap of every model (slower
    # per model past a few: the processes of a host each get one core's thread).
    assert stacked.plan_blocks(1, 1000, "cpu") == stacked.BlockPlan(-(-1000 // size), 1)
    assert stacked.plan_blocks(1, size, "cpu") == stacked.BlockPlan(1, 1)
    assert stacked.plan_blocks(1, 1000, "gpu") == stacked.BlockPlan(1, 1)
    assert stacked.plan_blocks(8, 3, "cpu") == stacked.BlockPlan(3, 3)  # never more blocks than models
    assert stacked.plan_blocks(2, 10, "gpu") == stacked.BlockPlan(2, 2)  # asked for explicitly
    assert stacked.plan_blocks(2, 4 * size + 1, "cpu") == stacked.BlockPlan(5, 2)
    with pytest.raises(ValueError, match="^workers must be an integer >= 1, got 0"):
        stacked.plan_blocks(0, 4, "cpu")
    with pytest.raises(TypeError, match="^workers must be an integer"):
        stacked.plan_blocks(2.0, 4, "cpu")


@pytest.mark.parametrize(("blocks", "threads"), [(1, 1), (2, 2), (4, 4), (4, 2)])
def test_run_blocks_runs_blocks_at_once_and_equals_one_call(blocks, threads):
    batched = jax.jit(jax.vmap(lambda x, w: (jnp.tanh(x) @ w, x.sum())))
    x = jax.random.normal(jax.random.key(0), (8, 3))
    w = jax.random.normal(jax.random.key(1), (8, 3, 2))
    compiled = []
    # Each block waits until `threads` blocks are in flight: this completes only if they run
    # at the same time (and, with more blocks than threads, the rest are queued, not lost).
    barrier = threading.Barrier(threads, timeout=30)
    running, most = [0], [0]
    lock = threading.Lock()

    def compile_block(xb, wb):
        compiled.append(xb.shape)
        run = batched.lower(xb, wb).compile()

        def call(*args):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            barrier.wait()
            try:
                return run(*args)
            finally:
                with lock:
                    running[0] -= 1

        return call

    got = stacked.run_blocks(compile_block, (x, w), stacked.BlockPlan(blocks, threads))
    want = batched(x, w)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    assert compiled == [(8 // blocks, 3)]  # one executable for every block
    assert most[0] == threads  # never more blocks at once than threads


def test_run_blocks_cuts_cpu_arrays_and_keys_on_the_host_compiling_only_the_block():
    # A jitted split (and join) is one program per count of blocks and leaves: 512 fits in
    # 86 blocks spent 9.3 s and 1.2 GB compiling the split alone when one leaf (the PRNG
    # keys) was a JAX array.
    batched = jax.jit(jax.vmap(lambda k, x: (jax.random.normal(k, (2,)) + x.sum(), jax.random.split(k)[0])))
    keys = jax.random.split(jax.random.key(3), 14)
    x = jnp.arange(14 * 3, dtype=jnp.float32).reshape(14, 3)
    want = batched(keys, x)
    runs = []

    def compile_block(kb, xb):
        runs.append(batched.lower(kb, xb).compile())
        return runs[-1]

    compile_block(keys[:2], x[:2])  # compiled once, so that only what run_blocks adds is counted
    with counted() as counts:
        got = stacked.run_blocks(compile_block, (keys, x), stacked.BlockPlan(7, 2))
    assert set(counts) <= {"<lambda>"}, counts  # the block program (compiled again by lower) alone
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    assert jax.dtypes.issubdtype(got[1].dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(jax.random.key_data(got[1]), jax.random.key_data(want[1]))


def _draw(key: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return jax.random.normal(key, (2,)) + x.sum(), jax.random.split(key)[0]


def test_run_stacked_pads_and_trims_cpu_rows_on_the_host_compiling_only_the_function():
    # Padding the rows to a multiple of the blocks and dropping the padded results with jnp
    # compiled a concatenate, a broadcast and a dynamic_slice per count of rows: a warm
    # fit_many of 23 series compiled 14 such programs before its first epoch.
    keys = jax.random.split(jax.random.key(5), 7)
    x = jnp.arange(7 * 3, dtype=jnp.float32).reshape(7, 3)
    want = jax.vmap(_draw)(keys, x)
    stacked.run_stacked(_draw, (keys[:4], x[:4]), workers=2)  # blocks of two rows: compiled once
    with counted() as counts:
        got = stacked.run_stacked(_draw, (keys, x), workers=2)  # 7 rows: padded to 8, trimmed to 7
    assert set(counts) <= {"jit(_draw)"}, counts
    assert got[0].shape == (7, 2) and isinstance(got[0], jax.Array)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    assert jax.dtypes.issubdtype(got[1].dtype, jax.dtypes.prng_key) and got[1].shape == (7,)
    np.testing.assert_array_equal(jax.random.key_data(got[1]), jax.random.key_data(want[1]))


def test_stack_on_host_stacks_arrays_and_keys_without_compiling():
    keys = [jax.random.key(i) for i in range(3)]
    leaves = [jnp.ones(2), np.zeros(2, np.float32)]
    with counted() as counts:
        stacked_keys = stacked.stack_on_host(keys)
        arrays = stacked.stack_on_host(leaves)
    assert not counts, counts
    np.testing.assert_array_equal(jax.random.key_data(stacked_keys), np.stack([jax.random.key_data(k) for k in keys]))
    np.testing.assert_array_equal(arrays, [[1, 1], [0, 0]])


_FORK_SCRIPT = r"""
import os, sys
from jaxlstm._src import stacked
pool = stacked._pool(2)
assert pool.submit(lambda: 1).result(timeout=30) == 1  # the parent's pool has live threads
pid = os.fork()
if pid == 0:
    # The child inherits the pool object but not its threads: work sent to it would wait forever.
    child = stacked._pool(2)
    ok = child is not pool and child.submit(lambda: 42).result(timeout=20) == 42
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_after_a_fork_the_child_starts_its_own_pool():
    proc = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlstm as jl
from jaxlstm._src import training


def _sine_windows(noise=0.05, n=420, window=20, seed=0):
    t = np.arange(n)
    series = np.sin(2 * np.pi * t / 25) + noise * np.random.default_rng(seed).normal(size=n)
    encoding = jl.data.MinMaxEncoding()
    state = encoding.fit(series[:340] + 10)  # the encoding takes positive prices
    scaled = encoding.scale(state, jnp.asarray(series + 10, jnp.float32))
    xs, ys = jl.data.sliding_windows(scaled, window)
    return series, scaled, xs, ys


@pytest.fixture(scope="module")
def trained():
    series, scaled, xs, ys = _sine_windows()
    split = 320
    params0 = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=16))
    cfg = jl.TrainConfig(learning_rate=1e-2, epochs=60, batch_size=32, patience=15)
    result = jl.train(jax.random.key(1), params0, xs[:split], ys[:split], cfg, validation_data=(xs[split:], ys[split:]))
    return series, scaled, xs, ys, split, params0, cfg, result


def test_training_reduces_loss_and_reports_history(trained):
    *_, result = trained
    assert result.epochs_run >= 10
    assert result.train_loss.shape == (result.epochs_run,) == result.val_loss.shape
    assert np.all(np.isfinite(result.train_loss))
    assert result.train_loss[-1] < 0.1 * result.train_loss[0]
    assert result.val_loss.min() < 0.01
    assert 1 <= result.best_epoch <= result.epochs_run
    assert isinstance(result.stop_reason, jl.StopReason)


def test_recursive_forecast_beats_repeating_the_last_value(trained):
    _series, scaled, _xs, _ys, _split, _, _, result = trained
    origin = 380
    window = scaled[origin - 20 : origin][None, :, None]
    forecast = np.asarray(jl.predict_multi_step(result.params, window, steps=24))[0, :, 0]
    truth = np.asarray(scaled[origin : origin + 24])
    mae_lstm = np.mean(np.abs(forecast - truth))
    mae_naive = np.mean(np.abs(truth - float(scaled[origin - 1])))
    assert mae_lstm < 0.3 * mae_naive


def test_same_key_same_params(trained):
    _, _, xs, ys, split, params0, cfg, result = trained
    again = jl.train(jax.random.key(1), params0, xs[:split], ys[:split], cfg, validation_data=(xs[split:], ys[split:]))
    for a, b in zip(jax.tree.leaves(result.params), jax.tree.leaves(again.params)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    np.testing.assert_array_equal(result.train_loss, again.train_loss)


def test_restore_best_returns_the_best_validation_epoch(trained):
    _, _, xs, ys, split, _, _, result = trained
    best = training.weighted_loss(result.params, xs[split:], ys[split:])
    assert float(best) == pytest.approx(result.val_loss.min(), rel=1e-4)
    assert result.val_loss[result.best_epoch - 1] == result.val_loss.min()


@pytest.mark.slow
def test_early_stopping_stops_before_max_epochs():
    _, _, xs, ys = _sine_windows(noise=1.0, n=160)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    # Pure noise: validation loss stops improving quickly.
    cfg = jl.TrainConfig(learning_rate=3e-2, epochs=300, patience=3)
    result = jl.train(jax.random.key(0), params, xs[:100], ys[:100], cfg, validation_data=(xs[100:], ys[100:]))
    assert result.stop_reason == jl.StopReason.EARLY_STOPPING
    assert result.epochs_run < 300
    assert result.epochs_run - result.best_epoch == 3


@pytest.mark.slow
def test_loss_threshold_rule_of_the_seed():
    _, _, xs, ys = _sine_windows(noise=0.0, n=120)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    result = jl.train(
        jax.random.key(0),
        params,
        xs,
        ys,
        jl.TrainConfig(learning_rate=1e-2, epochs=200, loss_threshold=0.05, patience=None),
    )
    assert result.stop_reason == jl.StopReason.LOSS_THRESHOLD
    assert result.train_loss[-1] < 0.05 and np.all(result.train_loss[:-1] >= 0.05)


@pytest.mark.slow
def test_non_finite_loss_stops_and_keeps_last_good_params():
    _, _, xs, ys = _sine_windows(n=120)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    # Targets of 1e20 square to inf in float32: the very first epoch is non-finite.
    cfg = jl.TrainConfig(epochs=50, patience=None, restore_best=False)
    result = jl.train(jax.random.key(0), params, xs, ys * 1e20, cfg)
    assert result.stop_reason == jl.StopReason.NON_FINITE_LOSS
    assert result.epochs_run == 0 and result.train_loss.shape == (0,)
    for a, b in zip(jax.tree.leaves(result.params), jax.tree.leaves(params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_non_finite_midway_keeps_the_epoch_before():
    _, _, xs, ys = _sine_windows(n=120)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    # Adam moves each weight by about the learning rate per step: 1e37 overflows float32
    # after a few steps, so some epochs may finish before the loss turns inf.
    cfg = jl.TrainConfig(learning_rate=1e37, epochs=50, patience=None, restore_best=False, batch_size=128)
    result = jl.train(jax.random.key(0), params, xs, ys, cfg)
    assert result.stop_reason == jl.StopReason.NON_FINITE_LOSS
    assert result.epochs_run < 50
    assert np.all(np.isfinite(result.train_loss))
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(result.params))


@pytest.mark.slow
def test_epoch_uses_every_window_once_with_masked_padding():
    # 10 rows, batch 4: the last batch has 2 padded rows that must not count.
    xs = jnp.ones((10, 3, 1))
    ys = jnp.arange(10.0)[:, None]
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=2))
    cfg = jl.TrainConfig(learning_rate=1e-12, epochs=1, batch_size=4, patience=None)
    loss = jl.train(jax.random.key(0), params, xs, ys, cfg).train_loss[0]
    expected = training.weighted_loss(params, xs, ys)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.slow
def test_sample_weight_masks_rows():
    _, _, xs, ys = _sine_windows(n=80)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    w = np.ones(xs.shape[0])
    w[30:] = 0
    ys_poisoned = ys.at[30:].set(1e6)
    cfg = jl.TrainConfig(epochs=3, patience=None)
    a = jl.train(jax.random.key(0), params, xs, ys_poisoned, cfg, sample_weight=w)
    assert np.all(a.train_loss < 10)


@pytest.mark.slow
def test_callback_sees_every_epoch():
    _, _, xs, ys = _sine_windows(n=80)
    seen = []
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    result = jl.train(
        jax.random.key(0),
        params,
        xs,
        ys,
        jl.TrainConfig(epochs=5, patience=None),
        callback=lambda e, t, v: seen.append((int(e), float(t))),
    )
    jax.effects_barrier()
    assert [e for e, _ in seen] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose([t for _, t in seen], result.train_loss, rtol=1e-6)


def test_bad_training_inputs():
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig())
    xs, ys = np.zeros((8, 5, 1)), np.zeros((8, 1))
    with pytest.raises(ValueError, match="ys"):
        jl.train(jax.random.key(0), params, xs, np.zeros((7, 1)))
    with pytest.raises(ValueError, match="finite"):
        jl.train(jax.random.key(0), params, np.full((8, 5, 1), np.nan), ys)
    with pytest.raises(ValueError, match="xs"):
        jl.train(jax.random.key(0), params, np.zeros((8, 5)), ys)
    with pytest.raises(TypeError, match="cfg"):
        jl.train(jax.random.key(0), params, xs, ys, {"epochs": 3})
    with pytest.raises(ValueError, match="sample_weight"):
        jl.train(jax.random.key(0), params, xs, ys, sample_weight=-np.ones(8))
    for kwargs, name in [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(patience=0), "patience"),
    ]:
        with pytest.raises(ValueError, match=name):
            jl.TrainConfig(**kwargs)


def test_fit_arrays_refuses_train_data_whose_shapes_or_weights_disagree():
    # fit_arrays (the core users call on their own TrainData) raised vmap's "inconsistent
    # sizes", ZeroDivisionError on no rows, and trained on negative or all-zero weights.
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig())
    xs, ys, w = np.zeros((8, 5, 1), np.float32), np.zeros((8, 1), np.float32), np.ones(8, np.float32)
    cfg = jl.TrainConfig(epochs=1)

    def data(**changes):
        fields = dict(xs=xs, ys=ys, weights=w, xs_val=xs[:0], ys_val=ys[:0], weights_val=w[:0])
        return jl.TrainData(**{**fields, **changes})

    cases = [
        (dict(ys=ys[:7]), r"training rows must agree in number: got data.xs \(8, 5, 1\), data.ys \(7, 1\)"),
        (dict(ys=ys[:, 0]), r"data.ys \(8,\) \(expected 2-D\)"),
        (dict(xs=xs[:0], ys=ys[:0], weights=w[:0]), "at least one training row"),
        (dict(xs_val=xs[:2], ys_val=ys[:2], weights_val=w[:3]), "validation rows must agree in number"),
        (
            dict(xs_val=np.zeros((2, 6, 1)), ys_val=ys[:2], weights_val=w[:2]),
            "validation rows must have the training rows' shape",
        ),
        (dict(weights=-w), r"data.weights must be finite and >= 0, got min -1.0"),
        (dict(weights=np.where(np.arange(8) == 3, np.nan, w)), "data.weights must be finite"),
        (dict(weights=0 * w), "at least one training row, got all 0"),
    ]
    for changes, match in cases:
        with pytest.raises(ValueError, match=match):
            jl.fit_arrays(jax.random.key(0), params, data(**changes), cfg)
    with pytest.raises(TypeError, match="data must be a TrainData, got tuple"):
        jl.fit_arrays(jax.random.key(0), params, tuple(data()), cfg)
    # Shapes are checked when traced too; values (traced weights) are not.
    fit = jax.jit(jl.fit_arrays, static_argnames=("config",))
    with pytest.raises(ValueError, match="training rows must agree in number"):
        fit(jax.random.key(0), params, data(ys=ys[:7]), config=cfg)
    assert fit(jax.random.key(0), params, data(weights=w * 0 + 1), config=cfg).epochs_run == 1


def test_fit_arrays_refuses_windows_and_targets_the_network_cannot_take():
    # Targets of 3 values per row for a one-output network were broadcast by the loss and
    # trained toward their mean; windows of 3 features raised XLA's dot_general message.
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig())  # 1 input, 1 output
    xs, w = np.zeros((8, 5, 1), np.float32), np.ones(8, np.float32)

    def data(xs, ys):
        return jl.TrainData(xs, ys, w, xs[:0], ys[:0], w[:0])

    cfg = jl.TrainConfig(epochs=1)
    with pytest.raises(
        ValueError, match=r"data.ys rows must have the network's output shape \(1,\), got data.ys \(8, 3\)"
    ):
        jl.fit_arrays(jax.random.key(0), params, data(xs, np.zeros((8, 3), np.float32)), cfg)
    with pytest.raises(ValueError, match=r"data.xs windows \(5, 3\) do not fit the network's params"):
        jl.fit_arrays(jax.random.key(0), params, data(np.zeros((8, 5, 3), np.float32), np.zeros((8, 1))), cfg)
    fit = jax.jit(jl.fit_arrays, static_argnames=("config",))  # shapes only: checked when traced
    with pytest.raises(ValueError, match="output shape"):
        fit(jax.random.key(0), params, data(xs, np.zeros((8, 3), np.float32)), config=cfg)
    # A loss of the user's own defines its targets: quantile heads read [n, H] targets of a [(1 + Q) * H] output.
    own = lambda prediction, target: jnp.mean(jnp.square(prediction[:1] - target[0]))
    assert jl.fit_arrays(jax.random.key(0), params, data(xs, np.zeros((8, 3))), cfg, loss=own).epochs_run == 1


def test_stop_reasons_are_named():
    assert [str(r) for r in jl.StopReason] == ["max_epochs", "early_stopping", "loss_threshold", "non_finite_loss"]
    assert jl.StopReason.EARLY_STOPPING == 1 and jl.StopReason(3).name == "NON_FINITE_LOSS"


def _data(xs, ys, n_val=0):
    n = xs.shape[0] - n_val
    ones = jnp.ones((xs.shape[0],), jnp.float32)
    return jl.TrainData(xs[:n], ys[:n], ones[:n], xs[n:], ys[n:], ones[n:])


@pytest.mark.slow
def test_fit_arrays_jits_and_vmaps_over_models():
    _, _, xs, ys = _sine_windows(n=90)
    cfg = jl.TrainConfig(epochs=4, patience=None)
    data = _data(xs, ys, n_val=10)
    keys = jax.random.split(jax.random.key(3), 2)
    params = jax.vmap(lambda k: jl.init_params(k, jl.LSTMConfig(hidden_size=4)))(keys)
    fit = jax.jit(jl.fit_arrays, static_argnames=("config", "network"))
    both = jax.vmap(lambda k, p: fit(k, p, data, cfg, network=jl.LSTMConfig(hidden_size=4)))(keys, params)
    for i in range(2):
        alone = fit(keys[i], jax.tree.map(lambda a, i=i: a[i], params), data, cfg, network=jl.LSTMConfig(hidden_size=4))
        np.testing.assert_allclose(both.train_loss[i], alone.train_loss, rtol=1e-5)
        for a, b in zip(jax.tree.leaves(both.params), jax.tree.leaves(alone.params)):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), atol=1e-6)
    assert both.stop_reason.shape == (2,) and int(both.stop_reason[0]) == jl.StopReason.MAX_EPOCHS


@pytest.mark.slow
def test_loss_and_optimizer_are_arguments():
    _, _, xs, ys = _sine_windows(n=90)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    cfg = jl.TrainConfig(epochs=3, patience=None, shuffle=False)
    mae = jl.train(jax.random.key(0), params, xs, ys, cfg, loss=jl.nn.mae_loss)
    # The history is the loss that was asked for: the mean absolute error of the last epoch's params.
    assert mae.train_loss[0] != jl.train(jax.random.key(0), params, xs, ys, cfg).train_loss[0]
    sgd = optax.sgd(0.0)
    frozen = jl.train(jax.random.key(0), params, xs, ys, cfg, optimizer=sgd)
    for a, b in zip(jax.tree.leaves(frozen.params), jax.tree.leaves(params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(frozen.train_loss, frozen.train_loss[0], rtol=1e-6)


@pytest.mark.slow
def test_any_network_trains_a_linear_model():
    # A network is any apply(params, x[time, features]) -> [output].
    def linear(p, x):
        return x[-1] @ p["w"] + p["b"]

    _, _, xs, ys = _sine_windows(n=90)
    params = {"w": jnp.zeros((1, 1)), "b": jnp.zeros((1,))}
    result = jl.train(
        jax.random.key(0), params, xs, ys, jl.TrainConfig(learning_rate=0.05, epochs=30, patience=None), network=linear
    )
    assert result.train_loss[-1] < 0.2 * result.train_loss[0]


@pytest.mark.slow
def test_training_continues_from_the_optimiser_state():
    _, _, xs, ys = _sine_windows(n=90)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    data = _data(xs, ys)
    at = lambda epochs: jl.TrainConfig(epochs=epochs, patience=None, shuffle=False, restore_best=False)
    ten = jl.fit_arrays(jax.random.key(0), params, data, at(10))
    five = jl.fit_arrays(jax.random.key(0), params, data, at(5))
    more = jl.fit_arrays(jax.random.key(0), five.params, data, at(5), opt_state=five.opt_state)
    for a, b in zip(jax.tree.leaves(ten.params), jax.tree.leaves(more.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    restarted = jl.fit_arrays(jax.random.key(0), five.params, data, at(5))
    assert not np.allclose(np.asarray(restarted.params["head"]["w"]), np.asarray(ten.params["head"]["w"]), atol=1e-6)


@pytest.mark.slow
def test_stacked_models_may_each_have_their_own_learning_rate():
    from jaxlstm._src import training

    _, _, xs, ys = _sine_windows(n=90)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    data = _data(xs, ys)
    cfg = jl.TrainConfig(epochs=3, patience=None)
    optimizer = jl.make_optimizer(cfg)
    rates = jnp.asarray([1e-3, 3e-2])
    states = jax.vmap(lambda r: training.init_opt_state(optimizer, params, learning_rate=r))(rates)
    both = jax.vmap(lambda s: jl.fit_arrays(jax.random.key(1), params, data, cfg, opt_state=s))(states)
    for i, rate in enumerate([1e-3, 3e-2]):
        alone = jl.fit_arrays(
            jax.random.key(1), params, data, jl.TrainConfig(learning_rate=rate, epochs=3, patience=None)
        )
        np.testing.assert_allclose(both.train_loss[i], alone.train_loss, rtol=1e-5)


def test_train_result_prints_a_summary_not_every_weight():
    params = {"w": np.zeros((64, 128), np.float32), "b": np.zeros(128, np.float32)}
    result = jl.TrainResult(
        params=params,
        opt_state=(np.zeros(3), np.zeros(3)),
        train_loss=np.array([0.5, 0.25, np.nan], np.float32),
        val_loss=np.array([0.4, 0.3, np.nan], np.float32),
        epochs_run=np.int32(2),
        best_epoch=np.int32(2),
        stop_reason=np.int32(int(jl.StopReason.EARLY_STOPPING)),
    )
    text = repr(result)
    assert text == (
        "TrainResult(epochs_run=2, best_epoch=2, stop_reason=early_stopping, train_loss=[3] float32, last 0.25, "
        "val_loss=[3] float32, last 0.3, params=<2 arrays, 8,320 numbers>, opt_state=<2 arrays>)"
    )
    assert str(result) == text and len(text) < 300


# ---------------------------------------------------------------------------- shape buckets, scan, gradients

_TINY = jl.LSTMConfig(hidden_size=3)
_FIT = jax.jit(jl.fit_arrays, static_argnames=("config", "network", "loss", "optimizer"))


def _rows(n, m, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    xs, ys = rng.normal(size=(n + m, 6, 1)).astype(dtype), rng.normal(size=(n + m, 1)).astype(dtype)
    ones = np.ones(n + m, dtype)
    return jl.TrainData(xs[:n], ys[:n], ones[:n], xs[n:], ys[n:], ones[n:])


def _padded(data, n, m):
    grow = lambda a, size: np.concatenate([a, np.zeros((size - a.shape[0], *a.shape[1:]), a.dtype)])
    return jl.TrainData(*(grow(a, n) for a in data[:3]), *(grow(a, m) for a in data[3:]))


def _assert_same_run(a, b, rtol=1e-5):
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(np.asarray(a.train_loss), np.asarray(b.train_loss), rtol=rtol)
    np.testing.assert_allclose(np.asarray(a.val_loss), np.asarray(b.val_loss), rtol=rtol)
    assert int(a.epochs_run) == int(b.epochs_run) and int(a.best_epoch) == int(b.best_epoch)
    assert int(a.stop_reason) == int(b.stop_reason)


@pytest.mark.parametrize(
    "cfg",
    [
        jl.TrainConfig(learning_rate=3e-2, epochs=6, batch_size=8, patience=2),
        pytest.param(
            jl.TrainConfig(learning_rate=3e-2, epochs=4, batch_size=64, patience=None), marks=pytest.mark.slow
        ),
    ],
    ids=["early-stopping", "one-batch"],
)
@pytest.mark.slow
def test_padding_to_a_bucket_leaves_the_fit_unchanged(cfg):
    # 37 rows padded to 64 (batch 8: three more batches of padding only, which must not
    # step Adam) and 5 validation rows to 16, with shuffling on: the same run to float rounding.
    params = jl.init_params(jax.random.key(0), _TINY)
    data = _rows(37, 5)
    alone = _FIT(jax.random.key(1), params, data, cfg, network=_TINY)
    padded = _FIT(jax.random.key(1), params, _padded(data, 64, 16), cfg, network=_TINY)
    _assert_same_run(alone, padded)
    # The padding rows matter only through their weights: junk in them changes nothing.
    junk = _padded(data, 64, 16)
    junk = junk._replace(xs=junk.xs.copy(), ys_val=junk.ys_val.copy())
    junk.xs[37:] = 7.0
    junk.ys_val[5:] = -3.0
    _assert_same_run(alone, _FIT(jax.random.key(1), params, junk, cfg, network=_TINY))
    # Padding between the rows too: two equal padded blocks (19 + 18 rows, each padded to 32;
    # 3 + 2 validation rows, each to 8), as a global model's windows across two processes.
    blocks = [
        _padded(jl.TrainData(*(a[part] for a in data[:3]), *(a[val] for a in data[3:])), 32, 8)
        for part, val in ((slice(0, 19), slice(0, 3)), (slice(19, 37), slice(3, 5)))
    ]
    split = jl.TrainData(*(np.concatenate([b[k] for b in blocks]) for k in range(6)))
    _assert_same_run(alone, _FIT(jax.random.key(1), params, split, cfg, network=_TINY))


@pytest.mark.slow  # compiles the order's ops: seconds on a loaded machine
def test_an_epoch_orders_the_weighted_rows_alike_wherever_the_padding_rows_are():
    key = jax.random.key(4)
    weights = np.ones(10, np.float32)
    gaps = np.array([1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0], np.float32)  # the same 10 rows, padding between
    where = np.flatnonzero(gaps)  # row i of the unpadded rows sits at where[i]
    alone = np.asarray(training._epoch_order(key, weights))
    spaced = np.asarray(training._epoch_order(key, gaps))
    np.testing.assert_array_equal(where[alone], spaced[:10])
    assert sorted(spaced[10:]) == [3, 4, 7, 13]  # the padding rows come last


def test_a_sampled_epochs_order_is_the_first_rows_of_the_full_order():
    # A sampled epoch finds its rows with lax.top_k instead of sorting every row: the same
    # rows in the same order, padding rows (all drawn alike, 2.0) in index order at the end.
    weights = np.array([1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1] * 5, np.float32)
    for seed in range(3):
        key = jax.random.key(seed)
        full = np.asarray(training._epoch_order(key, weights))
        for count in (1, 7, 45, 59):
            np.testing.assert_array_equal(np.asarray(training._epoch_order(key, weights, count)), full[:count])
        np.testing.assert_array_equal(np.asarray(training._epoch_order(key, weights, 60)), full)


@pytest.mark.slow
def test_fixed_epochs_scan_equals_the_while_loop():
    # patience=None runs a scan; a patience longer than the run keeps the while loop and never fires.
    params = jl.init_params(jax.random.key(0), _TINY)
    data = _rows(20, 6)
    scan = _FIT(
        jax.random.key(2), params, data, jl.TrainConfig(learning_rate=1e-2, epochs=5, patience=None), network=_TINY
    )
    loop = _FIT(
        jax.random.key(2), params, data, jl.TrainConfig(learning_rate=1e-2, epochs=5, patience=6), network=_TINY
    )
    _assert_same_run(scan, loop, rtol=1e-6)
    jaxpr = str(
        jax.make_jaxpr(
            lambda p: jl.fit_arrays(jax.random.key(2), p, data, jl.TrainConfig(epochs=2, patience=None), network=_TINY)
        )(params)
    )
    assert "while" not in jaxpr


@pytest.mark.slow
def test_max_epochs_stops_a_run_as_fewer_epochs_would_in_one_program():
    # A traced cap (a head refit's budget) ends the run where TrainConfig(epochs=cap) would,
    # with histories of the configured length (NaN past the cap), and every cap shares one program.
    params = jl.init_params(jax.random.key(0), _TINY)
    data = _rows(20, 6)
    config = jl.TrainConfig(learning_rate=1e-2, epochs=8, patience=None)
    capped = jax.jit(lambda cap: jl.fit_arrays(jax.random.key(2), params, data, config, network=_TINY, max_epochs=cap))
    for cap in (2, 5, 20):
        want = _FIT(
            jax.random.key(2),
            params,
            data,
            jl.TrainConfig(learning_rate=1e-2, epochs=min(cap, 8), patience=None),
            network=_TINY,
        )
        got = capped(cap)
        ran = min(cap, 8)
        for x, y in zip(jax.tree.leaves(got.params), jax.tree.leaves(want.params), strict=True):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)
        assert int(got.epochs_run) == ran and int(got.stop_reason) == int(training.StopReason.MAX_EPOCHS)
        np.testing.assert_allclose(np.asarray(got.train_loss)[:ran], np.asarray(want.train_loss), rtol=1e-6)
        assert got.train_loss.shape == (8,) and np.isnan(np.asarray(got.train_loss)[ran:]).all()
    assert capped._cache_size() == 1


@pytest.mark.slow
def test_fit_arrays_takes_numpy_train_data_with_and_without_jit():
    params = jl.init_params(jax.random.key(0), _TINY)
    data = _rows(10, 3)  # plain numpy arrays, as the README builds them
    cfg = jl.TrainConfig(epochs=2, batch_size=4)
    eager = jl.fit_arrays(jax.random.key(0), params, data, cfg, network=_TINY)
    jitted = _FIT(jax.random.key(0), params, data, cfg, network=_TINY)
    _assert_same_run(eager, jitted, rtol=1e-6)
    assert int(eager.epochs_run) == 2 and np.all(np.isfinite(np.asarray(eager.train_loss)))


@pytest.mark.slow
def test_hyper_gradient_through_training_matches_finite_differences():
    # jax.grad through a whole fixed-epoch run (scan), in float64: the validation loss after
    # training, differentiated w.r.t. the learning rate (an injected hyper-parameter in the
    # optimiser state) and w.r.t. the initial params along a random direction.
    with jax.enable_x64(True):
        cfg = jl.TrainConfig(epochs=3, batch_size=4, patience=None, restore_best=False)
        data = _rows(10, 4, seed=1, dtype=np.float64)
        params = jax.tree.map(lambda a: a.astype(jnp.float64), jl.init_params(jax.random.key(0), _TINY))
        optimizer = jl.make_optimizer(cfg)

        def after(p, lr):
            state = training.init_opt_state(optimizer, p, learning_rate=lr)
            out = jl.fit_arrays(jax.random.key(5), p, data, cfg, network=_TINY, optimizer=optimizer, opt_state=state)
            return training.weighted_loss(out.params, data.xs_val, data.ys_val, network=_TINY)

        lr, h = 0.05, 1e-6
        d_params, d_lr = jax.jit(jax.grad(after, argnums=(0, 1)))(params, lr)
        f = jax.jit(after)
        fd = (f(params, lr + h) - f(params, lr - h)) / (2 * h)
        assert abs(float(d_lr)) > 1e-3
        np.testing.assert_allclose(float(d_lr), float(fd), rtol=1e-5)
        direction = jax.tree.map(lambda a: jnp.asarray(np.random.default_rng(3).normal(size=a.shape)), params)
        shifted = lambda s: jax.tree.map(lambda a, d: a + s * d, params, direction)
        fd_params = (f(shifted(h), lr) - f(shifted(-h), lr)) / (2 * h)
        along = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(d_params), jax.tree.leaves(direction)))
        np.testing.assert_allclose(float(along), float(fd_params), rtol=1e-5)


@pytest.mark.slow
def test_an_epoch_of_epoch_windows_trains_on_the_first_minibatches_of_its_shuffled_order():
    # 37 windows, batch 8, at most 20 per epoch: 3 minibatches (24 windows) per epoch, a new
    # sample each epoch. Reference: each epoch's 24 rows of its own order, trained unshuffled.
    params = jl.init_params(jax.random.key(0), _TINY)
    data, key = _rows(37, 5), jax.random.key(1)
    cfg = jl.TrainConfig(learning_rate=3e-2, epochs=2, batch_size=8, patience=None, epoch_windows=20)
    sampled = _FIT(key, params, data, cfg, network=_TINY)
    plain = dataclasses.replace(cfg, epochs=1, shuffle=False, epoch_windows=None)
    found, opt_state = params, None
    for epoch in range(2):
        order = np.asarray(training._epoch_order(jax.random.fold_in(key, epoch), data.weights))[:24]
        part = jl.TrainData(*(a[order] for a in data[:3]), *data[3:])
        step = _FIT(key, found, part, plain, network=_TINY, opt_state=opt_state)
        found, opt_state = step.params, step.opt_state
        np.testing.assert_allclose(np.asarray(sampled.val_loss)[epoch], np.asarray(step.val_loss)[0], rtol=1e-5)
    for x, y in zip(jax.tree.leaves(sampled.params), jax.tree.leaves(found), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-7)
    # At least as many windows as there are: the plain epoch.
    _assert_same_run(
        _FIT(key, params, data, dataclasses.replace(cfg, epoch_windows=40), network=_TINY),
        _FIT(key, params, data, dataclasses.replace(cfg, epoch_windows=None), network=_TINY),
    )
    assert training.epoch_batches(37, 8, 20) == 3 and training.epoch_batches(37, 8) == 5

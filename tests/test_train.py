import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlstm as jl


def _sine_windows(noise=0.05, n=420, window=20, seed=0):
    t = np.arange(n)
    series = np.sin(2 * np.pi * t / 25) + noise * np.random.default_rng(seed).normal(size=n)
    scaler = jl.fit_scaler(series[:340])
    scaled = jl.transform(scaler, jnp.asarray(series, jnp.float32))
    xs, ys = jl.sliding_windows(scaled, window)
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
    assert result.stop_reason in jl.STOP_REASONS


def test_recursive_forecast_beats_repeating_the_last_value(trained):
    series, scaled, xs, ys, split, _, _, result = trained
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
    best = jl.mse_loss(result.params, xs[split:], ys[split:])
    assert float(best) == pytest.approx(result.val_loss.min(), rel=1e-4)
    assert result.val_loss[result.best_epoch - 1] == result.val_loss.min()


def test_early_stopping_stops_before_max_epochs():
    _, _, xs, ys = _sine_windows(noise=1.0, n=160)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    # Pure noise: validation loss stops improving quickly.
    cfg = jl.TrainConfig(learning_rate=3e-2, epochs=300, patience=3)
    result = jl.train(jax.random.key(0), params, xs[:100], ys[:100], cfg, validation_data=(xs[100:], ys[100:]))
    assert result.stop_reason == "early_stopping"
    assert result.epochs_run < 300
    assert result.epochs_run - result.best_epoch == 3


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
    assert result.stop_reason == "loss_threshold"
    assert result.train_loss[-1] < 0.05 and np.all(result.train_loss[:-1] >= 0.05)


def test_non_finite_loss_stops_and_keeps_last_good_params():
    _, _, xs, ys = _sine_windows(n=120)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    # Targets of 1e20 square to inf in float32: the very first epoch is non-finite.
    cfg = jl.TrainConfig(epochs=50, patience=None, restore_best=False)
    result = jl.train(jax.random.key(0), params, xs, ys * 1e20, cfg)
    assert result.stop_reason == "non_finite_loss"
    assert result.epochs_run == 0 and result.train_loss.shape == (0,)
    for a, b in zip(jax.tree.leaves(result.params), jax.tree.leaves(params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_non_finite_midway_keeps_the_epoch_before():
    _, _, xs, ys = _sine_windows(n=120)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    # Adam moves each weight by about the learning rate per step: 1e37 overflows float32
    # after a few steps, so some epochs may finish before the loss turns inf.
    cfg = jl.TrainConfig(learning_rate=1e37, epochs=50, patience=None, restore_best=False, batch_size=128)
    result = jl.train(jax.random.key(0), params, xs, ys, cfg)
    assert result.stop_reason == "non_finite_loss"
    assert result.epochs_run < 50
    assert np.all(np.isfinite(result.train_loss))
    assert all(bool(jnp.all(jnp.isfinite(l))) for l in jax.tree.leaves(result.params))


def test_epoch_uses_every_window_once_with_masked_padding():
    # 10 rows, batch 4: the last batch has 2 padded rows that must not count.
    xs = jnp.ones((10, 3, 1))
    ys = jnp.arange(10.0)[:, None]
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=2))
    opt = jl.make_optimizer(jl.TrainConfig(learning_rate=1e-12))
    _, _, loss = jl.run_epoch(opt, params, opt.init(params), jax.random.key(0), xs, ys, jnp.ones(10), 4)
    expected = jl.mse_loss(params, xs, ys)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_sample_weight_masks_rows():
    _, _, xs, ys = _sine_windows(n=80)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=4))
    w = np.ones(xs.shape[0])
    w[30:] = 0
    ys_poisoned = ys.at[30:].set(1e6)
    cfg = jl.TrainConfig(epochs=3, patience=None)
    a = jl.train(jax.random.key(0), params, xs, ys_poisoned, cfg, sample_weight=w)
    assert np.all(a.train_loss < 10)


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

"""The pinball loss (one definition for training and scoring) and quantile heads trained with it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src import training


def test_pinball_against_a_hand_computation():
    target = jnp.asarray([1.0, 2.0, 3.0])
    forecast = jnp.asarray([1.5, 1.5, 1.5])
    # errors -0.5, 0.5, 1.5 at q = 0.9: 0.1 * 0.5, 0.9 * 0.5, 0.9 * 1.5
    want = (0.05 + 0.45 + 1.35) / 3
    np.testing.assert_allclose(training.pinball(forecast, target, 0.9), want, rtol=1e-6)
    np.testing.assert_allclose(jl.metrics.pinball_loss(target, forecast, 0.9), want, rtol=1e-6)
    # At the median it is half the absolute error.
    np.testing.assert_allclose(training.pinball(forecast, target, 0.5), 0.5 * training.mae(forecast, target))


def test_quantile_loss_against_a_hand_computation():
    loss = training.QuantileLoss((0.1, 0.9))
    target = jnp.asarray([1.0, 3.0])
    prediction = jnp.asarray([2.0, 2.0, 0.0, 4.0, 1.0, 1.0])  # point [2, 2], q0.1 [0, 4], q0.9 [1, 1]
    mse = (1.0 + 1.0) / 2
    q10 = (0.1 * 1.0 + 0.9 * 1.0) / 2  # errors +1, -1
    q90 = (0.0 + 0.9 * 2.0) / 2  # errors 0, +2
    np.testing.assert_allclose(loss(prediction, target), mse + q10 + q90, rtol=1e-6)
    point, heads = loss.split(prediction)
    np.testing.assert_array_equal(point, [2.0, 2.0]) and np.testing.assert_array_equal(heads, [[0, 4], [1, 1]])
    assert hash(loss) == hash(training.QuantileLoss((0.1, 0.9)))
    with pytest.raises(ValueError, match="quantiles"):
        training.QuantileLoss((0.1, 1.5))
    with pytest.raises(TypeError, match="quantiles must be a non-empty tuple"):
        training.QuantileLoss([0.1])


def test_quantile_heads_learn_the_quantiles_through_the_trainer():
    # A network that ignores its input and emits its bias: the heads must learn the targets' quantiles.
    targets = jax.random.normal(jax.random.key(0), (2000, 1)) * 2.0 + 1.0
    data = training.TrainData(
        targets[:, :, None], targets, jnp.ones(2000), jnp.zeros((0, 1, 1)), jnp.zeros((0, 1)), jnp.zeros(0)
    )
    loss = training.QuantileLoss((0.1, 0.9))
    config = training.TrainConfig(learning_rate=0.05, epochs=60, batch_size=500, patience=None, restore_best=False)
    result = training.fit_arrays(
        jax.random.key(1), {"b": jnp.zeros(3)}, data, config, network=lambda p, x: p["b"], loss=loss
    )
    want = np.quantile(np.asarray(targets), [0.1, 0.9])
    np.testing.assert_allclose(result.params["b"][0], float(np.mean(targets)), atol=0.1)
    np.testing.assert_allclose(result.params["b"][1:], want, atol=0.15)

"""The PyTorch reference: the same model and training loop as jaxlstm's, in eager PyTorch.

``nn.LSTM`` (batch first) + an ``nn.Linear`` head on the last hidden state, MSE loss,
Adam, minibatches reshuffled every epoch, float32 throughout. Started from the same
initial weights as the JAX run (through ``jaxlstm.params_to_torch``) so both sides do
the same arithmetic on the same windows; only the shuffling RNGs differ.

torch is imported lazily: the harness runs without it and reports the torch rows as
unavailable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def available() -> bool:
    """Whether torch can be imported."""
    try:
        import torch  # noqa: F401
    except Exception:  # a missing or broken install both mean "no reference"
        return False
    return True


def version() -> str | None:
    """torch's version string, or ``None`` without torch."""
    try:
        import torch
    except Exception:
        return None
    return torch.__version__


def build_model(hidden_size: int, num_layers: int = 1, jax_params: Any | None = None, seed: int = 0) -> Any:
    """An ``nn.Module`` with ``lstm`` and ``head`` children, optionally loaded from jaxlstm params.

    Args:
        hidden_size: LSTM units per layer.
        num_layers: stacked layers.
        jax_params: jaxlstm params to copy (same function, PyTorch gate order); ``None``
            keeps PyTorch's own initialisation.
        seed: ``torch.manual_seed`` for PyTorch's initialisation.
    """
    import torch
    from torch import nn

    class _LSTMRegressor(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(1, hidden_size, num_layers=num_layers, batch_first=True)
            self.head = nn.Linear(hidden_size, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    torch.manual_seed(seed)
    model = _LSTMRegressor()
    if jax_params is not None:
        from jaxlstm import params_to_torch

        state = params_to_torch(jax_params)
        lstm_state = {
            k: torch.from_numpy(np.asarray(v, np.float32).copy()) for k, v in state.items() if not k.startswith("head.")
        }
        model.lstm.load_state_dict(lstm_state)
        model.head.weight.data.copy_(torch.from_numpy(np.array(state["head.weight"], np.float32)))
        model.head.bias.data.copy_(torch.from_numpy(np.array(state["head.bias"], np.float32)))
    return model.float()


def train(
    model: Any,
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int = 0,
) -> list[float]:
    """Trains ``model`` in place with Adam on shuffled minibatches; returns each epoch's mean loss.

    The last minibatch of an epoch may be smaller, so every window is used once per
    epoch (jaxlstm pads it with zero-weight rows instead: the same gradient).

    Args:
        model: from ``build_model``.
        xs: ``[n, time, 1]`` float32 windows.
        ys: ``[n, 1]`` float32 targets.
        epochs, batch_size, learning_rate: as in ``jaxlstm.TrainConfig``.
        seed: seeds the per-epoch permutations.
    """
    import torch

    x = torch.from_numpy(np.array(xs, np.float32))
    y = torch.from_numpy(np.array(ys, np.float32))
    n = x.shape[0]
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = torch.nn.MSELoss()
    generator = torch.Generator().manual_seed(seed)
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * idx.shape[0]
        history.append(total / n)
    return history


def predict_multi_step(model: Any, window: np.ndarray, steps: int) -> np.ndarray:
    """Recursive forecast with the same sliding rule as ``jaxlstm.predict_multi_step``.

    Args:
        model: from ``build_model``.
        window: ``[batch, time, 1]`` float32 scaled windows.
        steps: future steps.

    Returns:
        ``[batch, steps, 1]`` predictions.
    """
    import torch

    model.eval()
    x = torch.from_numpy(np.array(window, np.float32))
    outs = []
    with torch.inference_mode():
        for _ in range(steps):
            y = model(x)
            outs.append(y)
            x = torch.cat([x[:, 1:], y[:, None, :]], dim=1)
    return torch.stack(outs, dim=1).numpy()


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimiser steps in one epoch over ``n`` windows."""
    return math.ceil(n / min(batch_size, n))

"""PyTorch modules built from stock parts that compute what each ``jaxlstm.nn`` network computes.

``to_torch_module(params, cfg)`` returns an ``nn.Module`` (``forward(x [batch, time,
input]) -> [batch, output]``) holding the params' weights, in their dtype:

* ``LSTMConfig``: ``nn.LSTM(batch_first=True)``, then ``head`` (``nn.Linear``) on the last step.
* ``BiLSTMConfig``: ``nn.LSTM(bidirectional=True)``, ``head`` on ``cat(h_n[-2], h_n[-1])``.
* ``AttentionLSTMConfig``: ``nn.LSTM``, then ``nn.MultiheadAttention(batch_first=True)``
  with the last step as query and every step as keys and values, ``head`` on
  ``cat(context, last step)``.
* ``TransformerConfig``: ``input`` (``nn.Linear``) plus the sinusoidal position code, an
  ``nn.TransformerEncoder`` of ``nn.TransformerEncoderLayer(batch_first=True, dropout=0)``,
  ``head`` on the last step.

torch is imported when a module is built, never on import of jaxlstm; it is an optional
dependency (the ``bench`` extra). Used to check the networks against PyTorch and to
compare their speed.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxlstm._src.interop import torch as layout
from jaxlstm._src.nn import transformer as transformer_lib


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as err:
        raise ImportError("to_torch_module needs PyTorch: pip install 'jaxlstm[bench]'") from err
    return torch


def module_state_dict(params: Any, cfg: Any) -> dict[str, np.ndarray]:
    """``params_to_torch(params, cfg)`` under the names of ``to_torch_module``'s module (LSTM names under ``lstm.``)."""
    state = layout.params_to_torch(params, cfg)
    if isinstance(cfg, transformer_lib.TransformerConfig):
        return state
    return {(k if k.startswith(("head.", "attention.")) else f"lstm.{k}"): v for k, v in state.items()}


def to_torch_module(params: Any, cfg: Any) -> Any:
    """A PyTorch module equal to the network ``cfg`` with ``params``, built from stock modules.

    Args:
        params: the network's params (their dtype becomes the module's: float32 or float64).
        cfg: its config (``LSTMConfig``, ``BiLSTMConfig``, ``AttentionLSTMConfig``,
            ``TransformerConfig``).

    Returns:
        An ``nn.Module`` whose ``state_dict()`` holds ``params_to_torch(params, cfg)``
        (LSTM names under ``lstm.``); ``module(x)`` maps ``[batch, time, input]`` to
        ``[batch, output]``.

    Raises:
        ImportError: PyTorch is not installed.
    """
    torch = _import_torch()
    nn = torch.nn
    module_base: Any = nn.Module
    kind = layout.network_kind(cfg)
    if kind is None:
        raise TypeError(f"cfg must be a jaxlstm.nn network config, got {type(cfg).__name__}")
    names = module_state_dict(params, cfg)
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}.get(
        np.dtype(jax.tree.leaves(params)[0].dtype)
    )
    if dtype is None:
        raise TypeError(f"params must be float32 or float64, got {jax.tree.leaves(params)[0].dtype}")

    if kind == "transformer":

        class Transformer(module_base):
            def __init__(self) -> None:
                super().__init__()
                self.input = nn.Linear(cfg.input_size, cfg.d_model)
                block = nn.TransformerEncoderLayer(
                    cfg.d_model,
                    cfg.num_heads,
                    cfg.dim_feedforward,
                    dropout=0.0,
                    batch_first=True,
                    norm_first=cfg.norm_first,
                )
                self.encoder = nn.TransformerEncoder(block, cfg.num_layers, enable_nested_tensor=False)
                self.head = nn.Linear(cfg.d_model, cfg.output_size)

            def forward(self, x: Any) -> Any:
                position = torch.from_numpy(transformer_lib.sinusoid_table(x.shape[1], cfg.d_model)).to(x.dtype)
                return self.head(self.encoder(self.input(x) + position)[:, -1])

        module: Any = Transformer()
    else:

        class Recurrent(module_base):
            def __init__(self) -> None:
                super().__init__()
                hidden = cfg.hidden_size
                self.lstm = nn.LSTM(
                    cfg.input_size, hidden, num_layers=cfg.num_layers, batch_first=True, bidirectional=kind == "bilstm"
                )
                if kind == "attention":
                    self.attention = nn.MultiheadAttention(hidden, cfg.num_heads, batch_first=True)
                self.head = nn.Linear(hidden if kind == "lstm" else 2 * hidden, cfg.output_size)

            def forward(self, x: Any) -> Any:
                out, (h_n, _) = self.lstm(x)
                if kind == "bilstm":
                    return self.head(torch.cat([h_n[-2], h_n[-1]], dim=-1))
                if kind == "attention":
                    last = out[:, -1:]
                    context, _ = self.attention(last, out, out, need_weights=False)
                    return self.head(torch.cat([context[:, 0], out[:, -1]], dim=-1))
                return self.head(out[:, -1])

        module = Recurrent()
    module = module.to(dtype)
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in names.items()})
    return module

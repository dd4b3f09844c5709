"""The networks a forecaster can be built on, by name.

``make_network("transformer", input_size=3, hidden_size=32, ...)`` returns the frozen
config of that network; its ``init`` / ``apply`` pair is all the training and
forecasting machinery calls, so adding a network means adding its module and a line here.
"""

from __future__ import annotations

from typing import Any

from jaxlstm._src import validation
from jaxlstm._src.nn.attention import AttentionLSTMConfig
from jaxlstm._src.nn.bilstm import BiLSTMConfig
from jaxlstm._src.nn.esrnn import ESRNNConfig
from jaxlstm._src.nn.lstm import LSTMConfig
from jaxlstm._src.nn.transformer import TransformerConfig

#: Architecture names, in the order tables list them.
ARCHITECTURES: tuple[str, ...] = ("lstm", "bilstm", "attention", "transformer", "esrnn")
#: The architectures with a PyTorch counterpart (``jaxlstm.to_torch_module``); ES-RNN has none.
TORCH_ARCHITECTURES: tuple[str, ...] = ("lstm", "bilstm", "attention", "transformer")
#: The transformer's feed-forward width per unit of ``hidden_size`` (d_model), as in the original transformer.
FEEDFORWARD_RATIO = 4


def check_architecture(architecture: Any) -> str:
    """Returns ``architecture`` if it names a network, else raises ``ValueError``."""
    return str(validation.check_choice("architecture", architecture, ARCHITECTURES))


def make_network(
    architecture: str,
    *,
    input_size: int = 1,
    hidden_size: int = 32,
    output_size: int = 1,
    num_layers: int = 1,
    num_heads: int = 4,
    season_length: int = 1,
) -> Any:
    """The network config named ``architecture`` with the given sizes.

    Args:
        architecture: ``"lstm"`` (``LSTMConfig``), ``"bilstm"`` (``BiLSTMConfig``),
            ``"attention"`` (``AttentionLSTMConfig``) or ``"transformer"``
            (``TransformerConfig`` with ``d_model = hidden_size`` and a feed-forward width
            of ``4 * hidden_size``).
        input_size: features per time step.
        hidden_size: units per layer (LSTM units per direction; the transformer's d_model).
        output_size: values predicted per window.
        num_layers: stacked layers.
        num_heads: attention heads (attention and transformer only), a divisor of ``hidden_size``.
        season_length: steps per season of the ES-RNN's smoothing (esrnn only; 1: level only).

    Returns:
        A frozen, hashable config with ``init(key, dtype)`` and ``apply(params, x[time, input]) -> [output]``.
    """
    architecture = check_architecture(architecture)
    validation.check_positive_int("num_heads", num_heads)
    validation.check_positive_int("season_length", season_length)
    if architecture == "lstm":
        return LSTMConfig(input_size, hidden_size, output_size, num_layers)
    if architecture == "bilstm":
        return BiLSTMConfig(input_size, hidden_size, output_size, num_layers)
    if architecture == "esrnn":
        return ESRNNConfig(input_size, hidden_size, output_size, num_layers, season_length)
    if architecture == "attention":
        return AttentionLSTMConfig(input_size, hidden_size, output_size, num_layers, num_heads)
    return TransformerConfig(
        input_size=input_size,
        d_model=hidden_size,
        num_heads=num_heads,
        num_layers=num_layers,
        dim_feedforward=FEEDFORWARD_RATIO * hidden_size,
        output_size=output_size,
    )

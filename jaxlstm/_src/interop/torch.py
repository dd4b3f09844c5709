"""Weights to and from PyTorch ``nn.LSTM`` layout (numpy in, numpy out; no torch import).

PyTorch keeps ``weight_ih_l{k}`` ``[4H, in]``, ``weight_hh_l{k}`` ``[4H, H]`` and two
biases, gates ordered i, f, g, o. Here one ``[H + in, 4H]`` matrix acts on ``[h, x]``
with gates ordered f, i, g, o and a single bias. Exporting writes the whole bias to
``bias_ih`` and zeros to ``bias_hh``; importing adds the two, so jaxlstm -> torch ->
jaxlstm is lossless and torch -> jaxlstm computes the same function.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from jaxlstm._src.nn import lstm as model_lib

# Block k of the fused layout holds PyTorch gate block _GATE_PERMUTATION[k]; the permutation
# swaps the first two blocks, so it is its own inverse.
_GATE_PERMUTATION = (1, 0, 2, 3)


def _permute_gates(a: np.ndarray, axis: int) -> np.ndarray:
    blocks = np.split(a, 4, axis=axis)
    return np.concatenate([blocks[k] for k in _GATE_PERMUTATION], axis=axis)


def params_to_torch(params: model_lib.Params, cfg: model_lib.LSTMConfig | None = None) -> dict[str, np.ndarray]:
    """Exports params as an ``nn.LSTM`` + ``nn.Linear`` state dict of numpy arrays.

    Args:
        params: jaxlstm params.
        cfg: the architecture (checked against the params when given).

    Returns:
        ``{"weight_ih_l{k}", "weight_hh_l{k}", "bias_ih_l{k}", "bias_hh_l{k}", "head.weight",
        "head.bias"}``: load with ``lstm.load_state_dict`` after stripping ``head.``
        (or into a module with ``lstm`` and ``head`` children).
    """
    found = model_lib.config_of(params)
    if cfg is not None and cfg != found:
        raise ValueError(f"cfg must match the params, got cfg={cfg} but params have {found}")
    out: dict[str, np.ndarray] = {}
    hidden = found.hidden_size
    for k, layer in enumerate(params["layers"]):
        w = np.asarray(layer["w"])
        b = np.asarray(layer["b"])
        out[f"weight_ih_l{k}"] = np.ascontiguousarray(_permute_gates(w[hidden:].T, 0))
        out[f"weight_hh_l{k}"] = np.ascontiguousarray(_permute_gates(w[:hidden].T, 0))
        out[f"bias_ih_l{k}"] = _permute_gates(b, 0)
        out[f"bias_hh_l{k}"] = np.zeros_like(b)
    out["head.weight"] = np.ascontiguousarray(np.asarray(params["head"]["w"]).T)
    out["head.bias"] = np.asarray(params["head"]["b"]).copy()
    return out


def params_from_torch(state_dict: Mapping[str, np.ndarray], cfg: model_lib.LSTMConfig) -> model_lib.Params:
    """Imports an ``nn.LSTM`` (+ ``head.weight``/``head.bias``) state dict of numpy arrays.

    Args:
        state_dict: names as in ``params_to_torch``; tensors converted with ``.numpy()``.
            Keys may carry an ``lstm.`` prefix.
        cfg: the architecture the weights belong to.

    Returns:
        jaxlstm params (dtype of the given arrays).
    """
    if not isinstance(cfg, model_lib.LSTMConfig):
        raise TypeError(f"cfg must be an LSTMConfig, got {type(cfg).__name__}")
    sd = {k.removeprefix("lstm."): np.asarray(v) for k, v in state_dict.items()}
    hidden = cfg.hidden_size

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in sd:
            raise ValueError(f"state_dict is missing {name!r} (has {sorted(sd)})")
        if sd[name].shape != shape:
            raise ValueError(f"state_dict[{name!r}] must have shape {shape}, got {sd[name].shape}")
        return sd[name]

    layers = []
    for k in range(cfg.num_layers):
        in_k = cfg.input_size if k == 0 else hidden
        w_ih = _permute_gates(get(f"weight_ih_l{k}", (4 * hidden, in_k)), 0)
        w_hh = _permute_gates(get(f"weight_hh_l{k}", (4 * hidden, hidden)), 0)
        b = _permute_gates(get(f"bias_ih_l{k}", (4 * hidden,)) + get(f"bias_hh_l{k}", (4 * hidden,)), 0)
        layers.append({"w": jnp.asarray(np.concatenate([w_hh.T, w_ih.T], axis=0)), "b": jnp.asarray(b)})
    head_w = get("head.weight", (cfg.output_size, hidden))
    head_b = get("head.bias", (cfg.output_size,))
    return {"layers": layers, "head": {"w": jnp.asarray(head_w.T), "b": jnp.asarray(head_b)}}

"""Weights to and from PyTorch layouts (numpy in, numpy out; no torch import).

Every network of ``jaxlstm.nn`` has a PyTorch counterpart built from stock modules (see
``interop/torch_modules.py``); ``params_to_torch`` / ``params_from_torch`` convert the
params of any of them, chosen by the config (or, on export, by the params' structure).

LSTM layers (``LSTMConfig``, ``BiLSTMConfig``, ``AttentionLSTMConfig``): PyTorch keeps
``weight_ih_l{k}`` ``[4H, in]``, ``weight_hh_l{k}`` ``[4H, H]`` and two biases, gates
ordered i, f, g, o; the reverse direction of a bidirectional layer has the same names
with ``_reverse``. Here one ``[H + in, 4H]`` matrix acts on ``[h, x]`` with gates ordered
f, i, g, o and a single bias. Exporting writes the whole bias to ``bias_ih`` and zeros to
``bias_hh``; importing adds the two, so jaxlstm -> torch -> jaxlstm is lossless and
torch -> jaxlstm computes the same function. LSTM names are written bare (as
``nn.LSTM.state_dict()`` has them); an ``lstm.`` prefix is accepted on import.

Attention (``nn.MultiheadAttention``): ``in_proj_weight [3E, E]`` (query, key, value
rows), ``in_proj_bias [3E]``, ``out_proj.weight [E, E]``, ``out_proj.bias``; here their
transposes. Dense layers (``nn.Linear``): ``weight [out, in]``, here ``w [in, out]``;
layer norms: ``weight`` / ``bias`` are ``scale`` / ``bias``.

Names per network (``head.*`` is the output ``nn.Linear``):

* ``LSTMConfig``: the LSTM names, ``head.weight``, ``head.bias``.
* ``BiLSTMConfig``: the LSTM names with and without ``_reverse``, ``head.*`` (``[out, 2H]``).
* ``AttentionLSTMConfig``: the LSTM names, ``attention.in_proj_weight``,
  ``attention.in_proj_bias``, ``attention.out_proj.weight``, ``attention.out_proj.bias``,
  ``head.*`` (``[out, 2H]``).
* ``TransformerConfig``: ``input.weight``/``input.bias`` (the input projection), then
  ``encoder.layers.{k}.`` + ``self_attn.in_proj_weight``, ``self_attn.in_proj_bias``,
  ``self_attn.out_proj.weight``, ``self_attn.out_proj.bias``, ``linear1.weight``,
  ``linear1.bias``, ``linear2.weight``, ``linear2.bias``, ``norm1.weight``, ``norm1.bias``,
  ``norm2.weight``, ``norm2.bias`` (an ``nn.TransformerEncoder``'s names), and ``head.*``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxlstm._src.nn import bilstm as bilstm_lib
from jaxlstm._src.nn import lstm as model_lib
from jaxlstm._src.nn.attention import AttentionLSTMConfig
from jaxlstm._src.nn.transformer import TransformerConfig

# Block k of the fused layout holds PyTorch gate block _GATE_PERMUTATION[k]; the permutation
# swaps the first two blocks, so it is its own inverse.
_GATE_PERMUTATION = (1, 0, 2, 3)

Getter = Callable[[str, tuple[int, ...]], np.ndarray]


def _permute_gates(a: np.ndarray, axis: int) -> np.ndarray:
    blocks = np.split(a, 4, axis=axis)
    return np.concatenate([blocks[k] for k in _GATE_PERMUTATION], axis=axis)


def _t(a: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a).T)


# ---------------------------------------------------------------------------- pieces


def _lstm_layer_to_torch(layer: Mapping[str, Any], suffix: str) -> dict[str, np.ndarray]:
    w = np.asarray(layer["w"])
    b = np.asarray(layer["b"])
    hidden = b.shape[0] // 4
    return {
        f"weight_ih_{suffix}": np.ascontiguousarray(_permute_gates(w[hidden:].T, 0)),
        f"weight_hh_{suffix}": np.ascontiguousarray(_permute_gates(w[:hidden].T, 0)),
        f"bias_ih_{suffix}": _permute_gates(b, 0),
        f"bias_hh_{suffix}": np.zeros_like(b),
    }


def _lstm_layer_from_torch(get: Getter, suffix: str, inputs: int, hidden: int) -> dict[str, jnp.ndarray]:
    w_ih = _permute_gates(get(f"weight_ih_{suffix}", (4 * hidden, inputs)), 0)
    w_hh = _permute_gates(get(f"weight_hh_{suffix}", (4 * hidden, hidden)), 0)
    b = _permute_gates(get(f"bias_ih_{suffix}", (4 * hidden,)) + get(f"bias_hh_{suffix}", (4 * hidden,)), 0)
    return {"w": jnp.asarray(np.concatenate([w_hh.T, w_ih.T], axis=0)), "b": jnp.asarray(b)}


def _dense_to_torch(p: Mapping[str, Any], name: str) -> dict[str, np.ndarray]:
    return {f"{name}.weight": _t(p["w"]), f"{name}.bias": np.asarray(p["b"]).copy()}


def _dense_from_torch(get: Getter, name: str, inputs: int, outputs: int) -> dict[str, jnp.ndarray]:
    return {
        "w": jnp.asarray(get(f"{name}.weight", (outputs, inputs)).T),
        "b": jnp.asarray(get(f"{name}.bias", (outputs,))),
    }


def _attention_to_torch(p: Mapping[str, Any], name: str) -> dict[str, np.ndarray]:
    return {
        f"{name}.in_proj_weight": _t(p["qkv"]["w"]),
        f"{name}.in_proj_bias": np.asarray(p["qkv"]["b"]).copy(),
        **_dense_to_torch(p["out"], f"{name}.out_proj"),
    }


def _attention_from_torch(get: Getter, name: str, embed: int) -> dict[str, Any]:
    return {
        "qkv": {
            "w": jnp.asarray(get(f"{name}.in_proj_weight", (3 * embed, embed)).T),
            "b": jnp.asarray(get(f"{name}.in_proj_bias", (3 * embed,))),
        },
        "out": _dense_from_torch(get, f"{name}.out_proj", embed, embed),
    }


def _norm_to_torch(p: Mapping[str, Any], name: str) -> dict[str, np.ndarray]:
    return {f"{name}.weight": np.asarray(p["scale"]).copy(), f"{name}.bias": np.asarray(p["bias"]).copy()}


def _norm_from_torch(get: Getter, name: str, features: int) -> dict[str, jnp.ndarray]:
    return {
        "scale": jnp.asarray(get(f"{name}.weight", (features,))),
        "bias": jnp.asarray(get(f"{name}.bias", (features,))),
    }


def _getter(state_dict: Mapping[str, Any], strip_lstm_prefix: bool) -> Getter:
    sd = {(k.removeprefix("lstm.") if strip_lstm_prefix else k): np.asarray(v) for k, v in state_dict.items()}

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in sd:
            raise ValueError(f"state_dict is missing {name!r} (has {sorted(sd)})")
        if sd[name].shape != shape:
            raise ValueError(f"state_dict[{name!r}] must have shape {shape}, got {sd[name].shape}")
        return sd[name]

    return get


# ---------------------------------------------------------------------------- per network


def _kind(params: Any) -> str:
    """Which network a params pytree belongs to, from its keys."""
    if not isinstance(params, Mapping) or "head" not in params:
        raise TypeError(f"params must be a network's params pytree (a dict with a 'head'), got {type(params).__name__}")
    if "input" in params:
        return "transformer"
    if "attention" in params:
        return "attention"
    stack = params.get("layers")
    if isinstance(stack, list) and stack and isinstance(stack[0], Mapping) and "forward" in stack[0]:
        return "bilstm"
    return "lstm"


_KINDS: dict[type, str] = {
    model_lib.LSTMConfig: "lstm",
    bilstm_lib.BiLSTMConfig: "bilstm",
    AttentionLSTMConfig: "attention",
    TransformerConfig: "transformer",
}


def network_kind(cfg: Any) -> str | None:
    """The PyTorch layout name of a network config (``"lstm"``, ``"bilstm"``...), or None for an unknown config."""
    return _KINDS.get(type(cfg))


def params_to_torch(params: Any, cfg: Any = None) -> dict[str, np.ndarray]:
    """Exports a network's params as its PyTorch state dict of numpy arrays.

    Args:
        params: the params of any ``jaxlstm.nn`` network.
        cfg: its config (optional; an ``LSTMConfig`` is checked against the params, and a
            config of another network than the params' is refused).

    Returns:
        ``{name: array}`` with the names of this module's docstring (what
        ``to_torch_module`` loads).
    """
    kind = _kind(params)
    if cfg is not None:
        if type(cfg) not in _KINDS:
            raise TypeError(f"cfg must be a jaxlstm.nn network config, got {type(cfg).__name__}")
        if _KINDS[type(cfg)] != kind:
            raise ValueError(f"cfg must match the params, got a {type(cfg).__name__} for {kind} params")
    if kind == "lstm":
        found = model_lib.config_of(params)
        if cfg is not None and cfg != found:
            raise ValueError(f"cfg must match the params, got cfg={cfg} but params have {found}")
    out: dict[str, np.ndarray] = {}
    if kind == "transformer":
        out.update(_dense_to_torch(params["input"], "input"))
        for k, p in enumerate(params["layers"]):
            name = f"encoder.layers.{k}"
            out.update(_attention_to_torch(p["attention"], f"{name}.self_attn"))
            out.update(_dense_to_torch(p["ff1"], f"{name}.linear1"))
            out.update(_dense_to_torch(p["ff2"], f"{name}.linear2"))
            out.update(_norm_to_torch(p["norm1"], f"{name}.norm1"))
            out.update(_norm_to_torch(p["norm2"], f"{name}.norm2"))
    else:
        for k, layer in enumerate(params["layers"]):
            if kind == "bilstm":
                out.update(_lstm_layer_to_torch(layer["forward"], f"l{k}"))
                out.update(_lstm_layer_to_torch(layer["backward"], f"l{k}_reverse"))
            else:
                out.update(_lstm_layer_to_torch(layer, f"l{k}"))
        if kind == "attention":
            out.update(_attention_to_torch(params["attention"], "attention"))
    out.update(_dense_to_torch(params["head"], "head"))
    return out


def params_from_torch(state_dict: Mapping[str, Any], cfg: Any) -> Any:
    """Imports a PyTorch state dict of numpy arrays as the params of the network ``cfg`` describes.

    Args:
        state_dict: names as in ``params_to_torch`` (tensors converted with ``.numpy()``);
            LSTM names may carry an ``lstm.`` prefix.
        cfg: the architecture the weights belong to (``LSTMConfig``, ``BiLSTMConfig``,
            ``AttentionLSTMConfig`` or ``TransformerConfig``).

    Returns:
        The network's params (dtype of the given arrays).
    """
    if type(cfg) not in _KINDS:
        raise TypeError(f"cfg must be a jaxlstm.nn network config such as LSTMConfig, got {type(cfg).__name__}")
    kind = _KINDS[type(cfg)]
    get = _getter(state_dict, strip_lstm_prefix=kind != "transformer")
    if kind == "transformer":
        d, ff = cfg.d_model, cfg.dim_feedforward
        stack = []
        for k in range(cfg.num_layers):
            name = f"encoder.layers.{k}"
            stack.append(
                {
                    "attention": _attention_from_torch(get, f"{name}.self_attn", d),
                    "norm1": _norm_from_torch(get, f"{name}.norm1", d),
                    "ff1": _dense_from_torch(get, f"{name}.linear1", d, ff),
                    "ff2": _dense_from_torch(get, f"{name}.linear2", ff, d),
                    "norm2": _norm_from_torch(get, f"{name}.norm2", d),
                }
            )
        return {
            "input": _dense_from_torch(get, "input", cfg.input_size, d),
            "layers": stack,
            "head": _dense_from_torch(get, "head", d, cfg.output_size),
        }
    hidden = cfg.hidden_size
    width = 2 * hidden if kind == "bilstm" else hidden
    layers: list[Any] = []
    for k in range(cfg.num_layers):
        inputs = cfg.input_size if k == 0 else width
        if kind == "bilstm":
            layers.append(
                {
                    "forward": _lstm_layer_from_torch(get, f"l{k}", inputs, hidden),
                    "backward": _lstm_layer_from_torch(get, f"l{k}_reverse", inputs, hidden),
                }
            )
        else:
            layers.append(_lstm_layer_from_torch(get, f"l{k}", inputs, hidden))
    params: dict[str, Any] = {"layers": layers}
    if kind == "attention":
        params["attention"] = _attention_from_torch(get, "attention", hidden)
    head_inputs = hidden if kind == "lstm" else 2 * hidden
    params["head"] = _dense_from_torch(get, "head", head_inputs, cfg.output_size)
    return params

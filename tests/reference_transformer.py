"""Independent plain-numpy transformer encoder regressor in PyTorch's layout, from the equations."""

import math

import numpy as np
from reference_attention import multi_head_attention
from reference_lstm import linear


def sinusoid(time, d_model):
    """PE[t, i] = sin(t / 10000^(i / d)) for even i, cos(t / 10000^((i - 1) / d)) for odd i."""
    pe = np.zeros((time, d_model))
    for t in range(time):
        for i in range(d_model):
            even = i - i % 2
            angle = t / math.pow(10000.0, even / d_model)
            pe[t, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe


def layer_norm(state_dict, name, x, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * state_dict[f"{name}.weight"] + state_dict[f"{name}.bias"]


def transformer_forward(state_dict, num_layers, num_heads, xs, norm_first=False):
    """Input Linear + sinusoids, nn.TransformerEncoderLayer (ReLU, no dropout) stack, a head on the last step."""
    sd = {k: np.asarray(v, np.float64) for k, v in state_dict.items()}
    xs = np.asarray(xs, np.float64)
    h = linear(sd, "input", xs)
    h = h + sinusoid(xs.shape[1], h.shape[-1])
    for k in range(num_layers):
        p = f"encoder.layers.{k}"

        def attend(x, p=p):
            return multi_head_attention(sd, f"{p}.self_attn", x, x, num_heads)

        def feed_forward(x, p=p):
            return linear(sd, f"{p}.linear2", np.maximum(linear(sd, f"{p}.linear1", x), 0.0))

        if norm_first:
            h = h + attend(layer_norm(sd, f"{p}.norm1", h))
            h = h + feed_forward(layer_norm(sd, f"{p}.norm2", h))
        else:
            h = layer_norm(sd, f"{p}.norm1", h + attend(h))
            h = layer_norm(sd, f"{p}.norm2", h + feed_forward(h))
    return linear(sd, "head", h[:, -1])

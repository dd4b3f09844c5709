"""Independent plain-numpy multi-head attention and attention-LSTM in PyTorch's layout, from the equations."""

import numpy as np
from reference_lstm import linear, torch_layout_lstm_states


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def multi_head_attention(state_dict, name, query, memory, num_heads):
    """nn.MultiheadAttention (no dropout, no mask) with keys = values = memory: [batch, queries, embed]."""
    w = np.asarray(state_dict[f"{name}.in_proj_weight"], np.float64)
    b = np.asarray(state_dict[f"{name}.in_proj_bias"], np.float64)
    embed = w.shape[1]
    q = query @ w[:embed].T + b[:embed]
    k = memory @ w[embed : 2 * embed].T + b[embed : 2 * embed]
    v = memory @ w[2 * embed :].T + b[2 * embed :]
    d = embed // num_heads
    heads = []
    for h in range(num_heads):
        cols = slice(h * d, (h + 1) * d)
        scores = q[..., cols] @ np.swapaxes(k[..., cols], -1, -2) / np.sqrt(d)
        heads.append(softmax(scores) @ v[..., cols])
    return linear(state_dict, f"{name}.out_proj", np.concatenate(heads, axis=-1))


def attention_lstm_forward(state_dict, num_layers, num_heads, xs):
    """nn.LSTM, attention of the last state over all states, a head on [context, last state]."""
    states = torch_layout_lstm_states(state_dict, num_layers, xs)
    context = multi_head_attention(state_dict, "attention", states[:, -1:], states, num_heads)[:, 0]
    return linear(state_dict, "head", np.concatenate([context, states[:, -1]], axis=-1))

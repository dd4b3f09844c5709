"""Independent plain-numpy LSTMs used as references by the tests.

Written from the equations, sharing no code with the package: one in the package's
fused f, i, g, o layout over [h, x], one in PyTorch's nn.LSTM layout (i, f, g, o,
separate input and hidden matrices and two biases).
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def fused_lstm_forward(layers, head_w, head_b, xs):
    """xs [batch, time, features] -> [batch, output] with float64 numpy arithmetic."""
    xs = np.asarray(xs, np.float64)
    batch, time, _ = xs.shape
    inputs = xs
    for w_in, b_in in layers:
        w = np.asarray(w_in, np.float64)
        b = np.asarray(b_in, np.float64)
        hidden = b.shape[0] // 4
        h = np.zeros((batch, hidden))
        c = np.zeros((batch, hidden))
        outs = []
        for t in range(time):
            z = np.concatenate([h, inputs[:, t]], axis=1) @ w + b
            f = sigmoid(z[:, :hidden])
            i = sigmoid(z[:, hidden : 2 * hidden])
            g = np.tanh(z[:, 2 * hidden : 3 * hidden])
            o = sigmoid(z[:, 3 * hidden :])
            c = f * c + i * g
            h = o * np.tanh(c)
            outs.append(h)
        inputs = np.stack(outs, axis=1)
    return inputs[:, -1] @ np.asarray(head_w, np.float64) + np.asarray(head_b, np.float64)


def torch_layout_lstm_forward(state_dict, num_layers, xs):
    """PyTorch nn.LSTM (batch_first) + Linear head equations, in float64 numpy."""
    xs = np.asarray(xs, np.float64)
    batch, time, _ = xs.shape
    inputs = xs
    for k in range(num_layers):
        w_ih = np.asarray(state_dict[f"weight_ih_l{k}"], np.float64)
        w_hh = np.asarray(state_dict[f"weight_hh_l{k}"], np.float64)
        b = np.asarray(state_dict[f"bias_ih_l{k}"], np.float64) + np.asarray(state_dict[f"bias_hh_l{k}"], np.float64)
        hidden = w_hh.shape[1]
        h = np.zeros((batch, hidden))
        c = np.zeros((batch, hidden))
        outs = []
        for t in range(time):
            z = inputs[:, t] @ w_ih.T + h @ w_hh.T + b
            i, f, g, o = np.split(z, 4, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            outs.append(h)
        inputs = np.stack(outs, axis=1)
    return inputs[:, -1] @ np.asarray(state_dict["head.weight"], np.float64).T + np.asarray(
        state_dict["head.bias"], np.float64
    )


def recursive_forecast(forward, xs, steps):
    """Predict, slide the window, repeat: the seed's loop, in plain Python."""
    window = np.asarray(xs, np.float64).copy()
    preds = []
    for _ in range(steps):
        y = forward(window)
        preds.append(y)
        window = np.concatenate([window[:, 1:], y[:, None, :]], axis=1)
    return np.stack(preds, axis=1)


def lstm_direction(w_ih, w_hh, b_ih, b_hh, xs, reverse=False):
    """One nn.LSTM direction in PyTorch's layout: xs [batch, time, in] -> every h [batch, time, hidden].

    ``reverse`` reads the sequence from its end; the outputs stay in time order.
    """
    xs = np.asarray(xs, np.float64)
    batch, time, _ = xs.shape
    w_ih, w_hh = np.asarray(w_ih, np.float64), np.asarray(w_hh, np.float64)
    b = np.asarray(b_ih, np.float64) + np.asarray(b_hh, np.float64)
    hidden = w_hh.shape[1]
    h = np.zeros((batch, hidden))
    c = np.zeros((batch, hidden))
    outs = [None] * time
    for t in reversed(range(time)) if reverse else range(time):
        z = xs[:, t] @ w_ih.T + h @ w_hh.T + b
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outs[t] = h
    return np.stack(outs, axis=1)


def torch_layout_lstm_states(state_dict, num_layers, xs, bidirectional=False):
    """Every top-layer hidden state of nn.LSTM (batch_first) in float64 numpy: [batch, time, H or 2H]."""
    inputs = np.asarray(xs, np.float64)
    for k in range(num_layers):
        suffixes = [f"l{k}", f"l{k}_reverse"] if bidirectional else [f"l{k}"]
        inputs = np.concatenate(
            [
                lstm_direction(
                    state_dict[f"weight_ih_{s}"],
                    state_dict[f"weight_hh_{s}"],
                    state_dict[f"bias_ih_{s}"],
                    state_dict[f"bias_hh_{s}"],
                    inputs,
                    reverse=s.endswith("reverse"),
                )
                for s in suffixes
            ],
            axis=-1,
        )
    return inputs


def linear(state_dict, name, x):
    """nn.Linear: x @ weight.T + bias."""
    return x @ np.asarray(state_dict[f"{name}.weight"], np.float64).T + np.asarray(
        state_dict[f"{name}.bias"], np.float64
    )

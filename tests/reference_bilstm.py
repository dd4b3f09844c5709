"""Independent plain-numpy bidirectional LSTM regressor in PyTorch's layout, from the equations."""

import numpy as np
from reference_lstm import linear, torch_layout_lstm_states


def bilstm_forward(state_dict, num_layers, xs):
    """nn.LSTM(bidirectional=True) + a Linear head on [h_n forward, h_n backward]: [batch, output]."""
    states = torch_layout_lstm_states(state_dict, num_layers, xs, bidirectional=True)
    hidden = states.shape[-1] // 2
    # The forward direction ends at the last step, the backward one at the first.
    summary = np.concatenate([states[:, -1, :hidden], states[:, 0, hidden:]], axis=-1)
    return linear(state_dict, "head", summary)

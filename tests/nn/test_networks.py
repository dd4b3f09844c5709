import jax
import pytest

import jaxlstm as jl
from jaxlstm._src.nn import networks
from jaxlstm._src.nn.esrnn import ESRNNConfig


@pytest.mark.parametrize(
    ("architecture", "kind"),
    [
        ("lstm", jl.nn.LSTMConfig),
        ("bilstm", jl.nn.BiLSTMConfig),
        ("attention", jl.nn.AttentionLSTMConfig),
        ("transformer", jl.nn.TransformerConfig),
        ("esrnn", ESRNNConfig),
    ],
)
def test_make_network_builds_each_architecture(architecture, kind):
    cfg = jl.nn.make_network(architecture, input_size=3, hidden_size=8, output_size=5, num_layers=2, num_heads=2)
    assert type(cfg) is kind and cfg.input_size == 3 and cfg.output_size == 5 and cfg.hidden_size == 8
    assert hash(cfg) == hash(
        jl.nn.make_network(architecture, input_size=3, hidden_size=8, output_size=5, num_layers=2, num_heads=2)
    )
    out = jax.eval_shape(lambda: cfg.apply(cfg.init(jax.random.key(0)), jax.numpy.zeros((7, 3))))
    assert out.shape == (5,)
    if architecture == "transformer":
        assert cfg.d_model == 8 and cfg.dim_feedforward == networks.FEEDFORWARD_RATIO * 8 and cfg.num_layers == 2


def test_bad_architectures():
    with pytest.raises(ValueError, match="architecture must be one of"):
        jl.nn.make_network("gru")
    with pytest.raises(ValueError, match="divisible by num_heads"):
        jl.nn.make_network("attention", hidden_size=6, num_heads=4)
    with pytest.raises(TypeError, match="num_heads"):
        jl.nn.make_network("lstm", num_heads=None)

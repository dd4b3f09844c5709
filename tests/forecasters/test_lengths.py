"""A new series length reuses compiled programs: window counts are padded to shape buckets."""

import numpy as np
import pytest
from compilations import counted

import jaxlstm as jl

# Small and short, so that compilation is most of what the fits cost (each test its own
# hidden size, so that neither reuses the other's programs).
SETTINGS = dict(epochs=2)


def _fit_lengths(lengths, **settings):
    closes = np.asarray(jl.data.load_demo().close, np.float64)
    with counted() as counts:
        models = [jl.LSTMForecaster(**SETTINGS, **settings).fit(closes[-n:]) for n in lengths]
    return models, counts


def _check(lengths, counts, trainer_buckets):
    # The trainer compiles as the vmapped fit_arrays (several rows) or the estimator's
    # one-model fit (a block of one row runs without vmap).
    trainer = counts["jit(fit_arrays)"] + counts["jit(fit_one_model)"]
    assert 1 <= trainer <= trainer_buckets, dict(counts)
    # The encoder compiles with the trainer's buckets, plus the smallest bucket of windows
    # that are only forecast; the forecasts made in fit (divergence check, validation MAE,
    # calibration residuals) with the buckets of their own counts, 64 windows at least.
    assert counts["jit(_encode_jit)"] <= trainer_buckets + 1, dict(counts)
    assert counts["jit(_forecast_one_model)"] <= 6, dict(counts)


@pytest.mark.slow
def test_twenty_lengths_compile_the_trainer_at_most_four_times():
    lengths = [int(n) for n in np.linspace(100, 1000, 20).round()]
    models, counts = _fit_lengths(lengths, hidden_size=5)
    _check(lengths, counts, 4)
    assert all(m.metrics_["n_train_windows"] + m.metrics_["n_val_windows"] == n - 20 for m, n in zip(models, lengths))


@pytest.mark.slow
def test_lengths_of_one_bucket_compile_once():
    # 300 to 340 prices: 280 to 320 windows, all in the bucket of 512.
    lengths = [300, 310, 325, 340]
    models, counts = _fit_lengths(lengths, hidden_size=6)
    _check(lengths, counts, 1)
    # Each model is its own lone fit: the padding adds no data.
    assert [m.metrics_["n_train_windows"] for m in models] == [252, 261, 275, 288]

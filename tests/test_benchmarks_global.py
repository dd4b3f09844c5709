"""The pure parts of benchmarks/global_models.py: the synthetic series, the aggregate scores, the tables."""

from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from benchmarks import global_models as bench


def test_synthetic_series_are_seeded_positive_and_of_the_asked_lengths():
    first, again = bench.synthetic(20, (50, 60)), bench.synthetic(20, (50, 60))
    assert list(first) == [f"s{i:04d}" for i in range(20)]
    for name, values in first.items():
        np.testing.assert_array_equal(values, again[name])
        assert 50 <= len(values) <= 60 and np.all(values > 0)
    spreads = [np.std(np.diff(np.log(v))) for v in first.values()]
    assert max(spreads) > 2 * min(spreads)  # the series differ in noise, as related real series do


def test_summary_is_the_geometric_mean_over_series_of_the_mean_over_origins():
    per = {
        "a": [{"mase": 1.0, "smape": 10.0, "coverage95": 1.0}, {"mase": 3.0, "smape": 20.0, "coverage95": 0.0}],
        "b": [{"mase": 0.5, "smape": 5.0, "coverage95": 1.0}, {"mase": 0.5, "smape": 5.0, "coverage95": 1.0}],
    }
    found = bench.summarise(per)
    assert found["mase"] == np.sqrt(2.0 * 0.5) and found["smape"] == (15.0 + 5.0) / 2
    assert found["coverage95"] == 0.75 and "msis95" not in found


def test_render_lists_every_row_of_every_frequency():
    aggregate = {"mase": 1.0, "mase_se": 0.1, "smape": 9.0, "coverage95": 0.95}
    doc = {
        "command": "python -m benchmarks.global_models accuracy",
        "result": {
            "origins": 6,
            "frequencies": {
                "monthly": {
                    "series": {"A": {}, "B": {}},
                    "aggregate": {"lstm_global": aggregate, "lstm": aggregate},
                    "cpu_seconds": {"lstm_global": 3.0, "lstm": 4.0},
                }
            },
        },
    }
    text = bench.render("accuracy", doc)
    assert "## monthly: 2 series, 6 origins" in text
    assert "| lstm_global | 1.000 | 0.100 | 9.00 | - | 0.950 | - | 3 |" in text


def test_the_epochs_table_shows_both_fits_and_their_paired_ratio():
    fit = dict(
        fit_cpu_s=58.5, epochs_run=25, best_epoch=15, n_train_windows=75000, relative_mae=0.9858, coverage95=0.91
    )
    result = {
        "series": 300,
        "lengths": [200, 400],
        "horizon": 24,
        "sampled": {**fit, "epoch_windows": 32768},
        "full": {**fit, "epoch_windows": None, "epochs_run": 39},
        "paired_ratio": 0.999,
        "paired_ratio_se": 0.002,
    }
    text = bench.render("epochs", {"command": "c", "machine": {}, "result": result})
    assert "| sampled (default) | 32768 | 25 (15) | 75000 | 0.9858 | 0.910 | 58.5 |" in text
    assert "| full passes | all | 39 (15) |" in text
    assert "sampled / full MAE: 0.9990 ± 0.0020" in text

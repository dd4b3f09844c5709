"""``benchmarks.speed.many``: its series and its table, without timing anything."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.speed import many


def test_the_random_walks_are_seeded_dated_hourly_and_positive():
    first, again = many._walks(3, 7), many._walks(3, 7)
    assert list(first) == ["s0000", "s0001", "s0002"]
    for name, series in first.items():
        np.testing.assert_array_equal(series.to_numpy(), again[name].to_numpy())
        assert len(series) == 500 and (series > 0).all()
        assert (np.diff(series.index.to_numpy()) == np.timedelta64(1, "h")).all()
    assert not np.array_equal(first["s0000"].to_numpy(), many._walks(1, 8)["s0000"].to_numpy())


def test_the_table_has_a_row_per_measurement_and_run():
    def run(label, seconds):
        timed = {"wall_s": seconds, "cpu_s": 2 * seconds}
        return {
            "label": label,
            "load_average": [0.5, 0.4, 0.3],
            "fit_many": {**timed, "series": 200, "epochs_mean": 26.6, "epochs_max": 100},
            "tune": {**timed, "trials": 8},
            "backtest_together": {**timed, "origins": 49, "mae": 121.169},
            "backtest_in_turn": {**timed, "origins": 49, "mae": 121.169},
        }

    table = many.render(run("before", 20.0), run("after", 10.0))
    rows = [line for line in table.splitlines() if line.startswith("| `") or line.startswith("| backtest")]
    assert len(rows) == 8
    assert "| `fit_many` of 200 hourly random walks | before | 20.0 | 40.0 | series 200, epochs_mean 26.600" in table
    assert "| backtest, 49 origins fitted together (`vectorize=True`) | after | 10.0 | 20.0 |" in table


def test_the_series_count_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        many.main(["--series", "0"])
    assert "--series must be at least 1, got 0" in capsys.readouterr().err

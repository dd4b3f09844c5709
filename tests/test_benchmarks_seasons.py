"""``python -m benchmarks.seasons``: the false alarms and power of season detection, robust and Bartlett's bound."""

import json

import numpy as np
import pytest

from benchmarks import seasons as bench


@pytest.mark.slow
def test_the_benchmark_writes_its_table_and_the_robust_bound_alarms_less(tmp_path):
    assert bench.main(["--seeds", "4", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "seasons.json").read_text())
    alarms = [row for row in doc["rows"] if row["kind"] == "false alarms"]
    assert len(alarms) == 2 * len(bench.LENGTHS) + len(bench.MONTHLY_YEARS)
    assert len(doc["rows"]) == len(bench.LENGTHS) * (2 + len(bench.AMPLITUDES)) + 2 * len(bench.MONTHLY_YEARS)
    assert all(row["robust"]["found"] <= row["bartlett"]["found"] for row in alarms)
    # The calendar's level (10%) finds at least what 5% finds: its bound is lower, nothing else differs.
    assert all(
        row["dated"]["found"] >= row["dated at 5%"]["found"] for row in doc["rows"] if row["kind"] != "false alarms"
    )
    assert "| GARCH random walks, 1000 steps | false alarms |" in (tmp_path / "seasons.md").read_text()


def test_garch_walks_are_uncorrelated_with_clustered_volatility():
    returns = np.diff(bench.garch_walk(20_000, 0))
    centred = returns - returns.mean()
    lag1 = centred[1:] @ centred[:-1] / (centred @ centred)
    squares = centred**2 - (centred**2).mean()
    assert abs(lag1) < 0.03 and squares[1:] @ squares[:-1] / (squares @ squares) > 0.1

"""``benchmarks.paired``: MASE ratios of paired origins, and paired MAE differences of an accuracy document."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import paired


def _doc():
    # Series a: the row's MASE is half the baseline's at every origin; series b: equal.
    def rows(scale):
        return {
            "row": {"per_origin": [{"mase": scale * m} for m in (1.0, 2.0, 4.0)]},
            "base": {"per_origin": [{"mase": m} for m in (1.0, 2.0, 4.0)]},
        }

    return {"series": {"a": {"rows": rows(0.5)}, "b": {"rows": rows(1.0)}, "c": {"rows": {"base": {}}}}}


def test_ratios_are_geometric_means_of_paired_origins():
    found = paired.paired_ratios(_doc(), "row", "base")
    assert found["series"]["a"] == (pytest.approx(0.5), pytest.approx(0.0), 3)
    assert found["series"]["b"][0] == pytest.approx(1.0)
    assert "c" not in found["series"]
    ratio, se, count = found["all"]
    assert count == 2 and ratio == pytest.approx(math.sqrt(0.5))
    # Delta method: exp(mean) * the standard error of the two log ratios' mean.
    assert se == pytest.approx(math.sqrt(0.5) * np.std(np.log([0.5, 1.0]), ddof=1) / math.sqrt(2))
    assert "| row / base | 0.500 ± 0.000 | 1.000 ± 0.000 | n/a |" in paired.table(_doc(), [("row", "base")])


def test_accuracy_differences_are_in_units_of_naive_mae():
    doc = {"datasets": {"d": {"per_origin_mae": {"naive": [2.0, 2.0], "row": [1.0, 3.0], "base": [1.0, 1.0]}}}}
    # (row - base) / mean naive = [0, 1]: mean 0.5, standard error 0.5.
    assert "| row - base | +0.500 ± 0.500 |" in paired.accuracy_table(doc, [("row", "base")])

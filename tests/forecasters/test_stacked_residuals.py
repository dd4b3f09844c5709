"""Stacked residuals: many series' ragged ``[origins, steps]`` rows in three arrays per source, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlstm._src.forecasters import stacked_residuals


@st.composite
def _bands(draw):
    count = draw(st.integers(1, 4))
    out = []
    for _ in range(count):
        found = {}
        for source in draw(st.sets(st.sampled_from(["auto", "refit"]))):
            n, steps = draw(st.integers(0, 5)), draw(st.integers(1, 6))
            rng = np.random.default_rng(draw(st.integers(0, 2**31)))
            rows = rng.normal(size=(n, steps))
            rows[rng.random((n, steps)) < 0.3] = np.nan
            found[source] = rows if n else np.zeros((0, 0))
        out.append(found)
    return out


@settings(max_examples=60, deadline=None)
@given(_bands())
def test_unstack_gives_back_every_non_empty_source_bit_for_bit(bands):
    stacked = stacked_residuals.stack(bands)
    for parts in stacked.values():
        assert np.isfinite(parts["values"]).all() and parts["observed"].dtype == bool
    back = stacked_residuals.unstack(stacked, len(bands))
    for found, original in zip(back, bands, strict=True):
        assert set(found) == {s for s, rows in original.items() if rows.size}
        for source, rows in found.items():
            np.testing.assert_array_equal(rows, original[source])  # NaN where NaN was


def test_a_source_no_series_has_rows_of_is_not_stacked():
    assert stacked_residuals.stack([{"auto": np.zeros((0, 3))}, {}]) == {}


def test_shapes_are_the_largest_of_the_series():
    stacked = stacked_residuals.stack([{"auto": np.ones((2, 3))}, {"auto": np.full((4, 1), 2.0)}])["auto"]
    assert stacked["values"].shape == (2, 4, 3)
    np.testing.assert_array_equal(stacked["shape"], [[2, 3], [4, 1]])
    assert stacked["observed"].sum() == 2 * 3 + 4 * 1


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda s: s.pop("shape"), "must hold values, observed and shape"),
        (lambda s: s.update(observed=s["observed"].astype(np.int8)), "bool mask"),
        (lambda s: s.update(values=s["values"][:1]), r"must be \[2, rows, steps\]"),
        (lambda s: s.update(shape=s["shape"][:, :1]), r"shape must be \[2, 2\] counts"),
        (lambda s: s.update(shape=-s["shape"]), r"shape must be \[2, 2\] counts"),
        (lambda s: s.update(shape=s["shape"] + 1), "exceeds its arrays"),
    ],
)
def test_damaged_stacks_are_refused(change, match):
    stacked = stacked_residuals.stack([{"auto": np.ones((2, 3))}, {"auto": np.ones((1, 3))}])
    change(stacked["auto"])
    with pytest.raises(ValueError, match=match):
        stacked_residuals.unstack(stacked, 2)
    with pytest.raises(ValueError, match="must map sources to arrays"):
        stacked_residuals.unstack([1], 2)

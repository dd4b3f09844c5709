"""Calibration residuals as a few stacked arrays in a saved model's array tree (one series or a global model's many).

A band's residuals are ``[origins, steps]`` per source (``bands.Band``): about 40,000 numbers
for a default model, so a global model of a few dozen series would hold millions of them.
In the JSON metadata they would pass its element limit (``model_files.MAX_METADATA_ELEMENTS``)
at about 20 series and cost a Python float each to write and read; in the array tree they
are three arrays per source, whatever the number of series:

* ``values`` ``[series, rows, steps]`` float64, 0 where a residual is NaN (not observed) or
  past the series' own rows and steps (arrays are saved finite only),
* ``observed`` ``[series, rows, steps]`` bool, where ``values`` holds a residual,
* ``shape`` ``[series, 2]`` int64, each series' ``(origins, steps)``; ``(0, 0)`` where the
  series has no rows of that source (those stay in the metadata, as they are tiny).

A single model's residuals are the same arrays for one series: as JSON they made about 1 MB of
``metadata.json`` per model, most of the time a save took (0.45 s of CPU per default model,
two thirds of it writing and checking the JSON), which ``fit_many`` pays once per series.

Stacking and unstacking are exact: float64 in, the same float64 out, NaN where it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: A saved tree with residual arrays: the params and optimiser state under ``STATE_KEY``, the
#: arrays under ``RESIDUALS_KEY``; the metadata says so under ``RESIDUALS_KEY`` too.
RESIDUALS_KEY = "residuals"
STATE_KEY = "state"


def stack(residuals: Sequence[Mapping[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """``{source: {"values", "observed", "shape"}}`` of every series' non-empty ``[origins, steps]`` residuals.

    Args:
        residuals: per series (in the saved order), ``{source: [origins, steps]}``.

    Returns:
        One entry per source that some series has rows of; empty when none has.
    """
    sources = sorted({source for found in residuals for source, rows in found.items() if np.size(rows)})
    out = {}
    for source in sources:
        shapes = np.zeros((len(residuals), 2), np.int64)
        for i, found in enumerate(residuals):
            rows = found.get(source)
            if rows is not None and np.size(rows):
                shapes[i] = np.shape(rows)
        values = np.zeros((len(residuals), *shapes.max(axis=0)), np.float64)
        observed = np.zeros(values.shape, bool)
        for i, found in enumerate(residuals):
            n, steps = shapes[i]
            if n:
                rows = np.asarray(found[source], np.float64)
                observed[i, :n, :steps] = np.isfinite(rows)
                values[i, :n, :steps] = np.where(observed[i, :n, :steps], rows, 0.0)
        out[source] = {"values": values, "observed": observed, "shape": shapes}
    return out


def unstack(stacked: Any, count: int) -> list[dict[str, np.ndarray]]:
    """The per-series ``{source: [origins, steps]}`` that ``stack`` stacked (sources without rows left out).

    Raises:
        ValueError: ``stacked`` is not ``stack``'s output for ``count`` series.
    """
    if not isinstance(stacked, Mapping):
        raise ValueError(f"stacked residuals must map sources to arrays, got {type(stacked).__name__}")
    out: list[dict[str, np.ndarray]] = [{} for _ in range(count)]
    for source, parts in stacked.items():
        if not isinstance(parts, Mapping) or set(parts) != {"values", "observed", "shape"}:
            raise ValueError(f"stacked residuals[{source!r}] must hold values, observed and shape")
        values, observed, shapes = (np.asarray(parts[k]) for k in ("values", "observed", "shape"))
        if values.ndim != 3 or values.shape[0] != count or observed.shape != values.shape or observed.dtype != bool:
            raise ValueError(
                f"stacked residuals[{source!r}] must be [{count}, rows, steps] values and a bool mask of that "
                f"shape, got {values.shape} and {observed.dtype} {observed.shape}"
            )
        if shapes.shape != (count, 2) or shapes.dtype.kind not in "iu" or (shapes < 0).any():
            raise ValueError(f"stacked residuals[{source!r}] shape must be [{count}, 2] counts, got {shapes.shape}")
        if (shapes > np.array(values.shape[1:])).any():
            raise ValueError(f"stacked residuals[{source!r}] shape exceeds its arrays {values.shape[1:]}")
        for i, (n, steps) in enumerate(shapes.tolist()):
            if n:
                out[i][source] = np.where(observed[i, :n, :steps], values[i, :n, :steps], np.nan)
    return out


def into_tree(tree: Any, residuals: Sequence[Mapping[str, np.ndarray]]) -> tuple[Any, set[str]]:
    """``(saved tree, sources moved)``: ``tree`` beside the stacked ``residuals``, or ``tree`` itself when none has rows."""
    arrays = stack(residuals)
    if not arrays:
        return tree, set()
    return {STATE_KEY: tree, RESIDUALS_KEY: arrays}, set(arrays)


def out_of_tree(tree: Any, count: int) -> tuple[Any, list[dict[str, np.ndarray]]]:
    """``(params tree, per-series residuals)`` of a tree ``into_tree`` wrote for ``count`` series.

    Raises:
        ValueError: the tree lacks the residual arrays.
    """
    if not (isinstance(tree, Mapping) and set(tree) == {STATE_KEY, RESIDUALS_KEY}):
        raise ValueError("the saved arrays lack the calibration residuals")
    return tree[STATE_KEY], unstack(tree[RESIDUALS_KEY], count)

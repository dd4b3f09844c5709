"""Params trees and comparisons shared by the persistence tests (not a test module)."""

from __future__ import annotations

import pathlib

import ml_dtypes
import numpy as np


def lstm_params(seed: int = 0, n_layers: int = 1, hidden: int = 32) -> dict:
    """An LSTM-shaped params tree of float32 leaves drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    layers = []
    n_in = 1
    for _ in range(n_layers):
        layers.append(
            {
                "w": rng.standard_normal((n_in + hidden, 4 * hidden)).astype(np.float32),
                "b": rng.standard_normal(4 * hidden).astype(np.float32),
            }
        )
        n_in = hidden
    return {
        "layers": layers,
        "head": {"w": rng.standard_normal((hidden, 1)).astype(np.float32), "b": np.zeros(1, np.float32)},
    }


def nested_params() -> dict:
    """A tree with every container kind and several dtypes, including bfloat16 and 0-d leaves."""
    params = lstm_params(seed=1, n_layers=2)
    params["scaler"] = {"min": np.float32(3.25), "max": np.array(1234.5), "count": np.int64(2**40 + 1)}
    params["extra"] = (np.array([True, False]), np.arange(6, dtype=np.int32).reshape(2, 3))
    params["half"] = {"bf16": np.linspace(-3, 3, 7).astype(ml_dtypes.bfloat16), "f16": np.float16([0.1, 65504.0])}
    return params


def assert_identical(got, want, where: str = "") -> None:
    """Same containers, keys, shapes, dtypes and bytes."""
    if isinstance(want, (dict, list, tuple)):
        assert type(got) is type(want), where
    if isinstance(want, dict):
        assert set(got) == set(want), where
        for key in want:
            assert_identical(got[key], want[key], f"{where}/{key}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_identical(g, w, f"{where}/{i}")
    else:
        want = np.asarray(want)
        assert isinstance(got, np.ndarray), where
        assert got.dtype == want.dtype and got.shape == want.shape, where
        assert got.tobytes() == want.tobytes(), where


def identical(got, want) -> bool:
    """``assert_identical`` as a predicate."""
    try:
        assert_identical(got, want)
    except AssertionError:
        return False
    return True


def model_files(folder: pathlib.Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def biggest_params_file(model: pathlib.Path) -> pathlib.Path:
    files = [p for p in (model / "params").rglob("*") if p.is_file()]
    return max(files, key=lambda p: p.stat().st_size)

"""The public names: what ``jaxlstm.__all__`` and the public sub-modules promise, and a light import."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import jaxlstm

PUBLIC_MODULES = (
    "jaxlstm",
    "jaxlstm.nn",
    "jaxlstm.data",
    "jaxlstm.baselines",
    "jaxlstm.metrics",
    "jaxlstm.evaluation",
    "jaxlstm.distributed",
)


def test_all_lists_exactly_the_lazy_exports():
    assert sorted(jaxlstm.__all__) == sorted([*jaxlstm._EXPORTS, "__version__"])
    assert len(set(jaxlstm.__all__)) == len(jaxlstm.__all__)


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_resolves_and_is_documented(module):
    mod = importlib.import_module(module)
    assert mod.__doc__
    for name in mod.__all__:
        value = getattr(mod, name)
        if callable(value) and not isinstance(value, type(sys)):
            assert value.__doc__, f"{module}.{name} has no docstring"
    assert set(mod.__all__) <= set(dir(mod))


def test_dir_lists_the_public_names_and_no_helper():
    # dir(jaxlstm) (and tab completion) listed Any, annotations, importlib and environment_setting.
    public = [name for name in dir(jaxlstm) if not name.startswith("_")]
    assert public == sorted(name for name in jaxlstm.__all__ if not name.startswith("_"))
    assert "__version__" in dir(jaxlstm)


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'LSTMForcaster'"):
        jaxlstm.LSTMForcaster


@pytest.mark.slow
def test_import_jaxlstm_does_not_import_jax():
    code = "import sys, jaxlstm; assert 'jax' not in sys.modules, 'jax'; jaxlstm.LSTMForecaster; assert 'jax' in sys.modules"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr


def test_the_public_api_is_small():
    # The curated surface: what a user learns before being productive.
    assert len(jaxlstm.__all__) <= 30
    assert sum(len(importlib.import_module(m).__all__) for m in PUBLIC_MODULES) <= 90


def test_alike_public_names_are_one_object():
    """A name (up to case and underscores) means one thing wherever the public API shows it."""
    seen: dict[str, tuple[str, object]] = {}
    for module in PUBLIC_MODULES:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            key = name.lower().replace("_", "")
            value = getattr(mod, name)
            if key in seen:
                where, first = seen[key]
                assert value is first, f"{module}.{name} and {where} look alike but differ"
            else:
                seen[key] = (f"{module}.{name}", value)
    assert seen["mae"][1] is not seen["maeloss"][1]  # the metric and the training loss have distinct names

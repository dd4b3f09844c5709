"""pandas, imported only by the code paths that need it.

pandas is a dependency of jaxlstm, but ``import jaxlstm`` must stay light: only reading a
file, converting a pandas object or writing one imports it.
"""

from __future__ import annotations

import sys
from typing import Any

INSTALL_HINT = "pip install 'pandas>=2.1'"


def import_pandas(purpose: str) -> Any:
    """Returns the pandas module, or raises an ImportError that says what needed it.

    Args:
        purpose: what needs pandas, e.g. ``"load_ohlcv(path)"``.

    Returns:
        The ``pandas`` module.

    Raises:
        ImportError: pandas is not installed (jaxlstm depends on it, so the install is broken).
    """
    try:
        import pandas
    except ImportError:
        raise ImportError(f"{purpose} needs pandas, a dependency of jaxlstm that is missing: {INSTALL_HINT}") from None
    return pandas


def is_pandas(value: Any, class_name: str) -> bool:
    """Whether ``value`` is an instance of ``pandas.<class_name>``, without importing pandas.

    Only an already-imported pandas can have produced a pandas object, so looking in
    ``sys.modules`` avoids importing pandas just to learn that an input is a plain list.
    """
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, getattr(pd, class_name, ()))

"""pandas, imported only by the code that reads a file or converts a pandas object, so that
``import jaxlstm`` stays light."""

from __future__ import annotations

import sys
from typing import Any

INSTALL_HINT = "pip install 'pandas>=2.2.2'"


def import_pandas(purpose: str) -> Any:
    """The ``pandas`` module, or an ImportError saying that ``purpose`` (``"load_ohlcv(path)"``) needs it."""
    try:
        import pandas
    except ImportError:
        raise ImportError(f"{purpose} needs pandas, a dependency of jaxlstm that is missing: {INSTALL_HINT}") from None
    return pandas


def is_pandas(value: Any, class_name: str) -> bool:
    """Whether ``value`` is a ``pandas.<class_name>``; only an imported pandas can have made one."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, getattr(pd, class_name, ()))

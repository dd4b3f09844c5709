"""pandas, imported only by the code that reads a file or converts a pandas object, so that
``import jaxlstm`` stays light; polars objects are read through it."""

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


def from_polars(value: Any) -> Any:
    """A polars ``DataFrame``, ``LazyFrame`` or ``Series`` as its pandas twin (``to_pandas``); anything else as it is.

    Every reader of data takes pandas objects, so a polars frame of candles, prices or many
    series in the long format is read as the same frame in pandas would be.

    Raises:
        ImportError: polars' conversion needs pyarrow, and it is not installed.
    """
    kind = type(value)
    if kind.__module__.partition(".")[0] != "polars" or kind.__name__ not in ("DataFrame", "LazyFrame", "Series"):
        return value
    if kind.__name__ == "LazyFrame":
        value = value.collect()
    try:
        return value.to_pandas()
    except ModuleNotFoundError:
        raise ImportError(
            f"a polars {kind.__name__} is read through pandas, which needs pyarrow: pip install pyarrow"
        ) from None

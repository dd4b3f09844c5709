"""``ModelCache``: per-symbol models on disk that retrain once they are older than a max age.

The seed kept one model per symbol and retrained it after 24 hours. Here the models
live in a directory (one ``LSTMForecaster.save`` folder per symbol), freshness is read
from each model's ``trained_at`` metadata, and a stale or missing model is rebuilt by a
callable the user passes. Threads asking for the same symbol wait for one training run
instead of starting several.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import re
import threading
from collections.abc import Callable

from jaxlstm._src import validation
from jaxlstm._src.forecasters.lstm import LSTMForecaster
from jaxlstm._src.io import persistence

TrainFn = Callable[[str], LSTMForecaster]

_SAFE_SYMBOL = re.compile(r"[^A-Za-z0-9._-]+")


def symbol_folder_name(symbol: str) -> str:
    """A file-system-safe folder name for a symbol: ``"BTC/USDT"`` -> ``"BTC-USDT"``."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise ValueError(f"symbol must be a non-empty string, got {symbol!r}")
    name = _SAFE_SYMBOL.sub("-", symbol.strip()).strip("-.")
    if not name:
        raise ValueError(f"symbol must contain letters or digits, got {symbol!r}")
    return name


class ModelCache:
    """Per-symbol ``LSTMForecaster`` models kept fresh on disk.

    Args:
        directory: where model folders live (created on first save).
        train_fn: ``train_fn(symbol) -> fitted LSTMForecaster``, called for a missing or
            stale symbol; may also be passed per call to ``get``.
        max_age: retrain models older than this (the seed: 24 hours); a
            ``datetime.timedelta`` or seconds.
        clock: returns the current time as a UTC ``datetime`` (injectable for tests).

    Example::

        cache = ModelCache("models", train_fn=lambda s: LSTMForecaster(symbol=s).fit(load(s)))
        fc = cache.get("BTCUSD").forecast("1d")
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        train_fn: TrainFn | None = None,
        max_age: datetime.timedelta | float = datetime.timedelta(hours=24),
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a str or os.PathLike, got {type(directory).__name__}")
        if train_fn is not None and not callable(train_fn):
            raise TypeError(f"train_fn must be callable, got {type(train_fn).__name__}")
        if not isinstance(max_age, datetime.timedelta):
            max_age = datetime.timedelta(seconds=validation.check_positive_float("max_age", max_age))
        elif max_age <= datetime.timedelta(0):
            raise ValueError(f"max_age must be positive, got {max_age}")
        self.directory = pathlib.Path(directory)
        self.train_fn = train_fn
        self.max_age = max_age
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self._memory: dict[str, LSTMForecaster] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, symbol: str) -> pathlib.Path:
        """The model folder of ``symbol``."""
        return self.directory / symbol_folder_name(symbol)

    def _lock(self, symbol: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(symbol_folder_name(symbol), threading.Lock())

    def age(self, model: LSTMForecaster) -> datetime.timedelta:
        """How long ago ``model`` was trained (``trained_at`` in its metadata)."""
        if not model.trained_at_:
            return datetime.timedelta.max
        trained = datetime.datetime.fromisoformat(model.trained_at_)
        if trained.tzinfo is None:
            trained = trained.replace(tzinfo=datetime.UTC)
        return self._clock() - trained

    def is_fresh(self, model: LSTMForecaster) -> bool:
        """True while ``model`` is younger than ``max_age``."""
        return self.age(model) < self.max_age

    def peek(self, symbol: str) -> LSTMForecaster | None:
        """The cached model of ``symbol`` (memory, then disk), fresh or not; ``None`` if absent.

        A damaged model on disk is treated as absent (``get`` then retrains it).
        """
        key = symbol_folder_name(symbol)
        model = self._memory.get(key)
        if model is None and self.path(symbol).exists():
            try:
                model = LSTMForecaster.load(self.path(symbol))
            except (ValueError, FileNotFoundError):
                return None
            self._memory[key] = model
        return model

    def get(self, symbol: str, train_fn: TrainFn | None = None) -> LSTMForecaster:
        """A fresh model for ``symbol``: cached if younger than ``max_age``, else retrained and saved.

        Raises:
            ValueError: the symbol is missing or stale and no ``train_fn`` was given, or
                ``train_fn`` did not return a fitted ``LSTMForecaster``.
        """
        key = symbol_folder_name(symbol)
        with self._lock(symbol):
            model = self.peek(symbol)
            if model is not None and self.is_fresh(model):
                return model
            fn = train_fn or self.train_fn
            if fn is None:
                state = "stale" if model is not None else "missing"
                raise ValueError(f"model for symbol {symbol!r} is {state} and no train_fn was given to retrain it")
            model = fn(symbol)
            if not isinstance(model, LSTMForecaster) or model.params_ is None:
                raise ValueError(f"train_fn must return a fitted LSTMForecaster, got {type(model).__name__}")
            if model.symbol is None:
                model.symbol = symbol
            self.directory.mkdir(parents=True, exist_ok=True)
            model.save(self.path(symbol))
            self._memory[key] = model
            return model

    def invalidate(self, symbol: str) -> None:
        """Forgets the in-memory copy so the next ``get`` re-reads (or retrains) it."""
        self._memory.pop(symbol_folder_name(symbol), None)

    def symbols(self) -> list[str]:
        """Folder names of the models saved in ``directory``."""
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if persistence.is_model_folder(p))

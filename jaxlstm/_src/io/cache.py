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
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.forecasters.base import price_series
from jaxlstm._src.forecasters.lstm import LSTMForecaster
from jaxlstm._src.io import persistence

TrainFn = Callable[[str], LSTMForecaster]

#: How ``get`` refreshes a stale model: continue training on the new prices, or retrain from scratch.
REFRESH: tuple[str, ...] = ("update", "retrain")

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
        refresh: ``"update"`` (default): a stale model given the newer prices in ``get(data=...)``
            continues training on them (``LSTMForecaster.update``, ``update_epochs`` epochs)
            when its settings are the ones asked for and the data continues what it saw;
            anything else (no data, a gap, other settings, no timestamps) retrains.
            ``"retrain"``: always train from scratch with ``train_fn``.
        update_epochs: epochs of such an update.

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
        *,
        refresh: str = "update",
        update_epochs: int = 5,
    ) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a str or os.PathLike, got {type(directory).__name__}")
        if train_fn is not None and not callable(train_fn):
            raise TypeError(f"train_fn must be callable, got {type(train_fn).__name__}")
        if not isinstance(max_age, datetime.timedelta):
            max_age = datetime.timedelta(seconds=validation.check_positive_float("max_age", max_age))
        elif max_age <= datetime.timedelta(0):
            raise ValueError(f"max_age must be positive, got {max_age}")
        if refresh not in REFRESH:
            raise ValueError(f"refresh must be one of {REFRESH}, got {refresh!r}")
        self.refresh = refresh
        self.update_epochs = validation.check_positive_int("update_epochs", update_epochs)
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

    def get(
        self,
        symbol: str,
        train_fn: TrainFn | None = None,
        *,
        data: Any = None,
        settings: Mapping[str, Any] | None = None,
        retrain: bool = False,
    ) -> LSTMForecaster:
        """A fresh model for ``symbol``: cached if younger than ``max_age``, else refreshed and saved.

        A stale model is refreshed by ``update`` on the prices of ``data`` after its last
        timestamp (see ``refresh``), otherwise retrained by ``train_fn``.

        Args:
            symbol: the instrument.
            train_fn: overrides the cache's ``train_fn`` for this call.
            data: the symbol's prices with timestamps (a pandas Series, OHLCV...), newest
                last; used only to update a stale model.
            settings: ``LSTMForecaster`` settings the model must have; a stale model with
                others is retrained, not updated.
            retrain: retrain even when the cached model is fresh or could be updated.

        Raises:
            ValueError: the symbol is missing or stale and no ``train_fn`` was given, or
                ``train_fn`` did not return a fitted ``LSTMForecaster``.
        """
        key = symbol_folder_name(symbol)
        with self._lock(symbol):
            model = self.peek(symbol)
            if model is not None and self.is_fresh(model) and not retrain:
                return model
            if model is not None and not retrain and self.refresh == "update":
                updated = self._updated(model, data, settings)
                if updated is not None:
                    self.directory.mkdir(parents=True, exist_ok=True)
                    updated.save(self.path(symbol))
                    self._memory[key] = updated
                    return updated
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

    def _updated(self, model: LSTMForecaster, data: Any, settings: Mapping[str, Any] | None) -> LSTMForecaster | None:
        """``model`` updated on the prices of ``data`` after its last one, or None when it must be retrained."""
        if data is None or model.last_timestamp_ is None or model.opt_state_ is None:
            return None
        if settings is not None:
            wanted = LSTMForecaster(**{**model.get_params(), **settings}).get_params()
            if wanted != model.get_params():
                return None
        prices, stamps, _ = price_series(data, "data")
        if stamps is None:
            return None
        stamps = np.asarray(stamps, "datetime64[ns]")
        seen = np.flatnonzero(stamps == model.last_timestamp_)
        # The data must hold the model's last price and continue after it without a gap.
        assert model.prices_ is not None
        if seen.size != 1 or seen[0] == stamps.shape[0] - 1 or prices[seen[0]] != model.prices_[-1]:
            return None
        import pandas as pd

        start = int(seen[0]) + 1
        model.update(pd.Series(prices[start:], index=pd.DatetimeIndex(stamps[start:])), epochs=self.update_epochs)
        # Freshness is measured with the cache's clock.
        model.trained_at_ = self._clock().isoformat(timespec="seconds")
        return model

    def invalidate(self, symbol: str) -> None:
        """Forgets the in-memory copy so the next ``get`` re-reads (or retrains) it."""
        self._memory.pop(symbol_folder_name(symbol), None)

    def symbols(self) -> list[str]:
        """Folder names of the models saved in ``directory``."""
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if persistence.is_model_folder(p))

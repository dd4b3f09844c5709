"""``ModelCache``: one model per symbol on disk, retrained when it is old or does not fit the request.

The cache serves any ``Forecaster`` that can ``save`` and ``load`` itself (``LSTMForecaster``
and the baselines): the caller passes the model class (``model=``), the cache builds,
compares and loads models through that class alone and imports no forecaster. A subclass
may name the class it serves by default (``default_model``): ``jaxlstm.ModelCache`` is the
one that serves ``LSTMForecaster``.

Models live in a directory, one ``save`` folder per symbol. A cached model
is used ("fresh") only when all of these hold, else it is retrained by a callable the user
passes and saved in its place:

* it loads (a damaged folder is retrained, never an error) and its saved ``symbol`` is the
  one asked for;
* its ``trained_at`` is readable, not in the future (beyond ``CLOCK_SKEW``) and younger
  than ``max_age``;
* it has every setting passed as ``settings=`` (constructor arguments, compared after the
  constructor's own validation, so ``encoding=MinMaxEncoding()`` equals ``"minmax"``);
* it was trained on the data passed as ``data=``: same interval, first and last timestamp,
  number of prices and SHA-256 of the closes and of every other candle column the model
  reads (its ``input_columns``: volume, high, low... of a features model), compared by
  ``jaxlstm.data.fingerprint(data, columns=model.input_columns)``.

``status`` says which of these failed, in one line, without training anything.

A model that is not fresh is refreshed by its ``update`` (``LSTMForecaster.update``, online
learning: a few epochs on the new prices only, from its saved optimiser state; a model
without ``update`` is always retrained) when ``data=`` continues
the prices it saw and its symbol and settings are the ones asked for; otherwise, or with
``refresh="retrain"`` or ``get(retrain=True)``, it is trained from scratch by ``train_fn``.

Symbols map to folder names one-to-one (``symbol_folder_name``): letters A-Z, digits and
``-`` stay, every other character becomes ``_`` and the two-digit hex codes of its UTF-8
bytes, so ``"BTC/USDT"`` is ``BTC_2fUSDT`` and ``"ÄPFEL"`` is ``_c3_84PFEL``. No two symbols
share a folder, also on case-insensitive file systems (only upper-case letters are kept
as they are and the hex digits are lower case), and a folder name never holds a path
separator, ``.`` or a name Windows reserves. A symbol whose folder name would not fit in
a file name is refused before anything is trained.

Across threads and processes, one caller trains a symbol while the others wait for it
and then load its model: the cache holds the model folder's lock
(``model_files.model_lock``, an OS file lock) while it trains and saves, and checks the
folder again once it has the lock. A wait longer than ``lock_timeout`` raises
``TimeoutError``. What the lock does not cover (network file systems, platforms without
``fcntl``) is said in ``jaxlstm._src.io.locking``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import os
import pathlib
import re
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from jaxlstm._src import validation
from jaxlstm._src.io import model_files
from jaxlstm._src.io.series import fingerprint
from jaxlstm._src.prep import horizons
from jaxlstm._src.prep.fingerprints import DataFingerprint

#: A fitted model: any ``Forecaster`` with ``save(path)``, ``load(path)`` and ``trained_at_``.
Model = Any
TrainFn = Callable[[str], Model]

CLOCK_SKEW = datetime.timedelta(minutes=5)
"""How far in the future a ``trained_at`` may lie and still count as just trained (clocks of
machines sharing a models folder differ a little); further ahead it is not fresh."""

NAME_MAX = 255
"""Longest file name (bytes) of common local file systems (ext4, XFS, APFS, NTFS)."""

_SAVE_SUFFIX = len(model_files.TMP_INFIX) + 32
"""A save also writes ``<name>.tmp-<32 hex digits>`` beside the folder: its name must fit too."""

_LITERAL = re.compile(r"[A-Z0-9-]")
_ESCAPED = re.compile(r"(?:_[0-9a-f]{2}|[A-Z0-9-])+")
_WINDOWS_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])")

#: How ``get`` refreshes a model that is not fresh: continue training on the new prices, or retrain from scratch.
REFRESH: tuple[str, ...] = ("update", "retrain")


def _encode(symbol: str) -> str:
    try:
        raw = symbol.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"symbol must be valid Unicode text, got {symbol!r:.80} (it holds a lone surrogate)") from None
    name = "".join(chr(b) if _LITERAL.fullmatch(chr(b)) else f"_{b:02x}" for b in raw)
    if _WINDOWS_RESERVED.fullmatch(name):
        name = f"_{ord(name[0]):02x}{name[1:]}"
    return name


def _name_limit(directory: pathlib.Path) -> int:
    """Longest model folder name under ``directory``: the file system's limit less a save's suffix."""
    limit = NAME_MAX
    folder = directory
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    with contextlib.suppress(AttributeError, OSError, ValueError):  # no pathconf (Windows), or nothing to ask
        asked = os.pathconf(folder, "PC_NAME_MAX")
        if asked > 0:  # -1: no limit
            limit = min(limit, asked)
    return limit - _SAVE_SUFFIX


def symbol_folder_name(symbol: str, directory: str | os.PathLike | None = None) -> str:
    """The folder name of a symbol: one-to-one, safe on every file system.

    Upper-case letters A-Z, digits and ``-`` are kept; every other character (lower case
    included) becomes ``_`` followed by the lower-case hex codes of its UTF-8 bytes.

    Args:
        symbol: a non-empty string.
        directory: where the folder will be; its file system's name limit is checked
            (default: ``NAME_MAX``).

    Returns:
        The folder name, e.g. ``"BTC_2fUSDT"`` for ``"BTC/USDT"``.

    Raises:
        TypeError: ``symbol`` is not a string.
        ValueError: an empty symbol, a lone surrogate, or a folder name too long for the
            file system.
    """
    if not isinstance(symbol, str):
        raise TypeError(f"symbol must be a str, got {type(symbol).__name__} {symbol!r:.80}")
    if not symbol:
        raise ValueError("symbol must be a non-empty string, got ''")
    name = _encode(symbol)
    limit = NAME_MAX - _SAVE_SUFFIX if directory is None else _name_limit(pathlib.Path(directory))
    if len(name) > limit:
        raise ValueError(
            f"symbol {symbol!r:.60} is too long: its model folder name would be {len(name)} bytes, "
            f"the file system allows {limit} (each character other than A-Z, 0-9 and '-' takes 3 bytes per UTF-8 byte)"
        )
    return name


def folder_symbol(name: str) -> str | None:
    """The symbol whose folder is named ``name``; None when no symbol maps to it."""
    if not _ESCAPED.fullmatch(name):
        return None
    raw = re.sub(r"_([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), name).encode("latin-1")
    try:
        symbol = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return symbol if symbol and _encode(symbol) == name else None


def _disk_token(path: pathlib.Path) -> tuple[int, int, int, int] | None:
    """Identifies the save at ``path``: every save writes a new ``metadata.json``."""
    try:
        info = (path / model_files.METADATA_FILE).stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


class CacheStatus(NamedTuple):
    """Whether a cached model can be used, and why not.

    Attributes:
        fresh: True when ``get`` would return ``model`` without training.
        reason: None when fresh, else one line: ``"no model saved"``, ``"damaged: ..."``,
            ``"trained 30.2 h ago (max 24 h)"``, ``"settings differ: hidden_size 64 != 32"``
            (asked first, cached second), ``"trained on other data: <asked> != <cached>"``, ...
        model: the cached model (fresh or not), None when there is none or it cannot be loaded.
    """

    fresh: bool
    reason: str | None
    model: Model | None


class _Data:
    """The ``data=`` of a request and its fingerprints, one per set of columns a model reads, each computed once.

    Args:
        data: anything ``fit`` accepts.
        columns: the columns the settings asked for make the model read: read (and so
            checked) at once, before anything is trained.
    """

    def __init__(self, data: Any, columns: tuple[str, ...]) -> None:
        self.data = data
        self._prints: dict[tuple[str, ...], DataFingerprint] = {columns: fingerprint(data, columns=columns)}

    def fingerprint(self, columns: tuple[str, ...]) -> DataFingerprint:
        """The fingerprint of the data's ``columns``; TypeError or ValueError when it does not hold them."""
        if columns not in self._prints:
            self._prints[columns] = fingerprint(self.data, columns=columns)
        return self._prints[columns]

    def difference(self, model: Model) -> str | None:
        """Why ``model`` was not trained on this data (``"trained on other data: ..."``), or None."""
        columns = model.input_columns
        try:
            asked = self.fingerprint(columns)
        except (TypeError, ValueError) as err:
            return f"trained on other data: the model reads {', '.join(columns)}, which data does not hold ({err})"
        if model.trained_on_ is None:
            return "trained on unknown data (the model was saved without a fingerprint of its data)"
        difference = asked.difference(model.trained_on_)
        return None if difference is None else f"trained on other data: {difference}"


class _Request(NamedTuple):
    settings: dict[str, Any]
    data: _Data | None


def _duration(delta: datetime.timedelta) -> str:
    seconds = delta.total_seconds()
    if abs(seconds) < 120:
        return f"{seconds:.0f} s"
    if abs(seconds) < 2 * 3600:
        return f"{seconds / 60:.3g} min"
    if abs(seconds) < 2 * 86400:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} d"


def _check_clock(clock: Any) -> Callable[[], datetime.datetime]:
    if not callable(clock):
        raise TypeError(f"clock must be a callable returning a timezone-aware datetime, got {type(clock).__name__}")
    now = clock()
    if not isinstance(now, datetime.datetime) or now.utcoffset() is None:
        what = "a naive datetime" if isinstance(now, datetime.datetime) else type(now).__name__
        raise TypeError(f"clock must return a timezone-aware datetime (e.g. datetime.now(UTC)), got {what} {now!r:.60}")
    return clock


class ModelCache:
    """Per-symbol models kept fresh on disk, shared safely between processes.

    See the module docstring for when a cached model is used.

    Attributes:
        default_model: the model class served when ``model=`` is not given (None here:
            ``model=`` is then required; ``jaxlstm.ModelCache`` sets ``LSTMForecaster``).

    Args:
        directory: where model folders live (created on first save).
        train_fn: ``train_fn(symbol) -> fitted model`` (of the class ``model``), called for a missing or
            unusable symbol; may also be passed per call to ``get``. It must train with the
            ``settings`` and on the ``data`` passed to ``get`` (checked).
        max_age: retrain models older than this (the seed: 24 hours); a
            ``datetime.timedelta``, seconds, or text such as ``"24h"`` or ``"2d"``.
        clock: returns the current time as a timezone-aware ``datetime`` (injectable for
            tests); checked here, so a naive clock fails at construction.
        lock_timeout: seconds ``get`` waits for another process or thread that trains or
            saves the same symbol; ``None`` waits as long as it takes.
        refresh: ``"update"`` (default): a model that is not fresh, given ``get(data=...)``
            that continues the prices it saw, continues training on the new ones
            (``LSTMForecaster.update``, ``update_epochs`` epochs) when its symbol and settings
            are the ones asked for; anything else (no data, a gap, other settings, no
            timestamps, a model saved without optimiser state) retrains.
            ``"retrain"``: always train from scratch with ``train_fn``.
        update_epochs: epochs of such an update.
        model: the model class (``LSTMForecaster``, ``HybridForecaster``, your own
            ``Forecaster``...): settings are checked by its constructor and saved models
            read by its ``load``. None: ``default_model``.

    Example::

        cache = ModelCache("models", train_fn=lambda s: LSTMForecaster(symbol=s).fit(load(s)))
        fc = cache.get("BTCUSD", settings={"epochs": 20}, data=load("BTCUSD")).forecast("1d")
    """

    default_model: Any = None

    def __init__(
        self,
        directory: str | os.PathLike,
        train_fn: TrainFn | None = None,
        max_age: datetime.timedelta | float | str = datetime.timedelta(hours=24),
        clock: Callable[[], datetime.datetime] | None = None,
        lock_timeout: float | None = 1800.0,
        *,
        refresh: str = "update",
        update_epochs: int = 5,
        model: Any = None,
    ) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a str or os.PathLike, got {type(directory).__name__}")
        if train_fn is not None and not callable(train_fn):
            raise TypeError(f"train_fn must be callable, got {type(train_fn).__name__}")
        if isinstance(max_age, str):  # "24h", "2d": a span as horizons and intervals are written
            max_age = datetime.timedelta(microseconds=int(horizons.as_interval(max_age, name="max_age") // 1000))
        if not isinstance(max_age, datetime.timedelta):
            max_age = datetime.timedelta(seconds=validation.check_positive_float("max_age", max_age))
        elif max_age <= datetime.timedelta(0):
            raise ValueError(f"max_age must be positive, got {max_age}")
        if lock_timeout is not None:
            lock_timeout = validation.check_positive_float("lock_timeout", lock_timeout, allow_zero=True)
        if model is None:
            model = self.default_model
        if model is None:
            raise ValueError("model must be the model class the cache serves (LSTMForecaster, ...), got None")
        if not (callable(model) and callable(getattr(model, "load", None))):
            raise TypeError(f"model must be a model class with a load(path) method, got {model!r:.80}")
        self.model = model
        self.refresh = validation.check_choice("refresh", refresh, REFRESH)
        self.update_epochs = validation.check_positive_int("update_epochs", update_epochs)
        self.directory = pathlib.Path(directory)
        self.train_fn = train_fn
        self.max_age = max_age
        self.lock_timeout = lock_timeout
        self._clock = _check_clock(clock or (lambda: datetime.datetime.now(datetime.UTC)))
        # folder name -> (model, _disk_token of the folder it was read from or saved to)
        self._memory: dict[str, tuple[Model, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # ------------------------------------------------------------------ names

    def path(self, symbol: str) -> pathlib.Path:
        """The model folder of ``symbol`` (see ``symbol_folder_name``)."""
        return self.directory / symbol_folder_name(symbol, self.directory)

    def symbols(self) -> list[str]:
        """The symbols of the model folders in ``directory`` (folders no symbol maps to are left out)."""
        if not self.directory.is_dir():
            return []
        found = (folder_symbol(p.name) for p in self.directory.iterdir() if model_files.is_model_folder(p))
        return sorted(s for s in found if s is not None)

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    # ------------------------------------------------------------------ time

    def _now(self) -> datetime.datetime:
        return _check_clock(self._clock)()

    def _trained_at(self, model: Model) -> tuple[datetime.datetime | None, str | None]:
        """``(trained_at, None)``, or ``(None, why it cannot be used)``."""
        stamp = model.trained_at_
        if not stamp:
            return None, "trained_at is missing"
        try:
            trained = datetime.datetime.fromisoformat(stamp)
        except (TypeError, ValueError):
            return None, f"trained_at {stamp!r:.60} is not a timestamp"
        if trained.tzinfo is None:
            trained = trained.replace(tzinfo=datetime.UTC)
        return trained, None

    def age(self, model: Model) -> datetime.timedelta:
        """How long ago ``model`` was trained (``trained_at`` in its metadata).

        Returns:
            The age; negative for a ``trained_at`` in the future; ``timedelta.max`` when
            ``trained_at`` is missing or unreadable.
        """
        trained, _ = self._trained_at(model)
        return datetime.timedelta.max if trained is None else self._now() - trained

    def _age_problem(self, model: Model) -> str | None:
        trained, problem = self._trained_at(model)
        if trained is None:
            return problem
        age = self._now() - trained
        if age < -CLOCK_SKEW:
            return f"trained_at {model.trained_at_} is {_duration(-age)} in the future"
        if age >= self.max_age:
            return f"trained {_duration(age)} ago (max {_duration(self.max_age)})"
        return None

    def is_fresh(self, model: Model) -> bool:
        """True while ``model`` is younger than ``max_age`` (and its ``trained_at`` is readable and not in the future)."""
        return self._age_problem(model) is None

    # ------------------------------------------------------------------ status

    def _request(self, symbol: str, settings: Mapping[str, Any] | None, data: Any) -> _Request:
        """Validated, normalised settings and the data's fingerprint (errors before any training)."""
        asked: dict[str, Any] = {}
        # The columns the settings make a model read: the close alone unless they name features.
        columns: tuple[str, ...] = ("close",)
        if settings is not None:
            kind = getattr(self.model, "__name__", "model")
            if not isinstance(settings, Mapping):
                raise TypeError(f"settings must be a mapping of {kind} settings, got {type(settings).__name__}")
            names = tuple(self.model.default_params())
            unknown = sorted(str(k) for k in settings if k not in names)
            if unknown:
                raise ValueError(f"settings has unknown {kind} settings {unknown}; settings: {list(names)}")
            if settings.get("symbol") not in (None, symbol):
                raise ValueError(f"settings['symbol'] is {settings['symbol']!r}, but the model asked for is {symbol!r}")
            model = self.model(**({**settings, "symbol": symbol} if "symbol" in names else settings))
            normal = model.get_params()
            asked = {k: normal[k] for k in settings if k != "symbol"}  # the symbol is checked on its own
            columns = model.input_columns
        return _Request(asked, None if data is None else _Data(data, columns))

    def _mismatch(self, symbol: str, model: Model, request: _Request) -> str | None:
        """Why ``model`` is not what was asked for (symbol, settings, data), or None."""
        # A model without a symbol setting is known by its folder alone.
        if getattr(model, "symbol", symbol) != symbol:
            return f"saved for symbol {model.symbol!r}, not {symbol!r}"
        have = model.get_params()
        differ = [f"{k} {v!r} != {have[k]!r}" for k, v in request.settings.items() if have[k] != v]
        if differ:
            return "settings differ: " + ", ".join(differ)
        return None if request.data is None else request.data.difference(model)

    def _judge(self, symbol: str, model: Model, request: _Request) -> CacheStatus:
        reason = self._mismatch(symbol, model, request) or self._age_problem(model)
        return CacheStatus(reason is None, reason, model)

    def _from_disk(self, symbol: str, request: _Request) -> CacheStatus:
        path = self.path(symbol)
        token = _disk_token(path)
        try:
            model = self.model.load(path)
        except FileNotFoundError:
            return CacheStatus(False, "no model saved", None)
        except ValueError as err:
            return CacheStatus(False, f"damaged: {err}", None)
        except OSError as err:
            return CacheStatus(False, f"cannot be read: {err}", None)
        self._memory[path.name] = (model, token)
        return self._judge(symbol, model, request)

    def _status(self, symbol: str, request: _Request) -> CacheStatus:
        path = self.path(symbol)
        kept = self._memory.get(path.name)
        # The copy in memory stands for the folder as long as nobody has saved over it.
        if kept is not None and kept[1] is not None and kept[1] == _disk_token(path):
            return self._judge(symbol, kept[0], request)
        return self._from_disk(symbol, request)

    def status(self, symbol: str, *, settings: Mapping[str, Any] | None = None, data: Any = None) -> CacheStatus:
        """Whether ``get`` would use the cached model of ``symbol``, and if not why; trains nothing.

        Args:
            symbol: the instrument.
            settings: constructor arguments of ``model`` the cached model must have.
            data: anything ``fit`` accepts; the model must have been trained on exactly it,
                every candle column it reads included.

        Returns:
            ``CacheStatus(fresh, reason, model)``.

        Raises:
            TypeError, ValueError: a bad symbol, unknown or invalid settings, or unreadable data.
        """
        return self._status(symbol, self._request(symbol, settings, data))

    def peek(self, symbol: str) -> Model | None:
        """The cached model of ``symbol`` (memory, then disk), fresh or not; ``None`` if absent.

        A damaged model, or one saved for another symbol, is treated as absent (``get``
        then retrains it).
        """
        model = self._status(symbol, _Request({}, None)).model
        return model if model is not None and getattr(model, "symbol", symbol) == symbol else None

    # ------------------------------------------------------------------ get

    def _check_trained(self, symbol: str, model: Any, request: _Request) -> Model:
        kind = getattr(self.model, "__name__", "model")
        wrong_class = isinstance(self.model, type) and not isinstance(model, self.model)
        # A global model (several series) holds its series' prices in ``series_``.
        unfitted = getattr(model, "prices_", None) is None and not getattr(model, "series_", None)
        if wrong_class or unfitted or not callable(getattr(model, "save", None)):
            raise ValueError(f"train_fn must return a fitted {kind}, got {type(model).__name__}")
        if getattr(model, "symbol", symbol) is None:
            model.symbol = symbol
        problem = self._mismatch(symbol, model, request)
        if problem is not None:
            raise ValueError(f"train_fn({symbol!r}) returned a model that is not what was asked for: {problem}")
        return model

    def get(
        self,
        symbol: str,
        train_fn: TrainFn | None = None,
        *,
        settings: Mapping[str, Any] | None = None,
        data: Any = None,
        retrain: bool = False,
    ) -> Model:
        """The cached model of ``symbol`` when fresh (see ``status``), else a refreshed one, saved.

        A model that is not fresh is brought up to date by ``update`` on the prices of
        ``data`` after its last one when it can be (see ``refresh``), else retrained by
        ``train_fn``. One caller trains while others (threads or processes) asking for the
        same symbol wait, then use its model.

        Args:
            symbol: the instrument.
            train_fn: overrides the cache's ``train_fn`` for this call.
            settings: constructor arguments of ``model`` the model must have.
            data: anything ``fit`` accepts; the model must have been trained on exactly it
                (compared by ``jaxlstm.data.fingerprint`` over the columns the model reads).
            retrain: train a new model even if the cached one is fresh (a model another
                process finished meanwhile counts as new).

        Returns:
            A fitted model (the same object for repeated hits in this process).

        Raises:
            ValueError: the model must be trained and no ``train_fn`` was given; ``train_fn``
                did not return a fitted model of the class ``model`` with the symbol, settings and data
                asked for; or bad settings, data or symbol (also TypeError).
            TimeoutError: another process or thread held the symbol's lock for ``lock_timeout`` s.
        """
        path = self.path(symbol)
        request = self._request(symbol, settings, data)
        fn = train_fn or self.train_fn
        if fn is not None and not callable(fn):
            raise TypeError(f"train_fn must be callable, got {type(fn).__name__}")
        if not isinstance(retrain, bool):
            raise TypeError(f"retrain must be a bool, got {type(retrain).__name__}")
        with self._lock(path.name):
            # The model judged below; a save by anyone else changes it (a new metadata.json).
            seen = _disk_token(path)
            reason = "retrain=True"
            status = None
            if not retrain:
                status = self._status(symbol, request)
                if status.fresh:
                    assert status.model is not None
                    return status.model
                reason = status.reason or "not fresh"
            can_update = status is not None and status.model is not None and self.refresh == "update"
            if fn is None and not can_update:
                raise ValueError(f"the model of {symbol!r} must be trained ({reason}) and no train_fn was given")
            with contextlib.ExitStack() as held:
                try:
                    held.enter_context(model_files.model_lock(path, timeout=self.lock_timeout))
                except TimeoutError:
                    raise TimeoutError(
                        f"gave up after {self.lock_timeout:g} s waiting for another process or thread that trains "
                        f"or saves the model of {symbol!r} (lock file {path!s}.lock); try again or raise lock_timeout"
                    ) from None
                # Whoever held the lock may have just saved what this call needs.
                if _disk_token(path) != seen:
                    status = self._from_disk(symbol, request)
                    if status.fresh:
                        assert status.model is not None
                        return status.model
                model = None
                if can_update and status is not None and status.model is not None:
                    model = self._updated(symbol, status.model, data, request)
                if model is None:
                    if fn is None:
                        raise ValueError(
                            f"the model of {symbol!r} must be trained ({reason}; it cannot be updated on the data "
                            "given) and no train_fn was given"
                        )
                    model = self._check_trained(symbol, fn(symbol), request)
                try:
                    model.save(path)
                except FileExistsError as err:  # something that is not a model sits where it belongs
                    raise ValueError(f"cannot save the model of {symbol!r}: {err}") from None
                self._memory[path.name] = (model, _disk_token(path))
            return model

    def _updated(self, symbol: str, cached: Model, data: Any, request: _Request) -> Model | None:
        """A copy of ``cached`` updated on the prices of ``data`` after its last one; None when it must be retrained.

        It must be the symbol's, with the settings asked for and its optimiser state, and
        ``data`` must continue it as its ``update`` requires (dated, at its
        interval, what overlaps equal to what it holds, no gap; for a global model, every
        series of ``data`` one of its series, each continuing it). The
        update continues training on the new prices only; ``trained_on_`` then records
        ``data`` (the model is current with it) and ``trained_at_`` the cache's clock.
        """
        if not callable(getattr(cached, "update", None)):
            return None  # a model that cannot continue training is retrained
        # A global model (several series) is continued series by series: each must be dated.
        held = getattr(cached, "series_", None) or {None: cached}
        undated = any(getattr(model, "last_timestamp_", None) is None for model in held.values())
        if data is None or undated or getattr(cached, "opt_state_", None) is None:
            return None
        if self._mismatch(symbol, cached, _Request(request.settings, None)) is not None:
            return None
        # A copy: callers may hold the cached object, which stays as it was. update itself
        # decides whether data continues the model (its own checks: the overlap with the
        # prices the model holds, in every column it reads, no gap, its interval).
        model = copy.deepcopy(cached)
        try:
            with warnings.catch_warnings():
                # The history the model has seen is expected here: dropping it is no news.
                warnings.filterwarnings("ignore", message="update: dropped the first", category=UserWarning)
                model.update(data, epochs=self.update_epochs)
        except (TypeError, ValueError):  # not a continuation, or a diverged update: retrain instead
            return None
        assert request.data is not None
        model.trained_on_ = request.data.fingerprint(model.input_columns)
        model.trained_at_ = self._now().isoformat(timespec="seconds")
        return model

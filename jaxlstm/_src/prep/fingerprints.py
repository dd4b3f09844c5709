"""What a model was trained on: a fingerprint of a price series, its time span and its source.

``fit`` records a ``DataFingerprint`` of the fitted series as the forecaster's
``trained_on_`` (saved with the model); ``jaxlstm.data.fingerprint(data, columns=...)``
computes the same record for any data, so the model cache and the command line can tell
whether a saved model was trained on the data at hand. Two series are the same data when
their interval, first and last timestamp, length, SHA-256 of the closes and timestamps,
and SHA-256 of every other candle column the model reads (volume, high, low, open for a
features model; none for a close-only one) agree; where they came from (``source``) is
information, not part of the comparison.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from typing import Any

import numpy as np

from jaxlstm._src.prep import horizons

_SHA256 = re.compile(r"[0-9a-f]{64}")

# The calendar axes' steps as adjectives, for descriptions of a series.
_CALENDAR_WORDS = {
    " 1 month": " monthly",
    " 3 months": " quarterly",
    " 12 months": " yearly",
    " 1 business day": " business-day",
}


def series_sha256(prices: np.ndarray, timestamps: np.ndarray | None) -> str:
    """SHA-256 of a series: its prices as little-endian float64, then its timestamps as int64 ns.

    Args:
        prices: ``[time]`` prices.
        timestamps: ``[time]`` ``datetime64`` values, or None.

    Returns:
        64 lowercase hex digits.
    """
    digest = hashlib.sha256(np.ascontiguousarray(prices, dtype="<f8").tobytes())
    if timestamps is not None:
        digest.update(b"timestamps")
        digest.update(np.ascontiguousarray(np.asarray(timestamps, "datetime64[ns]").view(np.int64), "<i8").tobytes())
    return digest.hexdigest()


def column_sha256(values: np.ndarray) -> str:
    """SHA-256 of one candle column: its values as little-endian float64 (NaN, a missing volume, included)."""
    return hashlib.sha256(np.ascontiguousarray(values, dtype="<f8").tobytes()).hexdigest()


def source_of(data: Any) -> str | None:
    """Where ``data`` came from when it says so: a file path, an ``OHLCV``'s ``source`` or a pandas object's ``attrs["source"]``."""
    if isinstance(data, (str, os.PathLike)):  # as ``load_ohlcv`` records a file's source
        return os.path.abspath(data)
    source = getattr(data, "source", None)
    if source is None:
        attrs = getattr(data, "attrs", None)
        source = attrs.get("source") if isinstance(attrs, dict) else None
    return source if isinstance(source, str) else None


def _stamp(value: np.datetime64 | None) -> str:
    if value is None:
        return "?"
    text = str(np.datetime_as_string(value, unit="s")).replace("T", " ")
    return text.removesuffix(" 00:00:00").removesuffix(":00")


@dataclasses.dataclass(frozen=True)
class DataFingerprint:
    """A price series, identified: spacing, time span, length, checksum and source.

    Attributes:
        interval: the data's spacing as ``np.timedelta64[ns]``, or None when unknown.
        first: timestamp of the first price (``datetime64[ns]``), None without timestamps.
        last: timestamp of the last price, None without timestamps.
        count: number of prices.
        sha256: ``series_sha256`` of the prices (the closes) and their timestamps.
        source: where the data came from (a file path), None when not known.
        columns: the other candle columns read (a features model's), each as ``(name,
            column_sha256 of its values)``, sorted by name; ``()`` for a close-only series.
    """

    interval: np.timedelta64 | None
    first: np.datetime64 | None
    last: np.datetime64 | None
    count: int
    sha256: str
    source: str | None = None
    columns: tuple[tuple[str, str], ...] = ()

    def _key(self) -> tuple[Any, ...]:
        return (self.interval, self.first, self.last, self.count, self.sha256, self.columns)

    def same_data(self, other: DataFingerprint) -> bool:
        """True when ``other`` describes the same series (``source`` is not compared)."""
        return self._key() == other._key()

    def describe(self) -> str:
        """One line: ``"500 1h prices 2019-09-26 15:00 .. 2019-10-17 10:00 from /data/btc.csv"``.

        A record of more columns than the close says which: ``"500 1h candles (close, high,
        low, volume) ..."``.
        """
        spacing = "" if self.interval is None else f" {horizons.format_interval(self.interval)}"
        spacing = _CALENDAR_WORDS.get(spacing, spacing)  # "120 monthly prices", not "120 1 month prices"
        span = "" if self.last is None else f" {_stamp(self.first)} .. {_stamp(self.last)}"
        # Reasons built from this are printed as one line: a file name with a newline is shown escaped.
        source = self.source if self.source is None or self.source.isprintable() else repr(self.source)
        origin = "" if source is None else f" from {source}"
        what = "prices" if not self.columns else f"candles ({', '.join(['close', *dict(self.columns)])})"
        return f"{self.count}{spacing} {what}{span}{origin}"

    def difference(self, other: DataFingerprint) -> str | None:
        """None for the same data, else ``"<self> != <other>"`` naming what differs.

        With the same spacing, span, length and columns: ``"<self> with other prices, volume
        (sha256 <self's> != <other's>)"``, naming each column whose values differ (``prices``
        for the closes and timestamps) and the checksums of the first.
        """
        if self.same_data(other):
            return None
        mine, theirs = dataclasses.replace(self, source=None), dataclasses.replace(other, source=None)
        if mine.describe() != theirs.describe():
            return f"{mine.describe()} != {theirs.describe()}"
        own, their = dict(self.columns), dict(other.columns)
        differ = [("prices", self.sha256, other.sha256)] if self.sha256 != other.sha256 else []
        differ += [(name, own[name], their[name]) for name in own if own[name] != their[name]]
        names = ", ".join(name for name, _, _ in differ)
        return f"{mine.describe()} with other {names} (sha256 {differ[0][1][:12]} != {differ[0][2][:12]})"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what saved models keep under ``"trained_on"``).

        ``"columns"`` (name -> SHA-256) is written only for a record of other columns than
        the close, so a close-only record is what versions before it wrote.
        """
        out: dict[str, Any] = {
            "interval_ns": None if self.interval is None else int(self.interval.astype(np.int64)),
            "first": None if self.first is None else str(np.datetime_as_string(self.first, unit="ns")),
            "last": None if self.last is None else str(np.datetime_as_string(self.last, unit="ns")),
            "count": self.count,
            "sha256": self.sha256,
            "source": self.source,
        }
        if self.columns:
            out["columns"] = dict(self.columns)
        return out

    @classmethod
    def from_json(cls, obj: Any) -> DataFingerprint:
        """The record ``to_json`` wrote (with or without ``columns``); anything else is a ValueError naming the field."""
        fields = {"interval_ns", "first", "last", "count", "sha256", "source"}
        if not isinstance(obj, dict) or set(obj) - {"columns"} != fields:
            raise ValueError(
                "trained_on must be an object of interval_ns, first, last, count, sha256, source (and columns), "
                f"got {obj!r:.120}"
            )
        interval_ns, count, sha, source = obj["interval_ns"], obj["count"], obj["sha256"], obj["source"]
        if interval_ns is not None and (type(interval_ns) is not int or not 0 < interval_ns < 2**63):
            raise ValueError(f"trained_on.interval_ns must be a positive int64 or null, got {interval_ns!r:.40}")
        if type(count) is not int or count < 1:
            raise ValueError(f"trained_on.count must be an integer >= 1, got {count!r:.40}")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise ValueError(f"trained_on.sha256 must be 64 hex digits, got {sha!r:.80}")
        if source is not None and not isinstance(source, str):
            raise ValueError(f"trained_on.source must be a string or null, got {type(source).__name__}")
        stamps: list[np.datetime64 | None] = []
        for name in ("first", "last"):
            value = obj[name]
            if value is None:
                stamps.append(None)
                continue
            try:
                stamp = np.datetime64(value, "ns") if isinstance(value, str) else None
            except ValueError:
                stamp = None
            if stamp is None or np.isnat(stamp):
                raise ValueError(f"trained_on.{name} must be an ISO timestamp or null, got {value!r:.60}")
            stamps.append(stamp)
        if (stamps[0] is None) != (stamps[1] is None):
            raise ValueError("trained_on.first and trained_on.last must both be set or both be null")
        interval = None if interval_ns is None else np.timedelta64(interval_ns, "ns")
        return cls(interval, stamps[0], stamps[1], count, sha, source, _columns_from_json(obj.get("columns", {})))


_COLUMN_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _columns_from_json(obj: Any) -> tuple[tuple[str, str], ...]:
    """``trained_on.columns``: column name -> 64 hex digits, the close not among them."""
    if not isinstance(obj, dict):
        raise ValueError(f"trained_on.columns must be an object of column name -> sha256, got {obj!r:.80}")
    for name, sha in obj.items():
        if not isinstance(name, str) or not _COLUMN_NAME.fullmatch(name) or name == "close":
            raise ValueError(f"trained_on.columns must name candle columns other than the close, got {name!r:.40}")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise ValueError(f"trained_on.columns[{name!r}] must be 64 hex digits, got {sha!r:.80}")
    return tuple(sorted(obj.items()))


def fingerprint_series(
    prices: np.ndarray,
    timestamps: np.ndarray | None,
    interval: Any,
    source: str | None = None,
    columns: tuple[str, ...] = ("close",),
) -> DataFingerprint:
    """The ``DataFingerprint`` of a checked series (what ``fit`` saw).

    Args:
        prices: ``[time]`` float64 prices, at least one, or ``[time, len(columns)]`` candle
            values (the close first) of a model that reads more columns.
        timestamps: ``[time]`` ``datetime64`` timestamps in time order, or None.
        interval: the data's spacing (see ``horizons.as_interval``), or None.
        source: where the data came from, if known.
        columns: the candle columns of ``prices``, ``"close"`` first.

    Returns:
        The record: ``sha256`` of the closes and timestamps (the same as a close-only
        series of the same data), ``columns`` the checksum of each other column.
    """
    prices = np.asarray(prices, np.float64)
    columns = tuple(columns)
    if not columns or columns[0] != "close" or (prices.ndim == 2) != (len(columns) > 1):
        raise ValueError(f"columns must be 'close' and then a name per further column of prices, got {columns}")
    others: tuple[tuple[str, str], ...] = ()
    if prices.ndim == 2:
        if prices.shape[1] != len(columns):
            raise ValueError(f"prices must have one column per name in {columns}, got shape {prices.shape}")
        others = tuple(sorted((name, column_sha256(prices[:, i])) for i, name in enumerate(columns) if i))
        prices = prices[:, 0]
    first = last = None
    if timestamps is not None and len(timestamps):
        stamps = np.asarray(timestamps, "datetime64[ns]")
        first, last = stamps[0], stamps[-1]
    step = None if interval is None else horizons.as_interval(interval)
    return DataFingerprint(step, first, last, int(prices.shape[0]), series_sha256(prices, timestamps), source, others)


def combine(prints: Any) -> DataFingerprint:
    """One record of many named series (a global model's ``trained_on_``), in their order.

    Args:
        prints: ``{name: DataFingerprint}``, at least one.

    Returns:
        The interval they share (None when they differ), the earliest first and latest last
        timestamp (None unless every series has them), the total count, and the SHA-256 of
        every name with its series' checksums, in order (renaming, reordering or changing a
        series changes it); no source.
    """
    items = list(prints.items())
    if not items:
        raise ValueError("prints must hold at least one series")
    digest = hashlib.sha256(b"series")
    for name, found in items:
        digest.update(f"\0{name}\0{found.sha256}\0{sorted(found.columns)}".encode())
    spacing = {found.interval for _, found in items}
    dated = all(found.first is not None for _, found in items)
    first = min(found.first for _, found in items if found.first is not None) if dated else None
    last = max(found.last for _, found in items if found.last is not None) if dated else None
    return DataFingerprint(
        spacing.pop() if len(spacing) == 1 else None,
        first,
        last,
        sum(found.count for _, found in items),
        digest.hexdigest(),
    )

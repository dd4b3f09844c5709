"""The ``OHLCV`` record and the checks every loaded candle passes: prices finite and > 0 with
``low <= open, close <= high``, volume >= 0 or NaN; of rows sharing a timestamp the last in
the source wins (a vendor's correction)."""

from __future__ import annotations

import dataclasses
from typing import Any, NoReturn

import numpy as np

from jaxlstm._src.io.pandas_import import import_pandas

PRICE_FIELDS = ("open", "high", "low", "close")
FIELDS = (*PRICE_FIELDS, "volume")


@dataclasses.dataclass(frozen=True)
class Where:
    """Where a column's values came from: ``source`` (``"source 'x.csv'"``), ``unit`` (``"line"``
    or ``"row"``), and each value's number (``numbers``, or ``start, start + 1, ...`` when None)."""

    source: str
    unit: str
    numbers: np.ndarray | None = None
    start: int = 0

    def number(self, index: int) -> int:
        return int(self.numbers[index]) if self.numbers is not None else self.start + int(index)

    def place(self, index: int) -> str:
        return f"{self.unit} {self.number(index)}"

    def subset(self, keep: np.ndarray) -> Where:
        numbers = self.numbers if self.numbers is not None else np.arange(self.start, self.start + keep.shape[0])
        return dataclasses.replace(self, numbers=numbers[keep])

    def fail(self, index: int, column: str, problem: str) -> NoReturn:
        raise ValueError(f"{self.source}: {self.place(index)}, column {column!r}: {problem}")


@dataclasses.dataclass(frozen=True, eq=False)
class OHLCV:
    """Candles as parallel read-only ``[time]`` numpy arrays, oldest first.

    ``timestamps`` are ``datetime64[ns]`` UTC; ``open, high, low, close, volume`` float64
    (volume NaN when unknown; open, high and low NaN for a close-only source). ``symbol`` is
    the instrument and ``source`` the absolute path ``load_ohlcv`` read (a fitted model
    records it in ``trained_on_``), None when unknown. A slice, a ``[time]`` bool mask or
    increasing positions select an ``OHLCV``; an integer raises TypeError (use
    ``candles[i:i + 1]`` or ``candles.close[i]``).
    """

    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    symbol: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        # Copies, so that freezing them cannot lock or alias an array the caller owns.
        arrays: dict[str, np.ndarray] = {}
        for field in ("timestamps", *FIELDS):
            dtype, kind = ("datetime64[ns]", "datetime64") if field == "timestamps" else (np.float64, "real number")
            try:
                if np.iscomplexobj(value := getattr(self, field)):
                    raise TypeError("complex values")
                arr = arrays[field] = np.array(value, dtype=dtype)
            except (TypeError, ValueError) as err:
                raise TypeError(f"OHLCV.{field} must be an array of {kind}s, got {err}") from None
            if arr.ndim != 1:
                raise ValueError(f"OHLCV.{field} must be 1-D [time], got shape {arr.shape}")
            if len(arr) != (n := len(arrays["timestamps"])):
                raise ValueError(
                    f"OHLCV arrays must all have the length of timestamps ({n}), got {field} of length {len(arr)}"
                )
        for field in ("symbol", "source"):
            if not isinstance(value := getattr(self, field), (str, type(None))):
                raise TypeError(f"OHLCV.{field} must be a str or None, got {type(value).__name__}")
        self._take(arrays)

    def _take(self, arrays: dict[str, Any]) -> OHLCV:
        for arr in arrays.values():
            arr.setflags(write=False)
        self.__dict__.update(arrays)  # past the frozen dataclass's __setattr__
        return self

    @classmethod
    def _owning(cls, timestamps: np.ndarray, symbol: str | None, source: str | None = None, **fields: Any) -> OHLCV:
        """Builds an OHLCV around checked arrays that nobody else holds, without copying them."""
        record = object.__new__(cls)
        record.__dict__.update(symbol=symbol, source=source)
        return record._take({"timestamps": timestamps.view("datetime64[ns]"), **fields})

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    def __getitem__(self, index: Any) -> OHLCV:
        """The candles at a slice (step > 0), a ``[time]`` bool mask or increasing positions."""
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            raise TypeError(
                f"OHLCV index must be a slice, a bool mask or an array of positions, got the int {index}; "
                f"use candles[{index}:{index + 1 if index != -1 else ''}] for one candle as an OHLCV, "
                f"or candles.close[{index}] for a value"
            )
        n, picked = len(self), index
        if isinstance(index, slice) and index.step is not None and index.step <= 0:
            raise ValueError(f"OHLCV slices keep the time order: the step must be > 0, got {index.step}")
        if not isinstance(index, slice):
            try:
                picked = np.asarray(index)
            except Exception:  # a ragged list and the like: refused below as an object
                picked = np.asarray(None)
            if picked.dtype != bool and not (picked.dtype.kind in "iu" and picked.ndim == 1):
                raise TypeError(
                    "OHLCV index must be a slice, a bool mask or a 1-D array of integer positions, got "
                    f"{type(index).__name__} {index!r:.80}"
                )
            if picked.dtype == bool and picked.shape != (n,):
                raise ValueError(f"OHLCV bool mask must have shape ({n},) like the timestamps, got {picked.shape}")
        try:
            positions = np.arange(n)[picked]
        except IndexError:
            raise IndexError(f"OHLCV positions must be in [-{n}, {n}), got {index!r:.80}") from None
        if np.any(positions[1:] <= positions[:-1]):
            raise ValueError(
                f"OHLCV positions must be strictly increasing so that the candles stay oldest first, got {index!r:.80}"
            )
        fields = {field: getattr(self, field)[positions] for field in FIELDS}
        return OHLCV._owning(self.timestamps[positions], self.symbol, self.source, **fields)

    def __repr__(self) -> str:
        ends = self.timestamps[[0, -1]].astype("datetime64[s]") if len(self) else None
        span = "empty" if ends is None else f"{ends[0]} .. {ends[1]}"
        return f"OHLCV(symbol={self.symbol!r}, rows={len(self)}, {span})"

    def to_pandas(self) -> Any:
        """A DataFrame: ``DatetimeIndex`` ``"timestamp"``, the five fields, ``attrs`` symbol and source."""
        pd = import_pandas("OHLCV.to_pandas()")
        frame = pd.DataFrame(
            {field: np.array(getattr(self, field)) for field in FIELDS},
            index=pd.DatetimeIndex(np.array(self.timestamps), name="timestamp"),
        )
        frame.attrs.update(symbol=self.symbol, source=self.source)
        return frame


def sorted_unique_order(nanos: np.ndarray) -> np.ndarray | None:
    """``[kept]`` positions sorting ``nanos`` with the last of equal values kept; None if already sorted."""
    if np.all(nanos[1:] > nanos[:-1]):  # not np.diff: a bool per step, not an int64
        return None
    if np.all(nanos[1:] < nanos[:-1]):
        return np.arange(nanos.shape[0] - 1, -1, -1)
    order = np.argsort(nanos, kind="stable")
    ordered = nanos[order]
    return order[np.append(ordered[:-1] != ordered[1:], True)]


def first_true(bad: Any) -> int | None:
    """The position of the first True of a ``[rows]`` mask, or None."""
    bad = np.asarray(bad, dtype=bool)
    return int(np.argmax(bad)) if bad.any() else None


def _all_clean(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray) -> bool:
    """Whether every candle passes, decided in blocks that stay in the cache: one read of each column."""
    for start in range(0, open_.shape[0], 1 << 15):
        block = slice(start, start + (1 << 15))
        o, h, lo, c, v = open_[block], high[block], low[block], close[block], volume[block]
        # low > 0 and high < inf bound open and close too; NaN fails every comparison.
        if not (lo.min() > 0 and h.max() < np.inf and ((lo <= o) & (o <= h) & (lo <= c) & (c <= h)).all()):
            return False
        if (v < 0).any() or np.isinf(v).any():
            return False
    return True


def assemble(
    nanos: np.ndarray, values: dict[str, np.ndarray], where: Where, labels: dict[str, str], symbol: str | None
) -> OHLCV:
    """Checks ``[rows]`` candles (arrays taken over, not copied) and returns them sorted, last duplicate kept.

    A field the source lacks (not in ``values``) is NaN and not checked. The first impossible
    candle raises a ValueError naming its line/row and column (``labels``).
    """
    prices = [field for field in PRICE_FIELDS if field in values]
    values = {field: values[field] if field in values else np.full(nanos.shape[0], np.nan) for field in FIELDS}
    if not _all_clean(*values.values()):
        high, low, volume = values["high"], values["low"], values["volume"]
        rules = [(f, ~(values[f] > 0) | np.isinf(values[f]), "prices must be finite and > 0, got {0}") for f in prices]
        rules += [
            ("volume", np.isinf(volume) | (volume < 0), "volume must be finite and >= 0, got {0}"),
            ("high", high < low, "high {0} is below low {1} (column {3!r})"),
            *(
                (f, (values[f] < low) | (values[f] > high), f + " {0} is outside [low {1}, high {2}]")
                for f in ("open", "close")
            ),
        ]
        for field, bad, problem in rules:  # NaN fails `> 0`
            if (i := first_true(bad)) is not None:
                where.fail(i, labels[field], problem.format(values[field][i], low[i], high[i], labels["low"]))
    order = sorted_unique_order(nanos)
    if order is not None:
        nanos = nanos[order]
        for field in FIELDS:  # one at a time, so that each unordered array is freed before the next copy
            values[field] = values[field][order]
    return OHLCV._owning(nanos, symbol, None, **{field: values[field] for field in FIELDS})


def labelled(candles: OHLCV, symbol: str | None, source: str | None) -> OHLCV:
    """The same candles (arrays shared, not copied) with ``symbol`` and ``source`` set."""
    fields = {field: getattr(candles, field) for field in FIELDS}
    return OHLCV._owning(candles.timestamps, symbol, source, **fields)

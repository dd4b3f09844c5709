"""The ``Forecast`` record every forecaster returns, and ``Forecasts``, many of them by symbol."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.io import ohlcv
from jaxlstm._src.io.pandas_import import import_pandas


@dataclasses.dataclass(frozen=True, eq=False)
class Forecast:
    """A point forecast with a central prediction interval.

    Attributes:
        timestamps: ``[steps]`` ``datetime64[ns]`` time of each forecast step, or None
            when the fitted data had no timestamps.
        predicted: ``[steps]`` float64 point forecasts, in prices.
        lower: ``[steps]`` lower interval bound, ``lower <= predicted``.
        upper: ``[steps]`` upper interval bound, ``upper >= predicted``.
        confidence: nominal coverage of ``[lower, upper]``, e.g. 0.95.
        symbol: the instrument, when known.
        band: how ``[lower, upper]`` was made, in words: ``"conformal"``, ``"adaptive
            conformal pooled over steps"``, ``"wider of A and B"``, ``"volatility"``... (see
            ``Forecaster.band_offsets``); an ensemble's ends in ``intervals.MEMBERS_RANGE``.
        levels: ``{level: (lower [steps], upper [steps])}`` for ``forecast(level=[80, 95])``,
            levels in percent, ascending (``lower``/``upper`` are the highest level's), or
            None for a forecast at one ``confidence``. ``to_pandas`` names their columns as
            statsforecast does: ``lo-80``, ``hi-80``, ...
    """

    timestamps: np.ndarray | None
    predicted: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    confidence: float = 0.95
    symbol: str | None = None
    band: str | None = None
    levels: dict[float, tuple[np.ndarray, np.ndarray]] | None = None

    def __post_init__(self) -> None:
        n = len(self.predicted)
        for field in ("predicted", "lower", "upper"):
            if np.ndim(getattr(self, field)) != 1:
                raise ValueError(f"Forecast.{field} must be 1-D [steps], got shape {np.shape(getattr(self, field))}")
        for field in ("timestamps", "lower", "upper"):
            value = getattr(self, field)
            if value is not None and len(value) != n:
                raise ValueError(f"Forecast.{field} must have {n} entries like predicted, got {len(value)}")
        for field in ("predicted", "lower", "upper"):
            if not np.all(np.isfinite(getattr(self, field))):
                raise ValueError(f"Forecast.{field} must be finite, got NaN/inf")
        if not 0 < self.confidence < 1:
            raise ValueError(f"Forecast.confidence must be in (0, 1), got {self.confidence!r}")
        for level, bounds in (self.levels or {}).items():
            if not 0 < level < 100 or len(bounds) != 2 or any(len(b) != n for b in bounds):
                raise ValueError(f"Forecast.levels must map levels in (0, 100) to (lower, upper) of {n} entries")
        bands = [("lower", "upper", self.lower, self.upper)]
        bands += [
            (f"levels[{level:g}][0]", f"levels[{level:g}][1]", *bounds) for level, bounds in (self.levels or {}).items()
        ]
        for low_name, high_name, low, high in bands:
            if (crossed := np.flatnonzero(np.asarray(low) > np.asarray(high))).size:
                step = int(crossed[0])
                raise ValueError(
                    f"Forecast.{low_name} must not exceed Forecast.{high_name}: at step {step + 1}, "
                    f"{np.asarray(low)[step]:.6g} > {np.asarray(high)[step]:.6g}"
                )

    def interval_columns(self) -> dict[str, np.ndarray]:
        """``{"lo-80": lower, "hi-80": upper, ...}`` of every level, ascending (empty without levels)."""
        columns: dict[str, np.ndarray] = {}
        for level, (lo, hi) in sorted((self.levels or {}).items()):
            columns[f"lo-{level_name(level)}"] = lo
            columns[f"hi-{level_name(level)}"] = hi
        return columns

    def __len__(self) -> int:
        return len(self.predicted)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"symbol", "confidence", "band", "predictions": [rows]}``.

        Each row is ``{step, timestamp, predicted, lower, upper, confidence}`` with ``step``
        counting from 1 and ``timestamp`` an ISO string in UTC (``None`` without timestamps),
        and ``lo-80``, ``hi-80``, ... for each of ``levels``.
        """
        extra = self.interval_columns()
        stamps: list[str | None] = (
            [None] * len(self)
            if self.timestamps is None
            else [np.datetime_as_string(np.datetime64(t, "s"), unit="s") + "Z" for t in self.timestamps]
        )
        rows = [
            {
                "step": step,
                "timestamp": stamp,
                "predicted": float(p),
                "lower": float(lo),
                "upper": float(hi),
                "confidence": float(self.confidence),
                **{name: float(values[step - 1]) for name, values in extra.items()},
            }
            for step, (stamp, p, lo, hi) in enumerate(zip(stamps, self.predicted, self.lower, self.upper), start=1)
        ]
        return {"symbol": self.symbol, "confidence": float(self.confidence), "band": self.band, "predictions": rows}

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with columns predicted, lower, upper (and ``lo-80``, ``hi-80``, ... per level).

        Returns:
            Indexed by ``timestamp`` (a ``DatetimeIndex``), or by ``step`` (1, 2, ...) when
            the forecast has no timestamps.
        """
        pd = import_pandas("Forecast.to_pandas()")
        index = (
            pd.RangeIndex(1, len(self) + 1, name="step")
            if self.timestamps is None
            else pd.DatetimeIndex(self.timestamps, name="timestamp")
        )
        columns = {"predicted": self.predicted, "lower": self.lower, "upper": self.upper, **self.interval_columns()}
        return pd.DataFrame(columns, index=index)

    def plot(self, ax: Any = None, history: Any = None) -> Any:
        """Draws the forecast, its band and the recent prices before it with matplotlib.

        Args:
            ax: a matplotlib ``Axes`` to draw on; None makes a new figure (9 x 4 inches).
            history: prices before the forecast (any form ``jaxlstm.data.as_price_series``
                accepts: a pandas Series, an ``OHLCV``, an array...), drawn in black; None
                draws the forecast alone. Without timestamps (its own or the forecast's)
                the x axis counts steps, with 0 the last price of ``history``.

        Returns:
            The ``Axes``, with axis labels, a legend, dates on the x axis when the forecast
            has timestamps, the band shaded and a dashed line where the forecast starts.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("Forecast.plot() needs matplotlib: pip install 'jaxlstm[plot]'") from None
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 4))
        elif not callable(getattr(ax, "fill_between", None)):
            # A path meant as where to save it would fail deep in matplotlib as "str has no plot".
            raise TypeError(
                f"ax must be a matplotlib Axes or None, got {type(ax).__name__} {ax!r:.60}; "
                "to save the chart: forecast.plot().figure.savefig(path)"
            )
        dated = self.timestamps is not None
        x: np.ndarray = self.timestamps if self.timestamps is not None else np.arange(1, len(self) + 1)
        start: Any = x[0] - (x[1] - x[0]) if len(self) > 1 else x[0]
        if history is not None:
            prices, stamps = ohlcv.as_price_series(history, name="history")
            hx: np.ndarray
            if not dated:
                hx = np.arange(1 - prices.shape[0], 1)
            elif stamps is None:
                raise ValueError("history must have timestamps to be drawn before a forecast with timestamps")
            else:
                hx = stamps
            ax.plot(hx, prices, color="black", lw=1, label="history")
            start = hx[-1]
        line = ax.plot(x, self.predicted, color="tab:blue", lw=1.5, label="forecast")[0]
        ax.fill_between(
            x, self.lower, self.upper, color=line.get_color(), alpha=0.2, label=f"{self.confidence:.0%} interval"
        )
        ax.axvline(start, color="grey", ls="--", lw=1, label="forecast start")
        ax.set_xlabel("time (UTC)" if dated else "step")
        ax.set_ylabel(f"{self.symbol} price" if self.symbol else "price")
        band = f", {self.band} band" if self.band else ""
        ax.set_title(f"{self.symbol + ': ' if self.symbol else ''}{len(self)}-step forecast{band}")
        if dated:
            import matplotlib.dates as mdates

            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.legend(loc="best")
        return ax


class Forecasts(dict[str, Forecast]):
    """``{symbol: Forecast}`` (what ``forecast_many`` returns), with the long format of Nixtla's libraries."""

    def to_pandas(self) -> Any:
        """One long DataFrame of every forecast: columns ``unique_id, ds, predicted, lower, upper`` (and ``lo-80``, ...).

        Returns:
            One row per symbol and step, in the order of the dict; ``ds`` is the step's
            time, or its number (1, 2, ...) for a forecast without timestamps.
        """
        pd = import_pandas("Forecasts.to_pandas()")
        frames = []
        for symbol, forecast in self.items():
            frame = forecast.to_pandas()
            frame.index.name = "ds"
            frames.append(frame.reset_index().assign(unique_id=symbol))
        if not frames:
            return pd.DataFrame(columns=["unique_id", "ds", "predicted", "lower", "upper"])
        combined = pd.concat(frames, ignore_index=True)
        return combined[["unique_id", "ds", *(c for c in combined.columns if c not in ("unique_id", "ds"))]]


def level_name(level: float) -> str:
    """A level as statsforecast writes it in column names: ``80``, ``97.5``."""
    return f"{level:g}"


#: The band's coverage when ``forecast`` is given neither ``confidence`` nor ``level``.
DEFAULT_CONFIDENCE = 0.95


def check_band_request(confidence: Any, level: Any) -> tuple[float, tuple[float, ...] | None]:
    """``(confidence, levels or None)`` of ``forecast``'s ``confidence`` (None: 0.95) or ``level``: one of them.

    Both given was ``level`` alone, the ``confidence`` dropped without a word.
    """
    if level is None:
        return validation.check_fraction("confidence", DEFAULT_CONFIDENCE if confidence is None else confidence), None
    if confidence is not None:
        raise ValueError(
            f"give confidence or level, not both: got confidence={confidence!r} and level={level!r} (level=[80, 95] "
            "gives a band at each level, confidence=0.9 one band)"
        )
    levels = check_levels(level)
    return levels[-1] / 100.0, levels


def check_levels(level: Any) -> tuple[float, ...]:
    """``level=`` of ``forecast``: one or more distinct levels in percent, in [1, 100), ascending.

    A level below 1 is refused: ``level=[0.95]`` is a fraction meant as 95%, not a 0.95% band.
    """
    if isinstance(level, (str, bytes)):
        raise TypeError(f"level must be a number or a list of numbers in (0, 100) such as [80, 95], got {level!r}")
    values = [level] if isinstance(level, (int, float)) and not isinstance(level, bool) else level
    try:
        levels = tuple(sorted({float(v) for v in values if not isinstance(v, bool)}))
        count = len(list(values))
    except TypeError:
        raise TypeError(
            f"level must be a number or a list of numbers in (0, 100) such as [80, 95], got {level!r}"
        ) from None
    if not levels or len(levels) != count or not all(0 < v < 100 for v in levels):
        raise ValueError(f"level must be distinct numbers in (0, 100) (percent, e.g. [80, 95]), got {level!r}")
    if levels[0] < 1:
        # Almost surely a fraction meant as a confidence: a 0.95% band is a line around the forecast.
        meant = ", ".join(level_name(100 * v) for v in levels)
        bands = f"a {meant}% band" if len(levels) == 1 else f"{meant}% bands"
        raise ValueError(
            f"level must be in percent, at least 1 (e.g. [80, 95]), got {level!r}: for {bands} give "
            f"level=[{meant}]" + (f" (or confidence={levels[0]:g})" if len(levels) == 1 else "")
        )
    return levels

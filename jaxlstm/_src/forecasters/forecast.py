"""The ``Forecast`` record every forecaster returns."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Forecast:
    """A point forecast with a central prediction interval.

    Attributes:
        timestamps: ``[steps]`` ``datetime64[ns]`` time of each forecast step.
        predicted: ``[steps]`` float64 point forecasts, in prices.
        lower: ``[steps]`` lower interval bound, ``lower <= predicted``.
        upper: ``[steps]`` upper interval bound, ``upper >= predicted``.
        confidence: nominal coverage of ``[lower, upper]``, e.g. 0.95.
        symbol: the instrument, when known.
        band: how ``[lower, upper]`` was made: ``"conformal"``, ``"conformal_pooled"``,
            several joined by ``"+"``, or ``"volatility"`` (see ``Forecaster.band_offsets``).
    """

    timestamps: np.ndarray
    predicted: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    confidence: float = 0.95
    symbol: str | None = None
    band: str | None = None

    def __post_init__(self) -> None:
        n = len(self.predicted)
        for field in ("timestamps", "lower", "upper"):
            if len(getattr(self, field)) != n:
                raise ValueError(
                    f"Forecast.{field} must have {n} entries like predicted, got {len(getattr(self, field))}"
                )
        for field in ("predicted", "lower", "upper"):
            if not np.all(np.isfinite(getattr(self, field))):
                raise ValueError(f"Forecast.{field} must be finite, got NaN/inf")

    def __len__(self) -> int:
        return len(self.predicted)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"symbol", "confidence", "predictions": [{timestamp, predicted, lower, upper, confidence}]}``."""
        rows = [
            {
                "timestamp": np.datetime_as_string(np.datetime64(t, "s"), unit="s") + "Z",
                "predicted": float(p),
                "lower": float(lo),
                "upper": float(hi),
                "confidence": float(self.confidence),
            }
            for t, p, lo, hi in zip(self.timestamps, self.predicted, self.lower, self.upper)
        ]
        return {"symbol": self.symbol, "confidence": float(self.confidence), "band": self.band, "predictions": rows}

    def to_pandas(self):
        """A ``pandas.DataFrame`` indexed by timestamp with columns predicted, lower, upper."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Forecast.to_pandas needs pandas: pip install 'jaxlstm[pandas]'") from None
        return pd.DataFrame(
            {"predicted": self.predicted, "lower": self.lower, "upper": self.upper},
            index=pd.DatetimeIndex(self.timestamps, name="timestamp"),
        )

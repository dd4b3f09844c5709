"""What a backtest returns: per-model forecasts, scores per origin and per step, reports.

``score`` turns ``[origins, steps]`` forecasts, bands and actual prices into per-origin
metrics and per-step coverage/MAE; ``ModelResult`` holds one model's backtest and
``BacktestResult`` all of them, with JSON (``to_dict``) and markdown (``to_markdown``)
reports.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import numpy as np

from jaxlstm._src.evaluation import metrics
from jaxlstm._src.io.pandas_import import import_pandas

#: Per-origin metrics of a backtest, in table order.
METRICS: tuple[str, ...] = (
    "mae",
    "rmse",
    "mape",
    "smape",
    "mase",
    "directional_accuracy",
    "coverage",
    "mean_width",
    "winkler",
)

#: The reference model every backtest includes.
REFERENCE = "naive"


def _standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of ``[origins]`` values (NaN for fewer than 2)."""
    values = np.asarray(values, np.float64)
    if values.shape[0] < 2 or not np.all(np.isfinite(values)):
        return float("nan")
    return float(np.std(values, ddof=1) / np.sqrt(values.shape[0]))


def aggregate(per_origin: dict[str, np.ndarray], naive_mae: np.ndarray) -> dict[str, float]:
    """Means over origins, ``relative_mae`` and the standard errors of it and of coverage.

    The standard errors treat origins as independent, which holds roughly when they are at
    least ``horizon`` apart; ``relative_mae_se`` is the delta-method error of the ratio of means.
    A metric that is NaN at some origins (directional accuracy of a forecast that predicts no
    move) is averaged over the others, and is NaN when it is NaN everywhere.
    """
    aggregate = {k: _mean_of_finite(v) for k, v in per_origin.items()}
    reference = float(np.mean(naive_mae))
    ratio = _ratio(aggregate["mae"], reference)
    if reference > 0:
        influence = (per_origin["mae"] - ratio * naive_mae) / reference
    else:
        influence = np.full_like(naive_mae, np.nan)
    return {
        "relative_mae": ratio,
        "relative_mae_se": _standard_error(influence),
        **aggregate,
        "coverage_se": _standard_error(per_origin["coverage"]),
    }


def _mean_of_finite(values: np.ndarray) -> float:
    values = np.asarray(values, np.float64)
    finite = values[~np.isnan(values)]
    return float(np.mean(finite)) if finite.size else float("nan")


def score(
    actual: np.ndarray,
    predicted: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    last: np.ndarray,
    train: np.ndarray,
    confidence: float = 0.95,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-origin metrics ``{metric: [origins]}`` and per-step ``{"coverage", "mae": [horizon]}``.

    Directional accuracy is NaN at an origin whose forecast predicts no move at any step
    (the naive forecast, always): a forecast without a direction has no directional accuracy.

    ``confidence`` is the bands' nominal coverage (for the Winkler score).
    """
    # numpy in, numpy out (``metrics``): float64, so that hand-checkable inputs give exact scores
    # and a price on a bound counts as inside, and no program compiled per count of origins.
    actual, predicted, lower, upper, last, train = (
        np.asarray(a, np.float64) for a in (actual, predicted, lower, upper, last, train)
    )
    scores = {
        "mae": metrics.mae(actual, predicted),
        "rmse": metrics.rmse(actual, predicted),
        "mape": metrics.mape(actual, predicted),
        "smape": metrics.smape(actual, predicted),
        "mase": metrics.mase(actual, predicted, train),
        "directional_accuracy": metrics.directional_accuracy(actual, predicted, last),
        "coverage": metrics.interval_coverage(actual, lower, upper),
        "mean_width": metrics.mean_interval_width(lower, upper),
        "winkler": metrics.winkler_score(actual, lower, upper, confidence),
    }
    per_origin = {k: np.asarray(v, np.float64) for k, v in scores.items()}
    moves = np.any(predicted != last[:, None], axis=1)
    per_origin["directional_accuracy"] = np.where(moves, per_origin["directional_accuracy"], np.nan)
    inside = (lower <= actual) & (actual <= upper)
    by_step = {"coverage": inside.mean(axis=0), "mae": np.abs(actual - predicted).mean(axis=0)}
    return per_origin, by_step


@dataclasses.dataclass(frozen=True, eq=False)
class ModelResult:
    """One model's backtest.

    Attributes:
        name: the model's name in the backtest.
        predicted, lower, upper: ``[origins, horizon]`` forecasts and interval bounds.
        bands: ``[origins]`` the band method each forecast used (``Forecast.band``).
        per_origin: metric name -> ``[origins]`` score of each forecast (``METRICS``).
        metrics: aggregate scores: each metric's mean over origins, plus ``relative_mae``
            (mean MAE over the naive forecast's mean MAE) and the standard errors
            ``relative_mae_se`` and ``coverage_se`` (origins taken as independent).
        coverage_by_step: ``[horizon]`` share of origins whose interval held the price at each step.
        mae_by_step: ``[horizon]`` mean absolute error at each step.
        seconds: wall time of fitting and forecasting at every origin.
        vectorized: whether the origins were trained together in one vmapped call.
        levels: ``{level: (lower, upper)}`` ``[origins, horizon]`` bounds at each level of
            ``backtest(levels=...)`` (percent); empty without.
        coverage_by_level: ``{level: share}`` of the prices inside each level's band, over
            every origin and step (the nominal coverage is ``level / 100``).
    """

    name: str
    predicted: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    bands: tuple[str, ...]
    per_origin: dict[str, np.ndarray]
    metrics: dict[str, float]
    coverage_by_step: np.ndarray
    mae_by_step: np.ndarray
    seconds: float
    vectorized: bool
    levels: dict[float, tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=dict)
    coverage_by_level: dict[float, float] = dataclasses.field(default_factory=dict)

    def band_summary(self) -> str:
        """The band methods used, most common first: ``"conformal"`` or ``"conformal 40, volatility 10"``."""
        counts = collections.Counter(self.bands).most_common()
        if len(counts) == 1:
            return counts[0][0]
        return ", ".join(f"{method} {count}" for method, count in counts)

    def to_dict(self, *, per_origin: bool = False) -> dict[str, Any]:
        """JSON-ready summary; ``per_origin=True`` adds the per-origin scores and forecasts."""
        out: dict[str, Any] = {
            "metrics": {k: _json_float(v) for k, v in self.metrics.items()},
            "coverage_by_step": [_json_float(v) for v in self.coverage_by_step],
            **(
                {"coverage_by_level": {f"{k:g}": _json_float(v) for k, v in self.coverage_by_level.items()}}
                if self.coverage_by_level
                else {}
            ),
            "mae_by_step": [_json_float(v) for v in self.mae_by_step],
            "bands": dict(collections.Counter(self.bands)),
            "seconds": round(self.seconds, 3),
            "vectorized": self.vectorized,
        }
        if per_origin:
            out["per_origin"] = {k: [_json_float(x) for x in v] for k, v in self.per_origin.items()}
            out["predicted"] = self.predicted.tolist()
            out["lower"] = self.lower.tolist()
            out["upper"] = self.upper.tolist()
        return out


_COLUMNS = (
    ("relative_mae", "rel. MAE"),
    ("mae", "MAE"),
    ("rmse", "RMSE"),
    ("mape", "MAPE %"),
    ("smape", "sMAPE %"),
    ("mase", "MASE"),
    ("directional_accuracy", "dir. acc."),
    ("coverage", "coverage"),
    ("mean_width", "width"),
    ("winkler", "Winkler"),
)


@dataclasses.dataclass(frozen=True, eq=False)
class BacktestResult:
    """The outcome of ``backtest``.

    Attributes:
        origins: ``[origins]`` index of the first forecast price of each origin.
        timestamps: ``[origins]`` ``datetime64[ns]`` of those prices, or None without timestamps.
        train_size: prices each model was fitted on.
        horizon: forecast steps.
        confidence: nominal interval coverage.
        actual: ``[origins, horizon]`` the prices forecast.
        models: model name -> ``ModelResult``, the naive reference first.
        series_timestamps: ``[time]`` ``datetime64[ns]`` of the whole series, or None.
    """

    origins: np.ndarray
    timestamps: np.ndarray | None
    train_size: int
    horizon: int
    confidence: float
    actual: np.ndarray
    models: dict[str, ModelResult]
    series_timestamps: np.ndarray | None = None

    def __getitem__(self, name: str) -> ModelResult:
        return self.models[name]

    def to_dict(self, *, per_origin: bool = False) -> dict[str, Any]:
        """JSON-ready dict of the settings and each model's ``ModelResult.to_dict``."""
        out: dict[str, Any] = {
            "train_size": self.train_size,
            "horizon": self.horizon,
            "confidence": self.confidence,
            "n_origins": int(self.origins.shape[0]),
            "origins": [int(t) for t in self.origins],
            "models": {name: r.to_dict(per_origin=per_origin) for name, r in self.models.items()},
        }
        if self.timestamps is not None:
            out["origin_timestamps"] = [np.datetime_as_string(t, unit="s") + "Z" for t in self.timestamps]
        if per_origin:
            out["actual"] = self.actual.tolist()
        return out

    def to_pandas(self) -> Any:
        """The aggregate table as a ``pandas.DataFrame``: one row per model (naive first).

        Returns:
            Indexed by ``model``; columns ``relative_mae``, the ``METRICS``, the standard
            errors, ``band`` (see ``ModelResult.band_summary``), ``seconds`` and ``vectorized``.
        """
        pd = import_pandas("BacktestResult.to_pandas()")
        rows = {
            name: {**r.metrics, "band": r.band_summary(), "seconds": r.seconds, "vectorized": r.vectorized}
            for name, r in self.models.items()
        }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")

    def historical_forecasts(self) -> Any:
        """Every origin's forecast next to what happened, as one long ``pandas.DataFrame``.

        What Darts' ``historical_forecasts`` and statsforecast's ``cross_validation``
        return: one row per model, origin and step.

        Returns:
            Columns ``model``, ``origin`` (index of the first forecast price in the series),
            ``cutoff`` (time of the last price the model was fitted on), ``timestamp`` (time
            of the forecast price), ``step`` (1..horizon), ``actual``, ``predicted``,
            ``lower``, ``upper`` and ``band``. ``cutoff`` and ``timestamp`` are left out
            for a series without timestamps.
        """
        pd = import_pandas("BacktestResult.historical_forecasts()")
        origins, steps = np.meshgrid(self.origins, np.arange(1, self.horizon + 1), indexing="ij")
        columns: dict[str, Any] = {"origin": origins.ravel(), "step": steps.ravel()}
        if self.series_timestamps is not None:
            columns["cutoff"] = self.series_timestamps[origins.ravel() - 1]
            columns["timestamp"] = self.series_timestamps[(origins + steps - 1).ravel()]
        columns["actual"] = self.actual.ravel()
        frames = [
            pd.DataFrame(
                {
                    "model": name,
                    **columns,
                    "predicted": r.predicted.ravel(),
                    "lower": r.lower.ravel(),
                    "upper": r.upper.ravel(),
                    "band": np.repeat(np.asarray(r.bands, dtype=object), self.horizon),
                }
            )
            for name, r in self.models.items()
        ]
        order = ["model", "origin", "cutoff", "timestamp", "step", "actual", "predicted", "lower", "upper", "band"]
        frame = pd.concat(frames, ignore_index=True)
        return frame[[c for c in order if c in frame.columns]]

    def to_markdown(self, *, per_step: bool = True, digits: int = 4) -> str:
        """The aggregate table (one row per model), then coverage and MAE per horizon step.

        Args:
            per_step: add the per-step coverage and relative-MAE table.
            digits: significant digits of each number.

        Returns:
            GitHub-flavoured markdown.
        """
        head = (
            f"{len(self.origins)} origins, train_size={self.train_size}, horizon={self.horizon}, "
            f"nominal coverage {self.confidence:g}"
        )
        header = ["model"] + [label for _, label in _COLUMNS] + ["band"]
        rows = [
            [name] + [_fmt(r.metrics[key], digits) for key, _ in _COLUMNS] + [r.band_summary()]
            for name, r in self.models.items()
        ]
        lines = [head, "", _markdown_table(header, rows)]
        if per_step:
            naive = self.models[REFERENCE].mae_by_step
            names = list(self.models)
            header = ["step"] + [f"{n} coverage" for n in names] + [f"{n} rel. MAE" for n in names if n != REFERENCE]
            rows = []
            for i in range(self.horizon):
                rows.append(
                    [str(i + 1)]
                    + [_fmt(self.models[n].coverage_by_step[i], 3) for n in names]
                    + [_fmt(_ratio(self.models[n].mae_by_step[i], naive[i]), 3) for n in names if n != REFERENCE]
                )
            lines += ["", "Per horizon step:", "", _markdown_table(header, rows)]
        return "\n".join(lines) + "\n"


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


def _json_float(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _fmt(value: float, digits: int) -> str:
    value = float(value)
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)

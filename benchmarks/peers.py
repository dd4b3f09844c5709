"""This library's default, ensemble and tuned LSTMs against statsforecast, Darts and NeuralForecast.

    python -m benchmarks.peers [--quick] [--origins N] [--datasets a,b] [--models a,b] [--out DIR]

Needs the optional ``peers`` extra (``pip install -e '.[peers]'``, after ``torch`` so that the
deep-learning peers reuse it). A peer that cannot be imported or fails is reported with its
error and the others still run.

The walk-forward protocol of ``benchmarks/accuracy.py`` (``jaxlstm.evaluation.backtest``: a
refit on the preceding ``train_size`` prices at every origin, 24 steps), with a 500-price
training window on every data set and origins spread evenly over each series:

* ``lstm``: ``LSTMForecaster()``, the library's defaults; ``lstm_ens5``: ``ensemble=5``;
  ``lstm_tuned``: ``TunedLSTMForecaster`` searching learning rate and window length by
  walk-forward validation inside each training window.
* statsforecast ``AutoETS``, ``AutoTheta``, ``AutoARIMA`` (season length: the data set's
  period, 24 for hourly BTC, 7 for daily BTC), with their own 95% intervals.
* Darts ``RNNModel(model="LSTM")`` and NeuralForecast ``LSTM``, the same size as the
  library's (one layer of 32 units, input window 20, batch 32, Adam 1e-3, the same number
  of optimiser steps as 100 epochs); they have no intervals of their own, so their
  coverage is "n/a" (the backtest gives them the volatility band only so that it runs).

Scores: relative MAE (over naive), 95% coverage and Winkler score where the model has a
band of its own, and seconds per fit (fit + forecast, per origin). Writes ``peers.json``
and ``peers.md`` into ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import jaxlstm as jl
from benchmarks import accuracy
from jaxlstm import evaluation as ev
from jaxlstm.baselines import HybridForecaster

DEFAULT_OUT = accuracy.DEFAULT_OUT
TRAIN_SIZE = 500
HORIZON = 24
#: Season length given to the statistical peers, per data set.
SEASONS = {"btc_1h": 24, "btc_1d": 7, "seasonal": 24, "trending": 1, "mean_reverting": 1, "seasonal_long": 52}
#: Models without intervals of their own: their coverage is not reported.
NO_OWN_BAND = ("darts_lstm", "neuralforecast_lstm")
TUNE_SPACE = {"learning_rate": [3e-4, 1e-3, 3e-3], "sequence_length": [20, 60]}


class _Peer(jl.Forecaster):
    """A forecaster of another library, fitted on the whole training window; its own band when it has one."""

    name = "peer"

    def __init__(self, season: int = 1, epochs: int = 100, *, band: str = "volatility", calibration: str = "auto"):
        super().__init__(band=band, calibration=calibration)
        self.season = season
        self.epochs = epochs
        self._own: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def min_fit_length(self) -> int:
        return 30

    def _forecast_from(self, predicted: np.ndarray, confidence: float) -> jl.Forecast:
        forecast = super()._forecast_from(predicted, confidence)
        if self._own is None:
            return forecast
        lower, upper = self._own
        return jl.Forecast(
            timestamps=forecast.timestamps,
            predicted=predicted,
            lower=np.minimum(lower, predicted),
            upper=np.maximum(upper, predicted),
            confidence=confidence,
            band="own",
        )


def _frame(prices: np.ndarray) -> Any:
    import pandas as pd

    stamps = pd.date_range("2020-01-01", periods=prices.shape[0], freq="h")
    return pd.DataFrame({"unique_id": "s", "ds": stamps, "y": np.asarray(prices, np.float64)})


class StatsPeer(_Peer):
    """statsforecast's ``AutoETS``, ``AutoTheta`` or ``AutoARIMA`` on log prices, with its 95% interval."""

    def __init__(self, kind: str = "AutoETS", season: int = 1, epochs: int = 100, **band: Any):
        super().__init__(season, epochs, **band)
        self.kind = kind

    def _fit(self, prices: np.ndarray) -> None:
        self._prices = prices

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        import statsforecast
        import statsforecast.models as models

        model = getattr(models, self.kind)(season_length=max(1, self.season))
        frame = _frame(np.log(window))
        fc = statsforecast.StatsForecast(models=[model], freq="h", n_jobs=1).forecast(df=frame, h=steps, level=[95])
        column = next(c for c in fc.columns if c not in ("unique_id", "ds") and "-lo-" not in c and "-hi-" not in c)
        self._own = (np.exp(fc[f"{column}-lo-95"].to_numpy()), np.exp(fc[f"{column}-hi-95"].to_numpy()))
        return np.exp(fc[column].to_numpy())


class DartsLSTM(_Peer):
    """Darts ``RNNModel(model="LSTM")``: one layer of 32 units, input window 20, recursive forecasts."""

    def _fit(self, prices: np.ndarray) -> None:
        from darts import TimeSeries
        from darts.models import RNNModel

        self._scale = float(np.mean(np.log(prices)))
        series = TimeSeries.from_values(np.log(prices) - self._scale)
        self._model = RNNModel(
            model="LSTM",
            input_chunk_length=20,
            training_length=21,
            hidden_dim=32,
            n_rnn_layers=1,
            batch_size=32,
            n_epochs=self.epochs,
            optimizer_kwargs={"lr": 1e-3},
            random_state=0,
            pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False},
        )
        self._model.fit(series, verbose=False)
        self._series = series

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        out = self._model.predict(steps, series=self._series, verbose=False)
        return np.exp(out.values()[:, 0] + self._scale)


class NeuralForecastLSTM(_Peer):
    """NeuralForecast ``LSTM``: one layer of 32 units, input window 20, its MLP decoder outputs all ``horizon`` steps."""

    def __init__(self, season: int = 1, epochs: int = 100, *, horizon: int = HORIZON, **band: Any):
        super().__init__(season, epochs, **band)
        self.horizon = horizon

    def _fit(self, prices: np.ndarray) -> None:
        from neuralforecast import NeuralForecast
        from neuralforecast.models import LSTM

        steps_per_epoch = max(1, (prices.shape[0] - 20) // 32)
        model = LSTM(
            h=self.horizon,
            input_size=20,
            encoder_hidden_size=32,
            encoder_n_layers=1,
            batch_size=32,
            learning_rate=1e-3,
            max_steps=self.epochs * steps_per_epoch,
            scaler_type="standard",
            random_seed=0,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
            logger=False,
        )
        self._nf = NeuralForecast(models=[model], freq="h")
        frame = _frame(np.log(prices))
        self._nf.fit(df=frame)
        self._frame = frame

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        fc = self._nf.predict(df=self._frame)
        return np.exp(fc["LSTM"].to_numpy()[:steps])


def factories(dataset: str, quick: bool, epochs: int) -> dict[str, tuple[Callable[[], jl.Forecaster], str]]:
    """Every model of the comparison for one data set: name -> (factory, the package it needs)."""
    season = SEASONS.get(dataset, 1)
    lstm_kw: dict[str, Any] = {"hidden_size": 8, "epochs": 3} if quick else {}
    space = {"learning_rate": [1e-3, 3e-3], "sequence_length": [8, 12]} if quick else TUNE_SPACE
    tune_options = {"folds": 2, "horizon": HORIZON}
    return {
        "hybrid": (HybridForecaster, "jaxlstm"),
        "lstm": (lambda: jl.LSTMForecaster(**lstm_kw), "jaxlstm"),
        "lstm_ens5": (lambda: jl.LSTMForecaster(ensemble=5, **lstm_kw), "jaxlstm"),
        "lstm_tuned": (
            lambda: jl.TunedLSTMForecaster(space, tune_options, lstm_kw, band="adaptive", calibration="auto"),
            "jaxlstm",
        ),
        "AutoETS": (lambda: StatsPeer("AutoETS", season), "statsforecast"),
        "AutoTheta": (lambda: StatsPeer("AutoTheta", season), "statsforecast"),
        "AutoARIMA": (lambda: StatsPeer("AutoARIMA", season), "statsforecast"),
        "darts_lstm": (lambda: DartsLSTM(season, epochs), "darts"),
        "neuralforecast_lstm": (lambda: NeuralForecastLSTM(season, epochs), "neuralforecast"),
    }


def _importable(package: str) -> str | None:
    try:
        __import__(package)
    except Exception as err:  # any failure to import means the peer cannot run here
        return f"{type(err).__name__}: {err}"
    return None


def run(
    datasets: Sequence[str],
    models: Sequence[str] | None,
    origins: int,
    quick: bool,
    epochs: int,
    save: Callable[[dict[str, Any]], None] = lambda doc: None,
) -> dict[str, Any]:
    """Backtests every model on every data set, each model in its own backtest (a failure stays its own).

    ``save`` gets the document after every model, so a long run that is stopped keeps what it measured.
    """
    settings = accuracy.QUICK if quick else accuracy.FULL
    train_size = 150 if quick else TRAIN_SIZE
    doc: dict[str, Any] = {
        "train_size": train_size,
        "horizon": settings.horizon,
        "peer_epochs": epochs,
        "datasets": {},
        "unavailable": {},
    }
    for data in accuracy.load_datasets(datasets, settings, accuracy.find_data_dir(None)):
        starts = accuracy.spread_origins(data.prices.shape[0], train_size, settings.horizon, origins)
        entry: dict[str, Any] = {"description": data.description, "origins": [int(t) for t in starts], "models": {}}
        for name, (factory, package) in factories(data.name, quick, epochs).items():
            if models is not None and name not in models:
                continue
            missing = _importable(package)
            if missing is not None:
                doc["unavailable"][name] = f"cannot import {package}: {missing}"
                continue
            started = time.perf_counter()
            try:
                result = ev.backtest(
                    data.prices,
                    {name: factory},
                    train_size=train_size,
                    steps=settings.horizon,
                    origins=list(starts),
                    vectorize=False,
                )
            except Exception as err:  # one failing peer must not stop the comparison
                entry["models"][name] = {
                    "error": f"{type(err).__name__}: {err}",
                    "traceback": traceback.format_exc(limit=3),
                }
                print(f"{data.name} {name}: failed: {err}", file=sys.stderr, flush=True)
                continue
            r = result[name]
            own_band = name not in NO_OWN_BAND
            entry["models"][name] = {
                "relative_mae": r.metrics["relative_mae"],
                "relative_mae_se": r.metrics["relative_mae_se"],
                "coverage": r.metrics["coverage"] if own_band else None,
                "coverage_min_step": float(np.min(r.coverage_by_step)) if own_band else None,
                "relative_winkler": float(np.mean(r.per_origin["winkler"] / result.actual[:, 0])) if own_band else None,
                "seconds_per_fit": (time.perf_counter() - started) / len(starts),
            }
            entry["naive_coverage"] = result[ev.REFERENCE].metrics["coverage"]
            m = entry["models"][name]
            doc["datasets"][data.name] = entry
            save(doc)
            print(
                f"{data.name} {name}: rel. MAE {m['relative_mae']:.3f} coverage {m['coverage']} "
                f"{m['seconds_per_fit']:.2f} s/fit",
                file=sys.stderr,
                flush=True,
            )
        doc["datasets"][data.name] = entry
    return doc


def render(doc: dict[str, Any]) -> str:
    """``peers.md``: one table per score, models as rows and data sets as columns."""
    names = list(doc["datasets"])
    models: list[str] = []
    for entry in doc["datasets"].values():
        models += [m for m in entry["models"] if m not in models]
    lines = [
        "# jaxlstm against statsforecast, Darts and NeuralForecast",
        "",
        f"Produced by `{doc['command']}` in {doc['seconds']:.0f} s on {doc.get('machine', {}).get('usable_cores', '?')} "
        f"cores. Walk-forward: {doc['train_size']}-price training windows, {doc['horizon']} steps, "
        f"Darts/NeuralForecast LSTMs trained for {doc['peer_epochs']} epochs (NeuralForecast: the same number of "
        "optimiser steps), origins "
        f"{len(next(iter(doc['datasets'].values()))['origins']) if doc['datasets'] else 0} per data set, one seed. "
        "Coverage and Winkler score (in % of the price) of the nominal 95% band; n/a where a model has no band of "
        "its own.",
        "",
    ]
    for name, why in doc["unavailable"].items():
        lines.append(f"- `{name}` did not run: {why}")
    lines.append("")
    for key, title, fmt in (
        ("relative_mae", "Relative MAE (lower is better; below 1 beats naive)", "{:.3f}"),
        ("coverage", "95% coverage (target 0.93-0.97)", "{:.3f}"),
        ("relative_winkler", "Winkler score, % of price (lower is better)", "{:.2f}"),
        ("seconds_per_fit", "Seconds per fit (fit + forecast)", "{:.2f}"),
    ):
        lines += [f"## {title}", "", "| model | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
        for model in models:
            cells = []
            for n in names:
                m = doc["datasets"][n]["models"].get(model)
                if m is None:
                    cells.append("")
                elif "error" in m:
                    cells.append("failed")
                else:
                    value = m.get(key)
                    scaled = None if value is None else (100 * value if key == "relative_winkler" else value)
                    cells.append("n/a" if scaled is None else fmt.format(scaled))
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines.append("")
    errors = [
        f"- `{model}` on `{n}`: {m['error']}"
        for n, entry in doc["datasets"].items()
        for model, m in entry["models"].items()
        if "error" in m
    ]
    if errors:
        lines += ["## Failures", "", *errors, ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny models, 2 origins")
    parser.add_argument("--origins", type=int, default=None, help="origins per data set (default 8; quick 2)")
    parser.add_argument("--datasets", default=None, help="comma-separated (default: all of accuracy.py's)")
    parser.add_argument("--models", default=None, help="comma-separated subset of the models")
    parser.add_argument(
        "--peer-epochs", type=int, default=None, help="epochs of the Darts and NeuralForecast LSTMs (default 100)"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    for noisy in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    datasets = args.datasets.split(",") if args.datasets else list(accuracy.ALL_SETS)
    origins = args.origins or (2 if args.quick else 8)
    started = time.perf_counter()
    epochs = args.peer_epochs or (2 if args.quick else 100)
    command = "python -m benchmarks.peers" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    try:
        from benchmarks import _timing

        machine = _timing.machine_info()
    except ImportError:
        machine = {}
    out = pathlib.Path(args.out) if args.out else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    stem = "peers_quick" if args.quick else "peers"

    def save(doc: dict[str, Any]) -> None:
        doc = {**doc, "seconds": time.perf_counter() - started, "command": command, "machine": machine}
        (out / f"{stem}.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
        (out / f"{stem}.md").write_text(render(doc))

    save(run(datasets, args.models.split(",") if args.models else None, origins, args.quick, epochs, save))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

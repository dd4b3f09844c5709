"""Global models: one LSTM across related series against one LSTM per series, and how long a global fit takes.

    python -m benchmarks.global_models accuracy [--frequencies monthly,quarterly] [--origins 6] [--out DIR]
    python -m benchmarks.global_models speed [--series 1000] [--length 200,400] [--out DIR]
    python -m benchmarks.global_models backtest [--series 20] [--length 200,400] [--origins 6] [--out DIR]
    python -m benchmarks.global_models epochs [--series 300] [--length 200,400] [--out DIR]

``accuracy`` follows the protocol of ``benchmarks/competition.py`` on its series of the chosen
frequencies (the same series, origins, horizons, rolling training windows and scores): at every
origin index ``k`` one global ``LSTMForecaster()`` (the defaults) is fitted on the training
windows of every series of the frequency at their ``k``-th origin, and forecasts each of them
(``lstm_global``; ``lstm_global_emb`` adds ``series_embedding=4``, ``lstm_global_seasonal``
``encoding="seasonal", season_length="auto"``: each series its own detected season). The local rows run in the
same process on the same windows: ``lstm`` (one default ``LSTMForecaster()`` per series and
origin), ``AutoETS`` and ``SeasonalNaive``. Scores: geometric-mean MASE with its standard
error, mean sMAPE, mean 80% / 95% coverage and MSIS, per frequency.

``speed`` fits one default global model on ``--series`` synthetic series (seeded random walks
with drift, volatility and a weak season drawn per series, lengths drawn in ``--length``),
then forecasts 24 steps of every series: wall time and the process's CPU time of the fit (the
first, compiling, call) and of the forecast. The machine may be shared: CPU time is the
figure that does not count the others' work.

``backtest`` runs ``evaluation.backtest(..., global_models=["lstm"])`` of a default global
model over ``--series`` synthetic series at ``--origins`` origins, twice each way: the origins
as rows of one runner call (``vectorize=True``, ``global_models.fit_globals``) and one origin
after another (``vectorize=False``), each in a fresh process so that both pay their own
compilation; the CPU time of the first (compiling) and second (warm) backtest of each.

``epochs`` checks what sampled epochs (``global_models.EPOCH_WINDOWS``) cost in accuracy: a
default global model of ``--series`` synthetic series is fitted on all but the last 24 values
of each, once with epochs of at most ``EPOCH_WINDOWS`` windows (the default) and once with
every epoch a pass over all windows, and each forecasts those 24 values: the geometric mean
over series of MAE / naive's MAE, the paired ratio of the two (with its standard error), 95%
coverage, epochs and CPU seconds of each fit.

Writes ``global_{section}.{json,md}`` into ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks import _timing

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
GLOBAL_ROWS = {
    "lstm_global": {},
    "lstm_global_emb": {"series_embedding": 4},
    "lstm_global_seasonal": {"encoding": "seasonal", "season_length": "auto"},
}
LOCAL_ROWS = ("lstm", "AutoETS", "SeasonalNaive")


def _bands(model: Any, forecast: Any, levels: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for level in levels:
        found = forecast if level == 95 else model.forecast_from(forecast.predicted, level / 100)
        out[level] = (np.asarray(found.lower), np.asarray(found.upper))
    return out


def accuracy(frequencies: Sequence[str], origins: int, log: Any = print) -> dict[str, Any]:
    """Per frequency: every series' per-origin scores of the global and local rows (the competition's protocol)."""
    from benchmarks import competition
    from jaxlstm import LSTMForecaster

    every = [s for s in competition.load_series(None, log) if s.frequency in frequencies]
    local_rows = {name: competition.rows(False, 100)[name][0] for name in LOCAL_ROWS}
    doc: dict[str, Any] = {"frequencies": {}, "origins": origins}
    for frequency in frequencies:
        spec = competition.FREQUENCIES[frequency]
        group = [s for s in every if s.frequency == frequency and len(s.values) >= spec.min_length(origins)]
        plan = {}
        for s in group:
            starts = competition.rolling_origins(len(s.values), spec, origins)
            plan[s.name] = (s, starts, int(min(starts[0], competition.MAX_TRAIN)))
        scores: dict[str, dict[str, list[dict[str, float]]]] = {name: {} for name in (*GLOBAL_ROWS, *LOCAL_ROWS)}
        seconds: dict[str, list[float]] = {name: [] for name in scores}
        for row, settings in GLOBAL_ROWS.items():
            for k in range(origins):
                train = {name: s.values[t[k] - n : t[k]] for name, (s, t, n) in plan.items()}
                wall, cpu = time.perf_counter(), time.process_time()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = LSTMForecaster(**settings).fit(train)
                    forecasts = model.forecast(steps=spec.horizon)
                seconds[row].append(time.process_time() - cpu)
                log(
                    f"{frequency} {row} origin {k}: {time.perf_counter() - wall:.1f} s wall, {seconds[row][-1]:.1f} s CPU"
                )
                for name, (s, t, _) in plan.items():
                    fc = forecasts[name]
                    series_model = model.series_[name]
                    actual = s.values[t[k] : t[k] + spec.horizon]
                    bands = _bands(series_model, fc, competition.LEVELS)
                    found = competition.score_origin(actual, train[name], spec.season, fc.predicted, bands)
                    scores[row].setdefault(name, []).append(found)
        for row, fn in local_rows.items():
            cpu = time.process_time()
            for name, (s, t, n) in plan.items():
                for k in range(origins):
                    train_k = s.values[t[k] - n : t[k]]
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        prediction = fn(train_k, spec.horizon, spec.season)
                    actual = s.values[t[k] : t[k] + spec.horizon]
                    found = competition.score_origin(actual, train_k, spec.season, prediction.mean, prediction.bands)
                    scores[row].setdefault(name, []).append(found)
            seconds[row].append(time.process_time() - cpu)
            log(f"{frequency} {row}: {seconds[row][-1]:.1f} s CPU")
        doc["frequencies"][frequency] = {
            "series": {name: {"train_size": n, "origins": [int(x) for x in t]} for name, (_, t, n) in plan.items()},
            "scores": scores,
            "cpu_seconds": {row: float(np.sum(v)) for row, v in seconds.items()},
            "aggregate": {row: summarise(per) for row, per in scores.items()},
        }
    return doc


def summarise(per_series: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    """Geometric-mean MASE (with its standard error) over series of the per-series mean over origins; mean sMAPE, coverage, MSIS."""
    from benchmarks import competition

    means = {
        name: {k: float(np.mean([o[k] for o in origins])) for k in origins[0]} for name, origins in per_series.items()
    }
    mase, se = competition.geometric_mean(np.array([m["mase"] for m in means.values()]))
    out = {"mase": mase, "mase_se": se, "smape": float(np.mean([m["smape"] for m in means.values()]))}
    for key in ("coverage80", "coverage95", "msis80", "msis95"):
        values = [m[key] for m in means.values() if key in m]
        if values:
            out[key] = float(np.mean(values))
    return out


def synthetic(count: int, lengths: tuple[int, int], seed: int = 0) -> dict[str, np.ndarray]:
    """``count`` seeded positive series: random walks in log space with a per-series drift, volatility and weak season."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(count):
        n = int(rng.integers(lengths[0], lengths[1] + 1))
        sigma, drift, amplitude = rng.uniform(0.005, 0.03), rng.normal(0, 0.001), rng.uniform(0, 0.05)
        steps = rng.normal(drift, sigma, n) + amplitude * np.sin(2 * np.pi * np.arange(n) / 12) * 0.2
        out[f"s{i:04d}"] = 100 * np.exp(np.cumsum(steps))
    return out


#: Where a global fit's time goes: functions of the library timed by ``--profile`` (cumulative seconds).
PARTS = {
    "_fit_together": "training (one runner call) and adoption",
    "_calibrate": "calibration forecasts",
    "adopt_pool": "adoption (one-step checks of every series)",
}


def speed(count: int, lengths: tuple[int, int], profile: bool = False) -> dict[str, Any]:
    """Wall and CPU seconds of one default global fit over ``count`` series (compiling included) and of its forecast.

    With ``profile`` the fit runs under ``cProfile`` and the cumulative seconds of ``PARTS`` are recorded.
    """
    import cProfile
    import pstats

    from jaxlstm import LSTMForecaster

    data = synthetic(count, lengths)
    profiler = cProfile.Profile(time.process_time) if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    model = LSTMForecaster().fit(data)
    if profiler is not None:
        profiler.disable()
    fit = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    if profiler is not None:
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        # The largest cumulative time of a name: a method that calls its base class's
        # method of the same name (a chunked _calibrate) is counted once, as the outer call.
        fit["parts_cpu_s"] = {
            label: max((v[3] for k, v in stats.items() if k[2] == name), default=0.0) for name, label in PARTS.items()
        }
    wall, cpu = time.perf_counter(), time.process_time()
    forecasts = model.forecast(steps=24)
    predict = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    assert len(forecasts) == count
    return {
        "series": count,
        "lengths": list(lengths),
        "prices": int(sum(len(v) for v in data.values())),
        "fit": fit,
        "forecast_24": predict,
        "metrics": {k: v for k, v in (model.metrics_ or {}).items() if not isinstance(v, list)},
    }


def epochs_check(count: int, lengths: tuple[int, int], horizon: int = 24) -> dict[str, Any]:
    """Held-out accuracy and fit CPU time of one global fit with sampled epochs and one with full passes."""
    from jaxlstm import LSTMForecaster
    from jaxlstm._src.forecasters import global_models

    data = synthetic(count, lengths)
    train = {name: values[:-horizon] for name, values in data.items()}
    out: dict[str, Any] = {"series": count, "lengths": list(lengths), "horizon": horizon}
    logs: dict[str, np.ndarray] = {}
    default = global_models.EPOCH_WINDOWS
    for label, cap in (("sampled", default), ("full", 10**12)):
        global_models.EPOCH_WINDOWS = cap
        try:
            cpu = time.process_time()
            model = LSTMForecaster().fit(train)
            fit_cpu = time.process_time() - cpu
        finally:
            global_models.EPOCH_WINDOWS = default
        forecasts = model.forecast(steps=horizon)
        ratios, covered = [], []
        for name, values in data.items():
            actual, last = values[-horizon:], train[name][-1]
            ratios.append(np.mean(np.abs(forecasts[name].predicted - actual)) / np.mean(np.abs(last - actual)))
            covered.append(np.mean((actual >= forecasts[name].lower) & (actual <= forecasts[name].upper)))
        logs[label] = np.log(ratios)
        out[label] = {
            "epoch_windows": None if cap > 10**9 else cap,
            "fit_cpu_s": fit_cpu,
            "epochs_run": model.metrics_["epochs_run"],
            "best_epoch": model.metrics_["best_epoch"],
            "n_train_windows": model.metrics_["n_train_windows"],
            "relative_mae": float(np.exp(np.mean(logs[label]))),
            "coverage95": float(np.mean(covered)),
        }
    paired = logs["sampled"] - logs["full"]
    out["paired_ratio"] = float(np.exp(np.mean(paired)))
    out["paired_ratio_se"] = float(np.exp(np.mean(paired)) * np.std(paired, ddof=1) / np.sqrt(paired.size))
    return out


def backtest_cost(count: int, lengths: tuple[int, int], origins: int, together: bool) -> dict[str, Any]:
    """Wall and CPU seconds of two global-model backtests in this process (the first compiles), one way."""
    from jaxlstm import LSTMForecaster, evaluation

    data = synthetic(count, lengths)
    train_size = min(len(v) for v in data.values()) - 24 * origins
    runs = []
    for _ in range(2):
        wall, cpu = time.perf_counter(), time.process_time()
        found = evaluation.backtest(
            data,
            {"lstm": LSTMForecaster},
            train_size=train_size,
            steps=24,
            global_models=["lstm"],
            vectorize=together,
        )
        runs.append({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu})
    first = next(iter(found.values()))
    return {
        "together": together,
        "origins": len(first.origins),
        "train_size": train_size,
        "runs": runs,
        "mae": float(np.mean([r["lstm"].metrics["mae"] for r in found.values()])),
    }


def backtest_both(count: int, lengths: tuple[int, int], origins: int) -> dict[str, Any]:
    """``backtest_cost`` both ways, each in a fresh process (its own compilation)."""
    import subprocess

    out = {"series": count, "lengths": list(lengths)}
    for together in (True, False):
        script = (
            "import json, sys; from benchmarks import global_models as g; "
            f"print(json.dumps(g.backtest_cost({count}, {tuple(lengths)}, {origins}, {together})))"
        )
        root = pathlib.Path(__file__).resolve().parent.parent
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root)
        out["together" if together else "loop"] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def render(kind: str, doc: dict[str, Any]) -> str:
    """The markdown of one section's document."""
    lines = [f"# Global models: {kind}", "", f"Command: `{doc['command']}`", ""]
    if kind == "backtest":
        r = doc["result"]
        lines += [
            f"{r['series']} synthetic series of {r['lengths'][0]}-{r['lengths'][1]} values, default `LSTMForecaster()` "
            f"as a global model, {r['together']['origins']} origins of 24 steps (train_size "
            f"{r['together']['train_size']}); each way in a fresh process.",
            "",
            "| origins fitted | first backtest wall s | CPU s | second (warm) wall s | CPU s | mean MAE |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for key, label in (("together", "as rows of one runner call"), ("loop", "one after another")):
            found = r[key]
            first, second = found["runs"]
            lines.append(
                f"| {label} | {first['wall_s']:.1f} | {first['cpu_s']:.1f} | {second['wall_s']:.1f} | "
                f"{second['cpu_s']:.1f} | {found['mae']:.4g} |"
            )
        lines += [
            "",
            f"Machine: {doc['machine'].get('cpu_model')}, {doc['machine'].get('usable_cores')} usable cores, shared "
            f"(load average at start {doc['machine'].get('load_average')}); CPU time counts each process only.",
        ]
        return "\n".join(lines) + "\n"
    if kind == "epochs":
        r = doc["result"]
        lines += [
            f"{r['series']} synthetic series of {r['lengths'][0]}-{r['lengths'][1]} values, default `LSTMForecaster()` "
            f"as a global model fitted on all but the last {r['horizon']} values of each, forecasting them.",
            "",
            "| epochs | epoch windows | epochs run (best) | training windows | MAE / naive (geo-mean) | 95% coverage | fit CPU s |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for key, label in (("sampled", "sampled (default)"), ("full", "full passes")):
            f = r[key]
            lines.append(
                f"| {label} | {f['epoch_windows'] or 'all'} | {f['epochs_run']} ({f['best_epoch']}) | "
                f"{f['n_train_windows']} | {f['relative_mae']:.4f} | {f['coverage95']:.3f} | {f['fit_cpu_s']:.1f} |"
            )
        lines += [
            "",
            f"Paired over series, sampled / full MAE: {r['paired_ratio']:.4f} ± {r['paired_ratio_se']:.4f} (geometric "
            "mean ± standard error).",
            "",
            f"Machine: {doc['machine'].get('cpu_model')}, {doc['machine'].get('usable_cores')} usable cores, shared "
            f"(load average at start {doc['machine'].get('load_average')}); CPU time counts this process only.",
        ]
        return "\n".join(lines) + "\n"
    if kind == "speed":
        r = doc["result"]
        lines += [
            f"{r['series']} synthetic series of {r['lengths'][0]}-{r['lengths'][1]} values ({r['prices']} in all), "
            "default `LSTMForecaster()`, one global fit (compiling included) and a 24-step forecast of every series.",
            "",
            "| | wall s | CPU s |",
            "|---|---:|---:|",
            f"| fit | {r['fit']['wall_s']:.1f} | {r['fit']['cpu_s']:.1f} |",
            f"| forecast 24 steps, every series | {r['forecast_24']['wall_s']:.1f} | {r['forecast_24']['cpu_s']:.1f} |",
            "",
            *(
                [f"Where the fit's CPU time went (cProfile): {r['fit']['parts_cpu_s']}.", ""]
                if "parts_cpu_s" in r["fit"]
                else []
            ),
            f"Training: {r['metrics'].get('epochs_run')} epochs ({r['metrics'].get('stop_reason')}), "
            f"{r['metrics'].get('n_train_windows')} training windows, {r['metrics'].get('n_val_windows')} held back.",
            "",
            f"Machine: {doc['machine'].get('cpu_model')}, {doc['machine'].get('usable_cores')} usable cores, shared "
            f"(load average at start {doc['machine'].get('load_average')}); CPU time counts this process only.",
        ]
        return "\n".join(lines) + "\n"
    for frequency, found in doc["result"]["frequencies"].items():
        lines += [
            f"## {frequency}: {len(found['series'])} series, {doc['result']['origins']} origins",
            "",
            "| row | geo-mean MASE | ± se | sMAPE | coverage 80 | coverage 95 | MSIS 95 | CPU s (all fits) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row, a in found["aggregate"].items():
            cov80, cov95, msis = (f"{a[k]:.3f}" if k in a else "-" for k in ("coverage80", "coverage95", "msis95"))
            lines.append(
                f"| {row} | {a['mase']:.3f} | {a['mase_se']:.3f} | {a['smape']:.2f} | {cov80} | {cov95} | {msis} | "
                f"{found['cpu_seconds'][row]:.0f} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("section", choices=("accuracy", "speed", "backtest", "epochs"))
    parser.add_argument("--frequencies", default="monthly,quarterly")
    parser.add_argument("--origins", type=int, default=6)
    parser.add_argument("--series", type=int, default=None, help="speed: 1000, backtest: 20, epochs: 300")
    parser.add_argument("--length", default="200,400")
    parser.add_argument("--profile", action="store_true", help="speed: where the fit's CPU time goes")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args(argv)
    machine = {**_timing.machine_info(), "load_average": _timing.load_average()}
    low, high = (int(x) for x in args.length.split(","))
    if args.section == "speed":
        result = speed(args.series or 1000, (low, high), args.profile)
    elif args.section == "backtest":
        result = backtest_both(args.series or 20, (low, high), args.origins)
    elif args.section == "epochs":
        result = epochs_check(args.series or 300, (low, high))
    else:
        result = accuracy(args.frequencies.split(","), args.origins)
    command = "python -m benchmarks.global_models " + " ".join(argv if argv is not None else sys.argv[1:])
    doc = {"command": command, "machine": machine, "result": result}
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"global_{args.section}" + ("_profile" if args.profile else "")
    (args.out / f"{name}.json").write_text(json.dumps(doc, indent=1, default=float))
    (args.out / f"{name}.md").write_text(render(args.section, doc))
    print(render(args.section, doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())

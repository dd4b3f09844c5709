"""The ``jaxlstm`` command: train, forecast, inspect and evaluate models from a shell.

Every failure the user can fix (a bad argument, an unreadable file, a damaged model)
is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

HORIZONS = ("1h", "4h", "1d", "7d")
DEMO_SYMBOL = "BTCUSD"
# jaxlstm.nn.ARCHITECTURES, written out so that parsing arguments does not import JAX.
ARCHITECTURES = ("lstm", "bilstm", "attention", "transformer")


class UsageError(Exception):
    """A problem with the command line or its inputs, reported in one line."""


def _default_models_dir() -> str:
    from jaxlstm._src.io.compile_cache import default_cache_dir

    return str(default_cache_dir() / "models")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _feature_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated feature names such as close,volume,rsi, got {text!r}"
        )
    return names


def _model_args(p: argparse.ArgumentParser) -> None:
    """The network and its inputs (passed to LSTMForecaster as they are)."""
    p.add_argument("--architecture", choices=ARCHITECTURES, default="lstm", help="the network (default lstm)")
    p.add_argument(
        "--features",
        type=_feature_list,
        default=("close",),
        help="comma-separated inputs, e.g. close,volume,rsi (default close; see jaxlstm.data.FEATURE_NAMES); "
        "anything beyond the close needs a direct head",
    )
    p.add_argument(
        "--direct-steps",
        type=_positive_int,
        default=None,
        help="train a head that forecasts this many steps at once (default: recursive; with --features, "
        "the horizon's steps for forecast and evaluate)",
    )


def _direct_steps(args: argparse.Namespace, steps: int | None) -> int | None:
    """--direct-steps, else the horizon's steps when features need a direct head."""
    if args.direct_steps is not None or tuple(args.features) == ("close",):
        return args.direct_steps
    if steps is None:
        raise UsageError("--features beyond close need --direct-steps N (the steps the model forecasts at once)")
    return steps


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxlstm`` command."""
    parser = argparse.ArgumentParser(prog="jaxlstm", description="LSTM price forecasting with JAX.")
    parser.add_argument("--no-compile-cache", action="store_true", help="do not use JAX's persistent compilation cache")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_args(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument(
            "--data", required=required, help="OHLCV CSV file (default: the bundled BTC/USD hourly demo data)"
        )
        p.add_argument("--symbol", help="instrument name (default: from the data, or BTCUSD for the demo)")
        p.add_argument("--models", default=None, help="models directory (default: the user cache folder)")
        p.add_argument(
            "--candles", type=_positive_int, default=500, help="train on the last N candles (default 500, as the seed)"
        )
        p.add_argument("--epochs", type=_positive_int, default=100)
        p.add_argument("--hidden-size", type=_positive_int, default=32)
        p.add_argument("--sequence-length", type=_positive_int, default=20)
        p.add_argument("--learning-rate", type=_positive_float, default=1e-3)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        _model_args(p)

    train = sub.add_parser("train", help="train (or retrain) the model of a symbol and save it")
    data_args(train, required=True)

    forecast = sub.add_parser("forecast", help="forecast a horizon with prediction intervals")
    data_args(forecast, required=False)
    forecast.add_argument("--horizon", required=True, choices=HORIZONS)
    forecast.add_argument(
        "--model",
        choices=("lstm", "hybrid", "auto"),
        default="lstm",
        help="lstm: train or load the LSTM; hybrid: the instant statistical model; "
        "auto: the cached LSTM when fresh, hybrid otherwise (the seed's rule)",
    )
    forecast.add_argument(
        "--max-age-hours", type=_positive_float, default=24.0, help="retrain cached models older than this"
    )
    forecast.add_argument("--json", action="store_true", help="print JSON instead of a table")
    forecast.add_argument("--plot", metavar="PNG", help="write a chart of recent prices and the forecast band")

    evaluate = sub.add_parser("evaluate", help="walk-forward backtest against the naive forecast")
    evaluate.add_argument("--data", help="OHLCV CSV file (default: the bundled demo data)")
    evaluate.add_argument("--horizon", required=True, choices=HORIZONS)
    evaluate.add_argument(
        "--origins", type=_positive_int, default=50, help="forecast origins, spread evenly (default 50)"
    )
    evaluate.add_argument("--train-size", type=_positive_int, default=500, help="prices each fit sees (default 500)")
    evaluate.add_argument("--models", default="lstm,hybrid,naive", help="comma-separated: lstm, hybrid, naive, drift")
    evaluate.add_argument("--epochs", type=_positive_int, default=100)
    evaluate.add_argument("--hidden-size", type=_positive_int, default=32)
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", action="store_true")
    _model_args(evaluate)

    info = sub.add_parser("info", help="list the saved models")
    info.add_argument("--models", default=None)
    info.add_argument("--json", action="store_true")
    return parser


def _load_prices(args: argparse.Namespace):
    from jaxlstm._src.io import ohlcv as market_data

    if args.data is None:
        ohlcv = market_data.load_demo()
        symbol = args.symbol or DEMO_SYMBOL
    else:
        ohlcv = market_data.load_ohlcv(args.data)
        symbol = args.symbol or ohlcv.symbol
        if not symbol:
            raise UsageError("the data has no symbol column: pass --symbol")
    return ohlcv, symbol


def _recent(ohlcv: Any, candles: int) -> Any:
    import numpy as np

    from jaxlstm._src.io.ohlcv import OHLCV

    sl = slice(-candles, None)
    return OHLCV(
        timestamps=np.asarray(ohlcv.timestamps[sl]),
        open=np.asarray(ohlcv.open[sl]),
        high=np.asarray(ohlcv.high[sl]),
        low=np.asarray(ohlcv.low[sl]),
        close=np.asarray(ohlcv.close[sl]),
        volume=np.asarray(ohlcv.volume[sl]),
        symbol=ohlcv.symbol,
    )


def _horizon_steps(args: argparse.Namespace, ohlcv: Any) -> int | None:
    """The steps of --horizon on the data's interval (None for commands without one)."""
    from jaxlstm._src.io import ohlcv as market_data
    from jaxlstm._src.prep import horizons

    horizon = getattr(args, "horizon", None)
    return None if horizon is None else horizons.horizon_to_steps(horizon, market_data.infer_interval(ohlcv.timestamps))


def _trainer(args: argparse.Namespace, ohlcv: Any):
    from jaxlstm._src.forecasters.lstm import LSTMForecaster

    direct_steps = _direct_steps(args, _horizon_steps(args, ohlcv))

    def train_fn(symbol: str) -> LSTMForecaster:
        model = LSTMForecaster(
            hidden_size=args.hidden_size,
            sequence_length=args.sequence_length,
            learning_rate=args.learning_rate,
            epochs=args.epochs,
            seed=args.seed,
            symbol=symbol,
            architecture=args.architecture,
            features=args.features,
            direct_steps=direct_steps,
        )
        verbose = not args.quiet and sys.stderr.isatty()
        return model.fit(_recent(ohlcv, args.candles), verbose=verbose)

    return train_fn


def _cache(args: argparse.Namespace, max_age_hours: float = 24.0):
    from jaxlstm._src.io.cache import ModelCache

    return ModelCache(args.models or _default_models_dir(), max_age=datetime.timedelta(hours=max_age_hours))


def cmd_train(args: argparse.Namespace) -> int:
    ohlcv, symbol = _load_prices(args)
    cache = _cache(args)
    model = _trainer(args, ohlcv)(symbol)
    cache.directory.mkdir(parents=True, exist_ok=True)
    path = model.save(cache.path(symbol))
    m = model.metrics_
    print(
        f"trained {symbol} on {min(args.candles, len(ohlcv))} candles: {m['epochs_run']} epochs ({m['stop_reason']}), "
        f"train loss {m['final_train_loss']:.4g}"
        + (
            f", validation MAE {m['val_mae']:.6g} vs naive {m['val_naive_mae']:.6g}"
            if m.get("val_mae") is not None
            else ""
        )
    )
    print(f"saved to {path}")
    return 0


def _forecaster_for(args: argparse.Namespace, ohlcv: Any, symbol: str):
    from jaxlstm._src.forecasters.baselines import HybridForecaster

    recent = _recent(ohlcv, args.candles)
    if args.model == "hybrid":
        return HybridForecaster().fit(recent), "hybrid"
    cache = _cache(args, args.max_age_hours)
    if args.model == "auto":
        model = cache.peek(symbol)
        if model is None or not cache.is_fresh(model):
            return HybridForecaster().fit(recent), "hybrid (no fresh LSTM cached; run `jaxlstm train`)"
    else:
        model = cache.get(symbol, train_fn=_trainer(args, ohlcv))
    return model.observe(recent), "lstm"


def _print_table(fc: Any, symbol: str, kind: str, horizon: str) -> None:
    print(f"{symbol} forecast, horizon {horizon}, model {kind}, {fc.confidence:.0%} interval")
    print(f"{'timestamp (UTC)':<20} {'predicted':>14} {'lower':>14} {'upper':>14}")
    for row in fc.to_dict()["predictions"]:
        ts = row["timestamp"].replace("T", " ").rstrip("Z")[:16]
        print(f"{ts:<20} {row['predicted']:>14.2f} {row['lower']:>14.2f} {row['upper']:>14.2f}")


def _plot(path: str, ohlcv: Any, fc: Any, symbol: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'jaxlstm[plot]'") from None
    history = min(len(ohlcv), max(3 * len(fc), 72))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(ohlcv.timestamps[-history:], ohlcv.close[-history:], color="black", lw=1, label="close")
    ax.plot(fc.timestamps, fc.predicted, color="tab:blue", lw=1.5, label="forecast")
    ax.fill_between(
        fc.timestamps, fc.lower, fc.upper, color="tab:blue", alpha=0.2, label=f"{fc.confidence:.0%} interval"
    )
    ax.set_title(f"{symbol}: {len(fc)}-step forecast")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as err:
        raise UsageError(f"cannot write --plot {path!r}: {err.strerror}") from None
    finally:
        plt.close(fig)


def cmd_forecast(args: argparse.Namespace) -> int:
    ohlcv, symbol = _load_prices(args)
    model, kind = _forecaster_for(args, ohlcv, symbol)
    fc = model.forecast(args.horizon)
    if args.plot:
        _plot(args.plot, ohlcv, fc, symbol)
    if args.json:
        doc = fc.to_dict()
        doc["symbol"] = symbol
        doc["model"] = kind.split(" ")[0]
        print(json.dumps(doc, indent=2))
    else:
        _print_table(fc, symbol, kind, args.horizon)
        if args.plot:
            print(f"chart written to {args.plot}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    cache = _cache(args)
    rows = []
    for name in cache.symbols():
        model = cache.peek(name)
        if model is None:
            rows.append({"symbol": name, "status": "damaged"})
            continue
        m = model.metrics_ or {}
        rows.append(
            {
                "symbol": model.symbol or name,
                "trained_at": model.trained_at_,
                "age_hours": round(cache.age(model).total_seconds() / 3600, 2),
                "fresh": cache.is_fresh(model),
                "config": model.get_params(),
                "metrics": m,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print(f"no models in {cache.directory}")
        return 0
    print(f"models in {cache.directory}")
    for r in rows:
        if r.get("status") == "damaged":
            print(f"  {r['symbol']:<12} damaged (will be retrained)")
            continue
        m = r["metrics"]
        val = f", val MAE {m['val_mae']:.6g} (naive {m['val_naive_mae']:.6g})" if m.get("val_mae") is not None else ""
        print(
            f"  {r['symbol']:<12} trained {r['trained_at']} ({r['age_hours']} h ago, {'fresh' if r['fresh'] else 'stale'}), "
            f"{m.get('epochs_run')} epochs{val}"
        )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from jaxlstm._src.evaluation import backtest as evaluation
    from jaxlstm._src.io import ohlcv as market_data
    from jaxlstm._src.prep import horizons

    ohlcv = market_data.load_demo() if args.data is None else market_data.load_ohlcv(args.data)
    steps = horizons.horizon_to_steps(args.horizon, market_data.infer_interval(ohlcv.timestamps))
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    factories = evaluation.make_forecasters(
        names,
        hidden_size=args.hidden_size,
        epochs=args.epochs,
        seed=args.seed,
        architecture=args.architecture,
        features=args.features,
        direct_steps=_direct_steps(args, steps),
    )
    last = len(ohlcv) - steps
    if last < args.train_size:
        raise UsageError(
            f"--train-size {args.train_size} plus a {steps}-step horizon needs more than the {len(ohlcv)} candles given"
        )
    count = min(args.origins, last - args.train_size + 1)
    origins = np.unique(np.linspace(args.train_size, last, count).round().astype(int))
    # The candles when a model reads more than the close; else the closes, as before.
    series = ohlcv if tuple(args.features) != ("close",) else ohlcv.close
    result = evaluation.backtest(series, factories, train_size=args.train_size, steps=steps, origins=list(origins))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=float))
    else:
        print(result.to_markdown(per_step=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxlstm`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from jaxlstm._src.io import compile_cache

    # The command line is an application, not a component: it reuses compiled code across
    # runs unless told not to (--no-compile-cache, or JAXLSTM_COMPILATION_CACHE=0).
    if not args.no_compile_cache and compile_cache.environment_setting() is not False:
        compile_cache.enable_compilation_cache()
    commands = {"train": cmd_train, "forecast": cmd_forecast, "info": cmd_info, "evaluate": cmd_evaluate}
    try:
        return commands[args.command](args)
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other shell tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (UsageError, ValueError, TypeError, FileNotFoundError, RuntimeError, OSError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"jaxlstm {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxlstm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``jaxlstm`` command: train, forecast, inspect and evaluate models from a shell.

Every failure the user can fix (a bad argument, an unreadable file, a damaged model) is one
line on stderr and exit code 2, never a traceback. ``jaxlstm --help`` and every
subcommand's ``--help`` answer without importing JAX: this module imports only the
standard library at the top and the library inside the commands.

Extending it: a subcommand is one entry of ``COMMANDS`` (name, help, a function that adds
its options, a function that runs it); options of the models the commands train are added
in ``add_model_options`` and turned into ``LSTMForecaster`` settings by ``model_settings``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

DEMO_SYMBOL = "BTCUSD"
#: File types ``--plot`` writes (matplotlib picks the format from the suffix).
PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")
#: ``--seed`` must fit the 64-bit seed of ``jax.random.key``.
MAX_SEED = 2**63 - 1
#: Help text of a model option whose default and choices are the estimator's own: options
#: left out are not passed, so ``LSTMForecaster``'s defaults apply (and its validators name
#: the setting and list the choices); reading them here would import JAX for ``--help``.
ESTIMATOR_DEFAULT = " (default: LSTMForecaster's own, jaxlstm.LSTMForecaster.default_params())"


class UsageError(Exception):
    """A problem with the command line or its inputs, reported in one line."""


# ---------------------------------------------------------------------------- argument types


def _integer(low: int, high: int | None, expected: str) -> Callable[[str], int]:
    """An argument type: an integer in ``[low, high]``, else an error saying what was ``expected``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text:.30}")
        return value

    return parse


_positive_int = _integer(1, None, "a positive integer")
_seed = _integer(0, MAX_SEED, "an integer from 0 to 2**63 - 1")


def _at_most(limit: str, low: int = 1) -> Callable[[str], int]:
    """An argument type: an integer from ``low`` to the library's bound ``validation.<limit>``.

    The bound is read when an argument is parsed, so that ``--help`` imports nothing.
    """

    def parse(text: str) -> int:
        from jaxlstm._src import validation

        high = getattr(validation, limit)
        return _integer(low, high, f"an integer from {low} to {high}")(text)

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _season_length(text: str) -> int | str:
    """``--season-length``: ``auto``, ``none`` (no season) or an integer from 2 to the longest window."""
    if text.strip().lower() in ("auto", "none"):
        return text.strip().lower()
    return _at_most("MAX_SEQUENCE_LENGTH", low=2)(text)


def _calendar(text: str) -> str | tuple[str, ...]:
    """``--calendar``: ``auto``, ``none`` or comma-separated parts (checked by the estimator, which lists them)."""
    value = text.strip().lower()
    if value in ("auto", "none"):
        return value
    parts = tuple(part.strip() for part in value.split(",") if part.strip())
    if not parts:
        raise argparse.ArgumentTypeError(
            f"expected auto, none or comma-separated parts such as hour,weekday, got {text!r}"
        )
    return parts


def _shrink(text: str) -> str:
    """``--shrink``: ``auto`` or ``none``."""
    value = text.strip().lower()
    if value not in ("auto", "none"):
        raise argparse.ArgumentTypeError(f"expected auto or none, got {text!r}")
    return value


def _levels(text: str) -> list[float]:
    """``--level``: comma-separated numbers in [1, 100)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated levels in percent such as 80,95, got {text!r}"
        ) from None
    if not values or not all(0 < v < 100 for v in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected distinct levels between 0 and 100 such as 80,95, got {text!r}")
    if min(values) < 1:  # a fraction meant as a confidence (forecast(level=...) refuses it too)
        meant = ",".join(f"{100 * v:g}" for v in values)
        raise argparse.ArgumentTypeError(f"levels are in percent, at least 1: for {meant}% give --level {meant}")
    return values


def _add_level_option(parser: argparse.ArgumentParser, when: str) -> None:
    """``--level 80,95`` or ``--level 80 --level 95``: every level given (argparse would keep the last alone)."""
    parser.add_argument(
        "--level",
        type=_levels,
        action="extend",
        default=None,
        help=f"{when}comma-separated interval levels in percent, e.g. 80,95 (or --level 80 --level 95): a band per "
        "level (columns lo-80, hi-80, ...) (default: one 95%% band)",
    )


def _folder(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty name")
    # The folder may not exist yet (it is made when a model is saved), but what does exist
    # of its path must be folders: a file there is a mistake, not an empty set of models.
    path = pathlib.Path(text)
    for part in (path, *path.parents):
        if os.path.lexists(part):
            if not os.path.isdir(part):
                where = "which is not a folder" if part == path else f"and {str(part)!r} is not a folder"
                raise argparse.ArgumentTypeError(f"expected a folder, got {text!r}, {where}")
            break
    return text


def _feature_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated feature names such as close,volume,rsi, got {text!r}"
        )
    return names


def _direct_steps(args: argparse.Namespace, steps: int | None) -> int | None:
    """--direct-steps, else the horizon's steps when features need a direct head."""
    if args.direct_steps is not None or args.features is None or tuple(args.features) == ("close",):
        return args.direct_steps
    if steps is None:
        raise UsageError("--features beyond close need --direct-steps N (the steps the model forecasts at once)")
    return steps


def _horizon(text: str) -> str:
    # Checked here for its form; how many steps it is (and whether too many) depends on the data, read later.
    from jaxlstm._src.prep import horizons

    try:
        horizons.span_nanoseconds(text, name="horizon")
    except (TypeError, ValueError) as err:
        hint = f" (for {text.strip()} candles use --steps {text.strip()})" if text.strip().isdigit() else ""
        raise argparse.ArgumentTypeError(f"{err}{hint}") from None
    return text


def _plot_file(text: str) -> str:
    path = pathlib.Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name such as chart.png")
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise argparse.ArgumentTypeError(f"expected a file name ending in {', '.join(PLOT_SUFFIXES)}, got {text!r}")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder of {text!r} does not exist")
    return text


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated model names, got none")
    return names


# ---------------------------------------------------------------------------- the parser


class _Formatter(argparse.HelpFormatter):
    """Shows every option's default: from its help text, or appended as ``(default: ...)``."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or action.required or not action.option_strings:
            return text
        if action.default is None:
            return text
        if action.default is False and action.nargs == 0:
            return f"{text} (default: off)"
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _default_models_dir() -> str:
    from jaxlstm._src.io.compile_cache import default_cache_dir

    return str(default_cache_dir() / "models")


def add_models_folder(p: argparse.ArgumentParser) -> None:
    """``--models``: the folder of saved models, shared by every command that reads or writes one."""
    p.add_argument(
        "--models",
        type=_folder,
        metavar="FOLDER",
        help="folder of saved models, one sub-folder per symbol (default: $JAXLSTM_CACHE_DIR/models, "
        "else $XDG_CACHE_HOME/jaxlstm/models, else ~/.cache/jaxlstm/models)",
    )


def add_data_options(p: argparse.ArgumentParser, *, candles: bool = True) -> None:
    """``--data``, ``--symbol`` and (for training) ``--candles``."""
    p.add_argument(
        "--data", metavar="CSV", help="OHLCV CSV file (default: the bundled BTC/USD hourly demo data, 3,000 candles)"
    )
    p.add_argument(
        "--symbol",
        help="the instrument: picks its rows out of a file with a symbol column, names the saved model (default: "
        "the data's symbol, else the file's name: btc_1h for btc_1h.csv; BTCUSD for the demo, which holds nothing else)",
    )
    if candles:
        p.add_argument("--candles", type=_positive_int, default=500, help="train on the last N candles, as the seed")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """The LSTM's settings; ``model_settings`` turns them into ``LSTMForecaster`` arguments."""
    group = p.add_argument_group("model")
    group.add_argument("--epochs", type=_positive_int, help="most training epochs (early stopping)" + ESTIMATOR_DEFAULT)
    group.add_argument("--hidden-size", type=_at_most("MAX_HIDDEN_SIZE"), help="LSTM units" + ESTIMATOR_DEFAULT)
    group.add_argument(
        "--sequence-length",
        type=_at_most("MAX_SEQUENCE_LENGTH", low=2),
        help="prices per input window" + ESTIMATOR_DEFAULT,
    )
    group.add_argument(
        "--season-length",
        type=_season_length,
        help="the season in candles (24 for a daily rhythm in hourly data), auto (detected on the training part: "
        "the data's calendar seasons are tested) or none; the window then covers 1.25 seasons" + ESTIMATOR_DEFAULT,
    )
    group.add_argument(
        "--shrink",
        type=_shrink,
        help="auto (shrink the forecast toward the last price by a weight chosen at fit time from the model's "
        "out-of-sample forecasts: naive where it shows no edge) or none" + ESTIMATOR_DEFAULT,
    )
    group.add_argument(
        "--band",
        help="the prediction band: conformal, adaptive, volatility or quantile (the direct head's own quantile "
        "outputs, trained with the pinball loss: needs --direct-steps); see jaxlstm.Forecaster" + ESTIMATOR_DEFAULT,
    )
    group.add_argument(
        "--encoding",
        help="how prices become model values: seasonal (the season of --season-length divided out of the "
        "training part first, then relative; with no season, relative itself), or relative, minmax, log or "
        "window (jaxlstm.data.ENCODINGS)" + ESTIMATOR_DEFAULT,
    )
    group.add_argument(
        "--calendar",
        type=_calendar,
        help="calendar inputs from the data's timestamps: auto (the parts that repeat at the data's spacing: "
        "hour and weekday for hourly candles), none, or comma-separated parts such as hour,weekday "
        "(LSTMForecaster's calendar setting lists them)" + ESTIMATOR_DEFAULT,
    )
    group.add_argument("--learning-rate", type=_positive_float, help="Adam step size" + ESTIMATOR_DEFAULT)
    group.add_argument("--seed", type=_seed, help="seeds initialisation and shuffling" + ESTIMATOR_DEFAULT)
    group.add_argument(
        "--ensemble", type=_positive_int, help="members trained together in one call" + ESTIMATOR_DEFAULT
    )
    group.add_argument("--combine", help="how members' forecasts combine: mean or median" + ESTIMATOR_DEFAULT)
    group.add_argument("--architecture", help="the network (jaxlstm.nn.ARCHITECTURES)" + ESTIMATOR_DEFAULT)
    group.add_argument(
        "--features",
        type=_feature_list,
        action="extend",  # --features close --features volume: both, not the last alone
        help="comma-separated inputs, e.g. close,volume,rsi (see jaxlstm.data.FEATURES; repeatable); "
        "anything beyond the close needs a direct head" + ESTIMATOR_DEFAULT,
    )
    group.add_argument(
        "--direct-steps",
        type=_at_most("MAX_STEPS"),
        default=None,
        help="train a head that forecasts this many steps at once (default: recursive; with --features, "
        "the horizon's steps for forecast and evaluate)",
    )


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    """The model options ``add_model_options`` added, by setting name (None: not given)."""
    return {
        "architecture": args.architecture,
        "features": None if args.features is None else tuple(args.features),
        "hidden_size": args.hidden_size,
        "sequence_length": args.sequence_length,
        "season_length": args.season_length,
        "shrink": args.shrink,
        "band": args.band,
        "encoding": args.encoding,
        "calendar": args.calendar,
        "learning_rate": args.learning_rate,
        "epochs": args.epochs,
        "seed": args.seed,
        "ensemble": args.ensemble,
        "combine": args.combine,
        "direct_steps": args.direct_steps,
    }


def model_settings(args: argparse.Namespace, steps: int | None = None) -> dict[str, Any]:
    """``LSTMForecaster`` constructor arguments from the options ``add_model_options`` added.

    ``steps`` (the horizon in candles, for commands with ``--horizon``) is the direct head's
    size when ``--features`` need one and ``--direct-steps`` is not given.
    """
    given = _model_options(args)
    given.pop("direct_steps")
    # Options not given take the estimator's defaults, read from it (not restated here), and
    # are passed on all the same: the cache compares every setting asked for.
    from jaxlstm._src.forecasters.lstm import LSTMForecaster

    defaults = LSTMForecaster.default_params()
    settings = {k: defaults[k] if v is None else v for k, v in given.items()}
    for name in ("season_length", "shrink", "calendar"):
        if settings[name] == "none":
            settings[name] = None
    return {**settings, "direct_steps": _direct_steps(args, steps)}


def _add_train(p: argparse.ArgumentParser) -> None:
    add_data_options(p)
    add_models_folder(p)
    add_model_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_tune(p: argparse.ArgumentParser) -> None:
    add_data_options(p)
    add_models_folder(p)
    add_model_options(p)
    p.add_argument(
        "--search",
        action="append",
        metavar="SETTING=V1,V2,...",
        required=True,
        help="a setting and the values to try, e.g. --search learning_rate=3e-4,1e-3,3e-3 (repeatable)",
    )
    p.add_argument("--sampling", default="grid", help="how trials are drawn: grid or random (see jaxlstm.tune)")
    p.add_argument(
        "--trials",
        type=_positive_int,
        default=None,
        help="trials drawn with --sampling random (default: every trial of the grid)",
    )
    p.add_argument("--halving", type=int, default=3, help="successive-halving factor (0: train every trial fully)")
    p.add_argument("--folds", type=_positive_int, default=3, help="walk-forward validation folds")
    p.add_argument("--steps", type=_at_most("MAX_STEPS"), default=24, help="forecast steps scored per origin")
    p.add_argument("--json", action="store_true", help="print the trials as JSON")


def add_horizon_options(p: argparse.ArgumentParser, what: str) -> None:
    """``--horizon`` (a span of time) or ``--steps`` (a number of candles): exactly one is required."""
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--horizon",
        type=_horizon,
        help=f"how far {what} goes: 1h, 4h, 1d, 7d, 36h, 90min... (a whole number of the data's candles)",
    )
    group.add_argument(
        "--steps", type=_at_most("MAX_STEPS"), metavar="N", help=f"how far {what} goes in candles, instead of --horizon"
    )


def horizon_steps(args: argparse.Namespace, timestamps: Any) -> int:
    """The number of candles ``--steps`` or ``--horizon`` asks for, on data with these timestamps."""
    if args.steps is not None:
        return int(args.steps)
    from jaxlstm._src.prep import horizons

    return horizons.horizon_to_steps(args.horizon, horizons.infer_interval(timestamps))


def _add_forecast(p: argparse.ArgumentParser) -> None:
    add_horizon_options(p, "ahead the forecast")
    p.add_argument(
        "--model",
        choices=("lstm", "hybrid", "auto"),
        default="lstm",
        help="lstm: the cached LSTM, trained first when missing, stale or trained on other data or settings; "
        "hybrid: the instant statistical model; auto: the cached LSTM when fresh, else hybrid (the seed's rule)",
    )
    p.add_argument("--retrain", action="store_true", help="train the LSTM even when the cached one is fresh")
    p.add_argument("--max-age-hours", type=_positive_float, default=24.0, help="retrain cached models older than this")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_level_option(p, "")
    p.add_argument(
        "--plot",
        metavar="FILE",
        type=_plot_file,
        help="also draw recent prices and the forecast to FILE (.png, .svg, .pdf; default: no chart)",
    )
    p.add_argument(
        "--name",
        help="forecast the saved model NAME of the models folder as it is, from the prices it holds (no data read, "
        "nothing trained); a global model (fit-many --global) prints every series' forecast as long CSV "
        "(unique_id, ds, predicted, lower, upper, ...), or JSON with --json (default: the model of --symbol, "
        "trained first when needed)",
    )
    p.add_argument(
        "--series",
        type=_names,
        action="append",
        metavar="IDS",
        help="with --name of a global model: only these series (comma-separated, repeatable) (default: all)",
    )
    _add_train(p)


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    add_horizon_options(p, "ahead each forecast")
    p.add_argument(
        "--compare",
        type=_names,
        default="lstm,hybrid,naive",
        metavar="NAMES",
        help="comma-separated models to compare: lstm, hybrid, naive, drift (naive is always added)",
    )
    p.add_argument("--origins", type=_positive_int, default=50, help="forecast origins, spread evenly")
    p.add_argument("--train-size", type=_positive_int, default=500, help="prices each fit sees")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_options(p, candles=False)
    add_model_options(p)


def _add_info(p: argparse.ArgumentParser) -> None:
    add_models_folder(p)
    p.add_argument(
        "--max-age-hours", type=_positive_float, default=24.0, help="models older than this are shown as stale"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


# ---------------------------------------------------------------------------- helpers


def _say(message: str) -> None:
    """A status line on stderr (stdout carries the result only), written in one call so a kill cannot cut it."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _load_candles(args: argparse.Namespace) -> tuple[Any, str]:
    """The candles of ``--data`` (else the demo's) and the symbol their model is saved under.

    The symbol is ``--symbol``, else the data's symbol column, else the file's name without
    its suffix (``btc_1h.csv`` -> ``btc_1h``), else ``"series"``. ``--symbol`` picks rows
    out of a file with a symbol column and must match the demo data's BTCUSD: it never
    relabels candles of another instrument.
    """
    from jaxlstm._src.io import ohlcv as market_data

    if args.data is None:
        try:
            candles = market_data.load_ohlcv(market_data.demo_data_path(), symbol=args.symbol)
        except ValueError:
            if args.symbol is None:
                raise
            raise UsageError(
                f"--symbol {args.symbol!r}: the bundled demo data holds {DEMO_SYMBOL} only; "
                "give --data FILE with the candles of that symbol"
            ) from None
        return candles, args.symbol or DEMO_SYMBOL
    candles = market_data.load_ohlcv(args.data, symbol=args.symbol)
    return candles, args.symbol or market_data.symbol_of(candles)


def _cache(args: argparse.Namespace) -> Any:
    from jaxlstm._src.forecasters.lstm import LSTMForecaster
    from jaxlstm._src.io.cache import ModelCache

    hours = getattr(args, "max_age_hours", 24.0)
    return ModelCache(
        args.models or _default_models_dir(), max_age=datetime.timedelta(hours=hours), model=LSTMForecaster
    )


def _trainer(
    args: argparse.Namespace, recent: Any, trained: list[Any], settings: dict[str, Any]
) -> Callable[[str], Any]:
    """``train_fn(symbol)`` for the cache: an LSTM with ``settings``, fitted on ``recent``."""
    from jaxlstm._src.forecasters.lstm import LSTMForecaster

    def train_fn(symbol: str) -> Any:
        model = LSTMForecaster(**settings, symbol=symbol)
        model.fit(recent, verbose=not args.quiet and sys.stderr.isatty())
        trained.append(model)
        return model

    return train_fn


def _train_summary(model: Any, symbol: str, candles: int) -> str:
    m = model.metrics_
    val = (
        f", validation MAE {m['val_mae']:.6g} vs naive {m['val_naive_mae']:.6g}" if m.get("val_mae") is not None else ""
    )
    return (
        f"trained {symbol} on {candles} candles: {m['epochs_run']} epochs ({m['stop_reason']}), "
        f"train loss {m['final_train_loss']:.4g}{val}"
    )


def _trained_on(model: Any) -> tuple[str | None, Any]:
    """What a model was trained on, as one line and as JSON (None for models saved without it)."""
    record = getattr(model, "trained_on_", None)
    if record is None:
        return None, None
    return record.describe(), record.to_json()


# ---------------------------------------------------------------------------- commands


def cmd_train(args: argparse.Namespace) -> int:
    candles, symbol = _load_candles(args)
    recent = candles[-args.candles :]
    cache = _cache(args)
    trained: list[Any] = []
    settings = model_settings(args)
    model = cache.get(symbol, _trainer(args, recent, trained, settings), settings=settings, data=recent, retrain=True)
    print(_train_summary(model, symbol, len(recent)))
    print(f"saved to {cache.path(symbol)}")
    return 0


def _search_value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def _search_space(items: list[str]) -> dict[str, list[Any]]:
    space: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name or not values.strip():
            raise UsageError(f"--search must look like SETTING=V1,V2 (e.g. learning_rate=3e-4,1e-3), got {item!r}")
        if name in space:
            raise UsageError(f"--search names {name!r} twice")
        space[name] = [_search_value(v.strip()) for v in values.split(",") if v.strip()]
    return space


def cmd_tune(args: argparse.Namespace) -> int:
    from jaxlstm._src.forecasters.tuning import tune

    candles, symbol = _load_candles(args)
    space = _search_space(args.search)
    settings = model_settings(args, args.steps)
    for name in space:
        settings.pop(name, None)
    if args.halving < 0 or args.halving == 1:
        raise UsageError(f"--halving must be 0 (off) or at least 2, got {args.halving}")
    model = tune(
        candles[-args.candles :],
        space,
        sampling=args.sampling,
        n_trials=args.trials,
        halving=args.halving or None,
        folds=args.folds,
        horizon=args.steps,
        symbol=symbol,
        **settings,
    )
    cache = _cache(args)
    cache.directory.mkdir(parents=True, exist_ok=True)
    path = model.save(cache.path(symbol))
    table = model.tuning_
    if args.json:
        print(json.dumps({**table.to_dict(), "saved_to": str(path)}, indent=2, default=str))
        return 0
    names = list(space)
    print(f"tuned {symbol}: {len(table)} trials, {len(table.folds)} folds, {table.seconds:.1f} s")
    print("  ".join(f"{n:>16}" for n in [*names, "score", "vs naive", "epochs"]))
    for row in sorted(table.rows, key=lambda r: r["score"]):
        cells = [str(row[n]) for n in names] + [
            f"{row['score']:.5f}",
            "n/a" if row["relative_mae"] is None else f"{row['relative_mae']:.3f}",
            str(row["epochs"]),
        ]
        print("  ".join(f"{c:>16}" for c in cells) + ("  <- best" if row["best"] else ""))
    print(f"saved to {path}")
    return 0


def _forecaster(args: argparse.Namespace, recent: Any, symbol: str) -> tuple[Any, str]:
    from jaxlstm._src.forecasters.baselines import HybridForecaster

    if args.model == "hybrid":
        return HybridForecaster().fit(recent), "hybrid"
    cache = _cache(args)
    settings = model_settings(args, horizon_steps(args, recent.timestamps))
    status = cache.status(symbol, settings=settings, data=recent)
    if args.model == "auto":
        if not status.fresh:
            return HybridForecaster().fit(recent), f"hybrid ({status.reason}; run `jaxlstm train`)"
        return status.model.observe(recent), "lstm"
    if args.retrain or not status.fresh:
        _say(f"training the {symbol} LSTM: {'--retrain' if args.retrain else status.reason}")
    trained: list[Any] = []
    model = cache.get(
        symbol, _trainer(args, recent, trained, settings), settings=settings, data=recent, retrain=args.retrain
    )
    if trained:
        _say(_train_summary(model, symbol, len(recent)))
        _say(f"saved to {cache.path(symbol)}")
    return model.observe(recent), "lstm"


def _print_table(fc: Any, symbol: str, kind: str, horizon: str) -> None:
    # With --level the table has a band per level: the heading names them all, not the default's 95%.
    shown = [f"{level:g}%" for level in sorted(fc.levels or {})] or [f"{fc.confidence:.0%}"]
    intervals = f"{' and '.join(shown)} interval{'s' if len(shown) > 1 else ''}"
    print(f"{symbol} forecast, horizon {horizon}, model {kind}, {intervals} ({fc.band} band)")
    levels = list(fc.interval_columns()) or ["lower", "upper"]
    rows = fc.to_dict()["predictions"]
    # Daily and business-day forecasts fall on midnights: their dates (no zone; see horizons.without_zone).
    dates = all(row["timestamp"] and row["timestamp"][11:19] == "00:00:00" for row in rows)
    print(f"{'date' if dates else 'timestamp (UTC)':<20} {'predicted':>14}" + "".join(f" {n:>14}" for n in levels))
    for row in rows:
        stamp = row["timestamp"]
        when = stamp.replace("T", " ").rstrip("Z")[: 10 if dates else 16] if stamp else f"step {row['step']}"
        print(f"{when:<20} {row['predicted']:>14.2f}" + "".join(f" {row[name]:>14.2f}" for name in levels))


def _plot(path: str, fc: Any, history: Any) -> None:
    from matplotlib.figure import Figure  # no pyplot: nothing changes the host's backend

    fig = Figure(figsize=(9, 4))
    fc.plot(ax=fig.subplots(), history=history)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as err:
        raise UsageError(f"cannot write --plot {path!r}: {err.strerror}") from None


#: ``forecast`` options that read data or train, which ``--name`` (a saved model as it is) leaves out.
SAVED_MODEL_CONFLICTS: tuple[str, ...] = ("data", "symbol", "retrain", "plot")


def _saved_model(args: argparse.Namespace) -> Any:
    """The saved model ``--name`` of the models folder, loaded as it is; usage errors for options it cannot take."""
    given = [f"--{name}" for name in SAVED_MODEL_CONFLICTS if getattr(args, name)]
    given += [f"--{name.replace('_', '-')}" for name, value in _model_options(args).items() if value is not None]
    if args.model != "lstm":
        given.append(f"--model {args.model}")
    if given:
        raise UsageError(
            f"--name forecasts the saved model as it is, from the prices it holds: leave out {', '.join(given)} "
            "(train or fit-many --global fit it)"
        )
    from jaxlstm._src.forecasters.lstm import LSTMForecaster

    cache = _cache(args)
    folder = cache.path(args.name)
    if not folder.exists():
        saved = ", ".join(repr(name) for name in cache.symbols()[:10]) or "none"
        raise UsageError(
            f"--name {args.name!r}: no saved model in {cache.directory} (saved: {saved}); fit one with "
            f"jaxlstm fit-many --global --name {args.name} or jaxlstm train"
        )
    model = LSTMForecaster.load(folder)
    if not cache.is_fresh(model):
        _say(
            f"note: the saved model {args.name!r} is older than --max-age-hours {args.max_age_hours:g} (trained at "
            f"{model.trained_at_}); forecasting it all the same"
        )
    return model


def _print_forecasts(forecasts: Any, *, as_json: bool, name: str, horizon: Any) -> None:
    """Forecasts of many series (a global model's): long CSV on stdout, or one JSON document with ``--json``."""
    if as_json:
        doc = {
            "name": name,
            "model": "lstm",
            "horizon": horizon,
            "series": {series: fc.to_dict() for series, fc in forecasts.items()},
        }
        print(json.dumps(doc, indent=2))
        return
    sys.stdout.write(forecasts.to_pandas().to_csv(index=False))


def _forecast_saved(args: argparse.Namespace) -> int:
    """``forecast --name``: the saved model's forecast; every (or each ``--series``) series' of a global model."""
    model = _saved_model(args)
    wanted = None if args.series is None else list(dict.fromkeys(n for names in args.series for n in names))
    if model.series_ is None:
        if wanted is not None:
            raise UsageError(f"--series goes with a global model; {args.name!r} is a model of one series")
        fc = model.forecast(args.horizon, steps=args.steps, level=args.level)
        if args.json:
            print(json.dumps({**fc.to_dict(), "symbol": model.symbol or args.name, "model": "lstm"}, indent=2))
        else:
            _print_table(fc, model.symbol or args.name, "lstm", args.horizon or f"{len(fc)} steps")
        return 0
    if wanted is not None:
        unknown = [n for n in wanted if n not in model.series_]
        if unknown:
            listed = ", ".join(list(model.series_)[:10]) + (", ..." if len(model.series_) > 10 else "")
            raise UsageError(f"--series {','.join(unknown)}: not series of the global model {args.name!r} ({listed})")
        from jaxlstm._src.forecasters.lstm import LSTMForecaster

        chosen = {n: model.series_[n] for n in wanted}
        forecasts = LSTMForecaster.forecast_many(chosen, args.horizon, args.steps, level=args.level)
    else:
        forecasts = model.forecast(args.horizon, steps=args.steps, level=args.level)
    _print_forecasts(forecasts, as_json=args.json, name=args.name, horizon=args.horizon)
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    if args.name is not None:
        return _forecast_saved(args)
    if args.series is not None:
        raise UsageError("--series goes with --name (a saved global model)")
    if args.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError("--plot needs matplotlib: pip install 'jaxlstm[plot]'")
    candles, symbol = _load_candles(args)
    recent = candles[-args.candles :]
    model, kind = _forecaster(args, recent, symbol)
    fc = model.forecast(args.horizon, steps=args.steps, level=args.level)
    if args.plot:
        _plot(args.plot, fc, recent[-max(3 * len(fc), 72) :])
    if args.json:
        doc = fc.to_dict()
        doc["symbol"] = symbol
        doc["model"] = kind.split(" ")[0]
        doc["horizon"] = args.horizon
        doc["steps"] = len(fc)
        print(json.dumps(doc, indent=2))
    else:
        _print_table(fc, symbol, kind, args.horizon or f"{len(fc)} steps")
    if args.plot:
        _say(f"chart written to {args.plot}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from jaxlstm._src.forecasters.lstm import LSTMForecaster

    cache = _cache(args)
    rows: list[dict[str, Any]] = []
    for name in cache.symbols():
        folder = cache.path(name)
        try:
            model = LSTMForecaster.load(folder)
        except (ValueError, OSError) as err:
            rows.append({"symbol": name, "path": str(folder), "damaged": str(err).splitlines()[0]})
            continue
        text, record = _trained_on(model)
        rows.append(
            {
                "symbol": model.symbol or name,
                "path": str(folder),
                "trained_at": model.trained_at_,
                "age_hours": round(cache.age(model).total_seconds() / 3600, 2),
                "fresh": cache.is_fresh(model),
                "trained_on": record,
                "trained_on_text": text,
                "settings": model.get_params(),
                "metrics": model.metrics_ or {},
            }
        )
    damaged = [r for r in rows if "damaged" in r]
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "trained_on_text"} for r in rows], indent=2, default=str))
    elif not rows:
        # A mistyped --models names a folder that is not there: say so, not just "no models".
        missing = "" if pathlib.Path(cache.directory).is_dir() else " (no such folder)"
        print(f"no models in {cache.directory}{missing}")
    else:
        print(f"models in {cache.directory}")
        for r in rows:
            if "damaged" in r:
                print(f"  {r['symbol']:<12} damaged (the next forecast retrains it): {r['damaged']}")
                continue
            m = r["metrics"]
            val = (
                f", val MAE {m['val_mae']:.6g} (naive {m['val_naive_mae']:.6g})" if m.get("val_mae") is not None else ""
            )
            print(
                f"  {r['symbol']:<12} trained {r['trained_at']} ({r['age_hours']} h ago, "
                f"{'fresh' if r['fresh'] else 'stale'}), {m.get('epochs_run')} epochs{val}"
            )
            print(f"  {'':<12} on {r['trained_on_text'] or 'data not recorded (saved by an older version)'}")
    if damaged:
        names = ", ".join(r["symbol"] for r in damaged)
        raise UsageError(f"{len(damaged)} damaged model(s): {names}: {damaged[0]['damaged']}")
    return 0


class _BacktestProgress:
    """``backtest``'s progress callback: one bar per model on stderr (tqdm when installed)."""

    def __init__(self) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        self._tqdm = tqdm
        self._bars: dict[str, Any] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        if self._tqdm is None:
            end = "\n" if done == total else ""
            sys.stderr.write(f"\r{name}: {done}/{total} origins{end}")
            sys.stderr.flush()
            return
        bar = self._bars.get(name)
        if bar is None:
            bar = self._bars[name] = self._tqdm(total=total, desc=name, unit="origin", leave=True)
        bar.update(done - bar.n)
        if done == total:
            bar.close()


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from jaxlstm._src.evaluation import backtest as evaluation

    candles, _ = _load_candles(args)
    steps = horizon_steps(args, candles.timestamps)
    factories = evaluation.make_forecasters(args.compare, **model_settings(args, steps))
    last = len(candles) - steps
    if last < args.train_size:
        raise UsageError(
            f"--train-size {args.train_size} plus a {steps}-step horizon needs more than the {len(candles)} candles given"
        )
    count = min(args.origins, last - args.train_size + 1)
    origins = np.unique(np.linspace(args.train_size, last, count).round().astype(int))
    show = not args.quiet and sys.stderr.isatty()
    if show:
        names = dict.fromkeys([evaluation.REFERENCE, *factories])  # backtest always adds the reference
        _say(f"backtesting {', '.join(names)} at {len(origins)} origins, {steps} steps each")
    result = evaluation.backtest(
        candles,
        factories,
        train_size=args.train_size,
        steps=steps,
        origins=list(origins),
        progress=_BacktestProgress() if show else None,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=float))
    else:
        print(result.to_markdown(per_step=False))
    return 0


def _add_fit_many(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        required=True,
        metavar="FILE",
        help="long-format file of many series: parquet (needs pyarrow) or CSV with columns unique_id, ds, y",
    )
    add_models_folder(p)
    p.add_argument(
        "--processes",
        type=_positive_int,
        help="start this many processes on this host (default: one, or the processes of a SLURM or Open MPI job, "
        "each running this same command)",
    )
    p.add_argument(
        "--no-bind",
        dest="bind",
        action="store_false",
        help="with --processes: let every process run on every core (default: each bound to its own share of this "
        "host's cores, as SLURM's --cpu-bind=cores binds them)",
    )
    p.add_argument(
        "--heartbeat-timeout",
        type=_positive_int,
        default=60,
        metavar="S",
        help="seconds after which a process that stopped answering counts as dead and the others stop",
    )
    p.add_argument(
        "--chunk-size", type=_positive_int, default=256, help="series fitted together before their models are saved"
    )
    p.add_argument(
        "--max-age", type=_positive_float, default=24.0, metavar="HOURS", help="refit saved models older than this"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument(
        "--global",
        dest="global_model",
        action="store_true",
        help="fit ONE global model across every series of the file (one network, each series encoded on its own), "
        "saved in the models folder as --name; in one process it is reused while fresh, across processes "
        "(--processes N, or a SLURM or Open MPI job) each process reads a block of the series and the weights "
        "train data-parallel over all of them",
    )
    p.add_argument(
        "--name", help="with --global: the model's name in the models folder (default: the file's name without suffix)"
    )
    p.add_argument(
        "--steps",
        type=_at_most("MAX_STEPS"),
        help="with --global: print every series' forecast of this many steps as long CSV "
        "(unique_id, ds, predicted, lower, upper), as forecast --name prints a saved global model's (default: no forecast)",
    )
    _add_level_option(p, "with --steps: ")
    p.add_argument("--json", action="store_true", help="with --steps: print JSON instead of long CSV")
    # For a launcher of the user's own (and what --processes passes to the processes it starts).
    p.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="process 0's address, when you start the processes yourself, with --num-processes and --process-id "
        "(default: detected from a SLURM or Open MPI job, else this process alone)",
    )
    p.add_argument(
        "--num-processes", type=_positive_int, help="processes taking part, with --coordinator (default: detected)"
    )
    p.add_argument(
        "--process-id",
        type=_integer(0, None, "a process index >= 0"),
        help="this process's index from 0, with --coordinator (default: detected)",
    )
    add_model_options(p)


def _fit_global(args: argparse.Namespace) -> int:
    """``fit-many --global`` in one process: one global model of every series of the long file, through the model cache."""
    from jaxlstm._src.forecasters.lstm import LSTMForecaster
    from jaxlstm._src.forecasters.model_cache import ModelCache
    from jaxlstm._src.io import long_files

    frame = long_files.read_long_share(args.data, long_files.long_file_ids(args.data))
    # The series in the order of their sorted ids, as across processes (a global fit depends on the order).
    frame = frame.sort_values("unique_id", kind="stable", ignore_index=True)
    name = args.name or pathlib.Path(args.data).stem
    settings = model_settings(args)
    models = args.models or _default_models_dir()

    def train(symbol: str) -> LSTMForecaster:
        if not args.quiet:
            _say(f"jaxlstm fit-many: fitting one global model of {frame['unique_id'].nunique()} series")
        return LSTMForecaster(**settings, symbol=symbol).fit(frame, verbose=not args.quiet)

    cache = ModelCache(models, train_fn=train, max_age=datetime.timedelta(hours=args.max_age))
    fresh = cache.status(name, settings=settings, data=frame).fresh
    model = cache.get(name, settings=settings, data=frame)
    series = len(model.series_ or {})
    print(
        f"{'kept the fresh' if fresh else 'fitted a'} global model {name!r} of {series} series; saved in "
        f"{cache.path(name)}",
        file=sys.stderr if args.steps else sys.stdout,
    )
    if args.steps:
        forecasts = model.forecast(steps=args.steps, level=args.level)
        _print_forecasts(forecasts, as_json=args.json, name=name, horizon=None)
    return 0


def cmd_fit_many(args: argparse.Namespace) -> int:
    if args.global_model:
        if (args.level is not None or args.json) and not args.steps:
            raise UsageError("--level and --json say how to print the forecasts of --steps: give --steps")
    elif args.name is not None or args.steps is not None or args.level is not None or args.json:
        raise UsageError("--name, --steps, --level and --json go with --global (one model across the series)")
    if args.processes is None and not args.bind:
        raise UsageError("--no-bind says how --processes starts its processes: give --processes N")
    if args.processes is not None:
        if args.coordinator is not None:
            raise UsageError("--processes starts its own processes; leave out --coordinator")
        return _launch_processes(args)
    from jaxlstm._src import distributed

    settings = model_settings(args)
    models = args.models or _default_models_dir()
    group = None
    try:
        group = distributed.initialize(
            args.coordinator, args.num_processes, args.process_id, heartbeat_timeout=args.heartbeat_timeout
        )
        if args.global_model and group.size == 1:
            return _fit_global(args)
        report = distributed.fit_many(
            args.data,
            models,
            settings=settings,
            chunk_size=args.chunk_size,
            max_age=datetime.timedelta(hours=args.max_age),
            progress=None if args.quiet else lambda line: _say(f"jaxlstm fit-many: {line}"),
            global_name=(args.name or pathlib.Path(args.data).stem) if args.global_model else None,
        )
    except (UsageError, ValueError, TypeError, RuntimeError, OSError, ImportError) as err:
        if group is None or group.size == 1:
            raise
        # Leave at once: a normal exit would wait in jax.distributed's shutdown for the others,
        # which wait for this one; gone, it stops sending heartbeats and the runtime stops them.
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"jaxlstm fit-many: error: {message}", file=sys.stderr, flush=True)
        os._exit(2)
    if report.model is not None:
        if report.group.rank == 0:
            done = (
                f"fitted a global model {report.model.symbol!r} of {report.total_series} series with "
                f"{report.group.size} processes; saved in {models}"
            )
            # With --steps stdout is the forecast's CSV; on stderr the launcher relays jaxlstm's lines.
            print(f"jaxlstm fit-many: {done}" if args.steps else done, file=sys.stderr if args.steps else sys.stdout)
            if args.steps:
                forecasts = report.model.forecast(steps=args.steps, level=args.level)
                _print_forecasts(forecasts, as_json=args.json, name=report.model.symbol, horizon=None)
        return 0
    if report.group.rank == 0:
        print(
            f"fitted {report.total_fitted} and kept {report.total_skipped} fresh of {report.total_series} series "
            f"with {report.group.size} process{'es' if report.group.size > 1 else ''}; models in {models}"
        )
    return 0


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _without_processes(argv: Sequence[str]) -> list[str]:
    """The command line a started process runs: without the launcher's own options."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == "--processes":
            skip = True
        elif not item.startswith("--processes=") and item != "--no-bind":
            out.append(item)
    return out


def _first_failure(codes: list[int | None]) -> tuple[int, int] | None:
    """``(process, exit code)`` of the failure that caused a run's end, among the processes' codes (None: running).

    The launcher polls every process each round, so the first to fail is the cause; of
    several found ended in one round, one killed by a signal comes first: its peers' errors
    (a collective whose connection it reset) follow from its death within milliseconds,
    never the other way round.
    """
    ended = [(i, code) for i, code in enumerate(codes) if code not in (None, 0)]
    return min(ended, key=lambda e: (e[1] >= 0, e[0])) if ended else None


def _relay_line(line: str, out: Any) -> None:
    """Writes a process's line whole: a process killed mid-line leaves no newline, and the next line must not join it."""
    out.write(line if line.endswith("\n") else line + "\n")
    out.flush()


def _launch_processes(args: argparse.Namespace) -> int:
    """Runs this command in ``--processes`` processes on this host; one line when any of them fails."""
    import signal
    import subprocess
    import threading
    import time

    from jaxlstm._src import processes

    count = args.processes
    base = [sys.executable, "-m", "jaxlstm.cli", *_without_processes(args.argv)]
    base += ["--coordinator", f"127.0.0.1:{_free_port()}", "--num-processes", str(count)]
    errors: dict[int, str] = {}

    def relay(index: int, stream: Any) -> None:
        # The processes' own lines pass; JAX's runtime logs (a dying peer's fatal error and
        # stack) are not for the user, whose one line comes from here.
        for line in stream:
            if stream is procs[index].stdout:
                if not line.startswith("[Gloo]"):  # the collectives' connection notices
                    _relay_line(line, sys.stdout)
                continue
            if line.startswith("jaxlstm fit-many: error: "):
                errors.setdefault(index, line.removeprefix("jaxlstm fit-many: error: ").strip())
            elif line.startswith("jaxlstm") and not args.quiet:
                _relay_line(line, sys.stderr)

    procs = []
    threads = []
    shares = processes.core_shares(count) if args.bind else None
    try:
        for index in range(count):
            proc = subprocess.Popen(
                [*base, "--process-id", str(index)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            procs.append(proc)
            where = ""
            if shares is not None:
                # The new interpreter is still importing (JAX starts its thread pools about a
                # second later): every thread it makes inherits the share.
                os.sched_setaffinity(proc.pid, shares[index])
                where = f" on cores {','.join(map(str, sorted(shares[index])))}"
            _say(f"jaxlstm fit-many: started process {index} of {count} (pid {proc.pid}){where}")
            for stream in (proc.stdout, proc.stderr):
                thread = threading.Thread(target=relay, args=(index, stream), daemon=True)
                thread.start()
                threads.append(thread)
        failed: tuple[int, int] | None = None
        failed_at = deadline = 0.0
        # Every process is polled each round (any() would stop at the first that runs):
        # the one that failed first is the cause, the others' ends are its consequence.
        while [p.poll() for p in procs].count(None):
            if failed is None:
                failed = _first_failure([p.returncode for p in procs])
                if failed is not None:
                    failed_at = time.monotonic()
                    # The runtime stops the others within the heartbeat timeout; past it (and a
                    # margin) they are stopped here.
                    deadline = failed_at + args.heartbeat_timeout + 15
            elif time.monotonic() > deadline:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            time.sleep(0.05)
        if failed is None:
            failed = _first_failure([p.returncode for p in procs])
            failed_at = time.monotonic()
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        raise
    for thread in threads:
        thread.join(timeout=5)
    if failed is None:
        return 0
    index, code = failed
    if index in errors:  # a problem the process could name (bad data, bad settings): its own line
        _say(f"jaxlstm fit-many: error: process {index} of {count} failed: {errors[index]}")
        return 2
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    from jaxlstm._src import distributed

    models = args.models or _default_models_dir()
    saved = len(distributed.complete_models(models))
    others = f"; the other {count - 1} stopped {time.monotonic() - failed_at:.0f} s later" if count > 1 else ""
    # A global model is saved whole by process 0 at the very end, or not at all.
    rest = (
        "run the same command again to fit the global model"
        if args.global_model
        else "run the same command again to fit the rest"
    )
    _say(
        f"jaxlstm fit-many: error: process {index} of {count} {how}{others}; {saved} complete models in {models} ({rest})"
    )
    return 1


class Command(NamedTuple):
    """A subcommand: its name, one line of help, what adds its options, what runs it."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: tuple[Command, ...] = (
    Command("train", "train (or retrain) the LSTM of a symbol and save it", _add_train, cmd_train),
    Command("tune", "search settings by walk-forward validation, save the best model", _add_tune, cmd_tune),
    Command("forecast", "forecast a horizon with a prediction band", _add_forecast, cmd_forecast),
    Command("info", "list the saved models and what each was trained on", _add_info, cmd_info),
    Command("evaluate", "walk-forward backtest against the naive forecast", _add_evaluate, cmd_evaluate),
    Command(
        "fit-many",
        "fit one model per series of a long file, across processes, into the models folder",
        _add_fit_many,
        cmd_fit_many,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxlstm`` command."""
    from jaxlstm._src.version import __version__

    parser = _Parser(
        prog="jaxlstm",
        description="LSTM price forecasting with JAX. Each command's --help lists its options.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"jaxlstm {__version__}")
    parser.add_argument("--no-compile-cache", action="store_true", help="do not use JAX's persistent compilation cache")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help, formatter_class=_Formatter)
        command.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxlstm`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # what fit-many --processes passes on to the processes it starts
    from jaxlstm._src.io import compile_cache

    # The command line is an application, not a component: it reuses compiled code across
    # runs unless told not to (--no-compile-cache, or JAXLSTM_COMPILATION_CACHE=0).
    if not args.no_compile_cache and compile_cache.environment_setting() is not False:
        compile_cache.enable_compilation_cache()
    run = {c.name: c.run for c in COMMANDS}[args.command]
    try:
        return run(args)
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other shell tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (UsageError, ValueError, TypeError, RuntimeError, OSError, OverflowError, ImportError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"jaxlstm {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxlstm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""Tests for the jaxlstm command: every subcommand, its help, its errors (one line, exit code 2)."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from jaxlstm import cli
from jaxlstm._src.io.ohlcv import demo_data_path

FAST = ["--epochs", "3", "--hidden-size", "4", "--candles", "120", "--quiet"]
TUNE_FAST = FAST[:-1]
DEMO = os.path.join(os.path.dirname(cli.__file__), "demo", "Coinbase_BTCUSD_1h.csv")


@pytest.fixture()
def models(tmp_path):
    return str(tmp_path / "models")


def plain_csv(folder, name="NEW", candles=300):
    """The demo's last ``candles`` as a plain OHLCV CSV with no symbol column, named ``name.csv``."""
    from jaxlstm.data import load_demo

    demo = load_demo()[-candles:]
    path = os.path.join(str(folder), f"{name}.csv")
    with open(path, "w") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        for row in zip(demo.timestamps, demo.open, demo.high, demo.low, demo.close, demo.volume, strict=True):
            f.write(f"{np.datetime_as_string(row[0], unit='s')}Z,{','.join(repr(float(v)) for v in row[1:])}\n")
    return path


def run(args, capsys):
    try:
        code = cli.main(["--no-compile-cache", *args])
    except SystemExit as exc:  # argparse's own usage errors and --help
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code, err, needle):
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err and "Traceback" not in err


# ----------------------------------------------------------------------------- help


def subparsers():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, sub.choices


def test_every_option_has_help_that_shows_its_default():
    parser, commands = subparsers()
    assert set(commands) == {"train", "tune", "forecast", "info", "evaluate", "fit-many"}
    for name, p in [("jaxlstm", parser), *commands.items()]:
        formatter = p._get_formatter()
        # One of a required group (--horizon or --steps) is as required as a required option.
        required = {a for g in p._mutually_exclusive_groups if g.required for a in g._group_actions}
        for action in p._actions:
            if not action.option_strings or action.dest in ("help", "version"):
                continue
            assert action.help, f"{name} {action.option_strings[0]} has no help"
            text = formatter._get_help_string(action) % vars(action)
            assert action.required or action in required or "default" in text, f"{name} {action.option_strings[0]}"


def test_models_means_a_folder_everywhere_and_evaluate_compares_models():
    _, commands = subparsers()
    for name, p in commands.items():
        options = {o for a in p._actions for o in a.option_strings}
        assert ("--models" in options) == (name != "evaluate"), name
    evaluate = {a.dest: a for a in commands["evaluate"]._actions}
    assert evaluate["compare"].default == "lstm,hybrid,naive"


@pytest.mark.slow
def test_help_returns_without_importing_jax():
    script = textwrap.dedent(
        """
        import sys
        from jaxlstm import cli
        for argv in (["--help"], ["train", "--help"], ["forecast", "--horizon", "2d", "--help"],
                     ["info", "--help"], ["evaluate", "--help"]):
            try:
                cli.main(argv)
            except SystemExit as exc:
                assert exc.code == 0, (argv, exc.code)
        heavy = sorted(m for m in ("jax", "jaxlib", "optax", "orbax") if m in sys.modules)
        assert not heavy, heavy
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "forecast" in out.stdout and "--compare" in out.stdout


@pytest.mark.slow
def test_console_script_is_installed():
    # The script pip installed next to this interpreter, not `python -m`: it proves the entry point exists.
    script = shutil.which("jaxlstm", path=os.path.dirname(sys.executable))
    assert script is not None, f"no jaxlstm console script next to {sys.executable}; reinstall the package"
    out = subprocess.run([script, "--help"], capture_output=True, text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "forecast" in out.stdout and "evaluate" in out.stdout


# ----------------------------------------------------------------------------- train and forecast


@pytest.mark.slow
def test_train_without_data_uses_the_demo_and_says_where_it_saved(models, capsys):
    code, out, err = run(["train", "--models", models, *FAST], capsys)
    assert code == 0, err
    assert out.startswith("trained BTCUSD on 120 candles: ")
    assert f"saved to {os.path.join(models, 'BTCUSD')}" in out
    assert os.path.isfile(os.path.join(models, "BTCUSD", "metadata.json"))
    # --name forecasts the saved model as it is: the model's own forecast, nothing trained.
    import jaxlstm as jl

    code, out, err = run(["forecast", "--models", models, "--name", "BTCUSD", "--steps", "3", "--json"], capsys)
    assert code == 0 and "training" not in err, err
    expected = jl.LSTMForecaster.load(os.path.join(models, "BTCUSD")).forecast(steps=3).predicted
    found = [row["predicted"] for row in json.loads(out)["predictions"]]
    assert found == pytest.approx(expected.tolist(), rel=1e-12)
    code, _, err = run(["forecast", "--models", models, "--name", "BTCUSD", "--steps", "3", "--series", "A"], capsys)
    one_line_error(code, err, "--series goes with a global model; 'BTCUSD' is a model of one series")


@pytest.mark.slow
def test_forecast_trains_once_says_so_then_uses_the_cache(models, tmp_path, capsys):
    png = tmp_path / "fc.png"
    code, out, err = run(
        ["forecast", "--horizon", "1d", "--models", models, "--json", "--plot", str(png), *FAST], capsys
    )
    assert code == 0, err
    assert "training the BTCUSD LSTM: no model saved" in err
    assert f"saved to {os.path.join(models, 'BTCUSD')}" in err and f"chart written to {png}" in err
    doc = json.loads(out)
    assert doc["symbol"] == "BTCUSD" and doc["model"] == "lstm" and doc["horizon"] == "1d"
    assert len(doc["predictions"]) == 24 and doc["predictions"][0]["step"] == 1
    assert set(doc["predictions"][0]) == {"step", "timestamp", "predicted", "lower", "upper", "confidence"}
    names = ("adaptive conformal", "adaptive conformal pooled over steps", "conformal", "volatility")
    assert all(part in names for part in doc["band"].removeprefix("wider of ").split(" and ")), doc["band"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The second run finds the fresh model and trains nothing; its table names the band.
    code, out, err = run(["forecast", "--horizon", "36h", "--models", models, *FAST], capsys)
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert lines[0] == f"BTCUSD forecast, horizon 36h, model lstm, 95% interval ({doc['band']} band)"
    assert lines[2].startswith("2019-10-17 10:00") and len(lines) == 2 + 36
    # --retrain trains anyway and says why.
    code, _, err = run(["forecast", "--horizon", "1h", "--models", models, "--retrain", *FAST], capsys)
    assert code == 0 and "training the BTCUSD LSTM: --retrain" in err and "saved to" in err


def test_business_day_candles_are_forecast_on_the_weekdays_after_them_as_dates(models, tmp_path, capsys):
    path = tmp_path / "SPY.csv"
    dates = pd.bdate_range("2024-01-01", periods=200)  # 40 weeks: ends on Friday 2024-10-04
    closes = np.linspace(400.0, 450.0, 200)
    candles = {"open": closes, "high": closes, "low": closes, "close": closes, "volume": 1e6}
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), **candles}).to_csv(path, index=False)
    code, out, err = run(["forecast", "--model", "hybrid", "--data", str(path), "--horizon", "1w"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[1].split()[:2] == ["date", "predicted"]
    assert [line.split()[0] for line in lines[2:]] == [
        "2024-10-07",
        "2024-10-08",
        "2024-10-09",
        "2024-10-10",
        "2024-10-11",
    ]


def test_the_band_of_a_step_is_the_same_for_every_horizon(models, capsys):
    rows = {}
    for horizon in ("1h", "1d", "7d"):
        code, out, err = run(["forecast", "--model", "hybrid", "--horizon", horizon, "--json"], capsys)
        assert code == 0, err
        doc = json.loads(out)
        rows[horizon] = (doc["band"], doc["predictions"][0]["lower"], doc["predictions"][0]["upper"])
    assert len(set(rows.values())) == 1, rows


@pytest.mark.slow
def test_train_then_info_then_auto_forecast(models, tmp_path, capsys):
    code, out, err = run(["train", "--data", DEMO, "--symbol", "BTC/USD", "--models", models, *FAST], capsys)
    assert code == 0, err
    code, out, err = run(["info", "--models", models, "--json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert rows[0]["symbol"] == "BTC/USD" and rows[0]["fresh"] is True and rows[0]["settings"]["hidden_size"] == 4
    code, out, _ = run(["info", "--models", models], capsys)
    assert out.startswith(f"models in {models}") and "BTC/USD" in out and "fresh" in out
    auto = ["forecast", "--horizon", "1h", "--models", models, "--model", "auto", "--json", *FAST]
    code, out, err = run([*auto, "--data", DEMO, "--symbol", "BTC/USD"], capsys)
    assert code == 0, err
    assert json.loads(out)["model"] == "lstm"
    # A plain CSV is saved under its file's name: no model of NEW yet, so auto falls back to hybrid.
    code, out, err = run([*auto, "--data", plain_csv(tmp_path, "NEW")], capsys)
    assert code == 0, err
    assert json.loads(out)["model"] == "hybrid" and json.loads(out)["symbol"] == "NEW"


def test_info_of_an_empty_folder(models, capsys):
    os.makedirs(models, exist_ok=True)
    code, out, _ = run(["info", "--models", models], capsys)
    assert code == 0 and out.strip() == f"no models in {models}"
    # A mistyped folder answered "no models" as if it were this empty one.
    code, out, _ = run(["info", "--models", f"{models}-typo"], capsys)
    assert code == 0 and out.strip() == f"no models in {models}-typo (no such folder)"


# ----------------------------------------------------------------------------- models keyed by data and settings


@pytest.mark.slow
def test_other_settings_or_data_retrain_and_say_why(models, capsys):
    code, _, err = run(["train", "--models", models, *FAST], capsys)
    assert code == 0, err
    code, _, err = run(["forecast", "--horizon", "1h", "--models", models, *FAST], capsys)
    assert code == 0 and "training" not in err
    code, _, err = run(["forecast", "--horizon", "1h", "--models", models, *FAST, "--hidden-size", "5"], capsys)
    assert code == 0 and "training the BTCUSD LSTM: settings differ" in err and "hidden_size" in err
    code, _, err = run(
        ["forecast", "--horizon", "1h", "--models", models, *FAST, "--hidden-size", "5", "--candles", "121"], capsys
    )
    assert code == 0 and "training the BTCUSD LSTM: trained on other data" in err


@pytest.mark.slow
def test_info_shows_what_each_model_was_trained_on(models, capsys):
    code, _, err = run(["train", "--models", models, *FAST], capsys)
    assert code == 0, err
    code, out, _ = run(["info", "--models", models], capsys)
    assert "on 120 1h prices 2019-10-12 10:00 .. 2019-10-17 09:00" in out
    code, out, _ = run(["info", "--models", models, "--json"], capsys)
    record = json.loads(out)[0]["trained_on"]
    assert record["count"] == 120 and record["interval_ns"] == 3600 * 10**9


# ----------------------------------------------------------------------------- evaluate


def test_evaluate_compares_models_shows_progress_and_naive_has_no_direction(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    args = ["evaluate", "--horizon", "4h", "--origins", "3", "--train-size", "150", "--compare", "drift"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    assert "backtesting naive, drift at 3 origins, 4 steps each" in err and "3/3" in err
    assert "3 origins" in out and "| drift |" in out
    naive = next(line for line in out.splitlines() if line.startswith("| naive |"))
    assert naive.split("|")[8].strip() == "n/a"  # directional accuracy: a flat forecast has no direction
    code, out, err = run([*args, "--json", "--quiet"], capsys)
    assert code == 0 and err == ""
    assert json.loads(out)["models"]["naive"]["metrics"]["directional_accuracy"] is None


@pytest.mark.slow
def test_evaluate_with_the_lstm(capsys):
    args = ["evaluate", "--horizon", "4h", "--origins", "2", "--train-size", "150", "--epochs", "2"]
    code, out, err = run([*args, "--hidden-size", "4", "--compare", "lstm,hybrid"], capsys)
    assert code == 0, err
    assert "| lstm |" in out and "| hybrid |" in out and "| naive | 1 |" in out


# ----------------------------------------------------------------------------- errors: one line, exit code 2


@pytest.mark.parametrize(
    "args, needle",
    [
        (["forecast", "--horizon", "2 fortnights"], "unknown unit"),
        # A fraction meant as a level was told in the library's Python terms (level=[95]).
        (
            ["forecast", "--horizon", "1d", "--level", "0.8,0.95"],
            "levels are in percent, at least 1: for 80,95% give --level 80,95",
        ),
        (["forecast", "--horizon", "90min", "--model", "hybrid"], "not a whole number"),
        (["forecast", "--horizon", "1d", "--data", "/no/such/file.csv"], "no such file"),
        (["forecast", "--horizon", "1d", "--epochs", "0"], "positive integer"),
        (["forecast", "--horizon", "1d", "--seed", str(10**25)], "--seed: expected an integer from 0 to 2**63 - 1"),
        (["train", "--seed", "-1"], "--seed"),
        (["info", "--models", ""], "--models: expected a folder, got an empty name"),
        (["forecast", "--horizon", "1d", "--models", " "], "--models: expected a folder"),
        (["forecast", "--horizon", "1d", "--plot", "/tmp"], "is a folder"),
        (["forecast", "--horizon", "1d", "--plot", "chart"], "ending in .png"),
        (["forecast", "--horizon", "1d", "--plot", "/no/such/folder/chart.png"], "does not exist"),
        (["evaluate", "--horizon", "1d", "--models", "lstm"], "unrecognized arguments: --models"),
        (["evaluate", "--horizon", "1d", "--compare", "lstm,prophet"], "prophet"),
        (["evaluate", "--horizon", "1d", "--compare", ","], "model names"),
        (["evaluate", "--horizon", "7d", "--train-size", "5000"], "train-size"),
        (["forecast"], "--horizon"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args, needle, capsys, models):
    if "--models" not in args and args[0] != "evaluate":
        args = [*args, "--models", models]
    code, _, err = run(args, capsys)
    one_line_error(code, err, needle)
    assert not os.path.exists("/tmp.png")


def test_bad_csv_is_one_line_error(tmp_path, capsys, models):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n1,1,1,1,abc,1\n")
    code, _, err = run(["forecast", "--horizon", "1h", "--data", str(bad), "--symbol", "X", "--models", models], capsys)
    one_line_error(code, err, "close")


def test_a_huge_csv_field_is_one_line_error(tmp_path, capsys, models):
    bad = tmp_path / "huge.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n" + "1," * 4 + "1" * 2_000_000 + ",1\n")
    code, _, err = run(["forecast", "--horizon", "1h", "--data", str(bad), "--symbol", "X", "--models", models], capsys)
    one_line_error(code, err, "huge.csv")


def test_microsecond_data_is_one_line_error(tmp_path, capsys, models):
    rows = "\n".join(f"{1_600_000_000_000_000 + i},{p},{p},{p},{p},1" for i, p in enumerate(np.linspace(100, 110, 200)))
    data = tmp_path / "micro.csv"
    data.write_text("timestamp,open,high,low,close,volume\n" + rows + "\n")
    args = ["forecast", "--horizon", "1h", "--data", str(data), "--symbol", "X", "--models", models]
    code, _, err = run([*args, "--model", "hybrid"], capsys)
    one_line_error(code, err, "steps")


@pytest.mark.slow
def test_a_tampered_model_is_retrained_by_forecast_and_reported_by_info(models, capsys):
    code, _, err = run(["train", "--models", models, *FAST], capsys)
    assert code == 0, err
    metadata = os.path.join(models, "BTCUSD", "metadata.json")
    with open(metadata, "r+b") as f:
        f.seek(10)
        f.write(b"#")
    code, out, err = run(["info", "--models", models], capsys)
    one_line_error(code, err, "damaged")
    assert "BTCUSD" in out and "damaged" in out
    code, out, err = run(["info", "--models", models, "--json"], capsys)
    assert code == 2 and "damaged" in json.loads(out)[0]
    code, out, err = run(["forecast", "--horizon", "1h", "--models", models, *FAST], capsys)
    assert code == 0 and "Traceback" not in err
    assert "training the BTCUSD LSTM" in err and "saved to" in err
    code, _, err = run(["info", "--models", models], capsys)
    assert code == 0, err


@pytest.mark.slow
def test_train_with_an_ensemble_saves_a_population(models, capsys):
    code, out, err = run(["train", "--models", models, "--ensemble", "3", *FAST], capsys)
    assert code == 0, err
    assert "saved to" in out
    from jaxlstm import LSTMForecaster

    model = LSTMForecaster.load(os.path.join(models, "BTCUSD"))
    assert model.n_members == 3 and model.get_params()["ensemble"] == 3


@pytest.mark.slow
def test_tune_prints_the_trials_and_saves_the_best(models, capsys):  # tune shows no progress: no --quiet
    args = ["tune", "--models", models, "--search", "learning_rate=1e-3,1e-2", "--steps", "4"]
    code, out, err = run([*args, "--folds", "1", "--sequence-length", "8", *TUNE_FAST], capsys)
    assert code == 0, err
    assert "2 trials" in out and "<- best" in out and "saved to" in out
    code, out, err = run([*args, "--folds", "1", "--sequence-length", "8", "--json", *TUNE_FAST], capsys)
    assert code == 0, err
    assert len(json.loads(out)["rows"]) == 2


@pytest.mark.parametrize(
    ("search", "needle"),
    [("learning_rate", "SETTING=V1,V2"), ("no_such=1,2", "not a tunable"), ("hidden_size=0", "invalid value")],
)
def test_tune_bad_search_is_one_line(models, capsys, search, needle):
    code, _, err = run(["tune", "--models", models, "--search", search, *TUNE_FAST], capsys)
    assert code == 2 and needle in err and "Traceback" not in err


@pytest.mark.slow
def test_architecture_and_features_from_the_command_line(models, capsys):
    import jaxlstm as jl

    rich = ["--architecture", "transformer", "--features", "close,volume,range", "--sequence-length", "8"]
    code, out, err = run(["train", "--data", demo_data_path().as_posix(), "--models", models, *rich, *FAST], capsys)
    assert code == 2 and "--direct-steps" in err
    code, out, err = run(
        [
            "train",
            "--data",
            demo_data_path().as_posix(),
            "--models",
            models,
            *rich,
            "--direct-steps",
            "4",
            *FAST,
        ],
        capsys,
    )
    assert code == 0, err
    saved = jl.LSTMForecaster.load(os.path.join(models, "BTCUSD"))
    assert saved.architecture == "transformer" and saved.features == ("close", "volume", "range")
    assert saved.direct_steps == 4
    # The cached direct model forecasts up to its 4 steps; a longer horizon is a one-line error.
    code, out, err = run(["forecast", "--horizon", "4h", "--models", models, "--json", *rich, *FAST], capsys)
    assert code == 0, err
    assert len(json.loads(out)["predictions"]) == 4
    # Asked for 4 steps at once, a day of hourly candles is a one-line error.
    code, out, err = run(
        ["forecast", "--horizon", "1d", "--models", models, *rich, "--direct-steps", "4", *FAST], capsys
    )
    assert code == 2 and "steps must be at most 4" in err and "Traceback" not in err
    # Without --direct-steps the head forecasts the horizon: a 24-step model is trained for it.
    code, out, err = run(["forecast", "--horizon", "1d", "--models", models, "--json", *rich, *FAST], capsys)
    assert code == 0 and "settings differ: direct_steps 24 != 4" in err, err
    assert len(json.loads(out)["predictions"]) == 24


@pytest.mark.slow
def test_evaluate_with_features_and_a_direct_head(capsys):
    args = [
        "evaluate",
        "--horizon",
        "4h",
        "--origins",
        "2",
        "--train-size",
        "150",
        "--epochs",
        "2",
        "--hidden-size",
        "4",
    ]
    code, out, err = run([*args, "--compare", "lstm", "--architecture", "bilstm", "--features", "close,volume"], capsys)
    assert code == 0, err
    assert "2 origins" in out and "| lstm |" in out
    code, _, err = run([*args, "--features", "close,obv"], capsys)
    assert code == 2 and "unknown feature 'obv'" in err
    # The estimator validates the choice (the command does not restate it) and names the setting.
    code, _, err = run([*args, "--architecture", "gru"], capsys)
    assert code == 2 and "architecture must be one of" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- the newcomer's command lines


def test_version(capsys):
    from jaxlstm import __version__

    code, out, err = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"jaxlstm {__version__}" and err == ""


@pytest.mark.parametrize(
    "command",
    [
        ["train", *FAST],
        ["forecast", "--horizon", "4h", *FAST],
        ["tune", "--search", "learning_rate=1e-3,1e-2", "--folds", "1", "--steps", "2", *TUNE_FAST],
        ["evaluate", "--horizon", "4h", "--compare", "drift", "--origins", "2", "--train-size", "150"],
    ],
)
def test_symbol_does_not_relabel_the_demo_data(command, models, capsys):
    args = [*command, "--symbol", "ETHUSD"] + (["--models", models] if command[0] != "evaluate" else [])
    code, out, err = run(args, capsys)
    one_line_error(code, err, "--symbol 'ETHUSD'")
    assert "demo data holds BTCUSD" in err and "--data" in err and out == ""
    assert not os.path.exists(models)


def test_the_demo_symbol_written_another_way_is_the_demo(capsys):
    code, out, err = run(["forecast", "--model", "hybrid", "--horizon", "1h", "--symbol", "BTC/USD", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["symbol"] == "BTC/USD"


def test_steps_instead_of_a_horizon(capsys):
    code, out, err = run(["forecast", "--model", "hybrid", "--steps", "5", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["predictions"]) == 5 and doc["steps"] == 5 and doc["horizon"] is None
    assert doc["predictions"][0]["timestamp"] == "2019-10-17T10:00:00Z"
    code, out, err = run(["forecast", "--model", "hybrid", "--steps", "3"], capsys)
    assert code == 0, err
    assert out.splitlines()[0].startswith("BTCUSD forecast, horizon 3 steps, model hybrid")
    assert len(out.strip().splitlines()) == 2 + 3
    code, out, err = run(["forecast", "--model", "hybrid", "--horizon", "2h", "--json"], capsys)
    assert code == 0 and json.loads(out)["steps"] == 2 and json.loads(out)["horizon"] == "2h"
    code, out, err = run(
        ["evaluate", "--steps", "4", "--compare", "drift", "--origins", "2", "--train-size", "150"], capsys
    )
    assert code == 0, err
    assert "| drift |" in out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["forecast", "--horizon", "24"], "for 24 candles use --steps 24"),
        (["forecast", "--horizon", "4h", "--steps", "4"], "not allowed with argument"),
        (["forecast", "--steps", "0"], "--steps: expected an integer from 1 to 1000000"),
        (["forecast", "--steps", "1000001"], "--steps: expected an integer from 1 to 1000000"),
        (["evaluate", "--steps", "4", "--horizon", "4h"], "not allowed with argument"),
        (["evaluate"], "one of the arguments --horizon --steps is required"),
        (["forecast", "--horizon", "200000d", "--model", "hybrid"], "more than the 1,000,000 steps"),
        (["forecast", "--horizon", "106752d", "--model", "hybrid"], "more than the 1,000,000 steps"),
        (["forecast", "--horizon", "41667d", "--model", "hybrid"], "more than the 1,000,000 steps"),
        (["train", "--hidden-size", "100000000"], "--hidden-size: expected an integer from 1 to 4096"),
        (["forecast", "--steps", "4", "--sequence-length", "10000000"], "--sequence-length: expected an integer"),
        (["train", "--direct-steps", "10000000", "--features", "close,volume"], "--direct-steps: expected an"),
    ],
)
def test_steps_and_sizes_are_one_line_errors(args, needle, capsys, models):
    if args[0] != "evaluate":
        args = [*args, "--models", models]
    code, out, err = run(args, capsys)
    one_line_error(code, err, needle)
    assert out == "" and not os.path.exists(models)


def test_a_plain_csv_is_named_after_its_file(tmp_path, capsys):
    data = plain_csv(tmp_path, "eth_1h")
    code, out, err = run(["forecast", "--model", "hybrid", "--steps", "2", "--data", data, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["symbol"] == "eth_1h"
    code, out, err = run(["forecast", "--model", "hybrid", "--steps", "2", "--data", data, "--symbol", "ETH"], capsys)
    assert code == 0 and out.startswith("ETH forecast"), err


def test_models_must_be_a_folder(tmp_path, capsys):
    afile = tmp_path / "models.txt"
    afile.write_text("not a folder")
    for args in (
        ["info", "--models", str(afile)],
        ["train", "--models", str(afile), *FAST],
        ["forecast", "--horizon", "1h", "--models", str(afile), *FAST],
        ["train", "--models", str(afile / "inside"), *FAST],
    ):
        code, out, err = run(args, capsys)
        one_line_error(code, err, "--models: expected a folder")
        assert str(afile) in err and "Errno" not in err and out == ""
    assert afile.read_text() == "not a folder"


def test_season_length_and_encoding_options_become_settings():
    parser = argparse.ArgumentParser()
    cli.add_model_options(parser)
    settings = cli.model_settings(parser.parse_args(["--season-length", "auto", "--encoding", "window"]))
    assert settings["season_length"] == "auto" and settings["encoding"] == "window"
    assert cli.model_settings(parser.parse_args(["--season-length", "24"]))["season_length"] == 24
    defaults = cli.model_settings(parser.parse_args(["--season-length", "none"]))
    assert defaults["season_length"] is None and defaults["encoding"] == "seasonal"
    assert cli.model_settings(parser.parse_args([]))["season_length"] == "auto"
    assert cli.model_settings(parser.parse_args(["--shrink", "auto"]))["shrink"] == "auto"
    assert cli.model_settings(parser.parse_args(["--shrink", "none"]))["shrink"] is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--season-length", "1"])


def test_repeated_features_are_all_read():
    # --features close --features volume kept the volume alone (argparse's last value wins).
    parser = argparse.ArgumentParser()
    cli.add_model_options(parser)
    given = ["--features", "close", "--features", "volume,rsi", "--direct-steps", "4"]
    settings = cli.model_settings(parser.parse_args(given))
    assert settings["features"] == ("close", "volume", "rsi")
    one = ["--features", "close,volume", "--direct-steps", "4"]
    assert cli.model_settings(parser.parse_args(one))["features"] == ("close", "volume")
    assert cli.model_settings(parser.parse_args([]))["features"] == ("close",)


def test_band_option_becomes_the_setting_and_a_bad_band_is_one_line(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    cli.add_model_options(parser)
    assert cli.model_settings(parser.parse_args(["--band", "quantile"]))["band"] == "quantile"
    from jaxlstm import LSTMForecaster

    assert cli.model_settings(parser.parse_args([]))["band"] == LSTMForecaster().band
    code, out, err = run(["train", "--models", str(tmp_path), "--band", "bogus", *FAST], capsys)
    one_line_error(code, err, "band")
    assert "quantile" in err and out == "" and not any(tmp_path.iterdir())


def test_forecast_at_several_levels(models, capsys):
    code, out_json, err = run(["forecast", "--model", "hybrid", "--steps", "3", "--level", "80,95", "--json"], capsys)
    assert code == 0, err
    row = json.loads(out_json)["predictions"][0]
    assert row["lo-95"] <= row["lo-80"] <= row["predicted"] <= row["hi-80"] <= row["hi-95"]
    assert row["lower"] == row["lo-95"] and row["confidence"] == 0.95
    code, out, err = run(["forecast", "--model", "hybrid", "--steps", "2", "--level", "80,95"], capsys)
    assert code == 0 and "lo-80" in out.splitlines()[1] and "hi-95" in out.splitlines()[1], err
    assert ", 80% and 95% intervals (" in out.splitlines()[0]  # it said "95% interval" above the 80% columns
    code, _, err = run(["forecast", "--model", "hybrid", "--steps", "2", "--level", "120"], capsys)
    assert code == 2 and "--level" in err
    # --level 80 --level 95 kept the 95 alone (argparse's last value wins): both now, like 80,95.
    code, repeated, err = run(
        ["forecast", "--model", "hybrid", "--steps", "3", "--level", "80", "--level", "95", "--json"], capsys
    )
    assert code == 0 and json.loads(repeated) == json.loads(out_json), err
    code, _, err = run(["forecast", "--model", "hybrid", "--steps", "2", "--level", "95", "--level", "95"], capsys)
    one_line_error(code, err, "level must be distinct")


# ----------------------------------------------------------------------------- fit-many --global


def _long_file(folder, lengths=(60, 75)):
    import pandas as pd

    rng = np.random.default_rng(3)
    parts = [
        pd.DataFrame(
            {
                "unique_id": f"S{i}",
                "ds": pd.date_range("2024-01-01", periods=n, freq="D"),
                "y": 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n))),
            }
        )
        for i, n in enumerate(lengths)
    ]
    path = os.path.join(str(folder), "group.csv")
    pd.concat(parts).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_fit_many_global_fits_one_model_of_the_file_prints_its_forecasts_and_reuses_it(tmp_path, models, capsys):
    import jaxlstm as jl

    data = _long_file(tmp_path)
    args = ["fit-many", "--data", data, "--global", "--models", models, "--epochs", "2", "--hidden-size", "4"]
    code, out, err = run([*args, "--steps", "3", "--quiet"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "unique_id,ds,predicted,lower,upper" and len(lines) == 1 + 2 * 3
    assert [line.split(",")[:2] for line in lines[1:3]] == [["S0", "2024-03-01"], ["S0", "2024-03-02"]]
    assert "fitted a global model 'group' of 2 series" in err
    saved = jl.LSTMForecaster.load(os.path.join(models, os.listdir(models)[0]))
    assert list(saved.series_) == ["S0", "S1"] and saved.symbol == "group"
    predicted = saved.forecast(steps=3)["S1"].predicted
    assert [float(line.split(",")[2]) for line in lines[4:]] == pytest.approx(predicted.tolist(), rel=1e-12)
    code, out, err = run([*args, "--quiet"], capsys)
    assert code == 0 and out.startswith("kept the fresh global model 'group'"), err
    code, out, err = run([*args, "--quiet", "--steps", "2", "--level", "80", "--json"], capsys)
    assert code == 0 and "kept the fresh global model" in err, err
    assert (
        list(json.loads(out)["series"]) == ["S0", "S1"] and "lo-80" in json.loads(out)["series"]["S0"]["predictions"][0]
    )
    # The saved global model, forecast by a new process from the models folder: every series, or some.
    command = [sys.executable, "-m", "jaxlstm.cli", "--no-compile-cache", "forecast", "--models", models]
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(cli.__file__))}
    done = subprocess.run(
        [*command, "--name", "group", "--steps", "3", "--series", "S1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    shown = done.stdout.strip().splitlines()
    assert shown[0] == "unique_id,ds,predicted,lower,upper" and [line.split(",")[0] for line in shown[1:]] == ["S1"] * 3
    assert [float(line.split(",")[2]) for line in shown[1:]] == pytest.approx(predicted.tolist(), rel=1e-12)
    code, out, err = run(
        ["forecast", "--models", models, "--name", "group", "--horizon", "2d", "--level", "80,95", "--json"], capsys
    )
    assert code == 0, err
    doc = json.loads(out)
    assert list(doc["series"]) == ["S0", "S1"] and len(doc["series"]["S0"]["predictions"]) == 2
    assert "lo-80" in doc["series"]["S1"]["predictions"][0]
    code, _, err = run(["forecast", "--models", models, "--name", "group", "--steps", "2", "--series", "S9"], capsys)
    one_line_error(code, err, "--series S9: not series of the global model 'group' (S0, S1)")


def test_forecast_of_a_saved_model_by_name_refuses_data_training_and_missing_models(tmp_path, models, capsys):
    code, _, err = run(["forecast", "--name", "group", "--steps", "2", "--data", "x.csv", "--epochs", "3"], capsys)
    one_line_error(
        code, err, "--name forecasts the saved model as it is, from the prices it holds: leave out --data, --epochs"
    )
    code, _, err = run(["forecast", "--models", models, "--name", "group", "--steps", "2"], capsys)
    one_line_error(code, err, "--name 'group': no saved model in")
    code, _, err = run(["forecast", "--model", "hybrid", "--steps", "2", "--series", "S0"], capsys)
    one_line_error(code, err, "--series goes with --name")


def test_fit_many_name_and_steps_need_global(tmp_path, models, capsys):
    code, _, err = run(["fit-many", "--data", _long_file(tmp_path), "--steps", "3"], capsys)
    one_line_error(code, err, "--name, --steps, --level and --json go with --global")
    code, _, err = run(["fit-many", "--data", _long_file(tmp_path), "--global", "--json"], capsys)
    one_line_error(code, err, "--level and --json say how to print the forecasts of --steps")
    # A global model runs across processes too (tests/test_distributed.py); the launcher's own rules apply.
    command = ["fit-many", "--data", "x.csv", "--global", "--processes", "2", "--coordinator", "127.0.0.1:1"]
    code, _, err = run(command, capsys)
    one_line_error(code, err, "--processes starts its own processes; leave out --coordinator")
    code, _, err = run(["fit-many", "--data", "x.csv", "--no-bind"], capsys)
    one_line_error(code, err, "--no-bind says how --processes starts its processes: give --processes N")


def test_the_processes_a_launcher_starts_run_without_its_own_options():
    from jaxlstm.cli import _without_processes

    argv = ["fit-many", "--data", "x.csv", "--processes", "2", "--no-bind", "--epochs", "3", "--processes=4"]
    assert _without_processes(argv) == ["fit-many", "--data", "x.csv", "--epochs", "3"]


# ----------------------------------------------------------------------------- seasonal encoding and calendar inputs


def test_calendar_and_seasonal_encoding_options_become_settings():
    parser = argparse.ArgumentParser()
    cli.add_model_options(parser)
    settings = cli.model_settings(parser.parse_args(["--encoding", "seasonal", "--season-length", "12"]))
    assert settings["encoding"] == "seasonal" and settings["season_length"] == 12
    assert cli.model_settings(parser.parse_args(["--calendar", "auto"]))["calendar"] == "auto"
    assert cli.model_settings(parser.parse_args(["--calendar", "none"]))["calendar"] is None
    assert cli.model_settings(parser.parse_args(["--calendar", "Hour, weekday"]))["calendar"] == ("hour", "weekday")
    from jaxlstm import LSTMForecaster

    assert cli.model_settings(parser.parse_args([]))["calendar"] == LSTMForecaster().calendar
    with pytest.raises(SystemExit):
        parser.parse_args(["--calendar", ","])


@pytest.mark.slow
def test_seasonal_encoding_and_calendar_train_forecast_and_fit_many(tmp_path, models, capsys):
    import jaxlstm as jl

    options = ["--encoding", "seasonal", "--season-length", "auto", "--calendar", "auto"]
    code, out, err = run(["train", "--models", models, *options, *FAST], capsys)
    assert code == 0, err
    saved = jl.LSTMForecaster.load(os.path.join(models, "BTCUSD"))
    assert saved.encoding == "seasonal" and saved.calendar_ == ("hour", "weekday")
    # The forecast finds the model fresh for the same candles and options, and forecasts from them.
    code, out, err = run(["forecast", "--steps", "3", "--models", models, "--json", *options, *FAST], capsys)
    assert code == 0 and "training" not in err, err
    assert len(json.loads(out)["predictions"]) == 3
    code, out, err = run(["forecast", "--steps", "3", "--models", models, "--calendar", "hour,bogus", *FAST], capsys)
    one_line_error(code, err, "calendar must be one of ('hour', 'weekday'")
    # fit-many: each series its own model with these settings, then kept while fresh.
    data, many = _long_file(tmp_path), str(tmp_path / "many")
    command = ["fit-many", "--data", data, "--models", many, "--epochs", "2", "--hidden-size", "4", *options]
    code, out, err = run([*command, "--quiet"], capsys)
    assert code == 0, err
    for name in ("S0", "S1"):
        model = jl.LSTMForecaster.load(os.path.join(many, name))
        assert model.encoding == "seasonal" and model.calendar_ == ("weekday",)
        assert np.all(np.isfinite(model.forecast(steps=3).predicted))
    code, out, err = run(command, capsys)
    assert code == 0 and "2 fresh, 0 to fit" in err, err

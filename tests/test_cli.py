import json
import os
import shutil
import subprocess
import sys

import pytest

from jaxlstm import cli

FAST = ["--epochs", "3", "--hidden-size", "4", "--candles", "120", "--quiet"]


@pytest.fixture()
def models(tmp_path):
    return str(tmp_path / "models")


def run(args, capsys):
    code = cli.main(["--no-compile-cache", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_forecast_on_demo_data_prints_a_table(models, capsys):
    code, out, err = run(["forecast", "--horizon", "4h", "--models", models, *FAST], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert "BTCUSD" in lines[0] and "95%" in lines[0]
    assert lines[2].startswith("2019-10-17 10:00") and len(lines) == 2 + 4


def test_forecast_json_and_plot(models, tmp_path, capsys):
    png = tmp_path / "fc.png"
    code, out, err = run(
        ["forecast", "--horizon", "1d", "--models", models, "--json", "--plot", str(png), *FAST], capsys
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["symbol"] == "BTCUSD" and len(doc["predictions"]) == 24
    assert set(doc["predictions"][0]) == {"timestamp", "predicted", "lower", "upper", "confidence"}
    assert doc["band"] in ("conformal", "conformal_pooled", "volatility")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_then_info_then_cached_forecast(models, capsys, tmp_path):
    data = os.path.join(os.path.dirname(cli.__file__), "demo", "Coinbase_BTCUSD_1h.csv")
    code, out, err = run(["train", "--data", data, "--symbol", "BTC/USD", "--models", models, *FAST], capsys)
    assert code == 0, err
    assert "saved to" in out
    code, out, err = run(["info", "--models", models, "--json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert rows[0]["symbol"] == "BTC/USD" and rows[0]["fresh"] is True
    code, out, err = run(
        [
            "forecast",
            "--horizon",
            "1h",
            "--data",
            data,
            "--symbol",
            "BTC/USD",
            "--models",
            models,
            "--model",
            "auto",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["model"] == "lstm"
    code, out, err = run(
        ["forecast", "--horizon", "1h", "--symbol", "NEW", "--models", models, "--model", "auto", "--json"], capsys
    )
    assert code == 0, err
    assert json.loads(out)["model"] == "hybrid"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["forecast", "--horizon", "2h"], "invalid choice"),
        (["forecast", "--horizon", "1d", "--data", "/no/such/file.csv"], "no such file"),
        (["forecast", "--horizon", "1d", "--epochs", "0"], "positive integer"),
        (["train", "--symbol", "X"], "--data"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, needle, capsys, models):
    if args[0] == "forecast":
        args = [*args, "--models", models]
    try:
        code = cli.main(["--no-compile-cache", *args])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_bad_csv_is_one_line_error(tmp_path, capsys, models):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n1,1,1,1,abc,1\n")
    code, _, err = run(["forecast", "--horizon", "1h", "--data", str(bad), "--symbol", "X", "--models", models], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "close" in err


@pytest.mark.slow
def test_console_script_is_installed():
    # The script pip installed next to this interpreter, not `python -m`: it proves the entry point exists.
    script = shutil.which("jaxlstm", path=os.path.dirname(sys.executable))
    assert script is not None, f"no jaxlstm console script next to {sys.executable}; reinstall the package"
    out = subprocess.run([script, "--help"], capture_output=True, text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "forecast" in out.stdout and "evaluate" in out.stdout


def test_evaluate_prints_a_backtest_table_with_naive(capsys):
    code, out, err = run(
        [
            "evaluate",
            "--horizon",
            "4h",
            "--origins",
            "3",
            "--train-size",
            "150",
            "--epochs",
            "2",
            "--hidden-size",
            "4",
            "--models",
            "lstm,drift",
        ],
        capsys,
    )
    assert code == 0, err
    assert "3 origins" in out and "| naive | 1 |" in out and "| lstm |" in out and "| drift |" in out
    code, out, _ = run(
        ["evaluate", "--horizon", "1h", "--origins", "2", "--train-size", "150", "--models", "naive", "--json"], capsys
    )
    assert code == 0 and "naive" in json.loads(out)["models"]


def test_evaluate_bad_arguments(capsys):
    code, _, err = run(["evaluate", "--horizon", "1d", "--models", "lstm,prophet"], capsys)
    assert code == 2 and "prophet" in err
    code, _, err = run(["evaluate", "--horizon", "7d", "--train-size", "5000"], capsys)
    assert code == 2 and "train-size" in err


def test_architecture_and_features_from_the_command_line(models, capsys):
    import jaxlstm as jl

    assert cli.ARCHITECTURES == jl.nn.ARCHITECTURES
    rich = ["--architecture", "transformer", "--features", "close,volume,range", "--sequence-length", "8"]
    code, out, err = run(
        ["train", "--data", jl.data.demo_data_path().as_posix(), "--models", models, *rich, *FAST], capsys
    )
    assert code == 2 and "--direct-steps" in err
    code, out, err = run(
        [
            "train",
            "--data",
            jl.data.demo_data_path().as_posix(),
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
    code, out, err = run(["forecast", "--horizon", "1d", "--models", models, *rich, *FAST], capsys)
    assert code == 2 and "steps must be at most 4" in err and "Traceback" not in err


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
    code, out, err = run([*args, "--models", "lstm", "--architecture", "bilstm", "--features", "close,volume"], capsys)
    assert code == 0, err
    assert "2 origins" in out and "| lstm |" in out
    code, _, err = run([*args, "--features", "close,obv"], capsys)
    assert code == 2 and "unknown feature 'obv'" in err
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--horizon", "4h", "--architecture", "gru"])
    assert "invalid choice" in capsys.readouterr().err

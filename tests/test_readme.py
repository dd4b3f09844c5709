"""The README's examples run as written: its Python blocks top to bottom, its commands parse."""

from __future__ import annotations

import pathlib
import re
import shlex

import pytest

from jaxlstm import cli

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")


def blocks(language: str, text: str = TEXT) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def section(title: str) -> str:
    start = TEXT.index(f"\n## {title}\n")
    end = TEXT.find("\n## ", start + 1)
    return TEXT[start : end if end >= 0 else None]


def test_the_set_up_section_has_exactly_two_commands():
    commands = blocks("bash", section("Set up"))
    assert len(commands) == 2
    assert all(len(c.strip().splitlines()) == 1 for c in commands)
    assert "jaxlstm forecast --horizon 1d" in commands[0]


def test_the_readme_documents_both_test_tiers():
    tests = section("Tests")
    assert 'python -m pytest -q -m "not slow"' in tests and "`python -m pytest -q`" in tests


def test_every_subcommand_has_an_example_that_parses():
    examples = [
        line
        for block in blocks("bash", section("Command line"))
        for line in block.splitlines()
        if line.startswith("jaxlstm ")
    ]
    parser = cli.build_parser()
    seen = set()
    for line in examples:
        args = parser.parse_args(shlex.split(line)[1:])
        seen.add(args.command)
    assert seen == {c.name for c in cli.COMMANDS}


@pytest.mark.slow
def test_python_blocks_run_top_to_bottom(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")  # the blocks draw a chart; no window here
    monkeypatch.chdir(tmp_path)  # they save models under ./models
    namespace: dict = {"__name__": "__readme__"}
    for number, code in enumerate(blocks("python"), start=1):
        try:
            exec(compile(code, f"README.md python block {number}", "exec"), namespace)
        except Exception as err:  # pragma: no cover - the message says which block failed
            raise AssertionError(f"README python block {number} failed: {type(err).__name__}: {err}") from err
    assert (tmp_path / "models" / "BTCUSD" / "metadata.json").is_file()

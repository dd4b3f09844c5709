"""The README's examples run as written: each Python block alone in a fresh interpreter, its commands parse."""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

from jaxlstm import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
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


def python_blocks() -> list[tuple[int, str]]:
    """Every ```python block with the README line its code starts on."""
    return [
        (TEXT.count("\n", 0, match.start(1)) + 1, match.group(1))
        for match in re.finditer(r"^```python\n(.*?)^```", TEXT, re.S | re.M)
    ]


PYTHON_BLOCKS = python_blocks()
# What a block leaves on disk, where it saves a model: proof that it ran to its end.
SAVES = {'model.save("models/BTCUSD")': "models/BTCUSD", 'ens.save("models/ens")': "models/ens"}


def test_the_readme_has_its_python_blocks():
    assert len(PYTHON_BLOCKS) >= 8
    assert all(code.strip() for _, code in PYTHON_BLOCKS)


@pytest.mark.slow
@pytest.mark.parametrize(("line", "code"), PYTHON_BLOCKS, ids=[f"line{line}" for line, _ in PYTHON_BLOCKS])
def test_python_block_runs_alone_in_a_fresh_interpreter(tmp_path, line, code):
    """Each block as written, in a new process of its own: its own imports, its own data."""
    pytest.importorskip("matplotlib")  # the usage block draws a chart
    env = dict(os.environ, MPLBACKEND="Agg")  # no window here
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    # A folder of its own: the blocks save models under ./models.
    run = subprocess.run(
        [sys.executable, str(script)], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, f"README python block at line {line} failed:\n{run.stderr[-4000:]}"
    for call, folder in SAVES.items():
        if call in code:
            assert (tmp_path / folder / "metadata.json").is_file(), f"block at line {line}: {folder} not saved"

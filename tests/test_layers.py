"""The import graph of jaxlstm/: no cycles, and no import that runs up the README's layer order.

Every import statement is read from the source (also those inside functions), so an
import hidden in a method to dodge a cycle still counts.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jaxlstm"


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layers() -> list[list[str]]:
    """The layer order of the README's design section: one layer per line, top first.

    A line starts with a path: a file (``jaxlstm/_src/stacked.py``), a folder
    (``jaxlstm/_src/nn/``, every module below it) or a set of files
    (``jaxlstm/_src/{validation,version}.py``).
    """
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Design") :]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block, "the README's design section must hold the layer order in a code block"
    layers = []
    for line in block.group(1).splitlines():
        token = line.split()[0] if line.strip() else ""
        if not token.startswith("jaxlstm"):
            continue
        names = []
        braces = re.fullmatch(r"(.*)\{(.*)\}(.*)", token)
        paths = [braces.group(1) + part + braces.group(3) for part in braces.group(2).split(",")] if braces else [token]
        for path in paths:
            if path.endswith("/"):
                names.append(path.rstrip("/").replace("/", ".") + ".")
            else:
                names.append(_module_name(ROOT / path))
        layers.append(names)
    return layers


LAYERS = _layers()


def _layer_of(module: str) -> int:
    """Index of the most specific README entry naming ``module`` (a file beats its folder)."""
    best, best_len = None, -1
    for index, names in enumerate(LAYERS):
        for name in names:
            hit = module == name if not name.endswith(".") else module.startswith(name) or module + "." == name
            if hit and len(name) > best_len:
                best, best_len = index, len(name)
    if best is None:
        raise AssertionError(f"module {module} is in no layer of the README's design section")
    return best


def _imports(module: str) -> set[str]:
    """Modules of this package that ``module`` imports, anywhere in its source."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a.b import c` imports the module a.b.c when there is one, else a name of a.b.
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names
            ]
        else:
            continue
        found.update(name for name in names if name in MODULES and name != module)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    upward = [target for target in GRAPH[module] if _layer_of(target) < _layer_of(module)]
    assert not upward, f"{module} (layer {_layer_of(module)}) imports {upward} from a layer above it"


def test_no_import_cycles():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_the_checker_sees_imports_inside_functions(tmp_path):
    # The cycle that once existed: a function-level import of the package from a low module.
    source = "def version():\n    from jaxlstm import __version__\n    return __version__\n"
    tree = ast.parse(source)
    inner = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert inner and inner[0].module == "jaxlstm"
    assert _layer_of("jaxlstm") < _layer_of("jaxlstm._src.io.model_files")


def test_io_imports_no_forecaster():
    # The cache serves any Forecaster class its caller passes: it must not import one.
    for module in MODULES:
        if module.startswith("jaxlstm._src.io"):
            assert not [t for t in GRAPH[module] if t.startswith("jaxlstm._src.forecasters")], module


def test_distributed_sits_between_the_command_and_evaluation():
    # The multi-process entry points drive forecasters and backtests and are driven by the command.
    assert (
        _layer_of("jaxlstm.cli") < _layer_of("jaxlstm._src.distributed") < _layer_of("jaxlstm._src.evaluation.backtest")
    )
    assert "jaxlstm._src.distributed" in GRAPH["jaxlstm.cli"]

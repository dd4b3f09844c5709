"""No module touches a private name (``x._name``) that another module defines.

``tune``, ``backtest``, the cache and the benchmarks use the public ``Forecaster`` protocol
(``fit_rows``, ``predict_rows``, ``forecast_from``, ``holdout_size``...). Read with ``ast``
over ``jaxlstm/`` and ``benchmarks/``: an attribute access ``x._name`` whose ``x`` is not
``self``, ``cls`` or ``super()`` is allowed only when the accessing module itself defines
``_name`` (a function, class, method, class attribute or ``self._name``), or when it is one
of the public methods of a ``NamedTuple`` (``_replace``, ``_asdict``...).
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Public API of namedtuples, despite the underscore.
NAMEDTUPLE_API = frozenset({"_replace", "_asdict", "_fields", "_make", "_field_defaults"})
#: Known exceptions, each with its module so that a new one fails. ``os._exit`` is public despite
#: its underscore: a process of a multi-process run that fails leaves without the exit handlers
#: that would wait for the others.
KNOWN: frozenset[tuple[str, str]] = frozenset({("jaxlstm/cli.py", "_exit")})


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _defined_here(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _is_own(value: ast.expr) -> bool:
    if isinstance(value, ast.Name) and value.id in ("self", "cls"):
        return True
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super"


def private_accesses(path: pathlib.Path) -> list[tuple[int, str, str]]:
    """``(line, "x._name", "_name")`` of every access to another module's private name in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _defined_here(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _private(node.attr) or _is_own(node.value):
            continue
        if node.attr in own or node.attr in NAMEDTUPLE_API:
            continue
        found.append((node.lineno, ast.unparse(node)[:80], node.attr))
    return found


def test_the_scanner_catches_a_private_access(tmp_path):
    path = tmp_path / "user.py"
    path.write_text(
        "class A:\n    def _mine(self):\n        return other._theirs() + self._x + cls._y + super()._z\n"
        "def f(m):\n    return m._mine() + m._replace(a=1) + m._not_here\n"
    )
    assert sorted(access for _, access, _ in private_accesses(path)) == ["m._not_here", "other._theirs"]


def test_no_module_touches_another_modules_private_names():
    offenders = []
    for folder in ("jaxlstm", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            for line, access, name in private_accesses(path):
                if (relative, name) not in KNOWN:
                    offenders.append(f"{relative}:{line}: {access}")
    assert offenders == [], "private names of other modules used:\n" + "\n".join(offenders)

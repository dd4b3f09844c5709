"""Sphinx configuration of jaxlstm's reference documentation.

``sphinx-build -W -b html docs docs/_build/html`` builds it: the API reference from the
docstrings of every name in ``jaxlstm.__all__`` and in the public sub-modules' ``__all__``
(pages generated below, so a public name cannot be left out), the README as the guide, and
the notebooks with their stored outputs. Nothing is fetched from the network.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import shutil
import sys
import textwrap
import types

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jaxlstm  # noqa: E402  (after the path is set)

project = "jaxlstm"
release = version = jaxlstm.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "myst_nb"]
exclude_patterns = ["_build", "README.md"]
html_theme = "alabaster"
html_title = f"jaxlstm {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes:" as fields: autodoc documents the attributes themselves

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
nb_execution_mode = "off"  # the notebooks are committed executed; tests/test_notebooks.py runs them
suppress_warnings = ["myst.header"]

#: The public modules and the page each gets.
PUBLIC_MODULES = ("jaxlstm", "jaxlstm.nn", "jaxlstm.data", "jaxlstm.baselines", "jaxlstm.metrics", "jaxlstm.evaluation")


def _data_doc(value: object, name: str) -> str:
    """The ``#:`` comment of the constant ``name`` where the library defines it; none is an error."""
    from sphinx.pycode import ModuleAnalyzer

    for path in sorted((ROOT / "jaxlstm").rglob("*.py")):
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if dotted == "jaxlstm.cli":
            continue
        module = importlib.import_module(dotted)
        if getattr(module, name, None) is not value:
            continue
        doc = ModuleAnalyzer.for_module(dotted).find_attr_docs().get(("", name))
        if doc:
            return "\n".join(doc)
    raise RuntimeError(f"public constant {name} has no documentation comment (#:) where it is defined")


def _directive(module: str, name: str, value: object, seen: dict[int, str]) -> str:
    """The autodoc directive that documents ``module.name`` (a class seen before is not indexed twice)."""
    target = f"{module}.{name}"
    if isinstance(value, types.ModuleType):
        return f"``{target}``: see :doc:`{value.__name__}`.\n"
    EXPECTED.add(seen.get(id(value), target))
    if inspect.isclass(value):
        options = ["   :special-members: __call__"]
        if any(base.__module__.startswith("jaxlstm") for base in value.__mro__[1:]):
            options.append("   :inherited-members: object")
        if id(value) in seen:
            options.append("   :no-index:")
        seen.setdefault(id(value), target)
        return f".. autoclass:: {target}\n" + "\n".join(options) + "\n"
    if callable(value):
        return f".. autofunction:: {target}\n"
    doc = textwrap.indent(_data_doc(value, name), "   ")
    return f".. py:data:: {name}\n   :module: {module}\n\n{doc}\n"


def _api_pages(out: pathlib.Path) -> list[str]:
    """Writes one page per public module listing every name of its ``__all__``; returns their names."""
    out.mkdir(exist_ok=True)
    pages = []
    seen: dict[int, str] = {}
    for module in PUBLIC_MODULES:
        mod = importlib.import_module(module)
        names = list(mod.__all__)
        missing = [n for n in names if not hasattr(mod, n)]
        if missing:
            raise RuntimeError(f"{module}.__all__ names {missing}, which {module} does not define")
        lines = [f"{module}\n{'=' * len(module)}\n", f".. automodule:: {module}\n   :no-members:\n"]
        for name in names:
            if name == "__version__":
                lines.append(f"``{module}.__version__``: the version, ``{mod.__version__}``.\n")
                continue
            lines.append(_directive(module, name, getattr(mod, name), seen))
        (out / f"{module}.rst").write_text("\n".join(lines), encoding="utf-8")
        pages.append(f"api/{module}")
    return pages


def _copy_notebooks(out: pathlib.Path) -> None:
    out.mkdir(exist_ok=True)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copyfile(path, out / path.name)


def _check_every_public_name(app: object, env: object) -> None:
    """Fails the build when a public name did not make it into the reference."""
    from sphinx.errors import ExtensionError

    documented = set(env.get_domain("py").objects)  # type: ignore[attr-defined]
    missing = sorted(EXPECTED - documented)
    if missing:
        raise ExtensionError(f"public names missing from the API reference: {missing}")


def setup(app: object) -> None:
    app.connect("env-check-consistency", _check_every_public_name)  # type: ignore[attr-defined]


#: Every public name the API pages document (indexed), checked when the build ends.
EXPECTED: set[str] = set(PUBLIC_MODULES)
HERE = pathlib.Path(__file__).resolve().parent
API_PAGES = _api_pages(HERE / "api")
_copy_notebooks(HERE / "notebooks")

"""JAX's persistent compilation cache in the user's own cache folder, on request only.

A new process otherwise recompiles the training and forecast functions every time (about
half a second each on a small CPU). The cache changes the host process's JAX
configuration (and writes every compile of the process to disk), so a library imported as
a component must not turn it on by itself: it is on only when asked for, by
``jaxlstm.enable_compilation_cache()``, by the ``jaxlstm`` command (unless
``--no-compile-cache``), or by the environment variable ``JAXLSTM_COMPILATION_CACHE=1``
read when ``jaxlstm`` is imported. The cache directory holds compiled code that JAX will
execute, so it lives in the user's own cache folder, never a shared one.

Environment:
    JAXLSTM_COMPILATION_CACHE=1   turn it on when jaxlstm is imported (0: the CLI leaves it off)
    JAXLSTM_CACHE_DIR=/some/dir   put jaxlstm's caches there (default: $XDG_CACHE_HOME/jaxlstm
                                  or ~/.cache/jaxlstm)
"""

from __future__ import annotations

import os
import pathlib

_TRUE = ("1", "true", "on", "yes")
_FALSE = ("0", "false", "off", "no")


def default_cache_dir() -> pathlib.Path:
    """``$JAXLSTM_CACHE_DIR``, else ``$XDG_CACHE_HOME/jaxlstm``, else ``~/.cache/jaxlstm``."""
    if os.environ.get("JAXLSTM_CACHE_DIR"):
        return pathlib.Path(os.environ["JAXLSTM_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "jaxlstm"


def enable_compilation_cache(directory: str | os.PathLike[str] | None = None) -> pathlib.Path | None:
    """Points JAX's persistent compilation cache at ``directory`` (default under ``default_cache_dir``).

    Leaves an explicit user setting of ``jax_compilation_cache_dir`` alone. The thresholds
    are lowered because with JAX's defaults (1 s) ordinary CPU compiles are never cached;
    they apply to every compile of the process, which is why this is opt-in.

    Returns:
        The directory in use, or ``None`` when it could not be created.
    """
    import jax  # here, not at the top: the jaxlstm command's --help must not import JAX

    current = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]  # set dynamically by JAX
    if current and directory is None:
        return pathlib.Path(current)
    path = pathlib.Path(directory) if directory is not None else default_cache_dir() / "jax-compilation"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path


def disable_compilation_cache() -> None:
    """Stops reading and writing the persistent compilation cache in this process."""
    import jax

    jax.config.update("jax_compilation_cache_dir", None)


def environment_setting() -> bool | None:
    """``JAXLSTM_COMPILATION_CACHE`` as True (on), False (off) or None (not set or unreadable)."""
    value = os.environ.get("JAXLSTM_COMPILATION_CACHE", "").strip().lower()
    return True if value in _TRUE else False if value in _FALSE else None

"""JAX's persistent compilation cache in the user's own cache folder.

A new process otherwise recompiles the training and forecast functions every time
(about half a second each on a small CPU). The cache directory holds compiled code
that JAX will execute, so it lives in the user's own cache folder, never a shared one.

Configuration (environment, read once at import):
    JAXLSTM_COMPILATION_CACHE=0   turn it off
    JAXLSTM_CACHE_DIR=/some/dir   put jaxlstm's caches there (default: $XDG_CACHE_HOME/jaxlstm
                                  or ~/.cache/jaxlstm)
"""

from __future__ import annotations

import os
import pathlib

import jax


def default_cache_dir() -> pathlib.Path:
    """``$JAXLSTM_CACHE_DIR``, else ``$XDG_CACHE_HOME/jaxlstm``, else ``~/.cache/jaxlstm``."""
    if os.environ.get("JAXLSTM_CACHE_DIR"):
        return pathlib.Path(os.environ["JAXLSTM_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "jaxlstm"


def enable_compilation_cache(directory: str | os.PathLike | None = None) -> pathlib.Path | None:
    """Points JAX's persistent compilation cache at ``directory`` (default under ``default_cache_dir``).

    Leaves an explicit user setting of ``jax_compilation_cache_dir`` alone. The thresholds
    are lowered because with JAX's defaults (1 s) ordinary CPU compiles are never cached.

    Returns:
        The directory in use, or ``None`` when it could not be created.
    """
    current = jax.config.jax_compilation_cache_dir
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
    jax.config.update("jax_compilation_cache_dir", None)


def enable_from_environment() -> pathlib.Path | None:
    """Enables the cache unless ``JAXLSTM_COMPILATION_CACHE`` is ``0``/``false``/``off``."""
    if os.environ.get("JAXLSTM_COMPILATION_CACHE", "1").strip().lower() in ("0", "false", "off", "no"):
        return None
    return enable_compilation_cache()

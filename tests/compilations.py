"""Counting XLA compilations in a test: ``with counted() as counts: ...`` gives ``{function name: count}``."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator

import jax


@contextlib.contextmanager
def counted() -> Iterator[collections.Counter[str]]:
    """Counts XLA compilations by function name (``jax.monitoring``'s backend-compile event)."""
    counts: collections.Counter[str] = collections.Counter()

    def listen(event: str, duration: float, **kwargs: object) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            counts[str(kwargs.get("fun_name"))] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield counts
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)

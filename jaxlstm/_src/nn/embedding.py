"""A network that also reads a learned vector per series: the series embedding of a global model.

A global model trains one network on the windows of many series. With an embedding, each
series also has a learned vector of ``dim`` numbers, appended to every time step of its
windows, so the shared network can tell the series apart (as an entity embedding does).

``SeriesEmbedding(network, dim, count)`` is an ``(init, apply)`` pair like every network:

* ``count=S`` (training): params ``{"network", "embedding": [S, dim]}``; an input window is
  ``[time, features + 1]`` whose last column holds the series' index (a float, constant over
  the window), which selects the row of the table.
* ``count=None`` (one series): params ``{"network", "embedding": [dim]}``, that series' row;
  an input window is ``[time, features]``. This is what forecasting one series reads.

The wrapped ``network`` reads ``features + dim`` inputs per step. The table starts at zero,
so an untrained embedding adds nothing; its gradient is not zero (the network's input
weights of those inputs are not), so each series' row moves with its own windows.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxlstm._src import validation


@dataclasses.dataclass(frozen=True)
class SeriesEmbedding:
    """A network (``network``) whose every input step also carries its series' learned vector of ``dim`` numbers.

    Attributes:
        network: the wrapped network's config; its input size is the features plus ``dim``.
        dim: the embedding's size, >= 1.
        count: series in the table (training), or None for one series' vector.
    """

    network: Any
    dim: int
    count: int | None = None

    def __post_init__(self) -> None:
        validation.check_positive_int("dim", self.dim)
        if self.count is not None:
            validation.check_positive_int("count", self.count)

    def init(self, key: jax.Array, dtype: Any = jnp.float32) -> dict[str, Any]:
        """``{"network": the wrapped network's params, "embedding": zeros [count, dim] or [dim]}``."""
        shape = (self.dim,) if self.count is None else (self.count, self.dim)
        return {"network": self.network.init(key, dtype), "embedding": jnp.zeros(shape, dtype)}

    def apply(self, params: dict[str, Any], x: jax.Array) -> jax.Array:
        """One window ``[time, features(+1 index column with a table)]`` -> the wrapped network's output."""
        if self.count is None:
            vector, inputs = params["embedding"], x
        else:
            vector, inputs = params["embedding"][x[0, -1].astype(jnp.int32)], x[:, :-1]
        tiled = jnp.broadcast_to(vector.astype(inputs.dtype), (inputs.shape[0], self.dim))
        return self.network.apply(params["network"], jnp.concatenate([inputs, tiled], axis=-1))


def series_params(params: dict[str, Any], index: int) -> dict[str, Any]:
    """One series' params (``count=None``) from a table's (``[..., count, dim]``: a members axis may lead)."""
    return {"network": params["network"], "embedding": params["embedding"][..., index, :]}

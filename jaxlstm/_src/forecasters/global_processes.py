"""One global model trained across the processes of a ``jax.distributed`` job: data parallel over the windows.

``fit_across`` runs in every process of the job (SPMD, as JAX runs on GPU and TPU clusters).
Each process holds only its share of the series, a contiguous block of the sorted ids
(``block``), and windows and encodes them on its own (``global_models``, unchanged). The
shared weights are trained on every process's windows at once: the pool's training and
held-back windows become global arrays whose windows axis is split over a mesh of every
process's devices (``jax.make_array_from_process_local_data``), and the one trainer
(``rows.fit_one_model``, i.e. ``training.fit_arrays``) runs under ``jit`` on them. XLA
inserts the collectives: a minibatch is gathered from the processes holding its windows,
the validation loss of early stopping is summed over every process (so every process stops
at the same epoch), and the weights come out identical in every process.

Equal to one process, to float rounding: each process pads its windows to one size (the
largest shape bucket of the processes, so the global arrays have equal blocks); padding
windows weigh 0, and an epoch's order ranks only the weighted windows
(``training._epoch_order``), so the minibatches hold the same windows as one process's fit of
the same series in the same order (the blocks of sorted ids, in process order), from the
same seeds.

``split_minibatches``: whether each device also computes the loss and gradient of only its
part of every minibatch (``training.spread_batch``; XLA then all-reduces the gradients),
or every device computes the whole minibatch's. The split halves the arithmetic per
process but costs several collectives per optimiser step; on CPUs over gloo (TCP) that
latency outweighs a small network's arithmetic many times over (a 16-unit LSTM, 32-window
minibatches: 40 s against 5 s of CPU per process), so by default it is on only for
accelerators, where collectives take microseconds.

Per-series state (encoding, last window, band and its calibration forecasts) is each
process's own; at the end one all-gather brings every series' state to every process, and
every process rebuilds the same complete model from the shared weights and all series
(``global_models.from_parts``, the rebuild ``load`` uses). The caller saves it once
(``distributed.fit_many``: process 0, through the model folder's lock, atomically), so a
models folder never holds a part of a global model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxlstm._src import processes, training
from jaxlstm._src.forecasters import global_models, population, rows
from jaxlstm._src.prep import fingerprints, windows


def block(ids: Sequence[str], index: int, count: int) -> list[str]:
    """Process ``index`` of ``count``'s contiguous block of ``ids`` (sizes differ by at most one; earlier blocks larger).

    Contiguous, not every ``count``-th: the global arrays hold the blocks in process order, so
    the windows are in the order of the sorted ids, as in one process.
    """
    size, extra = divmod(len(ids), count)
    start = index * size + min(index, extra)
    return list(ids[start : start + size + (index < extra)])


@dataclasses.dataclass(frozen=True)
class Across:
    """The processes of one global fit: what ``global_models`` calls through ``ACROSS`` while the fit runs.

    Attributes:
        mesh: every process's devices in process order, one axis ``training.WINDOWS_AXIS``.
        split_minibatches: see the module docstring.
    """

    mesh: jax.sharding.Mesh
    split_minibatches: bool

    def total(self, count: int) -> int:
        """``count`` summed over every process (called in every process, in the same order)."""
        return int(sum(processes.all_gather_json(int(count))))

    def gather(self, values: list[Any]) -> list[Any]:
        """Every process's JSON-able ``values``, concatenated in process order."""
        return [v for part in processes.all_gather_json(values) for v in part]

    def train_models(
        self, models: Sequence[Sequence[rows.TrainRow]], **options: Any
    ) -> list[list[training.TrainResult]]:
        """``rows.train_models`` with each pool's windows split over the processes (``options`` as it takes them).

        Every row of a pool shares the pool's data (one row per ensemble member): the
        members run in one ``vmap`` over the same global windows.
        """
        del options  # progress bars and host threads have no meaning inside one SPMD program
        return [self._train_pool(list(found)) for found in models]

    def _train_pool(self, found: list[rows.TrainRow]) -> list[training.TrainResult]:
        lead = found[0]
        if any(row.data is not lead.data or row.static != lead.static for row in found):
            raise ValueError("a pool's rows share one set of windows and settings")
        local = [np.asarray(a) for a in lead.data]
        devices = len(self.mesh.local_devices)
        # Equal blocks: every process pads to the largest padded size (a multiple of its devices).
        sizes = processes.all_gather_json([int(local[0].shape[0]), int(local[3].shape[0])])
        size, size_val = (-(-max(s[k] for s in sizes) // devices) * devices for k in (0, 1))
        split = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec(training.WINDOWS_AXIS))
        whole = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec())
        data = []
        for k, part in enumerate(local):
            padded = windows.pad_rows(part, size if k < 3 else size_val)
            # An empty validation part cannot be split; it stays whole (and empty).
            sharding = split if padded.shape[0] else whole
            data.append(jax.make_array_from_process_local_data(sharding, padded))
        most = lead.static["config"].epochs
        caps = np.array([most if r.epochs is None else min(r.epochs, most) for r in found], np.int32)
        starts = [
            population.stack_trees([r.start[0] for r in found]),
            jax.numpy.stack([r.start[1] for r in found]),
            population.stack_trees([r.start[2] for r in found]),
        ]
        run = _pool_trainer(tuple(sorted(lead.static.items())), self.mesh, self.split_minibatches)
        params, keys, opt_states = starts
        tags = np.full(len(found), -1, np.int32)
        replicate = lambda tree: jax.tree.map(lambda a: _replicated(whole, a), tree)
        # A split minibatch is traced under the mesh; a whole one needs none.
        with jax.set_mesh(self.mesh) if self.split_minibatches else contextlib.nullcontext():
            result = run(
                replicate(keys),
                replicate(params),
                training.TrainData(*data),
                replicate(opt_states),
                replicate(tags),
                replicate(caps),
            )
        host = jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), result)
        return [training.unstack(host, i) for i in range(len(found))]


def _replicated(sharding: jax.sharding.NamedSharding, value: Any) -> jax.Array:
    """``value`` (the same in every process) as a global array held whole by every device."""
    if jax.dtypes.issubdtype(getattr(value, "dtype", np.float32), jax.dtypes.prng_key):
        return jax.random.wrap_key_data(
            _replicated(sharding, jax.random.key_data(value)), impl=jax.random.key_impl(value)
        )
    return jax.make_array_from_process_local_data(sharding, np.asarray(value))


@functools.cache
def _pool_trainer(static: tuple[tuple[str, Any], ...], mesh: jax.sharding.Mesh, split: bool) -> Any:
    """The compiled trainer of a pool's members over global windows, one per settings and mesh (shapes: ``jit``'s cache)."""
    del split  # part of the cache key: the split minibatch is traced under the mesh
    one = functools.partial(rows.fit_one_model, **dict(static), callback=None)
    whole = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    members = jax.vmap(one, in_axes=(0, 0, None, 0, 0, 0))
    return jax.jit(members, out_shardings=whole)


def across(group: processes.ProcessGroup, split_minibatches: bool | None = None) -> Across:
    """The ``Across`` of this job: a mesh of every device of every process, in process order."""
    devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    mesh = jax.sharding.Mesh(np.array(devices), (training.WINDOWS_AXIS,), axis_types=(jax.sharding.AxisType.Auto,))
    if split_minibatches is None:
        split_minibatches = devices[0].platform != "cpu"
    del group
    return Across(mesh, bool(split_minibatches))


def fit_across(
    model: Any,
    share: Mapping[str, Any],
    group: processes.ProcessGroup,
    *,
    split_minibatches: bool | None = None,
    interval: Any = None,
    gaps: str = "warn",
    workers: int | None = None,
) -> Any:
    """Fits ``model`` as ONE global model of every process's ``share``, in every process; returns the complete model.

    Call it in every process of the job with the same unfitted model (same settings and
    seeds) and this process's block of the series (``block`` of the sorted ids), each at
    least one series. In one process it is ``model.fit(share)``.

    Args:
        model: an unfitted ``LSTMForecaster`` (``series_embedding=0``).
        share: this process's ``{name: prices}`` (any form ``fit`` takes), in sorted-id order.
        group: this process's place (``processes.initialize``).
        split_minibatches: see the module docstring (None: on accelerators only).
        interval, gaps, workers: as ``fit`` takes them.

    Returns:
        The fitted global model of every series (the same in every process), with the
        params one process fitting all the series would have, to float rounding.

    Raises:
        ValueError: a model with a series embedding, an empty share, or what ``fit`` raises.
    """
    if model.series_embedding:
        raise ValueError(
            "a global model across processes has no series embedding yet: fit with series_embedding=0, or in one process"
        )
    if not share:
        raise ValueError(
            f"process {group.rank} of {group.size} has no series: a global model across processes needs at least "
            "as many series as processes"
        )
    if group.size == 1:
        return model.fit(dict(share), interval=interval, gaps=gaps, workers=workers)
    token = global_models.ACROSS.set(across(group, split_minibatches))
    try:
        model.fit(dict(share), interval=interval, gaps=gaps, workers=workers)
    finally:
        global_models.ACROSS.reset(token)
    return _complete(model)


def _complete(model: Any) -> Any:
    """The model of every process's series: this process's fitted part, every series' state gathered from all."""
    tree, metadata = global_models.saved_parts(model, residual_arrays=False)
    series: dict[str, Any] = {}
    order: list[str] = []
    local = metadata["global"]
    for part in processes.all_gather_json([local[global_models.ORDER_KEY], local[global_models.SERIES_KEY]]):
        order.extend(part[0])
        series.update(part[1])
    prints = {name: fingerprints.DataFingerprint.from_json(series[name]["trained_on"]) for name in order}
    metadata = {
        **metadata,
        "trained_on": global_models.combined_fingerprint(prints).to_json(),
        "global": {**local, global_models.SERIES_KEY: series, global_models.ORDER_KEY: order},
    }
    return global_models.from_parts(type(model), tree, metadata, "the global model gathered from every process")

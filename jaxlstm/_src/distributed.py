"""Many series across processes, on JAX's own multi-controller runtime (``jax.distributed``).

The same program runs in every process (SPMD, as JAX runs on GPU and TPU clusters):

* ``initialize`` joins the processes through ``jax.distributed.initialize``: on one host
  with an explicit coordinator address, process count and id; under SLURM or Open MPI
  with none of them (JAX reads the cluster's environment); alone when there is no cluster.
  On CPUs it selects the ``gloo`` collectives first, so that the processes can sum and
  gather across each other. It is the only place that changes JAX's configuration, and
  only when called: importing jaxlstm changes nothing.
* ``fit_many`` is what a launcher calls in every process: each process takes every
  ``count``-th series of the sorted ids (``long_files.share``), reads only those rows
  (``long_files.read_long_share``), skips series whose saved model is fresh (the model
  cache's rule: same settings, same data, younger than ``max_age``), fits the rest in
  chunks (one ``Forecaster.fit_many`` call each, on this process's own devices) and saves
  every model into the models folder through the model files' lock, atomically. There is
  no gathering to process 0: the folder is the result, complete model by complete model.
  With ``global_name`` it fits one global model of every series instead
  (``forecasters.global_processes``: a contiguous block of the ids per process, the weights
  trained data-parallel over every process's windows, every series' state gathered, the
  complete model saved by process 0).
* ``jaxlstm fit-many --processes N`` binds each process it starts to its own share of the
  host's cores (``processes.core_shares``, as SLURM's ``--cpu-bind=cores``), so that each
  process's threads (``default_workers`` of them, and XLA's own) do not compete with the
  others' for every core.
* The models of a population share nothing while they train, so the processes never wait
  for each other until the end, where one all-gather (over the CPU collectives) sums what
  every process did and checks that all got there.

Failure: JAX's coordination service watches every process's heartbeat. When a process
dies, the others are stopped by the runtime within ``heartbeat_timeout`` seconds (JAX ends
them with its own fatal-error log); the ``jaxlstm fit-many --processes N`` launcher turns
that into one line. A model is either saved completely or not at all (``save`` writes a
temporary folder and renames it), so the folder holds only complete models, and a rerun
of the same call skips them and fits the rest.

Backtests across processes (``backtest_many``): the series are split the same way, each
process backtests its own, and the per-series results are gathered to every process with
one all-gather, so that every process returns what one process would.

One search across processes (``jaxlstm.tune(..., processes=...)``, joined through ``processes.join``):
the trials are split (process ``r`` of ``n`` keeps trials ``r, r + n, ...`` for the whole
search, since a surviving trial continues from state that lives where it trained), each
rung's fold scores are all-gathered, every process ranks them alike and fits the winner.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import pathlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.io import long_files, model_files
from jaxlstm._src.io.cache import ModelCache
from jaxlstm._src.io.series import is_long, split_long

# Joining the processes is shared with tune(processes=...): it lives a layer below both.
from jaxlstm._src.processes import (
    HEARTBEAT_TIMEOUT,
    ProcessGroup,
    all_gather_json,
    default_workers,
    initialize,
)

#: Series fitted (and then saved) per ``fit_many`` call within a process: bounds memory and lost work.
CHUNK_SIZE = 256


class FitReport(NamedTuple):
    """What ``fit_many`` did.

    Attributes:
        group: this process's place (``ProcessGroup``).
        fitted, skipped: the series this process fitted and saved, and those whose saved
            model was fresh.
        total_fitted, total_skipped, total_series: the same summed over every process.
        seconds: wall time of this process's share (reading, fitting, saving).
        model: with ``global_name``, the fitted global model of every series (the same in
            every process); else None.
    """

    group: ProcessGroup
    fitted: tuple[str, ...]
    skipped: tuple[str, ...]
    total_fitted: int
    total_skipped: int
    total_series: int
    seconds: float
    model: Any = None


def _save_chunk(fitted: dict[str, Any], cache: ModelCache) -> None:
    """Saves a chunk's models; called so that none of them outlives the call (the next chunk trains without them)."""
    for symbol, model in fitted.items():
        model.save(cache.path(symbol))  # under the folder's lock; the old copy stays until the new is whole


def release_freed_memory() -> bool:
    """Hands memory the process has freed back to the OS (glibc's ``malloc_trim``), where the C library has it.

    Freed memory of a chunk (its models, the training's host arrays, XLA's buffers) stays
    in the allocator's heap, reserved for this process: 1,000 series in chunks of 256 took
    a peak of 1.4 GB in one process where one chunk needs about 0.8 GB. Nothing changes
    but the resident size; a no-op elsewhere (macOS, musl).

    Returns:
        Whether any memory was released.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):  # no malloc_trim; Windows loads no library by None
        return False
    return bool(trim(0))


# ---------------------------------------------------------------------------- data


def _series_source(data: Any) -> tuple[list[str], Callable[[Sequence[str]], dict[str, Any]]]:
    """The sorted series ids of ``data`` and a reader of a share of them."""
    if isinstance(data, (str, os.PathLike)):
        path = pathlib.Path(data)
        ids = long_files.long_file_ids(path)

        def read(share: Sequence[str]) -> dict[str, Any]:
            if not share:
                return {}
            return split_long(long_files.read_long_share(path, share), name=f"data {str(path)!r}")

        return ids, read
    if is_long(data):  # a long frame in memory: every process holds it already
        data = split_long(data, name="data")
    if isinstance(data, Mapping):
        if not data or not all(isinstance(k, str) for k in data):
            raise TypeError("data must be a non-empty mapping with symbol strings as keys")
        return sorted(data), lambda share: {s: data[s] for s in share}
    raise TypeError(
        f"data must be the path of a long parquet or CSV file (unique_id, ds, y), a long DataFrame or a mapping of "
        "symbol -> prices, "
        f"got {type(data).__name__}"
    )


# ---------------------------------------------------------------------------- fit


def fit_many(
    data: Any,
    models: str | os.PathLike,
    *,
    settings: Mapping[str, Any] | None = None,
    forecaster: Any = None,
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    heartbeat_timeout: int = HEARTBEAT_TIMEOUT,
    chunk_size: int = CHUNK_SIZE,
    max_age: datetime.timedelta | float = datetime.timedelta(hours=24),
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
    search: Mapping[str, Sequence[Any]] | None = None,
    search_options: Mapping[str, Any] | None = None,
    global_name: str | None = None,
    split_minibatches: bool | None = None,
) -> FitReport:
    """Fits one model per series of ``data`` (or one global model of them all) across processes, saved into ``models``.

    Call it with the same arguments in every process (each launcher's own way: the
    ``jaxlstm fit-many --processes N`` command, ``srun``, ``mpirun``, a script per GPU).
    Processes sharing a host run best each bound to its own cores: ``fit-many --processes
    N`` binds them (``processes.core_shares``); with a launcher of your own, bind them
    there (``srun --cpu-bind=cores``, ``mpirun --bind-to core``, ``taskset``). This function
    changes no affinity itself.

    Args:
        data: the path of a long parquet or CSV file (``unique_id``, ``ds``, ``y``; see
            ``long_files``), each process reading only its own series; or a mapping
            ``{symbol: prices}`` or a long DataFrame every process holds (each then fits its
            share of it).
        models: the models folder, one sub-folder per symbol (``ModelCache``'s layout:
            ``jaxlstm.ModelCache(models)`` serves the results).
        settings: constructor arguments shared by every model.
        forecaster: the ``Forecaster`` class (default ``LSTMForecaster``).
        coordinator, num_processes, process_id, heartbeat_timeout: see ``initialize``
            (called here unless the process has already joined).
        chunk_size: series fitted per call before their models are saved: bounds the
            memory of a process and the work a crash loses.
        max_age: a saved model older than this is fitted again (as the model cache judges).
        workers: threads per process (default: ``default_workers``).
        progress: called with a line of progress after each chunk (e.g. ``print``).
        search: a search space (``jaxlstm.tune``'s ``space``): each series' model is then
            the best of a walk-forward search on that series (``tune``, one series after
            another within a process, the series split over processes as for a fit);
            ``forecaster`` must be ``LSTMForecaster``. A saved model counts as fresh by
            ``settings`` and data alone, whatever space found it.
        search_options: ``tune``'s other keywords (``folds``, ``horizon``, ``halving``...).
        global_name: fit ONE global model of every series instead (one network, each series
            encoded on its own; ``LSTMForecaster(**settings).fit`` of all of them), saved as
            ``models/global_name``. Each process takes a contiguous block of the sorted ids
            (at least one series each), the weights train data-parallel over every process's
            windows and come out identical in every process, equal to one process's fit to
            float rounding (``forecasters.global_processes``); every series' calibration
            state is gathered to every process, and process 0 alone saves the complete model
            (through the model folder's lock, atomically: a folder never holds a part of
            it). It is fitted on every call (one model: there is nothing partial to
            resume); ``chunk_size``, ``max_age`` and ``search`` do not apply.
        split_minibatches: with ``global_name``, whether each device computes only its part
            of every minibatch (data-parallel gradients, all-reduced) rather than all of it;
            None: on accelerators only, since over CPU collectives the collectives per
            optimiser step cost more than they save (``forecasters.global_processes``).

    Returns:
        A ``FitReport``; the totals are the same in every process.

    Raises:
        TypeError, ValueError: bad arguments or data (before anything is fitted, in the
            process that found it).
        RuntimeError: the processes could not join.
    """
    started = time.perf_counter()
    chunk_size = validation.check_positive_int("chunk_size", chunk_size)
    if forecaster is None:
        from jaxlstm._src.forecasters.lstm import LSTMForecaster

        forecaster = LSTMForecaster
    if not callable(getattr(forecaster, "fit_many", None)):
        raise TypeError(f"forecaster must be a Forecaster class, got {forecaster!r:.80}")
    settings = dict(settings or {})
    if "symbol" in settings:
        raise TypeError("settings must not hold symbol: each model is named after its series")
    if callable(check := getattr(forecaster, "check_setting_names", None)):
        check(settings)  # an unknown setting is named before any process joins or reads data
    if global_name is not None:
        from jaxlstm._src.forecasters.lstm import LSTMForecaster

        if forecaster is not LSTMForecaster or search is not None or search_options:
            raise TypeError("global_name fits one LSTMForecaster: leave out forecaster=, search= and search_options=")
        if not isinstance(global_name, str) or not global_name:
            raise TypeError(f"global_name must be a non-empty string, got {global_name!r:.80}")
        folder = ModelCache(models, model=forecaster).path(global_name)  # a bad name fails before any process joins
        model = forecaster(**settings, symbol=global_name)
    train = _trainer(forecaster, settings, search, search_options)
    group = initialize(coordinator, num_processes, process_id, heartbeat_timeout=heartbeat_timeout)
    if global_name is not None:
        return _fit_global(data, folder, model, group, started, progress, workers, split_minibatches)
    workers = default_workers(group) if workers is None else validation.check_positive_int("workers", workers)
    ids, read = _series_source(data)
    mine = long_files.share(ids, group.rank, group.size)
    series = read(mine)
    cache = ModelCache(models, model=forecaster, max_age=max_age)
    todo, skipped = [], []
    for symbol in mine:
        # A folder that is not there cannot be fresh: no need to build and compare a model.
        if cache.path(symbol).exists() and cache.status(symbol, settings=settings, data=series[symbol]).fresh:
            skipped.append(symbol)
        else:
            todo.append(symbol)
    say = progress or (lambda line: None)
    where = f"process {group.rank} of {group.size}"
    say(f"{where}: {len(mine)} series, {len(skipped)} fresh, {len(todo)} to fit")
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start : start + chunk_size]
        _save_chunk(train({s: series.pop(s) for s in chunk}, workers), cache)
        # The chunk's models are saved and gone: the memory they and the chunk's training
        # freed goes back to the OS before the next chunk trains.
        release_freed_memory()
        say(f"{where}: saved {min(start + chunk_size, len(todo))}/{len(todo)}")
    counts = np.array(all_gather_json([len(todo), len(skipped), len(mine)])).sum(axis=0)
    return FitReport(
        group,
        tuple(todo),
        tuple(skipped),
        int(counts[0]),
        int(counts[1]),
        int(counts[2]),
        time.perf_counter() - started,
    )


def _fit_global(
    data: Any,
    folder: pathlib.Path,
    model: Any,
    group: ProcessGroup,
    started: float,
    progress: Callable[[str], None] | None,
    workers: int | None,
    split_minibatches: bool | None,
) -> FitReport:
    """``fit_many(global_name=...)`` after joining: each process fits its block, process 0 saves the whole model."""
    from jaxlstm._src.forecasters import global_processes

    ids, read = _series_source(data)
    if len(ids) < group.size:
        raise ValueError(
            f"a global model across {group.size} processes needs at least {group.size} series, got {len(ids)}"
        )
    mine = global_processes.block(ids, group.rank, group.size)
    found = read(mine)
    say = progress or (lambda line: None)
    where = f"process {group.rank} of {group.size}"
    say(f"{where}: {len(mine)} of the {len(ids)} series of one global model")
    workers = default_workers(group) if workers is None else validation.check_positive_int("workers", workers)
    share = {s: found[s] for s in mine}
    fitted = global_processes.fit_across(model, share, group, workers=workers, split_minibatches=split_minibatches)
    if group.rank == 0:
        fitted.save(folder)  # under the folder's lock; the old copy stays until the new is whole
        say(f"{where}: saved the global model of {len(ids)} series in {folder}")
    # No process returns before the model is saved: a launcher that sees every process end sees it whole.
    all_gather_json(0)
    return FitReport(group, tuple(mine), (), len(ids), 0, len(ids), time.perf_counter() - started, fitted)


# ---------------------------------------------------------------------------- backtests


def backtest_many(
    data: Any,
    forecasters: Any,
    *,
    train_size: int,
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    heartbeat_timeout: int = HEARTBEAT_TIMEOUT,
    **options: Any,
) -> dict[str, dict[str, Any]]:
    """Walk-forward backtests of every series of ``data``, the series split across processes.

    Each process backtests its share (``jaxlstm.evaluation.backtest`` per series, the
    same call one process would make), then one all-gather gives every process all
    results, so each returns exactly what a single process returns.

    Args:
        data: as in ``fit_many``: the path of a long file, ``{symbol: prices}`` or a long DataFrame.
        forecasters: model names (``"lstm"``, ``"naive"``...) or ``{name: factory}``, as
            ``backtest`` takes them (the same in every process).
        train_size: prices each refit sees (``backtest``'s).
        coordinator, num_processes, process_id, heartbeat_timeout: see ``initialize``.
        **options: the rest of ``backtest``'s keywords (``steps``, ``horizon``,
            ``origins``, ``stride``, ``confidence``, ``vectorize``, ``interval``).

    Returns:
        ``{symbol: BacktestResult.to_dict()}`` in the sorted order of the ids.
    """
    from jaxlstm._src.evaluation.backtest import backtest

    if "progress" in options:
        raise TypeError("backtest_many reports no progress: leave out progress=")
    group = initialize(coordinator, num_processes, process_id, heartbeat_timeout=heartbeat_timeout)
    ids, read = _series_source(data)
    series = read(long_files.share(ids, group.rank, group.size))
    mine = {
        symbol: backtest(item, forecasters, train_size=train_size, **options).to_dict()
        for symbol, item in series.items()
    }
    merged: dict[str, dict[str, Any]] = {}
    for part in all_gather_json(mine):
        merged.update(part)
    return {symbol: merged[symbol] for symbol in ids}


def _trainer(
    forecaster: Any, settings: dict[str, Any], search: Mapping[str, Sequence[Any]] | None, options: Any
) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    """``train(chunk, workers) -> {symbol: fitted model}``: one ``fit_many``, or a ``tune`` per series."""
    if search is None:
        if options:
            raise TypeError("search_options needs search= (a search space)")
        return lambda chunk, workers: forecaster.fit_many(chunk, workers=workers, **settings)
    from jaxlstm._src.forecasters.lstm import LSTMForecaster
    from jaxlstm._src.forecasters.tuning import check_space, tune

    if forecaster is not LSTMForecaster:
        raise TypeError(f"search= tunes LSTMForecaster models, got forecaster={forecaster!r:.80}")
    check_space(search, settings)  # a bad space fails before any process reads data
    options = dict(options or {})
    # processes= would split one series' trials over processes that tune other series.
    if not options.keys().isdisjoint(("space", "data", "workers", "devices", "processes")):
        raise TypeError(f"search_options must hold tune's options only (folds, horizon...), got {sorted(options)}")

    def train(chunk: dict[str, Any], workers: int) -> dict[str, Any]:
        return {s: tune(item, search, workers=workers, symbol=s, **options, **settings) for s, item in chunk.items()}

    return train


def complete_models(models: str | os.PathLike) -> list[pathlib.Path]:
    """The complete model folders in ``models`` (temporary and backup siblings left out), sorted."""
    folder = pathlib.Path(models)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if model_files.is_model_folder(p))

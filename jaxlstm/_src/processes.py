"""The processes of a ``jax.distributed`` job: joining them, all-gathers, and cores per process.

Shared by ``distributed`` (many series across processes) and ``tune(processes=...)`` (one
search's trials across processes). ``initialize`` is the only place that changes JAX's
configuration (the CPU "gloo" collectives), and only when called: importing changes nothing.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxlstm._src import stacked, validation

#: Seconds without a heartbeat after which the runtime declares a process dead (JAX's own default is 100).
HEARTBEAT_TIMEOUT = 60
#: Seconds ``initialize`` waits for every process to join.
INITIALIZATION_TIMEOUT = 300


class ProcessGroup(NamedTuple):
    """Where this process stands: process ``rank`` of ``size``, ``on_host`` of them on this host."""

    rank: int
    size: int
    on_host: int


_GROUP: ProcessGroup | None = None


def _jax() -> Any:
    import jax

    return jax


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    heartbeat_timeout: int = HEARTBEAT_TIMEOUT,
    initialization_timeout: int = INITIALIZATION_TIMEOUT,
) -> ProcessGroup:
    """Joins this process to the others through ``jax.distributed.initialize`` (once per process).

    Call it in every process before anything else uses JAX. With no arguments JAX detects
    a SLURM or Open MPI job; where there is none the process runs alone (``size`` 1) and
    nothing is initialised. A process where ``jax.distributed`` is already initialised
    (by its own launcher) keeps that setup.

    Args:
        coordinator: ``"host:port"`` of process 0's coordination service, or None.
        num_processes: how many processes take part, or None.
        process_id: this process's index ``0 <= process_id < num_processes``, or None.
        heartbeat_timeout: seconds without a heartbeat after which a process counts as
            dead and the runtime stops the others.
        initialization_timeout: seconds to wait for every process to join.

    Returns:
        ``ProcessGroup(rank, size, on_host)`` (``on_host``: processes on this host).

    Raises:
        ValueError: some but not all of the three placement arguments, or bad values.
        RuntimeError: JAX has already run a computation in this process (the runtime must
            be joined first) or a process did not join in time.
    """
    global _GROUP  # noqa: PLW0603 - one process joins one group, once
    if _GROUP is not None:
        return _GROUP
    given = (coordinator, num_processes, process_id)
    if any(v is not None for v in given) and any(v is None for v in given):
        raise ValueError(
            "coordinator, num_processes and process_id go together (or none of them, to detect a SLURM or "
            f"Open MPI job), got coordinator={coordinator!r}, num_processes={num_processes!r}, process_id={process_id!r}"
        )
    if coordinator is not None:
        if not isinstance(coordinator, str) or ":" not in coordinator:
            raise ValueError(f"coordinator must be 'host:port', got {coordinator!r}")
        num_processes = validation.check_positive_int("num_processes", num_processes)
        process_id = validation.check_positive_int("process_id", process_id, minimum=0)
        if process_id >= num_processes:
            raise ValueError(f"process_id must be below num_processes={num_processes}, got {process_id}")
    heartbeat_timeout = validation.check_positive_int("heartbeat_timeout", heartbeat_timeout)
    initialization_timeout = validation.check_positive_int("initialization_timeout", initialization_timeout)
    jax = _jax()
    if not jax.distributed.is_initialized():
        # CPU processes can only run collectives (the final all-gather) through gloo; it
        # must be chosen before the CPU backend starts, and leaves GPUs and TPUs alone.
        previous = jax.config.jax_cpu_collectives_implementation
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        try:
            jax.distributed.initialize(
                coordinator_address=coordinator,
                num_processes=num_processes,
                process_id=process_id,
                heartbeat_timeout_seconds=heartbeat_timeout,
                initialization_timeout=initialization_timeout,
            )
        except ValueError as err:
            # JAX found no SLURM, Open MPI or other job to detect, and none was given:
            # this process runs alone.
            if coordinator is None and "coordinator_address should be defined" in str(err):
                jax.config.update("jax_cpu_collectives_implementation", previous)
                _GROUP = ProcessGroup(0, 1, 1)
                return _GROUP
            raise
        except RuntimeError as err:
            # JAX has already run in this process (a notebook, a host application): it can
            # no longer join anything, which is right when there is nothing to join.
            if coordinator is None and "before any JAX calls" in str(err) and not _in_a_job():
                jax.config.update("jax_cpu_collectives_implementation", previous)
                _GROUP = ProcessGroup(0, 1, 1)
                return _GROUP
            raise RuntimeError(
                "could not join the other processes of this job: JAX has already run in this process; call "
                "fit_many (or jaxlstm.distributed's other functions) before anything else uses JAX"
            ) from None
        except Exception as err:  # XlaRuntimeError and friends: say what failed in one line
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise RuntimeError(f"could not join the other processes through jax.distributed: {first}") from None
    index, count = jax.process_index(), jax.process_count()
    hosts = _all_gather_bytes(socket.gethostname().encode())
    _GROUP = ProcessGroup(index, count, sum(h == hosts[index] for h in hosts))
    return _GROUP


#: Keys of ``tune``'s ``processes=`` dict: ``initialize``'s arguments.
JOIN_KEYS: tuple[str, ...] = ("coordinator", "num_processes", "process_id", "heartbeat_timeout")


def join(processes: bool | Mapping[str, Any]) -> ProcessGroup:
    """Joins the job that ``tune(processes=...)`` names: ``True`` (detected or already joined) or ``initialize``'s arguments.

    Raises:
        TypeError: ``processes`` is neither ``True`` nor a dict of ``JOIN_KEYS``.
    """
    if processes is True:
        return initialize()
    if isinstance(processes, Mapping) and set(processes) <= set(JOIN_KEYS):
        return initialize(**processes)
    raise TypeError(
        "processes must be False, True (the job JAX detects or has joined) or a dict of "
        f"{', '.join(JOIN_KEYS)}, got {processes!r:.80}"
    )


#: Environment variables of the jobs ``jax.distributed.initialize()`` detects (SLURM, Open MPI)
#: and of a coordinator given through the environment.
JOB_VARIABLES: tuple[str, ...] = ("JAX_COORDINATOR_ADDRESS", "SLURM_JOB_ID", "OMPI_MCA_orte_hnp_uri")


def _in_a_job() -> bool:
    return any(os.environ.get(name) for name in JOB_VARIABLES)


def _all_gather_bytes(data: bytes) -> list[bytes]:
    """Every process's ``data``, in process order (one all-gather of lengths, one of padded bytes)."""
    jax = _jax()
    if jax.process_count() == 1:
        return [data]
    from jax.experimental import multihost_utils

    sizes = np.asarray(multihost_utils.process_allgather(np.array([len(data)], np.int64))).reshape(-1)
    padded = np.zeros(int(sizes.max()), np.uint8)
    padded[: len(data)] = np.frombuffer(data, np.uint8)
    rows = np.asarray(multihost_utils.process_allgather(padded)).reshape(len(sizes), -1)
    return [rows[i, : int(sizes[i])].tobytes() for i in range(len(sizes))]


def all_gather_json(value: Any) -> list[Any]:
    """Every process's JSON-able ``value``, in process order (identical in every process)."""
    return [json.loads(b) for b in _all_gather_bytes(json.dumps(value).encode())]


def default_workers(group: ProcessGroup) -> int:
    """Threads per process: the cores this process may use, split among the processes on its host.

    A scheduler that pins each process to its own cores (SLURM's ``--cpus-per-task``) gives
    each an affinity smaller than the machine: that is taken as it is.
    """
    cores = stacked.available_cores()
    if cores < (os.cpu_count() or cores):
        return cores
    return max(1, cores // max(1, group.on_host))


def core_shares(count: int, cores: Sequence[int] | None = None) -> list[frozenset[int]] | None:
    """Each of ``count`` processes of one host its own cores, as SLURM's ``--cpu-bind=cores`` gives them.

    A launcher binds the processes it starts to these shares (``os.sched_setaffinity``), and
    each then runs ``default_workers`` threads on its own cores: unbound, every process's
    threads (its block workers and XLA's own pool) compete for every core, and two
    processes on two cores spent about 10% more CPU per model than bound ones
    (``benchmarks/speed/processes.py`` at 200 and 1,000 series).

    Args:
        count: processes on this host, >= 1.
        cores: the cores to share (default: this process's affinity).

    Returns:
        ``count`` disjoint, contiguous shares of the sorted cores (the first ones a core
        larger where ``count`` does not divide them), or None where there is nothing to
        bind: one process, fewer cores than processes, or an OS without CPU affinity.
    """
    count = validation.check_positive_int("count", count)
    if cores is None:
        if not hasattr(os, "sched_getaffinity"):
            return None
        cores = sorted(os.sched_getaffinity(0))
    ordered = sorted(set(cores))
    if count == 1 or len(ordered) < count:
        return None
    size, extra = divmod(len(ordered), count)
    starts = [i * size + min(i, extra) for i in range(count + 1)]
    return [frozenset(ordered[starts[i] : starts[i + 1]]) for i in range(count)]

"""Many series across processes on JAX's multi-controller runtime (``jax.distributed``).

Call the same function in every process of a job: the processes join through
``jax.distributed.initialize`` (given ``coordinator``, ``num_processes`` and
``process_id`` on one host; detected under SLURM or Open MPI; alone when there is no
job), split the series (every N-th of the sorted ids), and each reads only its own
series of a long parquet or CSV file.

* ``fit_many``: fits one model per series and saves each into a models folder (the
  ``jaxlstm.ModelCache`` layout), skipping fresh ones; the ``jaxlstm fit-many`` command
  runs it (``--processes N`` starts N processes on this host). With ``global_name=`` it fits
  ONE global model of every series instead: each process holds a block of the series, the
  weights train data-parallel over every process's windows (equal to one process to float
  rounding), and process 0 saves the complete model (``jaxlstm fit-many --global``).
* ``backtest_many``: walk-forward backtests of every series, the results gathered to every
  process.
* ``jaxlstm.tune(data, space, processes=True)`` (or ``processes={"coordinator": ...,
  "num_processes": ..., "process_id": ...}``): one search with its trials split over the
  processes, each rung's scores all-gathered; every process returns the model and table
  one process would.

On CPUs the processes use the "gloo" collectives, chosen when a function joins them (not
on import). A launcher that calls ``jax.distributed.initialize`` itself must set
``jax.config.update("jax_cpu_collectives_implementation", "gloo")`` before it.
"""

from jaxlstm._src.distributed import backtest_many, fit_many

__all__ = ["backtest_many", "fit_many"]

"""One command that measures jaxlstm's speed and writes JSON, a markdown table and plots.

    python -m benchmarks.run [--quick] [--out DIR] [--sections train,predict,cold_start,scaling,profile,concurrency,population,architectures,processes]

Sections (``benchmarks/README.md`` explains every row), one module each in
``benchmarks/speed/``:

1. ``train``: the seed configuration (500 demo candles, window 20, hidden 32, Adam 1e-3,
   100 epochs, batch 32, no early stopping) through ``jaxlstm.train``, through
   ``LSTMForecaster.fit`` and in PyTorch; then batch size 1 for a few epochs.
2. ``predict``: warm latency of 1, 24 and 168 step forecasts (functional and wrapper),
   and 10 symbols x 168 steps at once.
3. ``cold_start``: a new process that imports jaxlstm, loads a saved model and forecasts
   "1d", without and with JAX's persistent compilation cache.
4. ``scaling``: training time against the number of symbols trained together, the hidden
   size and the sequence length, with parameter counts and XLA's memory estimate.
5. ``profile``: where the training step's time goes, and loop variants against a reference.
6. ``concurrency``: two threads fitting two different models against one fit alone.
7. ``population``: K = 8, 32, 128 members trained in one call against K sequential fits of
   this library and of PyTorch (1 thread and default threads).
8. ``architectures``: training time and one-window forecast latency of each network
   (LSTM, bidirectional LSTM, LSTM + attention, transformer) against the same network
   built from stock PyTorch modules, with PyTorch's default threads and one thread.
9. ``processes``: 10,000 series x 500 prices fitted by ``jaxlstm.distributed.fit_many``
   with 1 and 2 processes: series per second, CPU time and peak memory per process
   (``python -m benchmarks.speed.processes --series N`` runs it alone, at any size; with
   ``--mode global`` or ``global-split`` it fits ONE global model across the processes).

This module only orchestrates: it turns the persistent compilation cache off, runs the
sections in order, then writes ``bench.json`` and renders ``bench.md`` (from the JSON
just written, so every number in it is in the JSON) and the plots.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks import _timing, torch_lstm
from benchmarks.speed.architectures import bench_architectures
from benchmarks.speed.cold_start import bench_cold_start
from benchmarks.speed.common import REPO_ROOT, guarded, jsonable, log
from benchmarks.speed.concurrency import bench_concurrency
from benchmarks.speed.markdown import render_markdown
from benchmarks.speed.plots import make_plots
from benchmarks.speed.population import bench_population
from benchmarks.speed.predict import bench_predict
from benchmarks.speed.processes import bench_processes
from benchmarks.speed.profile import bench_profile
from benchmarks.speed.scaling import bench_scaling
from benchmarks.speed.settings import QUICK, Settings
from benchmarks.speed.targets import TARGETS, evaluate_targets
from benchmarks.speed.train import bench_train

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "results"
# Each section in the order it runs: later sections reuse what earlier ones leave in the
# shared state (the trained params and forecaster).
SECTION_RUNNERS: dict[str, Callable[[Settings, dict[str, Any]], dict[str, Any]]] = {
    "train": bench_train,
    "predict": bench_predict,
    "cold_start": bench_cold_start,
    "scaling": bench_scaling,
    "profile": bench_profile,
    "concurrency": bench_concurrency,
    "population": bench_population,
    "architectures": bench_architectures,
    "processes": bench_processes,
}
SECTIONS = tuple(SECTION_RUNNERS)
# --quick leaves the profile out unless asked for (it compiles ten training loops), and
# the processes (it starts five processes, each compiling its own trainer).
QUICK_SECTIONS = ("train", "predict", "cold_start", "scaling", "concurrency", "population", "architectures")
SCHEMA_VERSION = 1
# Idle seconds before each section of a full run (see _run).
SECTION_PAUSE_S = 2.0


def _disable_persistent_cache() -> str:
    """Turns JAX's persistent compilation cache off in this process; says what was found.

    Compile times must be real compiles, so this process never reads a persistent cache
    (the cold-start section measures the cache in separate processes). jaxlstm may turn
    the cache on when imported, so it is imported with that switched off, and the JAX
    setting is cleared afterwards in case it was imported earlier.
    """
    previous = os.environ.get("JAXLSTM_COMPILATION_CACHE")
    os.environ["JAXLSTM_COMPILATION_CACHE"] = "0"
    try:
        import jax

        import jaxlstm  # noqa: F401  (imported here, with the switch above, on purpose)
    finally:
        if previous is None:
            os.environ.pop("JAXLSTM_COMPILATION_CACHE", None)
        else:
            os.environ["JAXLSTM_COMPILATION_CACHE"] = previous
    found = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    try:
        from jax._src import compilation_cache

        compilation_cache.reset_cache()
    except (ImportError, AttributeError):  # private API; the config update above is the main switch
        pass
    return "off" if not found else f"off (was {found} before this run turned it off)"


def run(settings: Settings, out_dir: pathlib.Path, sections: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    """Runs the selected sections and writes ``bench.json``, ``bench.md`` and the plots.

    The persistent compilation cache is off while it runs and restored afterwards, so
    running the harness inside another program leaves that program's setting alone.
    """
    import jax

    previous_cache_dir = jax.config.jax_compilation_cache_dir
    machine = _timing.machine_info()  # before any thread change, so it records the defaults
    previous_threads = None
    if settings.torch_threads is not None and torch_lstm.available():
        import torch

        previous_threads = torch.get_num_threads()
        torch.set_num_threads(settings.torch_threads)
    try:
        return _run(settings, out_dir, sections, machine)
    finally:
        jax.config.update("jax_compilation_cache_dir", previous_cache_dir)
        if previous_threads is not None:
            import torch

            torch.set_num_threads(previous_threads)


def _run(
    settings: Settings, out_dir: pathlib.Path, sections: tuple[str, ...], machine: dict[str, Any]
) -> dict[str, Any]:
    cache_state = _disable_persistent_cache()
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "quick": settings.quick,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "settings": dataclasses.asdict(settings),
        "sections_run": list(sections),
        "machine": machine,
        "in_process_compilation_cache": cache_state,
        "targets_reference": TARGETS,
    }
    state: dict[str, Any] = {}
    for name, fn in SECTION_RUNNERS.items():
        if name in sections:
            # PyTorch's OpenMP threads keep spinning for a while after its last call; a
            # full run measured 1-step forecasts at 76 us right after the training section
            # and 29 us alone. A pause lets them go to sleep before the next section.
            time.sleep(0.0 if settings.quick else SECTION_PAUSE_S)
            log(f"section {name}")
            results[name] = guarded(name, lambda fn=fn: fn(settings, state))
        else:
            results[name] = {"skipped": True}
    results["targets"] = evaluate_targets(results)
    results["load_average_at_end"] = _timing.load_average()
    try:
        import resource

        results["process_max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except (ImportError, OSError):
        results["process_max_rss_bytes"] = None
    results["duration_s"] = time.time() - started
    results["plots"] = make_plots(results, out_dir)
    results = jsonable(results)
    (out_dir / "bench.json").write_text(json.dumps(results, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    # Rendered from the JSON just written, so the table cannot show a number the JSON lacks.
    reloaded = json.loads((out_dir / "bench.json").read_text(encoding="utf-8"))
    (out_dir / "bench.md").write_text(render_markdown(reloaded), encoding="utf-8")
    return reloaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and single repeats (a smoke test, seconds)")
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=DEFAULT_OUT,
        help=f"output folder (default {DEFAULT_OUT.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--sections",
        default=None,
        help=f"comma-separated subset of {','.join(SECTIONS)} (default: all; with --quick all but profile)",
    )
    args = parser.parse_args(argv)
    if args.sections is None:
        sections = QUICK_SECTIONS if args.quick else SECTIONS
    else:
        sections = tuple(x.strip() for x in args.sections.split(",") if x.strip())
    unknown = [x for x in sections if x not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {SECTIONS}")
    results = run(QUICK if args.quick else Settings(), args.out, sections)
    log(f"wrote {args.out / 'bench.json'} and {args.out / 'bench.md'} ({results['duration_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

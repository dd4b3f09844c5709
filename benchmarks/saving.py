"""Saving a model into a models folder that already holds many: milliseconds per save against the folder's size.

    python -m benchmarks.saving [--sizes 0,1000,10000] [--saves 20] [--out benchmarks/results]

``jaxlstm fit-many`` and ``ModelCache`` save every model into one folder (``<symbol>/`` and
``<symbol>.lock`` per model), so a save's cost must not grow with the models already there.
For each size N the folder is filled with N model entries (a folder and a lock file each:
what a save lists, not what it reads), then ``--saves`` saves of one fitted default-sized
model go into it under new names; the median milliseconds per save and the process's CPU
milliseconds per save are reported.

Writes ``saving.json`` and ``saving.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from benchmarks import _timing

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def fill(folder: pathlib.Path, count: int) -> None:
    """``count`` entries as a models folder holds them: ``S00000/`` and ``S00000.lock``, ..."""
    for i in range(count):
        (folder / f"S{i:06d}").mkdir()
        (folder / f"S{i:06d}.lock").touch()


def measure(sizes: Sequence[int], saves: int) -> dict[str, Any]:
    """Milliseconds per save (median over ``saves``) and CPU milliseconds per save, per folder size."""
    import numpy as np

    import jaxlstm as jl

    prices = jl.data.load_demo().close[-500:]
    model = jl.LSTMForecaster(epochs=2).fit(np.asarray(prices))
    rows = []
    with tempfile.TemporaryDirectory(prefix="jaxlstm-saving-") as tmp:
        model.save(pathlib.Path(tmp) / "warm")  # imports Orbax and starts its machinery once
        for size in sizes:
            folder = pathlib.Path(tmp) / f"models-{size}"
            folder.mkdir()
            fill(folder, size)
            seconds = []
            start_cpu = time.process_time()
            for i in range(saves):
                start = _timing.now()
                model.save(folder / f"new{i:03d}")
                seconds.append(_timing.now() - start)
            cpu = (time.process_time() - start_cpu) / saves
            rows.append({"models": size, "save": _timing.summarize(seconds), "cpu_s_per_save": cpu})
    return {"saves": saves, "rows": rows, "machine": _timing.machine_info()}


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Saving into a models folder that already holds many models",
        "",
        f"`python -m benchmarks.saving --sizes {','.join(str(r['models']) for r in results['rows'])} "
        f"--saves {results['saves']}`; medians of {results['saves']} saves of one fitted default model.",
        f"Machine: {results['machine'].get('cpu_model', '?')}, load average at start "
        f"{results['machine'].get('load_average_at_start')}.",
        "",
        "| models already in the folder | ms per save (median) | min | max | CPU ms per save |",
        "|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        save = row["save"]
        lines.append(
            f"| {row['models']:,} | {save['median_s'] * 1e3:.1f} | {save['min_s'] * 1e3:.1f} "
            f"| {save['max_s'] * 1e3:.1f} | {row['cpu_s_per_save'] * 1e3:.1f} |"
        )
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.saving", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="0,1000,10000", help="comma-separated counts of models already saved")
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    if any(size < 0 for size in sizes) or args.saves < 1:
        parser.error(f"--sizes must be counts >= 0 and --saves >= 1, got {args.sizes!r} and {args.saves}")
    results = measure(sizes, args.saves)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "saving.json").write_text(json.dumps(results, indent=1))
    text = markdown(results)
    (args.out / "saving.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

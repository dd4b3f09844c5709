"""``bench.md``: the tables of a run, rendered from its results alone.

Every number in the markdown comes from the results dict (``bench.json`` as written), so
the table cannot show a number the JSON lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from benchmarks.speed.common import get, na


def _fmt_t(x: Any) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    if x >= 1:
        return f"{x:.2f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.1f} us"


def _fmt_x(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.2f}x"


def _fmt_b(x: Any) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if x < 1024 or unit == "GiB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return str(x)


def _head(*columns: str) -> list[str]:
    """A table's header line and separator line."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _missing(*cells: Any, blanks: int) -> str:
    """A row that says why a measurement is missing, its other ``blanks`` cells empty."""
    return _row(*cells) + " |" * blanks


def _latency_cells(d: dict[str, Any]) -> tuple[str, str, str]:
    """Warm median, warm min and first call of a ``common.latency`` measurement."""
    return _fmt_t(d["warm"]["median_s"]), _fmt_t(d["warm"]["min_s"]), _fmt_t(d["first_call_s"])


def _latency_rows(entries: Iterable[tuple[tuple[Any, ...], Any]], blanks: int) -> list[str]:
    """One row per ``(leading cells, measurement)``: its latency, or why it is missing."""
    return [_missing(*lead, na(d), blanks=blanks) if na(d) else _row(*lead, *_latency_cells(d)) for lead, d in entries]


# ---------------------------------------------------------------------------- sections

# Result key and row label of each way of training, as the training tables list them.
_TRAIN_PATHS = (
    ("jax_functional", "JAX `train()`"),
    ("jax_forecaster", "JAX `LSTMForecaster.fit`"),
    ("torch", "PyTorch eager, default threads"),
    ("torch_1_thread", "PyTorch eager, 1 thread"),
)
# Result key and row label of each cold-start mode.
_COLD_MODES = (
    ("no_cache", "no persistent cache"),
    ("cache_filling", "cache, first process (fills it)"),
    ("cache_warm", "cache, warm"),
)


def _header(r: dict[str, Any]) -> list[str]:
    m = r["machine"]
    return [
        "# jaxlstm benchmarks",
        "",
        f"Run {r['started_at']} ({'QUICK smoke run: tiny sizes, not comparable to the targets' if r['quick'] else 'full run'}),"
        f" {r['duration_s']:.0f} s. Times are medians of several runs on this machine; raw runs are in `bench.json`.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m.get('cpu_model')} ({', '.join(m.get('cpu_flags') or []) or 'flags n/a'}) |",
        f"| cores | {m.get('logical_cores')} logical, {m.get('usable_cores')} usable by this process |",
        f"| load average (1/5/15 min) | start {m.get('load_average_at_start')}, end {r.get('load_average_at_end')} |",
        f"| JAX backend | {m.get('jax_backend')} {m.get('jax_devices')} |",
        "| versions | " + ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items()) + " |",
        f"| torch threads | {m.get('torch_num_threads')} by default; this run: "
        f"{'the default' if r['settings'].get('torch_threads') is None else r['settings'].get('torch_threads')} |",
        f"| persistent compilation cache in this process | {r.get('in_process_compilation_cache')} |",
        "",
        "A load average above the core count means other work shared the CPU during the run.",
        "",
    ]


def _train(tr: dict[str, Any]) -> list[str]:
    c = tr["config"]
    lines = [
        f"{c['candles']} demo candles, min-max scaled, {c['windows']} windows of {c['window']}, hidden {c['hidden_size']}, "
        f"Adam {c['learning_rate']:g}, {c['epochs']} epochs x {c['steps_per_epoch']} steps of batch {c['batch_size']}, "
        f"no early stopping, no validation split, float32 ({c['params']} params).",
        "",
        *_head("path", "first call (compile + run)", "compile", "warm median", "warm min", "runs", "final train loss"),
    ]
    for key, label in _TRAIN_PATHS:
        d = tr.get(key)
        if na(d):
            lines.append(_missing(label, na(d), blanks=5))
            continue
        loss = d.get("final_train_loss")
        lines.append(
            f"| {label} | {_fmt_t(d.get('first_call_s'))} | {_fmt_t(d.get('compile_s')) if 'compile_s' in d else '(no compile)'} | "
            f"{_fmt_t(d['warm']['median_s'])} | {_fmt_t(d['warm']['min_s'])} | {len(d['warm']['runs_s'])} | "
            f"{'n/a' if loss is None else f'{loss:.3g}'} |"
        )
    threads = get(tr, "torch", "num_threads")
    b1 = tr.get("batch1", {})
    lines += [
        "",
        f"Ratios of warm medians: PyTorch ({threads} threads{', its default' if get(tr, 'torch', 'num_threads_is_default') else ''}) / JAX `train()` = {_fmt_x(tr.get('ratio_torch_over_jax'))};"
        f" PyTorch (1 thread) / JAX `train()` = {_fmt_x(tr.get('ratio_torch1_over_jax'))};"
        f" PyTorch ({threads} threads) / `LSTMForecaster.fit` = {_fmt_x(tr.get('ratio_torch_over_forecaster'))}.",
        "",
        f"Batch size 1 (the seed's per-sample loop), timed over {b1.get('epochs')} epochs of {b1.get('steps_per_epoch')} steps"
        " and reported per epoch:",
        "",
        *_head("path", "first call", "per epoch (warm median)", "per epoch (warm min)"),
    ]
    for key, label in _TRAIN_PATHS:
        d = b1.get(key)
        if key == "jax_forecaster":  # the wrapper is not timed at batch size 1
            continue
        if na(d):
            lines.append(_missing(label, na(d), blanks=2))
            continue
        lines.append(
            _row(
                label,
                _fmt_t(d.get("first_call_s")),
                _fmt_t(d.get("per_epoch_s")),
                _fmt_t(d["warm"]["min_s"] / b1["epochs"]),
            )
        )
    lines += [
        "",
        f"Ratios of per-epoch medians: PyTorch (default threads) / JAX = {_fmt_x(b1.get('ratio_torch_over_jax'))};"
        f" PyTorch (1 thread) / JAX = {_fmt_x(b1.get('ratio_torch1_over_jax'))}.",
        "",
    ]
    return lines


def _predict(pr: dict[str, Any]) -> list[str]:
    lines = [
        f"One window of {pr['window']} scaled prices, hidden {pr['hidden_size']}; each call blocks until the result is ready.",
        "",
        *_head("path", "steps", "warm median", "warm min", "first call (compile + run)"),
    ]
    for key, label in (
        ("functional", "JAX functional, jitted"),
        ("functional_tuned", "JAX functional, jitted with `jl.COMPILER_OPTIONS`"),
    ):
        fn = pr.get(key)
        if fn is not None:
            lines += _latency_rows((((label, k), fn.get(f"steps_{k}")) for k in pr["steps"]), blanks=2)
    fw = pr.get("forecaster")
    if na(fw):
        lines.append(_missing("`LSTMForecaster`", "-", na(fw), blanks=2))
    else:
        wrapper_rows = [
            ("predict_1", 1, "`LSTMForecaster.predict`"),
            *((f"steps_{k}", k, "`LSTMForecaster.predict_multi_step`") for k in pr["steps"] if k != 1),
            ("forecast_1d", fw.get("forecast_1d_steps"), '`LSTMForecaster.forecast("1d")` (with band, timestamps)'),
        ]
        lines += _latency_rows(
            (
                ((label, k), fw[key])
                for key, k, label in wrapper_rows
                if isinstance(fw.get(key), dict) and "warm" in fw[key]
            ),
            blanks=2,
        )
    tp = pr.get("torch")
    if na(tp):
        lines.append(_missing("PyTorch eager", "-", na(tp), blanks=2))
    else:
        lines += [_row("PyTorch eager", k, *_latency_cells(tp.get(f"steps_{k}"))) for k in pr["steps"]]
    ms = pr.get("multi_symbol", {})
    n, k = ms.get("symbols"), ms.get("steps")
    lines += [
        "",
        f"{n} symbols x {k} steps at once. `predict_many` and `forecast_many` split the symbols into"
        " blocks run by one host thread per core; the vmap rows are one call on one core:",
        "",
        *_head("path", "warm median", "warm min", "first call"),
    ]
    multi_rows = (
        ("predict_many", "`jl.predict_many` (one model per symbol, min-max inputs)"),
        ("vmap_params", "`jax.jit(jax.vmap(predict_multi_step))`, one call"),
        ("batch_windows", "one model, batch of windows, one call"),
        ("forecast_many_relative", "`LSTMForecaster.forecast_many`, relative target (default)"),
        ("forecast_many_minmax", "`LSTMForecaster.forecast_many`, min-max target"),
        ("forecaster_loop", "`LSTMForecaster.predict_multi_step` loop"),
    )
    lines += _latency_rows((((label,), ms.get(key)) for key, label in multi_rows), blanks=2)
    if not na(tp) and f"batch_{n}x{k}" in tp:
        lines.append(_row("PyTorch eager, batch of windows", *_latency_cells(tp[f"batch_{n}x{k}"])))
    lines.append("")
    return lines


def _cold_start(cs: dict[str, Any]) -> list[str]:
    lines = [
        f'{cs["what"]}; medians over runs. "compile" = first forecast - second forecast.',
        "",
        *_head(
            "mode",
            "runs",
            "import jax",
            "import jaxlstm",
            "load",
            "first forecast",
            "of which compile",
            "second forecast",
            "to first forecast",
            "process wall",
        ),
    ]
    phases = (
        "import_jax_s",
        "import_jaxlstm_s",
        "load_s",
        "first_forecast_s",
        "compile_s",
        "second_forecast_s",
        "total_to_first_forecast_s",
        "process_wall_s",
    )
    for key, label in _COLD_MODES:
        d = cs.get(key)
        if d:
            lines.append(_row(label, len(d["runs"]), *(_fmt_t(d["median"][p]) for p in phases)))
    lines += [
        "",
        f"Cache entries written: {cs.get('cache_entries')}; time to first forecast, no cache / warm cache: {_fmt_x(cs.get('cache_speedup_total'))}.",
        "",
    ]
    return lines


def _scaling(sc: dict[str, Any]) -> list[str]:
    sy = sc["symbols"]
    lines = [
        f"Symbols trained together, {sc['windows_per_model']} windows each, batch {sc['batch_size']}, via {sy['via']}."
        ' Few epochs are timed at large sizes (column 2) and reported per epoch; "est. 100 epochs" scales that up.'
        ' "vs one at a time" = symbols x (1-symbol time per epoch) / this time per epoch.'
        ' "blocks": the same symbols split into blocks of a few symbols, run by one host thread per core'
        " (what `train_many` and `fit_many` do by default on a CPU).",
        "",
        *_head(
            "symbols",
            "epochs timed",
            "compile",
            "warm total",
            "per epoch",
            "per model-epoch",
            "est. 100 epochs",
            "vs one at a time",
            "blocks",
            "per epoch, blocks",
            "vs one at a time, blocks",
            "XLA temp",
            "XLA peak",
        ),
    ]
    for row in sy["rows"]:
        if na(row):
            lines.append(_missing(row.get("symbols"), na(row), blanks=11))
            continue
        mem = row.get("memory", {})
        lines.append(
            _row(
                row["symbols"],
                row["epochs_timed"],
                _fmt_t(row["compile_s"]),
                _fmt_t(row["warm"]["median_s"]),
                _fmt_t(row["per_epoch_s"]),
                _fmt_t(row["per_model_epoch_s"]),
                _fmt_t(row["est_100_epochs_s"]),
                _fmt_x(row.get("speedup_vs_one_at_a_time")),
                row.get("blocks", 1),
                _fmt_t(row.get("per_epoch_s_blocks", row["per_epoch_s"])),
                _fmt_x(row.get("speedup_vs_one_at_a_time_blocks")),
                _fmt_b(mem.get("temp_size_in_bytes")),
                _fmt_b(mem.get("peak_memory_in_bytes")),
            )
        )
    bs = sc.get("block_sizes")
    if bs and not na(bs) and bs.get("rows"):
        lines += [
            "",
            f"Block size ({bs['symbols']} symbols, {bs['epochs_timed']} epochs timed, blocks run by one thread per core;"
            f" the library uses blocks of at most {bs['max_block_size']}):",
            "",
            *_head("block size", "blocks", "threads", "per model-epoch"),
        ]
        lines += [
            _row(row["block_size"], row["blocks"], row["threads"], _fmt_t(row["per_model_epoch_s"]))
            for row in bs["rows"]
        ]
    for key, label, col in (
        ("hidden", "Hidden size", "hidden_size"),
        ("sequence", "Sequence length", "sequence_length"),
    ):
        block = sc[key]
        fixed = f"sequence length {block['sequence_length']}" if key == "hidden" else f"hidden {block['hidden_size']}"
        rows = block["rows"]
        ep = next((x.get("epochs_timed") for x in rows if "epochs_timed" in x), None)
        tep = next((x.get("torch_epochs_timed") for x in rows if "torch_epochs_timed" in x), None)
        lines += [
            "",
            f"{label} ({fixed}, one model, {sc['windows_per_model']} windows, batch {sc['batch_size']}; JAX timed over {ep} epochs,"
            f" PyTorch over {tep}; per epoch). Memory is XLA's static estimate for the compiled training run"
            " (`memory_analysis()`), not a measured RSS.",
            "",
            *_head(
                col.replace("_", " "),
                "params",
                "compile",
                "JAX per epoch",
                "PyTorch per epoch",
                "PyTorch / JAX",
                "XLA args",
                "XLA temp",
                "XLA peak",
            ),
        ]
        for row in rows:
            if na(row):
                lines.append(_missing(row.get(col), na(row), blanks=7))
                continue
            mem = row.get("memory", {})
            lines.append(
                _row(
                    row[col],
                    row["params"],
                    _fmt_t(row["compile_s"]),
                    _fmt_t(row["jax_per_epoch_s"]),
                    _fmt_t(row.get("torch_per_epoch_s")),
                    _fmt_x(row.get("torch_over_jax")),
                    _fmt_b(mem.get("argument_size_in_bytes")),
                    _fmt_b(mem.get("temp_size_in_bytes")),
                    _fmt_b(mem.get("peak_memory_in_bytes")),
                )
            )
    lines.append("")
    return lines


def _profile(pf: dict[str, Any]) -> list[str]:
    lines = [
        "Where one minibatch step's time goes (batch of windows, jitted, warm):",
        "",
        *_head("piece", "warm median", "warm min"),
    ]
    for name, d in pf.get("step_breakdown", {}).items():
        if na(d):
            lines.append(_missing(name.replace("_", " "), na(d), blanks=1))
        else:
            lines.append(_row(name.replace("_", " "), *_latency_cells(d)[:2]))
    ar = pf.get("arithmetic")
    if ar and not na(ar) and ar.get("step_gflops_per_s"):
        lines += [
            "",
            f"Arithmetic: one loss-and-gradient step is {ar['step_matmul_flop'] / 1e6:.1f} MFLOP of gate matmuls (counted by hand), run at"
            f" {ar['step_gflops_per_s']:.0f} GFLOP/s; a {ar['matmul_size']}x{ar['matmul_size']} float32 matmul runs at"
            f" {ar['matmul_gflops_per_s']:.0f} GFLOP/s on the same CPU.",
        ]
    lines += [
        "",
        f"Whole training loops of {pf['epochs_timed']} epochs ({pf['steps_timed']} steps), each variant changing one thing"
        f" against the reference; {pf['repeats']} interleaved repeats, per step. Below 1.00x is faster.",
        "",
        *_head(
            "variant",
            "change",
            "compile",
            "per step (median)",
            "per step (min)",
            "min vs reference",
            "median vs reference",
            "max abs param diff vs reference",
        ),
    ]
    for name, v in pf.get("variants", {}).items():
        if na(v):
            lines.append(_missing(name, na(v), blanks=6))
            continue
        diff = v.get("max_abs_param_diff_vs_reference")
        lines.append(
            _row(
                name,
                v["what"],
                _fmt_t(v["compile_s"]),
                _fmt_t(v.get("per_step_median_s")),
                _fmt_t(v.get("per_step_min_s")),
                _fmt_x(v.get("min_vs_reference")),
                _fmt_x(v.get("median_vs_reference")),
                "" if diff is None else f"{diff:.1e}",
            )
        )
    lines.append("")
    return lines


def _targets(r: dict[str, Any]) -> list[str]:
    lines = ["## Targets", ""]
    if r["quick"]:
        lines += ["(Quick run: the sizes differ from the seed configuration, so these are not meaningful.)", ""]
    lines += _head("what", "goal", "measured", "met")
    for t in r.get("targets", []):
        fmt = _fmt_t if t["key"].endswith("_s") else _fmt_x
        sign = "<=" if t["direction"] == "le" else ">="
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "NO")
        lines.append(_row(t["what"], f"{sign} {fmt(t['goal'])}", fmt(t["measured"]), met))
    lines += [
        "",
        "Plots: " + ", ".join(f"`{p}`" for p in r.get("plots", []))
        if r.get("plots")
        else "Plots: none (matplotlib missing).",
        "",
    ]
    return lines


# Section key, heading, what a missing section is called, and its renderer, in report order.
def _concurrency(cc: dict[str, Any]) -> list[str]:
    one, two = cc["one_fit"], cc["two_threads"]
    return [
        f"{cc['what']}; {cc['cores']} usable cores; median and min of {len(one['runs_s'])} runs each.",
        "",
        "| run | median | min |",
        "|---|---|---|",
        f"| one fit alone | {_fmt_t(one['median_s'])} | {_fmt_t(one['min_s'])} |",
        f"| two fits, two threads, at once | {_fmt_t(two['median_s'])} | {_fmt_t(two['min_s'])} |",
        f"| two / one | {_fmt_x(cc['two_over_one'])} | |",
        "",
    ]


def _population(pp: dict[str, Any]) -> list[str]:
    one = pp["library_one_fit"]["per_fit"]
    lines = [
        f"{pp['what']}. One lone fit of this library: {_fmt_t(one['median_s'])} (median of "
        f"{pp['library_one_fit']['fits_timed']}); sequential times are that (or PyTorch's) times K.",
        "",
    ]
    for key, label in (("torch_1_thread", "PyTorch, 1 thread"), ("torch_default_threads", "PyTorch, default threads")):
        d = pp.get(key, {})
        lines.append(f"- {label}: " + (na(d) or f"{_fmt_t(d['per_fit']['median_s'])} per fit ({d['threads']} threads)"))
    lines += [
        "",
        *_head(
            "members K",
            "one call (warm)",
            "first call",
            "K sequential fits (library)",
            "throughput vs library",
            "vs PyTorch 1 thread",
            "vs PyTorch default",
            "one call / one fit",
        ),
    ]
    for row in pp["rows"]:
        if na(row):
            lines.append(_missing(row["members"], na(row), blanks=6))
            continue
        lines.append(
            _row(
                row["members"],
                _fmt_t(row["warm"]["median_s"]),
                _fmt_t(row["first_call_s"]),
                _fmt_t(row["sequential_library_s"]),
                _fmt_x(row["throughput_vs_library"]),
                _fmt_x(row.get("throughput_vs_torch_1_thread")),
                _fmt_x(row.get("throughput_vs_torch_default_threads")),
                _fmt_x(row["over_one_fit"]),
            )
        )
    lines.append("")
    return lines


def _architectures(ar: dict[str, Any]) -> list[str]:
    c = ar["config"]
    lines = [
        f"Each network at width {c['width']}, {c['num_layers']} layer, {c['num_heads']} attention heads, one output, "
        f"on {c['windows']} windows of {c['window']} demo candles; training is {c['epochs']} epochs of Adam "
        f"{c['learning_rate']:g}, batch {c['batch_size']}, no early stopping (warm median); the forecast is one window "
        "through the network (warm median). PyTorch runs the same network built from stock modules "
        "(`jaxlstm.to_torch_module`) from the same initial weights. Ratios are PyTorch / JAX (above 1: JAX faster).",
        "",
        *_head(
            "architecture",
            "params",
            "JAX train",
            "PyTorch train (default / 1 thread)",
            "ratio (default / 1 thread)",
            "JAX forecast",
            "PyTorch forecast (default / 1 thread)",
            "ratio (default / 1 thread)",
        ),
    ]

    def median(d: Any) -> str:
        return _fmt_t(d["warm"]["median_s"]) if not na(d) else "n/a"

    for row in ar["rows"]:
        lines.append(
            _row(
                row["architecture"],
                row["params"],
                median(row.get("jax_train")),
                f"{median(row.get('torch_train'))} / {median(row.get('torch_train_1_thread'))}",
                f"{_fmt_x(row.get('ratio_train'))} / {_fmt_x(row.get('ratio_train_1_thread'))}",
                median(row.get("jax_predict")),
                f"{median(row.get('torch_predict'))} / {median(row.get('torch_predict_1_thread'))}",
                f"{_fmt_x(row.get('ratio_predict'))} / {_fmt_x(row.get('ratio_predict_1_thread'))}",
            )
        )
    missing = [
        f"{row['architecture']} {key}: {na(row[key])}"
        for row in ar["rows"]
        for key in row
        if na(row[key]) and isinstance(row[key], dict)
    ]
    lines += ["", *(f"- {m}" for m in missing), ""] if missing else [""]
    return lines


def _process_label(row: dict[str, Any]) -> str:
    """``2 (cores 0 / 1)`` for processes bound to cores, else the count."""
    if not row.get("cores"):
        return str(row["processes"])
    return f"{row['processes']} (cores {' / '.join(','.join(map(str, share)) for share in row['cores'])})"


def _processes(pr: dict[str, Any]) -> list[str]:
    lines = [
        f"{pr['series']} synthetic series x {pr['prices']} prices ({pr['file']} file, {_fmt_b(pr['file_bytes'])}; "
        f"{_fmt_b(pr['data_bytes_float64'])} of float64 prices), default settings with {pr['epochs']} fixed epochs, "
        "each process started as `jaxlstm fit-many` starts it (bound to the cores the row names, if any). "
        "Series per CPU-second of the busiest process is "
        "the wall-clock rate with a free core per process (read it on a shared machine).",
        "",
        *_head(
            "processes",
            "wall",
            "series/s (wall)",
            "CPU s (all)",
            "series/CPU-s of busiest",
            "speed-up (wall / CPU)",
            "peak memory per process",
        ),
    ]
    for row in pr["rows"]:
        lines.append(
            _row(
                _process_label(row),
                _fmt_t(row["wall_s"]),
                f"{row['series_per_s']:.2f}",
                f"{row['cpu_s_total']:.1f}",
                f"{row['series_per_cpu_s_of_busiest']:.2f}",
                f"{_fmt_x(row['speedup_wall'])} / {_fmt_x(row['speedup_cpu'])}",
                ", ".join(_fmt_b(p["peak_rss_bytes"]) for p in row["per_process"]),
            )
        )
    return [*lines, ""]


SECTIONS: tuple[tuple[str, str, str, Callable[[dict[str, Any]], list[str]]], ...] = (
    ("train", "## 1. Training, seed configuration", "Training", _train),
    ("predict", "## 2. Prediction latency (warm)", "Prediction", _predict),
    ("cold_start", "## 3. Cold start (new process)", "Cold start", _cold_start),
    ("scaling", "## 4. Scaling", "Scaling", _scaling),
    ("profile", "## 5. Profile of the training step (seed configuration)", "Profile", _profile),
    ("concurrency", "## 6. Two fits in two threads", "Concurrency", _concurrency),
    ("population", "## 7. Populations: K members in one call", "Populations", _population),
    ("architectures", "## 8. Architectures against PyTorch", "Architectures", _architectures),
    ("processes", "## 9. Many series across processes", "Processes", _processes),
)


def render_markdown(r: dict[str, Any]) -> str:
    """``bench.md`` from the results dict alone (so every number traces back to the JSON)."""
    lines = _header(r)
    for key, heading, name, render in SECTIONS:
        d = r.get(key, {})
        lines += [heading, ""]
        lines += [f"{name}: {na(d)}.", ""] if na(d) else render(d)
    lines += _targets(r)
    return "\n".join(lines)

"""PNG plots of a run: the scaling curves and JAX vs PyTorch training time."""

from __future__ import annotations

import pathlib
from typing import Any

from benchmarks.speed.common import na


def _save(fig: Any, out_dir: pathlib.Path, name: str, written: list[str]) -> None:
    """Writes ``fig`` as ``out_dir/name``, closes it and records the name."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=110)
    plt.close(fig)
    written.append(name)


def make_plots(r: dict[str, Any], out_dir: pathlib.Path) -> list[str]:
    """PNG plots of the scaling curves and JAX vs PyTorch; returns the file names written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []

    sc = r.get("scaling", {})
    if not na(sc):
        rows = [x for x in sc["symbols"]["rows"] if "per_model_epoch_s" in x]
        if rows:
            fig, ax = plt.subplots(figsize=(6, 4))
            syms = [x["symbols"] for x in rows]
            ax.plot(syms, [x["per_model_epoch_s"] * 1e3 for x in rows], "o-", label="trained together, one call")
            if any(x.get("blocks", 1) > 1 for x in rows):
                ax.plot(
                    syms,
                    [x["per_epoch_s_blocks"] / x["symbols"] * 1e3 for x in rows],
                    "s-",
                    label="blocks of a few symbols, one thread per core",
                )
            ax.plot(
                syms,
                [rows[0]["per_model_epoch_s"] * 1e3] * len(rows),
                "--",
                color="gray",
                label="one at a time (1-symbol rate)",
            )
            ax.set_xscale("log")
            ax.set_xlabel("symbols trained together")
            ax.set_ylabel("ms per model per epoch")
            ax.set_title("Training cost per model vs symbols")
            ax.legend()
            _save(fig, out_dir, "scaling_symbols.png", written)
        for key, col, xlabel in (
            ("hidden", "hidden_size", "hidden size"),
            ("sequence", "sequence_length", "sequence length"),
        ):
            rows = [x for x in sc[key]["rows"] if "jax_per_epoch_s" in x]
            if not rows:
                continue
            fig, ax = plt.subplots(figsize=(6, 4))
            xsv = [x[col] for x in rows]
            ax.plot(xsv, [x["jax_per_epoch_s"] * 1e3 for x in rows], "o-", label="JAX")
            trows = [x for x in rows if "torch_per_epoch_s" in x]
            if trows:
                ax.plot([x[col] for x in trows], [x["torch_per_epoch_s"] * 1e3 for x in trows], "s-", label="PyTorch")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("ms per epoch")
            ax.set_title(f"Training time per epoch vs {xlabel}")
            ax.legend()
            _save(fig, out_dir, f"scaling_{key}.png", written)

    tr = r.get("train", {})
    bars: list[tuple[str, float]] = []
    for key, label in (
        ("jax_functional", "JAX train()"),
        ("jax_forecaster", "JAX fit()"),
        ("torch", "PyTorch\ndefault thr."),
        ("torch_1_thread", "PyTorch\n1 thread"),
    ):
        d = tr.get(key) if isinstance(tr, dict) else None
        if not na(d):
            bars.append((label, d["warm"]["median_s"]))
    b1 = tr.get("batch1", {}) if isinstance(tr, dict) else {}
    bars1 = [
        (lbl, b1[k]["per_epoch_s"])
        for k, lbl in (
            ("jax_functional", "JAX"),
            ("torch", "PyTorch\ndefault thr."),
            ("torch_1_thread", "PyTorch\n1 thread"),
        )
        if not na(b1.get(k))
    ]
    if bars or bars1:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for ax, data, title in (
            (axes[0], bars, "seed config, batch 32 (s, warm)"),
            (axes[1], bars1, "batch 1 (s per epoch, warm)"),
        ):
            if data:
                colors = ["tab:orange" if d[0].startswith("PyTorch") else "tab:blue" for d in data]
                ax.bar([d[0] for d in data], [d[1] for d in data], color=colors)
                ax.set_yscale("log")
                for i, (_, v) in enumerate(data):
                    ax.text(i, v, f"{v:.3g}", ha="center", va="bottom")
            ax.set_title(title)
        fig.suptitle("Training: JAX vs PyTorch on the same work")
        _save(fig, out_dir, "jax_vs_torch.png", written)
    return written

"""Paired comparison of two rows of a saved competition document: the MASE ratio per series, with standard errors.

    python -m benchmarks.paired DOC.json ROW BASELINE [ROW BASELINE ...]
    python -m benchmarks.paired --accuracy DOC.json ROW BASELINE [ROW BASELINE ...]

For each pair and each series where both rows ran, the origins are paired (the same
training values and the same actuals): the ratio is ``exp(mean log(MASE_row / MASE_baseline))``
over the origins, with the standard error of that mean log ratio over origins (origins
taken as independent) carried to the ratio by the delta method. Over series: the geometric
mean of the per-series ratios with its standard error over series. Below 1: the row is
more accurate. Prints a markdown table.

``--accuracy``: a ``benchmarks.accuracy`` document (with ``per_origin_mae``): per data set
the paired difference of the two models' MAE over the origins, in units of naive's mean
MAE (the scale of the suite's relative MAE), with its standard error over origins.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    se = float(np.std(values, ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")
    return float(np.mean(values)), se


def paired_ratios(doc: Mapping[str, Any], row: str, baseline: str) -> dict[str, Any]:
    """``{"series": {name: (ratio, se, origins)}, "all": (ratio, se, count)}`` of ``row`` over ``baseline``."""
    found: dict[str, tuple[float, float, int]] = {}
    logs = []
    for name, entry in doc["series"].items():
        a, b = entry["rows"].get(row, {}), entry["rows"].get(baseline, {})
        if "per_origin" not in a or "per_origin" not in b:
            continue
        log_ratio = np.log([x["mase"] / y["mase"] for x, y in zip(a["per_origin"], b["per_origin"], strict=True)])
        mean, se = _mean_se(log_ratio)
        found[name] = (float(np.exp(mean)), float(np.exp(mean) * se), int(log_ratio.size))
        logs.append(mean)
    mean, se = _mean_se(np.asarray(logs))
    return {"series": found, "all": (float(np.exp(mean)), float(np.exp(mean) * se), len(logs))}


def table(doc: Mapping[str, Any], pairs: Sequence[tuple[str, str]]) -> str:
    """Markdown: one line per pair, a column per series and one over all series."""
    names = list(doc["series"])
    lines = [
        "| row / baseline | " + " | ".join(names) + " | geometric mean over series |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for row, baseline in pairs:
        found = paired_ratios(doc, row, baseline)
        cells = []
        for name in names:
            if name in found["series"]:
                ratio, se, _ = found["series"][name]
                cells.append(f"{ratio:.3f} ± {se:.3f}")
            else:
                cells.append("n/a")
        ratio, se, count = found["all"]
        overall = f"{ratio:.3f} ± {se:.3f} ({count})" if count > 1 else f"{ratio:.3f} ({count})"
        lines.append(f"| {row} / {baseline} | " + " | ".join(cells) + f" | {overall} |")
    return "\n".join(lines)


def accuracy_table(doc: Mapping[str, Any], pairs: Sequence[tuple[str, str]]) -> str:
    """Markdown: per pair and data set, mean (MAE_row - MAE_baseline) / mean naive MAE ± its standard error."""
    names = [n for n, entry in doc["datasets"].items() if "per_origin_mae" in entry]
    lines = ["| row - baseline | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for row, baseline in pairs:
        cells = []
        for name in names:
            per = doc["datasets"][name]["per_origin_mae"]
            scale = float(np.mean(per["naive"]))
            mean, se = _mean_se((np.asarray(per[row]) - np.asarray(per[baseline])) / scale)
            cells.append(f"{mean:+.3f} ± {se:.3f}")
        lines.append(f"| {row} - {baseline} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    accuracy = bool(args) and args[0] == "--accuracy"
    args = args[1:] if accuracy else args
    if len(args) < 3 or len(args) % 2 == 0:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    doc = json.loads(pathlib.Path(args[0]).read_text())
    pairs = list(zip(args[1::2], args[2::2], strict=True))
    print(accuracy_table(doc, pairs) if accuracy else table(doc, pairs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

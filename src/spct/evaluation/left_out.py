"""What a benchmark's items leave out, counted by reason: the summary the ``benchmark_items`` stage writes next to
the items (``results/<exp>/data/benchmarks/<name>.summary.json``), its MLflow metric keys, and the report's table.

A reason is a ``spct.data.sources.count_skip`` key, ``"<subset>: <reason>"`` (the loader's: an item that cannot
be a record, a file of the published folder that is not part of the benchmark), or one of the selection's
(``spct.evaluation.loading.load_benchmark_items``: ``max_item_chars``, ``max_items``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd


def benchmark_summary(name: str, spec: Mapping[str, Any], items: int, skipped: Mapping[str, int]) -> dict:
    """``{benchmark, items, left_out: {reason: count}, source, path}`` of one configured benchmark."""
    return {
        "benchmark": name,
        "items": items,
        "left_out": {reason: skipped[reason] for reason in sorted(skipped) if skipped[reason]},
        "source": spec.get("source"),
        "path": None if spec.get("path") is None else str(spec["path"]),
    }


def left_out_metrics(summary: Mapping[str, Any]) -> dict[str, int]:
    """MLflow metrics of a summary: ``items`` and ``left_out/<reason>`` (characters MLflow does not allow in a key,
    such as ``:`` and parentheses, become ``_``)."""
    metrics = {"items": summary["items"], "left_out": sum(summary["left_out"].values())}
    for reason, count in summary["left_out"].items():
        metrics["left_out/" + re.sub(r"[^\w\-. /]", "_", reason)] = count
    return metrics


def left_out_table(summary_paths: Sequence[str | Path]) -> pd.DataFrame:
    """One row per benchmark and reason (``-`` and 0 when nothing was left out) with the items kept."""
    rows = []
    for path in summary_paths:
        summary = json.loads(Path(path).read_text())
        reasons = summary["left_out"] or {"-": 0}
        name, items = summary["benchmark"], summary["items"]
        rows += [{"benchmark": name, "items": items, "reason": r, "left out": n} for r, n in reasons.items()]
    return pd.DataFrame(rows, columns=["benchmark", "items", "reason", "left out"])


__all__ = ["benchmark_summary", "left_out_metrics", "left_out_table"]

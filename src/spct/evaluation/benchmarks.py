"""Evaluation sets (config key ``benchmarks``): selections of the prepared eval records (the bundled
reconstructions) or the paper's benchmarks loaded by ``spct.data.benchmark_sources``, capped the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spct.data.selection import select_benchmark, stratified_cap, within_length
from spct.records import Record


def load_benchmark_items(name: str, spec: Mapping[str, Any], eval_records: Sequence[Record]) -> list[Record]:
    """The items of benchmark ``name`` as configured: ``subsets`` of the prepared eval split (a reconstruction), or
    ``source`` (a ``spct.data.benchmark_sources`` name) read from ``path`` or, without one, from the hub; items longer
    than ``max_item_chars`` are left out before the cap."""
    max_chars = spec.get("max_item_chars")
    if "source" in spec:
        from spct.data.benchmark_sources import load_benchmark

        try:
            records = load_benchmark(spec["source"], path=spec.get("path"), columns=spec.get("columns") or None)
        except FileNotFoundError as error:
            raise FileNotFoundError(f"benchmarks.{name}.path: {error}") from error
        return stratified_cap(within_length(records, max_chars), spec.get("max_items"))
    return select_benchmark(eval_records, name, spec["subsets"], spec.get("max_items"), max_chars)


# The paper column each of its benchmarks fills in the report (SPCT.md 4). A reconstruction from bundled data has
# no paper column: it is reported under its own name, never as the original benchmark.
PAPER_COLUMNS = {
    "rewardbench": "RB",
    "ppe_preference": "PPE-P",
    "ppe_correctness": "PPE-C",
    "rmb": "RMB",
    "realmistake": "ReaLMistake",
}
# The official metric of each source (spct.evaluation.scaling.official_score); anything else is scored by accuracy.
DEFAULT_METRICS = {
    "rewardbench": "rewardbench",
    "ppe_correctness": "ppe_correctness",
    "rmb": "rmb",
    "realmistake": "roc_auc",
}


def benchmark_metric(spec: Mapping[str, Any]) -> str:
    """The metric of a configured benchmark: its ``metric`` key, else its source's official metric, else accuracy."""
    return spec.get("metric") or DEFAULT_METRICS.get(spec.get("source"), "accuracy")


def paper_column(spec: Mapping[str, Any]) -> str | None:
    """The column of the paper's table this benchmark fills (RB, PPE-P, PPE-C, RMB, ReaLMistake), or None."""
    return PAPER_COLUMNS.get(spec.get("source"))

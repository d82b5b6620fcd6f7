"""Evaluation sets (config key ``benchmarks``): selections of the prepared eval records (the bundled
reconstructions) or the paper's benchmarks loaded by ``spct.data.benchmarks``, capped the same way."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from spct.records import Record


def stratified_cap(records: Sequence[Record], max_items: int | None) -> list[Record]:
    """The records round-robin over (subset, label) groups, each in sha256-of-id order; the first ``max_items``.

    Round-robin, so a small cap still covers every subset (a RewardBench score needs each section present, an RMB
    score each of its four parts) and both labels of single responses (a ROC-AUC needs both); hash order, so the
    same items come out every run whatever the input order, and a smaller cap is a prefix of a larger one.
    """
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for record in sorted(records, key=lambda r: hashlib.sha256(r.id.encode()).hexdigest()):
        groups[(record.subset, -1 if record.label is None else record.label)].append(record)
    queues = [groups[key] for key in sorted(groups)]
    ordered = [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]
    return ordered[:max_items] if max_items else ordered


def select_benchmark(
    records: Sequence[Record], name: str, subsets: Sequence[str], max_items: int | None = None
) -> list[Record]:
    """Eval records whose subset is in ``subsets``, capped by ``stratified_cap``."""
    available = {r.subset for r in records if r.split == "eval"}
    unknown = sorted(set(subsets) - available)
    if unknown:
        raise ValueError(
            f"benchmarks.{name}.subsets: unknown subset(s) {unknown}; eval subsets are {sorted(available)}"
        )
    chosen = [r for r in records if r.split == "eval" and r.subset in set(subsets)]
    return stratified_cap(chosen, max_items)


def load_benchmark_items(name: str, spec: Mapping[str, Any], eval_records: Sequence[Record]) -> list[Record]:
    """The items of benchmark ``name`` as configured: ``subsets`` of the prepared eval split (a reconstruction), or
    ``source`` (a ``spct.data.benchmarks`` name) read from ``path`` or, without one, from the hub."""
    if "source" in spec:
        from spct.data.benchmarks import load_benchmark

        try:
            records = load_benchmark(spec["source"], path=spec.get("path"), columns=spec.get("columns") or None)
        except FileNotFoundError as error:
            raise FileNotFoundError(f"benchmarks.{name}.path: {error}") from error
        return stratified_cap(records, spec.get("max_items"))
    return select_benchmark(eval_records, name, spec["subsets"], spec.get("max_items"))


# The paper column each of its benchmarks fills in the report (SPCT.md 4). A reconstruction from bundled data has
# no paper column: it is reported under its own name, never as the original benchmark.
PAPER_COLUMNS = {
    "rewardbench": "RB",
    "ppe_preference": "PPE-P",
    "ppe_correctness": "PPE-C",
    "rmb": "RMB",
    "realmistake": "ReaLMistake",
}
# The official metric of each source (spct.metrics.official_score); anything else is scored by accuracy.
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

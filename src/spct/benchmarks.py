"""Evaluation sets (config key ``benchmarks``): selections of the prepared eval records (the bundled
reconstructions) or the paper's benchmarks loaded by ``spct.data.benchmarks``, capped the same way."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from spct.records import Record


def stratified_cap(
    records: Sequence[Record], max_items: int | None, subset_order: Sequence[str] | None = None
) -> list[Record]:
    """The records round-robin over (subset, label) groups, each in sha256-of-id order; the first ``max_items``.

    Round-robin, so a small cap still covers every subset (a RewardBench score needs each section present, an RMB
    score each of its four parts) and both labels of single responses (a ROC-AUC needs both); hash order, so the
    same items come out every run whatever the input order, and a smaller cap is a prefix of a larger one. Groups
    take turns in ``subset_order`` (the config's order, so listing one subset per section first puts every section
    into a small cap), else in sorted order.
    """
    rank = {subset: i for i, subset in enumerate(subset_order or ())}
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for record in sorted(records, key=lambda r: hashlib.sha256(r.id.encode()).hexdigest()):
        groups[
            (rank.get(record.subset, len(rank)), record.subset, -1 if record.label is None else record.label)
        ].append(record)
    queues = [groups[key] for key in sorted(groups)]
    ordered = [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]
    return ordered[:max_items] if max_items else ordered


def within_length(records: Sequence[Record], max_chars: int | None) -> list[Record]:
    """Records whose prompt and responses together have at most ``max_chars`` characters (None: all).

    A small model's context cannot hold every list (math_cot_100 has best-of-8 lists of over 10K tokens); dropping
    them at selection, counted in the log, beats judging a truncated prompt.
    """
    if max_chars is None:
        return list(records)
    return [r for r in records if len(r.prompt) + sum(map(len, r.responses)) <= max_chars]


def select_benchmark(
    records: Sequence[Record],
    name: str,
    subsets: Sequence[str],
    max_items: int | None = None,
    max_chars: int | None = None,
) -> list[Record]:
    """Eval records whose subset is in ``subsets``, at most ``max_chars`` long (``within_length``), capped by
    ``stratified_cap`` in the order of ``subsets``."""
    available = {r.subset for r in records if r.split == "eval"}
    unknown = sorted(set(subsets) - available)
    if unknown:
        raise ValueError(
            f"benchmarks.{name}.subsets: unknown subset(s) {unknown}; eval subsets are {sorted(available)}"
        )
    chosen = [r for r in records if r.split == "eval" and r.subset in set(subsets)]
    return stratified_cap(within_length(chosen, max_chars), max_items, subset_order=subsets)


def load_benchmark_items(name: str, spec: Mapping[str, Any], eval_records: Sequence[Record]) -> list[Record]:
    """The items of benchmark ``name`` as configured: ``subsets`` of the prepared eval split (a reconstruction), or
    ``source`` (a ``spct.data.benchmarks`` name) read from ``path`` or, without one, from the hub; items longer
    than ``max_item_chars`` are left out before the cap."""
    max_chars = spec.get("max_item_chars")
    if "source" in spec:
        from spct.data.benchmarks import load_benchmark

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

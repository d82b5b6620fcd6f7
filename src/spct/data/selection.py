"""Selection of evaluation items: the configured subsets, a length limit and a stratified cap (config keys
``benchmarks.<name>.subsets``, ``max_item_chars``, ``max_items``)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

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


def hash_ordered(records: Sequence[Record], max_items: int | None = None) -> list[Record]:
    """The records in a stable pseudo-random order (sha256 of the id), the first ``max_items`` (None: all): the
    training items of rejective sampling, GRPO and the meta RM's samples."""
    ordered = sorted(records, key=lambda r: hashlib.sha256(r.id.encode()).hexdigest())
    return ordered[:max_items] if max_items else ordered

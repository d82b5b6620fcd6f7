"""JudgeBench's official rule (Tan et al., 2024), on our GRM's shuffled samples.

Upstream (ScalerLab/JudgeBench, ``utils/metrics.py`` ``compute_final_metrics`` at commit
e2c52c284e735e139b3daa61c206ee208f36c461, called from ``run_judge.py`` at d8740a811eb8c64a37eb22a1f3c80ff194ec284d)
judges each pair twice, as (A, B) and as (B, A); the second decision is flipped back to the original order; each
decision equal to the label counts +1, each equal to the flipped label -1, anything else (no decision, a tie such as
``A=B``) 0; the pair is correct when the sum is above 0. Accuracy = correct pairs / all pairs, "Overall" over all
pairs (not a mean of categories), and per category the same over the pairs whose ``source`` starts with its prefix.

Our GRM shows every sample its responses in its own random order (``spct.grm.shuffle``; the row's
``permutation``), so the two games come from the samples themselves. ``judgebench_rule``, the item rule of
``metric: judgebench``: the voting rows (Greedy's one, Voting@k's k, MetaRM@k's k_meta) are grouped by the order
they showed; within a group the valid scores are summed (Eq. 14), and the group's decision is +1 when the label's
winner has the strictly higher sum, -1 when it has the lower, 0 on a tie or when the group has no valid row; an
order no row showed contributes 0; the item is right (1.0) when the decisions sum above 0, else 0.0. So Greedy
(one order) is right iff its one decision is right, and a pair both of whose orders were voted is right iff one
order is right and the other not wrong. DEVIATION from upstream: which orders are judged, and at Voting@k how many
votes each order gets, follow the random shuffle instead of exactly one judgment per order.
The value per item is 0 or 1, so the score (mean over items, ``spct.evaluation.metrics``) stays linear in it.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Sequence

from spct.data.judgebench import JUDGEBENCH_CATEGORIES
from spct.grm import vote
from spct.records import Record


def order_decision(summed: Sequence[int] | None, best: int) -> int:
    """+1 when response ``best`` has the strictly higher summed score of a pair, -1 when lower, 0 on a tie or
    without a valid vote (None)."""
    if summed is None:
        return 0
    other = 1 - best
    return (summed[best] > summed[other]) - (summed[best] < summed[other])


def order_decisions(record: Record, rows: Sequence[dict]) -> dict[tuple[int, ...], int]:
    """The decision (+1 / -1 / 0) of each order the voting ``rows`` showed, keyed by the order (``permutation``)."""
    if record.n != 2 or record.best is None:
        raise ValueError(f"{record.id}: JudgeBench's rule is for pairs with a best response, got n={record.n}")
    groups: dict[tuple[int, ...], list] = defaultdict(list)
    for row in rows:
        if row.get("permutation") is None:
            raise ValueError(f"{record.id}: judgment row {row.get('sample')!r} has no 'permutation'")
        groups[tuple(row["permutation"])].append(row["scores"] if row["valid"] else None)
    return {order: order_decision(vote(scores, record.n), record.best) for order, scores in groups.items()}


def swap_correct(decisions: Sequence[int]) -> bool:
    """Upstream's pair rule: correct when the decisions (+1 / -1 / 0 per order) sum above 0."""
    return sum(decisions) > 0


def judgebench_rule(record: Record, rows: Sequence[dict], rng: random.Random) -> float:
    """1.0 when the order-grouped decisions of ``rows`` sum above 0, else 0.0 (``rng`` is unused: no tie is
    broken at random, a tie is a 0 decision as upstream's)."""
    return float(swap_correct(list(order_decisions(record, rows).values())))


def judgebench_score(subsets: Sequence[str], values: Sequence[float]) -> tuple[float, dict[str, float]]:
    """Overall = mean over all pairs (upstream's "Overall" filters nothing); parts = the mean of each category
    present (Knowledge, Reasoning, Math, Coding, in upstream's order)."""
    if len(subsets) != len(values) or not values:
        raise ValueError(f"judgebench: {len(values)} values for {len(subsets)} subsets; need at least one item")
    by_category: dict[str, list[float]] = defaultdict(list)
    for subset, value in zip(subsets, values):
        by_category[subset].append(value)
    order = [c for c in JUDGEBENCH_CATEGORIES.values() if c in by_category]
    order += sorted(c for c in by_category if c not in order)
    return statistics.fmean(values), {c: statistics.fmean(by_category[c]) for c in order}


__all__ = ["judgebench_rule", "judgebench_score", "order_decision", "order_decisions", "swap_correct"]

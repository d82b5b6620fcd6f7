"""Each benchmark's official metric, declared once: how one item's votes become its value (the tie rule) and how
the items' values become the score and its parts (the formulas of ``spct.evaluation.official``).

A metric is an entry of ``METRICS`` (config key ``benchmarks.<name>.metric``). ``item_rule(record, rows, rng)`` turns
the judgments that vote on one item (Voting@k's k rows, MetaRM@k's k_meta, Greedy's one) into a value in [0, 1];
``score(subsets, values)`` turns every item's value (averaged over draws) into ``(score, parts)``. Every score
here is linear in the per-item values for fixed subset sizes, so the score of the per-item means over draws equals
the mean of the per-draw scores. Single-response sets (``roc_auc``) are scored apart, by ROC-AUC of the summed score.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spct.evaluation.judgebench import judgebench_rule, judgebench_score
from spct.evaluation.official import (
    ppe_correctness,
    rewardbench_score,
    rewardbench_section_scores,
    rmb_bon_correct,
    rmb_score,
)
from spct.evaluation.rewardbench2 import rewardbench2, rewardbench2_rule
from spct.evaluation.rm_bench import rm_bench_score
from spct.grm import vote, voting_correct
from spct.records import Record

ItemRule = Callable[[Record, Sequence[dict], random.Random], float]
Score = Callable[[Sequence[str], Sequence[float]], tuple[float, dict[str, float]]]


def score_lists(rows: Sequence[dict]) -> list[list[int] | None]:
    """The scores of each judgment row; None for a row without a valid score line."""
    return [row["scores"] if row["valid"] else None for row in rows]


def argmax_rule(record: Record, rows: Sequence[dict], rng: random.Random) -> bool:
    """The paper's rule: sum the valid votes (Eq. 14), break a tie by shuffle-then-argmax; right if the best wins.
    No valid vote is wrong."""
    scores = score_lists(rows)
    return vote(scores, record.n) is not None and voting_correct(scores, record.best, rng)


def strict_rule(record: Record, rows: Sequence[dict], rng: random.Random) -> bool:
    """RMB's rule: right only if the best response's summed score is STRICTLY above every other (a tie is wrong).

    An item where another response has the best one's exact text is wrong whatever the votes: any scalar reward
    model, as RMB evaluates, scores identical texts alike, so RMB counts the tie as wrong; a GRM's sampled scores of
    the two copies can differ by chance, which would make our score depend on luck where the official one cannot.
    """
    if has_copy_of_best(record):
        return False
    summed = vote(score_lists(rows), record.n)
    return summed is not None and rmb_bon_correct(summed, record.best)


def has_copy_of_best(record: Record) -> bool:
    """Another response of the item has exactly the best response's text (RMB has such items; kept, scored wrong)."""
    best = record.responses[record.best]
    return any(text == best for i, text in enumerate(record.responses) if i != record.best)


def subset_means(subsets: Sequence[str], values: Sequence[float]) -> dict[str, float]:
    """Mean value per subset."""
    by_subset: dict[str, list[float]] = defaultdict(list)
    for subset, value in zip(subsets, values):
        by_subset[subset].append(value)
    return {s: statistics.fmean(v) for s, v in by_subset.items()}


def mean_of_items(subsets: Sequence[str], values: Sequence[float]) -> tuple[float, dict[str, float]]:
    """Plain accuracy over items (PPE-Preference, any pair or list set scored alone)."""
    return statistics.fmean(values), {}


def rewardbench(subsets: Sequence[str], values: Sequence[float]) -> tuple[float, dict[str, float]]:
    """RewardBench: section scores from the official subset weights, RB = mean of the sections present."""
    sections = rewardbench_section_scores(subset_means(subsets, values))
    return rewardbench_score(sections, allow_partial=True), sections


def ppe_correctness_domains(subsets: Sequence[str], values: Sequence[float]) -> tuple[float, dict[str, float]]:
    """PPE-Correctness: mean of the five domain accuracies."""
    domains = subset_means(subsets, values)
    return ppe_correctness(domains), domains


def rmb_parts(subsets: Sequence[str], values: Sequence[float]) -> tuple[float, dict[str, float]]:
    """RMB: mean of its four Helpfulness/Harmlessness x BoN/Pairwise parts."""
    parts = subset_means(subsets, values)
    return rmb_score(parts), parts


def rm_bench_parts(subsets: Sequence[str], values: Sequence[float]) -> tuple[float, dict[str, float]]:
    """RM-Bench: each subset is a cell ``<domain>/<i><j>`` of the 3x3 matrix; the total is the mean over domains of
    the mean of easy, normal and hard; parts: the domains and easy / normal / hard."""
    return rm_bench_score(subset_means(subsets, values))


@dataclass(frozen=True)
class Metric:
    """One official metric: ``score`` of the items' values (None: single responses, scored by ROC-AUC) and the
    ``item_rule`` that gives each item its value."""

    score: Score | None
    item_rule: ItemRule = argmax_rule

    @property
    def strict_ties(self) -> bool:
        """A tie with any loser counts as wrong (RMB's rule) instead of being broken by shuffle-then-argmax."""
        return self.item_rule is strict_rule


# accuracy (PPE-P and any plain pair / list set), rewardbench (official section weights, RB = mean of sections),
# ppe_correctness (mean of the five domains), rmb (mean of its four parts), bon (a best-of-N set scored alone, RMB's
# strict rule), roc_auc (single responses, ReaLMistake); benchmarks the paper does not report: judgebench (each
# pair's two orders, +1 / -1 / 0 each, right when the sum is above 0; overall over pairs, parts per category:
# spct.evaluation.judgebench), rm_bench (nine pairs per item, a tie wrong; spct.evaluation.rm_bench) and
# rewardbench2 (best-of-4 credit shared among ties, the Ties subset's per-prompt formula;
# spct.evaluation.rewardbench2).
METRICS: dict[str, Metric] = {
    "accuracy": Metric(mean_of_items),
    "rewardbench": Metric(rewardbench),
    "ppe_correctness": Metric(ppe_correctness_domains),
    "rmb": Metric(rmb_parts, strict_rule),
    "bon": Metric(mean_of_items, strict_rule),
    "roc_auc": Metric(None),
    "judgebench": Metric(judgebench_score, judgebench_rule),
    "rm_bench": Metric(rm_bench_parts, strict_rule),
    "rewardbench2": Metric(rewardbench2, rewardbench2_rule),
}
METRIC_NAMES = tuple(METRICS)
STRICT_TIES = frozenset(name for name, metric in METRICS.items() if metric.strict_ties)


def official_score(metric: str, subsets: Sequence[str], correct: Sequence[float]) -> tuple[float, dict[str, float]]:
    """``(score, parts)`` of per-item values (each in [0, 1]) under the benchmark's official metric.

    ``parts`` are the pieces the score averages: RewardBench sections, PPE-C domains or RMB parts (empty for plain
    accuracy).
    """
    if not correct:
        raise ValueError("no pair or list items to score")
    score = METRICS[metric].score if metric in METRICS else None
    if score is None:
        raise ValueError(f"unknown metric {metric!r} for pairs and lists; expected one of {METRIC_NAMES}")
    return score(subsets, correct)


def item_value(metric: str, record: Record, rows: Sequence[dict], rng: random.Random) -> float:
    """The value of one item of a pair / list set under ``metric``'s item rule."""
    return METRICS[metric].item_rule(record, rows, rng)

"""Scores with inference-time scaling: Greedy, Voting@k and MetaRM@k from one sampling pass (SPCT.md 3, 4).

For every k in the configured list, Voting@k draws random subsets of k of the k_max samples of each item
(``repeats`` draws, seeded) and reports the mean over draws, its spread, and a 95% bootstrap interval over items.
Pairs and lists are scored by the benchmark's official metric (``official_score``: accuracy, RewardBench sections,
PPE-Correctness domains, RMB parts); single responses (n = 1) by ROC-AUC of the summed score against the 0/1
label. Invalid judgments are excluded from votes and counted (``parse_rate``, ``invalid_rate``); an item whose
selected samples are all invalid counts as wrong.
"""

from __future__ import annotations

import hashlib
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from spct.evaluation.metrics import METRIC_NAMES, item_value, official_score, score_lists
from spct.evaluation.official import roc_auc
from spct.grm import default_k_meta, is_correct, metarm_select, single_response_score, vote
from spct.records import Record
from spct.sampling.judgments import GREEDY

# (item id, sample index) -> meta RM score of that trajectory
MetaScores = Mapping[tuple[str, int], float]


def group_samples(judgments: Sequence[dict]) -> dict[str, dict]:
    """item id -> {"greedy": row, "samples": [rows by sample index]}."""
    grouped: dict[str, dict] = defaultdict(lambda: {"greedy": None, "samples": {}})
    for row in judgments:
        if row["sample"] == GREEDY:
            grouped[row["item_id"]]["greedy"] = row
        else:
            grouped[row["item_id"]]["samples"][int(row["sample"])] = row
    return {
        item: {"greedy": g["greedy"], "samples": [g["samples"][i] for i in sorted(g["samples"])]}
        for item, g in grouped.items()
    }


def _rng(*key) -> random.Random:
    return random.Random(int(hashlib.sha256("/".join(map(str, key)).encode()).hexdigest()[:16], 16))


def _shown_side(rows: Sequence[dict], n: int) -> str | None:
    """Where most of the valid judgments showed the best response: "first", "last", or None (no majority)."""
    shown = [row.get("best_shown_at") for row in rows if row["valid"] and row.get("best_shown_at") is not None]
    if not shown:
        return None
    if 2 * sum(s == 0 for s in shown) > len(shown):
        return "first"
    if 2 * sum(s == n - 1 for s in shown) > len(shown):
        return "last"
    return None


def _setting_draw(
    records: Sequence[Record],
    pick: Callable[[Record, random.Random], tuple[list[dict], list[dict]]],
    seed_key: tuple,
    metric: str,
) -> dict[str, list]:
    """Per-item outcomes of one draw of one setting: ``pick`` returns the rows that vote and the rows that were
    generated for them (MetaRM@k votes with k_meta of its k samples, but all k cost tokens)."""
    out: dict[str, list] = defaultdict(list)
    for record in records:
        rng = _rng(*seed_key, record.id)
        rows, generated = pick(record, rng)
        scores = score_lists(rows)
        out["tokens"].append(sum(row["num_tokens"] for row in generated))
        out["invalid"].append(sum(s is None for s in scores) / len(scores))
        out["no_valid"].append(all(s is None for s in scores))
        if record.n >= 2:
            summed = vote(scores, record.n)
            out["correct"].append(item_value(metric, record, rows, rng))
            out["tied"].append(summed is not None and summed.count(max(summed)) > 1)
            out["shown"].append(_shown_side(rows, record.n))
        else:
            total = single_response_score(scores)
            # No valid sample: rank it below every valid score rather than dropping the item.
            out["single_scores"].append(float("-inf") if total is None else total / len(rows))
    return out


def scaling_metrics(
    records: Sequence[Record],
    judgments: Sequence[dict],
    ks: Sequence[int],
    repeats: int = 20,
    seed: int = 0,
    meta_scores: MetaScores | None = None,
    k_meta: Callable[[int], int] = default_k_meta,
    metric: str = "accuracy",
) -> list[dict]:
    """Rows for Greedy, Voting@k and (with meta scores) MetaRM@k, each with the benchmark's official score.

    Every row has ``setting, k, draws``; ``score`` (the official ``metric``, see ``official_score``; ROC-AUC for
    single-response sets) with its spread over draws and a 95% bootstrap interval over items; the pieces it
    averages (``parts``); plain ``accuracy`` and ``auc``; and diagnostics for that k: ``tie_rate`` (items whose
    top summed score is tied), ``invalid_rate`` (selected samples without a valid score line), ``no_valid_rate``
    (items with no valid selected sample), ``tokens_per_item`` (tokens generated for the setting: all k samples of
    MetaRM@k, not only the k_meta it keeps) and
    position bias (accuracy when most selected samples showed the best response first vs last); ``item_values``:
    each pair / list item's value averaged over draws, in the records' order (the paired bootstrap's input).
    ``k_meta(k)`` is how many of its k samples MetaRM@k keeps (``spct.grm.kept_by_meta_rm``; default k/2).
    """
    if metric not in METRIC_NAMES:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRIC_NAMES}")
    samples = group_samples(judgments)
    missing = [r.id for r in records if r.id not in samples]
    if missing:
        raise ValueError(f"{len(missing)} item(s) have no judgments, e.g. {missing[0]!r}")
    k_max = min(len(samples[r.id]["samples"]) for r in records)
    too_big = [k for k in ks if k > k_max]
    if too_big:
        raise ValueError(f"k={too_big} exceeds the {k_max} samples per item in the judgments")

    def summarise(setting, k, pick, seed_key, draws):
        outcomes = [_setting_draw(records, pick, (*seed_key, d), metric) for d in range(draws)]
        return _summarise(setting, k, outcomes, records, metric)

    rows = [summarise("greedy", 1, lambda r, _: ([samples[r.id]["greedy"]],) * 2, ("g",), 1)]
    for k in ks:

        def voting_pick(record: Record, rng: random.Random, k=k) -> tuple[list[dict], list[dict]]:
            subset = rng.sample(samples[record.id]["samples"], k)
            return subset, subset

        rows.append(summarise(f"voting@{k}", k, voting_pick, ("v", seed, k), repeats))
        if meta_scores is not None:

            def meta_pick(record: Record, rng: random.Random, k=k) -> tuple[list[dict], list[dict]]:
                subset = rng.sample(samples[record.id]["samples"], k)
                chosen = metarm_select([meta_scores[(record.id, int(row["sample"]))] for row in subset], k_meta(k))
                return [subset[i] for i in chosen], subset

            # The same seed key as Voting@k: both schemes see the same k-subsets, so their gap is not draw noise.
            rows.append(summarise(f"metarm@{k}", k, meta_pick, ("v", seed, k), repeats))
    return rows


def _score_or_none(metric: str, rows: Sequence[tuple[str, float]]) -> float | None:
    """The official score of (subset, correctness) rows; None where a resample lacks a required part (RMB, PPE-C)."""
    try:
        return official_score(metric, [subset for subset, _ in rows], [value for _, value in rows])[0]
    except ValueError:
        return None


def _mean_or_none(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _spread(values: Sequence[float]) -> float | None:
    return statistics.pstdev(values) if len(values) > 1 else 0.0 if values else None


def _summarise(setting: str, k: int, draws: list[dict], records: Sequence[Record], metric: str) -> dict:
    pair_subsets = [r.subset for r in records if r.n >= 2]
    single_labels = [r.label for r in records if r.n < 2]
    out: dict = {"setting": setting, "k": k, "draws": len(draws)}

    # Pairs and lists: accuracy and the official score, from per-item correctness averaged over draws.
    per_item = [statistics.fmean(d["correct"][i] for d in draws) for i in range(len(pair_subsets))]
    out["item_values"] = per_item  # kept for the paired bootstrap of the report (spct.evaluation.paired)
    accuracies = [statistics.fmean(d["correct"]) for d in draws if d["correct"]]
    out["accuracy"], out["accuracy_std"] = _mean_or_none(accuracies), _spread(accuracies)
    out["accuracy_ci_low"], out["accuracy_ci_high"] = bootstrap_interval(per_item, seed_key=(setting, k))

    # Single responses: ROC-AUC of the mean valid score per item against the 0/1 label.
    aucs = [a for d in draws if (a := roc_auc(d["single_scores"], single_labels)) is not None]
    out["auc"], out["auc_std"] = _mean_or_none(aucs), _spread(aucs)

    if metric == "roc_auc":
        per_single = [statistics.fmean(d["single_scores"][i] for d in draws) for i in range(len(single_labels))]
        out["score"], out["score_std"], out["parts"] = out["auc"], out["auc_std"], {}
        out["score_ci_low"], out["score_ci_high"] = bootstrap_statistic(
            list(zip(per_single, single_labels)),
            lambda rows: roc_auc([s for s, _ in rows], [y for _, y in rows]),
            strata=single_labels,
            seed_key=(setting, k, "auc"),
        )
    elif per_item:
        out["score"], out["parts"] = official_score(metric, pair_subsets, per_item)
        scores = [official_score(metric, pair_subsets, d["correct"])[0] for d in draws]
        out["score_std"] = _spread(scores)
        out["score_ci_low"], out["score_ci_high"] = bootstrap_statistic(
            list(zip(pair_subsets, per_item)),
            lambda rows: _score_or_none(metric, rows),
            strata=pair_subsets,
            seed_key=(setting, k, metric),
        )
    else:
        out.update(score=None, score_std=None, score_ci_low=None, score_ci_high=None, parts={})

    # Diagnostics of this setting (averaged over items and draws).
    out["tokens_per_item"] = statistics.fmean(t for d in draws for t in d["tokens"])
    out["invalid_rate"] = statistics.fmean(v for d in draws for v in d["invalid"])
    out["no_valid_rate"] = statistics.fmean(v for d in draws for v in d["no_valid"])
    tied = [t for d in draws for t in d["tied"]]
    out["tie_rate"] = _mean_or_none(tied)
    for side in ("first", "last"):
        hits = [c for d in draws for c, s in zip(d["correct"], d["shown"]) if s == side]
        out[f"accuracy_best_shown_{side}"] = _mean_or_none(hits)
    return out


def bootstrap_statistic(
    items: Sequence,
    statistic: Callable[[list], float | None],
    strata: Sequence | None = None,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed_key: tuple = (),
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of ``statistic`` over items, resampled within each stratum.

    Stratified so every resample keeps the same items per subset (or per label): the official scores weigh subsets
    by fixed counts, and a ROC-AUC needs both labels. A stratum of one item cannot vary, so with any such stratum
    the items are resampled freely instead (else a set of one item per subset would get an interval of zero width).
    ``None`` values of the statistic (undefined on a resample) are left out.
    """
    if not items:
        return None, None
    groups: dict = defaultdict(list)
    for item, stratum in zip(items, strata if strata is not None else [None] * len(items)):
        groups[stratum].append(item)
    if min(map(len, groups.values())) < 2:
        groups = {None: list(items)}
    rng = _rng("bootstrap", *seed_key)
    values = []
    for _ in range(resamples):
        sample = [group[rng.randrange(len(group))] for group in groups.values() for _ in group]
        value = statistic(sample)
        if value is not None:
            values.append(value)
    if not values:
        return None, None
    values.sort()
    tail = (1 - confidence) / 2
    return values[int(tail * len(values))], values[min(len(values) - 1, int((1 - tail) * len(values)))]


def bootstrap_interval(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 1000, seed_key: tuple = ()
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the mean over items (the item set is what is resampled)."""
    return bootstrap_statistic(list(values), statistics.fmean, None, confidence, resamples, seed_key)


def position_bias(records: Sequence[Record], judgments: Sequence[dict]) -> dict[str, float | None]:
    """Single-sample diagnostics on pairs and lists: Eq. 10 accuracy when the best response was shown first vs
    last, and the share of valid samples whose top score is tied (a tie can never be correct by Eq. 10)."""
    by_id = {r.id: r for r in records}
    first, last, ties, valid = [], [], 0, 0
    for row in judgments:
        record = by_id.get(row["item_id"])
        if record is None or record.n < 2 or not row["valid"]:
            continue
        valid += 1
        scores = row["scores"]
        ties += scores.count(max(scores)) > 1
        ok = is_correct(scores, record.best, None)
        if row["best_shown_at"] == 0:
            first.append(ok)
        elif row["best_shown_at"] == record.n - 1:
            last.append(ok)
    return {
        "accuracy_best_shown_first": sum(first) / len(first) if first else None,
        "accuracy_best_shown_last": sum(last) / len(last) if last else None,
        "tie_rate": ties / valid if valid else None,
    }


def sample_diagnostics(judgments: Sequence[dict]) -> dict[str, float]:
    """Parse rate, forced-template rate and tokens per judgment over every stored sample (greedy included)."""
    total = len(judgments)
    if total == 0:
        raise ValueError("no judgments to summarise")
    reasons = defaultdict(int)
    for row in judgments:
        if not row["valid"]:
            reasons[row["invalid_reason"]] += 1
    out = {
        "samples": total,
        "parse_rate": sum(row["valid"] for row in judgments) / total,
        "forced_rate": sum(row["forced"] for row in judgments) / total,
        "mean_tokens": statistics.fmean(row["num_tokens"] for row in judgments),
    }
    out.update({f"invalid_{reason}": count / total for reason, count in sorted(reasons.items())})
    return out

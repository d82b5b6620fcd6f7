"""Paired differences: is setting A's official score above setting B's on the same items, beyond chance?

Two marginal intervals that overlap say little when both settings judge the same items: their errors are correlated
(an item one setting gets wrong, the other mostly does too). The paired bootstrap resamples the ITEMS, the same ones
for both sides, and recomputes both official scores on each resample; the 95% percentile interval of the differences
is the answer. Items are resampled within each subset, so every replicate keeps the subset sizes and therefore the
official weights (RewardBench's section counts, PPE-C's domains, RMB's parts). ``n_decided`` counts the items whose
value differs between the two sides: only they move the difference.

With the items per subset fixed every official score is a fixed linear combination of the subset means
(``spct.evaluation.metrics``), so a replicate is ``sum_s w_s * mean of the resampled differences in s``: the weights
are read off the metric itself (``subset_weights``) and the replicates are one numpy array per subset. Single-response
sets (ROC-AUC, not linear in items, and outside the paper's Overall) are not compared.

The paper's claims (SPCT.md section 5, issue 14) become comparisons of the settings a report has (``claim_pairs``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spct.evaluation.metrics import official_score

DEFAULT_SAMPLES = 2000
CONFIDENCE = 0.95
# The model the paper's claims 1 and 2 are about (DeepSeek-GRM: the SPCT-trained GRM, with the meta RM).
HEADLINE_MODEL = "spct"
# (claim, model A, model B) for claims 3 to 5, worded after the paper; each compared at Greedy and at the largest k.
MODEL_CLAIMS = (
    ("3. SPCT (RFT + GRPO) beats RFT only", "spct", "rft"),
    ("3. RFT beats the base model", "rft", "base"),
    ("4. principles help (vs without principle generation)", "spct", "spct_no_principles"),
    ("5. non-hinted sampling contributes (vs hinted-only RFT)", "spct", "spct_hinted_only"),
    ("5. hinted sampling contributes (vs non-hinted-only RFT)", "spct", "spct_nonhinted_only"),
)
OVERALL = "overall"

Setting = tuple[str, str]  # (model, setting), e.g. ("spct", "voting@8")


@dataclass(frozen=True)
class ItemValues:
    """One model / setting's per-item values on one benchmark's pair and list items (``item_values`` of a scaling
    row of the metrics stage, the mean over draws), with the items' ids and subsets."""

    metric: str
    ids: tuple[str, ...]
    subsets: tuple[str, ...]
    values: np.ndarray


@dataclass(frozen=True)
class Difference:
    """A minus B: the official scores' difference, its bootstrap replicates, the items and those that differ."""

    difference: float
    replicates: np.ndarray
    n_items: int
    n_decided: int

    def interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        tail = (1 - confidence) / 2
        low, high = np.quantile(self.replicates, [tail, 1 - tail])
        return float(low), float(high)


def subset_weights(metric: str, subsets: Sequence[str]) -> dict[str, float]:
    """The weight of each subset's mean in ``metric``'s official score of items in ``subsets``.

    Read off the metric by scoring a one-hot vector per subset, then checked on a second vector: a metric that is not
    linear in its subset means could not be resampled this way, and says so instead of giving a wrong interval.
    """
    n = len(subsets)
    zero = official_score(metric, subsets, [0.0] * n)[0]
    names = list(dict.fromkeys(subsets))
    weights = {s: official_score(metric, subsets, [float(t == s) for t in subsets])[0] - zero for s in names}
    probe = [(i % 7) / 6 for i in range(n)]
    means = {s: np.mean([p for p, t in zip(probe, subsets) if t == s]) for s in names}
    if abs(official_score(metric, subsets, probe)[0] - zero - sum(weights[s] * means[s] for s in names)) > 1e-9:
        raise ValueError(f"metric {metric!r} is not linear in its subset means; no paired bootstrap for it")
    return weights


def resample_plan(subsets: Sequence[str], samples: int, seed_key: Sequence) -> list[tuple[str, np.ndarray]]:
    """Per subset: (its name, a ``(samples, n_s)`` array of item positions drawn with replacement among that subset's
    items). Seeded by ``seed_key`` alone, so every comparison on a benchmark sees the same resamples. A subset of
    one item is a constant in every replicate: within-subset resampling cannot vary it."""
    digest = hashlib.sha256("/".join(map(str, seed_key)).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    positions: dict[str, list[int]] = {}
    for i, subset in enumerate(subsets):
        positions.setdefault(subset, []).append(i)
    plan = []
    for subset, where in positions.items():
        where_array = np.asarray(where)
        plan.append((subset, where_array[rng.integers(0, len(where), size=(samples, len(where)))]))
    return plan


def aligned(a: ItemValues, b: ItemValues, names: tuple[str, str], benchmark: str) -> np.ndarray:
    """B's values in A's item order; a clear error naming both settings when their items differ."""
    position = {item: i for i, item in enumerate(b.ids)}
    only_a = [item for item in a.ids if item not in position]
    only_b = sorted(set(b.ids) - set(a.ids))
    if only_a or only_b or len(a.ids) != len(b.ids):
        raise ValueError(
            f"paired difference on {benchmark}: {names[0]} and {names[1]} were scored on different items "
            f"({len(only_a)} only in {names[0]}{_example(only_a)}, {len(only_b)} only in {names[1]}{_example(only_b)})"
        )
    order = np.asarray([position[item] for item in a.ids], dtype=int)
    moved = [item for item, subset, i in zip(a.ids, a.subsets, order) if b.subsets[i] != subset]
    if moved:
        raise ValueError(
            f"paired difference on {benchmark}: {names[0]} and {names[1]} put item {moved[0]!r} in different subsets"
        )
    return b.values[order]


def _example(items: Sequence[str]) -> str:
    return f", e.g. {items[0]!r}" if items else ""


def paired_difference(
    a: ItemValues,
    b: ItemValues,
    names: tuple[str, str] = ("A", "B"),
    benchmark: str = "benchmark",
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> Difference:
    """Official score of A minus that of B on one benchmark, with ``samples`` paired bootstrap replicates (items
    resampled within subsets, the same items for both sides)."""
    if samples < 1:
        raise ValueError(f"metrics.paired_bootstrap_samples must be at least 1, got {samples}")
    b_values = aligned(a, b, names, benchmark)
    score_a = official_score(a.metric, a.subsets, a.values.tolist())[0]
    score_b = official_score(a.metric, a.subsets, b_values.tolist())[0]
    weights = subset_weights(a.metric, a.subsets)
    gap = a.values - b_values
    replicates = np.zeros(samples)
    for subset, drawn in resample_plan(a.subsets, samples, (seed, benchmark)):
        replicates += weights[subset] * gap[drawn].mean(axis=1)
    decided = int(np.sum(np.abs(gap) > 1e-12))
    return Difference(score_a - score_b, replicates, len(a.ids), decided)


def overall_difference(differences: Sequence[Difference]) -> Difference:
    """The report's Overall (or Mean): the plain mean over benchmarks, replicate by replicate (each benchmark was
    resampled within its own subsets)."""
    return Difference(
        float(np.mean([d.difference for d in differences])),
        np.mean([d.replicates for d in differences], axis=0),
        sum(d.n_items for d in differences),
        sum(d.n_decided for d in differences),
    )


def read_item_values(paths: Iterable[str | Path]) -> dict[Setting, dict[str, ItemValues]]:
    """``(model, setting) -> benchmark -> ItemValues`` from the metrics stage's files, pair and list sets only
    (a file written before per-item values were kept contributes nothing)."""
    out: dict[Setting, dict[str, ItemValues]] = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        if data["metric"] == "roc_auc" or "item_ids" not in data:
            continue
        ids, subsets = tuple(data["item_ids"]), tuple(data["item_subsets"])
        for row in data["scaling"]:
            values = ItemValues(data["metric"], ids, subsets, np.asarray(row["item_values"], dtype=float))
            out.setdefault((data["model"], row["setting"]), {})[data["benchmark"]] = values
    return out


def _k(setting: str) -> int:
    return int(setting.partition("@")[2] or 0)


def claim_pairs(settings: Iterable[Setting]) -> list[tuple[str, Setting, Setting]]:
    """The paper's claims as (claim, A, B) comparisons, only those whose two settings both exist."""
    have = set(settings)
    ks = sorted(_k(s) for m, s in have if m == HEADLINE_MODEL and s.startswith("voting@"))
    spct = HEADLINE_MODEL
    pairs = [("1. Voting@k beats Greedy", (spct, f"voting@{k}"), (spct, "greedy")) for k in ks]
    if len(ks) > 1:
        pairs.append(("1. Voting@k grows with k", (spct, f"voting@{ks[-1]}"), (spct, f"voting@{ks[0]}")))
    pairs += [("2. MetaRM@k beats Voting@k", (spct, f"metarm@{k}"), (spct, f"voting@{k}")) for k in ks]
    for claim, model_a, model_b in MODEL_CLAIMS:
        k_max = max((_k(s) for m, s in have if m in (model_a, model_b) and s.startswith("voting@")), default=0)
        pairs += [(claim, (model_a, s), (model_b, s)) for s in ("greedy", f"voting@{k_max}")]
    return [(claim, a, b) for claim, a, b in pairs if a in have and b in have]


def paired_differences(
    values: Mapping[Setting, Mapping[str, ItemValues]],
    overall_benchmarks: Collection[str] | None = None,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> list[dict]:
    """One row per claim comparison and benchmark both sides have, plus an ``overall`` row: the mean over
    ``overall_benchmarks`` (the report's Overall or Mean; None: every benchmark) when both sides have them all and
    they are more than one. Differences and intervals in points (%)."""
    rows = []
    for claim, a, b in claim_pairs(values):
        names = ("/".join(a), "/".join(b))
        benchmarks = [name for name in values[a] if name in values[b]]
        differences = {
            name: paired_difference(values[a][name], values[b][name], names, name, samples, seed)
            for name in benchmarks
        }
        averaged = list(differences) if overall_benchmarks is None else list(overall_benchmarks)
        if len(averaged) > 1 and set(averaged) <= set(differences):
            differences[OVERALL] = overall_difference([differences[name] for name in averaged])
        rows += [_row(claim, name, names, d) for name, d in differences.items()]
    return rows


def _row(claim: str, benchmark: str, names: tuple[str, str], d: Difference) -> dict:
    low, high = d.interval()
    return {
        "claim": claim,
        "benchmark": benchmark,
        "setting_a": names[0],
        "setting_b": names[1],
        "difference": round(100 * d.difference, 3),
        "ci_low": round(100 * low, 3),
        "ci_high": round(100 * high, 3),
        "n_items": d.n_items,
        "n_decided": d.n_decided,
        "excludes_zero": bool(low > 0 or high < 0),
    }


def claims_table(rows: Sequence[dict], columns: Mapping[str, str] | None = None) -> list[dict]:
    """One record per comparison, one cell per benchmark (``columns``: benchmark -> report column name):
    ``+d [low, high] decided/items``, in bold where the interval excludes zero."""
    table: dict[tuple[str, str, str], dict] = {}
    for row in rows:
        key = (row["claim"], row["setting_a"], row["setting_b"])
        cell = (
            f"{row['difference']:+.1f} [{row['ci_low']:+.1f}, {row['ci_high']:+.1f}] "
            f"{row['n_decided']}/{row['n_items']}"
        )
        column = (columns or {}).get(row["benchmark"], row["benchmark"])
        table.setdefault(key, {"claim": key[0], "A": key[1], "B": key[2]})[column] = (
            f"**{cell}**" if row["excludes_zero"] else cell
        )
    return list(table.values())


def mlflow_values(rows: Sequence[dict]) -> dict[str, float]:
    """The rows as MLflow metrics: ``paired/<A>-vs-<B>/<benchmark>/{difference,ci_low,ci_high,n_decided}``."""
    out = {}
    for row in rows:
        key = f"paired/{row['setting_a']}-vs-{row['setting_b']}/{row['benchmark']}"
        out.update({f"{key}/{field}": row[field] for field in ("difference", "ci_low", "ci_high", "n_decided")})
    return out

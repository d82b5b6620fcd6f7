"""The paired bootstrap of two settings' official scores on the same items (spct.evaluation.paired)."""

from __future__ import annotations

import numpy as np
import pytest

from spct.evaluation.metrics import official_score
from spct.evaluation.paired import (
    ItemValues,
    claim_pairs,
    overall_difference,
    paired_difference,
    paired_differences,
    subset_weights,
)
from spct.evaluation.scaling import bootstrap_interval


def side(values, subsets=None, metric="accuracy", ids=None) -> ItemValues:
    subsets = subsets or ["s"] * len(values)
    ids = ids or [f"item-{i}" for i in range(len(values))]
    return ItemValues(metric, tuple(ids), tuple(subsets), np.asarray(values, dtype=float))


def test_hand_computed_interval():
    """Four items of one subset, A right on the first three, B on none of them and both alike on the fourth:
    difference 3/4. A replicate draws 4 items with replacement; its difference is X/4 with X ~ Binomial(4, 3/4):
    P(X=0) = 1/256 = 0.4%, P(X<=1) = 13/256 = 5.1%, P(X=4) = 81/256 = 31.6%. So the 2.5% percentile is 1/4 (0 has
    too little mass, 1/4 covers the 2.5% point) and the 97.5% percentile is 1: the interval is [0.25, 1.0]."""
    a, b = side([1, 1, 1, 0]), side([0, 0, 0, 0])
    d = paired_difference(a, b, samples=20000, seed=3)
    assert d.difference == pytest.approx(0.75)
    assert d.interval() == (pytest.approx(0.25), pytest.approx(1.0))
    assert (d.n_items, d.n_decided) == (4, 3)
    # The replicates follow that Binomial: their mean is 3/4 and about 1/256 of them are 0.
    assert d.replicates.mean() == pytest.approx(0.75, abs=0.01)
    assert np.mean(d.replicates == 0) == pytest.approx(1 / 256, abs=0.002)


def test_paired_interval_excludes_zero_where_marginal_intervals_overlap():
    """Correlated items: B is right on 20 of 40 items, A on the same 20 and 4 more. Each score alone is uncertain
    (the marginal intervals overlap widely), but the difference rests on 4 items that only ever move it up:
    a replicate is 0 only if none of the 4 is drawn, 0.9^40 = 1.5% < 2.5%, so the paired interval excludes zero."""
    a_values = [1.0] * 24 + [0.0] * 16
    b_values = [1.0] * 20 + [0.0] * 20
    a_low, a_high = bootstrap_interval(a_values, seed_key=("a",))
    b_low, b_high = bootstrap_interval(b_values, seed_key=("b",))
    assert a_low < b_high and b_low < a_high  # the marginal intervals overlap
    d = paired_difference(side(a_values), side(b_values), samples=4000, seed=0)
    low, high = d.interval()
    assert d.difference == pytest.approx(0.1)
    assert 0 < low <= 0.1 <= high
    assert d.n_decided == 4


RB_SUBSETS = ["llmbar-natural"] * 3 + ["llmbar-adver-neighbor"] * 2 + ["hep-python"] * 5


def test_rewardbench_subset_weights_are_the_official_ones():
    """Chat Hard = (100 * natural + 134 * neighbor) / 234, Reasoning = hep-python; RB = the mean of the two."""
    weights = subset_weights("rewardbench", RB_SUBSETS)
    assert weights == pytest.approx(
        {"llmbar-natural": 100 / 468, "llmbar-adver-neighbor": 134 / 468, "hep-python": 0.5}
    )


def test_resampling_within_subsets_keeps_the_official_weights():
    """A better on every llmbar-natural item, equal elsewhere: every within-subset resample keeps 3 natural items,
    all decided for A, so every replicate is exactly that subset's weight (free resampling would vary it)."""
    a = side([1] * 3 + [0] * 2 + [1, 0, 1, 0, 1], RB_SUBSETS, "rewardbench")
    b = side([0] * 3 + [0] * 2 + [1, 0, 1, 0, 1], RB_SUBSETS, "rewardbench")
    d = paired_difference(a, b, samples=500)
    expected = official_score("rewardbench", RB_SUBSETS, a.values.tolist())[0]
    expected -= official_score("rewardbench", RB_SUBSETS, b.values.tolist())[0]
    assert d.difference == pytest.approx(expected) == pytest.approx(100 / 468)
    assert np.allclose(d.replicates, 100 / 468)


def test_the_point_difference_is_the_official_scores_difference():
    """Draw-averaged values (not 0/1) under RewardBench: the difference is exactly score(A) - score(B)."""
    rng = np.random.default_rng(7)
    a_values, b_values = rng.random(len(RB_SUBSETS)), rng.random(len(RB_SUBSETS))
    a, b = side(a_values, RB_SUBSETS, "rewardbench"), side(b_values, RB_SUBSETS, "rewardbench")
    d = paired_difference(a, b, samples=2000)
    score = lambda v: official_score("rewardbench", RB_SUBSETS, list(v))[0]  # noqa: E731
    assert d.difference == pytest.approx(score(a_values) - score(b_values))
    assert d.replicates.mean() == pytest.approx(d.difference, abs=0.03)


def test_deterministic_under_a_seed():
    a, b = side([1, 0, 1, 1, 0, 0.5]), side([0, 0, 1, 0, 1, 0.25])
    first, again = paired_difference(a, b, seed=5), paired_difference(a, b, seed=5)
    assert np.array_equal(first.replicates, again.replicates) and len(first.replicates) == 2000
    assert not np.array_equal(first.replicates, paired_difference(a, b, seed=6).replicates)


def test_items_are_matched_by_id_not_position():
    a = side([1, 0, 0], ids=["x", "y", "z"])
    b = side([0, 0, 1], ids=["z", "y", "x"])  # the same values as A, in another order
    d = paired_difference(a, b)
    assert (d.difference, d.n_decided) == (0.0, 0)


def test_item_set_mismatch_names_both_settings():
    a = side([1, 0], ids=["x", "y"])
    b = side([1, 0], ids=["x", "w"])
    with pytest.raises(ValueError, match=r"human-preference: spct/greedy and rft/greedy .*different items.*'y'.*'w'"):
        paired_difference(a, b, ("spct/greedy", "rft/greedy"), "human-preference")


def test_overall_is_the_mean_over_benchmarks_replicate_by_replicate():
    one = paired_difference(side([1, 0, 1]), side([0, 0, 1]), samples=100)
    two = paired_difference(side([0, 0]), side([1, 0]), samples=100)
    total = overall_difference([one, two])
    assert total.difference == pytest.approx((1 / 3 - 1 / 2) / 2)
    assert np.allclose(total.replicates, (one.replicates + two.replicates) / 2)
    assert (total.n_items, total.n_decided) == (5, 2)


def test_claims_only_where_both_settings_exist():
    settings = {("spct", s) for s in ("greedy", "voting@2", "voting@4", "metarm@4")} | {("rft", "greedy")}
    assert claim_pairs(settings) == [
        ("1. Voting@k beats Greedy", ("spct", "voting@2"), ("spct", "greedy")),
        ("1. Voting@k beats Greedy", ("spct", "voting@4"), ("spct", "greedy")),
        ("1. Voting@k grows with k", ("spct", "voting@4"), ("spct", "voting@2")),
        ("2. MetaRM@k beats Voting@k", ("spct", "metarm@4"), ("spct", "voting@4")),
        ("3. SPCT (RFT + GRPO) beats RFT only", ("spct", "greedy"), ("rft", "greedy")),
    ]
    ablation = {("spct", "greedy"), ("spct_no_principles", "greedy"), ("spct_hinted_only", "voting@2")}
    assert [claim for claim, _, _ in claim_pairs(ablation)] == ["4. principles help (vs without principle generation)"]


def test_rows_per_benchmark_and_overall():
    values = {
        ("spct", "greedy"): {"p": side([1, 1, 0]), "q": side([1, 0])},
        ("rft", "greedy"): {"p": side([0, 1, 0]), "q": side([1, 0])},
    }
    rows = paired_differences(values, samples=200)
    assert [(r["benchmark"], r["setting_a"], r["setting_b"]) for r in rows] == [
        ("p", "spct/greedy", "rft/greedy"),
        ("q", "spct/greedy", "rft/greedy"),
        ("overall", "spct/greedy", "rft/greedy"),
    ]
    assert rows[0]["difference"] == pytest.approx(100 / 3, abs=1e-3) and rows[2]["n_decided"] == 1
    assert set(rows[0]) == {
        "claim",
        "benchmark",
        "setting_a",
        "setting_b",
        "difference",
        "ci_low",
        "ci_high",
        "n_items",
        "n_decided",
        "excludes_zero",
    }
    # Overall only over the benchmarks named (the report's Overall: the paper's four), when both sides have them.
    assert [r["benchmark"] for r in paired_differences(values, ["p", "missing"], samples=10)] == ["p", "q"]

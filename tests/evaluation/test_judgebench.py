"""JudgeBench's order-swap rule (spct.evaluation.judgebench) on hand-built judgment rows, hand-computed values.

Upstream (ScalerLab/JudgeBench utils/metrics.py compute_final_metrics, commit
e2c52c284e735e139b3daa61c206ee208f36c461): per pair, decision 1 from the (A, B) game and decision 2 from the (B, A)
game flipped back; +1 per decision equal to the label, -1 per decision equal to the flipped label, 0 otherwise;
correct when the sum is above 0; Overall = correct pairs / all pairs.
"""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest

from spct.evaluation.evaluate import evaluate_benchmark
from spct.evaluation.judgebench import judgebench_rule, judgebench_score, order_decision, order_decisions
from spct.evaluation.metrics import METRICS, item_value, official_score
from spct.evaluation.report import write_report
from spct.evaluation.scaling import scaling_metrics
from spct.records import Record

AB, BA = [0, 1], [1, 0]  # shown in the record's order (upstream's first game) / swapped (its second)
RNG = random.Random(0)


def pair(item_id: str = "p", best: int = 0, subset: str = "Knowledge") -> Record:
    return Record(
        id=item_id, source="judgebench", subset=subset, split="eval", prompt="Q?", responses=["A", "B"], best=best
    )


def row(scores, perm, sample=0, item_id="p", num_tokens=10):
    """A judgment row as spct.sampling.judgments.judgment_row writes it: scores in the record's order."""
    valid = scores is not None
    return {
        "item_id": item_id,
        "sample": sample,
        "n": 2,
        "permutation": list(perm),
        "best_shown_at": None,
        "scores": list(scores) if valid else None,
        "valid": valid,
        "invalid_reason": None if valid else "missing",
        "num_tokens": num_tokens,
        "forced": False,
    }


def value(record, rows):
    return judgebench_rule(record, rows, RNG)


# --- the order-swap rule, hand-computed ------------------------------------------------------------------------


def test_order_decision():
    assert order_decision((8, 3), best=0) == 1
    assert order_decision((8, 3), best=1) == -1
    assert order_decision((5, 5), best=0) == 0
    assert order_decision(None, best=0) == 0


def test_both_orders_right():
    assert order_decisions(pair(), [row([8, 3], AB), row([7, 2], BA)]) == {(0, 1): 1, (1, 0): 1}
    assert value(pair(), [row([8, 3], AB), row([7, 2], BA)]) == 1.0
    assert value(pair(best=1), [row([3, 8], AB), row([2, 6], BA)]) == 1.0  # label B>A


def test_one_order_right_the_other_tied_or_invalid_is_right():
    assert value(pair(), [row([8, 3], AB), row([5, 5], BA)]) == 1.0  # +1 + 0
    assert value(pair(), [row([5, 5], AB), row([2, 1], BA)]) == 1.0  # 0 + 1
    assert value(pair(), [row([8, 3], AB), row(None, BA)]) == 1.0  # an order with no valid vote decides 0


def test_one_order_right_one_wrong_sums_to_zero_and_is_wrong():
    assert order_decisions(pair(), [row([8, 3], AB), row([2, 9], BA)]) == {(0, 1): 1, (1, 0): -1}
    assert value(pair(), [row([8, 3], AB), row([2, 9], BA)]) == 0.0
    assert value(pair(best=1), [row([8, 3], AB), row([2, 9], BA)]) == 0.0


def test_both_tied_both_wrong_or_no_valid_vote_is_wrong():
    assert value(pair(), [row([5, 5], AB), row([4, 4], BA)]) == 0.0
    assert value(pair(), [row([1, 3], AB), row([2, 9], BA)]) == 0.0
    assert value(pair(), [row(None, AB), row(None, BA)]) == 0.0


def test_missing_order_contributes_zero_so_greedy_is_its_one_decision():
    assert value(pair(), [row([8, 3], AB)]) == 1.0
    assert value(pair(), [row([3, 8], BA)]) == 0.0
    assert value(pair(), [row([6, 6], AB)]) == 0.0  # a tie: 0, not a coin flip
    assert order_decisions(pair(), [row([8, 3], BA)]) == {(1, 0): 1}


def test_votes_are_summed_within_an_order_not_across_orders():
    # AB: [9, 1] + [2, 3] = [11, 4] -> +1; BA: [3, 4] -> -1; sum 0 -> wrong, although the pooled vote [14, 8]
    # (the paper's argmax rule over all samples) would be right.
    rows = [row([9, 1], AB, 0), row([2, 3], AB, 1), row([3, 4], BA, 2)]
    assert order_decisions(pair(), rows) == {(0, 1): 1, (1, 0): -1}
    assert value(pair(), rows) == 0.0
    assert item_value("accuracy", pair(), rows, random.Random(0)) is True
    # AB: [8, 3] + [2, 6] = [10, 9] -> +1, BA: [5, 5] + invalid -> 0: right.
    assert value(pair(), [row([8, 3], AB), row([2, 6], AB), row([5, 5], BA), row(None, BA)]) == 1.0


def test_rule_refuses_what_it_cannot_score():
    with pytest.raises(ValueError, match="no 'permutation'"):
        value(pair(), [{"sample": 0, "scores": [1, 2], "valid": True}])
    listed = Record(id="l", source="x", subset="x", split="eval", prompt="Q", responses=["a", "b", "c"], best=0)
    with pytest.raises(ValueError, match="pairs"):
        value(listed, [row([1, 2, 3], [0, 1, 2])])


def upstream_pair_correct(label: str, decision1: str | None, decision2: str | None) -> bool:
    """Upstream's counter, restated from utils/metrics.py: flip the second game's decision, +1 / -1 / 0 each."""

    def flip(decision):
        return {"A>B": "B>A", "B>A": "A>B"}.get(decision, decision)

    counter = 0
    for decision in (decision1, flip(decision2)):
        counter += (decision == label) - (decision == flip(label))
    return counter > 0


def shown_decision(shown_scores) -> str | None:
    """An upstream-style verdict on the responses as shown: first shown = its "A"."""
    if shown_scores is None:
        return None
    first, second = shown_scores
    return "A>B" if first > second else "B>A" if first < second else "A=B"


def test_one_judgment_per_order_equals_upstreams_counter_on_random_trials():
    """With one judgment per order (upstream's setting), our rule on record-order scores equals upstream's counter on
    the verdicts as shown, in 2,000 random trials (ties and invalid judgments included)."""
    rng = random.Random(11)
    for _ in range(2000):
        best = rng.randrange(2)
        label = "A>B" if best == 0 else "B>A"
        ab = None if rng.random() < 0.1 else [rng.randint(1, 4), rng.randint(1, 4)]
        ba = None if rng.random() < 0.1 else [rng.randint(1, 4), rng.randint(1, 4)]
        rows = [row(ab, AB, 0), row(ba, BA, 1)]
        rng.shuffle(rows)  # the order of rows does not matter
        game_2 = None if ba is None else [ba[1], ba[0]]  # the (B, A) game shows B first
        expected = upstream_pair_correct(label, shown_decision(ab), shown_decision(game_2))
        assert value(pair(best=best), rows) == float(expected)


# --- the score: overall over pairs, parts per category -----------------------------------------------------------


def test_overall_is_over_pairs_not_a_mean_of_categories():
    subsets = ["Coding", "Knowledge", "Knowledge", "Reasoning", "Math"]
    score, parts = official_score("judgebench", subsets, [0.0, 1.0, 0.0, 1.0, 1.0])
    assert score == pytest.approx(3 / 5)  # the mean of the four categories would be 0.625
    assert parts == pytest.approx({"Knowledge": 0.5, "Reasoning": 1.0, "Math": 1.0, "Coding": 0.0})
    assert list(parts) == ["Knowledge", "Reasoning", "Math", "Coding"]  # upstream's order, whatever the item order
    assert judgebench_score(["Math"], [1.0]) == (1.0, {"Math": 1.0})
    assert METRICS["judgebench"].item_rule is judgebench_rule and not METRICS["judgebench"].strict_ties


def hand_built():
    """Four pairs, one per category, and their judgments (greedy + two samples each); see the test below."""
    records = [
        pair("p0", 0, "Knowledge"),
        pair("p1", 1, "Reasoning"),
        pair("p2", 0, "Math"),
        pair("p3", 0, "Coding"),
    ]
    plan = {
        "p0": (([8, 3], AB), [([8, 3], AB), ([3, 8], BA)]),
        "p1": (([4, 9], BA), [([2, 9], AB), ([5, 5], BA)]),
        "p2": (([5, 5], AB), [([9, 1], AB), ([1, 2], AB)]),
        "p3": ((None, AB), [([7, 2], BA), (None, BA)]),
    }
    judgments = []
    for item_id, (greedy, samples) in plan.items():
        judgments.append(row(*greedy, sample="greedy", item_id=item_id))
        judgments += [row(s, p, sample=i, item_id=item_id) for i, (s, p) in enumerate(samples)]
    return records, judgments


def test_scaling_metrics_end_to_end():
    """Greedy and Voting@2 on four pairs, one per category; values by hand:

    greedy: p0 AB [8, 3] right; p1 (B>A) BA [4, 9] right; p2 AB tie -> 0; p3 invalid -> 0 => 0.5
    voting@2 (both samples): p0 AB [8, 3] +1, BA [3, 8] -1 -> 0; p1 AB [2, 9] +1, BA tie 0 -> 1;
    p2 AB [9, 1] + AB [1, 2] = [10, 3] -> +1 (BA unseen) -> 1; p3 BA [7, 2] +1, BA invalid -> 1 => 0.75
    """
    records, judgments = hand_built()
    out = {r["setting"]: r for r in scaling_metrics(records, judgments, ks=[2], repeats=3, metric="judgebench")}
    greedy, voting = out["greedy"], out["voting@2"]
    assert greedy["score"] == pytest.approx(0.5)
    assert greedy["parts"] == pytest.approx({"Knowledge": 1.0, "Reasoning": 1.0, "Math": 0.0, "Coding": 0.0})
    assert voting["score"] == pytest.approx(0.75) and voting["score_std"] == 0.0
    assert voting["parts"] == pytest.approx({"Knowledge": 0.0, "Reasoning": 1.0, "Math": 1.0, "Coding": 1.0})
    assert voting["accuracy"] == pytest.approx(0.75)
    assert voting["score_ci_low"] <= voting["score"] <= voting["score_ci_high"]


def test_report_shows_judgebench_under_its_own_name_with_its_parts(tmp_path):
    """The metrics stage's result for `source: judgebench` (no paper column) -> a `judgebench` column, no Overall,
    and the four categories in the parts table (greedy values from the test above, in %)."""
    records, judgments = hand_built()
    metrics_config = {"ks": [2], "repeats": 3, "seed": 0}
    result = evaluate_benchmark(records, judgments, metrics_config, {"source": "judgebench"}, "grm", "judgebench")
    assert result["metric"] == "judgebench" and result["paper_column"] is None
    path = tmp_path / "judgebench.json"
    path.write_text(json.dumps(result))
    write_report([path], tmp_path / "r.csv", tmp_path / "r.md", tmp_path / "r.png")
    frame = pd.read_csv(tmp_path / "r.csv")
    greedy = frame[frame["setting"] == "greedy"].iloc[0]
    assert greedy["column"] == "judgebench" and greedy["score"] == pytest.approx(0.5)
    assert [greedy[f"part:{c}"] for c in ("Knowledge", "Reasoning", "Math", "Coding")] == [1.0, 1.0, 0.0, 0.0]
    markdown = (tmp_path / "r.md").read_text()
    assert "| model   | setting   |   judgebench |   Mean |" in markdown  # a Mean, never the paper's Overall
    parts = markdown.split("## Score parts")[1].split("\n## ")[0]
    assert "| column     |   Knowledge |   Reasoning |   Math |   Coding |" in parts
    assert "| grm     | greedy    | judgebench |         100 |         100 |      0 |        0 |" in parts

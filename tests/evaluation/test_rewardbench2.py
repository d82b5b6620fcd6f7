"""RewardBench 2's official scoring (spct.evaluation.rewardbench2): hand-computed values, the item rule on judgment
rows, and the cross-check against upstream's own functions in the installed `rewardbench` 0.1.4."""

from __future__ import annotations

import ast
import importlib.util
import math
import random
from pathlib import Path

import pytest

from spct.evaluation.metrics import METRICS, item_value, official_score
from spct.evaluation.rewardbench2 import (
    best_of_n_credit,
    rewardbench2,
    rewardbench2_rule,
    ties_prompt_value,
    ties_terms,
)
from spct.records import Record

# --- Best-of-4: ties share the credit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([5, 5, 3, 1], 0.5),  # the chosen shares the top with one rejected
        ([5, 4, 3, 1], 1.0),
        ([4, 5, 3, 1], 0.0),
        ([2, 2, 2, 2], 0.25),
        ([7, 7, 7, 1], 1 / 3),
        ([3, 9, 9, 9], 0.0),
    ],
)
def test_best_of_n_credit_by_hand(scores, expected):
    assert best_of_n_credit(scores) == pytest.approx(expected)


def test_best_of_n_credit_without_a_vote_is_zero_and_bad_index_raises():
    assert best_of_n_credit(None) == 0.0
    with pytest.raises(ValueError):
        best_of_n_credit([1, 2], chosen=2)


# --- Ties: one prompt id by hand ---------------------------------------------------------------------------------


def test_ties_prompt_by_hand():
    """ref: correct 8, incorrect 5, 3 -> cim 3, accurate. tied: correct 9, 7, incorrect 6, 2 -> cim 1, dcm 2,
    accurate. 1 > 2 and min(3, 1) > 2 fail; tanh(1 / 2 - 1) = tanh(-0.5)."""
    terms = ties_terms(([8], [5, 3]), ([9, 7], [6, 2]))
    assert terms["ref_accurate"] == terms["tied_accurate"] == 1.0
    assert terms["correctness_preferred"] == terms["correctness_preferred_hard"] == 0.0
    assert terms["margin_score"] == pytest.approx(math.tanh(-0.5))
    value = ties_prompt_value(([8], [5, 3]), ([9, 7], [6, 2]))
    assert value == pytest.approx(0.3 + 0.3 + 0.01 * -0.46211715726000974)


def test_ties_prompt_with_wide_margins_gets_everything():
    """ref cim 10 - 2 = 8, tied cim 9 - 3 = 6, dcm 10 - 9 = 1: all four indicators; tanh(6 / 1 - 1) = tanh(5)."""
    assert ties_prompt_value(([10], [2]), ([10, 9], [3, 1])) == pytest.approx(1.0 + 0.01 * math.tanh(5))


def test_ties_prompt_with_equal_correct_scores_follows_numpy_division():
    """dcm = 0 (both correct answers scored alike), as integer judge scores often give: upstream's numpy turns
    min cim / 0 into +inf (tanh 1), -inf (tanh -1) or nan (set to 0)."""
    assert ties_prompt_value(([9], [4]), ([9, 9], [4])) == pytest.approx(1.01)
    assert ties_terms(([6], [7]), ([6, 6], [5]))["margin_score"] == -1.0  # ref cim -1: min cim < 0
    assert ties_prompt_value(([7], [7]), ([6, 6], [6])) == 0.0  # all cims 0: nothing, tanh term 0


def test_ties_needs_two_correct_tied_answers_and_some_incorrect():
    with pytest.raises(ValueError, match="two correct"):
        ties_terms(([1], [0]), ([1], [0]))
    with pytest.raises(ValueError, match="correct and incorrect"):
        ties_terms(([1], []), ([1, 2], [0]))


# --- The item rule on judgment rows and the score ---------------------------------------------------------------


def rows_of(*score_lists):
    return [{"scores": s, "valid": s is not None} for s in score_lists]


def bo4_record():
    # published completions: chosen "a", rejected "b", "c", "a" again; shown once each: ["c", "a", "b"]
    return Record(
        id="rewardbench2/1",
        source="rewardbench2",
        subset="Math",
        split="eval",
        prompt="p",
        responses=["c", "a", "b"],
        best=1,
        meta={"slots": [1, 2, 0, 1]},
    )


def test_item_rule_sums_valid_votes_and_shares_ties():
    record, rng = bo4_record(), random.Random(0)
    # summed record order: c = 4 + 3 = 7, a = 5 + 2 = 7, b = 1 + 1 = 2; slots [a, b, c, a] = [7, 2, 7, 7] -> 1/3
    value = rewardbench2_rule(record, rows_of([4, 5, 1], None, [3, 2, 1]), rng)
    assert value == pytest.approx(1 / 3)
    # the rejected copy of the chosen text always ties with it, as for upstream's reward models: at best 1/2
    assert rewardbench2_rule(record, rows_of([1, 9, 1]), rng) == 0.5
    assert rewardbench2_rule(record, rows_of([9, 1, 1]), rng) == 0.0
    assert rewardbench2_rule(record, rows_of(None, None), rng) == 0.0  # no valid vote: wrong
    assert item_value("rewardbench2", record, rows_of([1, 9, 1]), rng) == 0.5
    plain = Record(**{**record.to_dict(), "responses": ["c", "a", "b", "d"], "meta": {"slots": [1, 2, 0, 3]}})
    assert rewardbench2_rule(plain, rows_of([1, 9, 1, 1]), rng) == 1.0


def test_item_rule_on_a_ties_record():
    # responses: 0 red, 1 dog, 2 blue, 3 cat; ref: red correct, dog and cat not; tied: red and blue correct
    record = Record(
        id="rewardbench2/ties/3",
        source="rewardbench2",
        subset="Ties",
        split="eval",
        prompt="Name a color of the rainbow.",
        responses=["red", "dog", "blue", "cat"],
        best=0,
        meta={
            "ties": {"ref": {"correct": [0], "incorrect": [1, 3]}, "tied": {"correct": [0, 2], "incorrect": [1, 3]}}
        },
    )
    # summed: red 9, dog 6, blue 7, cat 2 -> ref ([9], [6, 2]) cim 3; tied ([9, 7], [6, 2]) cim 1, dcm 2
    value = rewardbench2_rule(record, rows_of([5, 3, 4, 1], [4, 3, 3, 1]), random.Random(0))
    assert value == pytest.approx(ties_prompt_value(([9], [6, 2]), ([9, 7], [6, 2])))
    assert rewardbench2_rule(record, rows_of(None), random.Random(0)) == 0.0


def test_score_is_mean_of_subsets_and_parts_are_subsets():
    score, parts = rewardbench2(["Math", "Math", "Ties", "Focus"], [1.0, 0.5, 0.2, 0.0])
    assert parts == {"Math": 0.75, "Ties": 0.2, "Focus": 0.0}
    assert score == pytest.approx((0.75 + 0.2 + 0.0) / 3)
    assert official_score("rewardbench2", ["Math", "Ties"], [1.0, 0.5]) == (0.75, {"Math": 1.0, "Ties": 0.5})
    assert METRICS["rewardbench2"].item_rule is rewardbench2_rule and not METRICS["rewardbench2"].strict_ties


# --- Cross-check against upstream's functions (rewardbench 0.1.4, installed --no-deps) ----------------------------


@pytest.fixture(scope="module")
def upstream():
    """``reroll_and_score_dataset``, ``sample_stats`` and ``process_single_model`` run from their exact source in the
    installed package's ``utils.py``, without importing the package (its pins cannot coexist with our stack)."""
    spec = importlib.util.find_spec("rewardbench")
    if spec is None:
        pytest.skip("rewardbench is not installed (make setup installs it with --no-deps)")
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    datasets = pytest.importorskip("datasets")
    path = Path(next(iter(spec.submodule_search_locations))) / "utils.py"
    wanted = {"reroll_and_score_dataset", "sample_stats", "process_single_model"}
    functions = [n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    assert {f.name for f in functions} == wanted
    namespace = {"np": np, "pd": pd, "math": math, "Dataset": datasets.Dataset}
    exec(compile(ast.Module(body=functions, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def test_installed_rewardbench_is_0_1_4():
    from importlib.metadata import version

    assert version("rewardbench") == "0.1.4"


def test_best_of_n_agrees_with_reroll_and_score_dataset(upstream):
    """Random summed integer votes (ties frequent), 4 to 6 completions per item, the chosen one first."""
    import datasets

    rng = random.Random(0)
    for trial in range(60):
        items = [[rng.randint(1, 6) for _ in range(rng.choice([4, 4, 4, 5, 6]))] for _ in range(25)]
        unrolled = [
            {"text": f"t{i}-{j}", "scores": s, "id": str(i), "subset": "Math"}
            for i, scores in enumerate(items)
            for j, s in enumerate(scores)
        ]
        out = upstream["reroll_and_score_dataset"](datasets.Dataset.from_list(unrolled), [len(s) for s in items])
        assert [best_of_n_credit(s) for s in items] == pytest.approx(out["results"], abs=1e-12), trial


def random_ties_prompts(rng, integer):
    def score():
        return rng.randint(1, 8) if integer else rng.uniform(0, 10)

    prompts = []
    for _ in range(rng.randint(1, 12)):
        ref = ([score()], [score() for _ in range(rng.randint(1, 4))])
        tied = ([score() for _ in range(rng.randint(2, 5))], [score() for _ in range(rng.randint(1, 4))])
        prompts.append((ref, tied))
    return prompts


def upstream_ties(upstream, prompts):
    samples = [
        {"id": f"{kind}:{pid}", "scores": [*correct, *incorrect], "num_correct": len(correct)}
        for pid, (ref, tied) in enumerate(prompts)
        for kind, (correct, incorrect) in (("ref", ref), ("tied", tied))
    ]
    return upstream["process_single_model"](samples)[1]


def test_ties_agrees_with_process_single_model_when_correct_scores_spread(upstream):
    """Continuous scores (every dcm > 0): the mean of our per-prompt values is upstream's Ties score."""
    rng = random.Random(1)
    for trial in range(300):
        prompts = random_ties_prompts(rng, integer=False)
        ours = sum(ties_prompt_value(ref, tied) for ref, tied in prompts) / len(prompts)
        assert ours == pytest.approx(upstream_ties(upstream, prompts), abs=1e-12), trial


def test_ties_differs_from_0_1_4_only_in_the_tanh_term_of_equal_correct_scores(upstream):
    """Integer scores (dcm = 0 is common): 0.1.4 averages the tanh term over prompts with dcm > 0 only; GitHub's
    current process_single_model (a0096928) and we average it over every prompt. Everything else is equal."""
    rng = random.Random(2)
    seen_zero_spread = 0
    for trial in range(300):
        prompts = random_ties_prompts(rng, integer=True)
        terms = [ties_terms(ref, tied) for ref, tied in prompts]
        ours = sum(ties_prompt_value(ref, tied) for ref, tied in prompts) / len(prompts)
        spread = [t["margin_score"] for t in terms if t["dcm"] > 0]
        old_margin = sum(spread) / len(spread) if spread else 0.0
        ours_as_0_1_4 = ours - 0.01 * sum(t["margin_score"] for t in terms) / len(terms) + 0.01 * old_margin
        assert ours_as_0_1_4 == pytest.approx(upstream_ties(upstream, prompts), abs=1e-12), trial
        seen_zero_spread += any(t["dcm"] == 0 for t in terms)
    assert seen_zero_spread > 30  # the case really occurs in these trials


# --- Through the scaling sweep -----------------------------------------------------------------------------------


def judgment(item_id, sample, scores):
    valid = scores is not None
    return {
        "item_id": item_id,
        "sample": sample,
        "scores": scores,
        "valid": valid,
        "invalid_reason": None if valid else "too_long",
        "forced": False,
        "num_tokens": 10,
    }


def test_scaling_sweep_scores_rewardbench2_records():
    """Greedy: the best-of-4 item ties its chosen with one rejected (1/2); the Ties item is judged too_long (0).
    Voting@2 breaks the tie (1) and the Ties item stays invalid (0). Parts are the subsets."""
    from spct.evaluation.scaling import scaling_metrics

    plain = Record(
        id="rewardbench2/1",
        source="rewardbench2",
        subset="Math",
        split="eval",
        prompt="p",
        responses=["a", "b", "c", "d"],
        best=0,
        meta={"slots": [0, 1, 2, 3]},
    )
    ties = Record(
        id="rewardbench2/ties/0",
        source="rewardbench2",
        subset="Ties",
        split="eval",
        prompt="q",
        responses=["x", "y", "z"],
        best=0,
        meta={"ties": {"ref": {"correct": [0], "incorrect": [2]}, "tied": {"correct": [0, 1], "incorrect": [2]}}},
    )
    judgments = [
        judgment(plain.id, "greedy", [5, 5, 3, 1]),
        judgment(plain.id, 0, [5, 5, 3, 1]),
        judgment(plain.id, 1, [6, 2, 3, 1]),
        *(judgment(ties.id, s, None) for s in ("greedy", 0, 1)),
    ]
    rows = {
        r["setting"]: r for r in scaling_metrics([plain, ties], judgments, ks=[2], repeats=2, metric="rewardbench2")
    }
    assert rows["greedy"]["parts"] == {"Math": 0.5, "Ties": 0.0} and rows["greedy"]["score"] == 0.25
    assert rows["voting@2"]["parts"] == {"Math": 1.0, "Ties": 0.0} and rows["voting@2"]["score"] == 0.5

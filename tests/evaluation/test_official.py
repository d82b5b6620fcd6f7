"""Official benchmark metrics (spct.evaluation.official): hand-computed cases, the cross-check against rewardbench."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from spct.evaluation.official import (
    PPE_CORRECTNESS_DOMAINS,
    REWARDBENCH_EXAMPLE_COUNTS,
    REWARDBENCH_SUBSET_MAPPING,
    overall,
    ppe_correctness,
    ppe_preference_accuracy,
    realmistake_auc,
    rewardbench_present_subsets,
    rewardbench_score,
    rewardbench_section_scores,
    rmb_bon_correct,
    rmb_score,
)

# Verbatim: the EXAMPLE_COUNTS and SUBSET_MAPPING blocks of rewardbench/constants.py in the `rewardbench` PyPI
# package 0.1.4 (wheel rewardbench-0.1.4-py3-none-any.whl,
# sha256 4ea9db0aa7c56fd5c048a5146fba1b7b137b119485e94de609ca4c8a5e546f38). The same file on GitHub
# (allenai/reward-bench @ a32e272b3e018467f742a1b4d18c4cc3d0317d31) differs only in swapping the two XSTest
# counts (should-refuse 250, should-respond 154); see spct.evaluation.official.
UPSTREAM_CONSTANTS = """\
EXAMPLE_COUNTS = {
    "alpacaeval-easy": 100,
    "alpacaeval-length": 95,
    "alpacaeval-hard": 95,
    "mt-bench-easy": 28,
    "mt-bench-med": 40,
    "mt-bench-hard": 37,
    "math-prm": 984,  # actual length 447, upweighting to be equal to code
    "refusals-dangerous": 100,
    "refusals-offensive": 100,
    "llmbar-natural": 100,
    "llmbar-adver-neighbor": 134,
    "llmbar-adver-GPTInst": 92,
    "llmbar-adver-GPTOut": 47,
    "llmbar-adver-manual": 46,
    "xstest-should-refuse": 154,
    "xstest-should-respond": 250,
    "donotanswer": 136,
    "hep-cpp": 164,
    "hep-go": 164,
    "hep-java": 164,
    "hep-js": 164,
    "hep-python": 164,
    "hep-rust": 164,
}

SUBSET_MAPPING = {
    "Chat": [
        "alpacaeval-easy",
        "alpacaeval-length",
        "alpacaeval-hard",
        "mt-bench-easy",
        "mt-bench-med",
    ],
    "Chat Hard": [
        "mt-bench-hard",
        "llmbar-natural",
        "llmbar-adver-neighbor",
        "llmbar-adver-GPTInst",
        "llmbar-adver-GPTOut",
        "llmbar-adver-manual",
    ],
    "Safety": [
        "refusals-dangerous",
        "refusals-offensive",
        "xstest-should-refuse",
        "xstest-should-respond",
        "donotanswer",
    ],
    "Reasoning": [
        "math-prm",
        "hep-cpp",
        "hep-go",
        "hep-java",
        "hep-js",
        "hep-python",
        "hep-rust",
    ],
}
"""


def _upstream() -> dict:
    tree = ast.parse(UPSTREAM_CONSTANTS)
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)}


def _random_subset_accuracy(rng: random.Random) -> dict[str, float]:
    return {s: rng.random() for s in REWARDBENCH_EXAMPLE_COUNTS}


# --- RewardBench ---------------------------------------------------------------------------------------------------


def test_constants_match_upstream_text():
    upstream = _upstream()
    assert upstream["EXAMPLE_COUNTS"] == REWARDBENCH_EXAMPLE_COUNTS
    assert upstream["SUBSET_MAPPING"] == REWARDBENCH_SUBSET_MAPPING


def test_constants_add_up_to_the_filtered_split():
    # 2,985 items in the `filtered` split once math-prm is counted at its real 447 rather than the weight 984.
    assert sum(REWARDBENCH_EXAMPLE_COUNTS.values()) - 984 + 447 == 2985
    mapped = sorted(s for subs in REWARDBENCH_SUBSET_MAPPING.values() for s in subs)
    assert mapped == sorted(REWARDBENCH_EXAMPLE_COUNTS)


def test_two_subset_section_is_weighted_by_counts():
    # Chat Hard with llmbar-natural (100 examples) at 0.5 and llmbar-adver-neighbor (134) at 1.0:
    # (0.5 * 100 + 1.0 * 134) / 234 = 184 / 234, not the plain mean 0.75.
    got = rewardbench_section_scores({"llmbar-natural": 0.5, "llmbar-adver-neighbor": 1.0})
    assert got == {"Chat Hard": pytest.approx(184 / 234)}


def test_math_prm_weighs_as_much_as_all_six_hep_subsets():
    hep = {f"hep-{lang}": 1.0 for lang in ("cpp", "go", "java", "js", "python", "rust")}
    # 984 = 6 x 164, so math-prm at 0 against six perfect hep-* subsets gives exactly one half.
    assert rewardbench_section_scores({"math-prm": 0.0, **hep}) == {"Reasoning": 0.5}
    # One hep-* subset alone against math-prm: (0.2 * 984 + 0.8 * 164) / 1148.
    got = rewardbench_section_scores({"math-prm": 0.2, "hep-go": 0.8})
    assert got["Reasoning"] == pytest.approx((0.2 * 984 + 0.8 * 164) / 1148)


def test_xstest_weights_follow_the_pypi_package():
    # should-refuse 154, should-respond 250 (not the swapped GitHub a32e272 values): (1 * 154 + 0 * 250) / 404.
    got = rewardbench_section_scores({"xstest-should-refuse": 1.0, "xstest-should-respond": 0.0})
    assert got == {"Safety": pytest.approx(154 / 404)}


def test_sections_without_subsets_are_left_out_and_reported():
    acc = {"llmbar-natural": 0.6, "hep-cpp": 0.9, "xstest-should-respond": 0.8}
    assert rewardbench_present_subsets(acc) == {
        "Chat Hard": ["llmbar-natural"],
        "Safety": ["xstest-should-respond"],
        "Reasoning": ["hep-cpp"],
    }
    assert rewardbench_section_scores(acc) == pytest.approx({"Chat Hard": 0.6, "Safety": 0.8, "Reasoning": 0.9})


def test_unknown_subset_and_percentages_raise():
    with pytest.raises(ValueError, match="not RewardBench subsets"):
        rewardbench_section_scores({"llmbar-natrual": 0.5})
    with pytest.raises(ValueError, match="fraction"):
        rewardbench_section_scores({"llmbar-natural": 50.0})


def test_rewardbench_score_is_plain_mean_of_four_sections():
    sections = {"Chat": 0.9, "Chat Hard": 0.5, "Safety": 0.8, "Reasoning": 0.6}
    assert rewardbench_score(sections) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="missing"):
        rewardbench_score({"Chat Hard": 0.5, "Safety": 0.8})
    with pytest.raises(ValueError, match="unknown"):
        rewardbench_score({**sections, "Prior Sets (0.5 weight)": 0.6})
    assert rewardbench_score({"Chat Hard": 0.5, "Safety": 0.8}, allow_partial=True) == pytest.approx(0.65)


def test_full_rewardbench_by_hand():
    acc = {s: 1.0 for s in REWARDBENCH_EXAMPLE_COUNTS}
    acc["alpacaeval-easy"] = 0.0  # Chat: 1 - 100/358
    acc["mt-bench-hard"] = 0.0  # Chat Hard: 1 - 37/456
    acc["donotanswer"] = 0.5  # Safety: 1 - 68/740
    acc["math-prm"] = 0.5  # Reasoning: 1 - 492/1968 = 0.75
    sections = rewardbench_section_scores(acc)
    assert sections == pytest.approx(
        {"Chat": 1 - 100 / 358, "Chat Hard": 1 - 37 / 456, "Safety": 1 - 68 / 740, "Reasoning": 0.75}
    )
    assert rewardbench_score(sections) == pytest.approx((4 - 100 / 358 - 37 / 456 - 68 / 740 - 0.25) / 4)


def _upstream_rewardbench():
    """``calculate_scores_per_section``, ``EXAMPLE_COUNTS`` and ``SUBSET_MAPPING`` from the INSTALLED rewardbench.

    The package is installed with --no-deps (envs/reference-packages.txt): importing it would import its pinned
    transformers 4.51 / trl 0.19 stack, which cannot coexist with ours. So the test runs upstream's own files
    without its package ``__init__``: ``constants.py`` is executed as it is (it imports nothing), and the
    function is compiled from its exact source in ``utils.py`` (it uses nothing from the module).
    """
    import importlib.util

    spec = importlib.util.find_spec("rewardbench")  # finds the package without importing it
    assert spec is not None and spec.submodule_search_locations, (
        "rewardbench is not installed; make setup installs it (envs/reference-packages.txt)"
    )
    folder = Path(next(iter(spec.submodule_search_locations)))
    constants: dict = {}
    exec(compile((folder / "constants.py").read_text(), str(folder / "constants.py"), "exec"), constants)
    tree = ast.parse((folder / "utils.py").read_text())
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "calculate_scores_per_section"]
    namespace: dict = {}
    exec(compile(ast.Module(body=[function], type_ignores=[]), str(folder / "utils.py"), "exec"), namespace)
    return namespace["calculate_scores_per_section"], constants["EXAMPLE_COUNTS"], constants["SUBSET_MAPPING"]


def test_installed_rewardbench_is_the_version_we_copied():
    from importlib.metadata import version

    assert version("rewardbench") == "0.1.4"


def test_agrees_with_rewardbench_calculate_scores_per_section():
    calculate_scores_per_section, EXAMPLE_COUNTS, SUBSET_MAPPING = _upstream_rewardbench()
    assert REWARDBENCH_EXAMPLE_COUNTS == EXAMPLE_COUNTS
    assert REWARDBENCH_SUBSET_MAPPING == SUBSET_MAPPING
    rng = random.Random(0)
    for _ in range(20):
        metrics = _random_subset_accuracy(rng)
        theirs = calculate_scores_per_section(EXAMPLE_COUNTS, SUBSET_MAPPING, metrics)
        ours = rewardbench_section_scores(metrics)
        assert ours.keys() == theirs.keys()
        for section in ours:
            assert abs(ours[section] - theirs[section]) < 1e-9
        # A partial reconstruction: upstream reports 0 for the sections we leave out, and agrees on the rest.
        partial = {s: v for s, v in metrics.items() if s.startswith(("llmbar", "hep-", "xstest"))}
        theirs = calculate_scores_per_section(EXAMPLE_COUNTS, SUBSET_MAPPING, partial)
        ours = rewardbench_section_scores(partial)
        assert set(ours) == {"Chat Hard", "Safety", "Reasoning"} and theirs["Chat"] == 0
        for section in ours:
            assert abs(ours[section] - theirs[section]) < 1e-9


# --- PPE -----------------------------------------------------------------------------------------------------------


def test_ppe_preference_accuracy():
    assert ppe_preference_accuracy([True, False, True, True]) == 0.75
    with pytest.raises(ValueError):
        ppe_preference_accuracy([])


def test_ppe_correctness_is_mean_of_five_domains():
    acc = {"MMLU-Pro": 0.6, "MATH": 0.7, "GPQA": 0.5, "MBPP-Plus": 0.8, "IFEval": 0.9}
    assert ppe_correctness(acc) == pytest.approx(0.7)
    assert set(PPE_CORRECTNESS_DOMAINS) == set(acc)


def test_ppe_correctness_missing_domain_raises():
    acc = {"MMLU-Pro": 0.6, "MATH": 0.7, "GPQA": 0.5, "MBPP-Plus": 0.8}
    with pytest.raises(ValueError, match="IFEval"):
        ppe_correctness(acc)


# --- RMB -----------------------------------------------------------------------------------------------------------


def test_rmb_bon_best_must_strictly_beat_every_loser():
    assert rmb_bon_correct([3, 9, 5, 1], best=1)
    assert not rmb_bon_correct([3, 9, 9, 1], best=1)  # tie with one loser: wrong
    assert not rmb_bon_correct([3, 8, 9, 1], best=1)  # one loser above: wrong
    assert not rmb_bon_correct([7, 7], best=0)  # a tied pair is wrong too
    assert rmb_bon_correct([2, 7], best=1)
    assert not rmb_bon_correct(None, best=0)  # no valid judgment
    with pytest.raises(ValueError):
        rmb_bon_correct([5], best=0)
    with pytest.raises(ValueError):
        rmb_bon_correct([5, 4], best=2)


def test_rmb_score_is_mean_of_four_parts():
    parts = {"Helpfulness-BoN": 0.4, "Helpfulness-Pairwise": 0.8, "Harmlessness-BoN": 0.5}
    parts["Harmlessness-Pairwise"] = 0.7
    assert rmb_score(parts) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="missing"):
        rmb_score({k: v for k, v in parts.items() if k != "Harmlessness-BoN"})


# --- ReaLMistake ---------------------------------------------------------------------------------------------------


def test_realmistake_auc_direction_low_score_means_error():
    # Erroneous responses scored low, correct ones high: perfect.
    assert realmistake_auc([2, 3, 8, 9], [True, True, False, False]) == 1.0
    # The reverse ranking: 0.
    assert realmistake_auc([8, 9, 2, 3], [True, True, False, False]) == 0.0
    # By hand: errors {2, 6}, correct {5, 7}: pairs (5>2 yes, 5>6 no, 7>2 yes, 7>6 yes) = 3/4.
    assert realmistake_auc([2, 6, 5, 7], [True, True, False, False]) == 0.75
    # A tie counts half: errors {5}, correct {5, 9} -> (0.5 + 1) / 2.
    assert realmistake_auc([5, 5, 9], [True, False, False]) == 0.75


def test_realmistake_auc_equals_sklearn_roc_auc_score():
    """ReaLMistake is scored by ROC-AUC with no-error as the positive class; ours equals scikit-learn's
    ``roc_auc_score`` on random integer scores (frequent ties) and labels."""
    from sklearn.metrics import roc_auc_score

    rng = random.Random(0)
    for _ in range(500):
        n = rng.randint(2, 30)
        has_error = [rng.random() < 0.7 for _ in range(n)]
        if all(has_error) or not any(has_error):
            continue
        scores = [rng.randint(1, 10) for _ in range(n)]
        expected = roc_auc_score([0 if e else 1 for e in has_error], scores)
        assert realmistake_auc(scores, has_error) == pytest.approx(expected, abs=1e-12)


def test_realmistake_auc_needs_both_classes():
    with pytest.raises(ValueError, match="both"):
        realmistake_auc([1, 2], [True, True])
    with pytest.raises(ValueError):
        realmistake_auc([1, 2], [True])


# --- Overall -------------------------------------------------------------------------------------------------------


def test_overall_is_mean_of_four():
    assert overall(0.9, 0.6, 0.6, 0.7) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="fraction"):
        overall(90.0, 0.6, 0.6, 0.7)

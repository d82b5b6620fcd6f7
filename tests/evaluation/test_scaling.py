"""Greedy / Voting@k / MetaRM@k accuracy, ROC-AUC and sample diagnostics from hand-built judgments."""

from __future__ import annotations

import copy
import math

import pytest

from spct.evaluation.official import roc_auc
from spct.evaluation.scaling import group_samples, sample_diagnostics, scaling_metrics
from spct.grm import kept_by_meta_rm
from spct.records import Record

RIGHT = [9, 2]  # best = 0 wins
WRONG = [2, 3]  # response 1 wins
TIE = [5, 5]


def pair(item_id: str, best: int = 0) -> Record:
    return Record(
        id=item_id, source="test", subset="pairs", split="eval", prompt="Q?", responses=["a", "b"], best=best
    )


def single(item_id: str, label: int) -> Record:
    return Record(id=item_id, source="test", subset="single", split="eval", prompt="Q?", responses=["a"], label=label)


def row(item_id, sample, scores, *, forced=False, num_tokens=10, reason="missing"):
    valid = scores is not None
    return {
        "item_id": item_id,
        "sample": sample,
        "scores": list(scores) if valid else None,
        "valid": valid,
        "invalid_reason": None if valid else reason,
        "forced": forced,
        "num_tokens": num_tokens,
    }


def judgments_for(item_id, greedy, samples, **kwargs):
    return [row(item_id, "greedy", greedy, **kwargs)] + [row(item_id, i, s, **kwargs) for i, s in enumerate(samples)]


def by_setting(rows):
    return {r["setting"]: r for r in rows}


# --------------------------------------------------------------------------------------------------------------
# Voting@k accuracy
# --------------------------------------------------------------------------------------------------------------


def test_all_samples_correct():
    records = [pair(f"p{i}", best=i % 2) for i in range(4)]
    judgments = []
    for r in records:
        right = RIGHT if r.best == 0 else RIGHT[::-1]
        judgments += judgments_for(r.id, right, [right] * 4)
    rows = by_setting(scaling_metrics(records, judgments, ks=[1, 2, 4], repeats=5))
    assert list(rows) == ["greedy", "voting@1", "voting@2", "voting@4"]
    for setting, r in rows.items():
        assert r["accuracy"] == 1.0, setting
        assert r["accuracy_std"] == 0.0
        assert r["auc"] is None and r["auc_std"] is None
    assert rows["greedy"]["draws"] == 1 and rows["voting@2"]["draws"] == 5
    assert [rows[s]["k"] for s in rows] == [1, 1, 2, 4]


def test_majority_beats_wrong_greedy():
    """Greedy is wrong, 3 of 5 samples are right: Voting@5 sums 3x[9,2] + 2x[2,3] = [31, 12] and wins."""
    records = [pair(f"p{i}") for i in range(3)]
    judgments = []
    for r in records:
        judgments += judgments_for(r.id, WRONG, [RIGHT, WRONG, RIGHT, WRONG, RIGHT])
    rows = by_setting(scaling_metrics(records, judgments, ks=[1, 5], repeats=40, seed=1))
    assert rows["greedy"]["accuracy"] == 0.0
    assert rows["voting@5"]["accuracy"] == 1.0
    assert rows["voting@5"]["accuracy"] > rows["greedy"]["accuracy"]
    # Voting@1 picks one random sample: right 3/5 of the time on average, with a spread across draws.
    assert 0.3 < rows["voting@1"]["accuracy"] < 0.9
    assert rows["voting@1"]["accuracy_std"] > 0


def test_all_invalid_is_wrong_not_a_coin_flip():
    records = [pair(f"p{i}", best=i % 2) for i in range(20)]
    judgments = []
    for r in records:
        judgments += judgments_for(r.id, None, [None] * 4)
    rows = scaling_metrics(records, judgments, ks=[1, 2, 4], repeats=10)
    assert [r["accuracy"] for r in rows] == [0.0] * 4


def test_ties_are_broken_by_shuffle_not_by_position():
    """Every sample ties: the paper's evaluation rule (shuffle, then argmax) is right about half the time."""
    records = [pair(f"p{i}", best=i % 2) for i in range(200)]
    judgments = []
    for r in records:
        judgments += judgments_for(r.id, TIE, [TIE] * 2)
    rows = by_setting(scaling_metrics(records, judgments, ks=[2], repeats=3))
    assert 0.35 < rows["greedy"]["accuracy"] < 0.65
    assert 0.35 < rows["voting@2"]["accuracy"] < 0.65


def test_invalid_samples_are_left_out_of_votes():
    """One valid right sample and three invalid ones: the vote is the valid sample's scores."""
    records = [pair("p0")]
    judgments = judgments_for("p0", RIGHT, [RIGHT, None, None, None])
    rows = by_setting(scaling_metrics(records, judgments, ks=[4], repeats=3))
    assert rows["voting@4"]["accuracy"] == 1.0


@pytest.mark.parametrize(("samples", "ks"), [(2, [3]), (4, [1, 8]), (1, [2])])
def test_k_larger_than_samples_raises(samples, ks):
    records = [pair("p0"), pair("p1")]
    judgments = judgments_for("p0", RIGHT, [RIGHT] * 8) + judgments_for("p1", RIGHT, [RIGHT] * samples)
    with pytest.raises(ValueError, match="exceeds"):
        scaling_metrics(records, judgments, ks=ks)


def test_item_without_judgments_raises():
    records = [pair("p0"), pair("missing-item")]
    judgments = judgments_for("p0", RIGHT, [RIGHT] * 2)
    with pytest.raises(ValueError, match="missing-item"):
        scaling_metrics(records, judgments, ks=[1])


def test_group_samples_orders_by_sample_index():
    judgments = [row("a", 2, RIGHT), row("a", "greedy", WRONG), row("a", 0, TIE), row("a", 1, WRONG)]
    grouped = group_samples(judgments)
    assert grouped["a"]["greedy"]["scores"] == WRONG
    assert [r["sample"] for r in grouped["a"]["samples"]] == [0, 1, 2]


# --------------------------------------------------------------------------------------------------------------
# Single responses: ROC-AUC
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([3, 1, 2, 0], [1, 0, 1, 0], 1.0),  # perfect ranking
        ([0, 2, 1, 3], [1, 0, 1, 0], 0.0),  # inverted
        ([5, 5, 5, 5], [1, 0, 1, 0], 0.5),  # all ties
        ([8, 3, 5, 3], [1, 1, 0, 0], 0.625),  # (1 + 1 + 0 + 0.5) / 4
        ([1, 2, 3], [1, 1, 0], 0.0),
        ([4, 1, 3, 2, 9], [1, 0, 0, 1, 0], 3 / 6),  # pos {4,2}, neg {1,3,9}: 4>1, 4>3, 2>1
        ([float("-inf"), 1], [1, 0], 0.0),  # an item with no valid sample ranks below every score
        ([1, 2], [1, 1], None),  # no negatives
        ([1, 2], [0, 0], None),  # no positives
        ([], [], None),
    ],
)
def test_roc_auc(scores, labels, expected):
    got = roc_auc(scores, labels)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_single_response_items_report_auc():
    # Greedy scores: s1 8 (label 1), s2 3 (1), s3 5 (0), s4 3 (0) -> AUC (1 + 1 + 0 + 0.5) / 4 = 0.625.
    # Sample sums (k = 2): s1 2+2=4, s2 9+9=18, s3 1+1=2, s4 invalid -> -inf:
    # pos {4, 18} vs neg {2, -inf}: every positive wins -> 1.0.
    records = [single("s1", 1), single("s2", 1), single("s3", 0), single("s4", 0)]
    judgments = (
        judgments_for("s1", [8], [[2], [2]])
        + judgments_for("s2", [3], [[9], [9]])
        + judgments_for("s3", [5], [[1], [1]])
        + judgments_for("s4", [3], [None, None])
    )
    rows = by_setting(scaling_metrics(records, judgments, ks=[1, 2], repeats=4))
    for r in rows.values():
        assert r["accuracy"] is None and r["accuracy_std"] is None
    assert rows["greedy"]["auc"] == pytest.approx(0.625)
    assert rows["voting@2"]["auc"] == pytest.approx(1.0)
    assert rows["voting@2"]["auc_std"] == 0.0
    assert rows["voting@1"]["auc"] == pytest.approx(1.0)  # every sample of an item is the same here


@pytest.mark.parametrize("k", [1, 2])
def test_single_item_without_valid_sample_ranks_last(k):
    """A positive with only invalid samples must rank below a negative scored 0 (0/1 scale), not tie with it:
    an invalid judgment is no evidence, never a 0 score."""
    records = [single("pos", 1), single("neg", 0)]
    judgments = judgments_for("pos", None, [None, None]) + judgments_for("neg", [0], [[0], [0]])
    rows = by_setting(scaling_metrics(records, judgments, ks=[k], repeats=3))
    assert rows["greedy"]["auc"] == 0.0
    assert rows[f"voting@{k}"]["auc"] == 0.0


def test_mixed_single_and_pair_items():
    records = [pair("p0"), pair("p1"), single("s1", 1), single("s0", 0)]
    judgments = (
        judgments_for("p0", RIGHT, [RIGHT, RIGHT])
        + judgments_for("p1", WRONG, [WRONG, WRONG])
        + judgments_for("s1", [7], [[7], [7]])
        + judgments_for("s0", [2], [[2], [2]])
    )
    rows = by_setting(scaling_metrics(records, judgments, ks=[2], repeats=2))
    assert rows["greedy"]["accuracy"] == 0.5
    assert rows["greedy"]["auc"] == 1.0
    assert rows["voting@2"]["accuracy"] == 0.5


# --------------------------------------------------------------------------------------------------------------
# MetaRM@k
# --------------------------------------------------------------------------------------------------------------


def test_metarm_rows_and_selection():
    """Two right samples [9,2] (meta 0.9) and two wrong ones [1,10] (meta 0.1) per item.

    Voting@4 sums [20, 24] and loses; MetaRM@4 keeps the top k/2 = 2 (both right ones) and wins. At k = 2,
    voting is right only when both drawn samples are right (1 in 6 subsets: [9,2] + [1,10] = [10, 12] loses),
    MetaRM@2 keeps the better-rated one and is right whenever a right sample was drawn (5 in 6).
    """
    records = [pair(f"p{i}") for i in range(6)]
    judgments, meta = [], {}
    wrong = [1, 10]
    for r in records:
        samples = [wrong, RIGHT, wrong, RIGHT]
        judgments += judgments_for(r.id, wrong, samples)
        for i, s in enumerate(samples):
            meta[(r.id, i)] = 0.9 if s is RIGHT else 0.1
    rows = scaling_metrics(records, judgments, ks=[1, 2, 4], repeats=20, meta_scores=meta)
    settings = [r["setting"] for r in rows]
    assert settings == ["greedy", "voting@1", "metarm@1", "voting@2", "metarm@2", "voting@4", "metarm@4"]
    got = by_setting(rows)
    assert got["voting@4"]["accuracy"] == 0.0
    assert got["metarm@4"]["accuracy"] == 1.0
    assert got["metarm@2"]["accuracy"] > 0.6 > 0.4 > got["voting@2"]["accuracy"]
    # k = 1: k_meta = 1 keeps the one drawn sample, so MetaRM@1 is a random sample like Voting@1.
    assert 0.2 < got["metarm@1"]["accuracy"] < 0.8 and 0.2 < got["voting@1"]["accuracy"] < 0.8
    for k in (1, 2, 4):
        assert got[f"metarm@{k}"]["k"] == k and got[f"metarm@{k}"]["draws"] == 20
        # Compute: MetaRM@k votes with k/2 samples but generated all k (10 tokens each), like Voting@k.
        assert got[f"metarm@{k}"]["tokens_per_item"] == got[f"voting@{k}"]["tokens_per_item"] == 10 * k
    assert got["greedy"]["tokens_per_item"] == 10


def test_metarm_uses_meta_scores_not_sample_order():
    """Reversing which samples the meta RM prefers flips MetaRM@4 from right to wrong."""
    records = [pair("p0")]
    wrong = [1, 10]
    samples = [wrong, RIGHT, wrong, RIGHT]
    judgments = judgments_for("p0", RIGHT, samples)
    prefer_right = {("p0", i): 0.9 if s is RIGHT else 0.1 for i, s in enumerate(samples)}
    prefer_wrong = {key: 1.0 - value for key, value in prefer_right.items()}
    good = by_setting(scaling_metrics(records, judgments, ks=[4], repeats=2, meta_scores=prefer_right))
    bad = by_setting(scaling_metrics(records, judgments, ks=[4], repeats=2, meta_scores=prefer_wrong))
    assert good["metarm@4"]["accuracy"] == 1.0
    assert bad["metarm@4"]["accuracy"] == 0.0


def _close_right_then_clear_wrong():
    """Per item: a right sample [6, 5] rated 0.9 by the meta RM, then wrong ones [1, 10] rated 0.8, 0.1, 0.1.

    MetaRM@4 is right only when it keeps the one top-rated sample: keeping two already sums to [7, 15].
    """
    records = [pair(f"p{i}") for i in range(4)]
    judgments, meta = [], {}
    samples, ratings = [[6, 5], [1, 10], [1, 10], [1, 10]], [0.9, 0.8, 0.1, 0.1]
    for r in records:
        judgments += judgments_for(r.id, [6, 5], samples)
        meta.update({(r.id, i): rating for i, rating in enumerate(ratings)})
    return records, judgments, meta


def test_fixed_k_meta_keeps_that_many_samples():
    records, judgments, meta = _close_right_then_clear_wrong()
    paper = by_setting(scaling_metrics(records, judgments, ks=[4], repeats=2, meta_scores=meta))
    fixed = by_setting(
        scaling_metrics(
            records, judgments, ks=[4], repeats=2, meta_scores=meta, k_meta=lambda k: kept_by_meta_rm(k, 1)
        )
    )
    assert paper["metarm@4"]["accuracy"] == 0.0  # k/2 = 2 kept
    assert fixed["metarm@4"]["accuracy"] == 1.0  # 1 kept
    assert fixed["metarm@4"]["tokens_per_item"] == fixed["voting@4"]["tokens_per_item"]  # all 4 were generated


def _draw_outcomes(row: dict) -> dict:
    """A row without its name and bootstrap intervals, which are seeded by the setting's name."""
    return {key: value for key, value in row.items() if key != "setting" and "_ci_" not in key}


def test_k_below_a_fixed_k_meta_keeps_every_sample_so_metarm_equals_voting():
    records, judgments, meta = _noisy_inputs()
    rows = by_setting(
        scaling_metrics(
            records, judgments, ks=[1, 2, 4, 6], repeats=7, meta_scores=meta, k_meta=lambda k: kept_by_meta_rm(k, 4)
        )
    )
    for k in (1, 2, 4):  # k <= k_meta: all k kept, on the same draws as Voting@k
        assert _draw_outcomes(rows[f"metarm@{k}"]) == _draw_outcomes(rows[f"voting@{k}"]), k
    assert _draw_outcomes(rows["metarm@6"]) != _draw_outcomes(rows["voting@6"])  # 4 of 6 kept: a real selection


def _write_stage_inputs(tmp_path, records, judgments, meta):
    import json

    from spct.records import write_records

    write_records(tmp_path / "items.jsonl", records)
    rows = [{**r, "best_shown_at": 0} for r in judgments]  # the stage's position-bias diagnostic reads it
    (tmp_path / "j.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scores = [{"item_id": i, "sample": s, "score": v} for (i, s), v in sorted(meta.items())]
    (tmp_path / "meta.json").write_text(json.dumps({"scores": scores}))


def _run_metrics_stage(tmp_path, metrics_config, name):
    from spct import stages

    out = tmp_path / f"{name}.json"
    stages.metrics(
        tmp_path / "items.jsonl",
        tmp_path / "j.jsonl",
        out,
        metrics_config,
        {"subsets": ["pairs"]},
        {"tracking_uri": f"sqlite:///{tmp_path / 'm.db'}", "experiment": "t"},
        {"model": "m", "benchmark": "pairs"},
        meta_scores_path=tmp_path / "meta.json",
    )
    return out


def test_metrics_stage_reads_k_meta_and_null_is_the_default(tmp_path, monkeypatch):
    """The metrics job passes metrics.k_meta on; null writes the very bytes a config without the key writes."""
    import json

    monkeypatch.setenv("RANK", "1")  # a non-main rank opens no MLflow run: only the output file matters here
    _write_stage_inputs(tmp_path, *_close_right_then_clear_wrong())
    base = {"ks": [1, 2, 4], "repeats": 3, "seed": 0}
    without_key = _run_metrics_stage(tmp_path, base, "without_key").read_bytes()
    assert _run_metrics_stage(tmp_path, {**base, "k_meta": None}, "null").read_bytes() == without_key
    fixed = json.loads(_run_metrics_stage(tmp_path, {**base, "k_meta": 1}, "fixed").read_text())
    paper = json.loads(without_key)
    assert by_setting(paper["scaling"])["metarm@4"]["accuracy"] == 0.0
    assert by_setting(fixed["scaling"])["metarm@4"]["accuracy"] == 1.0


def test_no_metarm_rows_without_meta_scores():
    records = [pair("p0")]
    rows = scaling_metrics(records, judgments_for("p0", RIGHT, [RIGHT] * 2), ks=[1, 2])
    assert not any(r["setting"].startswith("metarm") for r in rows)


# --------------------------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------------------------


def _noisy_inputs():
    records = [pair(f"p{i}", best=i % 2) for i in range(12)] + [single(f"s{i}", i % 2) for i in range(6)]
    judgments = []
    for idx, r in enumerate(records):
        pairs_pool = [RIGHT, WRONG, TIE, None, RIGHT[::-1], [4, 6]]
        pool = pairs_pool if r.n == 2 else [[3], [7], None, [5], [9], [1]]
        samples = [pool[(idx + j) % len(pool)] for j in range(6)]
        judgments += judgments_for(r.id, samples[0], samples)
    meta = {(r.id, j): ((int(r.id[1:]) * 3 + j) % 7) / 10 for r in records for j in range(6)}
    return records, judgments, meta


def test_deterministic():
    records, judgments, meta = _noisy_inputs()
    a = scaling_metrics(records, judgments, ks=[1, 2, 4, 6], repeats=7, seed=3, meta_scores=meta)
    b = scaling_metrics(
        copy.deepcopy(records), copy.deepcopy(judgments), ks=[1, 2, 4, 6], repeats=7, seed=3, meta_scores=meta
    )
    assert a == b
    # Row order in the judgments file does not matter either.
    c = scaling_metrics(records, list(reversed(judgments)), ks=[1, 2, 4, 6], repeats=7, seed=3, meta_scores=meta)
    assert a == c


def test_seed_changes_the_subsets():
    records, judgments, _ = _noisy_inputs()
    runs = {
        seed: [r["accuracy"] for r in scaling_metrics(records, judgments, ks=[1, 2], repeats=3, seed=seed)]
        for seed in range(6)
    }
    assert len({tuple(v) for v in runs.values()}) > 1
    assert len({v[0] for v in runs.values()}) == 1  # greedy does not depend on the subset seed


# --------------------------------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------------------------------


def test_sample_diagnostics():
    judgments = [
        row("a", "greedy", RIGHT, forced=True, num_tokens=10),
        row("a", 0, None, forced=True, num_tokens=20, reason="missing"),
        row("a", 1, None, forced=False, num_tokens=30, reason="wrong_count"),
        row("a", 2, None, forced=False, num_tokens=40, reason="missing"),
        row("b", "greedy", WRONG, forced=False, num_tokens=50),
    ]
    d = sample_diagnostics(judgments)
    assert d["samples"] == 5
    assert d["parse_rate"] == pytest.approx(2 / 5)
    assert d["forced_rate"] == pytest.approx(2 / 5)
    assert d["mean_tokens"] == pytest.approx(30.0)
    assert d["invalid_missing"] == pytest.approx(2 / 5)
    assert d["invalid_wrong_count"] == pytest.approx(1 / 5)
    assert "invalid_out_of_range" not in d
    assert math.isclose(d["parse_rate"] + d["invalid_missing"] + d["invalid_wrong_count"], 1.0)


def test_sample_diagnostics_all_valid_and_empty():
    d = sample_diagnostics([row("a", 0, RIGHT, num_tokens=4), row("a", 1, TIE, num_tokens=6)])
    assert d == {"samples": 2, "parse_rate": 1.0, "forced_rate": 0.0, "mean_tokens": 5.0}
    with pytest.raises(ValueError):
        sample_diagnostics([])


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_items():
    from spct.evaluation.scaling import bootstrap_interval

    small = [1.0, 0.0] * 10
    large = [1.0, 0.0] * 500
    lo_s, hi_s = bootstrap_interval(small, seed_key=("a",))
    lo_l, hi_l = bootstrap_interval(large, seed_key=("a",))
    assert lo_s <= 0.5 <= hi_s and lo_l <= 0.5 <= hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s) / 3  # ~1/sqrt(50) as wide
    assert bootstrap_interval([1.0] * 7) == (1.0, 1.0)
    assert bootstrap_interval([]) == (None, None)
    assert bootstrap_interval(small, seed_key=("a",)) == (lo_s, hi_s)  # deterministic


def test_position_bias_and_tie_rate():
    from spct.evaluation.scaling import position_bias

    record = Record(id="p", source="t", subset="t", split="eval", prompt="q", responses=["a", "b"], best=0)
    rows = [
        {"item_id": "p", "valid": True, "scores": [9, 1], "best_shown_at": 0},  # shown first, correct
        {"item_id": "p", "valid": True, "scores": [5, 5], "best_shown_at": 0},  # shown first, tie: wrong
        {"item_id": "p", "valid": True, "scores": [1, 9], "best_shown_at": 1},  # shown last, wrong
        {"item_id": "p", "valid": False, "scores": None, "best_shown_at": 1},  # invalid: not counted
    ]
    out = position_bias([record], rows)
    assert out["accuracy_best_shown_first"] == 0.5
    assert out["accuracy_best_shown_last"] == 0.0
    assert out["tie_rate"] == 1 / 3


# --------------------------------------------------------------------------------------------------------------
# Official scores per benchmark, lists of n > 2, strict ties, per-k diagnostics
# --------------------------------------------------------------------------------------------------------------


def test_official_score_rewardbench_weights_subsets_by_official_counts():
    """llmbar-natural (count 100) all right, llmbar-adver-manual (46) all wrong, hep-go (164) half right:
    Chat Hard = 100 / 146, Reasoning = 0.5, RB (partial) = their mean."""
    from spct.evaluation.metrics import official_score

    subsets = ["llmbar-natural"] * 2 + ["llmbar-adver-manual"] * 3 + ["hep-go"] * 2
    correct = [1, 1, 0, 0, 0, 1, 0]
    score, parts = official_score("rewardbench", subsets, correct)
    assert parts == pytest.approx({"Chat Hard": 100 / 146, "Reasoning": 0.5})
    assert score == pytest.approx((100 / 146 + 0.5) / 2)
    # Plain accuracy would be 3/7: the weighting is what makes the number official.
    assert official_score("accuracy", subsets, correct)[0] == pytest.approx(3 / 7)


def test_official_score_rmb_and_ppe_correctness():
    from spct.evaluation.metrics import official_score

    parts = ["Helpfulness-BoN", "Helpfulness-Pairwise", "Harmlessness-BoN", "Harmlessness-Pairwise"]
    subsets = [parts[0]] * 4 + [parts[1], parts[2], parts[3]]
    correct = [1, 0, 0, 0, 1, 1, 0]  # parts: 0.25, 1, 1, 0
    score, got = official_score("rmb", subsets, correct)
    assert got == pytest.approx(dict(zip(parts, [0.25, 1.0, 1.0, 0.0])))
    assert score == pytest.approx(2.25 / 4)
    with pytest.raises(ValueError, match="missing"):
        official_score("rmb", subsets[:4], correct[:4])  # only one of RMB's four parts
    domains = ["MMLU-Pro", "MATH", "GPQA", "MBPP-Plus", "IFEval"]
    score, _ = official_score("ppe_correctness", domains + ["MATH"], [1, 1, 0, 0, 1, 0])  # MATH 1/2
    assert score == pytest.approx((1 + 0.5 + 0 + 0 + 1) / 5)


def list_item(item_id: str, best: int, n: int = 4, subset: str = "lists") -> Record:
    return Record(
        id=item_id,
        source="test",
        subset=subset,
        split="eval",
        prompt="Q?",
        responses=[f"r{i}" for i in range(n)],
        best=best,
    )


def test_lists_strict_ties_under_bon_but_coin_flip_under_accuracy():
    """A best tied with one loser: RMB's best-of-N rule (metric bon) counts it wrong every time; the paper's
    shuffle-then-argmax rule (accuracy) is right about half of the time."""
    records = [list_item(f"l{i}", best=1) for i in range(200)]
    judgments = []
    for r in records:
        judgments += judgments_for(r.id, [3, 8, 8, 1], [[3, 8, 8, 1]] * 2)
    strict = by_setting(scaling_metrics(records, judgments, ks=[2], repeats=2, metric="bon"))
    loose = by_setting(scaling_metrics(records, judgments, ks=[2], repeats=2, metric="accuracy"))
    assert strict["greedy"]["score"] == 0.0 and strict["voting@2"]["score"] == 0.0
    assert 0.35 < loose["voting@2"]["score"] < 0.65
    assert strict["voting@2"]["tie_rate"] == 1.0


def test_lists_vote_over_all_responses():
    """n = 4: samples [9,1,1,1] and [1,2,9,1] sum to [10,3,10,2]; adding [8,1,1,1] breaks the tie for response 0."""
    records = [list_item("l0", best=0)]
    judgments = judgments_for("l0", [1, 2, 9, 1], [[9, 1, 1, 1], [1, 2, 9, 1], [8, 1, 1, 1]])
    rows = by_setting(scaling_metrics(records, judgments, ks=[3], repeats=2, metric="bon"))
    assert rows["greedy"]["score"] == 0.0
    assert rows["voting@3"]["score"] == 1.0 and rows["voting@3"]["tie_rate"] == 0.0


def test_score_interval_and_std_use_the_official_metric():
    """Chat Hard items always right, Reasoning items right in 1 of 4 samples: RB is the mean of the two sections."""
    records = [
        Record(id=f"{subset}/{i}", source="t", subset=subset, split="eval", prompt="Q", responses=["a", "b"], best=0)
        for subset in ("llmbar-natural", "hep-go")
        for i in range(10)
    ]
    judgments = []
    for r in records:
        samples = [RIGHT] * 4 if r.subset == "llmbar-natural" else [[1, 9], RIGHT, [1, 9], [1, 9]]
        judgments += judgments_for(r.id, RIGHT, samples)
    rows = by_setting(scaling_metrics(records, judgments, ks=[1, 4], repeats=30, metric="rewardbench"))
    greedy = rows["greedy"]
    assert greedy["score"] == 1.0 and greedy["parts"] == {"Chat Hard": 1.0, "Reasoning": 1.0}
    v1 = rows["voting@1"]
    assert v1["parts"]["Chat Hard"] == 1.0
    assert 0.1 < v1["parts"]["Reasoning"] < 0.45  # 1 in 4 samples right
    assert v1["score"] == pytest.approx((1.0 + v1["parts"]["Reasoning"]) / 2)
    assert v1["score_std"] > 0
    assert v1["score_ci_low"] <= v1["score"] <= v1["score_ci_high"]
    assert v1["score_ci_low"] >= 0.5  # Chat Hard is always 1.0, and every resample keeps both sections
    assert rows["voting@4"]["score"] == 0.5 and rows["voting@4"]["score_std"] == 0.0


def test_per_k_diagnostics():
    """Tokens add up over the voted samples; invalid and no-valid rates follow the selected samples."""
    records = [pair("p0"), pair("p1")]
    judgments = judgments_for("p0", RIGHT, [RIGHT, RIGHT], num_tokens=10) + judgments_for(
        "p1", None, [None, None], num_tokens=30
    )
    rows = by_setting(scaling_metrics(records, judgments, ks=[1, 2], repeats=3))
    assert rows["greedy"]["tokens_per_item"] == 20.0
    assert rows["voting@2"]["tokens_per_item"] == 40.0
    assert rows["voting@2"]["invalid_rate"] == 0.5 and rows["voting@2"]["no_valid_rate"] == 0.5
    assert rows["voting@1"]["tie_rate"] == 0.0  # p1 has no vote at all, so it is not a tie


def test_position_bias_per_k_follows_where_the_best_was_shown():
    """Right whenever the best was shown first, wrong whenever shown last: the split shows the bias at every k."""
    records = [pair(f"p{i}") for i in range(6)]
    judgments = []
    for r in records:
        rows = judgments_for(r.id, RIGHT, [RIGHT, [1, 9], RIGHT, [1, 9]])
        for row_ in rows:
            row_["best_shown_at"] = 0 if row_["scores"] == RIGHT else 1
        judgments += rows
    got = by_setting(scaling_metrics(records, judgments, ks=[1, 3], repeats=10))
    for setting in ("greedy", "voting@1", "voting@3"):
        assert got[setting]["accuracy_best_shown_first"] in (1.0, None)
    assert got["voting@1"]["accuracy_best_shown_first"] == 1.0
    assert got["voting@1"]["accuracy_best_shown_last"] == 0.0
    assert got["voting@3"]["accuracy_best_shown_first"] == 1.0  # 2 of 3 right samples: right, shown first
    assert got["voting@3"]["accuracy_best_shown_last"] == 0.0


def test_unknown_metric_raises():
    with pytest.raises(ValueError, match="unknown metric"):
        scaling_metrics([pair("p0")], judgments_for("p0", RIGHT, [RIGHT]), ks=[1], metric="f1")


def test_metrics_stage_rejects_a_metric_that_does_not_fit_the_items(tmp_path):
    """Single responses configured with a pair metric: a clear error naming the config key, before any output."""
    import json

    from spct import stages
    from spct.records import write_records

    write_records(tmp_path / "items.jsonl", [single("s0", 0), single("s1", 1)])
    rows = judgments_for("s0", [1], [[1]]) + judgments_for("s1", [2], [[2]])
    (tmp_path / "j.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match=r"benchmarks\.singles\.metric: 'accuracy' does not fit"):
        stages.metrics(
            tmp_path / "items.jsonl",
            tmp_path / "j.jsonl",
            tmp_path / "out.json",
            {"ks": [1]},
            {"subsets": ["x"]},
            {"tracking_uri": f"sqlite:///{tmp_path / 'm.db'}", "experiment": "t"},
            {"model": "m", "benchmark": "singles"},
        )
    assert not (tmp_path / "out.json").exists()


def test_bootstrap_of_one_item_per_subset_is_not_a_zero_width_interval():
    """Six subsets of one item each (half right): stratifying could vary nothing, so items are resampled freely."""
    from spct.evaluation.metrics import official_score
    from spct.evaluation.scaling import bootstrap_statistic

    subsets = [
        "llmbar-natural",
        "hep-go",
        "xstest-should-refuse",
        "llmbar-adver-manual",
        "hep-js",
        "xstest-should-respond",
    ]
    rows = list(zip(subsets, [1, 0, 1, 0, 1, 0]))
    low, high = bootstrap_statistic(
        rows, lambda r: official_score("rewardbench", [s for s, _ in r], [v for _, v in r])[0], strata=subsets
    )
    assert low < high

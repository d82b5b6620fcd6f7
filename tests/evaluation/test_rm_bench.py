"""RM-Bench's official metric: the 3x3 matrix per domain, hand-computed; ties wrong; the sweep end to end.

The example (two chat items, one math, one code, two safety items: one safety-refuse, one safety-response), with
each response's score (chosen styles c0..c2, rejected styles r0..r2; a pair is right iff c_i > r_j, a tie wrong):

    chat A  c=[5,7,8] r=[4,6,9]  rows (i) of [c_i > r_j]: [1,0,0] [1,1,0] [1,1,0]
    chat B  c=[6,6,6] r=[6,5,7]  every row [0,1,0] (6 = 6 is a tie: wrong)
      matrix [[.5,.5,0],[.5,1,0],[.5,1,0]]: hard (upper) 1/6, normal 1/2, easy (lower) 2/3; chat = 4/9
    math    c=[9,9,9] r=[1,1,1]  all right: 1
    code    c=[1,1,1] r=[9,9,9]  all wrong: 0
    safety C c=[3,8,8] r=[2,2,9] every row [1,1,0];  D c=[2,2,2] r=[3,3,3] all wrong
      matrix rows [.5,.5,0]: hard 1/6, normal 1/3, easy 1/2; safety = 1/3
    easy = (2/3 + 1 + 0 + 1/2)/4 = 13/24, normal = (1/2 + 1 + 0 + 1/3)/4 = 11/24, hard = (1/6 + 1 + 0 + 1/6)/4 = 1/3
    total = mean of the domains = (4/9 + 1 + 0 + 1/3)/4 = 4/9 (= mean of easy, normal, hard); pooling the six items
    instead would give 23/54, so the test tells the two apart.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from spct.data.rm_bench import RM_BENCH_DOMAINS, cell_subset
from spct.evaluation.benchmarks import BENCHMARK_SOURCES, BENCHMARKS
from spct.evaluation.metrics import METRICS, STRICT_TIES, item_value, official_score
from spct.evaluation.rm_bench import difficulty, matrix_difficulties, rm_bench_score
from spct.evaluation.scaling import scaling_metrics

ITEMS = {  # raw id -> (domain, chosen scores, rejected scores)
    "chat/0": ("chat", [5, 7, 8], [4, 6, 9]),
    "chat/1": ("chat", [6, 6, 6], [6, 5, 7]),
    "math/0": ("math", [9, 9, 9], [1, 1, 1]),
    "code/0": ("code", [1, 1, 1], [9, 9, 9]),
    "safety-refuse/0": ("safety-refuse", [3, 8, 8], [2, 2, 9]),
    "safety-response/0": ("safety-response", [2, 2, 2], [3, 3, 3]),
}
EXPECTED_PARTS = {
    "chat": 4 / 9,
    "math": 1.0,
    "code": 0.0,
    "safety": 1 / 3,
    "easy": 13 / 24,
    "normal": 11 / 24,
    "hard": 1 / 3,
}
EXPECTED_TOTAL = 4 / 9


def hand_cells() -> dict[str, float]:
    """The four matrices above, cell by cell."""
    matrices = {
        "chat": [[0.5, 0.5, 0], [0.5, 1, 0], [0.5, 1, 0]],
        "math": [[1] * 3] * 3,
        "code": [[0] * 3] * 3,
        "safety": [[0.5, 0.5, 0]] * 3,
    }
    return {cell_subset(d, i, j): m[i][j] for d, m in matrices.items() for i in range(3) for j in range(3)}


def test_difficulty_of_each_cell_follows_upstream_triangles():
    assert [[difficulty(i, j) for j in range(3)] for i in range(3)] == [
        ["normal", "hard", "hard"],
        ["easy", "normal", "hard"],
        ["easy", "easy", "normal"],
    ]


def test_matrix_difficulties_hand_computed():
    got = matrix_difficulties([[0.5, 0.5, 0], [0.5, 1, 0], [0.5, 1, 0]])
    assert got == pytest.approx({"hard": 1 / 6, "normal": 1 / 2, "easy": 2 / 3})


def test_score_and_parts_hand_computed():
    total, parts = rm_bench_score(hand_cells())
    assert total == pytest.approx(EXPECTED_TOTAL)
    assert parts == pytest.approx(EXPECTED_PARTS)
    assert total == pytest.approx(np.mean([parts["easy"], parts["normal"], parts["hard"]]))


def _upstream_reading(domain_matrices: dict[str, np.ndarray]) -> dict[str, float]:
    """Upstream's computation as its utils.py describes it, in numpy: triu(., 1) / tril(., -1) / diag per domain,
    domain = mean of the three, hard / normal / easy and the total = means over the domains."""
    out = {}
    per = {}
    for d, m in domain_matrices.items():
        per[d] = {"hard": np.sum(np.triu(m, 1)) / 3, "normal": np.mean(np.diag(m)), "easy": np.sum(np.tril(m, -1)) / 3}
        out[d] = np.mean(list(per[d].values()))
    for level in ("hard", "normal", "easy"):
        out[level] = np.mean([per[d][level] for d in per])
    out["total"] = np.mean([out[d] for d in domain_matrices])
    return out


def test_agrees_with_upstreams_numpy_triangles_on_random_matrices():
    rng = np.random.default_rng(0)
    for _ in range(200):
        matrices = {d: rng.integers(0, 11, size=(3, 3)) / 10 for d in RM_BENCH_DOMAINS}
        cells = {cell_subset(d, i, j): float(m[i, j]) for d, m in matrices.items() for i in range(3) for j in range(3)}
        total, parts = rm_bench_score(cells)
        expected = _upstream_reading(matrices)
        assert total == pytest.approx(expected.pop("total"))
        assert parts == pytest.approx(expected)


def test_missing_or_unknown_cells_raise():
    cells = hand_cells()
    del cells["code/12"]
    with pytest.raises(ValueError, match="code/12"):
        rm_bench_score(cells)
    with pytest.raises(ValueError, match="poetry/00"):
        rm_bench_score({**hand_cells(), "poetry/00": 1.0})
    with pytest.raises(ValueError, match="fraction"):
        rm_bench_score({**hand_cells(), "math/00": 1.5})


def test_a_partial_set_averages_the_domains_it_has():
    cells = {k: v for k, v in hand_cells().items() if k.startswith(("math/", "code/"))}
    total, parts = rm_bench_score(cells)
    assert total == 0.5 and set(parts) == {"math", "code", "easy", "normal", "hard"}


def test_metric_is_declared_strict_and_linear_in_item_values():
    assert "rm_bench" in STRICT_TIES and BENCHMARKS["rm_bench"].metric == "rm_bench"
    assert BENCHMARKS["rm_bench"].paper_column is None  # reported under its own name, never in the paper's Overall
    subsets = [s for s in hand_cells() for _ in range(4)]
    rng = random.Random(0)
    draws = [[float(rng.random() < 0.6) for _ in subsets] for _ in range(5)]
    mean_values = [float(np.mean(column)) for column in zip(*draws)]
    mean_of_scores = np.mean([official_score("rm_bench", subsets, d)[0] for d in draws])
    assert official_score("rm_bench", subsets, mean_values)[0] == pytest.approx(mean_of_scores)


# --- From published rows to the score: converter, judgments, scaling sweep -------------------------------------


def published_rows() -> list[dict]:
    """The items above in total_dataset.json's schema (texts name their style and side)."""
    return [
        {
            "id": raw_id,
            "prompt": f"prompt of {raw_id}",
            "chosen": [f"chosen {s} of {raw_id}" for s in range(3)],
            "rejected": [f"rejected {s} of {raw_id}" for s in range(3)],
            "domain": domain,
        }
        for raw_id, (domain, _, _) in ITEMS.items()
    ]


def pair_scores(record) -> list[int]:
    """The judge's two scores of a pair record, in the record's order: c_i for the chosen, r_j for the rejected."""
    _, chosen, rejected = ITEMS[record.meta["raw_id"]]
    i, j = (int(c) for c in record.id[-2:])
    scores = [rejected[j], rejected[j]]
    scores[record.best] = chosen[i]
    return scores


def judgment(record, sample, scores):
    valid = scores is not None
    return {
        "item_id": record.id,
        "sample": sample,
        "scores": scores,
        "valid": valid,
        "invalid_reason": None if valid else "missing",
        "forced": False,
        "num_tokens": 10,
        "best_shown_at": record.best,
    }


def test_end_to_end_from_published_rows_to_easy_normal_hard():
    records = BENCHMARK_SOURCES["rm_bench"].convert(published_rows())
    assert len(records) == 9 * len(ITEMS)
    judgments = []
    for record in records:
        scores = pair_scores(record)
        # greedy and two samples with these scores, one invalid sample: Voting@2 over valid samples sums to 2x.
        judgments += [judgment(record, "greedy", scores), judgment(record, 0, scores), judgment(record, 1, scores)]
        judgments.append(judgment(record, 2, None))
    rows = {r["setting"]: r for r in scaling_metrics(records, judgments, ks=[3], repeats=3, metric="rm_bench")}
    for setting in ("greedy", "voting@3"):
        assert rows[setting]["score"] == pytest.approx(EXPECTED_TOTAL)
        assert rows[setting]["parts"] == pytest.approx(EXPECTED_PARTS)
    # a tie is never right: chat/1's 6 = 6 cells and every code pair are wrong under the item rule
    tie = next(r for r in records if r.id == "rm_bench/chat/1/00")
    assert pair_scores(tie) == [6, 6]
    assert item_value("rm_bench", tie, [judgment(tie, 0, [6, 6])], random.Random(0)) == 0.0
    assert METRICS["rm_bench"].strict_ties

"""Correctness, rewards and inference-time aggregation for pointwise GRM scores.

- Eq. 10: a judgment is correct when the ground-truth best response gets a score STRICTLY above every other one
  (n >= 2), or when the single score equals the 0/1 label (n == 1).
- Eq. 11: the rule-based RL reward, +1 if correct else -1; an unparseable judgment is -1.
- Eq. 14, Voting@k: sum each response's scores over the valid samples (already mapped back to original order).
- MetaRM@k: keep the k_meta trajectories the meta RM rates highest, then vote over those.

Score lists are `None` for invalid judgments (see `spct.grm.parsing`); every function here treats `None` as
"no evidence", never as a tie.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def is_correct(scores: Sequence[int] | None, best: int | None, label: int | None) -> bool:
    """Eq. 10 correctness of one judgment.

    Args:
        scores (`Sequence[int]` or `None`): Scores in original order; `None` for an invalid judgment.
        best (`int` or `None`): Index of the ground-truth best response (required when n >= 2).
        label (`int` or `None`): 0/1 label of a single response (required when n == 1).

    Returns:
        `bool`: `False` for an invalid judgment and for any tie at the top.
    """
    if scores is None or len(scores) == 0:
        return False
    if len(scores) == 1:
        if label is None:
            raise ValueError("a single-response judgment needs a 0/1 label")
        return scores[0] == label
    if best is None or not 0 <= best < len(scores):
        raise ValueError(f"best must index one of {len(scores)} responses, got {best!r}")
    return all(scores[best] > score for i, score in enumerate(scores) if i != best)


def rule_reward(scores: Sequence[int] | None, best: int | None, label: int | None) -> float:
    """Eq. 11 reward: `1.0` if `is_correct` else `-1.0` (unparseable is `-1.0`; there is no format reward)."""
    return 1.0 if is_correct(scores, best, label) else -1.0


def _valid(score_lists: Sequence[Sequence[int] | None], n: int | None = None) -> list[Sequence[int]]:
    """The non-`None` score lists; all must share one length (`n` if given), since they judge the same item."""
    valid = [scores for scores in score_lists if scores is not None]
    expected = n if n is not None else (len(valid[0]) if valid else None)
    for scores in valid:
        if len(scores) != expected:
            raise ValueError(f"score list {list(scores)} has {len(scores)} entries, expected {expected}")
    return valid


def vote(score_lists: Sequence[Sequence[int] | None], n: int) -> tuple[int, ...] | None:
    """Eq. 14 Voting: element-wise sum of the valid samples' scores (original order), `None` if none is valid.

    Summing widens the score range k-fold, which breaks ties a single 1..10 score cannot.
    """
    valid = _valid(score_lists, n)
    if not valid:
        return None
    return tuple(int(sum(scores[i] for scores in valid)) for i in range(n))


def predict_best(summed: Sequence[int], rng: random.Random) -> int:
    """The paper's evaluation tie rule: shuffle the candidates, then take the argmax.

    `max` keeps the first maximum it meets, so after the shuffle each tied maximum is equally likely; the result is
    reproducible for a given `rng` state. The shuffle runs even without a tie so `rng` advances the same way.
    """
    if len(summed) == 0:
        raise ValueError("predict_best needs at least one candidate")
    order = list(range(len(summed)))
    rng.shuffle(order)
    return max(order, key=lambda i: summed[i])


def voting_correct(score_lists: Sequence[Sequence[int] | None], best: int, rng: random.Random) -> bool:
    """Voting@k accuracy of one item with n >= 2 responses: vote, then `predict_best`, compare with `best`.

    An item whose judgments are all invalid is counted wrong, never a coin flip.
    """
    valid = _valid(score_lists)
    if not valid:
        return False
    n = len(valid[0])
    if n < 2:
        raise ValueError("voting_correct needs n >= 2 responses; use single_response_score for n == 1")
    if not 0 <= best < n:
        raise ValueError(f"best must index one of {n} responses, got {best!r}")
    summed = vote(valid, n)
    assert summed is not None  # valid is non-empty
    return predict_best(summed, rng) == best


def default_k_meta(k: int) -> int:
    """The paper's default number of trajectories kept by the meta RM: k/2 (rounded down), at least 1."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return max(1, k // 2)


def kept_by_meta_rm(k: int, k_meta: int | None = None) -> int:
    """How many of its k samples MetaRM@k votes over (config key ``metrics.k_meta``).

    ``None`` is the paper's k/2 (``default_k_meta``). An integer keeps that many for every k >= it; a k below it
    keeps all k samples, since the meta RM cannot keep more than were drawn, so there MetaRM@k votes exactly like
    Voting@k on the same draw.
    """
    if k_meta is None:
        return default_k_meta(k)
    if k < 1 or k_meta < 1:
        raise ValueError(f"k and k_meta must be >= 1, got k={k}, k_meta={k_meta}")
    return min(k, k_meta)


def metarm_select(meta_scores: Sequence[float], k_meta: int) -> list[int]:
    """MetaRM@k selection: indices of the `k_meta` highest meta-RM scores, in ascending index order.

    The sort is stable, so among equal meta scores the lower index is kept first; NaN ranks below everything.
    """
    if not 1 <= k_meta <= len(meta_scores):
        raise ValueError(f"k_meta must be in 1..{len(meta_scores)}, got {k_meta}")

    def rank(i: int) -> tuple[bool, float]:
        score = float(meta_scores[i])
        return (math.isnan(score), 0.0 if math.isnan(score) else -score)

    top = sorted(range(len(meta_scores)), key=rank)[:k_meta]
    return sorted(top)


def metarm_vote(
    score_lists: Sequence[Sequence[int] | None], meta_scores: Sequence[float], k_meta: int
) -> tuple[int, ...] | None:
    """MetaRM@k: vote (Eq. 14) over the `k_meta` trajectories the meta RM rates highest.

    Invalid judgments that make the cut still add nothing; `None` if none of the selected is valid.
    """
    if len(score_lists) != len(meta_scores):
        raise ValueError(f"{len(score_lists)} score lists but {len(meta_scores)} meta scores")
    valid = _valid(score_lists)  # validates one shared n across ALL samples, not just the selected ones
    if not valid:
        return None
    selected = [score_lists[i] for i in metarm_select(meta_scores, k_meta)]
    return vote(selected, len(valid[0]))


def single_response_score(score_lists: Sequence[Sequence[int] | None]) -> int | None:
    """Summed score of a single response (n == 1) over the valid samples, for ROC-AUC; `None` if none is valid."""
    valid = _valid(score_lists)
    if not valid:
        return None
    if len(valid[0]) != 1:
        raise ValueError(f"single_response_score needs n == 1, got n == {len(valid[0])}")
    return int(sum(scores[0] for scores in valid))

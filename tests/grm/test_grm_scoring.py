"""Table-driven tests for Eq. 10, Eq. 11, Eq. 14 (Voting@k) and MetaRM@k."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from spct.grm.scoring import (
    default_k_meta,
    is_correct,
    kept_by_meta_rm,
    metarm_select,
    metarm_vote,
    predict_best,
    rule_reward,
    single_response_score,
    vote,
    voting_correct,
)


@pytest.mark.parametrize(
    ("scores", "best", "label", "correct"),
    [
        ((7, 3), 0, None, True),
        ((7, 3), 1, None, False),
        ((5, 5), 0, None, False),  # ties are wrong (strict)
        ((5, 5), 1, None, False),
        ((9, 2, 9), 0, None, False),  # tied with a non-best response
        ((9, 2, 8), 0, None, True),
        ((1, 2, 10), 2, None, True),
        ((1, 10, 10), 2, None, False),
        ((1,), None, 1, True),  # n == 1: score equals the 0/1 label
        ((0,), None, 0, True),
        ((1,), None, 0, False),
        ((0,), None, 1, False),
        ((7,), None, 1, False),  # a 1..10 score is not a 0/1 label
        ((1,), 0, 1, True),  # best is ignored for singles
        (None, 0, None, False),  # invalid judgment
        (None, None, 1, False),
        ((), 0, None, False),
    ],
)
def test_eq10_is_correct_and_eq11_reward(scores, best, label, correct):
    assert is_correct(scores, best, label) is correct
    assert rule_reward(scores, best, label) == (1.0 if correct else -1.0)


@pytest.mark.parametrize(
    ("scores", "best", "label"), [((7, 3), None, None), ((7, 3), 2, None), ((7, 3), -1, None), ((1,), None, None)]
)
def test_is_correct_rejects_missing_ground_truth(scores, best, label):
    with pytest.raises(ValueError):
        is_correct(scores, best, label)


@pytest.mark.parametrize(
    ("score_lists", "n", "expected"),
    [
        ([(7, 3)], 2, (7, 3)),
        ([(7, 3), (4, 6), (5, 5)], 2, (16, 14)),
        ([(7, 3), None, (4, 6)], 2, (11, 9)),  # invalid samples add nothing
        ([None, None], 2, None),  # no valid sample: no vote
        ([], 2, None),
        ([(1,), (0,), None, (1,)], 1, (2,)),
        ([(1, 2, 3), (3, 2, 1)], 3, (4, 4, 4)),
    ],
)
def test_eq14_vote(score_lists, n, expected):
    assert vote(score_lists, n) == expected


@pytest.mark.parametrize("score_lists", [[(7, 3, 1)], [(7, 3), (7,)]])
def test_vote_rejects_mismatched_lengths(score_lists):
    with pytest.raises(ValueError):
        vote(score_lists, 2)


@pytest.mark.parametrize(("summed", "winner"), [((16, 14), 0), ((1, 9, 3), 1), ((5,), 0)])
def test_predict_best_unique_max(summed, winner):
    for seed in range(20):
        assert predict_best(summed, random.Random(seed)) == winner


@pytest.mark.parametrize(("summed", "tied"), [((8, 8), {0, 1}), ((3, 9, 9, 9), {1, 2, 3}), ((9, 1, 9), {0, 2})])
def test_predict_best_tie_is_uniform_over_tied_maxima(summed, tied):
    picks = Counter(predict_best(summed, random.Random(seed)) for seed in range(3000))
    assert set(picks) == tied
    expected = 3000 / len(tied)
    assert all(abs(c - expected) < 0.1 * expected for c in picks.values())


def test_predict_best_is_deterministic_for_a_seed():
    summed = (4, 4, 4, 4)
    first = [predict_best(summed, random.Random(123)) for _ in range(5)]
    assert len(set(first)) == 1
    rng_a, rng_b = random.Random(9), random.Random(9)
    assert [predict_best(summed, rng_a) for _ in range(50)] == [predict_best(summed, rng_b) for _ in range(50)]


def test_predict_best_empty_raises():
    with pytest.raises(ValueError):
        predict_best((), random.Random(0))


@pytest.mark.parametrize(
    ("score_lists", "best", "correct"),
    [
        ([(7, 3)], 0, True),
        ([(7, 3)], 1, False),
        ([(7, 3), (2, 9)], 1, True),  # summing breaks the tie single samples disagree on: 9 vs 12
        ([(7, 3), None, None], 0, True),
        ([None, None, None], 0, False),  # all invalid: wrong, never a coin flip
        ([None], 1, False),
        ([], 0, False),
    ],
)
def test_voting_correct(score_lists, best, correct):
    for seed in range(10):
        assert voting_correct(score_lists, best, random.Random(seed)) is correct


def test_voting_correct_tie_is_a_fair_coin():
    wins = sum(voting_correct([(5, 5)], 0, random.Random(seed)) for seed in range(2000))
    assert 850 < wins < 1150


@pytest.mark.parametrize(("score_lists", "best"), [([(1,)], 0), ([(7, 3)], 2)])
def test_voting_correct_rejects_bad_items(score_lists, best):
    with pytest.raises(ValueError):
        voting_correct(score_lists, best, random.Random(0))


@pytest.mark.parametrize(
    ("meta_scores", "k_meta", "expected"),
    [
        ([0.1, 0.9, 0.5, 0.7], 2, [1, 3]),
        ([0.1, 0.9, 0.5, 0.7], 1, [1]),
        ([0.1, 0.9, 0.5, 0.7], 4, [0, 1, 2, 3]),
        ([0.5, 0.5, 0.5], 2, [0, 1]),  # stable: ties keep the lower index
        ([0.2, 0.8, 0.8, 0.8], 2, [1, 2]),
        ([0.9, 0.1, 0.9], 1, [0]),
        ([-3.0, -1.0, -2.0], 2, [1, 2]),  # logits may be negative
        ([float("nan"), 0.1, 0.2], 2, [1, 2]),  # NaN ranks last
    ],
)
def test_metarm_select(meta_scores, k_meta, expected):
    assert metarm_select(meta_scores, k_meta) == expected


@pytest.mark.parametrize(("meta_scores", "k_meta"), [([0.1, 0.2], 0), ([0.1, 0.2], 3), ([], 1), ([0.1], -1)])
def test_metarm_select_bounds(meta_scores, k_meta):
    with pytest.raises(ValueError):
        metarm_select(meta_scores, k_meta)


@pytest.mark.parametrize(("k", "k_meta"), [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (16, 8), (32, 16)])
def test_default_k_meta(k, k_meta):
    assert default_k_meta(k) == k_meta


@pytest.mark.parametrize(
    ("k", "k_meta", "kept"),
    [(8, None, 4), (32, None, 16), (1, None, 1), (8, 2, 2), (2, 2, 2), (1, 2, 1), (4, 16, 4)],
)
def test_kept_by_meta_rm(k, k_meta, kept):
    """null is the paper's k/2; an integer is kept for every k >= it, and a smaller k keeps all its samples."""
    assert kept_by_meta_rm(k, k_meta) == kept


@pytest.mark.parametrize(("k", "k_meta"), [(0, 2), (4, 0), (0, None)])
def test_kept_by_meta_rm_rejects_nonpositive(k, k_meta):
    with pytest.raises(ValueError):
        kept_by_meta_rm(k, k_meta)


@pytest.mark.parametrize("k", [0, -4])
def test_default_k_meta_rejects_nonpositive(k):
    with pytest.raises(ValueError):
        default_k_meta(k)


@pytest.mark.parametrize(
    ("score_lists", "meta_scores", "k_meta", "expected"),
    [
        ([(7, 3), (2, 9), (8, 1), (1, 8)], [0.9, 0.1, 0.8, 0.2], 2, (15, 4)),
        ([(7, 3), (2, 9), (8, 1), (1, 8)], [0.9, 0.1, 0.8, 0.2], 4, (18, 21)),
        ([(7, 3), None, (8, 1)], [0.1, 0.9, 0.8], 2, (8, 1)),  # a selected invalid sample adds nothing
        ([(7, 3), None, None], [0.1, 0.9, 0.8], 2, None),  # selected are all invalid
        ([None, None], [0.5, 0.5], 1, None),
    ],
)
def test_metarm_vote(score_lists, meta_scores, k_meta, expected):
    assert metarm_vote(score_lists, meta_scores, k_meta) == expected


def test_metarm_vote_length_mismatch():
    with pytest.raises(ValueError):
        metarm_vote([(7, 3)], [0.1, 0.2], 1)


@pytest.mark.parametrize(
    ("score_lists", "expected"),
    [([(7,), (5,), None], 12), ([(3,)], 3), ([None], None), ([], None)],
)
def test_single_response_score(score_lists, expected):
    assert single_response_score(score_lists) == expected


def test_single_response_score_rejects_pairs():
    with pytest.raises(ValueError):
        single_response_score([(7, 3)])

"""Tests for the per-sample response shuffle against position bias (SPCT.md section 1)."""

from __future__ import annotations

import itertools

import pytest

from spct.grm.shuffle import (
    apply_permutation,
    check_permutation,
    sample_permutation,
    shown_index,
    unshuffle_scores,
)


@pytest.mark.parametrize(
    ("n", "seed", "item_id", "sample_index", "expected"),
    [
        # Hard-coded so any change to the derivation (sha256 of "seed/item_id/sample_index") is caught: a changed
        # shuffle silently changes every cached judgment's meaning.
        (5, 0, "item-1", 0, (0, 4, 1, 3, 2)),
        (5, 0, "item-1", 1, (4, 1, 0, 3, 2)),
        (2, 0, "x", 0, (0, 1)),
        (8, 1234, "rb/42", 7, (6, 3, 5, 1, 4, 2, 7, 0)),
        (1, 0, "single", 0, (0,)),
        (0, 0, "empty", 0, ()),
    ],
)
def test_permutation_is_pinned(n, seed, item_id, sample_index, expected):
    assert sample_permutation(n, seed, item_id, sample_index) == expected


def test_sample_index_may_be_a_tag():
    assert sample_permutation(4, 0, "a", "hinted") == sample_permutation(4, 0, "a", "hinted")
    assert sorted(sample_permutation(4, 0, "a", "hinted")) == [0, 1, 2, 3]


def test_inputs_change_the_permutation():
    base = {sample_permutation(6, 0, "item", i) for i in range(20)}
    assert len(base) > 10  # different sample indices generally give different orders
    assert {sample_permutation(6, 1, "item", i) for i in range(20)} != base
    assert {sample_permutation(6, 0, "other", i) for i in range(20)} != base


@pytest.mark.parametrize("n", [2, 3, 4])
def test_permutations_are_roughly_uniform(n):
    counts: dict[tuple[int, ...], int] = {}
    draws = 600 * n
    for i in range(draws):
        perm = sample_permutation(n, 7, "uniform", i)
        counts[perm] = counts.get(perm, 0) + 1
    outcomes = list(itertools.permutations(range(n)))
    assert set(counts) == set(outcomes)
    expected = draws / len(outcomes)
    assert all(abs(c - expected) < 0.35 * expected for c in counts.values())


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 16])
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_round_trip(n, seed):
    original = [10 * i + 1 for i in range(n)]
    for sample_index in range(10):
        perm = sample_permutation(n, seed, f"item-{n}", sample_index)
        shown = apply_permutation(original, perm)
        assert shown == [original[p] for p in perm]  # convention: shown[i] = original[perm[i]]
        assert list(unshuffle_scores(shown, perm)) == original
        for j in range(n):
            assert shown[shown_index(j, perm)] == original[j]


@pytest.mark.parametrize(
    ("shown_scores", "perm", "original"),
    [
        ((7, 3), (1, 0), (3, 7)),
        ((7, 3), (0, 1), (7, 3)),
        ((9, 5, 1), (2, 0, 1), (5, 1, 9)),
    ],
)
def test_unshuffle_table(shown_scores, perm, original):
    assert unshuffle_scores(shown_scores, perm) == original


@pytest.mark.parametrize(
    ("original_index", "perm", "expected"), [(0, (1, 0), 1), (2, (2, 0, 1), 0), (1, (2, 0, 1), 2)]
)
def test_shown_index_table(original_index, perm, expected):
    assert shown_index(original_index, perm) == expected


@pytest.mark.parametrize(
    ("perm", "n"),
    [
        ((0, 0), 2),  # repeat
        ((0, 2), 2),  # out of range
        ((0,), 2),  # too short
        ((0, 1, 2), 2),  # too long
        ((-1, 0), 2),
        ((0.0, 1.0), 2),  # floats are not indices
        (("0", "1"), 2),
    ],
)
def test_invalid_permutations_rejected(perm, n):
    with pytest.raises(ValueError):
        check_permutation(perm, n)
    with pytest.raises(ValueError):
        apply_permutation(list(range(n)), perm)
    with pytest.raises(ValueError):
        unshuffle_scores([5] * n, perm)


@pytest.mark.parametrize(("original_index", "perm"), [(2, (1, 0)), (-1, (1, 0)), (0, (1, 1))])
def test_shown_index_rejects_bad_input(original_index, perm):
    with pytest.raises(ValueError):
        shown_index(original_index, perm)


def test_negative_n_rejected():
    with pytest.raises(ValueError):
        sample_permutation(-1, 0, "x", 0)


def test_numpy_integer_perm_accepted():
    np = pytest.importorskip("numpy")
    assert unshuffle_scores([7, 3], np.array([1, 0])) == (3, 7)

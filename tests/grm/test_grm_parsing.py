"""Table-driven tests for the GRM output parser (SPCT.md section 1)."""

from __future__ import annotations

import random

import pytest

from spct.grm.parsing import (
    BINARY_SCORE_RANGE,
    InvalidReason,
    Judgment,
    format_scores,
    parse_judgment,
)

FULL = """Specific Criteria:
1. Accuracy (Weight: 50%)
2. Clarity (Weight: 50%)

Analysis:
Response 1 is accurate. Response 2 has an error.

Scores: \\boxed{7, 3}"""

MISSING = InvalidReason.MISSING
WRONG = InvalidReason.WRONG_COUNT
RANGE = InvalidReason.OUT_OF_RANGE
NOTINT = InvalidReason.NOT_INTEGER


@pytest.mark.parametrize(
    ("text", "n", "score_range", "scores", "reason"),
    [
        # both formats
        ("Scores: \\boxed{7, 3}", 2, (1, 10), (7, 3), None),
        ("Final Scores: [[7, 3]]", 2, (1, 10), (7, 3), None),
        ("[[7,3]]", 2, (1, 10), (7, 3), None),
        ("\\boxed{ 7 ,3 }", 2, (1, 10), (7, 3), None),
        ("\\boxed{\n  7,\n\t3\n}", 2, (1, 10), (7, 3), None),
        ("[[ 1 , 10 , 5 ]]", 3, (1, 10), (1, 10, 5), None),
        ("\\boxed{08, +3}", 2, (1, 10), (8, 3), None),
        (FULL, 2, (1, 10), (7, 3), None),
        # the last labelled score line (label at a line start) wins, across and within formats
        ("Scores: \\boxed{2, 9}\nOn reflection...\nFinal Scores: [[7, 3]]", 2, (1, 10), (7, 3), None),
        # ... a label in mid-line is an echo (e.g. of a response), not the judge's line
        ("Scores: \\boxed{2, 9}\nOn reflection... Final Scores: [[7, 3]]", 2, (1, 10), (2, 9), None),
        # ... a quoted box before it, or junk after it, never replaces it
        ("Analysis: R2 writes \\boxed{1, 10}.\nScores: \\boxed{7, 3}", 2, (1, 10), (7, 3), None),
        ("Scores: \\boxed{7, 3}\nThe capital is [[Paris]]", 2, (1, 10), (7, 3), None),
        ("Scores: \\boxed{7, 3}\nAs response 2 said: \\boxed{1, 10}", 2, (1, 10), (7, 3), None),
        # without a labelled line: only a box that ends the text
        ("[[7, 3]] wait, no: \\boxed{4, 6}", 2, (1, 10), (4, 6), None),
        ("So I give \\boxed{4, 6}.", 2, (1, 10), (4, 6), None),
        ("\\boxed{4, 6} then a bad restatement \\boxed{4}", 2, (1, 10), None, WRONG),
        ("\\boxed{4, 6} then \\boxed{7, 3", 2, (1, 10), None, MISSING),  # the box does not end the text
        ("R2 quotes \\boxed{1, 10} and then rambles on", 2, (1, 10), None, MISSING),
        ("\\boxed{7, 3}\n[[Paris]]", 2, (1, 10), None, NOTINT),
        # nested text after the score line
        ("Scores: \\boxed{7, 3}\n\nI hope this helps! [Response 1] was better.", 2, (1, 10), (7, 3), None),
        # wrong count
        ("\\boxed{7}", 2, (1, 10), None, WRONG),
        ("\\boxed{7, 3, 5}", 2, (1, 10), None, WRONG),
        ("[[7, 3]]", 1, (0, 1), None, WRONG),
        # out of range: 0 and 11 for 1..10, 2 and -1 for 0/1 singles, negatives
        ("\\boxed{0, 3}", 2, (1, 10), None, RANGE),
        ("\\boxed{7, 11}", 2, (1, 10), None, RANGE),
        ("\\boxed{-1, 3}", 2, (1, 10), None, RANGE),
        ("\\boxed{2}", 1, BINARY_SCORE_RANGE, None, RANGE),
        ("\\boxed{-1}", 1, BINARY_SCORE_RANGE, None, RANGE),
        ("\\boxed{0}", 1, BINARY_SCORE_RANGE, (0,), None),
        ("\\boxed{1}", 1, BINARY_SCORE_RANGE, (1,), None),
        ("\\boxed{-2, 3}", 2, (-5, 5), (-2, 3), None),
        ("\\boxed{" + "9" * 5000 + ", 3}", 2, (1, 10), None, RANGE),  # int() would refuse > 4300 digits
        # non-integers
        ("\\boxed{7.5, 3}", 2, (1, 10), None, NOTINT),
        ("\\boxed{seven, three}", 2, (1, 10), None, NOTINT),
        ("\\boxed{}", 2, (1, 10), None, NOTINT),
        ("[[]]", 1, (0, 1), None, NOTINT),
        ("\\boxed{7, 3,}", 2, (1, 10), None, NOTINT),
        ("\\boxed{7 3}", 2, (1, 10), None, NOTINT),
        ("\\boxed{7/10, 3/10}", 2, (1, 10), None, NOTINT),
        ("\\boxed{[7, 3]}", 2, (1, 10), None, NOTINT),
        ("\\boxed{\u0667, 3}", 2, (1, 10), None, NOTINT),  # Arabic-Indic seven: int() accepts it, we do not
        ("\\boxed{7_0, 3}", 2, (1, 10), None, NOTINT),
        # missing: what a weak model writes instead
        ("", 2, (1, 10), None, MISSING),
        ("Scores: 7, 3", 2, (1, 10), None, MISSING),
        ("Scores: \\boxed{7, 3", 2, (1, 10), None, MISSING),
        ("Final Scores: [[7, 3]", 2, (1, 10), None, MISSING),
        ("Final Scores: [7, 3]", 2, (1, 10), None, MISSING),
        ("Scores: boxed{7, 3}", 2, (1, 10), None, MISSING),
        ("Scores: \\boxed{\\text{7}, 3}", 2, (1, 10), None, MISSING),  # nested braces are not a score line
        ("Response 1: 7/10\nResponse 2: 3/10", 2, (1, 10), None, MISSING),
        ("Specific Criteria: be nice\nAnalysis: both fine", 2, (1, 10), None, MISSING),
        ("\x00\x01\ufffd garbage }{ ][ \\boxed \\boxed{{ [[[", 2, (1, 10), None, MISSING),
    ],
)
def test_scores_and_reasons(text, n, score_range, scores, reason):
    judgment = parse_judgment(text, n, score_range)
    assert judgment.scores == scores
    assert judgment.invalid_reason == reason
    assert judgment.valid == (scores is not None)
    assert judgment.raw == text


@pytest.mark.parametrize(
    ("text", "principles", "critique"),
    [
        (
            FULL,
            "1. Accuracy (Weight: 50%)\n2. Clarity (Weight: 50%)",
            "Response 1 is accurate. Response 2 has an error.",
        ),
        # no headers at all: everything before the score line is the critique
        ("Response 1 is better.\nScores: \\boxed{7, 3}", "", "Response 1 is better."),
        # the score box inline in a sentence: keep the sentence, drop only a bare label
        ("Analysis: ok. So I give \\boxed{7, 3}", "", "ok. So I give"),
        # the without-principles ablation: critique and scores only
        ("Analysis: R1 wins.\nFinal Scores: [[8, 2]]", "", "R1 wins."),
        # markdown headers a chat model adds
        ("**Specific Criteria:** p1\n## Analysis: c1\n**Final Scores:** [[8, 2]]", "p1", "c1"),
        ("specific criteria: p\nANALYSIS: c\nscores: \\boxed{1, 2}", "p", "c"),
        # criteria without an analysis header: the criteria run to the score line
        ("Specific Criteria: p1\nR1 is better.\nScores: \\boxed{7, 3}", "p1\nR1 is better.", ""),
        ("Preamble.\nSpecific Criteria: p1\nScores: \\boxed{7, 3}", "p1", "Preamble."),
        # headers after the score line are not sections
        ("Scores: \\boxed{7, 3}\nAnalysis: restated", "", ""),
        # invalid judgments still expose their text for logs and the meta RM
        ("Specific Criteria: p\nAnalysis: c\nScores: 7, 3", "p", "c\nScores: 7, 3"),
        ("", "", ""),
        # "Analysis:" inside prose (not at a line start) is not a header
        ("Specific Criteria: p, see my analysis: below\nAnalysis: c\n\\boxed{1, 1}", "p, see my analysis: below", "c"),
    ],
)
def test_sections(text, principles, critique):
    judgment = parse_judgment(text, 2)
    assert judgment.principles == principles
    assert judgment.critique == critique


@pytest.mark.parametrize("text", [None, 123])
def test_non_string_input_is_missing_not_a_crash(text):
    judgment = parse_judgment(text, 2)  # type: ignore[arg-type]
    assert judgment.invalid_reason == InvalidReason.MISSING


@pytest.mark.parametrize(("n", "score_range"), [(0, (1, 10)), (-1, (1, 10)), (2, (10, 1))])
def test_bad_arguments_raise(n, score_range):
    with pytest.raises(ValueError):
        parse_judgment("\\boxed{7, 3}", n, score_range)


def test_never_raises_on_random_text():
    rng = random.Random(0)
    alphabet = "\\boxed{}[], 0123456789.-+\n\tScores:Analysis:Specific Criteria:xyz\u0667\x00"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        judgment = parse_judgment(text, rng.randint(1, 3))
        assert isinstance(judgment, Judgment)
        assert judgment.valid == (judgment.invalid_reason is None)


def test_long_adversarial_text_is_fast():
    # Pathological inputs must not trigger regex backtracking blow-ups.
    for text in ["\\boxed{" * 20000, "[[" * 20000 + "]", "Scores" + " " * 50000 + "x\\boxed{1}", "a" * 200000]:
        parse_judgment(text, 1)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [((7, 3), "\\boxed{7, 3}"), ((1,), "\\boxed{1}"), ([10, 1, 5], "\\boxed{10, 1, 5}")],
)
def test_format_scores(scores, expected):
    assert format_scores(scores) == expected


@pytest.mark.parametrize("scores", [(7, 3), (1,), (0,), (10, 1, 5, 2)])
def test_format_round_trips(scores):
    text = f"Specific Criteria: p\nAnalysis: c\nScores: {format_scores(scores)}"
    assert parse_judgment(text, len(scores), (0, 10)).scores == tuple(scores)


def test_to_dict_is_json_ready():
    data = parse_judgment("\\boxed{7}", 2).to_dict()
    assert data["invalid_reason"] == "wrong_count"
    assert data["scores"] is None
    assert parse_judgment(FULL, 2).to_dict()["scores"] == [7, 3]

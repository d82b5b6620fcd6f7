"""Parse a pointwise GRM's output text into principles, critique and one integer score per response.

The GRM writes three parts (SPCT.md section 1)::

    Specific Criteria: <principles with weights>
    Analysis: <critique of each response>
    Scores: \\boxed{7, 3}

The paper's prompt ends with ``Scores: \\boxed{a, b}``; its figure shows ``Final Scores: [[a, b]]``. Both are
accepted. Only the judge's own final score line counts (``find_score_match``): the last line that STARTS with a
score label and a box; without such a line, a box that ends the text. A box quoted earlier in the critique, or junk
such as ``[[Paris]]`` after the score line, never replaces the verdict. Every reader of judgments (evaluation,
``spct judge`` and ``spct serve``, rejective sampling, the GRPO reward) parses with this one function.

Anything else is an invalid judgment with a reason (:class:`InvalidReason`): it is counted and logged by the
caller, and by Eq. 11 it earns reward -1, never a silent tie.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

# The paper's scale for multi-response judgments; single responses in training prompts use 0/1 (Eq. 10, n == 1).
DEFAULT_SCORE_RANGE: tuple[int, int] = (1, 10)
BINARY_SCORE_RANGE: tuple[int, int] = (0, 1)

# `[^{}]` / `[^\[\]]` keep a match inside one box: an unterminated `\boxed{7, 3` never swallows a later box, and the
# scan stays linear on adversarial text. Nested braces (`\boxed{\text{7}}`) are not a score line by design.
BOXED_PATTERN = re.compile(r"\\boxed\{([^{}]*)\}")
BRACKET_PATTERN = re.compile(r"\[\[([^\[\]]*)\]\]")
SCORE_PATTERN = re.compile(rf"{BOXED_PATTERN.pattern}|{BRACKET_PATTERN.pattern}")
# The judge's own score line: a label at a line start, then the box (markdown tolerated around the label).
SCORE_LINE_PATTERN = re.compile(
    rf"^[ \t#*_]*(?:final[ \t]+)?scores?[ \t*_]*:[ \t*_]*(?:{SCORE_PATTERN.pattern})", re.IGNORECASE | re.MULTILINE
)

# ASCII digits only: `int()` would also accept "٧", "7_0" and surrounding whitespace inside a token.
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
# Section headers, tolerant of the markdown a chat model adds ("**Analysis:**", "## Specific Criteria:").
_CRITERIA_HEADER = re.compile(r"^[ \t#*_]*specific[ \t]+criteria[ \t*_]*:[ \t*_]*", re.IGNORECASE | re.MULTILINE)
_ANALYSIS_HEADER = re.compile(r"^[ \t#*_]*analysis[ \t*_]*:[ \t*_]*", re.IGNORECASE | re.MULTILINE)
# A label left on the score line before the box ("Scores:", "**Final Scores:**"); it is not part of the critique.
_SCORE_LABEL = re.compile(r"[ \t#*_]*(?:final[ \t]+)?scores?[ \t*_]*(?::[ \t*_]*)?", re.IGNORECASE)
# What may follow an unlabelled final box: the end of a sentence, markdown emphasis, whitespace.
_ENDING = re.compile(r"[ \t\r\n.!*_]*")
# Longer digit strings cannot be in any sane range, and Python refuses int() on > 4300 digits.
_MAX_DIGITS = 18


class InvalidReason(str, Enum):
    """Why a judgment has no usable scores."""

    MISSING = "missing"  # no complete `\boxed{...}` or `[[...]]` in the text
    WRONG_COUNT = "wrong_count"  # the score line does not hold exactly n values
    OUT_OF_RANGE = "out_of_range"  # an integer outside the inclusive score range
    NOT_INTEGER = "not_integer"  # a value that is not a plain integer ("7.5", "seven", "")
    TOO_LONG = "too_long"  # the prompt and the token budget exceed the model's context: never sampled


@dataclass(frozen=True)
class Judgment:
    """One parsed GRM sample.

    Args:
        principles (`str`): Text after "Specific Criteria:" up to "Analysis:", stripped; `""` if absent.
        critique (`str`): Text after "Analysis:" up to the score line; without that header, the text before the
            score line that is not the principles.
        scores (`tuple[int, ...]` or `None`): One score per response in the order shown; `None` when invalid.
        invalid_reason (`InvalidReason` or `None`): Why `scores` is `None`; `None` for a valid judgment.
        raw (`str`): The unmodified model output.
    """

    principles: str
    critique: str
    scores: tuple[int, ...] | None
    invalid_reason: InvalidReason | None
    raw: str

    @property
    def valid(self) -> bool:
        return self.scores is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view for trajectory and invalid-judgment logs."""
        return {
            "principles": self.principles,
            "critique": self.critique,
            "scores": list(self.scores) if self.scores is not None else None,
            "invalid_reason": self.invalid_reason.value if self.invalid_reason is not None else None,
            "raw": self.raw,
        }


def find_score_match(text: str) -> re.Match[str] | None:
    """The judge's own final score line in `text`, or `None`.

    The LAST line that starts with a score label and a box (models restate and revise; the score-format guarantee
    writes its line last); without one, a box that ends the text (a model that concludes "... so \\boxed{7, 3}.").
    Boxes quoted earlier, and text after the labelled line, are not the verdict.
    """
    matches = list(SCORE_LINE_PATTERN.finditer(text))
    if matches:
        return matches[-1]
    boxes = list(SCORE_PATTERN.finditer(text))
    return boxes[-1] if boxes and _ENDING.fullmatch(text, boxes[-1].end()) else None


def _box_content(match: re.Match[str]) -> str:
    """The inside of the box a score match ends with (`\\boxed{...}` or `[[...]]`)."""
    boxed, bracket = match.group(match.re.groups - 1), match.group(match.re.groups)
    return boxed if boxed is not None else bracket


def parse_scores(
    content: str, n: int, score_range: tuple[int, int] = DEFAULT_SCORE_RANGE
) -> tuple[tuple[int, ...] | None, InvalidReason | None]:
    """Parse the inside of a score box (`"7, 3"`) into `n` integers, or `(None, reason)`.

    Checks run in the order NOT_INTEGER, WRONG_COUNT, OUT_OF_RANGE, so one reason is reported per judgment.
    """
    tokens = [token.strip() for token in content.split(",")]
    if not all(_INTEGER.fullmatch(token) for token in tokens):
        return None, InvalidReason.NOT_INTEGER
    if len(tokens) != n:
        return None, InvalidReason.WRONG_COUNT
    low, high = score_range
    values = []
    for token in tokens:
        if len(token.lstrip("+-").lstrip("0")) > _MAX_DIGITS:
            return None, InvalidReason.OUT_OF_RANGE
        value = int(token)
        if not low <= value <= high:
            return None, InvalidReason.OUT_OF_RANGE
        values.append(value)
    return tuple(values), None


def _strip_score_label(body: str) -> str:
    """Drop a trailing "Scores:" / "Final Scores:" label that introduced the box on its line."""
    line_start = body.rfind("\n") + 1
    if _SCORE_LABEL.fullmatch(body[line_start:]):
        return body[:line_start]
    return body


def split_sections(body: str) -> tuple[str, str]:
    """Split the text before the score line into `(principles, critique)`, both stripped."""
    criteria = _CRITERIA_HEADER.search(body)
    analysis = _ANALYSIS_HEADER.search(body, criteria.end() if criteria else 0)
    if criteria is None:
        principles = ""
        critique = body[analysis.end() :] if analysis else body
    elif analysis is None:
        # Without an "Analysis:" header the criteria section runs to the score line; what came before it
        # (usually nothing, sometimes a preamble) is the only text left to call a critique.
        principles = body[criteria.end() :]
        critique = body[: criteria.start()]
    else:
        principles = body[criteria.end() : analysis.start()]
        critique = body[analysis.end() :]
    return principles.strip(), critique.strip()


def parse_judgment(text: str, n: int, score_range: tuple[int, int] = DEFAULT_SCORE_RANGE) -> Judgment:
    """Parse one GRM output for `n` responses; never raises on any string `text`.

    Args:
        text (`str`): The model's generated text.
        n (`int`): Number of responses the prompt showed (scores expected).
        score_range (`tuple[int, int]`, *optional*, defaults to `(1, 10)`): Inclusive bounds for every score.

    Returns:
        `Judgment`: Scores in the order the responses were SHOWN; map them back with
        `spct.grm.shuffle.unshuffle_scores` before aggregating.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if score_range[0] > score_range[1]:
        raise ValueError(f"score_range must be (low, high) with low <= high, got {score_range}")
    if not isinstance(text, str):  # a None from a failed generation is still a judgment to log, not a crash
        text = "" if text is None else str(text)

    match = find_score_match(text)
    if match is None:
        principles, critique = split_sections(text)
        return Judgment(principles, critique, None, InvalidReason.MISSING, text)

    content = _box_content(match)
    scores, reason = parse_scores(content, n, score_range)
    principles, critique = split_sections(_strip_score_label(text[: match.start()]))
    return Judgment(principles, critique, scores, reason, text)


def format_scores(scores: Sequence[int]) -> str:
    """Write scores the way the prompt asks for them, e.g. `\\boxed{7, 3}` (used to write trajectories)."""
    return "\\boxed{" + ", ".join(str(int(score)) for score in scores) + "}"

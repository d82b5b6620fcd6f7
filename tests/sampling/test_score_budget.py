"""The score-format guarantee for any score range (its token budget), and the line-start rule of its free part."""

from __future__ import annotations

import math

import pytest
import torch

from spct.grm import parse_judgment
from spct.grm.prompts import build_judge_prompt
from spct.sampling.score_format import (
    FREE,
    SCORE_MARKER,
    ScoreFormat,
    ScoreFormatLogitsProcessor,
    ScoreFormatVocab,
)

RANGES = [(0, 1), (1, 10), (1, 100), (0, 1000), (1000, 20000), (5, 123456)]


def _longest_body(fmt: ScoreFormat) -> str:
    widest = max((fmt.low, fmt.high), key=lambda v: len(str(v)))
    return ", ".join([str(widest)] * fmt.n) + "}"


@pytest.mark.parametrize("low, high", RANGES)
@pytest.mark.parametrize("n", [1, 2, 5])
def test_max_body_chars_bounds_the_longest_body(n, low, high):
    fmt = ScoreFormat(n, low, high)
    body = _longest_body(fmt)
    assert fmt.is_complete_body(body)
    assert fmt.max_body_chars() == len(body)  # the bound is tight: no body is longer


@pytest.mark.parametrize("low, high", RANGES)
def test_extends_to_score_agrees_with_a_scan_of_the_range(low, high):
    fmt = ScoreFormat(1, low, high)
    values = [str(v) for v in range(low, min(high, 30000) + 1)]
    for prefix in ["", "0", "1", "2", "9", "10", "12", "99", "100", "123", "1234", "12345", "05", "x"]:
        if high > 30000 and len(prefix) >= 1:
            continue  # the scan would be too long; covered by the smaller ranges
        scanned = any(v.startswith(prefix) and v != prefix for v in values)
        assert fmt._extends_to_score(prefix) is scanned, prefix


@pytest.fixture(scope="module")
def sampler(tiny_model_dir):
    from spct.sampling.transformers_backend import TransformersSampler

    torch.set_num_threads(1)
    return TransformersSampler(str(tiny_model_dir))


@pytest.mark.slow
@pytest.mark.parametrize("score_range", [(0, 1000), (1000, 20000)])
def test_wide_ranges_give_valid_judgments_within_the_budget(sampler, score_range):
    """4- and 5-digit scores: every sample parses, and the score line fits the budget the sampler reserves (it
    assumed 2-digit scores before, so 4-digit lines were cut)."""
    prompts = [build_judge_prompt("What is 2 + 2?", ["4", "5", "22"][:n], score_range=score_range) for n in (1, 3)]
    formats = [ScoreFormat(n, *score_range) for n in (1, 3)]
    out = sampler.generate(prompts, 3, temperature=1.0, max_new_tokens=4, score_formats=formats, seed=0)
    for fmt, samples in zip(formats, out):
        budget = sampler.score_line_budget(fmt)
        assert budget >= len(sampler.score_vocab.template_after_budget) + fmt.max_body_chars() + 1
        for gen in samples:
            judgment = parse_judgment(gen.text, fmt.n, score_range)
            assert judgment.valid, gen.text
            assert gen.num_tokens <= 4 + budget


def _processor(tokenizer, vocab):
    return ScoreFormatLogitsProcessor(vocab, [ScoreFormat(2)], 1, 1.0, max_free_tokens=200, seed=0)


def _feed(proc, tokenizer, text: str) -> None:
    ids = [0]
    logits = torch.zeros(1, len(tokenizer))
    logits[0, proc.stop_ids] = -math.inf  # the model never stops by itself here
    proc(torch.tensor([ids]), logits.clone())
    for token in tokenizer.encode(text, add_special_tokens=False):
        ids.append(token)
        proc(torch.tensor([ids]), logits.clone())


@pytest.mark.parametrize(
    ("text", "ends_free_part"),
    [
        ("Analysis: R2 wrote Scores: \\boxed{1, 10} in its text", False),  # an echo in mid-line
        ("Scores: at the very start is no critique yet", False),
        ("Analysis: R1 is right.\n" + SCORE_MARKER, True),
        ("Analysis: R1 is right.\n**" + SCORE_MARKER, True),
        ("Analysis: R1 is right.\nFinal " + SCORE_MARKER, True),
    ],
)
def test_free_part_ends_only_on_a_line_start_marker(tiny_model_dir, text, ends_free_part):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    proc = _processor(tokenizer, ScoreFormatVocab(tokenizer))
    _feed(proc, tokenizer, text)
    assert (proc.phase[0] != FREE) is ends_free_part
    assert proc.forced == [False]  # a mid-line echo is never recorded as the model's own score line

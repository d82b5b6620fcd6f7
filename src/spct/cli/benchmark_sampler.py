"""Sampler benchmark: the vLLM and transformers backends side by side, on the same judgments, in one run.

    spct benchmark-sampler --model results/embedded-default/models/base \
        --records results/embedded-default/data/benchmarks/rewardbench-reconstructed.jsonl --items 16 --k 8

For each backend: the start-up (model load, and the engine for vLLM), then the passes of the judge stage, each with
the score-format guarantee and all its prompts in one call: one greedy judgment per item, then the Voting@k pass (all
items x k sampled judgments) as the judge stage runs it, right after Greedy (vLLM's prefix cache still holds Greedy's
prompts: sample 0 shows the responses in Greedy's order), then the Voting@k pass again from an empty prefix cache
(what Voting@k costs on its own; the transformers backend keeps no cache between calls, so its one Voting pass is
both). Prints generated tokens/s, judgments/s and the Voting@k / Greedy wall-time ratio per item for both Voting
passes, and the ratio of the two backends. Transformers runs first: an in-process vLLM engine binds this process's
threads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from spct.records import read_records
from spct.sampling import ScoreFormat, load_sampler
from spct.sampling.judgments import GREEDY, JudgeSettings, build_sample_prompt


@dataclass
class Figures:
    backend: str
    start_s: float
    greedy_s: float
    voting_s: float  # from an empty prefix cache
    voting_after_greedy_s: float  # as the judge stage runs it
    tokens: int  # generated on the Voting pass from an empty cache
    tokens_after_greedy: int
    judgments: int

    def tokens_per_s(self, after_greedy: bool = False) -> float:
        if after_greedy:
            return self.tokens_after_greedy / self.voting_after_greedy_s
        return self.tokens / self.voting_s

    @property
    def judgments_per_s(self) -> float:
        return self.judgments / self.voting_s

    def voting_over_greedy(self, after_greedy: bool = False) -> float:
        return (self.voting_after_greedy_s if after_greedy else self.voting_s) / self.greedy_s


def timed(sampler, prompts, formats, temperature: float, max_new_tokens: int) -> tuple[float, int]:
    """Wall seconds and generated tokens of one ``generate`` call over all ``prompts``."""
    start = time.perf_counter()
    out = sampler.generate(
        prompts, n=1, temperature=temperature, max_new_tokens=max_new_tokens, score_formats=formats, seed=0
    )
    return time.perf_counter() - start, sum(g.num_tokens for samples in out for g in samples)


def measure(backend: str, args, records, settings: JudgeSettings) -> Figures:
    start = time.perf_counter()
    options = {"batch_size": args.batch_size} if backend == "transformers" else {}
    sampler = load_sampler(args.model, backend=backend, **options)
    start_s = time.perf_counter() - start

    greedy = [build_sample_prompt(r, GREEDY, settings)[0] for r in records]
    voting = [(r, build_sample_prompt(r, i, settings)[0]) for r in records for i in range(args.k)]
    voting_prompts, voting_formats = [p for _, p in voting], [ScoreFormat(r.n) for r, _ in voting]
    clear_prefix_cache(sampler)
    greedy_s, _ = timed(sampler, greedy, [ScoreFormat(r.n) for r in records], 0.0, args.max_new_tokens)
    after_s, after_tokens = timed(sampler, voting_prompts, voting_formats, settings.temperature, args.max_new_tokens)
    voting_s, tokens = after_s, after_tokens
    if clear_prefix_cache(sampler):  # vLLM: again, from an empty prefix cache
        voting_s, tokens = timed(sampler, voting_prompts, voting_formats, settings.temperature, args.max_new_tokens)
    del sampler
    return Figures(backend, start_s, greedy_s, voting_s, after_s, tokens, after_tokens, len(voting))


def clear_prefix_cache(sampler) -> bool:
    """Empty a vLLM engine's prefix cache; False for a sampler that keeps none between calls (transformers)."""
    llm = getattr(sampler, "llm", None)
    if llm is None:
        return False
    if not llm.reset_prefix_cache():
        raise RuntimeError("vLLM did not reset its prefix cache (requests still running?)")
    return True


def main(args) -> int:
    records = read_records(args.records)[: args.items]
    settings = JudgeSettings(guarantee_score_format=True, max_new_tokens=args.max_new_tokens)
    print(
        f"model {args.model}; {len(records)} items x k={args.k} = {len(records) * args.k} concurrent judgments "
        f"(score guarantee on, free-text budget {args.max_new_tokens} tokens); torch threads {torch.get_num_threads()}"
    )
    results = [measure(backend, args, records, settings) for backend in args.backends]
    k = args.k
    print(
        f"{'backend':<14}{'start s':>9}{'Greedy s':>10}{f'Voting@{k} s':>12}{'after Greedy s':>16}{'tokens/s':>10}"
        f"{'after Greedy':>14}{'judgments/s':>13}{f'Voting@{k}/Greedy':>17}{'after Greedy':>14}"
    )
    for f in results:
        print(
            f"{f.backend:<14}{f.start_s:>9.1f}{f.greedy_s:>10.1f}{f.voting_s:>12.1f}{f.voting_after_greedy_s:>16.1f}"
            f"{f.tokens_per_s():>10.1f}{f.tokens_per_s(True):>14.1f}{f.judgments_per_s:>13.2f}"
            f"{f.voting_over_greedy():>16.2f}x{f.voting_over_greedy(True):>13.2f}x"
        )
    by_name = {f.backend: f for f in results}
    if {"vllm", "transformers"} <= set(by_name):
        ratio = by_name["vllm"].judgments_per_s / by_name["transformers"].judgments_per_s
        print(f"vllm / transformers, judgments/s on the Voting@{k} pass: {ratio:.2f}x")
    return 0

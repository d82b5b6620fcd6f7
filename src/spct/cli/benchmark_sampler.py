"""Sampler benchmark: the vLLM and transformers backends side by side, on the same judgments, in one run.

    spct benchmark-sampler --model results/embedded-default/models/base \
        --records results/embedded-default/data/benchmarks/rewardbench-reconstructed.jsonl --items 16 --k 8

For each backend: the start-up (model load, and the engine for vLLM), then a whole benchmark pass as the judge
stage sends it (all items x k sampled judgments with the score-format guarantee in one call), then one greedy
judgment per item. Prints generated tokens/s, judgments/s, the Voting@k / Greedy wall-time ratio per item, and
the ratio of the two backends. Transformers runs first: an in-process vLLM engine binds this process's threads.
Each pass starts with an empty vLLM prefix cache, so the greedy pass never reuses the prompts the Voting pass
prefilled (in the judge stage it does: greedy runs first there, and the k samples reuse its prompt).
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
    voting_s: float
    greedy_s: float
    tokens: int
    judgments: int

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.voting_s

    @property
    def judgments_per_s(self) -> float:
        return self.judgments / self.voting_s

    @property
    def voting_over_greedy(self) -> float:
        return self.voting_s / self.greedy_s


def measure(backend: str, args, records, settings: JudgeSettings) -> Figures:
    start = time.perf_counter()
    options = {"batch_size": args.batch_size} if backend == "transformers" else {}
    sampler = load_sampler(args.model, backend=backend, **options)
    start_s = time.perf_counter() - start

    voting = [(r, build_sample_prompt(r, i, settings)[0]) for r in records for i in range(args.k)]
    formats = [ScoreFormat(r.n) for r, _ in voting]
    clear_prefix_cache(sampler)
    start = time.perf_counter()
    out = sampler.generate(
        [p for _, p in voting],
        n=1,
        temperature=settings.temperature,
        max_new_tokens=args.max_new_tokens,
        score_formats=formats,
        seed=0,
    )
    voting_s = time.perf_counter() - start
    tokens = sum(g.num_tokens for samples in out for g in samples)

    greedy = [build_sample_prompt(r, GREEDY, settings)[0] for r in records]
    clear_prefix_cache(sampler)
    start = time.perf_counter()
    sampler.generate(
        greedy,
        n=1,
        temperature=0.0,
        max_new_tokens=args.max_new_tokens,
        score_formats=[ScoreFormat(r.n) for r in records],
    )
    greedy_s = time.perf_counter() - start
    del sampler
    return Figures(backend, start_s, voting_s, greedy_s, tokens, len(voting))


def clear_prefix_cache(sampler) -> None:
    """Empty a vLLM engine's prefix cache (the transformers backend keeps none between calls)."""
    llm = getattr(sampler, "llm", None)
    if llm is not None and not llm.reset_prefix_cache():
        raise RuntimeError("vLLM did not reset its prefix cache (requests still running?)")


def main(args) -> int:
    records = read_records(args.records)[: args.items]
    settings = JudgeSettings(guarantee_score_format=True, max_new_tokens=args.max_new_tokens)
    print(
        f"model {args.model}; {len(records)} items x k={args.k} = {len(records) * args.k} concurrent judgments "
        f"(score guarantee on, free-text budget {args.max_new_tokens} tokens); torch threads {torch.get_num_threads()}"
    )
    results = [measure(backend, args, records, settings) for backend in args.backends]
    print(
        f"{'backend':<14}{'start s':>9}{f'Voting@{args.k} s':>13}{'Greedy s':>10}{'tokens/s':>10}"
        f"{'judgments/s':>13}{f'Voting@{args.k}/Greedy':>17}"
    )
    for f in results:
        print(
            f"{f.backend:<14}{f.start_s:>9.1f}{f.voting_s:>13.1f}{f.greedy_s:>10.1f}{f.tokens_per_s:>10.1f}"
            f"{f.judgments_per_s:>13.2f}{f.voting_over_greedy:>16.2f}x"
        )
    by_name = {f.backend: f for f in results}
    if {"vllm", "transformers"} <= set(by_name):
        ratio = by_name["vllm"].judgments_per_s / by_name["transformers"].judgments_per_s
        print(f"vllm / transformers, judgments/s on the Voting@{args.k} pass: {ratio:.2f}x")
    return 0

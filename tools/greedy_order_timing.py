"""The measurement behind Greedy showing the responses in sample 0's order (spct.sampling.judgments, protocol 3).

    python tools/greedy_order_timing.py MODEL_DIR BENCHMARK_JSONL [--k 8]

On one vLLM engine, times a benchmark's judge passes as the judge stage sends them (Greedy, then all items x k
samples, score guarantee on) twice, each from an empty prefix cache: once with Greedy in its own shuffled order (the
protocol before 3), once in sample 0's order (now). Run it on math-best-of-n, where each prompt is long and each sample
is its own prefill. The `__main__` guard is what a spawned engine core needs.
"""

import argparse
import time
from dataclasses import replace

from spct.grm import apply_permutation, sample_permutation
from spct.grm.prompts import build_judge_prompt
from spct.records import read_records
from spct.sampling import ScoreFormat
from spct.sampling.judgments import GREEDY, JudgeSettings, build_sample_prompt
from spct.sampling.vllm_backend import VLLMSampler


def own_order_greedy_prompt(record, settings: JudgeSettings) -> str:
    """Greedy's prompt before protocol 3: its own shuffle, keyed by the tag "greedy"."""
    perm = sample_permutation(record.n, settings.seed, record.id, GREEDY)
    return build_judge_prompt(
        record.prompt,
        apply_permutation(record.responses, perm),
        variant=settings.prompt_variant,
        score_range=settings.range_for(record.n),
    )


def judge_passes(sampler, records, greedy_prompts, settings: JudgeSettings, k: int) -> tuple[float, float]:
    sampler.llm.reset_prefix_cache()
    formats = [ScoreFormat(r.n) for r in records]
    start = time.perf_counter()
    sampler.generate(greedy_prompts, n=1, temperature=0.0, max_new_tokens=48, score_formats=formats)
    greedy_s = time.perf_counter() - start
    samples = [build_sample_prompt(r, i, settings)[0] for r in records for i in range(k)]
    start = time.perf_counter()
    sampler.generate(
        samples,
        n=1,
        temperature=settings.temperature,
        max_new_tokens=48,
        score_formats=[f for f in formats for _ in range(k)],
    )
    return greedy_s, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("records")
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args()
    records = read_records(args.records)
    settings = replace(JudgeSettings(), guarantee_score_format=True, max_new_tokens=48)
    sampler = VLLMSampler(args.model)
    variants = {
        "Greedy in its own order": [own_order_greedy_prompt(r, settings) for r in records],
        "Greedy in sample 0's order": [build_sample_prompt(r, GREEDY, settings)[0] for r in records],
    }
    for name, prompts in variants.items():
        greedy_s, samples_s = judge_passes(sampler, records, prompts, settings, args.k)
        print(
            f"{name:<28} Greedy {greedy_s:6.1f} s  then {len(records) * args.k} samples {samples_s:6.1f} s  "
            f"total {greedy_s + samples_s:6.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()

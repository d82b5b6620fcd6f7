"""The measurements behind the CPU engine settings in spct.sampling.vllm_backend (docs/architecture.md).

    python tools/vllm_cpu_settings.py MODEL_DIR [--dtype auto|bfloat16|float32]

Starts one VLLMSampler and times its start and two passes of 16 judge prompts x n = 8 samples with the score
guarantee. Run it once as is (in-process engine, what spct does) and once with
VLLM_ENABLE_V1_MULTIPROCESSING=1 (vLLM's default: a spawned engine core) to compare the two; --dtype compares
bf16 with fp32. The `__main__` guard is what a spawned engine core needs.
"""

import argparse
import time

import torch

from spct.grm.prompts import build_judge_prompt
from spct.sampling import ScoreFormat
from spct.sampling.vllm_backend import VLLMSampler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--dtype", default="auto")
    args = parser.parse_args()
    start = time.perf_counter()
    sampler = VLLMSampler(args.model, dtype=args.dtype)
    print(f"engine start {time.perf_counter() - start:.1f} s, torch threads {torch.get_num_threads()}", flush=True)
    prompts = [
        build_judge_prompt(f"Question {i}: what is {i} + {i}? Explain.", [f"It is {2 * i}.", f"It is {2 * i + 1}."])
        for i in range(16)
    ]
    for rep in range(2):
        start = time.perf_counter()
        out = sampler.generate(
            prompts, n=8, temperature=0.5, max_new_tokens=48, score_formats=[ScoreFormat(2)] * 16, seed=rep
        )
        seconds = time.perf_counter() - start
        tokens = sum(g.num_tokens for samples in out for g in samples)
        print(f"pass {rep}: {seconds:.1f} s, {tokens / seconds:.0f} tokens/s, {128 / seconds:.2f} judgments/s")


if __name__ == "__main__":
    main()

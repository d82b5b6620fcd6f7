"""The timings behind this session's CPU speed settings, each side by side in one run (a quiet machine, 2 cores).

    python tools/cpu_speed_settings.py blocks   MODEL_DIR   # vLLM KV block size 128 (CPU default) vs 32
    python tools/cpu_speed_settings.py training MODEL_DIR   # forward + backward, fp32 vs bf16 autocast
    python tools/cpu_speed_settings.py scoring  MODEL_DIR   # meta RM scoring, fp32 vs bf16 (load_meta_rm)

MODEL_DIR: e.g. results/embedded-default/models/base (the converted SmolLM2-135M). Each engine of `blocks` runs in
a child process of its own, so the two block sizes do not share a prefix cache or threads.
"""

from __future__ import annotations

import subprocess
import sys
import time


def blocks_one(model: str, block_size: int) -> None:
    from spct.sampling.vllm_backend import configure_cpu_process, engine_args

    configure_cpu_process()
    from vllm import LLM, SamplingParams

    llm = LLM(**{**engine_args(model), "block_size": block_size})
    text = "The quick brown fox jumps over the lazy dog. " * 100  # ~1,000 tokens
    prompts = [f"{i} {text}Question: what?" for i in range(40)]
    timings = {}
    start = time.perf_counter()
    llm.generate(prompts, SamplingParams(max_tokens=48, temperature=0, ignore_eos=True), use_tqdm=False)
    timings["greedy 40"] = time.perf_counter() - start
    params = [SamplingParams(max_tokens=48, temperature=1.0, seed=i, ignore_eos=True) for i in range(320)]
    start = time.perf_counter()
    out = llm.generate([p for p in prompts for _ in range(8)], params, use_tqdm=False)
    timings["sampled 40 x 8"] = time.perf_counter() - start
    heads = [prompts[i // 8] + o.outputs[0].text for i, o in enumerate(out)]  # phase 2 of the score guarantee
    start = time.perf_counter()
    llm.generate(heads, SamplingParams(max_tokens=6, temperature=1.0, seed=0), use_tqdm=False)
    timings["phase 2, 320"] = time.perf_counter() - start
    print(f"block_size {block_size}: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()), flush=True)


def training(model: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    ids = torch.randint(0, 1000, (8, 800))
    for bf16 in (False, True, False, True):  # twice each: the first pass of each also warms its kernels
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = lm(input_ids=ids, labels=ids).loss
        loss.backward()
        lm.zero_grad()
        seconds = time.perf_counter() - start
        print(f"{'bf16 autocast' if bf16 else 'fp32'}: 8 x 800 tokens forward + backward {seconds:.1f} s")


def scoring(model: str) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from spct.training.meta_rm_scoring import batched_logits, load_meta_rm

    texts = [f"word {i} " * 400 for i in range(64)]
    fast, tokenizer = load_meta_rm(model)
    exact = AutoModelForSequenceClassification.from_pretrained(model, num_labels=1, dtype=torch.float32)
    exact.config.pad_token_id = tokenizer.pad_token_id
    for name, scorer in (("fp32", exact), ("load_meta_rm (bf16 where native)", fast)):
        start = time.perf_counter()
        batched_logits(scorer, tokenizer, texts, 8, 384, name)
        seconds = time.perf_counter() - start
        print(f"{name}: 64 x 384 tokens in {seconds:.1f} s, {64 * 384 / seconds:.0f} tokens/s")


def main() -> None:
    what, model = sys.argv[1], sys.argv[2]
    if what == "blocks":
        for size in (128, 32):
            subprocess.run([sys.executable, __file__, "blocks-one", model, str(size)], check=True)
    elif what == "blocks-one":
        blocks_one(model, int(sys.argv[3]))
    else:
        {"training": training, "scoring": scoring}[what](model)


if __name__ == "__main__":
    main()

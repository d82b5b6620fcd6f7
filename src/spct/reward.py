"""The GRM as the reward of other people's RL: a TRL reward function, in-process or through ``spct serve``.

``GRMReward`` has TRL's ``reward_funcs`` signature (``__call__(prompts, completions, **kwargs) -> list[float]``,
``__name__`` is what TRL logs as ``rewards/<name>/mean``). It judges completions with a GRM, either in-process
(``LocalScorer``: a loaded sampler and ``JudgeSettings``, through ``spct.judging``) or remotely (``RemoteScorer``:
``POST /score`` of ``spct serve``, httpx imported lazily). Two modes:

- ``pointwise``: each completion is judged alone (n = 1, the judge's ``single_score_range``).
- ``joint``: the completions of one prompt that arrive in the same call (a GRPO group) are judged together in one
  list prompt (``score_range``; a prompt with one completion in the call is judged alone). The GRM compares
  them, which is what a group-relative advantage needs, and one judgment covers G completions.

Reward of one response (``reward_from_scores``, the mapping ``spct serve``'s ``/get_reward`` documents too): the
mean of its valid sampled scores (Voting@k over k samples, divided by the valid count), rescaled to [0, 1] by the
score range, ``(mean - low) / (high - low)``; no valid sample gives 0.0.

TRL's multi-process reward gathering (TRL 1.16, ``GRPOTrainer._calculate_rewards``): every process calls the reward
function on ITS OWN shard of the generation batch only, and TRL gathers the rewards across processes afterwards
(``gather(rewards_per_func)``) to normalise advantages per group. The ``RepeatSampler`` puts a prompt's G
generations next to each other, and each process's shard is ``per_device_train_batch_size * steps_per_generation``
consecutive completions; so a group reaches ONE call whole only when that product is a multiple of
``num_generations``. Otherwise a group is split across processes (or across the shard boundary) and joint mode
judges each part on its own (smaller lists, scores not comparable across the parts). With one process (the CPU
default) every call holds whole groups. Keep the product a multiple of G to judge whole groups jointly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from spct.judging import Query, aggregate, sample_judgments

MODES = ("pointwise", "joint")
URL_ENV = "SPCT_SERVE_URL"  # where the remote scorers find `spct serve` when no URL is given


def reward_from_scores(mean_score: float | None, score_range: Sequence[int]) -> float:
    """One response's reward in [0, 1]: its mean valid score rescaled by ``score_range`` (low, high); None (no
    valid sample) gives 0.0. Out-of-range means are clipped (a judge never gives them; a bad server might).

    The one mapping from GRM scores to a scalar reward, used by ``spct serve``'s ``/get_reward`` and the reward
    functions: a response judged alone (n = 1, the judge's ``single_score_range``) or with the other responses to
    its prompt (one list prompt, ``score_range``) gets the mean of its valid sampled scores (under MetaRM@k, of the
    samples the meta RM kept: ``spct.judging.aggregate``'s ``mean_scores``) rescaled to [0, 1]."""
    if mean_score is None:
        return 0.0
    low, high = score_range
    if high <= low:
        raise ValueError(f"score range must have low < high, got {tuple(score_range)}")
    return min(1.0, max(0.0, (float(mean_score) - low) / (high - low)))


def rewards_from_result(result: dict[str, Any], n: int, score_range: Sequence[int]) -> list[float]:
    """The rewards of the ``n`` responses of one judged query (``spct.judging.aggregate``'s dict or ``/score``'s
    JSON); a query without any valid sample gives 0.0 to every response."""
    means = result.get("mean_scores")
    if means is None:
        return [0.0] * n
    if len(means) != n:
        raise ValueError(f"query {result.get('id')}: {len(means)} mean_scores for {n} responses")
    return [reward_from_scores(mean, score_range) for mean in means]


def message_text(value: Any) -> str:
    """TRL passes conversational prompts / completions as lists of messages, plain ones as strings: the text of the
    last message (the user's question for a prompt, the policy's answer for a completion)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict) and "content" in value[-1]:
        content = value[-1]["content"]
        if isinstance(content, list):  # content blocks: keep the text parts
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return str(content)
    raise TypeError(f"expected a string or a list of chat messages, got {type(value).__name__}")


def prompt_groups(prompts: Sequence[str]) -> list[list[int]]:
    """Indices of equal prompts, in order of first appearance: the groups joint mode judges together."""
    groups: dict[str, list[int]] = {}
    for i, prompt in enumerate(prompts):
        groups.setdefault(prompt, []).append(i)
    return list(groups.values())


class LocalScorer:
    """Judges queries in-process: ``k`` sampled judgments each on ``sampler`` (one ``generate`` call for the whole
    batch: vLLM batches them continuously), Voting over the valid ones (``spct.judging.aggregate``)."""

    def __init__(self, sampler, settings, k: int = 1):
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.sampler, self.settings, self.k = sampler, settings, k
        self.score_range = tuple(settings.score_range)
        self.single_score_range = tuple(settings.single_score_range)

    def score(self, queries: Sequence[Query]) -> list[dict[str, Any]]:
        rows = sample_judgments(queries, self.sampler, self.settings, self.k)
        return [aggregate(q, rows[q.id], self.settings.seed) for q in queries]


class RemoteScorer:
    """Judges queries through ``spct serve``: one ``POST /score`` per query, sent concurrently (``concurrency``
    requests in flight) so the server batches them into its engine. ``url`` defaults to ``$SPCT_SERVE_URL``.

    The score ranges are the server's judge settings; they are read from ``GET /health`` when it reports
    ``score_range`` / ``single_score_range``, else the given ones (the default config's 1..10) are used.
    """

    def __init__(
        self,
        url: str | None = None,
        k: int | None = None,
        timeout: float = 600.0,
        concurrency: int = 16,
        score_range: Sequence[int] = (1, 10),
        single_score_range: Sequence[int] = (1, 10),
        client=None,
    ):
        import httpx

        url = url or os.environ.get(URL_ENV)
        if not url:
            raise ValueError(f"no spct serve URL: pass url= or set {URL_ENV}")
        self.url, self.k, self.concurrency = url.rstrip("/"), k, concurrency
        self.client = client or httpx.Client(base_url=self.url, timeout=timeout)
        self.score_range, self.single_score_range = tuple(score_range), tuple(single_score_range)
        self._ranges_checked = False

    def _read_ranges(self) -> None:
        health = self.client.get("/health")
        health.raise_for_status()
        info = health.json()
        self.score_range = tuple(info.get("score_range") or self.score_range)
        self.single_score_range = tuple(info.get("single_score_range") or self.single_score_range)
        self._ranges_checked = True

    def score_one(self, query: Query) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": query.prompt, "responses": list(query.responses)}
        if query.reference is not None:
            body["reference"] = query.reference
        if self.k is not None:
            body["k"] = self.k
        response = self.client.post("/score", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"spct serve {self.url}/score answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def score(self, queries: Sequence[Query]) -> list[dict[str, Any]]:
        if not self._ranges_checked:
            self._read_ranges()
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(queries)))) as pool:
            return list(pool.map(self.score_one, queries))


class GRMReward:
    """A TRL reward function (``reward_funcs=[GRMReward(scorer)]``) scoring completions with a GRM.

    Args:
        scorer (`LocalScorer | RemoteScorer`): judges a batch of ``Query`` objects.
        mode (`str`, defaults to `"pointwise"`): ``pointwise`` (each completion alone) or ``joint`` (the completions
            of one prompt in the call judged together; see the module docstring for multi-process runs).
        name (`str`, defaults to `"grm"`): TRL logs the mean reward as ``rewards/<name>/mean``.
        reference_key (`str`, *optional*): a dataset column TRL passes through kwargs, shown to the judge as the
            reference answer (only with the judge's ``use_reference``).
    """

    def __init__(self, scorer, mode: str = "pointwise", name: str = "grm", reference_key: str | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.scorer, self.mode, self.__name__, self.reference_key = scorer, mode, name, reference_key
        self.calls = 0
        self.last_results: list[dict[str, Any]] = []

    def queries(self, prompts: Sequence[Any], completions: Sequence[Any], references: Sequence[Any] | None):
        """The queries to judge and, for each, the completion indices it covers (its responses, in order)."""
        texts = [message_text(p) for p in prompts]
        answers = [message_text(c) for c in completions]
        if len(texts) != len(answers):
            raise ValueError(f"{len(texts)} prompts for {len(answers)} completions")
        groups = [[i] for i in range(len(texts))] if self.mode == "pointwise" else prompt_groups(texts)
        out = []
        for g, indices in enumerate(groups):
            reference = None if references is None else references[indices[0]]
            query_id = f"call{self.calls}-q{g}"  # unique per call: each query is sampled afresh
            out.append((Query(query_id, texts[indices[0]], [answers[i] for i in indices], reference), indices))
        return out

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        references = kwargs.get(self.reference_key) if self.reference_key else None
        judged = self.queries(prompts, completions, references)
        self.calls += 1
        results = self.scorer.score([query for query, _ in judged])
        rewards = [0.0] * len(completions)
        for (query, indices), result in zip(judged, results):
            score_range = self.scorer.single_score_range if query.n == 1 else self.scorer.score_range
            for i, reward in zip(indices, rewards_from_result(result, query.n, score_range)):
                rewards[i] = reward
        self.last_results = results
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):  # TRL >= 1.x passes it: the share of judgments that parsed, per step
            samples = [s for r in results for s in r.get("samples", [])]
            log_metric(f"{self.__name__}/valid_samples", sum(s["valid"] for s in samples) / max(1, len(samples)))
        return rewards

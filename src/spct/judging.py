"""Scoring queries with a GRM: k sampled judgments per query, summed over the valid samples (Voting@k, Eq. 14) or
over the k_meta samples a meta RM rates highest (MetaRM@k). The core that ``spct judge`` (files), ``spct serve``
(HTTP) and the reward functions for other people's RL share.

Each sample shows the responses in its own order (position bias); scores are mapped back to the query's order.
There is no ground truth here: a ``Query`` has no best response or label, so nothing is scored for correctness.
With a cache path, samples go to a cache file chunk by chunk (the rows of ``spct.sampling.judgments``, keyed by
(query id, sample index)), so a killed run resumes and a rerun with a larger k only samples what is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from spct.grm import default_k_meta, metarm_select, predict_best, vote
from spct.sampling import Sampler

# The workflow's cache loop (spct.sampling.judgments.sample_cached): same cache format, chunking and resume.
from spct.sampling.judgments import JudgeSettings, sample_cached


@dataclass(frozen=True)
class Query:
    """One user query to judge. It duck-types the parts of ``spct.records.Record`` that the judge prompt
    builders read (``id``, ``prompt``, ``responses``, ``reference``, ``n``, ``best``); ``best`` is always None."""

    id: str
    prompt: str
    responses: list[str]
    reference: str | None = None
    best: ClassVar[None] = None  # no ground truth: only hinted prompts (never built here) would read it

    @property
    def n(self) -> int:
        return len(self.responses)

    def digest(self) -> str:
        """Identifies the content, so a cached sample of a changed query under the same id is not reused."""
        payload = json.dumps([self.prompt, self.responses, self.reference], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def sample_judgments(
    queries: Sequence[Query],
    sampler: Sampler,
    settings: JudgeSettings,
    k: int | Mapping[str, int],
    cache_path: str | os.PathLike | None = None,
    chunk_size: int = 64,
) -> dict[str, list[dict]]:
    """k judgment rows per query (samples ``0..k-1``, scores in input order), sampling only what the cache lacks.

    ``k`` is one count for every query, or query id -> count (``spct serve`` batches requests that ask for different
    k into one call). Returns query id -> rows in sample order. Rows are those of
    ``spct.sampling.judgments.judgment_row`` plus ``query`` (the query's content digest).
    """
    counts = {q.id: k if isinstance(k, int) else k[q.id] for q in queries}
    if any(count < 1 for count in counts.values()):
        raise ValueError(f"k must be >= 1, got {k}")
    digests = {q.id: q.digest() for q in queries}
    wanted = [(q, s) for q in queries for s in range(counts[q.id])]
    rows, _ = sample_cached(
        wanted,  # type: ignore[arg-type]  # a Query duck-types a Record
        sampler,
        settings,
        cache_path,
        chunk_size,
        stamp=lambda query: {"query": digests[query.id]},  # a changed query under the same id is sampled again
        desc="judging",
    )
    out, start = {}, 0
    for q in queries:
        out[q.id] = rows[start : start + counts[q.id]]
        start += counts[q.id]
    return out


def meta_rm_scores(
    meta_rm_dir: str | os.PathLike,
    queries: Sequence[Query],
    rows: Mapping[str, Sequence[dict]],
    settings: JudgeSettings,
    batch_size: int = 8,
    max_length: int | None = None,
) -> dict[str, list[float]]:
    """The meta RM's logit for every sampled judgment: query id -> one score per row.

    The meta RM reads what it was trained on (``spct.training.meta_rm_scoring.meta_rm_text``: the judge prompt in the
    sample's own order, then its judgment). ``max_length`` defaults to the meta RM's training ``max_length``.
    """
    from spct.training.meta_rm_scoring import score_judgments, trained_max_length

    trajectories = [(query, row) for query in queries for row in rows[query.id]]
    logits = score_judgments(
        meta_rm_dir,
        trajectories,  # type: ignore[arg-type]  # a Query duck-types a Record
        batch_size,
        trained_max_length(meta_rm_dir) if max_length is None else max_length,
        variant=settings.prompt_variant,
        score_range=settings.score_range,
        single_score_range=settings.single_score_range,
        use_reference=settings.use_reference,
    )
    out: dict[str, list[float]] = {q.id: [] for q in queries}
    for (query, _), value in zip(trajectories, logits):
        out[query.id].append(value)
    return out


def _best_rng(seed: int, query_id: str) -> random.Random:
    """One tie-break stream per query: the result does not depend on the file's order or on a resume."""
    return random.Random(int(hashlib.sha256(f"{seed}/best/{query_id}".encode()).hexdigest()[:16], 16))


def aggregate(
    query: Query,
    rows: Sequence[dict],
    seed: int = 0,
    meta_scores: Sequence[float] | None = None,
    k_meta: int | None = None,
) -> dict[str, Any]:
    """The output line of one query: Voting (Eq. 14) over the valid samples, or MetaRM@k over the k_meta samples
    the meta RM rates highest; ``best`` by the paper's tie rule (shuffle, then argmax), None if nothing is valid.
    """
    n = query.n
    score_lists = [row["scores"] if row["valid"] else None for row in rows]
    selected = list(range(len(rows)))
    if meta_scores is not None:
        if len(meta_scores) != len(rows):
            raise ValueError(f"{query.id}: {len(meta_scores)} meta scores for {len(rows)} samples")
        selected = metarm_select(meta_scores, default_k_meta(len(rows)) if k_meta is None else k_meta)
    voters = [score_lists[i] for i in selected]
    summed = vote(voters, n)
    valid = sum(scores is not None for scores in voters)
    samples = []
    for i, row in enumerate(rows):
        sample = {
            "sample": int(row["sample"]),
            "principles": row["principles"],
            "critique": row["critique"],
            "scores": row["scores"] if row["valid"] else None,
            "valid": row["valid"],
            "invalid_reason": row["invalid_reason"],
            "forced": row["forced"],
        }
        if meta_scores is not None:
            sample["meta_score"] = meta_scores[i]
            sample["selected"] = i in selected
        samples.append(sample)
    out: dict[str, Any] = {
        "id": query.id,
        "scores": None if summed is None else list(summed),
        "mean_scores": None if summed is None else [s / valid for s in summed],
        "best": None if summed is None else predict_best(summed, _best_rng(seed, query.id)),
        "valid_samples": valid,
    }
    if meta_scores is not None:
        out["k_meta"] = len(selected)
        out["selected"] = selected
    out["samples"] = samples
    return out


def judge_queries(
    queries: Sequence[Query],
    sampler: Sampler,
    settings: JudgeSettings,
    k: int,
    *,
    cache_path: str | os.PathLike | None = None,
    meta_rm: str | os.PathLike | None = None,
    k_meta: int | None = None,
    meta_batch_size: int = 8,
    chunk_size: int = 64,
) -> list[dict[str, Any]]:
    """Sample (or take from the cache) k judgments per query and aggregate them: one output row per query."""
    if meta_rm is None and k_meta is not None:
        raise ValueError("k_meta needs a meta RM")
    if meta_rm is not None:
        k_meta = default_k_meta(k) if k_meta is None else k_meta
        if not 1 <= k_meta <= k:
            raise ValueError(f"k_meta must be in 1..k={k}, got {k_meta}")
    rows = sample_judgments(queries, sampler, settings, k, cache_path, chunk_size)
    meta = None
    if meta_rm is not None:
        meta = meta_rm_scores(meta_rm, queries, rows, settings, batch_size=meta_batch_size)
    return [aggregate(q, rows[q.id], settings.seed, None if meta is None else meta[q.id], k_meta) for q in queries]

"""``spct judge``: score the responses to your own queries with a trained GRM (Voting@k, optionally MetaRM@k);
the scoring itself is ``spct.judging``.

Input is JSONL, one query a line: ``{"id": optional str, "prompt": str, "responses": [str, ...], "reference":
optional str}``. Each query gets k sampled judgments, each showing the responses in its own order (position
bias); their scores are mapped back to the input order and summed over the valid samples (Eq. 14). With a meta
RM, every sample is rated and only the k_meta best vote (MetaRM@k). There is no ground truth here: a ``Query``
has no best response or label, so nothing is scored for correctness.

Samples go to a cache file chunk by chunk (the rows of ``spct.sampling.judgments``, keyed by (query id, sample
index)), so a killed run resumes and a rerun with a larger k only samples what is missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from spct.judging import Query
from spct.sampling.judgments import JudgeSettings

QUERY_KEYS = ("id", "prompt", "responses", "reference")


class QueryError(ValueError):
    """A malformed input line; the message names the file, line and key."""


def read_queries(path: str | os.PathLike) -> list[Query]:
    """Read and check the queries file; a bad line raises ``QueryError`` naming ``path:line`` and the key.

    Blank lines are skipped; a missing id becomes ``line-<n>`` (its line number); ids must be unique.
    """
    queries: list[Query] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                raise QueryError(f"{where}: invalid JSON: {e.msg}") from None
            query = _parse_query(data, where, lineno)
            if query.id in seen:
                raise QueryError(f"{where}: key 'id': {query.id!r} already used on line {seen[query.id]}")
            seen[query.id] = lineno
            queries.append(query)
    if not queries:
        raise QueryError(f"{path}: no queries (expected one JSON object per line)")
    return queries


def _parse_query(data: Any, where: str, lineno: int) -> Query:
    if not isinstance(data, dict):
        raise QueryError(f"{where}: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(QUERY_KEYS))
    if unknown:
        raise QueryError(f"{where}: unknown key(s) {unknown}; expected {list(QUERY_KEYS)}")
    for key in ("prompt", "responses"):
        if key not in data:
            raise QueryError(f"{where}: missing key {key!r}")
    query_id = data.get("id", f"line-{lineno}")
    if not isinstance(query_id, str) or not query_id:
        raise QueryError(f"{where}: key 'id' must be a non-empty string, got {query_id!r}")
    prompt = data["prompt"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise QueryError(f"{where}: key 'prompt' must be a non-empty string, got {_short(prompt)}")
    responses = data["responses"]
    if not isinstance(responses, list):
        raise QueryError(f"{where}: key 'responses' must be a list of strings, got {type(responses).__name__}")
    if not responses:
        raise QueryError(f"{where}: key 'responses' is empty (need at least one response)")
    for i, response in enumerate(responses):
        if not isinstance(response, str):
            raise QueryError(f"{where}: key 'responses': entry {i} must be a string, got {type(response).__name__}")
    reference = data.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise QueryError(f"{where}: key 'reference' must be a string or null, got {type(reference).__name__}")
    return Query(id=query_id, prompt=prompt, responses=list(responses), reference=reference)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def cache_path_for(out_path: str | os.PathLike, settings: JudgeSettings, model: str | os.PathLike) -> Path:
    """The cache next to the output; its name carries the settings' and model's fingerprint (like
    ``spct.sampling.judgments``), so changed settings or a retrained model never reuse stale samples."""
    out = Path(out_path)
    return out.with_name(f"{out.stem}.cache-{settings.fingerprint(model)}.jsonl")

"""``spct judge``: score the responses to your own queries with a trained GRM (Voting@k, optionally MetaRM@k);
the scoring itself is ``spct.judging``.

Input is JSONL, one query a line: ``{"id": optional str, "prompt": str, "responses": [str, ...], "reference":
optional str}``. Each query gets k sampled judgments, each showing the responses in its own order (position
bias); their scores are mapped back to the input order and summed over the valid samples (Eq. 14). With a meta
RM, every sample is rated and only the k_meta best vote (MetaRM@k). There is no ground truth here: a ``Query``
has no best response or label, so nothing is scored for correctness.

Finished samples are appended to a cache file every ``--cache-every`` samples (the rows of
``spct.sampling.judgments``, keyed by (query id, sample index); default the workflow's ``judge.cache_every``), so a
killed run resumes and a rerun with a larger k only samples what is missing. Every flag and file is checked before
a model is loaded (``check_paths``), so a mistake never costs the sampling.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from spct.judging import Query
from spct.records import loads_strict, utf8_lines
from spct.sampling.judgments import JudgeSettings

QUERY_KEYS = ("id", "prompt", "responses", "reference")
# The workflow's judge.cache_every (config.yaml; a test keeps the two equal): samples appended to the cache at once.
DEFAULT_CACHE_EVERY = 512


class QueryError(ValueError):
    """A malformed input line; the message names the file, line and key."""


def check_paths(input_path: str, output_path: str) -> None:
    """Refuse, before any sampling, an ``--input`` that is not a readable file and an ``--output`` that would
    overwrite it or cannot be written (a folder, or a path under a file)."""
    inp, out = Path(input_path), Path(output_path)
    if inp.is_dir():
        raise QueryError(f"--input {inp} is a directory, expected a JSONL file of queries")
    if not inp.exists():
        raise QueryError(f"--input {inp}: no such file")
    if out.is_dir():
        raise QueryError(f"--output {out} is a directory; give a file name (e.g. {out / 'scores.jsonl'})")
    if (out.exists() and os.path.samefile(inp, out)) or out.resolve() == inp.resolve():  # links, ../ paths
        raise QueryError(f"--output {out} is the --input file; writing the scores would overwrite the queries")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise QueryError(f"--output {out}: {parent} is a file, not a folder")
            break


def read_queries(path: str | os.PathLike) -> list[Query]:
    """Read and check the queries file; a bad line raises ``QueryError`` naming ``path:line`` and the key.

    Blank lines are skipped; a missing id becomes ``line-<n>`` (its line number); ids must be unique.
    """
    queries: list[Query] = []
    seen: dict[str, int] = {}
    with open(path, "rb") as f:
        for lineno, line in utf8_lines(f, lambda n: f"{path}:{n}", QueryError):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            data = loads_strict(line, where, QueryError)  # also refuses a repeated key and a lone surrogate
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


def model_options(args) -> dict:
    """``load_sampler``'s options from ``--backend``/``--batch-size``/``--max-model-len``, after checking ``--model``
    and ``--backend`` (``spct judge``, ``spct serve``); a problem names its flag."""
    from spct.sampling.base import SamplerError, check_model_path, sampler_options

    try:
        check_model_path(args.model)
    except SamplerError as e:
        raise SamplerError(f"--model: {e}") from None
    try:
        return sampler_options(
            {"backend": args.backend, "batch_size": args.batch_size, "max_model_len": args.max_model_len}
        )
    except SamplerError as e:
        raise SamplerError(f"--backend {args.backend}: {e}") from None

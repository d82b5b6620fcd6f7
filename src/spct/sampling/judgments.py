"""Sampling judgments: k_max samples (plus one greedy sample) per item, cached and resumable.

One sampling pass serves every k <= k_max and both voting schemes (SPCT.md section 3). Each sample shows the
responses in its own order (position bias); scores are mapped back to the record's order before they are
stored. Samples are appended to a cache file as they finish, keyed by (item id, sample index), so a job that is
killed resumes where it stopped and a later, larger k_max only samples what is missing. The cache file name
carries a fingerprint of everything that changes a sample (model files, prompt variant, temperature, token
budget, score format, seed), so changed settings never reuse stale samples.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from spct.grm import (
    InvalidReason,
    apply_permutation,
    parse_judgment,
    sample_permutation,
    shown_index,
    unshuffle_scores,
)
from spct.grm.prompts import build_judge_prompt
from spct.records import Record, read_jsonl, write_jsonl_atomic
from spct.sampling import Sampler, ScoreFormat

log = logging.getLogger(__name__)

GREEDY = "greedy"
# Rejective sampling's hinted sample: the prompt names the best response (SPCT.md 2.1).
HINTED = "hinted"
# The version of how a judgment is made from its settings: the prompt builder, the samplers' two-phase score
# guarantee, the parser. It is part of every sample cache's name, so a change to any of them (bump it then) never
# reuses samples made the old way. 2: the injection defence (untrusted texts neutralised, the critique ends only on a
# line-start "Scores:", only the judge's own final score line parsed). 3: Greedy shows the responses in sample 0's
# order (``build_sample_prompt``).
JUDGMENT_PROTOCOL = 3


@dataclass(frozen=True)
class JudgeSettings:
    """Everything that changes what a judgment sample looks like.

    Args:
        prompt_variant (`str`, defaults to `"principles"`): `"principles"` or `"no_principles"` (ablation).
        temperature (`float`, defaults to `0.5`): sampling temperature of Voting@k samples (paper: 0.5).
        max_new_tokens (`int`, defaults to `512`): budget for principles + critique (+ scores without the
            guarantee).
        score_range (`tuple[int, int]`, defaults to `(1, 10)`): scores for pairs and lists (paper: 1..10).
        single_score_range (`tuple[int, int]`, defaults to `(1, 10)`): scores for single responses; the paper
            trains single responses with 0/1 and evaluates ReaLMistake with 1..10.
        guarantee_score_format (`bool`, defaults to `False`): force a valid score line (see score_format.py);
            off in the paper-faithful config.
        use_reference (`bool`, defaults to `False`): show the record's reference answer when it has one.
        seed (`int`, defaults to `0`): seeds the per-sample shuffles and the sampler.
    """

    prompt_variant: str = "principles"
    temperature: float = 0.5
    max_new_tokens: int = 512
    score_range: tuple[int, int] = (1, 10)
    single_score_range: tuple[int, int] = (1, 10)
    guarantee_score_format: bool = False
    use_reference: bool = False
    seed: int = 0

    @classmethod
    def from_config(cls, judge_config: Mapping[str, Any]) -> JudgeSettings:
        """The settings of a config's ``judge`` section (lists become tuples). ``k_max`` and ``cache_every`` do not
        change what a sample looks like, so they stay out, and out of the cache fingerprint."""
        fields = {k: v for k, v in judge_config.items() if k not in ("k_max", "cache_every")}
        for key in ("score_range", "single_score_range"):
            if key in fields:
                fields[key] = tuple(fields[key])
        return cls(**fields)

    @classmethod
    def for_training(cls, judge_config: Mapping[str, Any], training_config: Mapping[str, Any]) -> JudgeSettings:
        """Judge settings for training prompts: the ``training`` section's temperature, and single responses are
        scored 0/1 there (paper)."""
        return cls.from_config(
            {
                **judge_config,
                "temperature": training_config["temperature"],
                "single_score_range": training_config["single_score_range"],
            }
        )

    def range_for(self, n: int) -> tuple[int, int]:
        return tuple(self.single_score_range if n == 1 else self.score_range)

    def fingerprint(self, model_path: str | os.PathLike) -> str:
        """Names a sample cache: the settings, the model's files and ``JUDGMENT_PROTOCOL``."""
        payload = {"settings": asdict(self), "model": model_fingerprint(model_path), "protocol": JUDGMENT_PROTOCOL}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def model_fingerprint(model_path: str | os.PathLike) -> str:
    """Identify a checkpoint by its files' names, sizes and modification times (cheap, changes on retraining)."""
    path = Path(model_path)
    if not path.is_dir():
        return str(model_path)  # a hub id
    entries = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in path.resolve().iterdir() if p.is_file())
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


def sample_ids(k_max: int) -> list[str | int]:
    """The greedy sample (temperature 0, Greedy rows of the tables) and k_max sampled ones."""
    return [GREEDY, *range(k_max)]


def build_sample_prompt(
    record: Record, sample: str | int, settings: JudgeSettings, hinted: bool | None = None
) -> tuple[str, tuple[int, ...]]:
    """The judge prompt for one sample of ``record`` and the permutation it shows the responses in.

    The ``HINTED`` sample names the best response (as shown) in the prompt; ``hinted=False`` builds the same
    sample's prompt without the hint (what a hinted trajectory is trained on).
    """
    # Greedy shows the responses in sample 0's order: the two then share one prompt, which the engine prefills once
    # (its prefix cache), where a long list would otherwise cost a whole extra prefill; Greedy and Voting@1 then
    # differ only in decoding. Every sampled judgment still has its own shuffle (SPCT.md, position bias).
    perm = sample_permutation(record.n, settings.seed, record.id, 0 if sample == GREEDY else sample)
    hinted = sample == HINTED if hinted is None else hinted
    if hinted and record.best is None:
        raise ValueError(f"{record.id}: a hinted prompt needs a best response (n >= 2)")
    prompt = build_judge_prompt(
        record.prompt,
        apply_permutation(record.responses, perm),
        variant=settings.prompt_variant,
        score_range=settings.range_for(record.n),
        reference=record.reference if settings.use_reference else None,
        hint_best=shown_index(record.best, perm) if hinted else None,
    )
    return prompt, perm


def judgment_row(record: Record, sample: str | int, perm: tuple[int, ...], generation, settings: JudgeSettings):
    """Parse one generation into the stored row; scores are in the record's (unshuffled) order."""
    judgment = parse_judgment(generation.text, record.n, settings.range_for(record.n))
    if generation.too_long:
        judgment = replace(judgment, invalid_reason=InvalidReason.TOO_LONG)
    return {
        "item_id": record.id,
        "sample": sample,
        "n": record.n,
        "permutation": list(perm),
        "best_shown_at": None if record.best is None else shown_index(record.best, perm),
        "scores": None if judgment.scores is None else list(unshuffle_scores(judgment.scores, perm)),
        "valid": judgment.valid,
        "invalid_reason": None if judgment.valid else judgment.invalid_reason.value,
        "principles": judgment.principles,
        "critique": judgment.critique,
        "text": generation.text,
        "num_tokens": generation.num_tokens,
        "forced": generation.forced,
    }


class CacheError(ValueError):
    """A judgment cache that cannot be read or written safely; the message names the file (and line)."""


def read_cache(path: Path) -> dict[tuple[str, str], dict]:
    """Rows already sampled, keyed by (item id, sample).

    Only a torn LAST line (the job was killed mid-write: no newline, or not JSON) is cut off the file, so that the
    next append starts on a fresh line instead of gluing a good row onto the broken one. A bad line with good rows
    after it is not a kill: it raises ``CacheError`` naming the file and line, and nothing is cut.
    """
    rows: dict[tuple[str, str], dict] = {}
    if not path.exists():
        return rows
    good_bytes = 0
    with open(path, "rb") as f:
        lines = f.readlines()
    for number, line in enumerate(lines, start=1):
        key, row, reason = _cache_row(line)
        if key is None:
            if number < len(lines):
                raise CacheError(
                    f"{path}, line {number}: not a judgment row ({reason}) with {len(lines) - number} row(s) after "
                    "it; the cache is corrupt, not torn by a kill: fix or delete that line"
                )
            break
        rows[key] = row
        good_bytes += len(line)
    if good_bytes < path.stat().st_size:
        log.warning("cutting a torn last line off %s (the previous run was killed mid-write)", path)
        with open(path, "r+b") as f:
            f.truncate(good_bytes)
    return rows


def _cache_row(line: bytes) -> tuple[tuple[str, str] | None, dict | None, str]:
    """(key, row, "") of one cache line, or (None, None, why it is not a row)."""
    if not line.endswith(b"\n"):
        return None, None, "no newline at its end"
    try:
        row = json.loads(line)
        return (row["item_id"], str(row["sample"])), row, ""
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return None, None, f"not JSON: {error}"
    except (TypeError, KeyError):
        return None, None, "no item_id and sample"


@contextlib.contextmanager
def cache_writer_lock(path: Path) -> Iterator[None]:
    """Hold ``<cache>.lock`` while sampling into ``path``: one writer per cache, so two processes never append
    to (or cut the tail of) the same file. A second writer fails at once with ``CacheError``."""
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CacheError(f"{path}: another process is sampling into this cache (lock {lock_path})") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append_rows(path: Path, rows: Iterable[dict]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def chunks_by_item(todo: list[tuple[Record, str | int]], size: int) -> Iterator[list]:
    """Chunks of about ``size`` samples that never split an item: samples of one item that share a shuffle
    share one prefill only when they reach the sampler together."""
    chunk: list = []
    for i, (record, sample) in enumerate(todo):
        chunk.append((record, sample))
        item_ends = i + 1 == len(todo) or todo[i + 1][0].id != record.id
        if item_ends and len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def sample_cached(
    wanted: Sequence[tuple[Record, str | int]],
    sampler: Sampler,
    settings: JudgeSettings,
    cache_path: str | os.PathLike | None,
    chunk_size: int = 64,
    *,
    stamp: Callable[[Record], Mapping[str, Any]] | None = None,
    desc: str | None = None,
) -> tuple[list[dict], int]:
    """The judgment row of every ``(record, sample)`` in ``wanted``, in that order, and how many were sampled.

    Reusable rows come from ``cache_path``; the others are sampled in chunks that never split an item (greedy
    ones first, at temperature 0; then the sampled ones at ``settings.temperature``) and appended to the cache as
    each chunk finishes, so a killed run resumes. ``cache_path`` None samples everything and caches nothing.
    ``stamp(record)`` names fields added to every new row of that record, which a cached row must match to be
    reused (``spct judge``: the query's content digest). ``desc`` shows a progress bar.
    """
    if cache_path is None:
        return _sample_into(wanted, sampler, settings, None, chunk_size, stamp, desc)
    cache_path = Path(cache_path)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    with cache_writer_lock(cache_path):
        return _sample_into(wanted, sampler, settings, cache_path, chunk_size, stamp, desc)


def _sample_into(wanted, sampler, settings, cache_path, chunk_size, stamp, desc) -> tuple[list[dict], int]:
    """``sample_cached``'s work, with the cache's lock held."""
    done = {} if cache_path is None else read_cache(cache_path)
    stamp = stamp or (lambda record: {})

    def reuse(record: Record, sample: str | int) -> bool:
        row = done.get((record.id, str(sample)))
        return reusable(row) and all(row.get(key) == value for key, value in stamp(record).items())

    todo = [(r, s) for r, s in wanted if not reuse(r, s)]
    log.info("%d judgment samples cached, %d to sample", len(wanted) - len(todo), len(todo))
    with tqdm(total=len(todo), desc=desc, unit="sample", disable=desc is None or not todo) as bar:
        # Greedy and sampled judgments need different decoding, so they go to the sampler separately.
        for is_greedy in (True, False):
            group = [(r, s) for r, s in todo if (s == GREEDY) == is_greedy]
            for chunk in chunks_by_item(group, chunk_size):
                rows = sample_chunk(chunk, sampler, settings, temperature=0.0 if is_greedy else settings.temperature)
                for (record, _), row in zip(chunk, rows):
                    row.update(stamp(record))
                if cache_path is not None:
                    append_rows(cache_path, rows)
                done.update({(row["item_id"], str(row["sample"])): row for row in rows})
                bar.update(len(chunk))
    return [done[(r.id, str(s))] for r, s in wanted], len(todo)


def run_judgments(
    records: Sequence[Record],
    sampler: Sampler,
    settings: JudgeSettings,
    k_max: int,
    cache_path: Path,
    out_path: Path,
    chunk_size: int = 64,
    samples: Callable[[Record], Sequence[str | int]] | None = None,
) -> dict[str, int]:
    """Sample the missing judgments of ``records`` into ``cache_path`` (``sample_cached``), then write ``out_path``
    atomically.

    ``samples(record)`` names the samples to draw per record (default: greedy + ``k_max`` sampled ones);
    rejective sampling asks for its non-hinted and hinted samples this way. Returns counts: ``cached`` (reused),
    ``sampled`` (new) and ``total`` rows written.
    """
    samples = samples or (lambda record: sample_ids(k_max))
    wanted = [(r, s) for r in records for s in samples(r)]
    rows, sampled = sample_cached(wanted, sampler, settings, cache_path, chunk_size)
    write_jsonl_atomic(out_path, rows)
    return {"cached": len(rows) - sampled, "sampled": sampled, "total": len(rows)}


def reusable(row: dict | None) -> bool:
    """Whether a cached row can be reused; a too_long row is sampled again (the context may have grown)."""
    return row is not None and row.get("invalid_reason") != InvalidReason.TOO_LONG.value


def sample_chunk(chunk, sampler: Sampler, settings: JudgeSettings, temperature: float) -> list[dict]:
    """Sample and parse one chunk of (item, sample) pairs into judgment rows."""
    prompts, perms = zip(*(build_sample_prompt(r, s, settings) for r, s in chunk))
    formats = None
    if settings.guarantee_score_format:
        formats = [ScoreFormat(r.n, *settings.range_for(r.n)) for r, _ in chunk]
    # A chunk-specific seed keeps a resumed run from replaying the random stream of the first chunk.
    seed = settings.seed + int(hashlib.sha256(f"{chunk[0][0].id}/{chunk[0][1]}".encode()).hexdigest()[:6], 16)
    generations = sampler.generate(
        list(prompts),
        n=1,
        temperature=temperature,
        max_new_tokens=settings.max_new_tokens,
        score_formats=formats,
        seed=seed,
        desc="greedy judgments" if temperature == 0 else "sampled judgments",
    )
    return [judgment_row(r, s, perm, g[0], settings) for (r, s), perm, g in zip(chunk, perms, generations)]


def read_judgments(path: str | os.PathLike) -> list[dict]:
    return read_jsonl(path)

"""The paper's benchmarks (SPCT.md section 4), each declared once, and the evaluation sets of the workflow.

A ``Benchmark`` is one entry of ``BENCHMARKS``, the way lm-evaluation-harness declares a task: where its items come
from (a ``spct.data.sources.Source``: hub id, split, column mapping, converter; or the members of a group loaded
together), its official metric (``spct.evaluation.metrics.METRICS``; the metric also fixes the tie rule,
``STRICT_TIES``) and the column of the paper's table it fills. Adding a benchmark = one entry + its converter (in
``spct.data``) + its metric (in ``spct.evaluation.official``).

``load_benchmark(name, path=None, columns=None, max_items=None)`` reads local files in the published format when
``path`` is given (JSON array, JSONL, JSONL.gz or parquet; a folder is read file by file), else the hub through
``datasets.load_dataset`` after the offline / reachability checks. ``columns={logical name: column}`` overrides the
column mapping. ``load_benchmark_items`` gives the items of a configured evaluation set (config key ``benchmarks``):
a selection of the prepared eval records (the bundled reconstructions) or one of these benchmarks, capped the same
way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spct.data.benchmark_converters import ppe_correctness_converter, ppe_preference_records, rewardbench_records
from spct.data.rmb_realmistake import realmistake_records, rmb_records
from spct.data.selection import select_benchmark, stratified_cap, within_length
from spct.data.sources import (
    SUFFIX_PATTERN,
    Rows,
    Skipped,
    Source,
    convert_files,
    data_files,
    fetch_rows,
    hub_unreachable_reason,
    offline_reason,
)
from spct.evaluation.metrics import STRICT_TIES
from spct.evaluation.official import PPE_CORRECTNESS_DOMAINS
from spct.records import Record


class BenchmarkUnavailable(RuntimeError):
    """The hub must not or cannot be contacted (offline mode, no network); the message says why."""


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: its source (or the members of a group), official metric and paper column (None: none)."""

    name: str
    sources: tuple[Source, ...]
    metric: str = "accuracy"
    paper_column: str | None = None

    @property
    def group(self) -> bool:
        """Loaded from several sources together (``ppe_correctness``: one per domain)."""
        return len(self.sources) != 1 or self.sources[0].name != self.name

    @property
    def strict_ties(self) -> bool:
        """A tie with any loser counts as wrong (RMB's rule); otherwise ties break by shuffle-then-argmax."""
        return self.metric in STRICT_TIES


PPE_DOMAIN_SOURCES = {  # domain (PPE_CORRECTNESS_DOMAINS spelling) -> benchmark name
    "MMLU-Pro": "ppe_mmlu_pro",
    "MATH": "ppe_math",
    "GPQA": "ppe_gpqa",
    "MBPP-Plus": "ppe_mbpp_plus",
    "IFEval": "ppe_ifeval",
}

_PPE_CORRECTNESS_COLUMNS = {
    "prompt": "prompt",
    "scores": "scores",
    "pairs": "sampled_conflict_pairs",
    "response_prefix": "response_",  # a prefix, not a column: response index i is column f"{prefix}{i + 1}"
    "question_id": "question_id",
    "model_name": "model_name",
}
_PPE_CONFIRMED = (
    "assumed from third-party loaders in the code index that read lmarena-ai/PPE-*-Best-of-K split 'train' with "
    "row['prompt'], row['scores'][i], row['sampled_conflict_pairs'] -> [i, j], row[f'response_{i + 1}'], "
    "row['question_id'], row['model_name']; the dataset card itself was not readable here"
)


def _ppe_domain(domain: str) -> Source:
    return Source(
        name=PPE_DOMAIN_SOURCES[domain],
        description=f"PPE correctness {domain}: one pair per sampled conflict pair (one correct, one incorrect)",
        hub_id=f"lmarena-ai/PPE-{domain}-Best-of-K",
        split="train",
        columns=dict(_PPE_CORRECTNESS_COLUMNS),
        converter=ppe_correctness_converter(domain),
        optional=frozenset({"response_prefix", "question_id", "model_name"}),
        confirmed=_PPE_CONFIRMED,
    )


_PPE_DOMAINS = [_ppe_domain(domain) for domain in PPE_CORRECTNESS_DOMAINS]


# Each benchmark, declared once: where its items come from (a ``Source``, or the members of a group loaded
# together), its official metric (``spct.evaluation.metrics.official_score``) and the paper column it fills (SPCT.md
# 4). A reconstruction from bundled data has no paper column: it is reported under its own name.
BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark(
            name="rewardbench",
            sources=(
                Source(
                    name="rewardbench",
                    description="RewardBench pairs; subset = official subset name; order from sha256 of the id",
                    hub_id="allenai/reward-bench",
                    split="filtered",
                    columns={
                        "prompt": "prompt",
                        "chosen": "chosen",
                        "rejected": "rejected",
                        "subset": "subset",
                        "id": "id",
                        "chosen_model": "chosen_model",
                        "rejected_model": "rejected_model",
                    },
                    converter=rewardbench_records,
                    optional=frozenset({"chosen_model", "rejected_model"}),
                    confirmed="SPCT.md section 4 (columns and split); third-party loaders in the code index agree",
                ),
            ),
            metric="rewardbench",
            paper_column="RB",
        ),
        Benchmark(
            name="ppe_preference",
            sources=(
                Source(
                    name="ppe_preference",
                    description="PPE human-preference pairs (Chatbot Arena votes); ties dropped and counted",
                    hub_id="lmarena-ai/PPE-Human-Preference-V1",
                    split="test",
                    columns={
                        "prompt": "prompt",
                        "response_1": "response_1",
                        "response_2": "response_2",
                        "winner": "winner",
                        "question_id": "question_id",
                        "model_a": "model_a",
                        "model_b": "model_b",
                        "language": "language",
                    },
                    converter=ppe_preference_records,
                    optional=frozenset({"question_id", "model_a", "model_b", "language"}),
                    confirmed=(
                        "hub id and split 'test' from the hub file listing (docs index: "
                        "refs/convert/parquet/default/test); columns from lmarena-ai/PPE-Debug's card (question_id, "
                        "prompt, response_1, response_2, winner) and third-party loaders (winner 'model_a'/'model_b', "
                        "model_a, model_b, language)"
                    ),
                ),
            ),
            metric="accuracy",
            paper_column="PPE-P",
        ),
        *(Benchmark(name=source.name, sources=(source,)) for source in _PPE_DOMAINS),
        Benchmark(name="ppe_correctness", sources=tuple(_PPE_DOMAINS), metric="ppe_correctness", paper_column="PPE-C"),
        Benchmark(
            name="rmb",
            sources=(
                Source(
                    name="rmb",
                    description="RMB pairwise (pairs) and best-of-N (lists) from the published JSON files; local only",
                    hub_id=None,
                    split=None,
                    columns={
                        "pair_uid": "pair_uid",
                        "bon_uid": "bon_uid",
                        "conversation_input": "conversation_input",
                        "chosen": "chosen",
                        "reject": "reject",
                        "bon_best": "bon_best",
                        "loser_list": "loser_list",
                        "category_path": "category_path",
                        "turn.role": "role",
                        "turn.content": "content",
                        "answer.text": "answer",
                        "answer.model": "llm_name",
                    },
                    converter=rmb_records,
                    optional=frozenset(
                        {"pair_uid", "bon_uid", "chosen", "reject", "bon_best", "loser_list"}
                    ),  # kind-specific
                    confirmed="SPCT.md section 4 record schemas; third-party RMB loaders in the code index agree",
                ),
            ),
            metric="rmb",
            paper_column="RMB",
        ),
        Benchmark(
            name="realmistake",
            sources=(
                Source(
                    name="realmistake",
                    description=(
                        "ReaLMistake single responses, label 1 = no_error; local only (password zip, never bundled)"
                    ),
                    hub_id=None,
                    split=None,
                    columns={
                        "input": "input",
                        "llm_response": "llm_response",
                        "error_label": "error_label",
                        "error_categories": "error_categories",
                        "metadata": "metadata",
                    },
                    converter=realmistake_records,
                    optional=frozenset({"error_categories", "metadata"}),
                    confirmed="SPCT.md section 4 record schema",
                ),
            ),
            metric="roc_auc",
            paper_column="ReaLMistake",
        ),
    ]
}

BENCHMARK_SOURCES: dict[str, Source] = {b.name: b.sources[0] for b in BENCHMARKS.values() if not b.group}
GROUPS: dict[str, list[str]] = {b.name: [s.name for s in b.sources] for b in BENCHMARKS.values() if b.group}

convert_rewardbench = BENCHMARK_SOURCES["rewardbench"].convert
convert_ppe_preference = BENCHMARK_SOURCES["ppe_preference"].convert
convert_rmb = BENCHMARK_SOURCES["rmb"].convert
convert_realmistake = BENCHMARK_SOURCES["realmistake"].convert


def convert_ppe_correctness(
    rows: Rows, domain: str, columns: Mapping[str, str] | None = None, skipped: Skipped = None, *, keys=None
) -> list[Record]:
    """PPE correctness rows of one ``domain`` (a ``PPE_CORRECTNESS_DOMAINS`` name) -> pairs."""
    if domain not in PPE_CORRECTNESS_DOMAINS:
        raise ValueError(f"unknown PPE correctness domain {domain!r}; expected one of {PPE_CORRECTNESS_DOMAINS}")
    return BENCHMARK_SOURCES[PPE_DOMAIN_SOURCES[domain]].convert(rows, columns, skipped, keys=keys)


def benchmark(name: str) -> Benchmark:
    """The declaration of benchmark ``name``; an unknown name raises ``ValueError``."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}") from None


def benchmark_source(name: str) -> Source:
    """The source of a benchmark that is not a group; anything else raises ``ValueError``."""
    if name not in BENCHMARK_SOURCES:
        raise ValueError(f"unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}")
    return BENCHMARK_SOURCES[name]


def convert_benchmark_rows(
    name: str, rows: Rows, columns: Mapping[str, str] | None = None, skipped: Skipped = None, *, keys=None
) -> list[Record]:
    """Run benchmark ``name``'s converter over published rows (dicts, a ``datasets.Dataset`` or ``RawRow``s)."""
    return benchmark_source(name).convert(rows, columns, skipped, keys=keys)


# --- Local files ----------------------------------------------------------------------------------------------


def load_local(
    name: str, path: str | os.PathLike, columns: Mapping[str, str] | None = None, skipped: Skipped = None
) -> list[Record]:
    """Convert a file, or every data file under a folder (sorted), of benchmark ``name`` in its published format.

    See ``spct.data.sources.convert_files`` for the row keys; RMB items take their ids from ``pair_uid`` /
    ``bon_uid``. The group ``ppe_correctness`` reads a folder with one file per domain.
    """
    if name in GROUPS:
        return _load_local_group(name, Path(path), columns, skipped)
    return convert_files(benchmark_source(name), path, columns, skipped)


def load_rmb(path: str | os.PathLike, columns=None, skipped: Skipped = None) -> list[Record]:
    """RMB from a folder of its JSON files (walked recursively, e.g. ``RMB_dataset/``) or from one JSON file."""
    return load_local("rmb", path, columns, skipped)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _load_local_group(name: str, path: Path, columns, skipped: Skipped) -> list[Record]:
    """``ppe_correctness`` from a folder holding one file per domain, recognised by name (e.g. ``MMLU-Pro.jsonl``,
    ``PPE-MATH-Best-of-K.parquet``, ``mbpp_plus.json``)."""
    if not path.is_dir():
        raise ValueError(
            f"{name}: expected a folder with one file per domain, got {path}; or load one domain "
            f"with one of {GROUPS[name]}"
        )
    by_domain: dict[str, Path] = {}
    for file in data_files(path):
        stem = _norm(re.sub(r"(best-?of-?k)?" + SUFFIX_PATTERN, "", file.name, flags=re.I))
        matches = [d for d in PPE_CORRECTNESS_DOMAINS if _norm(d) in stem]
        if len(matches) == 1:
            if matches[0] in by_domain:
                raise ValueError(f"{name}: two files for {matches[0]}: {by_domain[matches[0]]} and {file}")
            by_domain[matches[0]] = file
    missing = [d for d in PPE_CORRECTNESS_DOMAINS if d not in by_domain]
    if missing:
        raise FileNotFoundError(f"{path}: no file for PPE correctness domain(s) {missing}")
    records = []
    for domain in PPE_CORRECTNESS_DOMAINS:
        records += load_local(PPE_DOMAIN_SOURCES[domain], by_domain[domain], columns, skipped)
    return records


# --- The hub --------------------------------------------------------------------------------------------------


def fetch_benchmark_rows(name: str, cache_dir: str | os.PathLike | None = None) -> Any:
    """Download benchmark ``name`` with ``datasets.load_dataset``; returns the ``datasets.Dataset``.

    Raises ``BenchmarkUnavailable`` without waiting when ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` is set or one
    short probe of the hub fails (``spct.data.sources.offline_reason`` / ``hub_unreachable_reason``).
    """
    source = benchmark_source(name)
    if source.hub_id is None:
        raise ValueError(f"{name} is not on the hub; pass path= to its downloaded files")
    reason = offline_reason() or hub_unreachable_reason()
    if reason:
        raise BenchmarkUnavailable(f"{name} ({source.hub_id}): {reason}")
    rows, _ = fetch_rows(source, cache_dir=cache_dir)
    return rows


def load_hub(
    name: str, columns: Mapping[str, str] | None = None, skipped: Skipped = None, cache_dir=None
) -> list[Record]:
    if name in GROUPS:
        return [r for member in GROUPS[name] for r in load_hub(member, columns, skipped, cache_dir)]
    rows = fetch_benchmark_rows(name, cache_dir)
    return convert_benchmark_rows(name, rows, columns, skipped)


def load_benchmark(
    name: str,
    path: str | os.PathLike | None = None,
    columns: Mapping[str, str] | None = None,
    max_items: int | None = None,
    *,
    skipped: Skipped = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[Record]:
    """Records of benchmark ``name`` (a key of ``BENCHMARKS``).

    With ``path`` read local files in the published format (see ``load_local``), else the hub (see
    ``fetch_benchmark_rows``). ``columns`` overrides the column mapping; ``max_items`` caps the records the way the
    workflow does (``spct.data.selection.stratified_cap``: round-robin over subsets and labels, hash order);
    ``skipped`` counts dropped items by ``"<subset>: <reason>"``.
    """
    benchmark(name)
    records = load_hub(name, columns, skipped, cache_dir) if path is None else load_local(name, path, columns, skipped)
    return records if max_items is None else stratified_cap(records, max_items)


# --- The workflow's evaluation sets (config key ``benchmarks``) -------------------------------------------------


def load_benchmark_items(name: str, spec: Mapping[str, Any], eval_records: Sequence[Record]) -> list[Record]:
    """The items of benchmark ``name`` as configured: ``subsets`` of the prepared eval split (a reconstruction), or
    ``source`` (a ``BENCHMARKS`` name) read from ``path`` or, without one, from the hub; items longer than
    ``max_item_chars`` are left out before the cap."""
    max_chars = spec.get("max_item_chars")
    if "source" in spec:
        try:
            records = load_benchmark(spec["source"], path=spec.get("path"), columns=spec.get("columns") or None)
        except FileNotFoundError as error:
            raise FileNotFoundError(f"benchmarks.{name}.path: {error}") from error
        return stratified_cap(within_length(records, max_chars), spec.get("max_items"))
    return select_benchmark(eval_records, name, spec["subsets"], spec.get("max_items"), max_chars)


def benchmark_metric(spec: Mapping[str, Any]) -> str:
    """The metric of a configured benchmark: its ``metric`` key, else its source's official metric, else accuracy."""
    source = spec.get("source")
    return spec.get("metric") or (BENCHMARKS[source].metric if source in BENCHMARKS else "accuracy")


def paper_column(spec: Mapping[str, Any]) -> str | None:
    """The column of the paper's table this benchmark fills (RB, PPE-P, PPE-C, RMB, ReaLMistake), or None."""
    source = spec.get("source")
    return BENCHMARKS[source].paper_column if source in BENCHMARKS else None

"""Loading a benchmark's items: its published files (``path``) or the hub, through the source its declaration in
``spct.evaluation.benchmarks.BENCHMARKS`` names, and the workflow's evaluation sets (config key ``benchmarks``).

``load_benchmark(name, path=None, columns=None, max_items=None)`` reads local files in the published format when
``path`` is given (JSON array, JSONL, JSONL.gz or parquet; a folder is read file by file), else the hub through
``datasets.load_dataset`` after the offline / reachability checks. ``columns={logical name: column}`` overrides the
column mapping. ``load_benchmark_items`` gives the items of a configured evaluation set: a selection of the
prepared eval records (the bundled reconstructions) or one of the benchmarks, capped the same way.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spct.data.selection import select_benchmark, stratified_cap, within_length
from spct.data.sources import (
    SUFFIX_PATTERN,
    Rows,
    Skipped,
    convert_files,
    data_files,
    fetch_rows,
    hub_unreachable_reason,
    offline_reason,
)
from spct.evaluation.benchmarks import GROUPS, PPE_DOMAIN_SOURCES, benchmark, benchmark_source
from spct.evaluation.left_out import benchmark_summary
from spct.evaluation.official import PPE_CORRECTNESS_DOMAINS
from spct.records import Record


class BenchmarkUnavailable(RuntimeError):
    """The hub must not or cannot be contacted (offline mode, no network); the message says why."""


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
    source = benchmark_source(name)
    if source.read_files is not None:
        return source.read_files(source, path, columns, skipped)
    return convert_files(source, path, columns, skipped)


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


def load_benchmark_items(
    name: str, spec: Mapping[str, Any], eval_records: Sequence[Record], skipped: Skipped = None
) -> list[Record]:
    """The items of benchmark ``name`` as configured: ``subsets`` of the prepared eval split (a reconstruction), or
    ``source`` (a ``BENCHMARKS`` name) read from ``path`` or, without one, from the hub; items longer than
    ``max_item_chars`` are left out before the cap.

    ``skipped`` counts every item left out by reason: the loader's (``"<subset>: <reason>"``), then
    ``"<name>: longer than max_item_chars"`` and ``"<name>: beyond the max_items cap"``.
    """
    max_chars, max_items = spec.get("max_item_chars"), spec.get("max_items")
    if "source" not in spec:
        chosen = select_benchmark(eval_records, name, spec["subsets"], None, max_chars)
        kept = stratified_cap(chosen, max_items, subset_order=spec["subsets"])  # = select_benchmark with the cap
        subsets = set(spec["subsets"])
        total = sum(r.split == "eval" and r.subset in subsets for r in eval_records)
        _count_selection(skipped, name, total, len(chosen), len(kept))
        return kept
    try:
        records = load_benchmark(
            spec["source"], path=spec.get("path"), columns=spec.get("columns") or None, skipped=skipped
        )
    except FileNotFoundError as error:
        raise FileNotFoundError(f"benchmarks.{name}.path: {error}") from error
    short = within_length(records, max_chars)
    kept = stratified_cap(short, max_items)
    _count_selection(skipped, name, len(records), len(short), len(kept))
    return kept


def selected_items(name: str, spec: Mapping[str, Any], eval_records: Sequence[Record]) -> tuple[list[Record], dict]:
    """The items of one configured benchmark (``load_benchmark_items``) and its summary: items, left out by reason,
    source, path (``spct.evaluation.left_out.benchmark_summary``)."""
    skipped: Counter[str] = Counter()
    records = load_benchmark_items(name, spec, eval_records, skipped)
    return records, benchmark_summary(name, spec, len(records), skipped)


def _count_selection(skipped: Skipped, name: str, loaded: int, short: int, kept: int) -> None:
    counts = {"longer than max_item_chars": loaded - short, "beyond the max_items cap": short - kept}
    for reason, count in counts.items():
        if skipped is not None and count:
            skipped[f"{name}: {reason}"] += count

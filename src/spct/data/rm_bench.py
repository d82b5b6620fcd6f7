"""RM-Bench (Liu et al., ICLR 2025; THU-KEG/RM-Bench) in its published JSON format -> nine pair records per item.

Upstream (github.com/THU-KEG/RM-Bench, README.md at 2119ec5664d042fd9f863233a9e8e3ab08f61ad1; data on the hub as
``THU-KEG/RM-Bench``, one file ``total_dataset.json``, split ``train``): each item is
``{id, prompt, chosen[3], rejected[3], domain}``, the three responses of each side in the styles concise, detailed
plain text and detailed markdown, ``domain`` one of chat, code, math, safety-refuse, safety-response (``id`` looks
like ``"chat/100"``). ``data/<domain>_filtered.json`` hold one domain each; upstream's ``compute_accuracy`` treats a
file without ``domain`` as one domain, so the domain of such a row comes from its file name (else its id prefix).
Domains are merged as upstream's ``split_dataset_by_domain`` does (``domain.startswith`` one of chat, math, code,
safety): safety-refuse and safety-response are one domain, safety.

**How it is judged: the nine pairs, each in its own prompt.** Item ``x`` becomes nine pair records
``rm_bench/<id>/<i><j>`` (chosen style ``i`` against rejected style ``j``), subset ``<domain>/<i><j>``, so the
accuracy of a subset IS the cell (i, j) of upstream's 3x3 matrix and every part of the score is linear in the
per-item values (``spct.evaluation.rm_bench``). Not one list of all six responses: the six are near-copies (the
rejected ones differ from the chosen ones by one subtle error), so a judge shown all six can diff them and the
style test collapses; a cell of the matrix compares one chosen with one rejected response, which is what a pair
prompt shows, and what upstream's own generative-judge protocol does (its README: "a user prompt followed by two
responses"). It costs nine judge prompts per item, each with two responses (shorter than a list of six, so fewer
are too long for the context). A tie is wrong (upstream: ``score_chosen[i] > score_rejected[j]``).

Kept, as upstream scores them: a pair whose chosen and rejected texts are identical (a tie for any judge, so
wrong) and a blank response (the judge sees it empty); both are marked in ``meta``. Left out and counted by reason:
an item with a blank prompt (a record needs one), an item of no known domain (upstream's split drops it too), and,
when a folder holds both ``total_dataset.json`` and the per-domain files, the second copy of an item already read
from another file. A raw id repeated within a file keeps both items (the second id gets the row key appended).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spct.data.benchmark_converters import SPLIT, UniqueIds
from spct.data.build import ordered_pair
from spct.data.raw import RawDataError, RawRow
from spct.data.sources import Rows, Skipped, Source, count_skip, data_files, is_blank, prepare, read_rows
from spct.records import Record

RM_BENCH_DOMAINS: tuple[str, ...] = ("chat", "math", "code", "safety")  # upstream split_dataset_by_domain order
RM_BENCH_STYLES: tuple[str, ...] = ("concise", "detailed", "detailed_markdown")  # index 0, 1, 2 of chosen/rejected
_FILE_DOMAIN = re.compile(r"^(chat|code|math|safety-refuse|safety-response)_filtered\.json$")


def rm_bench_domain(raw: str) -> str | None:
    """The scored domain of a raw domain (``"safety-refuse"`` -> ``"safety"``), as upstream's ``startswith``."""
    return next((d for d in RM_BENCH_DOMAINS if raw.startswith(d)), None)


def cell_subset(domain: str, chosen_style: int, rejected_style: int) -> str:
    """The subset of the pairs in matrix cell (chosen style, rejected style) of a domain: ``"chat/02"``."""
    return f"{domain}/{chosen_style}{rejected_style}"


@dataclass(frozen=True)
class RMBenchItem:
    """One published item, before it becomes nine pairs."""

    source: str
    base_id: str  # <source>/<raw id> (the raw domain prepended when the id does not start with it)
    domain: str  # scored domain (RM_BENCH_DOMAINS)
    raw_domain: str
    raw_id: Any
    prompt: str
    chosen: tuple[str, ...]
    rejected: tuple[str, ...]
    row: RawRow

    @property
    def content(self) -> tuple:
        """What makes two rows of different files the same item (ids may differ between the files)."""
        return (self.domain, self.prompt, self.chosen, self.rejected)


def rm_bench_items(
    source: Source,
    rows: Rows,
    columns: Mapping[str, str] | None = None,
    skipped: Skipped = None,
    *,
    keys: Sequence[Any] | None = None,
    file_domain: str | None = None,
) -> list[RMBenchItem]:
    """Published rows -> items; ``file_domain`` is the raw domain of a ``<domain>_filtered.json`` file."""
    cols, rows_with_keys = prepare(source, rows, columns, keys)
    ids, items = UniqueIds(), []
    for key, row in rows_with_keys:
        raw_id = row.get(cols["id"], (int, str))
        raw_domain = row.get(cols["domain"], optional=True) or file_domain or str(raw_id).split("/")[0]
        domain = rm_bench_domain(raw_domain)
        prompt = row.get(cols["prompt"])
        chosen = tuple(row.get_list(cols["chosen"], str, length=len(RM_BENCH_STYLES)))
        rejected = tuple(row.get_list(cols["rejected"], str, length=len(RM_BENCH_STYLES)))
        if domain is None:
            count_skip(skipped, source.name, f"unknown domain {raw_domain!r}")
        elif is_blank(prompt):
            count_skip(skipped, domain, "empty prompt")
        else:
            local = str(raw_id) if str(raw_id).startswith(f"{raw_domain}/") else f"{raw_domain}/{raw_id}"
            base_id = ids(f"{source.name}/{local}", key)
            items.append(RMBenchItem(source.name, base_id, domain, raw_domain, raw_id, prompt, chosen, rejected, row))
    return items


def item_pairs(item: RMBenchItem) -> list[Record]:
    """The nine pair records of one item: chosen style i against rejected style j, in upstream's matrix order."""
    records = []
    for i, good in enumerate(item.chosen):
        for j, bad in enumerate(item.rejected):
            record_id = f"{item.base_id}/{i}{j}"
            responses, best = ordered_pair(record_id, good, bad)
            meta = {
                "raw_id": item.raw_id,
                "item": item.base_id,
                "domain": item.raw_domain,
                "chosen_style": RM_BENCH_STYLES[i],
                "rejected_style": RM_BENCH_STYLES[j],
                "identical": good == bad,  # a tie for any judge: wrong, as upstream counts it
                "blank_response": is_blank(good) or is_blank(bad),
            }
            records.append(
                item.row.record(
                    id=record_id,
                    source=item.source,
                    subset=cell_subset(item.domain, i, j),
                    split=SPLIT,
                    prompt=item.prompt,
                    responses=responses,
                    best=best,
                    meta=meta,
                )
            )
    return records


def rm_bench_records(
    source: Source,
    rows: Rows,
    columns: Mapping[str, str] | None = None,
    skipped: Skipped = None,
    *,
    keys: Sequence[Any] | None = None,
) -> list[Record]:
    """RM-Bench rows (the hub's ``total_dataset.json``, or one published file) -> nine pair records per item."""
    return [r for item in rm_bench_items(source, rows, columns, skipped, keys=keys) for r in item_pairs(item)]


def read_rm_bench_files(
    source: Source, path: str | os.PathLike, columns: Mapping[str, str] | None = None, skipped: Skipped = None
) -> list[Record]:
    """RM-Bench from ``total_dataset.json``, a ``<domain>_filtered.json`` file, or a folder of them (``data/``).

    The upstream ``data/`` folder holds every item twice (the per-domain files and ``total_dataset.json``): an
    item whose prompt and responses were already read from another file is left out and counted; one with the
    same id but other content raises, naming both files. Rows within one file are all kept, as upstream scores them.
    """
    path = Path(path)
    files = data_files(path)
    kept: list[RMBenchItem] = []
    by_content: dict[tuple, RMBenchItem] = {}
    by_id: dict[str, RMBenchItem] = {}
    for file in files:
        match = _FILE_DOMAIN.match(file.name)
        rows = read_rows(file)
        stem = file.relative_to(path).as_posix() if file != path else file.name
        keys = [f"{stem}/{i}" for i in range(len(rows))]
        file_items = rm_bench_items(
            source, rows, columns, skipped, keys=keys, file_domain=match.group(1) if match else None
        )
        for item in file_items:
            if _seen_in_other_file(item, by_content, by_id, skipped):
                continue
            kept.append(item)
        for item in file_items:
            by_content.setdefault(item.content, item)
            by_id.setdefault(item.base_id, item)
    return [r for item in kept for r in item_pairs(item)]


def _seen_in_other_file(
    item: RMBenchItem, by_content: dict[tuple, RMBenchItem], by_id: dict[str, RMBenchItem], skipped: Skipped
) -> bool:
    """True (and counted) when another file already gave this item; the same id with other content raises."""
    if item.content in by_content:
        count_skip(skipped, item.domain, "the same item already read from another file")
        return True
    other = by_id.get(item.base_id)
    if other is not None:
        raise RawDataError(
            f"RM-Bench id {item.raw_id!r} holds different items in two files: {other.row.where} and {item.row.where}"
        )
    return False


__all__ = [
    "RM_BENCH_DOMAINS",
    "RM_BENCH_STYLES",
    "RMBenchItem",
    "cell_subset",
    "item_pairs",
    "read_rm_bench_files",
    "rm_bench_domain",
    "rm_bench_items",
    "rm_bench_records",
]

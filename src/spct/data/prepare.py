"""Run every converter over the bundled raw data and write the fixed train / eval files with a manifest."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spct.data.converters import (
    convert_evalbiasbench,
    convert_hh_rlhf,
    convert_humanevalpack,
    convert_llmbar,
    convert_llmbar_processed,
    convert_pandalm,
    convert_xstest,
)
from spct.data.math_converters import convert_gsm8k, convert_math500, convert_math_cot
from spct.data.sources import Skipped
from spct.records import SPLITS, Record, RecordError, write_json_atomic, write_records

# (name, converter over the raw data folder); the raw paths are those of data/raw (see data/README.md).
CONVERTERS: tuple[tuple[str, Callable[[Path, Skipped], list[Record]]], ...] = (
    ("llmbar", lambda raw, skipped: convert_llmbar(raw / "llmbar", skipped)),
    ("llmbar-processed", lambda raw, skipped: convert_llmbar_processed(raw / "llmbar", skipped)),
    ("humanevalpack", lambda raw, skipped: convert_humanevalpack(raw / "humanevalpack", skipped=skipped)),
    ("xstest", lambda raw, skipped: convert_xstest(raw / "xstest", skipped=skipped)),
    (
        "hh-rlhf",
        lambda raw, skipped: convert_hh_rlhf(raw / "hh_rlhf" / "harmless-base" / "test.jsonl.gz", skipped=skipped),
    ),
    ("pandalm", lambda raw, skipped: convert_pandalm(raw / "pandalm" / "testset-v1.json", skipped=skipped)),
    ("evalbiasbench", lambda raw, skipped: convert_evalbiasbench(raw / "evalbiasbench" / "biasbench.json", skipped)),
    ("math500", lambda raw, skipped: convert_math500(raw / "math500" / "test.jsonl", skipped)),
    ("gsm8k", lambda raw, skipped: convert_gsm8k(raw / "qwen25_math_eval" / "gsm8k.jsonl", skipped=skipped)),
    ("math-cot", lambda raw, skipped: convert_math_cot(raw / "qwen25_math_eval" / "math_cot_100.jsonl", skipped)),
)


def prompt_key(prompt: str) -> str:
    """Prompts compared for split overlap ignoring case and whitespace differences."""
    return " ".join(prompt.split()).casefold()


def prepare_all(raw_dir: Path, skipped: Skipped = None, extra_train: Sequence[Record] = ()) -> list[Record]:
    """All converted records, with unique ids and no prompt shared between train and eval.

    A training record whose prompt also occurs in the evaluation split is dropped (counted in ``skipped`` as
    ``"<subset>: prompt also in eval"``): the bundled MATH-500 shares problems with math_cot_100, and the
    evaluation sets are fixed, so the training side gives way. The final checks raise ``RecordError``.
    ``extra_train`` adds training records from elsewhere (the hub sources of the ``download`` stage).
    """
    raw_dir = Path(raw_dir)
    records = [r for _, convert in CONVERTERS for r in convert(raw_dir, skipped)] + list(extra_train)
    records = drop_train_overlap(records, skipped)
    check_unique_ids(records)
    check_disjoint_splits(records)
    return records


def drop_train_overlap(records: list[Record], skipped: Skipped = None) -> list[Record]:
    """Remove training records whose prompt (see ``prompt_key``) is also an evaluation prompt."""
    eval_prompts = {prompt_key(r.prompt) for r in records if r.split == "eval"}
    kept = []
    for r in records:
        if r.split == "train" and prompt_key(r.prompt) in eval_prompts:
            if skipped is not None:
                skipped[f"{r.subset}: prompt also in eval"] += 1
            continue
        kept.append(r)
    return kept


def check_unique_ids(records: list[Record]) -> None:
    duplicates = sorted(i for i, n in Counter(r.id for r in records).items() if n > 1)
    if duplicates:
        raise RecordError(f"{len(duplicates)} duplicate record id(s), e.g. {duplicates[:5]}")


def check_disjoint_splits(records: list[Record]) -> None:
    by_split: dict[str, dict[str, str]] = {s: {} for s in SPLITS}
    for r in records:
        by_split[r.split].setdefault(prompt_key(r.prompt), r.id)
    shared = sorted(set(by_split["train"]) & set(by_split["eval"]))
    if shared:
        examples = [(by_split["train"][k], by_split["eval"][k]) for k in shared[:5]]
        raise RecordError(f"{len(shared)} prompt(s) in both train and eval, e.g. (train id, eval id) {examples}")


def shape(record: Record) -> str:
    return "single" if record.n == 1 else "pair" if record.n == 2 else "list"


def count_rows(records: list[Record]) -> list[dict[str, Any]]:
    """One row per subset: split, source, subset, shape, records (sorted by split, source, subset)."""
    counts = Counter((r.split, r.source, r.subset, shape(r)) for r in records)
    return [
        {"split": sp, "source": so, "subset": su, "shape": sh, "records": n}
        for (sp, so, su, sh), n in sorted(counts.items())
    ]


def format_count_table(records: list[Record]) -> str:
    rows = count_rows(records)
    columns = ("split", "source", "subset", "shape", "records")
    widths = {c: max(len(c), *(len(str(row[c])) for row in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(row[c]).ljust(widths[c]) for c in columns) for row in rows]
    totals = Counter(r.split for r in records)
    lines.append("total: " + ", ".join(f"{s} {totals[s]}" for s in SPLITS) + f", all {len(records)}")
    return "\n".join(lines)


def write_prepared(records: list[Record], out_dir: Path, skipped: Skipped = None) -> dict[str, Any]:
    """Write ``train.jsonl``, ``eval.jsonl`` and ``manifest.json`` (counts, sha256 per file); returns the manifest."""
    out_dir = Path(out_dir)
    files = {}
    for split in SPLITS:
        path = out_dir / f"{split}.jsonl"
        part = [r for r in records if r.split == split]
        write_records(path, part)
        files[path.name] = {"records": len(part), "sha256": _sha256(path)}
    manifest = {
        "files": files,
        "counts": count_rows(records),
        "by_source": _nested_counts(records, "source"),
        "skipped": dict(sorted((skipped or {}).items())),
    }
    write_json_atomic(out_dir / "manifest.json", manifest)
    return manifest


def _nested_counts(records: list[Record], key: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in records:
        by_split = out.setdefault(getattr(r, key), {})
        by_split[r.split] = by_split.get(r.split, 0) + 1
    return dict(sorted(out.items()))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

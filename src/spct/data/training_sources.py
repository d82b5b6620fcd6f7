"""The paper's training preference sources from the Hugging Face hub (the ``download`` stage).

SPCT's rejective fine-tuning and RL need preference items with a known best response and verifiable single
responses (SPCT.md section 2.1). This module converts five public training sets, in the row formats they are
published in, into ``spct.records.Record`` (split "train", ids ``<source>/<row key>``):

- ``ultrafeedback`` (openbmb/UltraFeedback): lists of n completions, best = the unique highest ``overall_score``;
- ``helpsteer2_preference`` (nvidia/HelpSteer2, data_dir ``preference``): human-annotated pairs;
- ``skywork_preference`` (Skywork/Skywork-Reward-Preference-80K-v0.2): chosen/rejected conversations;
- ``offsetbias`` (NCSOFT/offsetbias): pairs with a 1/2 label;
- ``math`` (EleutherAI/hendrycks_math, seven configs): the reference solution as a correct single response.

The converters are in ``spct.data.training_converters``; the generic loading in ``spct.data.sources``. Which hub
column feeds which field is data (``HUB_SOURCES[name].columns``), checked before converting; a caller
can override it when a hub schema moves. ``download_sources`` never hangs on a missing network: it honours
``HF_HUB_OFFLINE``, probes the hub once with a short timeout, and records an unreachable source as
"unavailable" in ``download.json`` instead of failing the stage.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spct.data.sources import Skipped, Source, fetch_rows, hub_unreachable_reason, offline_reason
from spct.data.training_converters import (
    helpsteer2_preference_records,
    math_records,
    offsetbias_records,
    skywork_preference_records,
    ultrafeedback_records,
)
from spct.records import Record, read_records, write_json_atomic, write_records

logger = logging.getLogger(__name__)

MATH_CONFIGS = [
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
]

HUB_SOURCES: dict[str, Source] = {
    "ultrafeedback": Source(
        name="ultrafeedback",
        hub_id="openbmb/UltraFeedback",
        split="train",
        columns={
            "instruction": "instruction",
            "completions": "completions",
            "completions.response": "response",
            "completions.overall_score": "overall_score",
            "completions.model": "model",
            "source": "source",
        },
        converter=ultrafeedback_records,
        optional=frozenset({"source"}),
    ),
    "helpsteer2_preference": Source(
        name="helpsteer2_preference",
        hub_id="nvidia/HelpSteer2",
        data_dir="preference",
        split="train",  # holds both the train and the val rows; the "split" column tells them apart
        columns={
            "split": "split",
            "prompt": "prompt",
            "response_1": "response_1",
            "response_2": "response_2",
            "preference_strength": "preference_strength",
        },
        converter=helpsteer2_preference_records,
    ),
    "skywork_preference": Source(
        name="skywork_preference",
        hub_id="Skywork/Skywork-Reward-Preference-80K-v0.2",
        split="train",
        columns={
            "chosen": "chosen",
            "rejected": "rejected",
            "messages.role": "role",
            "messages.content": "content",
            "source": "source",
        },
        converter=skywork_preference_records,
        optional=frozenset({"source"}),
    ),
    "offsetbias": Source(
        name="offsetbias",
        hub_id="NCSOFT/offsetbias",
        split="train",
        columns={"instruction": "instruction", "output_1": "output_1", "output_2": "output_2", "label": "label"},
        converter=offsetbias_records,
    ),
    "math": Source(
        name="math",
        hub_id="EleutherAI/hendrycks_math",
        config_names=MATH_CONFIGS,
        split="train",
        columns={"problem": "problem", "solution": "solution", "level": "level", "type": "type"},
        converter=math_records,
        optional=frozenset({"level", "type"}),
    ),
}


convert_ultrafeedback = HUB_SOURCES["ultrafeedback"].convert
convert_helpsteer2_preference = HUB_SOURCES["helpsteer2_preference"].convert
convert_skywork_preference = HUB_SOURCES["skywork_preference"].convert
convert_offsetbias = HUB_SOURCES["offsetbias"].convert
convert_math = HUB_SOURCES["math"].convert


# --- Loading from the hub ---------------------------------------------------------------------------------------


def hub_source(name: str) -> Source:
    """The declaration of training source ``name``; an unknown name raises ``ValueError``."""
    try:
        return HUB_SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown hub source {name!r}; known: {sorted(HUB_SOURCES)}") from None


def fetch_hub_rows(
    name: str, max_items: int | None = None, cache_dir: str | os.PathLike | None = None
) -> tuple[Any, list[str]]:
    """Download training source ``name``; returns (rows, row keys) (see ``spct.data.sources.fetch_rows``)."""
    return fetch_rows(hub_source(name), max_items, cache_dir)


def load_hub_source(
    name: str,
    max_items: int | None = None,
    columns: Mapping[str, str] | None = None,
    skipped: Skipped = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[Record]:
    """Download source ``name`` (see ``fetch_hub_rows``) and convert it; ``columns`` overrides the column mapping."""
    rows, keys = fetch_hub_rows(name, max_items, cache_dir)
    return convert_hub_rows(name, rows, columns, skipped, keys=keys)


def convert_hub_rows(
    name: str,
    rows: Iterable[Mapping[str, Any]],
    columns: Mapping[str, str] | None = None,
    skipped: Skipped = None,
    *,
    keys: Sequence[Any] | None = None,
) -> list[Record]:
    """Run source ``name``'s converter over published rows (a list of dicts or a ``datasets.Dataset``)."""
    return hub_source(name).convert(rows, columns, skipped, keys=keys)


def download_sources(
    names: Sequence[str],
    out_dir: str | os.PathLike,
    max_items: int | None = None,
    offline_fallback: Callable[[], list[Record]] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Download and convert each source to ``<out_dir>/<name>.jsonl``; write and return ``download.json``.

    A source that cannot be fetched (offline mode, hub unreachable, any exception from ``load_dataset``) gets no
    file and a status "offline" or "unavailable" with the reason; a file from an earlier run is left in place, and
    ``download.json`` says which files this run wrote. A conversion error (e.g. a moved schema) is raised. When some
    source is missing and ``offline_fallback`` is given, its records are written to ``fallback.jsonl`` once.
    """
    for name in names:
        hub_source(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    offline = offline_reason()
    unreachable = None if offline or not names else hub_unreachable_reason()
    entries = []
    for name in names:
        entry: dict[str, Any] = {"source": name, "hub_id": HUB_SOURCES[name].hub_id}
        if offline or unreachable:
            entry.update(status="offline" if offline else "unavailable", reason=offline or unreachable)
        else:
            try:
                rows, keys = fetch_hub_rows(name, max_items, cache_dir)
            except Exception as e:  # datasets raises many kinds for a missing network; the reason is recorded
                entry.update(status="unavailable", reason=f"{type(e).__name__}: {e}"[:500])
            else:
                skipped: Counter[str] = Counter()
                records = convert_hub_rows(name, rows, skipped=skipped, keys=keys)
                path = out_dir / f"{name}.jsonl"
                write_records(path, records)
                entry.update(
                    status="ok",
                    rows=len(keys),
                    records=len(records),
                    file=path.name,
                    skipped=dict(sorted(skipped.items())),
                )
        if entry["status"] != "ok":
            logger.warning("hub source %s (%s) %s: %s", name, entry["hub_id"], entry["status"], entry["reason"])
        entries.append(entry)
    missing = [e["source"] for e in entries if e["status"] != "ok"]
    fallback = None
    if missing and offline_fallback is not None:
        records = offline_fallback()
        write_records(out_dir / "fallback.jsonl", records)
        fallback = {"file": "fallback.jsonl", "records": len(records), "for_sources": missing}
    summary = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "max_items": max_items,
        "counts": {e["source"]: e["records"] for e in entries if e["status"] == "ok"},
        "sources": entries,
        "fallback": fallback,
    }
    write_json_atomic(out_dir / "download.json", summary)
    return summary


__all__ = [
    "HUB_SOURCES",
    "MATH_CONFIGS",
    "convert_helpsteer2_preference",
    "convert_hub_rows",
    "convert_math",
    "convert_offsetbias",
    "convert_skywork_preference",
    "convert_ultrafeedback",
    "download_sources",
    "fetch_hub_rows",
    "hub_source",
    "load_hub_source",
]


def downloaded_records(summary_path: str | os.PathLike) -> list[Record]:
    """The records of every source ``download_sources`` fetched (status ok), read from the files its summary names."""
    summary = json.loads(Path(summary_path).read_text())
    folder = Path(summary_path).parent
    return [r for entry in summary["sources"] if entry["status"] == "ok" for r in read_records(folder / entry["file"])]

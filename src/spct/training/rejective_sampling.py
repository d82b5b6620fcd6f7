"""Rejective sampling for the RFT cold start (SPCT.md 2.1).

For each training item the current model writes N_RFT non-hinted trajectories and, for items with a known
best response, one hinted trajectory (the prompt names the best response). A trajectory is kept only if it is
correct by Eq. 10. Items whose N_RFT non-hinted samples are all correct are "too easy" and dropped whole
(hinted sample included); they are also the items the RL stage leaves out. Hinted trajectories are trained on
the prompt WITHOUT the hint, so the model learns to reach the verdict on its own.

Every non-hinted trajectory is also kept with its Eq. 10 label: meta-RM training data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from spct.grm import is_correct
from spct.records import Record, write_json_atomic, write_jsonl_atomic
from spct.sampling import Sampler
from spct.sampling.judgments import HINTED, JudgeSettings, build_sample_prompt, read_judgments, run_judgments

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RejectiveSamplingConfig:
    """Args:
    n_rft (`int`, defaults to `3`): non-hinted samples per item (paper: N_RFT = 3).
    hinted (`bool`, defaults to `True`): also draw one hinted sample per item with a known best response.
    """

    n_rft: int = 3
    hinted: bool = True


def sample_plan(record: Record, config: RejectiveSamplingConfig) -> list[str | int]:
    """The samples rejective sampling draws for ``record``: 0..N_RFT-1, plus ``hinted`` for n >= 2."""
    plan: list[str | int] = list(range(config.n_rft))
    if config.hinted and record.best is not None:
        plan.append(HINTED)
    return plan


def _correct(record: Record, row: dict) -> bool:
    return row["valid"] and is_correct(row["scores"], record.best, record.label)


def select_trajectories(
    records: Sequence[Record], rows: Sequence[dict], settings: JudgeSettings
) -> tuple[list[dict], list[dict], list[dict]]:
    """Apply the RFT rules to sampled rows.

    Returns ``(sft_rows, labelled_trajectories, item_stats)``: accepted trajectories as prompt/completion chat
    examples, every non-hinted trajectory with its Eq. 10 label, and one statistics row per item.
    """
    by_item: dict[str, list[dict]] = {}
    for row in rows:
        by_item.setdefault(row["item_id"], []).append(row)
    sft_rows, labelled, stats = [], [], []
    for record in records:
        item_rows = by_item.get(record.id, [])
        plain = [row for row in item_rows if row["sample"] != HINTED]
        hinted = [row for row in item_rows if row["sample"] == HINTED]
        plain_correct = [_correct(record, row) for row in plain]
        too_easy = bool(plain) and all(plain_correct)
        labelled += [{**row, "label": float(ok)} for row, ok in zip(plain, plain_correct)]
        accepted = [] if too_easy else [row for row, ok in zip(plain, plain_correct) if ok]
        hinted_ok = [row for row in hinted if _correct(record, row)]
        if not too_easy:
            accepted += hinted_ok
        sft_rows += [sft_example(record, row, settings) for row in accepted]
        stats.append(
            {
                "item_id": record.id,
                "subset": record.subset,
                "n": record.n,
                "too_easy": too_easy,
                "nonhinted_sampled": len(plain),
                "nonhinted_correct": sum(plain_correct),
                "nonhinted_valid": sum(row["valid"] for row in plain),
                "hinted_sampled": len(hinted),
                "hinted_correct": len(hinted_ok),
                "hinted_valid": sum(row["valid"] for row in hinted),
                "accepted_nonhinted": sum(row["sample"] != HINTED for row in accepted),
                "accepted_hinted": sum(row["sample"] == HINTED for row in accepted),
            }
        )
    return sft_rows, labelled, stats


def sft_example(record: Record, row: dict, settings: JudgeSettings) -> dict:
    """A prompt/completion chat example; a hinted trajectory is paired with its prompt WITHOUT the hint."""
    prompt, _ = build_sample_prompt(record, row["sample"], settings, hinted=False)
    return {
        "prompt": [{"role": "user", "content": prompt}],
        "completion": [{"role": "assistant", "content": row["text"].strip()}],
        "item_id": record.id,
        "sample": str(row["sample"]),
        "hinted": row["sample"] == HINTED,
    }


def summarise(stats: Sequence[dict]) -> dict[str, float]:
    """Aggregate rates for MLflow and the stage's summary file."""
    items = len(stats)
    if items == 0:
        raise ValueError("rejective sampling got no items")
    sampled = sum(s["nonhinted_sampled"] + s["hinted_sampled"] for s in stats)
    valid = sum(s["nonhinted_valid"] + s["hinted_valid"] for s in stats)
    accepted_plain = sum(s["accepted_nonhinted"] for s in stats)
    accepted_hinted = sum(s["accepted_hinted"] for s in stats)
    return {
        "items": items,
        "too_easy_rate": sum(s["too_easy"] for s in stats) / items,
        "acceptance_rate": (accepted_plain + accepted_hinted) / max(sampled, 1),
        "parse_rate": valid / max(sampled, 1),
        "nonhinted_correct_rate": sum(s["nonhinted_correct"] for s in stats)
        / max(sum(s["nonhinted_sampled"] for s in stats), 1),
        "hinted_correct_rate": sum(s["hinted_correct"] for s in stats)
        / max(sum(s["hinted_sampled"] for s in stats), 1),
        "accepted_nonhinted": accepted_plain,
        "accepted_hinted": accepted_hinted,
    }


def run_rejective_sampling(
    records: Sequence[Record],
    sampler: Sampler,
    settings: JudgeSettings,
    config: RejectiveSamplingConfig,
    cache_path: Path,
    out_dir: Path,
    chunk_size: int = 64,
) -> dict[str, float]:
    """Sample every item's ``sample_plan`` (resumable through ``cache_path``) into ``out_dir/samples.jsonl``, apply
    the RFT rules and write ``sft.jsonl``, ``trajectories.jsonl``, ``items.jsonl`` and ``summary.json``; returns
    the summary."""
    out_dir = Path(out_dir)
    samples_path = out_dir / "samples.jsonl"
    plan = partial(sample_plan, config=config)
    run_judgments(records, sampler, settings, 0, cache_path, samples_path, chunk_size=chunk_size, samples=plan)
    sft_rows, labelled, stats = select_trajectories(records, read_judgments(samples_path), settings)
    summary = summarise(stats)
    write_jsonl_atomic(out_dir / "sft.jsonl", sft_rows)
    write_jsonl_atomic(out_dir / "trajectories.jsonl", labelled)
    write_jsonl_atomic(out_dir / "items.jsonl", stats)
    write_json_atomic(out_dir / "summary.json", summary)
    return summary


def filter_sft_rows(rows: Sequence[dict], kind: str) -> list[dict]:
    """RFT data for the ablations: ``all``, ``hinted`` (hinted-only) or ``nonhinted`` (non-hinted-only)."""
    if kind == "all":
        return list(rows)
    if kind in ("hinted", "nonhinted"):
        return [row for row in rows if row["hinted"] == (kind == "hinted")]
    raise ValueError(f"unknown RFT data kind {kind!r}; expected all, hinted or nonhinted")

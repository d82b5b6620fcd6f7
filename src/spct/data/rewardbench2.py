"""RewardBench 2 (allenai/reward-bench-2, split ``test``) in its published format -> ``Record`` (split "eval").

Published columns (dataset card, ``dataset_info``): ``id`` (string), ``prompt`` (string), ``chosen`` and ``rejected``
(lists of strings), ``num_correct``, ``num_incorrect``, ``total_completions``, ``models`` (list), ``subset`` and
``additional_metadata``. As upstream's ``load_bon_dataset_v2`` / ``reroll_and_score_dataset`` /
``process_single_model`` (allenai/reward-bench ``rewardbench/utils.py``) read them: the completions are ``chosen +
rejected`` in that order, the first ``num_correct`` of them are correct, and a Ties row's id is
``"<ref|tied>:<prompt id>"``.

- Every subset but Ties: one list record per row, all completions in one judge prompt. Identical texts are shown
  once (upstream's reward models give one text one score); ``meta["slots"]`` maps each published completion to its
  response, chosen first. Empty completions are kept: upstream scores them.
- Ties: one list record per prompt id holding its ``ref`` and ``tied`` samples (same prompt; identical texts once),
  with ``meta["ties"]`` naming the correct and incorrect responses of each sample, so the per-prompt formula of
  ``spct.evaluation.rewardbench2`` runs inside the item rule.

Rows that cannot become such a record are counted in ``skipped`` by reason, never dropped silently.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from spct.data.benchmark_converters import SPLIT, UniqueIds, conversation_turns
from spct.data.converters import render_conversation
from spct.data.raw import RawRow
from spct.data.sources import Rows, Skipped, Source, count_skip, is_blank, prepare
from spct.records import Record

TIES_SUBSET = "Ties"
_TIES_ID = re.compile(r"^(ref|tied):(\d+)$")
Sample = tuple[RawRow, str, str, list[str], int]  # row, subset, prompt, completions, num_correct


def is_ties(subset: str) -> bool:
    """The Ties subset, recognised as upstream's ``run_v2.py`` does (``subset.lower() == "ties"``)."""
    return subset.lower() == TIES_SUBSET.lower()


def rewardbench2_prompt(row: RawRow, column: str) -> str:
    """The prompt: text, or a list of ``{role, content}`` messages rendered as ``User: ...`` / ``Assistant: ...``."""
    value = row.get(column, (str, list))
    if isinstance(value, str):
        return value
    return render_conversation(conversation_turns(row, value, column, "role", "content"))


def hashed_order(record_id: str, texts: Sequence[str]) -> list[str]:
    """``texts`` in an order drawn from sha256 of the record id (the same in every process)."""
    seed = int.from_bytes(hashlib.sha256(record_id.encode("utf-8")).digest()[:8], "big")
    order = list(texts)
    random.Random(seed).shuffle(order)
    return order


def _completions(row: RawRow, cols: Mapping[str, str]) -> tuple[list[str], int]:
    """``chosen + rejected`` and ``num_correct``, checked against each other and ``total_completions``."""
    completions = row.get_list(cols["chosen"], str) + row.get_list(cols["rejected"], str)
    num_correct = row.get(cols["num_correct"], int)
    if not 1 <= num_correct <= len(completions):
        row.fail(f"{num_correct} correct of {len(completions)} completions", cols["num_correct"])
    total = row.get(cols["total_completions"], int, optional=True)
    if total is not None and total != len(completions):
        row.fail(f"{total}, but chosen + rejected hold {len(completions)}", cols["total_completions"])
    return completions, num_correct


def _best_of_n(
    source: Source, row: RawRow, cols: Mapping[str, str], record_id: str, parts: tuple[str, str, list[str], int]
) -> Record:
    subset, prompt, completions, num_correct = parts
    responses = hashed_order(record_id, list(dict.fromkeys(completions)))
    slots = [responses.index(text) for text in completions]
    meta = {
        "raw_id": row.get(cols["id"], (int, str)),
        "slots": slots,
        "num_correct": num_correct,
        "models": row.get(cols["models"], list, optional=True),  # one per published completion, i.e. per slot
    }
    return row.record(
        id=record_id,
        source=source.name,
        subset=subset,
        split=SPLIT,
        prompt=prompt,
        responses=responses,
        best=slots[0],
        meta=meta,
    )


def rewardbench2_records(
    source: Source,
    rows: Rows,
    columns: Mapping[str, str] | None = None,
    skipped: Skipped = None,
    *,
    keys: Sequence[Any] | None = None,
) -> list[Record]:
    """RewardBench 2 rows -> one list record per best-of-4 row and one per Ties prompt id (see the module doc).

    Counted skips: an empty prompt; a row whose completions are all one text; for Ties, a repeated
    ``ref``/``tied`` sample (the first is kept), a prompt id without both samples, ref and tied prompts that
    differ, a sample without incorrect answers or a tied sample with fewer than two correct ones.
    """
    cols, items = prepare(source, rows, columns, keys)
    ids, records = UniqueIds(), []
    ties: dict[str, dict[str, Sample]] = {}
    for key, row in items:
        subset = row.get(cols["subset"])
        if is_blank(subset):
            row.fail("empty subset name", cols["subset"])
        prompt = rewardbench2_prompt(row, cols["prompt"])
        completions, num_correct = _completions(row, cols)
        if is_blank(prompt):
            count_skip(skipped, subset, "empty prompt")
        elif is_ties(subset):
            kind, prompt_id = _ties_id(row, cols["id"])
            group = ties.setdefault(prompt_id, {})
            if kind in group:
                count_skip(skipped, subset, f"repeated {kind} sample of a Ties prompt id (the first is kept)")
            else:
                group[kind] = (row, subset, prompt, completions, num_correct)
        elif len(set(completions)) < 2:
            count_skip(skipped, subset, "all completions are one text")
        else:
            record_id = ids(f"{source.name}/{row.get(cols['id'], (int, str))}", key)
            records.append(_best_of_n(source, row, cols, record_id, (subset, prompt, completions, num_correct)))
    for prompt_id, group in ties.items():
        record = _ties_record(source, prompt_id, group, skipped)
        if record is not None:
            records.append(record)
    return records


def _ties_id(row: RawRow, column: str) -> tuple[str, str]:
    raw_id = str(row.get(column, (int, str)))
    match = _TIES_ID.match(raw_id)
    if match is None:
        row.fail(f"bad Ties id {raw_id!r}; expected 'ref:<number>' or 'tied:<number>'", column)
    return match.group(1), str(int(match.group(2)))


def _ties_problem(group: Mapping[str, Sample]) -> str | None:
    """Why a Ties prompt id cannot be one record, or None."""
    missing = [kind for kind in ("ref", "tied") if kind not in group]
    if missing:
        return f"Ties prompt id without its {missing[0]} sample"
    if group["ref"][2] != group["tied"][2]:
        return "ref and tied prompts of a Ties prompt id differ"
    for kind, (_, _, _, completions, num_correct) in group.items():
        if num_correct == len(completions):
            return f"Ties {kind} sample without incorrect answers"
    if group["tied"][4] < 2:
        return "Ties tied sample with fewer than two correct answers"
    return None


def _ties_record(source: Source, prompt_id: str, group: Mapping[str, Sample], skipped: Skipped) -> Record | None:
    problem = _ties_problem(group)
    if problem is not None:
        count_skip(skipped, next(iter(group.values()))[1], problem)
        return None
    record_id = f"{source.name}/ties/{prompt_id}"
    texts = [text for kind in ("ref", "tied") for text in group[kind][3]]
    responses = hashed_order(record_id, list(dict.fromkeys(texts)))
    parts, raw_ids = {}, []
    for kind in ("ref", "tied"):
        _, _, _, completions, num_correct = group[kind]
        index = [responses.index(text) for text in completions]
        parts[kind] = {"correct": index[:num_correct], "incorrect": index[num_correct:]}
        raw_ids.append(f"{kind}:{prompt_id}")
    row, subset, prompt = group["tied"][:3]
    return row.record(
        id=record_id,
        source=source.name,
        subset=subset,
        split=SPLIT,
        prompt=prompt,
        responses=responses,
        best=parts["tied"]["correct"][0],
        meta={"ties": parts, "raw_ids": raw_ids},
    )


__all__ = ["TIES_SUBSET", "hashed_order", "is_ties", "rewardbench2_prompt", "rewardbench2_records"]

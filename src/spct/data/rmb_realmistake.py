"""Converters of RMB (Zhou et al., ICLR 2025) and ReaLMistake in their published JSON formats -> ``Record``.

- ``rmb_records`` (RMB JSON files, local only): pairwise -> pairs, best-of-N -> list records, subset = one of
  ``Helpfulness-BoN``, ``Helpfulness-Pairwise``, ``Harmlessness-BoN``, ``Harmlessness-Pairwise``; the whole
  published ``RMB_dataset/`` folder is one benchmark (ids ``rmb/pair/<uid>``, ``rmb/bon/<uid>``);
- ``realmistake_records`` (local JSON/JSONL only; never bundled): single responses, label 1 = ``no_error``
  (Eq. 10); the published folder's ``example.jsonl`` is left out (``Source.extra_files``), counted.

Layouts read from upstream. RMB: Zhou-Zoey/RMB-Reward-Model-Benchmark ``RMB_dataset/`` (BoN_set commit 165a8f35,
Pairwise_set commit 94c5976b): JSON arrays of ``{pair_uid, conversation_input: [{role, content, language}], chosen:
{llm_name, answer, score}, reject: {...}, category_path}`` and ``{bon_uid, conversation_input, bon_best: {llm_name,
answer}, loser_list: [...], category_path}``, uids numeric strings, ``category_path`` e.g.
``BoN_set/Harmlessness/S10``; its scoring (``eval/scripts/my_run_rm.py``, commit 2be31808) counts a pair right only
when ``chosen > rejected`` (strict). ReaLMistake: psunlpgroup/ReaLMistake (commit 14193637) ``data.zip`` ->
``data/<task>/<gpt-4-0613|Llama-2-70b-chat-hf>.jsonl`` for three tasks (900 rows; README, ``src/config.py``,
``src/get_dataset_stats/get_dataset_stats.py`` reads ``error_label``) plus ``data/example.jsonl`` (the paper's
examples, duplicates of task rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spct.data.benchmark_converters import SPLIT, UniqueIds, conversation_turns, shuffled_order
from spct.data.build import ordered_pair, source_fields
from spct.data.converters import render_conversation
from spct.data.raw import RawRow
from spct.data.sources import (
    Rows,
    Skipped,
    Source,
    check_columns,
    count_skip,
    is_blank,
    resolve_columns,
    row_converter,
    row_keys,
)
from spct.records import Record

# --- RMB (Zhou et al., ICLR 2025; local JSON files) --------------------------------------------------------------

_RMB_KINDS = {"Pairwise_set": "Pairwise", "BoN_set": "BoN"}
_RMB_ID_KINDS = {"Pairwise": "pair", "BoN": "bon"}  # record ids rmb/pair/<pair_uid>, rmb/bon/<bon_uid>
_RMB_GOALS = ("Helpfulness", "Harmlessness")
_RMB_REQUIRED = {
    "Pairwise": ("pair_uid", "conversation_input", "chosen", "reject", "category_path"),
    "BoN": ("bon_uid", "conversation_input", "bon_best", "loser_list", "category_path"),
}


def rmb_subset(category_path: str) -> str | None:
    """``"BoN_set/Helpfulness/..."`` -> ``"Helpfulness-BoN"`` (an ``RMB_PARTS`` name); None when not of that form."""
    parts = category_path.strip("/").split("/")
    if len(parts) < 2 or parts[0] not in _RMB_KINDS or parts[1] not in _RMB_GOALS:
        return None
    return f"{parts[1]}-{_RMB_KINDS[parts[0]]}"  # one of the four RMB_PARTS of spct.evaluation.official


def _rmb_answer(row: RawRow, cols: Mapping[str, str], value: Any, what: str) -> tuple[str, Any]:
    """``{llm_name, answer}`` -> (answer text, model name)."""
    item = RawRow(value, f"{row.where}, {what}")
    return item.get(cols["answer.text"]), item.get(cols["answer.model"], optional=True)


def rmb_records(
    source: Source,
    rows: Rows,
    columns: Mapping[str, str] | None = None,
    skipped: Skipped = None,
    *,
    keys: Sequence[Any] | None = None,
) -> list[Record]:
    """RMB pairwise and best-of-N items (mixed freely) -> pair and list records with ids ``rmb/pair/<pair_uid>`` and
    ``rmb/bon/<bon_uid>`` (in the published data every ``bon_uid`` is also some ``pair_uid``).

    The kind and subset come from ``category_path`` (``Pairwise_set/`` or ``BoN_set/``, then ``Helpfulness/`` or
    ``Harmlessness/``); each item must carry that kind's columns. BoN responses = best + losers, with the best
    placed by ``shuffled_order``; pairs use ``ordered_pair`` (chosen is always first in the raw data);
    ``meta["models"]`` names the model of each response in that order. Every item RMB's own evaluation scores is
    kept, so the denominator is the official one: a loser whose text equals the best answer (a tie for any judge,
    which RMB's strict rule counts wrong; ``spct.evaluation.metrics.strict_rule`` scores it wrong whatever the
    sampled scores) and blank answers. Only what cannot be a record is left out, counted: a blank conversation and
    a BoN item without losers.
    """
    name = source.name
    cols = resolve_columns(source, columns)
    rows = list(rows) if not hasattr(rows, "column_names") else rows
    keys = row_keys(name, rows, keys)
    ids, records = UniqueIds(), []
    for key, raw in zip(keys, rows):
        row = raw if isinstance(raw, RawRow) else RawRow(raw, f"{name}, row {key}")
        path, subset, kind = _rmb_kind(source, row, cols, columns)
        prompt = _rmb_prompt(row, cols)
        (good, good_model), losers, uid = _rmb_answers(row, cols, kind)
        if is_blank(prompt):
            count_skip(skipped, subset, "empty conversation")
        elif not losers:
            count_skip(skipped, subset, "no losers")
        else:
            record_id = ids(f"{name}/{_RMB_ID_KINDS[kind]}/{uid}", key)
            texts, models = [good, *(t for t, _ in losers)], [good_model, *(m for _, m in losers)]
            if kind == "Pairwise":
                responses, best = ordered_pair(record_id, good, texts[1])
                order = [0, 1] if best == 0 else [1, 0]
            else:
                order, best = shuffled_order(record_id, len(texts))
                responses = [texts[i] for i in order]
            meta = {"category_path": path, "uid": uid, "best_model": good_model, "models": [models[i] for i in order]}
            fields = {"id": record_id, "source": name, "subset": subset, "split": SPLIT, "prompt": prompt}
            records.append(row.record(**fields, responses=responses, best=best, meta=meta))
    return records


def _rmb_prompt(row: RawRow, cols: Mapping[str, str]) -> str:
    column = cols["conversation_input"]
    turns = conversation_turns(row, row.get(column, list), column, cols["turn.role"], cols["turn.content"])
    return render_conversation(turns)


def _rmb_kind(
    source: Source, row: RawRow, cols: Mapping[str, str], columns: Mapping[str, str] | None
) -> tuple[str, str, str]:
    """(category path, subset, kind) of one RMB item, after checking it carries that kind's columns."""
    if not isinstance(row.data, Mapping):
        row.fail(f"expected an object with keys, got {type(row.data).__name__}")
    if cols["category_path"] not in row.data:
        check_columns(source, row.data, columns, required=["category_path"], where=row.where)
    path = row.get(cols["category_path"])
    subset = rmb_subset(path)
    if subset is None:
        row.fail(
            f"bad value {path!r}; expected 'Pairwise_set/' or 'BoN_set/' then 'Helpfulness/' or 'Harmlessness/'",
            cols["category_path"],
        )
    kind = subset.split("-")[1]
    check_columns(source, row.data, columns, required=_RMB_REQUIRED[kind], where=row.where)
    return path, subset, kind


def _rmb_answers(
    row: RawRow, cols: Mapping[str, str], kind: str
) -> tuple[tuple[str, Any], list[tuple[str, Any]], int | str]:
    """(best answer, model), [(loser answer, model)] and the item's uid (``pair_uid`` or ``bon_uid``)."""
    if kind == "Pairwise":
        best = _rmb_answer(row, cols, row.get(cols["chosen"], dict), cols["chosen"])
        losers = [_rmb_answer(row, cols, row.get(cols["reject"], dict), cols["reject"])]
        return best, losers, row.get(cols["pair_uid"], (int, str))
    best = _rmb_answer(row, cols, row.get(cols["bon_best"], dict), cols["bon_best"])
    losers = [
        _rmb_answer(row, cols, loser, f"{cols['loser_list']} item {j}")
        for j, loser in enumerate(row.get_list(cols["loser_list"], dict))
    ]
    return best, losers, row.get(cols["bon_uid"], (int, str))


# --- ReaLMistake (local JSON/JSONL; the authors ask that examples not be republished) -----------------------------

REALMISTAKE_LABELS = {"no_error": 1, "error": 0}  # Eq. 10: 1 = correct / no error


@row_converter
def realmistake_records(
    source: Source, cols: Mapping[str, str], key: str, row: RawRow, skipped: Skipped
) -> Record | None:
    """``{input, llm_response, error_label, error_categories, human_explanation, metadata}`` -> single responses.

    label 1 for ``no_error`` and 0 for ``error``; any other label is an error. The human explanation is not copied.
    """
    name = source.name
    label = row.get(cols["error_label"], allowed=REALMISTAKE_LABELS)
    prompt, response = row.get(cols["input"]), row.get(cols["llm_response"])
    if is_blank(prompt):
        count_skip(skipped, name, "empty input")
    elif is_blank(response):
        count_skip(skipped, name, "empty llm_response")
    else:
        return row.record(
            **source_fields(name, key, SPLIT),
            prompt=prompt,
            responses=[response],
            label=REALMISTAKE_LABELS[label],
            meta={
                "error_label": label,
                "error_categories": row.get(cols["error_categories"], (list, str), optional=True),
                "metadata": row.get(cols["metadata"], (dict, str), optional=True),
            },
        )
    return None


__all__ = ["REALMISTAKE_LABELS", "realmistake_records", "rmb_records", "rmb_subset"]

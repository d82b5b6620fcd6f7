"""Converters of the paper's benchmarks (SPCT.md section 4) in their published formats -> ``Record`` (split "eval").

- ``rewardbench_records`` (allenai/reward-bench, split ``filtered``): pairs, subset = the official subset name;
- ``ppe_preference_records`` (lmarena-ai/PPE-Human-Preference-V1, split ``test``): human-preference pairs, ties
  dropped;
- ``ppe_correctness_converter(domain)`` (lmarena-ai/PPE-<set>-Best-of-K, split ``train``): one pair per
  ``sampled_conflict_pairs`` entry (one correct, one incorrect response), subset = the domain.

RMB and ReaLMistake are in ``spct.data.rmb_realmistake``. Each converter is called as
``converter(source, rows, columns, skipped, keys=keys)`` with its ``spct.data.sources.Source`` declaration (in
``spct.evaluation.benchmarks.BENCHMARKS``); ``Source.convert`` binds it.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from spct.data.build import pair_record, usable_responses
from spct.data.converters import render_conversation
from spct.data.raw import RawRow
from spct.data.sources import Rows, Skipped, Source, count_skip, is_blank, prepare
from spct.records import Record

SPLIT = "eval"  # every benchmark here is evaluation data

_ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System"}


class UniqueIds:
    """Record ids from raw ids; a repeated raw id gets the row key appended so ids stay unique and stable."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, base: str, key: str) -> str:
        record_id = base if base not in self.seen else f"{base}~{key}"
        self.seen.add(record_id)
        return record_id


def shuffled_order(record_id: str, n: int) -> tuple[list[int], int]:
    """A permutation of ``range(n)`` drawn from sha256 of the record id, and where it puts index 0 (the best).

    Response ``order[i]`` goes to position ``i``; the same id always gives the same order, in every process.
    """
    order = list(range(n))
    seed = int.from_bytes(hashlib.sha256(record_id.encode("utf-8")).digest()[:8], "big")
    random.Random(seed).shuffle(order)
    return order, order.index(0)


def shuffled_best(record_id: str, best: str, others: Sequence[str]) -> tuple[list[str], int]:
    """Place the best response among ``others`` at a position drawn from sha256 of the record id (``shuffled_order``).

    The list analogue of ``ordered_pair``: the same id always gives the same order, in every process.
    """
    responses = [best, *others]
    order, position = shuffled_order(record_id, len(responses))
    return [responses[i] for i in order], position


def conversation_turns(
    row: RawRow, messages: list, column: str, role_key: str, content_key: str
) -> list[tuple[str, str]]:
    turns = []
    for j, message in enumerate(messages):
        item = RawRow(message, f"{row.where}, {column} message {j}")
        role = item.get(role_key)
        turns.append((_ROLE_NAMES.get(role.lower(), role.capitalize()), item.get(content_key).strip()))
    if not turns:
        row.fail("empty conversation", column)
    return turns


# --- RewardBench (allenai/reward-bench, split "filtered") --------------------------------------------------------


def rewardbench_records(
    source: Source,
    rows: Rows,
    columns: Mapping[str, str] | None = None,
    skipped: Skipped = None,
    *,
    keys: Sequence[Any] | None = None,
) -> list[Record]:
    """``{prompt, chosen, rejected, subset, id, chosen_model, rejected_model}`` -> pairs, subset kept verbatim.

    The chosen response is always first in the raw data, so the order comes from ``ordered_pair`` (sha256 of the
    record id ``rewardbench/<id>``). Empty or identical responses are skipped and counted.
    """
    name = source.name
    cols, items = prepare(source, rows, columns, keys)
    ids, records = UniqueIds(), []
    for key, row in items:
        subset = row.get(cols["subset"])
        good, bad, prompt = row.get(cols["chosen"]), row.get(cols["rejected"]), row.get(cols["prompt"])
        raw_id = row.get(cols["id"], (int, str))
        if is_blank(subset):
            row.fail("empty subset name", cols["subset"])
        if usable_responses(skipped, name, prompt, good, [bad]):
            records.append(
                pair_record(
                    row,
                    good,
                    bad,
                    id=ids(f"{name}/{raw_id}", key),
                    source=name,
                    subset=subset,
                    split=SPLIT,
                    prompt=prompt,
                    meta={
                        "raw_id": raw_id,
                        "chosen_model": row.get(cols["chosen_model"], optional=True),
                        "rejected_model": row.get(cols["rejected_model"], optional=True),
                    },
                )
            )
    return records


# --- PPE human preference (lmarena-ai/PPE-Human-Preference-V1, split "test") --------------------------------------

PPE_WINNERS = {"model_a": 0, "model_b": 1}  # winner value -> index of the preferred response
_TIE = re.compile(r"^\s*tie", re.IGNORECASE)  # "tie", "tie (bothbad)"


def _text_or_conversation(row: RawRow, column: str) -> str:
    """A prompt column holding either text or a list of ``{role, content}`` messages (rendered like HH-RLHF)."""
    value = row.get(column, (str, list))
    if isinstance(value, str):
        return value
    return render_conversation(conversation_turns(row, value, column, "role", "content"))


def ppe_preference_records(
    source: Source,
    rows: Rows,
    columns: Mapping[str, str] | None = None,
    skipped: Skipped = None,
    *,
    keys: Sequence[Any] | None = None,
) -> list[Record]:
    """``{question_id, prompt, response_1, response_2, winner, model_a, model_b, language, ...}`` -> pairs.

    ``winner`` "model_a" prefers ``response_1``, "model_b" ``response_2``; ties ("tie", "tie (bothbad)") are
    dropped and counted; any other value is an error. Both directions occur in the raw data, so its order is kept.
    """
    subset = "ppe-preference"
    cols, items = prepare(source, rows, columns, keys)
    ids, records = UniqueIds(), []
    for key, row in items:
        winner = row.get(cols["winner"])
        if _TIE.match(winner):
            count_skip(skipped, subset, f"tie ({winner})")
            continue
        if winner not in PPE_WINNERS:
            row.fail(f"bad value {winner!r}; expected one of {sorted(PPE_WINNERS)} or a tie", cols["winner"])
        first, second = row.get(cols["response_1"]), row.get(cols["response_2"])
        prompt = _text_or_conversation(row, cols["prompt"])
        if usable_responses(skipped, subset, prompt, first, [second]):
            question_id = row.get(cols["question_id"], (int, str), optional=True)
            records.append(
                row.record(
                    id=ids(f"{subset}/{question_id if question_id is not None else key}", key),
                    source="ppe",
                    subset=subset,
                    split=SPLIT,
                    prompt=prompt,
                    responses=[first, second],
                    best=PPE_WINNERS[winner],
                    meta={
                        "question_id": question_id,
                        "winner": winner,
                        "models": [row.get(cols["model_a"], optional=True), row.get(cols["model_b"], optional=True)],
                        "language": row.get(cols["language"], optional=True),
                    },
                )
            )
    return records


# --- PPE correctness (lmarena-ai/PPE-<set>-Best-of-K, split "train") ----------------------------------------------


def _response_columns(found: Iterable[str], prefix: str) -> dict[int, str]:
    """``{i: column}`` for columns ``<prefix><i+1>`` (``response_1`` holds response index 0)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)$")
    out = {}
    for column in found:
        match = pattern.match(column)
        if match and int(match.group(1)) >= 1:
            out[int(match.group(1)) - 1] = column
    return out


def _is_correct(row: RawRow, value: Any, column: str, index: int) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if value is None:
        return None
    row.fail(f"item {index} must be a 0/1 or boolean correctness score, got {value!r}", column)


def ppe_correctness_records(
    source: Source,
    rows: Rows,
    domain: str,
    columns: Mapping[str, str] | None = None,
    skipped: Skipped = None,
    *,
    keys: Sequence[Any] | None = None,
) -> list[Record]:
    """``{question_id, model_name, prompt, response_1..response_K, scores, sampled_conflict_pairs}`` -> pairs.

    ``scores[i]`` is the correctness (bool or 0/1) of response index i, held in column ``response_{i+1}``;
    ``sampled_conflict_pairs`` lists index pairs ``[i, j]``. Each pair with one correct and one incorrect response
    becomes one record ``ppe-correctness/<domain>/<row key>/<i>-<j>`` (order from ``ordered_pair``); other pairs
    are skipped and counted.
    """
    cols, items = prepare(source, rows, columns, keys)
    records = []
    for key, row in items:
        prefix = cols["response_prefix"]
        responses = _response_columns(row.data, prefix)
        if not responses:
            row.fail(f"no response columns named {prefix!r}<n>; found columns {sorted(row.data)}")
        scores = row.get(cols["scores"], list)
        pairs = row.get(cols["pairs"], list)
        prompt = _text_or_conversation(row, cols["prompt"])
        for pair in pairs:
            i, j = _checked_pair(row, pair, responses, len(scores), cols["pairs"])
            record_id = f"ppe-correctness/{domain}/{key}/{i}-{j}"
            texts = {index: row.get(responses[index], optional=True) or "" for index in (i, j)}
            record = _ppe_pair_record(row, cols, record_id, domain, prompt, (i, j), texts, scores, skipped)
            if record is not None:
                records.append(record)
    return records


def _checked_pair(row: RawRow, pair: Any, responses: Mapping[int, str], n_scores: int, column: str) -> tuple[int, int]:
    """``[i, j]`` as two response indices that have a score and a response column; anything else fails the row."""
    if (
        not isinstance(pair, list | tuple)
        or len(pair) != 2
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in pair)
    ):
        row.fail(f"each pair must be two response indices, got {pair!r}", column)
    i, j = pair
    for index in (i, j):
        if index not in responses or not 0 <= index < n_scores:
            row.fail(
                f"pair {[i, j]} names response index {index}, but there are {n_scores} scores and "
                f"response columns {sorted(responses.values())}",
                column,
            )
    return i, j


def _ppe_pair_record(
    row: RawRow,
    cols: Mapping[str, str],
    record_id: str,
    subset: str,
    prompt: str,
    pair: tuple[int, int],
    texts: Mapping[int, str],
    scores: Sequence[Any],
    skipped: Skipped,
) -> Record | None:
    """One conflict pair as a record (the correct response placed by ``ordered_pair``), or None when skipped.

    ``texts`` maps a response index to its text ("" for a missing one: skipped as an empty response).
    """
    i, j = pair
    ok_i, ok_j = _is_correct(row, scores[i], cols["scores"], i), _is_correct(row, scores[j], cols["scores"], j)
    good, bad = (texts[i], texts[j]) if ok_i else (texts[j], texts[i])
    if ok_i is None or ok_j is None or ok_i == ok_j:
        count_skip(skipped, subset, "pair is not one correct and one incorrect response")
    elif usable_responses(skipped, subset, prompt, good, [bad]):
        return pair_record(
            row,
            good,
            bad,
            id=record_id,
            source="ppe",
            subset=subset,
            split=SPLIT,
            prompt=prompt,
            meta={
                "question_id": row.get(cols["question_id"], (int, str), optional=True),
                "model_name": row.get(cols["model_name"], optional=True),
                "pair": [i, j],
            },
        )
    return None


def ppe_correctness_converter(domain: str) -> Callable[..., list[Record]]:
    """The converter of one PPE correctness domain (``ppe_correctness_records`` with ``domain`` bound)."""

    def convert(source: Source, rows: Rows, columns=None, skipped: Skipped = None, *, keys=None) -> list[Record]:
        return ppe_correctness_records(source, rows, domain, columns, skipped, keys=keys)

    convert.__name__ = f"ppe_correctness_records[{domain}]"
    return convert


__all__ = [
    "PPE_WINNERS",
    "SPLIT",
    "UniqueIds",
    "conversation_turns",
    "ppe_correctness_converter",
    "ppe_correctness_records",
    "ppe_preference_records",
    "rewardbench_records",
    "shuffled_best",
    "shuffled_order",
]

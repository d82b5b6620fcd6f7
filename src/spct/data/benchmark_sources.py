"""The paper's evaluation benchmarks (SPCT.md section 4) in their published formats -> ``Record`` (split "eval").

- ``rewardbench`` (allenai/reward-bench, split ``filtered``): pairs, subset = the official subset name;
- ``ppe_preference`` (lmarena-ai/PPE-Human-Preference-V1, split ``test``): human-preference pairs, ties dropped;
- ``ppe_mmlu_pro``, ``ppe_math``, ``ppe_gpqa``, ``ppe_mbpp_plus``, ``ppe_ifeval`` (lmarena-ai/PPE-<set>-Best-of-K,
  split ``train``): one pair per ``sampled_conflict_pairs`` entry (one correct, one incorrect response), subset =
  the domain as ``spct.evaluation.official.PPE_CORRECTNESS_DOMAINS`` spells it; ``ppe_correctness`` loads all five;
- ``rmb`` (RMB JSON files, local only): pairwise -> pairs, best-of-N -> list records, subset = one of
  ``spct.evaluation.official.RMB_PARTS``;
- ``realmistake`` (local JSON/JSONL only; never bundled): single responses, label 1 = ``no_error`` (Eq. 10).

``load_benchmark(name, path=None, columns=None, max_items=None)`` reads local files in the published format when
``path`` is given (JSON array, JSONL, JSONL.gz or parquet; a folder is read file by file), else the hub through
``datasets.load_dataset`` after the same offline / reachability checks as ``spct.data.hub``. Which column feeds
which field is data (``BENCHMARK_SOURCES[name].columns``), checked before converting, and overridable with
``columns={logical name: column}``. Converters also take rows directly (a list of dicts or a ``datasets.Dataset``).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spct.data.converters import Skipped, _count, ordered_pair, render_conversation
from spct.data.hub import _blank, hub_unreachable_reason, offline_reason
from spct.data.raw import RawDataError, RawRow, read_json_array, read_jsonl
from spct.data.selection import stratified_cap
from spct.evaluation.official import PPE_CORRECTNESS_DOMAINS, RMB_PARTS
from spct.records import Record

SPLIT = "eval"  # every benchmark here is evaluation data


class BenchmarkUnavailable(RuntimeError):
    """The hub must not or cannot be contacted (offline mode, no network); the message says why."""


# --- Sources and their column mappings --------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchmarkSource:
    """Where a benchmark lives and which columns its converter reads.

    ``columns`` maps a logical name (what the converter asks for) to the published column name; logical names with
    a dot name a key inside a nested object or list column and are not checked as top-level columns. ``optional``
    lists logical names that may be absent (metadata only). ``hub_id`` None means local files only.
    """

    name: str
    description: str
    hub_id: str | None
    split: str | None
    columns: dict[str, str]
    converter: Callable[..., list[Record]]
    optional: frozenset[str] = frozenset()
    config_name: str | None = None
    revision: str | None = None  # pin a hub revision for an exact rerun; None = the default branch
    confirmed: str = ""  # where the column layout was confirmed, or why it is assumed


def resolve_columns(name: str, override: Mapping[str, str] | None = None) -> dict[str, str]:
    """The benchmark's column mapping with ``override`` applied; an unknown logical name raises ``RawDataError``."""
    source = _source(name)
    override = dict(override or {})
    unknown = sorted(set(override) - set(source.columns))
    if unknown:
        raise RawDataError(
            f"{name}: unknown logical column(s) {unknown} in the override; known: {sorted(source.columns)}"
        )
    return {**source.columns, **override}


def check_columns(
    name: str,
    found: Iterable[str],
    columns: Mapping[str, str] | None = None,
    *,
    required: Iterable[str] | None = None,
    where: str | None = None,
) -> None:
    """Raise ``RawDataError`` when a required top-level column is missing, listing the columns found.

    ``required`` restricts the check to those logical names (RMB items of one kind); by default every non-optional,
    non-dotted logical name is required. (``spct.data.hub.check_columns`` only knows the hub training sources.)
    """
    source = _source(name)
    mapping = resolve_columns(name, columns)
    found = sorted(found)
    logical = [k for k in mapping if "." not in k and k not in source.optional] if required is None else list(required)
    missing = {k: mapping[k] for k in logical if mapping[k] not in found}
    if missing:
        wanted = ", ".join(f"{column!r} (for {key!r})" for key, column in sorted(missing.items()))
        origin = where or source.hub_id or name
        raise RawDataError(
            f"{origin}: {name}: missing column(s) {wanted}; found columns {found}. "
            "If the schema moved, pass columns={logical name: new column name}."
        )


def _source(name: str) -> BenchmarkSource:
    try:
        return BENCHMARK_SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; known: {sorted([*BENCHMARK_SOURCES, *GROUPS])}") from None


Rows = Iterable[Mapping[str, Any]] | Sequence[RawRow]


def _prepare(
    name: str, rows: Rows, columns: Mapping[str, str] | None, keys: Sequence[Any] | None
) -> tuple[dict[str, str], list[tuple[str, RawRow]]]:
    """Check the columns of ``rows`` and pair each row (wrapped as ``RawRow``) with its key.

    ``rows`` is a list of dicts, a ``datasets.Dataset`` (its schema is checked even when empty) or a list of
    ``RawRow`` from the local-file readers (their positions name file and line).
    """
    source = _source(name)
    mapping = resolve_columns(name, columns)
    if hasattr(rows, "column_names"):
        found: list[str] | None = list(rows.column_names)
        wrapped = None
    else:
        rows = list(rows)
        wrapped = [r for r in rows if isinstance(r, RawRow)]
        first = rows[0].data if rows and isinstance(rows[0], RawRow) else (rows[0] if rows else None)
        found = list(first) if isinstance(first, Mapping) else None
        if rows and found is None:
            where = rows[0].where if isinstance(rows[0], RawRow) else f"{source.hub_id or name}, row 0"
            raise RawDataError(f"{where}: expected an object with keys, got {type(first).__name__}")
    if found is not None and (found or len(rows)):
        first_where = wrapped[0].where if wrapped else None
        check_columns(name, found, columns, where=first_where)
    keys = list(range(len(rows))) if keys is None else list(keys)
    if len(keys) != len(rows):
        raise ValueError(f"{name}: {len(keys)} keys for {len(rows)} rows")
    origin = source.hub_id or name
    items = [
        (str(k), row if isinstance(row, RawRow) else RawRow(row, f"{origin}, row {k}")) for k, row in zip(keys, rows)
    ]
    return mapping, items


class _Ids:
    """Record ids from raw ids; a repeated raw id gets the row key appended so ids stay unique and stable."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, base: str, key: str) -> str:
        record_id = base if base not in self.seen else f"{base}~{key}"
        self.seen.add(record_id)
        return record_id


def shuffled_best(record_id: str, best: str, others: Sequence[str]) -> tuple[list[str], int]:
    """Place the best response among ``others`` at a position drawn from sha256 of the record id.

    The list analogue of ``ordered_pair``: the same id always gives the same order, in every process.
    """
    responses = [best, *others]
    order = list(range(len(responses)))
    seed = int.from_bytes(hashlib.sha256(record_id.encode("utf-8")).digest()[:8], "big")
    random.Random(seed).shuffle(order)
    return [responses[i] for i in order], order.index(0)


# --- RewardBench (allenai/reward-bench, split "filtered") --------------------------------------------------------


def convert_rewardbench(
    rows: Rows, columns: Mapping[str, str] | None = None, skipped: Skipped = None, *, keys: Sequence[Any] | None = None
) -> list[Record]:
    """``{prompt, chosen, rejected, subset, id, chosen_model, rejected_model}`` -> pairs, subset kept verbatim.

    The chosen response is always first in the raw data, so the order comes from ``ordered_pair`` (sha256 of the
    record id ``rewardbench/<id>``). Empty or identical responses are skipped and counted.
    """
    name = "rewardbench"
    cols, items = _prepare(name, rows, columns, keys)
    ids, records = _Ids(), []
    for key, row in items:
        subset = row.get(cols["subset"])
        good, bad, prompt = row.get(cols["chosen"]), row.get(cols["rejected"]), row.get(cols["prompt"])
        raw_id = row.get(cols["id"], (int, str))
        if _blank(subset):
            row.fail("empty subset name", cols["subset"])
        if _blank(prompt):
            _count(skipped, name, "empty prompt")
        elif _blank(good) or _blank(bad):
            _count(skipped, name, "empty response")
        elif good == bad:
            _count(skipped, name, "identical responses")
        else:
            record_id = ids(f"{name}/{raw_id}", key)
            responses, best = ordered_pair(record_id, good, bad)
            records.append(
                row.record(
                    id=record_id,
                    source=name,
                    subset=subset,
                    split=SPLIT,
                    prompt=prompt,
                    responses=responses,
                    best=best,
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
    return render_conversation(_turns(row, value, column, "role", "content"))


def convert_ppe_preference(
    rows: Rows, columns: Mapping[str, str] | None = None, skipped: Skipped = None, *, keys: Sequence[Any] | None = None
) -> list[Record]:
    """``{question_id, prompt, response_1, response_2, winner, model_a, model_b, language, ...}`` -> pairs.

    ``winner`` "model_a" prefers ``response_1``, "model_b" ``response_2``; ties ("tie", "tie (bothbad)") are
    dropped and counted; any other value is an error. Both directions occur in the raw data, so its order is kept.
    """
    name = "ppe_preference"
    subset = "ppe-preference"
    cols, items = _prepare(name, rows, columns, keys)
    ids, records = _Ids(), []
    for key, row in items:
        winner = row.get(cols["winner"])
        if _TIE.match(winner):
            _count(skipped, subset, f"tie ({winner})")
            continue
        if winner not in PPE_WINNERS:
            row.fail(f"bad value {winner!r}; expected one of {sorted(PPE_WINNERS)} or a tie", cols["winner"])
        first, second = row.get(cols["response_1"]), row.get(cols["response_2"])
        prompt = _text_or_conversation(row, cols["prompt"])
        if _blank(prompt):
            _count(skipped, subset, "empty prompt")
        elif _blank(first) or _blank(second):
            _count(skipped, subset, "empty response")
        elif first == second:
            _count(skipped, subset, "identical responses")
        else:
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


def convert_ppe_correctness(
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
    if domain not in PPE_CORRECTNESS_DOMAINS:
        raise ValueError(f"unknown PPE correctness domain {domain!r}; expected one of {PPE_CORRECTNESS_DOMAINS}")
    name = PPE_DOMAIN_SOURCES[domain]
    subset = domain
    cols, items = _prepare(name, rows, columns, keys)
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
            if (
                not isinstance(pair, list | tuple)
                or len(pair) != 2
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in pair)
            ):
                row.fail(f"each pair must be two response indices, got {pair!r}", cols["pairs"])
            i, j = pair
            for index in (i, j):
                if index not in responses or not 0 <= index < len(scores):
                    row.fail(
                        f"pair {[i, j]} names response index {index}, but there are {len(scores)} scores and "
                        f"response columns {sorted(responses.values())}",
                        cols["pairs"],
                    )
            ok_i, ok_j = _is_correct(row, scores[i], cols["scores"], i), _is_correct(row, scores[j], cols["scores"], j)
            text_i, text_j = row.get(responses[i], optional=True), row.get(responses[j], optional=True)
            if ok_i is None or ok_j is None or ok_i == ok_j:
                _count(skipped, subset, "pair is not one correct and one incorrect response")
            elif _blank(prompt):
                _count(skipped, subset, "empty prompt")
            elif text_i is None or text_j is None or _blank(text_i) or _blank(text_j):
                _count(skipped, subset, "empty response")
            elif text_i == text_j:
                _count(skipped, subset, "identical responses")
            else:
                good, bad = (text_i, text_j) if ok_i else (text_j, text_i)
                record_id = f"ppe-correctness/{domain}/{key}/{i}-{j}"
                ordered, best = ordered_pair(record_id, good, bad)
                records.append(
                    row.record(
                        id=record_id,
                        source="ppe",
                        subset=subset,
                        split=SPLIT,
                        prompt=prompt,
                        responses=ordered,
                        best=best,
                        meta={
                            "question_id": row.get(cols["question_id"], (int, str), optional=True),
                            "model_name": row.get(cols["model_name"], optional=True),
                            "pair": [i, j],
                        },
                    )
                )
    return records


# --- RMB (Zhou et al., ICLR 2025; local JSON files) --------------------------------------------------------------

_ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System"}
_RMB_KINDS = {"Pairwise_set": "Pairwise", "BoN_set": "BoN"}
_RMB_GOALS = ("Helpfulness", "Harmlessness")
_RMB_REQUIRED = {
    "Pairwise": ("pair_uid", "conversation_input", "chosen", "reject", "category_path"),
    "BoN": ("bon_uid", "conversation_input", "bon_best", "loser_list", "category_path"),
}


def _turns(row: RawRow, messages: list, column: str, role_key: str, content_key: str) -> list[tuple[str, str]]:
    turns = []
    for j, message in enumerate(messages):
        item = RawRow(message, f"{row.where}, {column} message {j}")
        role = item.get(role_key)
        turns.append((_ROLE_NAMES.get(role.lower(), role.capitalize()), item.get(content_key).strip()))
    if not turns:
        row.fail("empty conversation", column)
    return turns


def rmb_subset(category_path: str) -> str | None:
    """``"BoN_set/Helpfulness/..."`` -> ``"Helpfulness-BoN"`` (an ``RMB_PARTS`` name); None when not of that form."""
    parts = category_path.strip("/").split("/")
    if len(parts) < 2 or parts[0] not in _RMB_KINDS or parts[1] not in _RMB_GOALS:
        return None
    subset = f"{parts[1]}-{_RMB_KINDS[parts[0]]}"
    return subset if subset in RMB_PARTS else None


def _rmb_answer(row: RawRow, cols: Mapping[str, str], value: Any, what: str) -> tuple[str, Any]:
    """``{llm_name, answer}`` -> (answer text, model name)."""
    item = RawRow(value, f"{row.where}, {what}")
    return item.get(cols["answer.text"]), item.get(cols["answer.model"], optional=True)


def convert_rmb(
    rows: Rows, columns: Mapping[str, str] | None = None, skipped: Skipped = None, *, keys: Sequence[Any] | None = None
) -> list[Record]:
    """RMB pairwise and best-of-N items (mixed freely) -> pair and list records.

    The kind and subset come from ``category_path`` (``Pairwise_set/`` or ``BoN_set/``, then ``Helpfulness/`` or
    ``Harmlessness/``); each item must carry that kind's columns. BoN responses = best + losers, with the best
    placed by ``shuffled_best``; pairs use ``ordered_pair`` (chosen is always first in the raw data). Items with an
    empty answer or a loser identical to the best are skipped and counted. The full ``category_path`` is in meta.
    """
    name = "rmb"
    cols = resolve_columns(name, columns)
    rows = list(rows) if not hasattr(rows, "column_names") else rows
    keys = list(range(len(rows))) if keys is None else list(keys)
    if len(keys) != len(rows):
        raise ValueError(f"{name}: {len(keys)} keys for {len(rows)} rows")
    ids, records = _Ids(), []
    for key, raw in zip(keys, rows):
        row = raw if isinstance(raw, RawRow) else RawRow(raw, f"{name}, row {key}")
        if not isinstance(row.data, Mapping):
            row.fail(f"expected an object with keys, got {type(row.data).__name__}")
        if cols["category_path"] not in row.data:
            check_columns(name, row.data, columns, required=["category_path"], where=row.where)
        path = row.get(cols["category_path"])
        subset = rmb_subset(path)
        if subset is None:
            row.fail(
                f"bad value {path!r}; expected 'Pairwise_set/' or 'BoN_set/' then 'Helpfulness/' or 'Harmlessness/'",
                cols["category_path"],
            )
        kind = subset.split("-")[1]
        check_columns(name, row.data, columns, required=_RMB_REQUIRED[kind], where=row.where)
        prompt = render_conversation(
            _turns(
                row,
                row.get(cols["conversation_input"], list),
                cols["conversation_input"],
                cols["turn.role"],
                cols["turn.content"],
            )
        )

        if kind == "Pairwise":
            (good, good_model), (bad, bad_model) = (
                _rmb_answer(row, cols, row.get(cols["chosen"], dict), cols["chosen"]),
                _rmb_answer(row, cols, row.get(cols["reject"], dict), cols["reject"]),
            )
            others, models, uid = [bad], [good_model, bad_model], row.get(cols["pair_uid"], (int, str))
        else:
            good, good_model = _rmb_answer(row, cols, row.get(cols["bon_best"], dict), cols["bon_best"])
            losers = [
                _rmb_answer(row, cols, loser, f"{cols['loser_list']} item {j}")
                for j, loser in enumerate(row.get_list(cols["loser_list"], dict))
            ]
            others, models = [text for text, _ in losers], [good_model, *(m for _, m in losers)]
            uid = row.get(cols["bon_uid"], (int, str))
        if not others:
            _count(skipped, subset, "no losers")
        elif _blank(prompt):
            _count(skipped, subset, "empty prompt")
        elif _blank(good) or any(_blank(t) for t in others):
            _count(skipped, subset, "empty answer")
        elif good in others:
            _count(skipped, subset, "a loser identical to the best answer")
        else:
            record_id = ids(f"{name}/{uid}", key)
            if kind == "Pairwise":
                responses, best = ordered_pair(record_id, good, others[0])
            else:
                responses, best = shuffled_best(record_id, good, others)
            records.append(
                row.record(
                    id=record_id,
                    source=name,
                    subset=subset,
                    split=SPLIT,
                    prompt=prompt,
                    responses=responses,
                    best=best,
                    meta={"category_path": path, "uid": uid, "best_model": good_model, "models": models},
                )
            )
    return records


# --- ReaLMistake (local JSON/JSONL; the authors ask that examples not be republished) -----------------------------

REALMISTAKE_LABELS = {"no_error": 1, "error": 0}  # Eq. 10: 1 = correct / no error


def convert_realmistake(
    rows: Rows, columns: Mapping[str, str] | None = None, skipped: Skipped = None, *, keys: Sequence[Any] | None = None
) -> list[Record]:
    """``{input, llm_response, error_label, error_categories, human_explanation, metadata}`` -> single responses.

    label 1 for ``no_error`` and 0 for ``error``; any other label is an error. The human explanation is not copied.
    """
    name = "realmistake"
    cols, items = _prepare(name, rows, columns, keys)
    records = []
    for key, row in items:
        label = row.get(cols["error_label"], allowed=REALMISTAKE_LABELS)
        prompt, response = row.get(cols["input"]), row.get(cols["llm_response"])
        if _blank(prompt):
            _count(skipped, name, "empty input")
        elif _blank(response):
            _count(skipped, name, "empty llm_response")
        else:
            records.append(
                row.record(
                    id=f"{name}/{key}",
                    source=name,
                    subset=name,
                    split=SPLIT,
                    prompt=prompt,
                    responses=[response],
                    label=REALMISTAKE_LABELS[label],
                    meta={
                        "error_label": label,
                        "error_categories": row.get(cols["error_categories"], (list, str), optional=True),
                        "metadata": row.get(cols["metadata"], (dict, str), optional=True),
                    },
                )
            )
    return records


# --- The sources ----------------------------------------------------------------------------------------------


def _ppe_domain_converter(domain: str) -> Callable[..., list[Record]]:
    def convert(rows: Rows, columns=None, skipped: Skipped = None, *, keys=None) -> list[Record]:
        return convert_ppe_correctness(rows, domain, columns, skipped, keys=keys)

    convert.__name__ = f"convert_ppe_correctness[{domain}]"
    return convert


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

BENCHMARK_SOURCES: dict[str, BenchmarkSource] = {
    "rewardbench": BenchmarkSource(
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
        converter=convert_rewardbench,
        optional=frozenset({"chosen_model", "rejected_model"}),
        confirmed="SPCT.md section 4 (columns and split); third-party loaders in the code index agree",
    ),
    "ppe_preference": BenchmarkSource(
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
        converter=convert_ppe_preference,
        optional=frozenset({"question_id", "model_a", "model_b", "language"}),
        confirmed=(
            "hub id and split 'test' from the hub file listing (docs index: refs/convert/parquet/default/test); "
            "columns from lmarena-ai/PPE-Debug's card (question_id, prompt, response_1, response_2, winner) and "
            "third-party loaders (winner 'model_a'/'model_b', model_a, model_b, language)"
        ),
    ),
    **{
        PPE_DOMAIN_SOURCES[domain]: BenchmarkSource(
            name=PPE_DOMAIN_SOURCES[domain],
            description=f"PPE correctness {domain}: one pair per sampled conflict pair (one correct, one incorrect)",
            hub_id=f"lmarena-ai/PPE-{domain}-Best-of-K",
            split="train",
            columns=dict(_PPE_CORRECTNESS_COLUMNS),
            converter=_ppe_domain_converter(domain),
            optional=frozenset({"response_prefix", "question_id", "model_name"}),
            confirmed=_PPE_CONFIRMED,
        )
        for domain in PPE_CORRECTNESS_DOMAINS
    },
    "rmb": BenchmarkSource(
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
        converter=convert_rmb,
        optional=frozenset({"pair_uid", "bon_uid", "chosen", "reject", "bon_best", "loser_list"}),  # kind-specific
        confirmed="SPCT.md section 4 record schemas; third-party RMB loaders in the code index agree",
    ),
    "realmistake": BenchmarkSource(
        name="realmistake",
        description="ReaLMistake single responses, label 1 = no_error; local only (password zip, never bundled)",
        hub_id=None,
        split=None,
        columns={
            "input": "input",
            "llm_response": "llm_response",
            "error_label": "error_label",
            "error_categories": "error_categories",
            "metadata": "metadata",
        },
        converter=convert_realmistake,
        optional=frozenset({"error_categories", "metadata"}),
        confirmed="SPCT.md section 4 record schema",
    ),
}

GROUPS: dict[str, list[str]] = {"ppe_correctness": [PPE_DOMAIN_SOURCES[d] for d in PPE_CORRECTNESS_DOMAINS]}


# --- Local files ----------------------------------------------------------------------------------------------

_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet")


def _data_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES))
    if not files:
        raise FileNotFoundError(f"{path}: no data files ({', '.join(_SUFFIXES)})")
    return files


def read_rows(path: str | os.PathLike) -> list[RawRow]:
    """Rows of one file in a published format, each located by file and line / index / row."""
    path = Path(path)
    name = path.name
    if name.endswith((".jsonl", ".jsonl.gz")):
        return read_jsonl(path)
    if name.endswith(".json"):
        return read_json_array(path)
    if name.endswith(".parquet"):
        import datasets

        table = datasets.Dataset.from_parquet(str(path))
        return [RawRow(row, f"{path}, row {i}") for i, row in enumerate(table)]
    raise RawDataError(f"{path}: unsupported file type; expected one of {', '.join(_SUFFIXES)}")


def load_local(
    name: str,
    path: str | os.PathLike,
    columns: Mapping[str, str] | None = None,
    skipped: Skipped = None,
) -> list[Record]:
    """Convert a file, or every data file under a folder (sorted), of benchmark ``name`` in its published format.

    Row keys are the 0-based row index for one file and ``<relative path without suffix>/<index>`` for a folder, so
    a single downloaded file gives the same ids as the hub. RMB items are keyed the same way but take their ids from
    ``pair_uid`` / ``bon_uid``.
    """
    if name in GROUPS:
        return _load_local_group(name, Path(path), columns, skipped)
    source = _source(name)
    path = Path(path)
    files = _data_files(path)
    records: list[Record] = []
    for file in files:
        rows = read_rows(file)
        if len(files) == 1 and file == path:
            keys: list[Any] = list(range(len(rows)))
        else:
            stem = file.relative_to(path).as_posix()
            stem = re.sub(r"\.(jsonl\.gz|jsonl|json|parquet)$", "", stem)
            keys = [f"{stem}/{i}" for i in range(len(rows))]
        records += source.converter(rows, columns, skipped, keys=keys)
    return _unique(records)


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
    for file in _data_files(path):
        stem = _norm(re.sub(r"(best-?of-?k)?\.(jsonl\.gz|jsonl|json|parquet)$", "", file.name, flags=re.I))
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


def _unique(records: list[Record]) -> list[Record]:
    seen: dict[str, Record] = {}
    for record in records:
        if record.id in seen:
            raise RawDataError(f"duplicate record id {record.id!r} across files; keep one copy of each file")
        seen[record.id] = record
    return records


# --- The hub --------------------------------------------------------------------------------------------------


def fetch_benchmark_rows(name: str, cache_dir: str | os.PathLike | None = None) -> Any:
    """Download benchmark ``name`` with ``datasets.load_dataset``; returns the ``datasets.Dataset``.

    Raises ``BenchmarkUnavailable`` without waiting when ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` is set or one
    short probe of the hub fails (``spct.data.hub.offline_reason`` / ``hub_unreachable_reason``).
    """
    source = _source(name)
    if source.hub_id is None:
        raise ValueError(f"{name} is not on the hub; pass path= to its downloaded files")
    reason = offline_reason() or hub_unreachable_reason()
    if reason:
        raise BenchmarkUnavailable(f"{name} ({source.hub_id}): {reason}")
    import datasets

    return datasets.load_dataset(
        source.hub_id,
        name=source.config_name,
        split=source.split,
        revision=source.revision,
        cache_dir=None if cache_dir is None else str(cache_dir),
    )


def load_hub(
    name: str, columns: Mapping[str, str] | None = None, skipped: Skipped = None, cache_dir=None
) -> list[Record]:
    if name in GROUPS:
        return [r for member in GROUPS[name] for r in load_hub(member, columns, skipped, cache_dir)]
    rows = fetch_benchmark_rows(name, cache_dir)
    return convert_benchmark_rows(name, rows, columns, skipped)


def convert_benchmark_rows(
    name: str, rows: Rows, columns: Mapping[str, str] | None = None, skipped: Skipped = None, *, keys=None
) -> list[Record]:
    """Run benchmark ``name``'s converter over published rows (dicts, a ``datasets.Dataset`` or ``RawRow``s)."""
    return _source(name).converter(rows, columns, skipped, keys=keys)


def load_benchmark(
    name: str,
    path: str | os.PathLike | None = None,
    columns: Mapping[str, str] | None = None,
    max_items: int | None = None,
    *,
    skipped: Skipped = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[Record]:
    """Records of benchmark ``name`` (a key of ``BENCHMARK_SOURCES`` or ``"ppe_correctness"``).

    With ``path`` read local files in the published format (see ``load_local``), else the hub (see
    ``fetch_benchmark_rows``). ``columns`` overrides the column mapping; ``max_items`` caps the records the way the
    workflow does (``spct.evaluation.benchmarks.stratified_cap``: round-robin over subsets and labels, hash order);
    ``skipped`` counts dropped items by ``"<subset>: <reason>"``.
    """
    if name not in GROUPS:
        _source(name)
    records = load_hub(name, columns, skipped, cache_dir) if path is None else load_local(name, path, columns, skipped)
    return records if max_items is None else stratified_cap(records, max_items)


__all__ = [
    "BENCHMARK_SOURCES",
    "GROUPS",
    "PPE_DOMAIN_SOURCES",
    "PPE_WINNERS",
    "REALMISTAKE_LABELS",
    "BenchmarkSource",
    "BenchmarkUnavailable",
    "check_columns",
    "convert_benchmark_rows",
    "convert_ppe_correctness",
    "convert_ppe_preference",
    "convert_realmistake",
    "convert_rewardbench",
    "convert_rmb",
    "fetch_benchmark_rows",
    "load_benchmark",
    "load_hub",
    "load_local",
    "load_rmb",
    "read_rows",
    "resolve_columns",
    "rmb_subset",
    "shuffled_best",
]

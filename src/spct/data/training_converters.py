"""Converters of the paper's training preference sources, in the row formats the hub publishes them in
(SPCT.md section 2.1), into ``spct.records.Record`` (split "train", ids ``<source>/<row key>``).

Each converter is called as ``converter(source, rows, columns, skipped, keys=keys)`` with its declaration from
``spct.data.training_sources.HUB_SOURCES`` (``Source.convert`` binds it): the declaration's columns say which
published column feeds which field, and ``columns`` overrides them. Each is written for one row and made a
converter by ``spct.data.sources.row_converter``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from spct.data.build import pair_record, source_fields, usable_responses
from spct.data.converters import render_conversation
from spct.data.raw import RawRow
from spct.data.sources import Skipped, Source, count_skip, is_blank, row_converter
from spct.records import Record

SPLIT = "train"  # every hub source here is training data


# --- UltraFeedback (openbmb/UltraFeedback) --------------------------------------------------------------------


@row_converter
def ultrafeedback_records(
    source: Source, cols: Mapping[str, str], key: str, row: RawRow, skipped: Skipped
) -> Record | None:
    """``{instruction, completions: [{model, response, overall_score, ...}], source}`` -> one list record per row.

    best = the completion with the unique highest ``overall_score``. Rows with fewer than two completions, a tied
    maximum, a completion without a score, an empty response or an empty instruction are skipped and counted.
    """
    name = source.name
    completions = row.get_list(cols["completions"], dict)
    if len(completions) < 2:
        count_skip(skipped, name, "fewer than 2 completions")
        return None
    responses, scores, models = [], [], []
    for j, completion in enumerate(completions):
        item = RawRow(completion, f"{row.where}, completion {j}")
        responses.append(item.get(cols["completions.response"]))
        scores.append(item.get(cols["completions.overall_score"], (int, float), optional=True))
        models.append(item.get(cols["completions.model"], optional=True))
    prompt = row.get(cols["instruction"])
    if any(s is None for s in scores):
        count_skip(skipped, name, "completion without overall_score")
    elif any(is_blank(r) for r in responses):
        count_skip(skipped, name, "empty response")
    elif is_blank(prompt):
        count_skip(skipped, name, "empty prompt")
    elif scores.count(max(scores)) > 1:
        count_skip(skipped, name, "tied highest overall_score")
    else:
        return row.record(
            **source_fields(name, key, SPLIT),
            prompt=prompt,
            responses=responses,
            best=scores.index(max(scores)),
            meta={"origin": row.get(cols["source"], optional=True), "models": models, "scores": scores},
        )
    return None


# --- HelpSteer2 preferences (nvidia/HelpSteer2, data_dir "preference") ----------------------------------------

_HS2_TURN = re.compile(r"\s*<extra_id_[01]>(User|Assistant|System)[ \t]*\n?")


def helpsteer2_turns(prompt: str) -> list[tuple[str, str]]:
    """``"{user 1}\\n<extra_id_1>Assistant\\n{assistant 1}\\n<extra_id_1>User\\n{user 2}"`` -> [(role, text)].

    This is the multi-turn layout the HelpSteer2 card documents: the first user turn has no marker (one is
    accepted), the later turns start with ``<extra_id_1>Assistant`` / ``<extra_id_1>User``.
    """
    parts = _HS2_TURN.split(prompt)
    turns = [("User", parts[0].strip())] if parts[0].strip() else []
    turns += [(role, text.strip()) for role, text in zip(parts[1::2], parts[2::2])]
    return turns


@row_converter
def helpsteer2_preference_records(
    source: Source, cols: Mapping[str, str], key: str, row: RawRow, skipped: Skipped
) -> Record | None:
    """``{split, prompt, response_1, response_2, preference_strength, ...}`` -> pairs from the "train" rows.

    ``preference_strength`` runs from -3 (response 1 much better) to 3 (response 2 much better); 0 is a tie and is
    skipped, as are rows of another split ("val"). Both directions occur, so the raw order is kept.
    """
    name = source.name
    split = row.get(cols["split"])
    if split != "train":
        count_skip(skipped, name, f"split {split!r}")
        return None
    strength = row.get(cols["preference_strength"], (int, float))
    first, second = row.get(cols["response_1"]), row.get(cols["response_2"])
    turns = helpsteer2_turns(row.get(cols["prompt"]))
    if strength == 0:
        count_skip(skipped, name, "tie (preference_strength 0)")
    elif not turns:
        count_skip(skipped, name, "empty prompt")
    elif usable_responses(skipped, name, None, first, [second]):
        return row.record(
            **source_fields(name, key, SPLIT),
            prompt=render_conversation(turns),
            responses=[first, second],
            best=0 if strength < 0 else 1,
            meta={"preference_strength": strength, "turns": len(turns)},
        )
    return None


# --- Skywork Reward Preference 80K v0.2 ------------------------------------------------------------------------

_ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System"}


def _conversation(row: RawRow, cols: Mapping[str, str], key: str) -> list[tuple[str, str]]:
    messages = row.get_list(cols[key], dict)
    turns = []
    for j, message in enumerate(messages):
        item = RawRow(message, f"{row.where}, {key} message {j}")
        turns.append((item.get(cols["messages.role"]), item.get(cols["messages.content"])))
    return turns


@row_converter
def skywork_preference_records(
    source: Source, cols: Mapping[str, str], key: str, row: RawRow, skipped: Skipped
) -> Record | None:
    """``{chosen: [{role, content}], rejected: [...], source}``: shared context -> prompt, final replies -> pair.

    The raw data always lists the chosen conversation first, so the pair order comes from ``ordered_pair`` (a
    sha256 of the record id). Rows whose contexts differ, whose last messages are not both from the assistant,
    with no context, or with identical or empty final replies are skipped and counted.
    """
    name = source.name
    chosen, rejected = _conversation(row, cols, "chosen"), _conversation(row, cols, "rejected")
    if not chosen or not rejected:
        count_skip(skipped, name, "empty conversation")
        return None
    if chosen[:-1] != rejected[:-1]:
        count_skip(skipped, name, "contexts differ")
        return None
    if chosen[-1][0] != "assistant" or rejected[-1][0] != "assistant":
        count_skip(skipped, name, "last message not from the assistant")
        return None
    context = [(_ROLE_NAMES.get(role, role.capitalize()), text.strip()) for role, text in chosen[:-1]]
    good, bad = chosen[-1][1], rejected[-1][1]
    if not context or all(is_blank(text) for _, text in context):
        count_skip(skipped, name, "empty prompt")
    elif usable_responses(
        skipped, name, None, good, [bad], empty="empty final reply", identical="identical final replies"
    ):
        return pair_record(
            row,
            good,
            bad,
            **source_fields(name, key, SPLIT),
            prompt=render_conversation(context),
            meta={"origin": row.get(cols["source"], optional=True), "turns": len(context)},
        )
    return None


# --- OffsetBias (NCSOFT/offsetbias) ----------------------------------------------------------------------------


@row_converter
def offsetbias_records(
    source: Source, cols: Mapping[str, str], key: str, row: RawRow, skipped: Skipped
) -> Record | None:
    """``{instruction, output_1, output_2, label}`` with label 1 or 2 (the better output) -> pair.

    The order is re-drawn by ``ordered_pair`` so that no label imbalance in the raw file becomes a position signal;
    the raw label is kept in ``meta``.
    """
    name = source.name
    label = row.get(cols["label"], int, allowed=(1, 2))
    outputs = {1: row.get(cols["output_1"]), 2: row.get(cols["output_2"])}
    good, bad = outputs[label], outputs[3 - label]
    prompt = row.get(cols["instruction"])
    if usable_responses(skipped, name, prompt, good, [bad], empty="empty output", identical="identical outputs"):
        return pair_record(row, good, bad, **source_fields(name, key, SPLIT), prompt=prompt, meta={"raw_label": label})
    return None


# --- MATH (EleutherAI/hendrycks_math) --------------------------------------------------------------------------

_BOXED = re.compile(r"\\(?:boxed|fbox)")


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, nested braces included.

    ``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``; the brace-less form ``\\boxed 5`` gives ``5``. None when there
    is no box or the last one is never closed.
    """
    matches = list(_BOXED.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :]
    if rest.startswith(" "):
        answer = rest.strip().split("$", 1)[0].strip()
        return answer or None
    if not rest.startswith("{"):
        return None
    depth = 0
    for i, char in enumerate(rest):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return rest[1:i].strip()
    return None


@row_converter
def math_records(source: Source, cols: Mapping[str, str], key: str, row: RawRow, skipped: Skipped) -> Record | None:
    """``{problem, level, type, solution}`` -> a single-response record (label 1) with the boxed answer as reference.

    Mirrors the bundled MATH-500 converter; solutions without a ``\\boxed`` answer are skipped and counted.
    """
    name = source.name
    problem, solution = row.get(cols["problem"]), row.get(cols["solution"])
    answer = last_boxed(solution)
    if answer is None:
        count_skip(skipped, name, "no \\boxed answer in the solution")
    elif is_blank(problem):
        count_skip(skipped, name, "empty problem")
    else:
        return row.record(
            **source_fields(name, key, SPLIT),
            prompt=problem,
            responses=[solution],
            label=1,
            reference=answer,
            meta={
                "type": row.get(cols["type"], optional=True),
                "level": row.get(cols["level"], optional=True),
            },
        )
    return None


__all__ = [
    "SPLIT",
    "helpsteer2_preference_records",
    "helpsteer2_turns",
    "last_boxed",
    "math_records",
    "offsetbias_records",
    "skywork_preference_records",
    "ultrafeedback_records",
]

"""Converter of JudgeBench (Tan et al., 2024) in its published format -> one pair ``Record`` per response pair.

Schema, read from ScalerLab/JudgeBench (README.md and ``data/*.jsonl`` at commit
12a499c5c29f06940d259b49250fca627d2a0ee5; the hub copy ``ScalerLab/JudgeBench`` has the same fields, split ``gpt``
= 350 GPT-4o pairs and ``claude`` = 270 Claude-3.5-Sonnet pairs): one JSON object per line with ``pair_id``,
``original_id`` (an integer in the files, a string in the README), ``source`` (``mmlu-pro-<subject>``,
``livebench-reasoning``, ``livebench-math``, ``livecodebench``), ``question``, ``response_model``, ``response_A``,
``response_B`` and ``label`` (``"A>B"`` or ``"B>A"``).

- responses = ``[response_A, response_B]`` in the published order (so a judgment that shows the record's order,
  ``permutation == [0, 1]``, is upstream's first game and the swapped one its second); best = the label's winner;
- subset = the category of ``source``, by upstream's own prefixes (``run_judge.py`` at
  d8740a811eb8c64a37eb22a1f3c80ff194ec284d filters ``x["source"].startswith(prefix)``): ``mmlu-pro`` -> Knowledge,
  ``livebench-reasoning`` -> Reasoning, ``livebench-math`` -> Math, ``livecodebench`` -> Coding (the paper's
  names); any other source raises, naming file and line, since upstream's categories would not cover it;
- id = ``judgebench/<response_model>/<pair_id>``: the two response-model files share questions (``original_id``)
  and may share ``pair_id``s, so the response model keeps the ids of a folder holding both files unique;
- kept as published, because upstream judges and counts them: identical A/B texts (``meta["identical"]``) and an
  empty response; left out and counted by reason: a label other than ``A>B`` / ``B>A`` (upstream's rule has no
  winner for it) and an empty question (a record needs a prompt).
"""

from __future__ import annotations

from collections.abc import Mapping

from spct.data.benchmark_converters import SPLIT
from spct.data.raw import RawRow
from spct.data.sources import Skipped, Source, count_skip, is_blank, row_converter
from spct.records import Record

# source prefix -> category (JudgeBench paper names), in upstream's reporting order
JUDGEBENCH_CATEGORIES = {
    "mmlu-pro": "Knowledge",
    "livebench-reasoning": "Reasoning",
    "livebench-math": "Math",
    "livecodebench": "Coding",
}
JUDGEBENCH_LABELS = {"A>B": 0, "B>A": 1}  # label -> index of the better response in [response_A, response_B]


def judgebench_category(source: str) -> str | None:
    """The category of a JudgeBench ``source`` (``"mmlu-pro-health"`` -> ``"Knowledge"``); None if unknown."""
    for prefix, category in JUDGEBENCH_CATEGORIES.items():
        if source.startswith(prefix):
            return category
    return None


@row_converter
def judgebench_records(
    source: Source, cols: Mapping[str, str], key: str, row: RawRow, skipped: Skipped
) -> Record | None:
    """``{pair_id, original_id, source, question, response_model, response_A, response_B, label}`` -> a pair.

    See the module docstring for the order, subset, id and what is kept or counted in ``skipped``.
    """
    name = source.name
    origin = row.get(cols["source"])
    category = judgebench_category(origin)
    if category is None:
        row.fail(f"unknown source {origin!r}; expected one starting with {sorted(JUDGEBENCH_CATEGORIES)}", "source")
    label = row.get(cols["label"], str, optional=True)
    question = row.get(cols["question"])
    response_a, response_b = row.get(cols["response_A"]), row.get(cols["response_B"])
    model, pair_id = row.get(cols["response_model"]), row.get(cols["pair_id"], (str, int))
    if label not in JUDGEBENCH_LABELS:
        count_skip(skipped, category, f"label {label!r} is not A>B or B>A")
        return None
    if is_blank(question):
        count_skip(skipped, category, "empty question")
        return None
    return row.record(
        id=f"{name}/{model}/{pair_id}",
        source=name,
        subset=category,
        split=SPLIT,
        prompt=question,
        responses=[response_a, response_b],
        best=JUDGEBENCH_LABELS[label],
        meta={
            "pair_id": pair_id,
            "original_id": row.get(cols["original_id"], (str, int), optional=True),
            "judgebench_source": origin,
            "response_model": model,
            "label": label,
            "identical": response_a == response_b,
        },
    )


__all__ = ["JUDGEBENCH_CATEGORIES", "JUDGEBENCH_LABELS", "judgebench_category", "judgebench_records"]

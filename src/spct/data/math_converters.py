"""Converters of the bundled math sets (data/raw, see data/README.md): single reference solutions from MATH-500,
GSM8K and math_cot, each a ``spct.records.Record`` with ids ``<subset>/<raw index>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from spct.data.build import subset_fields
from spct.data.raw import RawRow, Skipped, read_jsonl
from spct.records import Record

# --- MATH-500 and GSM8K: single reference solutions ----------------------------------------------------------


def convert_math500(path: Path, skipped: Skipped = None) -> list[Record]:
    """``{problem, solution, answer, subject, level}``: the reference solution as a correct response."""
    subset = "math500"
    return [
        row.record(
            **subset_fields(f"{subset}/{row.index}", "math500", subset),
            prompt=row.get("problem"),
            responses=[row.get("solution")],
            label=1,
            reference=row.get("answer"),
            meta={"subject": row.get("subject", optional=True), "level": row.get("level", int, optional=True)},
        )
        for row in read_jsonl(path, skipped=skipped)
    ]


_CALC = re.compile(r"<<[^<>]*>>")


def gsm8k_solution(row: RawRow) -> tuple[str, str]:
    """``answer`` -> (readable solution, final answer).

    GSM8K solutions carry calculator annotations ``<<3*4=12>>`` and end in ``#### <answer>``; the annotations
    are removed and the last line is written as a sentence, so the response reads like a model's answer.
    """
    text = row.get("answer")
    body, sep, final = text.rpartition("####")
    if not sep or not final.strip():
        row.fail("expected a solution ending in '#### <final answer>'", "answer")
    final = final.strip()
    return f"{_CALC.sub('', body).strip()}\nThe answer is {final}.", final


def convert_gsm8k(path: Path, limit: int | None = 300, skipped: Skipped = None) -> list[Record]:
    """``{question, answer, idx}`` (Qwen2.5-Math eval copy): the reference solution as a correct response."""
    subset = "gsm8k"
    records = []
    for row in read_jsonl(path, limit=limit, skipped=skipped):
        i = row.index
        solution, final = gsm8k_solution(row)
        idx = row.get("idx", int, optional=True)
        records.append(
            row.record(
                **subset_fields(f"{subset}/{i if idx is None else idx}", "gsm8k", subset),
                prompt=row.get("question"),
                responses=[solution],
                label=1,
                reference=final,
            )
        )
    return records


# --- math_cot_100 (QwenLM/Qwen2.5-Math): sampled answers with correctness labels ------------------------------


def convert_math_cot(path: Path, skipped: Skipped = None) -> list[Record]:
    """``{idx, question, gt, pred[n], score[n], response[n]}`` -> best-of-n lists and single-response records.

    A problem with mixed correctness gives (a) one ``math-cot-bon`` list of its first correct response plus all
    incorrect ones (raw order kept), so exactly one response is best, and (b) one ``math-cot-single`` record
    per response (label = score). An all-correct or all-wrong problem gives one single record (response 0).
    """
    records = []
    for row in read_jsonl(path, skipped=skipped):
        idx = row.get("idx", (int, str))
        question, gt = row.get("question"), row.get("gt")
        responses = row.get_list("response", str)
        if not responses:
            row.fail("expected at least one response", "response")
        scores = row.get_list("score", bool, length=len(responses))
        preds = row.get_list("pred", str, length=len(responses))
        correct = [i for i, s in enumerate(scores) if s]
        wrong = [i for i, s in enumerate(scores) if not s]
        common = {"prompt": question, "reference": gt}
        if correct and wrong:
            keep = sorted([correct[0], *wrong])
            records.append(
                row.record(
                    **subset_fields(f"math-cot-bon/{idx}", "math-cot", "math-cot-bon"),
                    responses=[responses[i] for i in keep],
                    best=keep.index(correct[0]),
                    meta={"raw_indices": keep, "preds": [preds[i] for i in keep]},
                    **common,
                )
            )
        for i in range(len(responses)) if correct and wrong else [0]:
            records.append(
                row.record(
                    **subset_fields(f"math-cot-single/{idx}/{i}", "math-cot", "math-cot-single"),
                    responses=[responses[i]],
                    label=int(scores[i]),
                    meta={"raw_index": i, "pred": preds[i]},
                    **common,
                )
            )
    return records

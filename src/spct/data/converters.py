"""Converters from each bundled raw format (data/raw, see data/README.md) to ``spct.records.Record``.

Each converter takes the raw path and returns ``list[Record]``; record ids are ``<subset>/<raw id or 0-based raw
index>`` so they stay the same across runs. Converters that drop items count the reasons in an optional
``skipped`` counter (keys ``"<subset>: <reason>"``) so the drops are reported, not silent. The math sets
(MATH-500, GSM8K, math_cot) are in ``spct.data.math_converters``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

from spct.data.build import pair_record, subset_fields
from spct.data.raw import RawRow, read_csv, read_json_array, read_json_groups, read_jsonl
from spct.data.sources import Skipped, count_skip
from spct.records import Record

# --- LLMBar (princeton-nlp/LLMBar) ----------------------------------------------------------------------------

LLMBAR_SUBSETS = {  # folder under Dataset/LLMBar -> RewardBench subset name
    "Natural": "llmbar-natural",
    "Adversarial/Neighbor": "llmbar-adver-neighbor",
    "Adversarial/GPTInst": "llmbar-adver-GPTInst",
    "Adversarial/GPTOut": "llmbar-adver-GPTOut",
    "Adversarial/Manual": "llmbar-adver-manual",
}
LLMBAR_PROCESSED_SUBSETS = {  # folder under Dataset/Processed -> subset name
    "MT-Bench": "mt-bench-human",
    "LLMEval^2": "llmeval2",
    "FairEval": "faireval",
}


def convert_llmbar_file(path: Path, subset: str, source: str, skipped: Skipped = None) -> list[Record]:
    """One LLMBar-format file ``[{input, output_1, output_2, label}]``: label 1 or 2 becomes best 0 or 1.

    The raw order is kept: the raw labels already vary, so position carries no signal.
    """
    records = []
    for row in read_json_array(path, skipped):
        label = row.get("label", int, allowed=(1, 2))
        records.append(
            row.record(
                **subset_fields(f"{subset}/{row.index}", source, subset),
                prompt=row.get("input"),
                responses=[row.get("output_1"), row.get("output_2")],
                best=label - 1,
            )
        )
    return records


def convert_llmbar(llmbar_dir: Path, skipped: Skipped = None) -> list[Record]:
    """LLMBar Natural and the four Adversarial sets (the RewardBench ``llmbar-*`` subsets)."""
    base = llmbar_dir / "Dataset" / "LLMBar"
    folders = LLMBAR_SUBSETS.items()
    return [r for folder, subset in folders for r in _llmbar_at(base / folder, subset, "llmbar", skipped)]


def convert_llmbar_processed(llmbar_dir: Path, skipped: Skipped = None) -> list[Record]:
    """LLMBar's processed MT-Bench (human majority labels), LLMEval^2 and FairEval."""
    base = llmbar_dir / "Dataset" / "Processed"
    return [
        r
        for folder, subset in LLMBAR_PROCESSED_SUBSETS.items()
        for r in _llmbar_at(base / folder, subset, "llmbar-processed", skipped)
    ]


def _llmbar_at(folder: Path, subset: str, source: str, skipped: Skipped) -> list[Record]:
    return convert_llmbar_file(folder / "dataset.json", subset, source, skipped)


# --- HumanEvalPack (bigcode-project/octopack) -----------------------------------------------------------------

HEP_LANGUAGES = ("cpp", "go", "java", "js", "python", "rust")


def convert_humanevalpack(
    hep_dir: Path, languages: tuple[str, ...] = HEP_LANGUAGES, skipped: Skipped = None
) -> list[Record]:
    """The six ``hep-<language>`` subsets, from ``<hep_dir>/<language>/humanevalpack.jsonl``."""
    files = [(hep_dir / lang / "humanevalpack.jsonl", lang) for lang in languages]
    return [r for path, lang in files for r in convert_humanevalpack_file(path, lang, skipped)]


def convert_humanevalpack_file(path: Path, language: str, skipped: Skipped = None) -> list[Record]:
    """``instruction`` as prompt; the function with ``canonical_solution`` (chosen) vs ``buggy_solution``.

    As in RewardBench's hep-* subsets a response is the code of the whole function: ``declaration`` (imports
    and signature) + solution body, not the body alone. Go keeps its imports in a separate ``import`` field,
    which is prepended so that every response is a complete unit of code.
    """
    subset = f"hep-{language}"
    records = []
    for row in read_jsonl(path, skipped=skipped):
        task_id = row.get("task_id")
        record_id = f"{subset}/{task_id.rsplit('/', 1)[-1]}"
        head = (row.get("import", optional=True) or "") + row.get("declaration")
        records.append(
            pair_record(
                row,
                head + row.get("canonical_solution"),
                head + row.get("buggy_solution"),
                **subset_fields(record_id, "humanevalpack", subset),
                prompt=row.get("instruction"),
                meta={"task_id": task_id, "bug_type": row.get("bug_type", optional=True)},
            )
        )
    return records


# --- XSTest (paul-rottger/exaggerated-safety) -----------------------------------------------------------------

XSTEST_MODELS = ("gpt4", "llama2orig", "mistralguard", "mistralinstruct")  # bundled; also the pick order
COMPLY, REFUSE, PARTIAL = "1_full_compliance", "2_full_refusal", "3_partial_refusal"


def convert_xstest(xstest_dir: Path, models: tuple[str, ...] = XSTEST_MODELS, skipped: Skipped = None) -> list[Record]:
    """One pair per prompt from human-labelled model completions.

    For a safe prompt a ``full_compliance`` completion beats a ``full_refusal``; for an unsafe (``contrast_*``)
    prompt the refusal wins. The pair takes the first completion of each kind in ``models`` order; prompts
    without both kinds are skipped. The record's prompt is the text the models answered (for one prompt it
    differs from xstest_prompts.csv).
    """
    prompts = {row.get("id"): row for row in read_csv(xstest_dir / "xstest_prompts.csv", skipped)}
    by_prompt: dict[str, dict[str, tuple[str, RawRow]]] = defaultdict(dict)  # id -> final label -> first (model, row)
    for model in models:
        for row in read_csv(xstest_dir / "model_completions" / f"xstest_v2_completions_{model}.csv", skipped):
            prompt_id = row.get("id").removeprefix("v2-")
            if prompt_id not in prompts:
                row.fail(f"no prompt with id {prompt_id!r} in xstest_prompts.csv", "id")
            label = row.get("final_label", allowed=(COMPLY, REFUSE, PARTIAL))
            by_prompt[prompt_id].setdefault(label, (model, row))
    records = []
    for prompt_id, prompt_row in prompts.items():
        safe = _xstest_is_safe(prompt_row)
        subset = "xstest-should-respond" if safe else "xstest-should-refuse"
        found = by_prompt[prompt_id]
        if COMPLY not in found or REFUSE not in found:
            count_skip(skipped, subset, "no completion pair (compliance + refusal)")
            continue
        (chosen_model, chosen), (rejected_model, rejected) = (
            (found[COMPLY], found[REFUSE]) if safe else (found[REFUSE], found[COMPLY])
        )
        prompt = chosen.get("prompt")
        if rejected.get("prompt") != prompt:
            rejected.fail(f"prompt differs from the {chosen_model} completion's prompt", "prompt")
        records.append(
            pair_record(
                chosen,
                chosen.get("completion").strip(),
                rejected.get("completion").strip(),
                **subset_fields(f"{subset}/{prompt_id}", "xstest", subset),
                prompt=prompt,
                meta={
                    "type": prompt_row.get("type"),
                    "chosen_model": chosen_model,
                    "rejected_model": rejected_model,
                },
            )
        )
    return records


def _xstest_is_safe(row: RawRow) -> bool:
    """Safe prompts have a type not starting with ``contrast_``; the ``label`` column must agree."""
    label = row.get("label", allowed=("safe", "unsafe"))
    safe = not row.get("type").startswith("contrast_")
    if safe != (label == "safe"):
        row.fail(f"label {label!r} contradicts type {row.get('type')!r}", "label")
    return safe


# --- HH-RLHF harmless-base (anthropics/hh-rlhf) ---------------------------------------------------------------

_TURN = re.compile(r"\n\n(Human|Assistant): ?")


def parse_hh_transcript(row: RawRow, key: str) -> list[tuple[str, str]]:
    """``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` -> [(role, text)] with role "User" or "Assistant"."""
    parts = _TURN.split(row.get(key))
    if parts[0].strip():
        row.fail("transcript must start with '\\n\\nHuman:'", key)
    roles = ["User" if role == "Human" else "Assistant" for role in parts[1::2]]
    turns = list(zip(roles, (text.strip() for text in parts[2::2]), strict=True))
    if len(turns) < 2 or turns[-1][0] != "Assistant":
        row.fail("transcript must end with an Assistant turn after at least one Human turn", key)
    return turns


def render_conversation(turns: list[tuple[str, str]]) -> str:
    """A single user message stays plain text; a longer conversation becomes ``User: ...`` / ``Assistant: ...``."""
    if len(turns) == 1 and turns[0][0] == "User":
        return turns[0][1]
    return "\n\n".join(f"{role}: {text}" for role, text in turns)


def convert_hh_rlhf(path: Path, subset: str = "hh-rlhf-harmless", skipped: Skipped = None) -> list[Record]:
    """Gzip JSONL ``{chosen, rejected}`` transcripts: shared context -> prompt, the two final turns -> pair.

    Items whose contexts differ (the final turns are then not alternative answers to one prompt), whose final
    turns are identical, or where one final turn is empty are skipped and counted.
    """
    records = []
    for row in read_jsonl(path, skipped=skipped):
        i = row.index
        chosen, rejected = parse_hh_transcript(row, "chosen"), parse_hh_transcript(row, "rejected")
        if chosen[:-1] != rejected[:-1]:
            count_skip(skipped, subset, "contexts differ")
            continue
        good, bad = chosen[-1][1], rejected[-1][1]
        if good == bad:
            count_skip(skipped, subset, "identical final turns")
            continue
        if not good or not bad:
            count_skip(skipped, subset, "empty final turn")
            continue
        records.append(
            pair_record(
                row,
                good,
                bad,
                **subset_fields(f"{subset}/{i}", "hh-rlhf", subset),
                prompt=render_conversation(chosen[:-1]),
                meta={"turns": len(chosen) - 1},
            )
        )
    return records


# --- PandaLM testset-v1 (WeOpenML/PandaLM) --------------------------------------------------------------------

PANDALM_VOTES = {0: 0, 1: 1, 2: 2, "0": 0, "1": 1, "2": 2}  # 0 = tie, 1/2 = that response is better


def pandalm_majority(votes: list[int]) -> int | None:
    """The vote cast by at least two of the three annotators, or None when all three differ."""
    vote, count = Counter(votes).most_common(1)[0]
    return vote if count >= 2 else None


def convert_pandalm(path: Path, skipped: Skipped = None) -> list[Record]:
    """``[{instruction, input, response1, response2, annotator1..3}]``: majority vote; ties and no-majority dropped."""
    subset = "pandalm"
    records = []
    for row in read_json_array(path, skipped):
        i = row.index
        votes = [PANDALM_VOTES[row.get(f"annotator{k}", (int, str), allowed=PANDALM_VOTES)] for k in (1, 2, 3)]
        majority = pandalm_majority(votes)
        if majority is None:
            count_skip(skipped, subset, "no majority")
            continue
        if majority == 0:
            count_skip(skipped, subset, "majority tie")
            continue
        extra = row.get("input", optional=True)
        idx = row.get("idx", int, optional=True)
        records.append(
            row.record(
                **subset_fields(f"{subset}/{i if idx is None else idx}", "pandalm", subset),
                prompt=row.get("instruction") + (f"\n\n{extra}" if extra else ""),
                responses=[_pandalm_response(row, "response1"), _pandalm_response(row, "response2")],
                best=majority - 1,
                meta={"votes": votes},
            )
        )
    return records


def _pandalm_response(row: RawRow, key: str) -> str:
    """A response text; six raw responses are the JSON boolean ``true`` (a model that answered "True")."""
    value = row.get(key, (str, bool))
    return str(value)


# --- EvalBiasBench (ncsoft/offsetbias) ------------------------------------------------------------------------


def convert_evalbiasbench(path: Path, skipped: Skipped = None) -> list[Record]:
    """``{bias type: [{bias, instruction, response1, response2, label}]}``; subset ``evalbiasbench-<bias>``.

    The raw label is always 1 (the good response first), so the pair order is decided by ``ordered_pair``.
    """
    records = []
    for group, rows in read_json_groups(path, skipped).items():
        for row in rows:
            i = row.index
            bias = row.get("bias", optional=True) or group
            subset = "evalbiasbench-" + re.sub(r"[^a-z0-9]+", "-", bias.lower()).strip("-")
            label = row.get("label", int, allowed=(1, 2))
            good, bad = row.get(f"response{label}"), row.get(f"response{3 - label}")
            records.append(
                pair_record(
                    row,
                    good,
                    bad,
                    **subset_fields(f"{subset}/{i}", "evalbiasbench", subset),
                    prompt=row.get("instruction"),
                    meta={"bias": bias},
                )
            )
    return records

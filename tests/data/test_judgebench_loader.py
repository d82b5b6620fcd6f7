"""JudgeBench loader (spct.data.judgebench via load_benchmark) on files in the published schema with real quirks.

Schema from ScalerLab/JudgeBench README.md and data/*.jsonl (commit 12a499c5c29f06940d259b49250fca627d2a0ee5):
``pair_id, original_id, source, question, response_model, response_A, response_B, label``; the two response-model
files ask the same questions, the Claude file stores ``original_id`` as an integer, the README shows a string.
"""

from __future__ import annotations

import json
from collections import Counter

import datasets
import pytest

from spct.data.judgebench import JUDGEBENCH_CATEGORIES, judgebench_category
from spct.data.raw import RawDataError
from spct.evaluation import loading
from spct.evaluation.benchmarks import BENCHMARKS, benchmark_metric, paper_column
from spct.evaluation.loading import load_benchmark, load_benchmark_items
from spct.records import Record, validate_record_fields

GPT = "gpt-4o-2024-05-13"
CLAUDE = "claude-3-5-sonnet-20240620"
SOURCES = ["mmlu-pro-computer science", "mmlu-pro-health", "livebench-reasoning", "livebench-math", "livecodebench"]


def jb_row(i: int, model: str, label: str = "A>B", **fields) -> dict:
    row = {
        "pair_id": f"81ec57f2-483f-515f-93ff-{i:012d}",  # the same pair_id in both response-model files
        "original_id": 10646 + i if model == CLAUDE else str(10646 + i),
        "source": SOURCES[i % len(SOURCES)],
        "question": f"Question {i}?\nLet's think step by step.",
        "response_model": model,
        "response_A": f"{model} answer A to {i}",
        "response_B": f"{model} answer B to {i}",
        "label": label,
    }
    row.update(fields)
    return row


def file_name(model: str) -> str:
    return f"dataset=judgebench,response_model={model}.jsonl"


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_data(root, n_gpt=10, n_claude=5):
    """A ``data/`` folder as published: one file per response model, the Claude questions a subset of GPT's."""
    gpt = [jb_row(i, GPT, "A>B" if i % 3 else "B>A") for i in range(n_gpt)]
    claude = [jb_row(i, CLAUDE, "B>A" if i % 2 else "A>B") for i in range(n_claude)]
    write_jsonl(root / file_name(GPT), gpt)
    write_jsonl(root / file_name(CLAUDE), claude)
    return root


def check_valid(records):
    for r in records:
        assert r.split == "eval" and validate_record_fields(r) == []
        assert Record.from_dict(r.to_dict()) == r
    assert len({r.id for r in records}) == len(records)


def test_category_mapping_follows_upstream_prefixes():
    assert judgebench_category("mmlu-pro-computer science") == "Knowledge"
    assert judgebench_category("mmlu-pro-health") == "Knowledge"
    assert judgebench_category("livebench-reasoning") == "Reasoning"
    assert judgebench_category("livebench-math") == "Math"
    assert judgebench_category("livecodebench") == "Coding"
    assert judgebench_category("livebench-coding") is None  # not one of upstream's prefixes
    assert judgebench_category("MMLU-Pro-health") is None  # upstream's startswith is case-sensitive
    assert list(JUDGEBENCH_CATEGORIES.values()) == ["Knowledge", "Reasoning", "Math", "Coding"]


def test_one_file_pairs_order_best_subset_and_meta(tmp_path):
    path = write_jsonl(tmp_path / file_name(GPT), [jb_row(0, GPT, "A>B"), jb_row(1, GPT, "B>A")])
    first, second = load_benchmark("judgebench", path=path)
    assert first.id == f"judgebench/{GPT}/81ec57f2-483f-515f-93ff-000000000000"
    assert first.responses == [f"{GPT} answer A to 0", f"{GPT} answer B to 0"] and first.best == 0
    assert second.responses == [f"{GPT} answer A to 1", f"{GPT} answer B to 1"] and second.best == 1
    assert (first.subset, second.subset) == ("Knowledge", "Knowledge")
    assert first.source == "judgebench" and first.prompt == "Question 0?\nLet's think step by step."
    assert first.meta == {
        "pair_id": "81ec57f2-483f-515f-93ff-000000000000",
        "original_id": "10646",
        "judgebench_source": "mmlu-pro-computer science",
        "response_model": GPT,
        "label": "A>B",
        "identical": False,
    }


def test_both_response_model_files_keep_unique_ids(tmp_path):
    """The published data/ folder: the same pair_id and original_id in both files stay two records (the response
    model is part of the id); the Claude file's integer original_id is kept as it is."""
    records = load_benchmark("judgebench", path=write_data(tmp_path / "data"))
    check_valid(records)
    assert Counter(r.meta["response_model"] for r in records) == Counter({GPT: 10, CLAUDE: 5})
    shared = [r for r in records if r.meta["pair_id"].endswith("000000000003")]
    pair_id = "81ec57f2-483f-515f-93ff-000000000003"
    assert sorted(r.id for r in shared) == sorted(f"judgebench/{m}/{pair_id}" for m in (GPT, CLAUDE))
    assert {type(r.meta["original_id"]) for r in shared} == {int, str}
    assert Counter(r.subset for r in records) == Counter({"Knowledge": 6, "Reasoning": 3, "Math": 3, "Coding": 3})


def test_quirks_kept_or_counted_by_reason(tmp_path):
    """Identical A/B texts and an empty response are kept (upstream judges and counts them); a label other than
    A>B / B>A and an empty question are left out and counted by reason; nothing vanishes."""
    rows = [
        jb_row(0, GPT, response_A="same text", response_B="same text"),
        jb_row(1, GPT, "B>A", response_B=""),
        jb_row(2, GPT, "A=B"),
        jb_row(3, GPT, "A>>B"),
        jb_row(4, GPT, None),
        jb_row(5, GPT, question="   "),
        jb_row(6, GPT, "B>A"),
    ]
    skipped: Counter[str] = Counter()
    records = load_benchmark("judgebench", path=write_jsonl(tmp_path / file_name(GPT), rows), skipped=skipped)
    check_valid(records)
    by_pair = {r.meta["pair_id"][-1]: r for r in records}
    assert sorted(by_pair) == ["0", "1", "6"]
    assert by_pair["0"].responses == ["same text", "same text"] and by_pair["0"].meta["identical"] is True
    assert by_pair["1"].responses[1] == "" and by_pair["1"].best == 1
    assert skipped == Counter(
        {
            "Reasoning: label 'A=B' is not A>B or B>A": 1,  # row 2: livebench-reasoning
            "Math: label 'A>>B' is not A>B or B>A": 1,  # row 3: livebench-math
            "Coding: label None is not A>B or B>A": 1,  # row 4: livecodebench
            "Knowledge: empty question": 1,  # row 5: mmlu-pro-computer science
        }
    )
    assert len(records) + sum(skipped.values()) == len(rows)


def test_errors_name_file_line_and_key(tmp_path):
    path = write_jsonl(tmp_path / file_name(GPT), [jb_row(0, GPT), jb_row(1, GPT, source="arena-hard")])
    with pytest.raises(RawDataError, match=r"response_model=gpt-4o-2024-05-13\.jsonl, line 2: key 'source': .*arena"):
        load_benchmark("judgebench", path=path)
    missing = {k: v for k, v in jb_row(0, GPT).items() if k != "response_B"}
    with pytest.raises(RawDataError, match=r"missing column\(s\) 'response_B'.*found columns"):
        load_benchmark("judgebench", path=write_jsonl(tmp_path / "x.jsonl", [missing]))
    no_original = {k: v for k, v in jb_row(0, GPT).items() if k != "original_id"}  # optional: metadata only
    (record,) = load_benchmark("judgebench", path=write_jsonl(tmp_path / "y.jsonl", [no_original]))
    assert record.meta["original_id"] is None


def test_the_same_file_twice_or_judged_outputs_are_duplicates(tmp_path):
    """Pointing path: at the repository root also walks outputs/ (judged copies of the same pairs): an error that
    names the id, not a silently doubled benchmark."""
    write_data(tmp_path / "data")
    judged = [dict(jb_row(0, GPT), judge_name="arena_hard", judgments=[{"decision": "A>B"}, None])]
    write_jsonl(tmp_path / "outputs" / f"dataset=judgebench,response_model={GPT},judge_name=arena_hard.jsonl", judged)
    with pytest.raises(RawDataError, match=f"duplicate record id 'judgebench/{GPT}/81ec57f2"):
        load_benchmark("judgebench", path=tmp_path)


def test_hub_reads_the_gpt_split(monkeypatch):
    calls = []

    def fake_load_dataset(hub_id, name=None, split=None, revision=None, cache_dir=None):
        calls.append((hub_id, split))
        return datasets.Dataset.from_list([jb_row(i, GPT, "B>A" if i % 2 else "A>B") for i in range(6)])

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(loading, "hub_unreachable_reason", lambda: None)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    records = load_benchmark("judgebench")
    assert calls == [("ScalerLab/JudgeBench", "gpt")]
    assert [r.best for r in records] == [0, 1, 0, 1, 0, 1]
    check_valid(records)


def test_configured_judgebench_caps_over_categories_and_has_no_paper_column(tmp_path):
    spec = {"source": "judgebench", "path": str(write_data(tmp_path / "data")), "max_items": 4}
    records = load_benchmark_items("judgebench", spec, eval_records=[])
    assert Counter(r.subset for r in records) == Counter({c: 1 for c in JUDGEBENCH_CATEGORIES.values()})
    assert benchmark_metric(spec) == "judgebench" and paper_column(spec) is None
    assert BENCHMARKS["judgebench"].sources[0].confirmed

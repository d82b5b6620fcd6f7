"""RewardBench 2 loader (spct.data.rewardbench2 via spct.evaluation.loading): files in the published schema of
allenai/reward-bench-2 (split test: id, prompt, chosen[], rejected[], num_correct, num_incorrect,
total_completions, models[], subset, additional_metadata), written here with the quirks real data has."""

from __future__ import annotations

import json
import random
from collections import Counter

import datasets
import pytest

from spct.data.raw import RawDataError
from spct.evaluation import loading
from spct.evaluation.loading import load_benchmark, load_benchmark_items
from spct.evaluation.metrics import official_score
from spct.evaluation.rewardbench2 import rewardbench2_rule
from spct.records import validate_record_fields

META = {  # additional_metadata as published (a struct; most fields null for most subsets)
    "category": None,
    "correct": None,
    "index": None,
    "instruction_id_list": [],
    "label": None,
    "method": None,
    "models": [],
    "prompt_norm": None,
    "subcategory": None,
    "valid": None,
}


def row(id, subset, prompt, chosen, rejected, num_correct=1, **extra):
    out = {
        "id": id,
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "num_correct": num_correct,
        "num_incorrect": len(chosen) + len(rejected) - num_correct,
        "total_completions": len(chosen) + len(rejected),
        "models": [f"model-{j}" for j in range(len(chosen) + len(rejected))],
        "subset": subset,
        "additional_metadata": META,
    }
    return {**out, **extra}


def bo4(id, subset, chosen="good", rejected=("bad 1", "bad 2", "bad 3"), prompt=None):
    return row(id, subset, prompt or f"question {id}", [chosen], list(rejected))


def published_rows():
    """Every subset; Ties prompt 0 complete (the ref's correct answer and the wrong ones reappear in tied)."""
    rows = [bo4(str(i), subset) for i, subset in enumerate(["Factuality", "Precise IF", "Math", "Safety", "Focus"])]
    rows += [
        row("ref:0", "Ties", "Name a color of the rainbow.", ["red"], ["dog", "cat", "seven"]),
        row("tied:0", "Ties", "Name a color of the rainbow.", ["red", "blue", "green"], ["dog", "cat"], 3),
    ]
    return rows


def quirky_rows():
    return [
        bo4("7", "Math"),
        bo4("7", "Math", chosen="other answer"),  # a repeated id
        bo4("8", "Factuality", rejected=("", "bad", "worse")),  # an empty rejected text: kept, upstream scores it
        bo4("9", "Safety", rejected=("good", "bad", "worse")),  # a rejected text identical to the chosen one
        row("10", "Focus", "q", ["best", "also fine"], ["bad", "worse"], 2),  # num_correct > 1 outside Ties
        bo4("11", "Math", prompt=" "),  # an empty prompt: skipped, counted
        bo4("12", "Math", chosen="same", rejected=("same", "same", "same")),  # one text: skipped, counted
        row("ref:1", "Ties", "lonely ref", ["a"], ["b"]),  # no tied partner: counted
        row("ref:2", "Ties", "one prompt", ["a"], ["b"]),
        row("tied:2", "Ties", "another prompt", ["a", "c"], ["b"], 2),  # prompts differ: counted
        row("ref:3", "Ties", "Q3", ["a"], ["b"]),
        row("tied:3", "Ties", "Q3", ["a", "c"], ["b"], 2),
        row("ref:3", "Ties", "Q3", ["a"], ["x"]),  # a repeated sample: the first is kept, counted
    ]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_published(root, rows):
    """The hub repository's layout: data/test-00000-of-00001.parquet beside README.md."""
    (root / "data").mkdir(parents=True)
    (root / "README.md").write_text("---\ndataset_info: ...\n---\n", encoding="utf-8")
    datasets.Dataset.from_list(rows).to_parquet(str(root / "data" / "test-00000-of-00001.parquet"))
    return root


def by_id(records):
    return {r.id: r for r in records}


def test_published_layout_loads_one_record_per_row_and_one_per_ties_prompt(tmp_path):
    skipped = Counter()
    records = load_benchmark(
        "rewardbench2", path=write_published(tmp_path / "reward-bench-2", published_rows()), skipped=skipped
    )
    assert not skipped
    assert Counter(r.subset for r in records) == Counter(
        {s: 1 for s in ["Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties"]}
    )
    for record in records:
        assert validate_record_fields(record) == []
    math = by_id(records)["rewardbench2/2"]
    assert sorted(math.responses) == sorted(["good", "bad 1", "bad 2", "bad 3"])
    assert math.responses[math.best] == "good" and math.meta["slots"][0] == math.best
    assert [math.responses[i] for i in math.meta["slots"]] == ["good", "bad 1", "bad 2", "bad 3"]
    assert math.meta["models"] == ["model-0", "model-1", "model-2", "model-3"]  # per published completion (slot)
    ties = by_id(records)["rewardbench2/ties/0"]
    assert sorted(ties.responses) == sorted(["red", "dog", "cat", "seven", "blue", "green"])  # shared texts once
    named = {
        kind: {k: [ties.responses[i] for i in v] for k, v in part.items()} for kind, part in ties.meta["ties"].items()
    }
    assert named == {
        "ref": {"correct": ["red"], "incorrect": ["dog", "cat", "seven"]},
        "tied": {"correct": ["red", "blue", "green"], "incorrect": ["dog", "cat"]},
    }
    assert ties.meta["raw_ids"] == ["ref:0", "tied:0"] and ties.prompt == "Name a color of the rainbow."


def test_single_parquet_jsonl_and_hub_rows_give_the_same_records(tmp_path):
    rows = published_rows()
    folder = load_benchmark("rewardbench2", path=write_published(tmp_path / "rb2", rows))
    single = load_benchmark("rewardbench2", path=tmp_path / "rb2" / "data" / "test-00000-of-00001.parquet")
    jsonl = load_benchmark("rewardbench2", path=write_jsonl(tmp_path / "rb2.jsonl", rows))
    hub = loading.convert_benchmark_rows("rewardbench2", datasets.Dataset.from_list(rows))
    assert folder == single == jsonl == hub


def test_quirks_are_kept_or_counted(tmp_path):
    skipped = Counter()
    records = by_id(
        load_benchmark("rewardbench2", path=write_jsonl(tmp_path / "q.jsonl", quirky_rows()), skipped=skipped)
    )
    assert skipped == Counter(
        {
            "Math: empty prompt": 1,
            "Math: all completions are one text": 1,
            "Ties: Ties prompt id without its tied sample": 1,
            "Ties: ref and tied prompts of a Ties prompt id differ": 1,
            "Ties: repeated ref sample of a Ties prompt id (the first is kept)": 1,
        }
    )
    assert set(records) == {
        "rewardbench2/7",
        "rewardbench2/7~1",  # the repeated id keeps both items, told apart by the row key
        "rewardbench2/8",
        "rewardbench2/9",
        "rewardbench2/10",
        "rewardbench2/ties/3",
    }
    assert "" in records["rewardbench2/8"].responses  # an empty rejected answer is judged, as upstream scores it
    same = records["rewardbench2/9"]
    assert same.n == 3 and same.meta["slots"][0] == same.meta["slots"][1]  # one text, one score, a tie by design
    two = records["rewardbench2/10"]
    assert two.responses[two.best] == "best" and two.meta["num_correct"] == 2  # credit for chosen[0], as upstream
    assert records["rewardbench2/ties/3"].meta["ties"]["ref"]["incorrect"] == [
        records["rewardbench2/ties/3"].responses.index("b")
    ]


def test_identical_rejected_text_earns_half_credit_at_best(tmp_path):
    record = by_id(load_benchmark("rewardbench2", path=write_jsonl(tmp_path / "q.jsonl", quirky_rows())))[
        "rewardbench2/9"
    ]
    scores = [9 if text == "good" else 1 for text in record.responses]
    assert rewardbench2_rule(record, [{"scores": scores, "valid": True}], random.Random(0)) == 0.5


def test_chat_format_prompt_is_rendered(tmp_path):
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Name a prime."},
    ]
    (record,) = load_benchmark(
        "rewardbench2", path=write_jsonl(tmp_path / "c.jsonl", [bo4("1", "Focus", prompt=messages)])
    )
    assert record.prompt == "User: Hi\n\nAssistant: Hello!\n\nUser: Name a prime."


def test_errors_name_file_line_and_key(tmp_path):
    bad_count = {**bo4("1", "Math"), "total_completions": 5}
    with pytest.raises(RawDataError, match=r"b\.jsonl.*line 1.*total_completions"):
        load_benchmark("rewardbench2", path=write_jsonl(tmp_path / "b.jsonl", [bad_count]))
    bad_ties = row("3", "Ties", "q", ["a", "b"], ["c"], 2)
    with pytest.raises(RawDataError, match=r"bad Ties id '3'"):
        load_benchmark("rewardbench2", path=write_jsonl(tmp_path / "t.jsonl", [bad_ties]))
    too_many = row("4", "Math", "q", ["a"], ["b"], 3)
    with pytest.raises(RawDataError, match="num_correct"):
        load_benchmark("rewardbench2", path=write_jsonl(tmp_path / "n.jsonl", [too_many]))
    missing = {k: v for k, v in bo4("1", "Math").items() if k != "num_correct"}
    with pytest.raises(RawDataError, match=r"'num_correct'.*found columns"):
        load_benchmark("rewardbench2", path=write_jsonl(tmp_path / "m.jsonl", [missing]))


def test_configured_benchmark_caps_by_subset_and_scores(tmp_path):
    spec = {"source": "rewardbench2", "path": str(write_published(tmp_path / "rb2", published_rows())), "max_items": 6}
    records = load_benchmark_items("rewardbench2", spec, eval_records=[])
    assert Counter(r.subset for r in records) == Counter(
        {s: 1 for s in ["Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties"]}
    )
    # every best-of-4 right (1), Ties prompt all right with wide margins -> score = (5 + value) / 6
    values = []
    for record in records:
        scores = [10 if i == record.best else 1 for i in range(record.n)]
        if "ties" in record.meta:
            correct = set(record.meta["ties"]["tied"]["correct"])
            scores = [10 - i if i in correct else 1 for i in range(record.n)]
        values.append(rewardbench2_rule(record, [{"scores": scores, "valid": True}], random.Random(0)))
    score, parts = official_score("rewardbench2", [r.subset for r in records], values)
    assert set(parts) == {"Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties"}
    assert parts["Math"] == 1.0 and 1.0 <= parts["Ties"] <= 1.01 and score == pytest.approx(sum(parts.values()) / 6)


def test_hub_load_reads_split_test(monkeypatch):
    calls = []

    def fake_load_dataset(hub_id, name=None, split=None, revision=None, cache_dir=None):
        calls.append((hub_id, split))
        return datasets.Dataset.from_list(published_rows())

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(loading, "hub_unreachable_reason", lambda: None)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    records = load_benchmark("rewardbench2")
    assert calls == [("allenai/reward-bench-2", "test")] and len(records) == 6

"""Benchmark loaders (spct.evaluation.loading): small files in each published format, written here -> eval records.
RMB's and ReaLMistake's published layouts, with their quirks, are in test_rmb_realmistake.py.

ReaLMistake rows are synthetic: the real data must never be bundled or republished.
"""

from __future__ import annotations

import json
from collections import Counter

import datasets
import pytest

from spct.data.benchmark_converters import shuffled_best
from spct.data.raw import RawDataError
from spct.data.selection import stratified_cap
from spct.evaluation import benchmarks, loading
from spct.evaluation.benchmarks import (
    BENCHMARK_SOURCES,
    convert_ppe_correctness,
    convert_ppe_preference,
    convert_rewardbench,
    convert_rmb,
)
from spct.evaluation.loading import BenchmarkUnavailable, load_benchmark, load_rmb
from spct.evaluation.official import PPE_CORRECTNESS_DOMAINS, RMB_PARTS
from spct.records import Record, validate_record_fields


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_json(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def check_valid(records):
    assert records
    for r in records:
        assert r.split == "eval"
        assert validate_record_fields(r) == []
        Record.from_dict(r.to_dict())  # round-trips through the schema
    assert len({r.id for r in records}) == len(records)


# --- RewardBench -----------------------------------------------------------------------------------------------

RB_SUBSETS = ["alpacaeval-easy", "hep-python", "math-prm", "llmbar-adver-GPTInst", "xstest-should-respond"]


def rb_rows(n=40):
    return [
        {
            "prompt": f"question {i}",
            "chosen": f"good answer {i}",
            "chosen_model": "gpt-4",
            "rejected": f"bad answer {i}",
            "rejected_model": "llama",
            "subset": RB_SUBSETS[i % len(RB_SUBSETS)],
            "id": 1000 + i,
        }
        for i in range(n)
    ]


def test_rewardbench_local_jsonl_subsets_order_and_best(tmp_path):
    path = write_jsonl(tmp_path / "filtered.jsonl", rb_rows())
    records = load_benchmark("rewardbench", path=path)
    check_valid(records)
    assert len(records) == 40
    assert {r.subset for r in records} == set(RB_SUBSETS)
    for r in records:
        i = int(r.prompt.split()[-1])
        assert r.id == f"rewardbench/{1000 + i}" and r.source == "rewardbench"
        assert r.responses[r.best] == f"good answer {i}"
        assert r.responses[1 - r.best] == f"bad answer {i}"
        assert r.subset == RB_SUBSETS[i % len(RB_SUBSETS)]
    positions = Counter(r.best for r in records)
    assert positions[0] > 5 and positions[1] > 5  # randomised, not always first
    again = load_benchmark("rewardbench", path=path)
    assert [r.best for r in again] == [r.best for r in records]  # deterministic


def test_rewardbench_dataset_json_and_parquet_agree(tmp_path):
    rows = rb_rows(10)
    from_dicts = convert_rewardbench(rows)
    from_dataset = convert_rewardbench(datasets.Dataset.from_list(rows))
    json_path = write_json(tmp_path / "rb.json", rows)
    parquet_path = tmp_path / "rb.parquet"
    datasets.Dataset.from_list(rows).to_parquet(str(parquet_path))
    for other in (from_dataset, load_benchmark("rewardbench", json_path), load_benchmark("rewardbench", parquet_path)):
        assert [r.to_dict() for r in other] == [r.to_dict() for r in from_dicts]


def test_rewardbench_missing_column_lists_found(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "rejected"} for r in rb_rows(3)]
    path = write_jsonl(tmp_path / "rb.jsonl", rows)
    with pytest.raises(RawDataError) as err:
        load_benchmark("rewardbench", path=path)
    message = str(err.value)
    assert "'rejected'" in message and "found columns" in message and "'chosen'" in message
    assert "rb.jsonl, line 1" in message
    with pytest.raises(RawDataError, match="found columns"):
        convert_rewardbench(datasets.Dataset.from_list(rows))


def test_rewardbench_column_override(tmp_path):
    rows = [{("completion_good" if k == "chosen" else k): v for k, v in r.items()} for r in rb_rows(6)]
    records = load_benchmark(
        "rewardbench", write_jsonl(tmp_path / "x.jsonl", rows), columns={"chosen": "completion_good"}
    )
    assert all(r.responses[r.best].startswith("good answer") for r in records)
    with pytest.raises(RawDataError, match="unknown logical column"):
        convert_rewardbench(rows, columns={"nope": "x"})


def test_max_items_caps_like_the_workflow_and_is_stable(tmp_path):
    path = write_jsonl(tmp_path / "rb.jsonl", rb_rows(40))
    full = load_benchmark("rewardbench", path)
    capped = load_benchmark("rewardbench", path, max_items=7)
    assert len(capped) == 7 and [r.id for r in capped] == [r.id for r in stratified_cap(full, 7)]
    assert {r.id for r in capped} <= {r.id for r in full}


# --- PPE preference --------------------------------------------------------------------------------------------


def ppe_pref_rows():
    winners = ["model_a", "model_b", "tie", "tie (bothbad)", "model_b", "model_a"]
    return [
        {
            "question_id": f"q{i}",
            "model_a": "ma",
            "model_b": "mb",
            "winner": w,
            "prompt": f"prompt {i}",
            "response_1": f"first {i}",
            "response_2": f"second {i}",
            "language": "English",
            "is_code": False,
        }
        for i, w in enumerate(winners)
    ]


def test_ppe_preference_winner_ties_and_forms(tmp_path):
    skipped = Counter()
    records = load_benchmark("ppe_preference", write_jsonl(tmp_path / "ppe.jsonl", ppe_pref_rows()), skipped=skipped)
    check_valid(records)
    assert len(records) == 4
    assert skipped == Counter({"ppe-preference: tie (tie)": 1, "ppe-preference: tie (tie (bothbad))": 1})
    for r in records:
        i = int(r.prompt.split()[-1])
        want = "first" if r.meta["winner"] == "model_a" else "second"
        assert r.responses[r.best] == f"{want} {i}" and r.subset == "ppe-preference" and r.id == f"ppe-preference/q{i}"
    same = convert_ppe_preference(datasets.Dataset.from_list(ppe_pref_rows()))
    assert [r.to_dict() for r in same] == [r.to_dict() for r in records]


def test_ppe_preference_bad_winner_and_missing_column(tmp_path):
    rows = ppe_pref_rows()
    rows[1]["winner"] = "model_c"
    with pytest.raises(RawDataError, match="line 2.*'winner'.*model_c"):
        load_benchmark("ppe_preference", write_jsonl(tmp_path / "p.jsonl", rows))
    rows = [{k: v for k, v in r.items() if k != "winner"} for r in ppe_pref_rows()]
    with pytest.raises(RawDataError, match=r"missing column\(s\) 'winner'.*found columns \[.*'response_1'"):
        convert_ppe_preference(rows)
    renamed = [{("vote" if k == "winner" else k): v for k, v in r.items()} for r in ppe_pref_rows()]
    assert len(convert_ppe_preference(renamed, columns={"winner": "vote"})) == 4


# --- PPE correctness -------------------------------------------------------------------------------------------


def ppe_corr_row(q, k=4):
    scores = [i % 2 == 0 for i in range(k)]  # even indices correct
    row = {"question_id": f"q{q}", "model_name": "m", "prompt": f"problem {q}", "scores": scores}
    row.update({f"response_{i + 1}": f"{'right' if scores[i] else 'wrong'} {q}.{i}" for i in range(k)})
    row["sampled_conflict_pairs"] = [[0, 1], [3, 2], [0, 2]]  # the last is two correct: skipped
    return row


def test_ppe_correctness_pairs_domains_and_best(tmp_path):
    folder = tmp_path / "ppe"
    folder.mkdir()
    files = ["mmlu_pro.jsonl", "PPE-MATH-Best-of-K.jsonl", "gpqa.json", "MBPP-Plus.jsonl", "ifeval.jsonl"]
    for file in files:
        rows = [ppe_corr_row(q) for q in range(3)]
        (write_json if file.endswith(".json") else write_jsonl)(folder / file, rows)
    skipped = Counter()
    records = load_benchmark("ppe_correctness", path=folder, skipped=skipped)
    check_valid(records)
    assert {r.subset for r in records} == set(PPE_CORRECTNESS_DOMAINS)
    assert len(records) == 5 * 3 * 2
    assert sum(skipped.values()) == 5 * 3
    for r in records:
        assert r.responses[r.best].startswith("right") and r.responses[1 - r.best].startswith("wrong")
        assert r.source == "ppe" and r.id.startswith(f"ppe-correctness/{r.subset}/")
    assert {r.best for r in records} == {0, 1}
    single = load_benchmark("ppe_math", path=folder / "PPE-MATH-Best-of-K.jsonl")
    assert [r.id for r in single] == [r.id for r in records if r.subset == "MATH"]
    ds = convert_ppe_correctness(datasets.Dataset.from_list([ppe_corr_row(q) for q in range(3)]), "MATH")
    assert [r.to_dict() for r in ds] == [r.to_dict() for r in single]


def test_ppe_correctness_errors_and_override():
    row = ppe_corr_row(0)
    del row["scores"]
    with pytest.raises(RawDataError, match=r"'scores'.*found columns \[.*'sampled_conflict_pairs'"):
        convert_ppe_correctness([row], "GPQA")
    row = ppe_corr_row(0)
    row["sampled_conflict_pairs"] = [[0, 9]]
    with pytest.raises(RawDataError, match="response index 9"):
        convert_ppe_correctness([row], "GPQA")
    row = ppe_corr_row(0)
    row["correct"] = row.pop("scores")
    records = convert_ppe_correctness([row], "GPQA", columns={"scores": "correct"})
    assert len(records) == 2
    with pytest.raises(ValueError, match="domain"):
        convert_ppe_correctness([ppe_corr_row(0)], "gpqa")


# --- RMB -------------------------------------------------------------------------------------------------------


def turns(text, multi=False):
    first = [{"role": "user", "content": text, "language": "English"}]
    if not multi:
        return first
    return first + [
        {"role": "assistant", "content": "earlier reply", "language": "English"},
        {"role": "user", "content": "follow-up", "language": "English"},
    ]


def rmb_pair(uid, goal, multi=False):
    return {
        "pair_uid": uid,
        "conversation_input": turns(f"ask {uid}", multi),
        "chosen": {"llm_name": "a", "answer": f"best {uid}"},
        "reject": {"llm_name": "b", "answer": f"worse {uid}"},
        "category_path": f"Pairwise_set/{goal}/Scenario/Sub",
    }


def rmb_bon(uid, goal, n_losers=3):
    return {
        "bon_uid": uid,
        "conversation_input": turns(f"ask {uid}"),
        "bon_best": {"llm_name": "a", "answer": f"best {uid}"},
        "loser_list": [{"llm_name": f"l{j}", "answer": f"loser {uid}.{j}"} for j in range(n_losers)],
        "category_path": f"BoN_set/{goal}/Scenario/Sub",
    }


def write_rmb(root):
    for goal in ("Helpfulness", "Harmlessness"):
        write_json(root / "Pairwise_set" / goal / "a.json", [rmb_pair(f"p{goal}{i}", goal, i == 0) for i in range(6)])
        write_json(root / "BoN_set" / goal / "x" / "b.json", [rmb_bon(f"b{goal}{i}", goal) for i in range(6)])
    return root


def test_rmb_bon_best_index_and_determinism():
    rows = [rmb_bon(f"u{i}", "Helpfulness", n_losers=5) for i in range(20)]
    records = convert_rmb(rows)
    assert all(r.responses[r.best] == f"best u{i}" for i, r in enumerate(records))
    assert [r.id for r in records] == [f"rmb/bon/u{i}" for i in range(20)]
    assert [r.best for r in convert_rmb(rows)] == [r.best for r in records]
    assert len({r.best for r in records}) > 1  # best position varies
    responses, best = shuffled_best("some/id", "B", ["x", "y", "z"])
    assert responses[best] == "B" and sorted(responses) == ["B", "x", "y", "z"]


def test_rmb_errors_and_override(tmp_path):
    bad = rmb_pair("p1", "Helpfulness")
    del bad["reject"]
    path = write_json(tmp_path / "bad.json", [rmb_pair("p0", "Helpfulness"), bad])
    with pytest.raises(RawDataError) as err:
        load_rmb(path)
    assert "index 1" in str(err.value) and "'reject'" in str(err.value) and "found columns" in str(err.value)
    wrong = rmb_pair("p2", "Helpfulness")
    wrong["category_path"] = "Other_set/Helpfulness/x"
    with pytest.raises(RawDataError, match="category_path"):
        convert_rmb([wrong])
    renamed = [{("rejected" if k == "reject" else k): v for k, v in rmb_pair("p3", "Harmlessness").items()}]
    (record,) = convert_rmb(renamed, columns={"reject": "rejected"})
    assert record.subset == "Harmlessness-Pairwise"


# --- ReaLMistake (synthetic rows only) ---------------------------------------------------------------------------


def rm_rows():
    return [
        {
            "input": f"task {i}",
            "llm_response": f"response {i}",
            "error_label": "error" if i % 2 else "no_error",
            "error_categories": ["reasoning"] if i % 2 else [],
            "human_explanation": "synthetic",
            "metadata": {"llm_response_model": "synthetic"},
        }
        for i in range(6)
    ]


def test_realmistake_label_direction(tmp_path):
    records = load_benchmark("realmistake", write_jsonl(tmp_path / "math_word_problem_generation.jsonl", rm_rows()))
    check_valid(records)
    for i, r in enumerate(records):
        assert r.n == 1 and r.best is None and r.subset == "realmistake"
        assert r.label == (0 if i % 2 else 1)  # 1 = no error (Eq. 10)
        assert r.id == f"realmistake/{i}" and "human_explanation" not in r.meta
    folder = tmp_path / "rm"
    write_json(folder / "a.json", rm_rows())
    write_jsonl(folder / "b.jsonl", rm_rows())
    both = load_benchmark("realmistake", folder)
    assert len(both) == 12 and {r.id.split("/")[1] for r in both} == {"a", "b"}


def test_realmistake_bad_label_and_missing_column():
    rows = rm_rows()
    rows[2]["error_label"] = "maybe"
    with pytest.raises(RawDataError, match="row 2.*error_label"):
        benchmarks.convert_realmistake(rows)
    rows = [{k: v for k, v in r.items() if k != "llm_response"} for r in rm_rows()]
    with pytest.raises(RawDataError, match=r"'llm_response'.*found columns \[.*'input'"):
        benchmarks.convert_realmistake(rows)
    renamed = [{("output" if k == "llm_response" else k): v for k, v in r.items()} for r in rm_rows()]
    assert len(benchmarks.convert_realmistake(renamed, columns={"llm_response": "output"})) == 6


# --- Hub path --------------------------------------------------------------------------------------------------


def test_hub_offline_raises_without_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BenchmarkUnavailable, match="HF_HUB_OFFLINE"):
        load_benchmark("rewardbench")
    with pytest.raises(ValueError, match="not on the hub"):
        load_benchmark("rmb")
    with pytest.raises(ValueError, match="unknown benchmark"):
        load_benchmark("nope")


def test_hub_load_uses_load_dataset(monkeypatch):
    calls = []

    def fake_load_dataset(hub_id, name=None, split=None, revision=None, cache_dir=None):
        calls.append((hub_id, split))
        if hub_id == "allenai/reward-bench":
            return datasets.Dataset.from_list(rb_rows(8))
        return datasets.Dataset.from_list([ppe_corr_row(q) for q in range(2)])

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(loading, "hub_unreachable_reason", lambda: None)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    records = load_benchmark("rewardbench", max_items=5)
    assert len(records) == 5 and calls == [("allenai/reward-bench", "filtered")]
    calls.clear()
    records = load_benchmark("ppe_correctness")
    assert [c[0] for c in calls] == [
        BENCHMARK_SOURCES[benchmarks.PPE_DOMAIN_SOURCES[d]].hub_id for d in PPE_CORRECTNESS_DOMAINS
    ]
    assert all(split == "train" for _, split in calls)
    assert Counter(r.subset for r in records) == Counter({d: 4 for d in PPE_CORRECTNESS_DOMAINS})
    check_valid(records)


def test_sources_documented():
    for name, source in BENCHMARK_SOURCES.items():
        assert source.name == name and source.description and source.confirmed
    assert BENCHMARK_SOURCES["ppe_mmlu_pro"].hub_id == "lmarena-ai/PPE-MMLU-Pro-Best-of-K"
    assert BENCHMARK_SOURCES["ppe_preference"].hub_id == "lmarena-ai/PPE-Human-Preference-V1"


# --- The workflow's benchmark items (spct.evaluation.loading.load_benchmark_items) -----------------------------------


def test_configured_source_benchmark_covers_every_part_under_a_cap(tmp_path):
    """`source: rmb` with a local `path` and a small cap: round-robin over subsets keeps all four RMB parts, so the
    official RMB score (mean of the four) is defined; the same cap gives the same items every time."""
    from spct.evaluation.benchmarks import benchmark_metric, paper_column
    from spct.evaluation.loading import load_benchmark_items

    spec = {"source": "rmb", "path": str(write_rmb(tmp_path / "RMB_dataset")), "max_items": 4}
    records = load_benchmark_items("rmb", spec, eval_records=[])
    assert Counter(r.subset for r in records) == Counter({p: 1 for p in RMB_PARTS})
    assert [r.id for r in load_benchmark_items("rmb", spec, [])] == [r.id for r in records]
    assert benchmark_metric(spec) == "rmb" and paper_column(spec) == "RMB"
    assert benchmark_metric({"subsets": ["x"]}) == "accuracy" and paper_column({"subsets": ["x"]}) is None
    assert benchmark_metric({"source": "realmistake"}) == "roc_auc"


def test_configured_source_benchmark_with_a_missing_path_names_the_key(tmp_path):
    from spct.evaluation.loading import load_benchmark_items

    with pytest.raises(FileNotFoundError, match=r"benchmarks\.my-rmb\.path: .*nowhere"):
        load_benchmark_items("my-rmb", {"source": "rmb", "path": str(tmp_path / "nowhere")}, [])

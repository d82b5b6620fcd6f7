"""RMB and ReaLMistake on their published layouts (spct.data.rmb_realmistake, spct.data.sources.convert_files), and
what a benchmark's items leave out, counted from the loader to the summary, MLflow and the report.

The fixtures follow the published schemas (Zhou-Zoey/RMB-Reward-Model-Benchmark ``RMB_dataset/``;
psunlpgroup/ReaLMistake ``data.zip``) with the real data's quirks: numeric-string uids shared by a BoN and a pairwise
item, a loser identical to the best answer, a whitespace-only rejected answer, multi-turn conversations, and
ReaLMistake's stray ``example.jsonl``. ReaLMistake rows are synthetic: the real data must never be bundled.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter

import pytest

from spct.data.raw import RawDataError
from spct.evaluation.left_out import left_out_metrics, left_out_table
from spct.evaluation.loading import load_benchmark, load_benchmark_items, selected_items
from spct.evaluation.metrics import item_value, official_score
from spct.evaluation.official import RMB_PARTS
from spct.records import Record, read_records

# --- RMB -------------------------------------------------------------------------------------------------------


def turn(role, content):
    return {"content": content, "language": "English", "role": role}


def answer(model, text, score=None):
    return {"llm_name": model, "answer": text} | ({} if score is None else {"score": score})


def pair(uid, path, chosen, reject, conversation=None):
    return {
        "pair_uid": uid,
        "conversation_input": conversation or [turn("user", f"ask {uid}")],
        "chosen": answer(*chosen, score=5.0),
        "reject": answer(*reject, score=2.0),
        "category_path": path,
    }


def bon(uid, path, best, losers):
    return {
        "conversation_input": [turn("user", f"ask bon {uid}")],
        "bon_best": answer(*best),
        "loser_list": [answer(*loser) for loser in losers],
        "bon_uid": uid,
        "category_path": path,
    }


HELP_PAIR, HARM_PAIR = "Pairwise_set/Helpfulness/Chat/Discussion", "Pairwise_set/Harmlessness/S10"
HELP_BON, HARM_BON = "BoN_set/Helpfulness/Chat/Discussion", "BoN_set/Harmlessness/S10"
MULTI_TURN = [turn("user", "first question"), turn("assistant", "first answer"), turn("user", "follow-up")]
SAME = "Sorry, but I can't assist with that."


def rmb_files():
    """{relative file: items}: 10 items, 9 of them scored by RMB; uids "1" and "4" are both a pair and a BoN item."""
    return {
        "Pairwise_set/Helpfulness/Chat/Discussion.json": [
            pair("1", HELP_PAIR, ("m-a", "good 1"), ("m-b", "bad 1")),
            pair("2", HELP_PAIR, ("m-c", "good 2"), ("m-d", "bad 2"), conversation=MULTI_TURN),
            pair("3", HELP_PAIR, ("m-e", SAME), ("m-f", SAME)),  # identical texts: a tie for any judge
        ],
        "Pairwise_set/Harmlessness/S10.json": [
            pair("4", HARM_PAIR, ("m-a", "refusal 4"), ("m-b", "harmful 4")),
            pair("5", HARM_PAIR, ("m-c", "refusal 5"), ("m-d", " \n ")),  # whitespace-only rejected answer
        ],
        "BoN_set/Helpfulness/Chat/Discussion.json": [
            bon("1", HELP_BON, ("m-a", "best b1"), [("m-b", "l b1.0"), ("m-c", "l b1.1"), ("m-d", "l b1.2")]),
            bon("6", HELP_BON, ("m-a", SAME), [("m-b", "l b6.0"), ("m-c", SAME)]),  # a loser equal to the best
        ],
        "BoN_set/Harmlessness/S10.json": [
            bon("4", HARM_BON, ("m-e", "best b4"), [("m-f", "l b4.0"), ("m-g", "l b4.1")]),
            bon("7", HARM_BON, ("m-h", "best b7"), [("m-i", "l b7.0"), ("m-j", "l b7.1"), ("m-k", "l b7.2")]),
            bon("8", HARM_BON, ("m-h", "best b8"), []),  # nothing to compare: the one item left out
        ],
    }


def write_rmb(root):
    for name, items in rmb_files().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(items, indent=1), encoding="utf-8")
    return root


def raw_items():
    """record id -> its raw item (the fixture's)."""
    items = {}
    for rows in rmb_files().values():
        for row in rows:
            kind = "pair" if "pair_uid" in row else "bon"
            items[f"rmb/{kind}/{row.get('pair_uid') or row.get('bon_uid')}"] = row
    return items


def test_rmb_published_folder_is_one_benchmark_with_the_official_items(tmp_path):
    skipped = Counter()
    records = load_benchmark("rmb", path=write_rmb(tmp_path / "RMB_dataset"), skipped=skipped)
    ids = [r.id for r in records]
    assert sorted(ids) == sorted(
        ["rmb/pair/1", "rmb/pair/2", "rmb/pair/3", "rmb/pair/4", "rmb/pair/5"]
        + ["rmb/bon/1", "rmb/bon/6", "rmb/bon/4", "rmb/bon/7"]
    )
    assert skipped == Counter({"Harmlessness-BoN: no losers": 1})
    assert Counter(r.subset for r in records) == Counter(
        {"Helpfulness-Pairwise": 3, "Harmlessness-Pairwise": 2, "Helpfulness-BoN": 2, "Harmlessness-BoN": 2}
    )
    by_id = {r.id: r for r in records}
    assert by_id["rmb/pair/3"].responses == [SAME, SAME]  # kept: RMB scores it (as wrong)
    assert " \n " in by_id["rmb/pair/5"].responses  # kept: RMB scores it
    assert by_id["rmb/bon/6"].responses.count(SAME) == 2 and by_id["rmb/bon/6"].n == 3
    assert by_id["rmb/pair/2"].prompt == "User: first question\n\nAssistant: first answer\n\nUser: follow-up"
    assert by_id["rmb/pair/1"].prompt == "ask 1" and by_id["rmb/bon/1"].prompt == "ask bon 1"
    for record_id, row in raw_items().items():
        if record_id in by_id:
            record = by_id[record_id]
            best = row.get("chosen") or row["bon_best"]
            assert record.responses[record.best] == best["answer"]
            assert record.meta["category_path"] == row["category_path"] and record.meta["uid"] == record_id[-1]


def test_rmb_models_follow_the_reordered_responses(tmp_path):
    records = load_benchmark("rmb", path=write_rmb(tmp_path / "RMB_dataset"))
    items = raw_items()
    for record in records:
        row = items[record.id]
        answers = [row.get("chosen") or row["bon_best"], *([row["reject"]] if "reject" in row else row["loser_list"])]
        pairs = sorted((a["answer"], a["llm_name"]) for a in answers)
        assert sorted(zip(record.responses, record.meta["models"])) == pairs
        assert record.meta["models"][record.best] == record.meta["best_model"]
    moved = [r for r in records if r.best != 0]
    assert moved and any(r.subset.endswith("BoN") for r in moved)  # raw order would name the wrong models here


def test_rmb_duplicate_id_names_both_files_and_records(tmp_path):
    root = write_rmb(tmp_path / "RMB_dataset")
    first = root / "Pairwise_set/Harmlessness/S10.json"
    shutil.copy(first, root / "Pairwise_set/Harmlessness/S11.json")  # pair_uid "4" and "5" again
    with pytest.raises(RawDataError) as error:
        load_benchmark("rmb", path=root)
    message = str(error.value)
    assert "duplicate record id 'rmb/pair/4'" in message
    assert f"{first}, index 0 and {root / 'Pairwise_set/Harmlessness/S11.json'}, index 0" in message
    assert "copies" not in message and "unique across its files" in message


def rows_for(record: Record, *samples: dict[str, int]) -> list[dict]:
    """Judgment rows whose scores (record order) give each response text's score; the best by the key "best"."""
    rows = []
    for sample in samples:
        scores = [sample["best"] if i == record.best else sample[text] for i, text in enumerate(record.responses)]
        rows.append({"scores": scores, "valid": True})
    return rows


def test_rmb_score_counts_ties_and_identical_texts_wrong(tmp_path):
    """Hand-computed: Helpfulness-Pairwise 1/3, Harmlessness-Pairwise 2/2, Helpfulness-BoN 1/2, Harmlessness-BoN 1/2;
    RMB = (1/3 + 1 + 1/2 + 1/2) / 4 = 7/12."""
    by_id = {r.id: r for r in load_benchmark("rmb", path=write_rmb(tmp_path / "RMB_dataset"))}
    votes = {
        "rmb/pair/1": [{"best": 8, "bad 1": 5}],  # right
        "rmb/pair/2": [{"best": 6, "bad 2": 5}, {"best": 4, "bad 2": 5}],  # summed 10 vs 10: a tie, wrong
        "rmb/pair/3": [{"best": 9, SAME: 3}],  # identical texts: wrong whatever the scores
        "rmb/pair/4": [{"best": 7, "harmful 4": 2}],  # right
        "rmb/pair/5": [{"best": 7, " \n ": 1}],  # right (the blank answer is scored)
        "rmb/bon/1": [{"best": 9, "l b1.0": 8, "l b1.1": 2, "l b1.2": 8}],  # right
        "rmb/bon/6": [{"best": 9, "l b6.0": 1, SAME: 1}],  # a loser equal to the best: wrong
        "rmb/bon/4": [{"best": 7, "l b4.0": 7, "l b4.1": 1}],  # tie with one loser: wrong
        "rmb/bon/7": [{"best": 5, "l b7.0": 4, "l b7.1": 4, "l b7.2": 1}],  # right
    }
    assert set(votes) == set(by_id)
    rng = random.Random(0)
    values = {i: float(item_value("rmb", by_id[i], rows_for(by_id[i], *samples), rng)) for i, samples in votes.items()}
    assert [i for i, v in values.items() if v == 1.0] == [
        "rmb/pair/1",
        "rmb/pair/4",
        "rmb/pair/5",
        "rmb/bon/1",
        "rmb/bon/7",
    ]
    score, parts = official_score("rmb", [by_id[i].subset for i in values], list(values.values()))
    assert parts == pytest.approx(
        {"Helpfulness-Pairwise": 1 / 3, "Harmlessness-Pairwise": 1.0, "Helpfulness-BoN": 0.5, "Harmlessness-BoN": 0.5}
    )
    assert set(parts) == set(RMB_PARTS) and score == pytest.approx(7 / 12)


# --- ReaLMistake (synthetic rows only) ---------------------------------------------------------------------------

TASKS = ("math_word_problem_generation", "finegrained_fact_verification", "answerability_classification")
MODELS = ("gpt-4-0613", "Llama-2-70b-chat-hf")


def realmistake_row(task, model, i):
    error = (i + len(task)) % 3 != 0
    return {
        "input": f"synthetic {task} input {i}",
        "llm_response": f"synthetic response {i} by {model}",
        "error_label": "error" if error else "no_error",
        "error_categories": ["Reasoning Correctness"] if error else [],
        "human_explanation": "synthetic",
        "metadata": {"llm_response_model": model},
    }


def write_realmistake(root, per_file=3):
    """data/<task>/<model>.jsonl for the six task x model files, plus example.jsonl repeating 3 task rows."""
    for task in TASKS:
        for model in MODELS:
            (root / task).mkdir(parents=True, exist_ok=True)
            rows = [realmistake_row(task, model, i) for i in range(per_file)]
            (root / task / f"{model}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    examples = [realmistake_row(TASKS[0], MODELS[0], 0), realmistake_row(TASKS[1], MODELS[1], 1)]
    examples.append(realmistake_row(TASKS[2], MODELS[0], 2))
    (root / "example.jsonl").write_text("".join(json.dumps(r) + "\n" for r in examples))
    return root


def test_realmistake_reads_the_six_task_files_and_counts_the_example_file(tmp_path, caplog):
    skipped = Counter()
    with caplog.at_level("INFO"):
        records = load_benchmark("realmistake", path=write_realmistake(tmp_path / "data"), skipped=skipped)
    assert len(records) == 6 * 3
    assert skipped == Counter({"realmistake: example.jsonl (not part of the benchmark)": 3})
    assert "example.jsonl" in caplog.text and "not part of the benchmark" in caplog.text
    assert {r.id.rsplit("/", 1)[0] for r in records} == {f"realmistake/{t}/{m}" for t in TASKS for m in MODELS}
    want = Counter(
        int(realmistake_row(t, m, i)["error_label"] == "no_error") for t in TASKS for m in MODELS for i in range(3)
    )
    assert Counter(r.label for r in records) == want and set(want) == {0, 1}
    # Asked for by name, the file is read: only a folder's walk leaves it out.
    assert len(load_benchmark("realmistake", path=tmp_path / "data" / "example.jsonl")) == 3


# --- Left out, end to end ---------------------------------------------------------------------------------------


def test_selection_counts_the_loader_length_and_cap_leave_outs(tmp_path):
    spec = {"source": "rmb", "path": str(write_rmb(tmp_path / "RMB_dataset")), "max_items": 5, "max_item_chars": 40}
    skipped = Counter()
    records = load_benchmark_items("rmb", spec, [], skipped)
    # 9 items; over 40 characters (prompt + responses): rmb/pair/2 (multi-turn, 73), rmb/pair/3 (77), rmb/bon/6 (87);
    # 6 left, 5 kept.
    assert len(records) == 5 and not {"rmb/pair/2", "rmb/pair/3", "rmb/bon/6"} & {r.id for r in records}
    assert skipped == Counter(
        {"Harmlessness-BoN: no losers": 1, "rmb: longer than max_item_chars": 3, "rmb: beyond the max_items cap": 1}
    )
    items, summary = selected_items("rmb", spec, [])
    assert [r.id for r in items] == [r.id for r in records]
    assert summary == {
        "benchmark": "rmb",
        "items": 5,
        "left_out": dict(sorted(skipped.items())),
        **{"source": "rmb", "path": spec["path"]},
    }
    metrics = left_out_metrics(summary)
    assert metrics["items"] == 5 and metrics["left_out"] == 5
    assert metrics["left_out/Harmlessness-BoN_ no losers"] == 1  # ':' is not allowed in an MLflow key


def test_benchmark_items_stage_writes_summary_logs_mlflow_and_report_shows_it(tmp_path):
    from mlflow.tracking import MlflowClient

    from spct import stages

    (tmp_path / "eval.jsonl").write_text("")
    spec = {"source": "realmistake", "path": str(write_realmistake(tmp_path / "data"))}
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    out, summary_path = tmp_path / "realmistake.jsonl", tmp_path / "realmistake.summary.json"
    stages.benchmark_items(
        tmp_path / "eval.jsonl",
        "realmistake",
        spec,
        out,
        summary_path,
        {"tracking_uri": uri, "experiment": "t"},
        {"experiment": "t", "benchmark": "realmistake"},
    )
    assert len(read_records(out)) == 18
    summary = json.loads(summary_path.read_text())
    assert summary == {
        "benchmark": "realmistake",
        "items": 18,
        "left_out": {"realmistake: example.jsonl (not part of the benchmark)": 3},
        "source": "realmistake",
        "path": spec["path"],
    }
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("t").experiment_id])
    assert run.info.run_name == "benchmark_items/realmistake" and run.data.metrics["items"] == 18
    assert run.data.metrics["left_out/realmistake_ example.jsonl _not part of the benchmark_"] == 3
    table = left_out_table([summary_path])
    assert table.to_dict("records") == [
        {
            "benchmark": "realmistake",
            "items": 18,
            "reason": "realmistake: example.jsonl (not part of the benchmark)",
            "left out": 3,
        }
    ]

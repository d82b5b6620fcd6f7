"""Hub training sources (spct.data.training_sources): rows in each published format, as dicts and as ``datasets``."""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections import Counter

import datasets
import pytest

from spct.data import training_sources as hub
from spct.data.raw import RawDataError
from spct.data.sources import check_columns
from spct.data.training_converters import helpsteer2_turns, last_boxed
from spct.data.training_sources import (
    HUB_SOURCES,
    convert_helpsteer2_preference,
    convert_hub_rows,
    convert_math,
    convert_offsetbias,
    convert_skywork_preference,
    convert_ultrafeedback,
    download_sources,
    load_hub_source,
)
from spct.records import read_records


def both_forms(rows):
    """The same rows as a list of dicts and as a ``datasets.Dataset`` (the object ``load_dataset`` returns)."""
    return [rows, datasets.Dataset.from_list(rows)]


# --- published row formats -------------------------------------------------------------------------------------


def uf_completion(model, response, score):
    return {
        "model": model,
        "response": response,
        "overall_score": score,
        "fine-grained_score": 4.25,
        "critique": "ok",
        "custom_system_prompt": "",
        "principle": "helpfulness",
        "annotations": {"helpfulness": {"Rating": "4", "Rationale": "r"}},
    }


def uf_row(instruction, scores, source="evol_instruct"):
    return {
        "source": source,
        "instruction": instruction,
        "models": [f"m{i}" for i in range(len(scores))],
        "completions": [uf_completion(f"m{i}", f"{instruction} answer {i}", s) for i, s in enumerate(scores)],
        "correct_answers": ["None"],
        "incorrect_answers": ["None"],
    }


UF_ROWS = [
    uf_row("Q0", [6.0, 8.5, 7.0, 3.0]),
    uf_row("Q1", [9.0, 9.0, 2.0, 1.0]),  # tied top -> skipped
    uf_row("Q2", [4.0]),  # one completion -> skipped
    uf_row("Q3", [2.0, 1.0, 7.5, 7.0]),
]


def hs2_row(prompt, strength, split="train"):
    return {
        "split": split,
        "prompt": prompt,
        "response_1": f"first answer to {prompt[:8]}",
        "response_2": f"second answer to {prompt[:8]}",
        "preference_strength": strength,
        "preference_statement": "@Response 1 is better.",
        "preference_elaboration": "because",
        "three_most_similar_preferences": [{"statement": "s", "elaboration": "e", "strength": strength}],
        "all_preferences_unprocessed": [strength],
    }


HS2_MULTI = "What is 2+2?\n<extra_id_1>Assistant\n4\n<extra_id_1>User\nAnd times 3?"
HS2_ROWS = [
    hs2_row("Say hi", -2),  # response_1 better
    hs2_row(HS2_MULTI, 3),  # response_2 better, multi-turn
    hs2_row("Tie?", 0),  # tie -> skipped
    hs2_row("Validation prompt", -1, split="val"),  # not train -> skipped
]


def msg(role, content):
    return {"role": role, "content": content}


SKY_ROWS = [
    {
        "chosen": [msg("user", f"Question {i}?"), msg("assistant", f"good {i}")],
        "rejected": [msg("user", f"Question {i}?"), msg("assistant", f"bad {i}")],
        "source": "magpie_ultra",
    }
    for i in range(12)
] + [
    {
        "chosen": [msg("user", "Hi"), msg("assistant", "Hello"), msg("user", "Bye?"), msg("assistant", "Goodbye!")],
        "rejected": [msg("user", "Hi"), msg("assistant", "Hello"), msg("user", "Bye?"), msg("assistant", "No.")],
        "source": "helpsteer2",
    },
    {  # contexts differ -> skipped
        "chosen": [msg("user", "A"), msg("assistant", "x")],
        "rejected": [msg("user", "B"), msg("assistant", "y")],
        "source": "wildguard",
    },
]

OB_ROWS = [
    {"instruction": "Fix: teh cat", "output_1": "the cat", "output_2": "teh cat is fine", "label": 1},
    {"instruction": "Name a prime", "output_1": "4", "output_2": "7", "label": 2},
]

MATH_ROWS = [
    {
        "problem": "What is 1/2 of 1?",
        "level": "Level 1",
        "type": "Prealgebra",
        "solution": "We have $\\boxed{2}$ wrong, so actually $1 \\cdot \\frac12 = \\boxed{\\frac{1}{2}}$.",
    },
    {
        "problem": "Compute the set.",
        "level": "Level 3",
        "type": "Algebra",
        "solution": "The set is $\\boxed{\\{1, \\{2\\}\\}}$.",
    },
    {"problem": "No box here.", "level": "Level 2", "type": "Algebra", "solution": "The answer is 3."},
]


# --- converters --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", [0, 1])
def test_ultrafeedback_list_best_and_skips(form):
    skipped = Counter()
    records = convert_ultrafeedback(both_forms(UF_ROWS)[form], skipped=skipped)
    assert [r.id for r in records] == ["ultrafeedback/0", "ultrafeedback/3"]
    first, last = records
    assert first.n == 4 and first.best == 1 and first.responses[1] == "Q0 answer 1"
    assert first.prompt == "Q0" and first.split == "train" and first.source == "ultrafeedback"
    assert last.best == 2
    assert first.meta["origin"] == "evol_instruct" and first.meta["scores"] == [6.0, 8.5, 7.0, 3.0]
    assert skipped == {"ultrafeedback: tied highest overall_score": 1, "ultrafeedback: fewer than 2 completions": 1}


@pytest.mark.parametrize("form", [0, 1])
def test_helpsteer2_direction_ties_split_and_turns(form):
    skipped = Counter()
    records = convert_helpsteer2_preference(both_forms(HS2_ROWS)[form], skipped=skipped)
    assert [r.id for r in records] == ["helpsteer2_preference/0", "helpsteer2_preference/1"]
    single, multi = records
    assert single.best == 0 and single.responses[0].startswith("first") and single.prompt == "Say hi"
    assert multi.best == 1 and multi.responses[1].startswith("second")
    assert multi.prompt == "User: What is 2+2?\n\nAssistant: 4\n\nUser: And times 3?"
    assert skipped == {
        "helpsteer2_preference: tie (preference_strength 0)": 1,
        "helpsteer2_preference: split 'val'": 1,
    }


def test_helpsteer2_turns_accept_a_leading_marker():
    assert helpsteer2_turns("<extra_id_1>User\nHi\n<extra_id_1>Assistant\nYo\n<extra_id_1>User\nOk") == [
        ("User", "Hi"),
        ("Assistant", "Yo"),
        ("User", "Ok"),
    ]
    assert helpsteer2_turns("plain question") == [("User", "plain question")]


@pytest.mark.parametrize("form", [0, 1])
def test_skywork_order_randomised_best_is_chosen(form):
    skipped = Counter()
    records = convert_skywork_preference(both_forms(SKY_ROWS)[form], skipped=skipped)
    assert len(records) == 13 and skipped == {"skywork_preference: contexts differ": 1}
    for i, r in enumerate(records[:12]):
        assert r.responses[r.best] == f"good {i}" and r.responses[1 - r.best] == f"bad {i}"
        assert r.prompt == f"Question {i}?"
    assert {r.best for r in records} == {0, 1}  # the chosen one is not always first
    multi = records[12]
    assert multi.prompt == "User: Hi\n\nAssistant: Hello\n\nUser: Bye?"
    assert multi.responses[multi.best] == "Goodbye!" and multi.meta["origin"] == "helpsteer2"
    again = convert_skywork_preference(SKY_ROWS)
    assert [r.best for r in again] == [r.best for r in records]  # deterministic


@pytest.mark.parametrize("form", [0, 1])
def test_offsetbias_label_mapping(form):
    records = convert_offsetbias(both_forms(OB_ROWS)[form])
    assert [r.id for r in records] == ["offsetbias/0", "offsetbias/1"]
    assert records[0].responses[records[0].best] == "the cat"
    assert records[1].responses[records[1].best] == "7"
    assert [r.meta["raw_label"] for r in records] == [1, 2]


def test_offsetbias_bad_label_names_the_row():
    with pytest.raises(RawDataError, match=r"NCSOFT/offsetbias, row 0: key 'label'"):
        convert_offsetbias([{**OB_ROWS[0], "label": 3}])


@pytest.mark.parametrize("form", [0, 1])
def test_math_single_response_with_boxed_reference(form):
    skipped = Counter()
    records = convert_math(both_forms(MATH_ROWS)[form], skipped=skipped)
    assert [r.id for r in records] == ["math/0", "math/1"]
    first = records[0]
    assert first.n == 1 and first.label == 1 and first.best is None
    assert first.reference == "\\frac{1}{2}" and first.responses == [MATH_ROWS[0]["solution"]]
    assert first.meta == {"type": "Prealgebra", "level": "Level 1"}
    assert records[1].reference == "\\{1, \\{2\\}\\}"
    assert skipped == {"math: no \\boxed answer in the solution": 1}


def test_last_boxed():
    assert last_boxed("$\\boxed{\\frac{1}{2}}$") == "\\frac{1}{2}"
    assert last_boxed("\\boxed{1} then \\boxed{x^{2}+1}") == "x^{2}+1"
    assert last_boxed("so \\boxed 5$.") == "5"
    assert last_boxed("\\fbox{7}") == "7"
    assert last_boxed("no box") is None
    assert last_boxed("\\boxed{unclosed") is None


# --- column mapping ----------------------------------------------------------------------------------------------


def test_missing_columns_are_listed():
    rows = [{"prompt": "p", "text_a": "a", "text_b": "b", "label": 1}]
    for form in both_forms(rows):
        with pytest.raises(RawDataError) as err:
            convert_offsetbias(form)
        message = str(err.value)
        assert "offsetbias (NCSOFT/offsetbias)" in message
        assert "'instruction'" in message and "'output_1'" in message and "'output_2'" in message
        assert "found columns ['label', 'prompt', 'text_a', 'text_b']" in message


def test_optional_columns_may_be_absent():
    check_columns(HUB_SOURCES["skywork_preference"], ["chosen", "rejected"])  # no "source": fine
    with pytest.raises(RawDataError, match="missing column"):
        check_columns(HUB_SOURCES["skywork_preference"], ["chosen"])


def test_column_override():
    rows = [{"prompt": "Name a prime", "text_a": "4", "text_b": "7", "winner": 2}]
    mapping = {"instruction": "prompt", "output_1": "text_a", "output_2": "text_b", "label": "winner"}
    for form in both_forms(rows):
        [record] = convert_hub_rows("offsetbias", form, columns=mapping)
        assert record.prompt == "Name a prime" and record.responses[record.best] == "7"
    renamed = [{("score" if k == "overall_score" else k): v for k, v in c.items()} for c in UF_ROWS[0]["completions"]]
    nested = [{**UF_ROWS[0], "completions": renamed}]
    for form in both_forms(nested):
        [record] = convert_ultrafeedback(form, columns={"completions.overall_score": "score"})
        assert record.best == 1 and "overall_score" in UF_ROWS[0]["completions"][0]
    with pytest.raises(RawDataError, match="unknown logical column"):
        convert_offsetbias(OB_ROWS, columns={"no_such_field": "x"})


# --- loading and the download stage ------------------------------------------------------------------------------

FAKE_HUB = {
    "openbmb/UltraFeedback": UF_ROWS,
    "nvidia/HelpSteer2": HS2_ROWS,
    "Skywork/Skywork-Reward-Preference-80K-v0.2": SKY_ROWS,
    "NCSOFT/offsetbias": OB_ROWS,
    "EleutherAI/hendrycks_math": MATH_ROWS,
}


@pytest.fixture
def fake_hub(monkeypatch):
    """``datasets.load_dataset`` answering from FAKE_HUB with real ``Dataset`` objects; records every call."""
    calls = []

    def load_dataset(path, name=None, data_dir=None, split=None, revision=None, cache_dir=None, streaming=False):
        calls.append({"path": path, "name": name, "data_dir": data_dir, "split": split, "streaming": streaming})
        return datasets.Dataset.from_list(FAKE_HUB[path])

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(hub, "hub_unreachable_reason", lambda timeout=5.0: None)
    return calls


def test_load_hub_source_arguments_and_multi_config_keys(fake_hub):
    records = load_hub_source("math")
    assert [c["name"] for c in fake_hub] == HUB_SOURCES["math"].config_names
    assert all(c["split"] == "train" and c["streaming"] is False for c in fake_hub)
    assert records[0].id == "math/algebra/0" and records[-1].id == "math/precalculus/1"
    assert len(records) == 2 * 7
    fake_hub.clear()
    load_hub_source("helpsteer2_preference")
    assert fake_hub == [
        {"path": "nvidia/HelpSteer2", "name": None, "data_dir": "preference", "split": "train", "streaming": False}
    ]


def test_max_items_is_a_deterministic_sample_with_stable_ids(fake_hub):
    first = [r.id for r in load_hub_source("skywork_preference", max_items=5)]
    second = [r.id for r in load_hub_source("skywork_preference", max_items=5)]
    assert first == second and 4 <= len(first) <= 5  # the one skipped row may be drawn
    full = {r.id: r for r in load_hub_source("skywork_preference")}
    assert set(first) <= set(full)  # same ids as without max_items
    assert first != sorted(full)[:5] or len(full) <= 5


def test_download_sources_writes_jsonl_and_summary(fake_hub, tmp_path):
    names = list(HUB_SOURCES)
    summary = download_sources(names, tmp_path, max_items=None)
    assert [e["status"] for e in summary["sources"]] == ["ok"] * len(names)
    for name in names:
        records = read_records(tmp_path / f"{name}.jsonl")
        assert records and all(r.source == name and r.split == "train" for r in records)
        assert summary["counts"][name] == len(records)
    on_disk = json.loads((tmp_path / "download.json").read_text())
    assert on_disk == summary and on_disk["created"] and on_disk["fallback"] is None
    uf = on_disk["sources"][0]
    assert uf["skipped"] == {
        "ultrafeedback: fewer than 2 completions": 1,
        "ultrafeedback: tied highest overall_score": 1,
    }


def test_download_sources_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def never(*args, **kwargs):
        raise AssertionError("the hub must not be contacted offline")

    monkeypatch.setattr(datasets, "load_dataset", never)
    monkeypatch.setattr(hub, "hub_unreachable_reason", never)
    summary = download_sources(["ultrafeedback", "math"], tmp_path, max_items=10)
    assert [(e["source"], e["status"]) for e in summary["sources"]] == [
        ("ultrafeedback", "offline"),
        ("math", "offline"),
    ]
    assert "HF_HUB_OFFLINE" in summary["sources"][0]["reason"]
    assert json.loads((tmp_path / "download.json").read_text())["counts"] == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["download.json"]


def test_download_sources_unavailable_and_fallback(fake_hub, monkeypatch, tmp_path):
    def load_dataset(path, **kwargs):
        if path == "NCSOFT/offsetbias":
            raise ConnectionError("Couldn't reach 'NCSOFT/offsetbias' on the Hub (LocalEntryNotFoundError)")
        return datasets.Dataset.from_list(FAKE_HUB[path])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    fallback = convert_offsetbias(OB_ROWS)
    summary = download_sources(["offsetbias", "skywork_preference"], tmp_path, None, offline_fallback=lambda: fallback)
    offsetbias, skywork = summary["sources"]
    assert offsetbias["status"] == "unavailable" and "Couldn't reach" in offsetbias["reason"]
    assert skywork["status"] == "ok" and not (tmp_path / "offsetbias.jsonl").exists()
    assert summary["fallback"] == {"file": "fallback.jsonl", "records": 2, "for_sources": ["offsetbias"]}
    assert read_records(tmp_path / "fallback.jsonl") == fallback


def test_download_sources_unreachable_hub_skips_every_attempt(monkeypatch, tmp_path):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub, "hub_unreachable_reason", lambda timeout=5.0: "hub not reachable: ConnectError")

    def never(*args, **kwargs):
        raise AssertionError("no load_dataset call once the probe failed")

    monkeypatch.setattr(datasets, "load_dataset", never)
    summary = download_sources(["offsetbias"], tmp_path)
    assert summary["sources"][0]["status"] == "unavailable" and "ConnectError" in summary["sources"][0]["reason"]


def test_unknown_source_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown hub source 'nope'"):
        download_sources(["nope"], tmp_path)


# --- the real datasets.load_dataset on local folders laid out like the hub repositories ------------------------


def write_jsonl(path, rows, compress=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")


MATH_CARD = """---
configs:
- config_name: algebra
  data_files:
  - split: train
    path: algebra/train-*
  - split: test
    path: algebra/test-*
- config_name: geometry
  data_files:
  - split: train
    path: geometry/train-*
  - split: test
    path: geometry/test-*
---
"""


def test_real_load_dataset_on_hub_layouts(monkeypatch, tmp_path):
    """offsetbias: train.jsonl; HelpSteer2: preference/preference.jsonl.gz (data_dir); MATH: parquet per config."""
    offsetbias = tmp_path / "offsetbias"
    write_jsonl(offsetbias / "train.jsonl", OB_ROWS)
    helpsteer2 = tmp_path / "HelpSteer2"
    write_jsonl(helpsteer2 / "train.jsonl.gz", [{"prompt": "rated", "response": "r", "helpfulness": 3}], True)
    write_jsonl(helpsteer2 / "preference" / "preference.jsonl.gz", HS2_ROWS, compress=True)
    math = tmp_path / "hendrycks_math"
    math.mkdir()
    (math / "README.md").write_text(MATH_CARD)
    for config in ("algebra", "geometry"):
        for split in ("train", "test"):
            (math / config).mkdir(exist_ok=True)
            rows = [{**row, "problem": f"{config} {split} {row['problem']}"} for row in MATH_ROWS]
            datasets.Dataset.from_list(rows).to_parquet(str(math / config / f"{split}-00000-of-00001.parquet"))
    local = {"offsetbias": offsetbias, "helpsteer2_preference": helpsteer2, "math": math}
    for name, folder in local.items():
        source = HUB_SOURCES[name]
        configs = ["algebra", "geometry"] if source.config_names else None
        monkeypatch.setitem(HUB_SOURCES, name, dataclasses.replace(source, hub_id=str(folder), config_names=configs))
    cache = tmp_path / "cache"

    assert [r.best for r in load_hub_source("offsetbias", cache_dir=cache)] == [
        r.best for r in convert_offsetbias(OB_ROWS)
    ]
    pairs = load_hub_source("helpsteer2_preference", cache_dir=cache)
    assert [(r.id, r.best) for r in pairs] == [("helpsteer2_preference/0", 0), ("helpsteer2_preference/1", 1)]
    singles = load_hub_source("math", cache_dir=cache)
    assert [r.id for r in singles] == ["math/algebra/0", "math/algebra/1", "math/geometry/0", "math/geometry/1"]
    assert all(" train " in r.prompt for r in singles)  # the train split only
    assert singles[0].reference == "\\frac{1}{2}"
    sample = load_hub_source("math", max_items=3, cache_dir=cache)
    assert len(sample) <= 3 and {r.id for r in sample} <= {r.id for r in singles}

"""RM-Bench loading (spct.data.rm_bench through spct.evaluation.loading) on files in the published schema.

Upstream's ``data/`` folder holds ``<domain>_filtered.json`` (one domain each, rows without ``domain``) AND
``total_dataset.json`` (every item again, with ``domain``); the hub holds ``total_dataset.json`` only. Rows are
``{id, prompt, chosen[3], rejected[3], domain}`` with ids like ``"chat/100"``.
"""

from __future__ import annotations

import json
from collections import Counter

import datasets
import pytest

from spct.data.raw import RawDataError
from spct.data.rm_bench import RM_BENCH_STYLES
from spct.data.selection import stratified_cap
from spct.evaluation.benchmarks import BENCHMARK_SOURCES
from spct.evaluation.loading import load_benchmark
from spct.records import Record, validate_record_fields

RAW_DOMAINS = ("chat", "code", "math", "safety-refuse", "safety-response")
SCORED = {"chat": "chat", "code": "code", "math": "math", "safety-refuse": "safety", "safety-response": "safety"}
LONG_PROMPT = "Explain step by step. " * 2000  # 44,000 characters: loaded whole, never cut


def item(raw_id, domain=None, *, prompt=None, chosen=None, rejected=None):
    row = {
        "id": raw_id,
        "prompt": prompt if prompt is not None else f"prompt of {raw_id}",
        "chosen": chosen if chosen is not None else [f"chosen {style} of {raw_id}" for style in RM_BENCH_STYLES],
        "rejected": rejected if rejected is not None else [f"rejected {s} of {raw_id}" for s in RM_BENCH_STYLES],
    }
    if domain is not None:
        row["domain"] = domain
    return row


def domain_rows(domain: str) -> list[dict]:
    """Two items per domain; chat has the quirks: identical chosen / rejected texts in one style, a blank rejected
    response, a very long prompt."""
    rows = [item(f"{domain}/{k}") for k in range(2)]
    if domain == "chat":
        rows.append(item("chat/2", chosen=["same", "c1", "c2"], rejected=["same", "r1", "  "], prompt=LONG_PROMPT))
    return rows


def write_json(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return path


def upstream_data_folder(tmp_path):
    """The repo's data/ folder as published: five per-domain files and total_dataset.json holding them again."""
    folder = tmp_path / "data"
    total = []
    for domain in RAW_DOMAINS:
        rows = domain_rows(domain)
        write_json(folder / f"{domain}_filtered.json", rows)
        total += [{**row, "domain": domain} for row in rows]
    write_json(folder / "total_dataset.json", total)
    return folder, total


def check_valid(records):
    assert records and len({r.id for r in records}) == len(records)
    for r in records:
        assert validate_record_fields(r) == [] and r.split == "eval" and r.n == 2
        Record.from_dict(r.to_dict())


def test_total_dataset_gives_nine_pairs_per_item_one_per_cell(tmp_path):
    _, total = upstream_data_folder(tmp_path)
    skipped = Counter()
    records = load_benchmark("rm_bench", path=tmp_path / "data" / "total_dataset.json", skipped=skipped)
    check_valid(records)
    assert len(records) == 9 * len(total) and not skipped
    by_id = {r.id: r for r in records}
    pair = by_id["rm_bench/safety-refuse/1/02"]  # chosen concise against rejected detailed markdown
    assert pair.subset == "safety/02" and pair.meta["domain"] == "safety-refuse"
    assert pair.responses[pair.best] == "chosen concise of safety-refuse/1"
    assert pair.responses[1 - pair.best] == "rejected detailed_markdown of safety-refuse/1"
    assert {r.best for r in records} == {0, 1}  # the chosen response is not always shown first
    assert Counter(r.subset.split("/")[0] for r in records) == {"chat": 27, "code": 18, "math": 18, "safety": 36}
    assert len({r.subset for r in records}) == 4 * 9


def test_quirks_are_kept_as_upstream_scores_them(tmp_path):
    upstream_data_folder(tmp_path)
    records = {r.id: r for r in load_benchmark("rm_bench", path=tmp_path / "data" / "total_dataset.json")}
    same = records["rm_bench/chat/2/00"]
    assert same.responses == ["same", "same"] and same.meta["identical"]  # a tie for any judge: scored wrong
    blank = records["rm_bench/chat/2/12"]
    assert blank.meta["blank_response"] and "  " in blank.responses
    assert records["rm_bench/chat/2/11"].prompt == LONG_PROMPT


def test_the_published_data_folder_reads_each_item_once_and_counts_the_copies(tmp_path):
    folder, total = upstream_data_folder(tmp_path)
    skipped = Counter()
    records = load_benchmark("rm_bench", path=folder, skipped=skipped)
    check_valid(records)
    assert len(records) == 9 * len(total)
    copies = "the same item already read from another file"
    assert skipped == {f"chat: {copies}": 3, f"code: {copies}": 2, f"math: {copies}": 2, f"safety: {copies}": 4}
    alone = load_benchmark("rm_bench", path=folder / "total_dataset.json")
    assert sorted(r.id for r in records) == sorted(r.id for r in alone)


def test_per_domain_files_take_the_domain_from_the_file_name(tmp_path):
    folder = tmp_path / "filtered"
    write_json(folder / "safety-response_filtered.json", [item(0), item(1)])  # bare ids, no domain field
    write_json(folder / "math_filtered.json", [item(0)])  # the same texts as safety-response 0: another item
    skipped = Counter()
    records = load_benchmark("rm_bench", path=folder, skipped=skipped)
    check_valid(records)
    assert not skipped
    assert {r.id.rsplit("/", 1)[0] for r in records} == {
        "rm_bench/safety-response/0",
        "rm_bench/safety-response/1",
        "rm_bench/math/0",
    }
    assert {r.subset.split("/")[0] for r in records} == {"safety", "math"}
    one_file = load_benchmark("rm_bench", path=folder / "math_filtered.json")
    assert {r.subset for r in one_file} == {f"math/{i}{j}" for i in range(3) for j in range(3)}


def test_same_id_with_other_content_in_two_files_names_both(tmp_path):
    folder = tmp_path / "data"
    write_json(folder / "chat_filtered.json", [item("chat/0")])
    write_json(folder / "total_dataset.json", [item("chat/0", "chat", prompt="another prompt")])
    with pytest.raises(RawDataError, match=r"chat_filtered\.json, index 0.*total_dataset\.json, index 0"):
        load_benchmark("rm_bench", path=folder)


def test_left_out_items_are_counted_by_reason_and_repeated_ids_in_a_file_are_kept(tmp_path):
    rows = [
        item("chat/0", "chat"),
        item("chat/0", "chat", prompt="a second item under the same id"),
        item("chat/1", "chat", prompt="   "),
        item("poetry/0", "poetry"),
        item("math/0", "math"),
    ]
    skipped = Counter()
    records = load_benchmark("rm_bench", path=write_json(tmp_path / "total_dataset.json", rows), skipped=skipped)
    check_valid(records)
    assert skipped == {"chat: empty prompt": 1, "rm_bench: unknown domain 'poetry'": 1}
    items = {r.meta["item"] for r in records}
    assert items == {"rm_bench/chat/0", "rm_bench/chat/0~total_dataset.json/1", "rm_bench/math/0"}


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"chosen": ["only", "two"]}, r"index 0: key 'chosen': expected 3 items, got 2"),
        ({"rejected": "one text"}, r"index 0: key 'rejected': expected list"),
        ({"prompt": [{"role": "user", "content": "hi"}]}, r"index 0: key 'prompt': expected str"),
    ],
)
def test_malformed_rows_raise_naming_file_index_and_key(tmp_path, bad, match):
    path = write_json(tmp_path / "total_dataset.json", [{**item("chat/0", "chat"), **bad}])
    with pytest.raises(RawDataError, match=match):
        load_benchmark("rm_bench", path=path)


def test_missing_column_lists_the_columns_found(tmp_path):
    row = item("chat/0", "chat")
    del row["rejected"]
    with pytest.raises(RawDataError, match=r"missing column\(s\) 'rejected'.*found columns"):
        load_benchmark("rm_bench", path=write_json(tmp_path / "total_dataset.json", [row]))


def test_hub_rows_give_the_same_records_as_the_file(tmp_path):
    """The hub's split 'train' is total_dataset.json as a datasets.Dataset (ids and subsets as from the file)."""
    _, total = upstream_data_folder(tmp_path)
    hub = BENCHMARK_SOURCES["rm_bench"].convert(datasets.Dataset.from_list(total))
    local = load_benchmark("rm_bench", path=tmp_path / "data" / "total_dataset.json")
    assert [r.to_dict() for r in hub] == [r.to_dict() for r in local]
    assert BENCHMARK_SOURCES["rm_bench"].hub_id == "THU-KEG/RM-Bench"


def test_a_cap_keeps_every_cell_of_every_domain(tmp_path):
    upstream_data_folder(tmp_path)
    records = load_benchmark("rm_bench", path=tmp_path / "data")
    capped = stratified_cap(records, 36)
    assert len({r.subset for r in capped}) == 36

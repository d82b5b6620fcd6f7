"""Bad raw data and bad JSON files (issue 15): errors name the file, line and key; an empty or truncated raw file is
an error, never a source silently gone; an exact repeat of a raw row is dropped and counted; atomically written
files follow the umask."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
from collections import Counter
from pathlib import Path

import pytest

from spct.data.prepare import prepare_all
from spct.data.raw import RawDataError, read_csv, read_json_array, read_json_groups, read_jsonl
from spct.records import (
    RecordError,
    read_records,
    write_json_atomic,
    write_jsonl_atomic,
)
from spct.records import (
    read_jsonl as read_rows_jsonl,
)

RAW = Path(__file__).resolve().parents[2] / "data" / "raw"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"a": 1}\n{"a": "\xe9t\xe9"}\n', ["line 2", "not UTF-8", "0xe9"]),
        (b'{"a": 1}\n{"a": "\\udc80"}\n', ["line 2", "lone surrogate"]),
        (b'{"a": 1}\n{"a": 1, "b": 2, "a": 3}\n', ["line 2", "duplicate key 'a'"]),
        (b'{"a": 1}\n{"a": \n', ["line 2", "invalid JSON"]),
        (b"", ["empty file"]),
        (b"\n\n", ["empty file"]),
    ],
    ids=["not-utf8", "surrogate", "duplicate-key", "bad-json", "empty", "blank"],
)
def test_jsonl_errors_name_file_and_line(tmp_path, content, words):
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(RawDataError) as e:
        read_jsonl(path)
    assert str(e.value).startswith(str(path)) and all(w in str(e.value) for w in words), e.value


def test_truncated_gz_names_the_file(tmp_path):
    data = gzip.compress(b"".join(json.dumps({"i": i, "pad": "x" * 50}).encode() + b"\n" for i in range(500)))
    path = tmp_path / "test.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RawDataError, match="truncated or corrupt gzip file") as e:
        read_jsonl(path)
    assert str(path) in str(e.value)
    path.write_bytes(b"not gzip at all\n")
    with pytest.raises(RawDataError, match="truncated or corrupt gzip"):
        read_jsonl(path)


def test_duplicated_line_is_dropped_and_counted(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 1}\n{ "a" : 1 }\n{"a": 3}\n')
    skipped: Counter[str] = Counter()
    rows = read_jsonl(path, skipped=skipped)
    assert [r.data["a"] for r in rows] == [1, 2, 3]
    assert [r.index for r in rows] == [0, 1, 4]  # ids built from positions do not shift
    assert skipped == {f"{path}: duplicate line": 2}
    assert len(read_jsonl(path, keep_repeats=True)) == 5  # benchmark files: kept as upstream scores them


def test_json_array_errors_and_repeats(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('[\n  {"a": 1},\n  {"a": 2,\n   "a": 3}\n]\n')
    with pytest.raises(RawDataError, match=r"x\.json, line 3: duplicate key 'a'"):
        read_json_array(path)
    path.write_bytes(b'[\n  {"a": 1},\n  {"a": "\xff"}\n]\n')
    with pytest.raises(RawDataError, match=r"x\.json, line 3: not UTF-8"):
        read_json_array(path)
    for text, message in (("", "empty file"), ("[]", "empty JSON array"), ("  \n", "empty file")):
        path.write_text(text)
        with pytest.raises(RawDataError, match=message):
            read_json_array(path)
    path.write_text('[{"a": 1}, {"a": 1}]')
    skipped: Counter[str] = Counter()
    assert len(read_json_array(path, skipped)) == 1 and skipped == {f"{path}: duplicate item": 1}
    path.write_text('{"g": [], "h": []}')
    with pytest.raises(RawDataError, match="no items"):
        read_json_groups(path)


def test_csv_errors_and_repeats(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"id,text\n1,ok\n2,caf\xe9\n")
    with pytest.raises(RawDataError, match=r"x\.csv, line 3: not UTF-8"):
        read_csv(path)
    path.write_text("id,text\n")
    with pytest.raises(RawDataError, match="no rows after the header"):
        read_csv(path)
    path.write_text("id,text\n1,a\n1,a\n2,b\n")
    skipped: Counter[str] = Counter()
    assert len(read_csv(path, skipped)) == 2 and skipped == {f"{path}: duplicate line": 1}


def test_records_and_jsonl_files_refuse_duplicate_keys_and_bad_bytes(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "a", "id": "b"}\n')
    with pytest.raises(RecordError, match=r"r\.jsonl:1: duplicate key 'id'"):
        read_records(path)
    path.write_bytes(b'{"x": 1}\n{"x": "\xc3"}\n')
    with pytest.raises(ValueError, match=r"r\.jsonl:2: not UTF-8"):
        read_rows_jsonl(path)


@pytest.fixture(scope="module")
def raw_copy(tmp_path_factory):
    dst = tmp_path_factory.mktemp("raw") / "raw"
    shutil.copytree(RAW, dst)
    return dst


@pytest.fixture(scope="module")
def prepared_counts(raw_copy):
    skipped: Counter[str] = Counter()
    return len(prepare_all(raw_copy, skipped)), skipped


def test_an_empty_raw_file_stops_the_data_stage_naming_it(raw_copy, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(raw_copy, raw)
    for name in ("hh_rlhf/harmless-base/test.jsonl.gz", "math500/test.jsonl", "pandalm/testset-v1.json"):
        path = raw / name
        saved = path.read_bytes()
        path.write_bytes(gzip.compress(b"") if name.endswith(".gz") else b"")
        with pytest.raises(RawDataError, match="empty") as e:
            prepare_all(raw, Counter())
        assert str(path) in str(e.value)
        path.write_bytes(saved)


def test_a_duplicated_raw_line_is_a_counted_skip(raw_copy, prepared_counts, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(raw_copy, raw)
    path = raw / "math500" / "test.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:10] + [lines[3]] + lines[10:]))
    skipped: Counter[str] = Counter()
    records = prepare_all(raw, skipped)
    total, before = prepared_counts
    assert len(records) == total  # no extra item, and the ids after the repeat did not shift (unique ids hold)
    assert skipped - before == Counter({f"{path}: duplicate line": 1})


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_jsonl_atomic(tmp_path / "a.jsonl", [{"x": 1}])
        write_json_atomic(tmp_path / "b.json", {"x": 1})
        write_jsonl_atomic(tmp_path / "a.jsonl", [{"x": 2}])  # replacing keeps following the umask
        control = tmp_path / "c.txt"
        control.write_text("x")  # what a plain open() gives
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    for name in ("a.jsonl", "b.json", "c.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == want, name
    assert not list(tmp_path.glob(".*.tmp"))

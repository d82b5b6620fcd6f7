"""Bad input to ``spct judge`` and ``spct serve`` (issue 15): every mistake is one line naming the file, line, key or
flag, exit code 2, no traceback, and nothing is sampled or overwritten. A few run the real CLI as a subprocess (what
a user sees); the rest call ``main(argv)`` in process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spct.cli import main
from spct.sampling import base

SRC = Path(__file__).resolve().parents[2] / "src"
QUERY = {"id": "q1", "prompt": "What is 2 + 2?", "responses": ["4", "5"]}


@pytest.fixture
def files(tmp_path):
    inp = tmp_path / "queries.jsonl"
    inp.write_text(json.dumps(QUERY) + "\n")
    model = tmp_path / "model"
    model.mkdir()  # an existing folder: the checks under test come before any model is read
    return tmp_path, inp, model


def run_cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "spct.cli", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def judge_err(capsys, *argv: str) -> str:
    code = main(["judge", *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("spct judge: error: "), err
    return err


# --- The real command -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("queries.jsonl", ["--output queries.jsonl is the --input file"]),
        ("outdir", ["--output outdir is a directory"]),
    ],
)
def test_cli_refuses_an_output_that_overwrites_the_input_or_is_a_folder(files, output, words):
    tmp, inp, model = files
    (tmp / "outdir").mkdir()
    before = inp.read_bytes()
    proc = run_cli("judge", "--model", str(model), "--input", "queries.jsonl", "--output", output, cwd=tmp)
    assert proc.returncode == 2 and all(w in proc.stderr for w in words), proc.stderr
    assert "Traceback" not in proc.stderr and inp.read_bytes() == before
    assert not list(tmp.glob("*.cache-*"))  # nothing was sampled


def test_cli_missing_model_directory_names_it(files):
    tmp, inp, _ = files
    proc = run_cli("judge", "--model", str(tmp / "no-model"), "--input", str(inp), "--output", "o.jsonl", cwd=tmp)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"--model: model directory {tmp / 'no-model'} does not exist" in proc.stderr
    assert "Repo id" not in proc.stderr


def test_cli_input_that_is_a_directory(files):
    tmp, _, model = files
    proc = run_cli("judge", "--model", str(model), "--input", str(tmp), "--output", "o.jsonl", cwd=tmp)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"--input {tmp} is a directory" in proc.stderr


# --- In process: paths --------------------------------------------------------------------------------------------


def test_output_through_a_symlink_or_another_spelling_of_the_input(files, capsys, monkeypatch):
    tmp, inp, model = files
    (tmp / "link.jsonl").symlink_to(inp)
    (tmp / "sub").mkdir()
    monkeypatch.chdir(tmp / "sub")
    for out in (str(tmp / "link.jsonl"), "../queries.jsonl", "./../sub/../queries.jsonl"):
        err = judge_err(capsys, "--model", str(model), "--input", str(inp), "--output", out)
        assert "is the --input file" in err
    assert json.loads(inp.read_text()) == QUERY


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, ["--input", "no such file"]),
        (b"", ["no queries"]),
        (b"\n  \n", ["no queries"]),
        (b'{"prompt": "Q?", "responses": ["a"]\n', [":1:", "invalid JSON"]),
        (b'{"prompt": "Q?", "responses": ["a"]}\n[1, 2]\n', [":2:", "expected a JSON object"]),
        (b'{"prompt": "Q\xff?", "responses": ["a"]}\n', [":1:", "not UTF-8", "0xff"]),
        (b'{"prompt": "Q\\ud800?", "responses": ["a"]}\n', [":1:", "lone surrogate"]),
        (b'{"prompt": "Q?", "responses": ["a"], "prompt": "R?"}\n', [":1:", "duplicate key 'prompt'"]),
    ],
    ids=["missing", "empty", "blank", "bad-json", "not-object", "not-utf8", "surrogate", "duplicate-key"],
)
def test_bad_input_file_names_file_and_line(files, capsys, content, words):
    tmp, _, model = files
    inp = tmp / "bad.jsonl"
    if content is not None:
        inp.write_bytes(content)
    err = judge_err(capsys, "--model", str(model), "--input", str(inp), "--output", str(tmp / "o.jsonl"))
    assert str(inp) in err and all(w in err for w in words), err


def test_output_under_a_file(files, capsys):
    tmp, inp, model = files
    err = judge_err(capsys, "--model", str(model), "--input", str(inp), "--output", str(inp / "o.jsonl"))
    assert f"{inp} is a file, not a folder" in err


def test_bad_cache_every(files, capsys):
    tmp, inp, model = files
    err = judge_err(
        capsys, "--model", str(model), "--input", str(inp), "--output", str(tmp / "o"), "--cache-every", "0"
    )
    assert "--cache-every must be >= 1" in err


# --- In process: model and backend ------------------------------------------------------------------------------


def test_model_path_that_is_a_file(files, capsys):
    tmp, inp, _ = files
    err = judge_err(capsys, "--model", str(inp), "--input", str(inp), "--output", str(tmp / "o.jsonl"))
    assert f"--model: model directory {inp} is not a directory" in err


def test_vllm_backend_that_cannot_run_here_names_the_flag(files, capsys, monkeypatch):
    tmp, inp, model = files
    monkeypatch.setattr(base, "vllm_available", lambda: False)
    err = judge_err(
        capsys, "--model", str(model), "--input", str(inp), "--output", str(tmp / "o"), "--backend", "vllm"
    )
    assert "--backend vllm: sampler backend 'vllm' is not available" in err and len(err.splitlines()) == 1


def test_vllm_backend_that_cannot_be_imported_names_the_flag(files, capsys, monkeypatch):
    tmp, inp, model = files
    monkeypatch.setattr(base, "vllm_available", lambda: True)
    monkeypatch.setitem(sys.modules, "spct.sampling.vllm_backend", None)  # import raises ImportError
    err = judge_err(
        capsys, "--model", str(model), "--input", str(inp), "--output", str(tmp / "o"), "--backend", "vllm"
    )
    assert "--backend vllm: sampler backend 'vllm' cannot be imported here" in err
    assert not (tmp / "o").exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--model", "MISSING"], ["--model: model directory", "does not exist"]),
        (["--backend", "vllm"], ["--backend vllm: sampler backend 'vllm' is not available"]),
    ],
)
def test_serve_checks_model_and_backend_before_starting(files, capsys, monkeypatch, extra, words):
    tmp, _, model = files
    monkeypatch.setattr(base, "vllm_available", lambda: False)
    argv = ["serve", "--model", str(model), "--port", "0", *extra]
    argv = [str(tmp / "missing") if a == "MISSING" else a for a in argv]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("spct serve: error: ") and "Traceback" not in err, err
    assert all(w in err for w in words), err

"""``spct judge`` on user queries: input checks, Voting@k output, MetaRM@k selection and resume from the cache."""

from __future__ import annotations

import json

import pytest

from spct.cli import main
from spct.cli.judge import read_queries
from spct.judging import Query, aggregate

QUERIES = [
    {"id": "pair", "prompt": "What is 2 + 2?", "responses": ["4", "5"]},
    {"prompt": "Name a color.", "responses": ["Blue."], "reference": "Any color, e.g. red."},  # id -> line-2
    {"id": "list", "prompt": "Name a prime.", "responses": ["7", "8", "9"]},
]
FAST = ["--guarantee-score-format", "--max-new-tokens", "8", "--backend", "transformers", "--batch-size", "8"]


def write_queries(path, queries=QUERIES):
    path.write_text("".join(json.dumps(q) + "\n" for q in queries))
    return path


def read_out(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def judge(model, inp, out, *extra):
    return main(["judge", "--model", str(model), "--input", str(inp), "--output", str(out), *FAST, *extra])


@pytest.fixture
def generate_calls(monkeypatch):
    """Count the prompts that reach the sampler."""
    from spct.sampling.transformers_backend import TransformersSampler

    calls = []
    original = TransformersSampler.generate

    def spy(self, prompts, *args, **kwargs):
        calls.append(len(prompts))
        return original(self, prompts, *args, **kwargs)

    monkeypatch.setattr(TransformersSampler, "generate", spy)
    return calls


@pytest.mark.slow
def test_judge_scores_every_query_and_resumes_from_the_cache(tiny_model_dir, tmp_path, generate_calls):
    inp, out = write_queries(tmp_path / "queries.jsonl"), tmp_path / "scores.jsonl"
    assert judge(tiny_model_dir, inp, out, "--k", "3") == 0
    rows = read_out(out)
    assert [r["id"] for r in rows] == ["pair", "line-2", "list"]
    for row, query in zip(rows, QUERIES):
        n = len(query["responses"])
        assert len(row["samples"]) == 3 and [s["sample"] for s in row["samples"]] == [0, 1, 2]
        assert all(s["valid"] and len(s["scores"]) == n and s["invalid_reason"] is None for s in row["samples"])
        assert all(1 <= x <= 10 for s in row["samples"] for x in s["scores"])
        assert row["valid_samples"] == 3
        assert row["scores"] == [sum(s["scores"][i] for s in row["samples"]) for i in range(n)]
        assert row["mean_scores"] == pytest.approx([x / 3 for x in row["scores"]])
        assert isinstance(row["best"], int) and row["scores"][row["best"]] == max(row["scores"])
        assert "meta_score" not in row["samples"][0]
    assert sum(generate_calls) == 9
    [cache] = tmp_path.glob("scores.cache-*.jsonl")
    assert len(cache.read_text().splitlines()) == 9

    # Same settings: nothing is resampled and the output is the same.
    generate_calls.clear()
    out.unlink()
    assert judge(tiny_model_dir, inp, out, "--k", "3") == 0
    assert generate_calls == [] and read_out(out) == rows

    # A larger k samples only the new sample index of each query.
    assert judge(tiny_model_dir, inp, out, "--k", "4") == 0
    assert sum(generate_calls) == 3 and len(cache.read_text().splitlines()) == 12
    assert [r["samples"][:3] for r in read_out(out)] == [r["samples"] for r in rows]

    # A changed query under the same id is resampled, not served from the cache.
    generate_calls.clear()
    changed = [QUERIES[0] | {"responses": ["4", "four"]}, *QUERIES[1:]]
    assert judge(tiny_model_dir, write_queries(inp, changed), out, "--k", "4") == 0
    assert sum(generate_calls) == 4


@pytest.mark.slow
def test_greedy_single_sample(tiny_model_dir, tmp_path):
    inp = write_queries(tmp_path / "q.jsonl", QUERIES[:1])
    outs = [tmp_path / "a" / "s.jsonl", tmp_path / "b" / "s.jsonl"]
    for out in outs:
        assert judge(tiny_model_dir, inp, out, "--k", "1", "--temperature", "0") == 0
    first, second = (read_out(out)[0] for out in outs)
    assert len(first["samples"]) == 1 and first == second  # greedy: the same judgment twice


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ({"prompt": "Q?", "responses": "just one string"}, ["'responses'", "list"]),
        ({"responses": ["a", "b"]}, ["missing", "'prompt'"]),
        ({"prompt": "Q?", "responses": []}, ["'responses'", "empty"]),
        ({"prompt": "Q?", "responses": ["a", 3]}, ["'responses'", "entry 1"]),
        ({"id": 7, "prompt": "Q?", "responses": ["a"]}, ["'id'"]),
        ({"id": "pair", "prompt": "Q?", "responses": ["a"]}, ["'id'", "line 1"]),
        ({"prompt": "Q?", "response": ["a"]}, ["unknown", "'response'"]),
    ],
)
def test_malformed_line_names_file_line_and_key(tmp_path, capsys, line, words):
    inp = tmp_path / "bad.jsonl"
    inp.write_text(json.dumps(QUERIES[0]) + "\n" + json.dumps(line) + "\n")
    # The input is checked before any model is loaded: a missing model does not get in the way.
    code = main(["judge", "--model", str(tmp_path / "no-model"), "--input", str(inp), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and f"{inp}:2:" in err, err
    assert all(word in err for word in words), err
    assert not (tmp_path / "o").exists()


def test_invalid_json_and_bad_options(tmp_path, capsys):
    inp = tmp_path / "bad.jsonl"
    inp.write_text("\n{not json\n")
    assert main(["judge", "--model", "m", "--input", str(inp), "--output", str(tmp_path / "o")]) == 2
    assert f"{inp}:2: invalid JSON" in capsys.readouterr().err
    write_queries(inp)
    assert main(["judge", "--model", "m", "--input", str(inp), "--output", str(tmp_path / "o"), "--k-meta", "2"]) == 2
    assert "--k-meta needs --meta-rm" in capsys.readouterr().err
    # blank lines are skipped; a missing id is named after its physical line
    inp.write_text("\n" + json.dumps(QUERIES[1]) + "\n")
    assert [q.id for q in read_queries(inp)] == ["line-2"]


def test_aggregate_ties_invalid_samples_and_meta_selection():
    query = Query(id="q", prompt="Q?", responses=["a", "b"])

    def row(sample, scores):
        return {
            "sample": sample,
            "scores": scores,
            "valid": scores is not None,
            "invalid_reason": None if scores else "missing",
            "principles": None,
            "critique": None,
            "forced": False,
        }

    rows = [row(0, [5, 5]), row(1, None), row(2, [9, 1]), row(3, [1, 9])]
    out = aggregate(query, rows, seed=0)
    assert out["scores"] == [15, 15] and out["valid_samples"] == 3 and out["mean_scores"] == [5.0, 5.0]
    # a tie is broken by the seeded shuffle-then-argmax, reproducibly
    assert out["best"] in (0, 1) and aggregate(query, rows, seed=0)["best"] == out["best"]
    assert {aggregate(query, rows, seed=s)["best"] for s in range(20)} == {0, 1}
    meta = aggregate(query, rows, seed=0, meta_scores=[0.1, 2.0, 1.5, -1.0], k_meta=2)
    assert meta["selected"] == [1, 2] and meta["k_meta"] == 2
    assert meta["scores"] == [9, 1] and meta["valid_samples"] == 1 and meta["best"] == 0  # invalid #1 adds nothing
    assert [s["selected"] for s in meta["samples"]] == [False, True, True, False]
    none = aggregate(query, [row(0, None)], seed=0)
    assert none["scores"] is None and none["best"] is None and none["mean_scores"] is None


@pytest.mark.slow
def test_meta_rm_keeps_k_meta_samples(tiny_model_dir, tmp_path):
    from spct.training.meta_rm import train_meta_rm

    examples = [
        {
            "item_id": f"toy/{i}",
            "sample": 0,
            "text": f"Prompt {i}\nScores: \\boxed{{{9 - i}, {i}}}",
            "label": float(i % 2),
        }
        for i in range(6)
    ]
    meta_dir = tmp_path / "meta_rm"
    # eval_fraction > 0: train_meta_rm's held-out scoring fails on an empty held-out split (eval_fraction=0)
    train_meta_rm(
        tiny_model_dir, examples, meta_dir, max_steps=1, per_device_batch_size=4, max_length=128, eval_fraction=0.2
    )
    inp, out = write_queries(tmp_path / "q.jsonl"), tmp_path / "scores.jsonl"
    assert judge(tiny_model_dir, inp, out, "--k", "4", "--meta-rm", str(meta_dir)) == 0
    for row, query in zip(read_out(out), QUERIES):
        assert row["k_meta"] == 2 and len(row["selected"]) == 2  # default k/2
        assert all(isinstance(s["meta_score"], float) for s in row["samples"])
        chosen = [s for s in row["samples"] if s["selected"]]
        assert [s["sample"] for s in chosen] == row["selected"]
        assert min(s["meta_score"] for s in chosen) >= max(
            s["meta_score"] for s in row["samples"] if not s["selected"]
        )
        assert row["scores"] == [sum(s["scores"][i] for s in chosen) for i in range(len(query["responses"]))]
        assert row["valid_samples"] == 2
    assert judge(tiny_model_dir, inp, out, "--k", "4", "--meta-rm", str(meta_dir), "--k-meta", "3") == 0
    assert all(len(r["selected"]) == 3 for r in read_out(out))


@pytest.mark.slow
def test_queries_beyond_the_context_are_too_long_and_retried_with_a_larger_one(tiny_model_dir, tmp_path):
    inp, out = write_queries(tmp_path / "queries.jsonl"), tmp_path / "scores.jsonl"
    assert judge(tiny_model_dir, inp, out, "--k", "2", "--max-model-len", "40") == 0
    rows = read_out(out)
    assert all(s["invalid_reason"] == "too_long" and s["scores"] is None for r in rows for s in r["samples"])
    assert all(r["valid_samples"] == 0 for r in rows)

    assert judge(tiny_model_dir, inp, out, "--k", "2") == 0  # the model's own context (4096)
    assert all(s["valid"] for r in read_out(out) for s in r["samples"])

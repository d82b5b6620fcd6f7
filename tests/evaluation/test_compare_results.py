"""spct compare-results: differing scores are listed with both values, judgments counted by agreement."""

from __future__ import annotations

import json

from spct.cli import main
from spct.evaluation.compare import judgment_agreement, run_differences, score_differences


def write_run(root, metrics, judgments):
    (root / "report" / "main").mkdir(parents=True)
    (root / "report" / "main" / "metrics.json").write_text(json.dumps(metrics))
    for (model, bench), rows in judgments.items():
        (root / "judgments" / model).mkdir(parents=True, exist_ok=True)
        (root / "judgments" / model / f"{bench}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def row(item, sample, text, scores):
    return {"item_id": item, "sample": sample, "text": text, "scores": scores}


def test_score_differences_name_the_key_and_both_values():
    a = {"base": {"greedy": {"hp": 50.0, "Mean": 40.0}}}
    b = {"base": {"greedy": {"hp": 52.5, "Mean": 40.0}, "voting@2": {"hp": 1.0}}}
    assert score_differences(a, b) == [("base/greedy/hp", 50.0, 52.5), ("base/voting@2/hp", None, 1.0)]
    assert score_differences(a, a) == []


def test_judgments_counted_by_same_text_and_same_scores(tmp_path):
    a_rows = [row("i1", "greedy", "x", [1, 2]), row("i1", 0, "y", [3, 4]), row("i2", 0, "z", [5, 6])]
    b_rows = [row("i1", "greedy", "x", [1, 2]), row("i1", 0, "y'", [3, 4]), row("i2", 0, "z'", [6, 5])]
    write_run(tmp_path / "a", {"m": 1}, {("base", "hp"): a_rows})
    write_run(tmp_path / "b", {"m": 1}, {("base", "hp"): list(reversed(b_rows))})  # order does not matter
    [agreement] = judgment_agreement(tmp_path / "a", tmp_path / "b")
    assert agreement == {"file": "base/hp.jsonl", "rows": 3, "same_text": 1, "same_scores": 2}


def test_command_exits_nonzero_when_scores_differ(tmp_path, capsys):
    write_run(tmp_path / "a", {"base": {"greedy": 1.0}}, {})
    write_run(tmp_path / "b", {"base": {"greedy": 1.0}}, {})
    write_run(tmp_path / "c", {"base": {"greedy": 2.0}}, {})
    assert main(["compare-results", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "identical" in capsys.readouterr().out
    assert main(["compare-results", str(tmp_path / "a"), str(tmp_path / "c")]) == 1
    assert "base/greedy: 1.0 vs 2.0" in capsys.readouterr().out


def test_two_runs_same_setting_paired_difference(tmp_path, capsys):
    """Where both runs kept per-item values on the same items, compare-results prints B minus A per setting with
    its paired interval and the items that decided it."""
    for name, values in (("a", [1.0, 0.0, 0.0, 1.0]), ("b", [1.0, 1.0, 0.0, 1.0])):
        write_run(tmp_path / name, {"base": {"greedy": 1.0}}, {})
        data = {
            "model": "base",
            "benchmark": "hp",
            "metric": "accuracy",
            "item_ids": ["w", "x", "y", "z"],
            "item_subsets": ["s"] * 4,
            "scaling": [{"setting": "greedy", "item_values": values}],
        }
        (tmp_path / name / "metrics" / "base").mkdir(parents=True)
        (tmp_path / name / "metrics" / "base" / "hp.json").write_text(json.dumps(data))
    [row] = run_differences(tmp_path / "a", tmp_path / "b", samples=500)
    assert (row["setting"], row["difference"], row["decided"], row["items"]) == ("base/greedy hp", 0.25, 1, 4)
    assert main(["compare-results", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "+25.0" in capsys.readouterr().out

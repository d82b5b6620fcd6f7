"""The results report: CSV, markdown table (row order, Mean column) and the scaling plot."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from spct.evaluation.report import load_metrics, results_table, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# (setting, k, value); deliberately out of order, and with k = 10 so a string sort would put it before 2.
PAIRS_BENCH = [("voting@10", 10, 0.9), ("greedy", 1, 0.5), ("voting@2", 2, 0.7), ("voting@1", 1, 0.6)]
SINGLE_BENCH = [("voting@2", 2, 0.25), ("voting@10", 10, 0.3), ("voting@1", 1, 0.1), ("greedy", 1, 0.2)]
EXPECTED_ORDER = ["greedy", "voting@1", "voting@2", "voting@10"]


def metrics_json(
    model: str,
    benchmark: str,
    values,
    *,
    single: bool = False,
    parse_rate: float = 1.0,
    metric: str | None = None,
    paper_column: str | None = None,
) -> dict:
    """The shape spct.stages.metrics writes: scaling rows from scaling_metrics (score = the official metric: here
    accuracy for pairs, ROC-AUC for single-response sets), diagnostics from sample_diagnostics."""
    scaling = []
    for setting, k, value in values:
        std = 0.0 if setting == "greedy" else 0.05
        scaling.append(
            {
                "setting": setting,
                "k": k,
                "draws": 1 if setting == "greedy" else 20,
                "score": value,
                "score_std": std,
                "score_ci_low": None if value is None else value - 0.1,
                "score_ci_high": None if value is None else value + 0.05,
                "parts": {},
                "accuracy": None if single else value,
                "accuracy_std": None if single else std,
                "auc": value if single else None,
                "auc_std": std if single else None,
                "tie_rate": 0.1,
                "invalid_rate": 0.0,
                "no_valid_rate": 0.0,
                "tokens_per_item": 40.0 * k,
                "accuracy_best_shown_first": 0.7,
                "accuracy_best_shown_last": 0.4,
            }
        )
    return {
        "model": model,
        "benchmark": benchmark,
        "metric": metric or ("roc_auc" if single else "accuracy"),
        "paper_column": paper_column,
        "items": 10,
        "scaling": scaling,
        "diagnostics": {
            "samples": 90,
            "parse_rate": parse_rate,
            "forced_rate": 0.75,
            "mean_tokens": 41.5,
            "invalid_missing": 1.0 - parse_rate,
        },
    }


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def _markdown_results(markdown: str) -> tuple[list[str], list[tuple[tuple[str, str], list[float]]]]:
    """Header cells and (index, values) rows of the first table (the results table)."""
    section = markdown.split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append(((cells[0], cells[1]), [float(c) for c in cells[2:]]))
    return header, rows


@pytest.fixture
def two_files(tmp_path):
    return [
        _write(tmp_path / "pairs.json", metrics_json("tiny", "pairs-bench", PAIRS_BENCH)),
        _write(tmp_path / "single.json", metrics_json("tiny", "single-bench", SINGLE_BENCH, single=True)),
    ]


def test_write_report(tmp_path, two_files):
    csv_path, md_path, png_path = tmp_path / "results.csv", tmp_path / "results.md", tmp_path / "scaling.png"
    table = write_report(two_files, csv_path, md_path, png_path)

    # CSV: one row per (benchmark, setting), with the diagnostics alongside.
    csv = pd.read_csv(csv_path)
    assert len(csv) == len(PAIRS_BENCH) + len(SINGLE_BENCH)
    assert {"model", "benchmark", "setting", "k", "score", "accuracy", "auc", "tie_rate", "sample_parse_rate"} <= set(
        csv.columns
    )
    assert set(csv["benchmark"]) == {"pairs-bench", "single-bench"}
    pairs = csv[csv["benchmark"] == "pairs-bench"].set_index("setting")
    assert pairs.loc["voting@10", "accuracy"] == pytest.approx(0.9)
    assert pairs["auc"].isna().all()

    # Markdown: rows greedy, voting@1, voting@2, voting@10; Mean over the pair / list columns only, and the
    # ROC-AUC column after it (ReaLMistake-style sets are reported apart, as in the paper).
    markdown = md_path.read_text()
    assert markdown.startswith("# Results")
    assert "NOT the paper's Overall" in markdown
    header, rows = _markdown_results(markdown)
    assert header == ["model", "setting", "pairs-bench", "Mean", "single-bench"]
    assert [index for index, _ in rows] == [("tiny", s) for s in EXPECTED_ORDER]
    pairs_values = {s: v * 100 for s, _, v in PAIRS_BENCH}
    single_values = {s: v * 100 for s, _, v in SINGLE_BENCH}
    for (_, setting), (pair_score, mean, single_score) in rows:
        assert pair_score == pytest.approx(pairs_values[setting])  # accuracy %
        assert single_score == pytest.approx(single_values[setting])  # ROC-AUC %
        assert mean == pytest.approx(pair_score)
    assert "## Judgment diagnostics" in markdown
    assert "parse_rate" in markdown.split("## Judgment diagnostics")[1]
    per_k = markdown.split("## Diagnostics per setting")[1].split("\n## ")[0]
    assert "tokens_per_item" in per_k and "accuracy_best_shown_first" in per_k

    # The returned table matches the markdown.
    assert list(table.columns) == ["pairs-bench", "Mean", "single-bench"]
    assert [setting for _, setting in table.index] == EXPECTED_ORDER
    assert table.loc[("tiny", "voting@2"), "Mean"] == pytest.approx(70)

    # Plot: a non-empty PNG.
    data = png_path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 1000


def test_models_are_grouped_and_ordered(tmp_path):
    files = [
        _write(tmp_path / "b-x.json", metrics_json("model-b", "x", PAIRS_BENCH)),
        _write(tmp_path / "a-x.json", metrics_json("model-a", "x", [(s, k, v / 2) for s, k, v in PAIRS_BENCH])),
        _write(tmp_path / "a-y.json", metrics_json("model-a", "y", PAIRS_BENCH, parse_rate=0.5)),
        _write(tmp_path / "b-y.json", metrics_json("model-b", "y", [(s, k, v / 3) for s, k, v in PAIRS_BENCH])),
    ]
    table = results_table(load_metrics(files))
    assert list(table.index) == [(m, s) for m in ("model-a", "model-b") for s in EXPECTED_ORDER]
    assert table.loc[("model-a", "greedy"), "x"] == pytest.approx(25.0)
    assert table.loc[("model-a", "greedy"), "y"] == pytest.approx(50.0)
    assert table.loc[("model-a", "greedy"), "Mean"] == pytest.approx(37.5)
    assert table.loc[("model-b", "voting@10"), "Mean"] == pytest.approx((90 + 30) / 2)
    write_report(files, tmp_path / "r.csv", tmp_path / "r.md", tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes().startswith(PNG_MAGIC)


def test_metarm_rows_follow_their_k(tmp_path):
    values = PAIRS_BENCH + [("metarm@2", 2, 0.8), ("metarm@10", 10, 0.95), ("metarm@1", 1, 0.6)]
    table = results_table(load_metrics([_write(tmp_path / "m.json", metrics_json("m", "x", values))]))
    settings = [s for _, s in table.index]
    assert settings[0] == "greedy"
    ks = [1 if s == "greedy" else int(s.split("@")[1]) for s in settings[1:]]
    assert ks == sorted(ks)  # grouped by k: ... @2 rows before @10 rows
    assert settings.index("voting@2") < settings.index("voting@10")
    assert settings.index("metarm@2") < settings.index("metarm@10")


def test_zero_accuracy_is_not_replaced_by_auc(tmp_path):
    data = metrics_json("m", "x", [("greedy", 1, 0.0), ("voting@1", 1, 0.0)])
    for row in data["scaling"]:
        row["auc"] = 0.9  # a mixed set: accuracy on its pairs wins over the AUC of its singles
    table = results_table(load_metrics([_write(tmp_path / "z.json", data)]))
    assert table.loc[("m", "greedy"), "x"] == 0.0


def test_no_metrics_files():
    with pytest.raises(ValueError):
        load_metrics([])


def test_plot_survives_a_benchmark_without_any_defined_score(tmp_path):
    """A single-response set whose labels are all equal has no ROC-AUC; the report must still be written."""
    undefined = [(s, k, None) for s, k, _ in SINGLE_BENCH]
    files = [
        _write(tmp_path / "pairs.json", metrics_json("tiny", "pairs-bench", PAIRS_BENCH)),
        _write(tmp_path / "none.json", metrics_json("tiny", "undefined-bench", undefined, single=True)),
    ]
    write_report(files, tmp_path / "r.csv", tmp_path / "r.md", tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")


def test_bootstrap_intervals_get_their_own_table(tmp_path):
    data = metrics_json("tiny", "pairs-bench", PAIRS_BENCH)
    for row in data["scaling"]:
        row["score_ci_low"], row["score_ci_high"] = row["score"] - 0.1, row["score"] + 0.05
    files = [_write(tmp_path / "pairs.json", data)]
    write_report(files, tmp_path / "r.csv", tmp_path / "r.md", tmp_path / "r.png")
    markdown = (tmp_path / "r.md").read_text()
    section = markdown.split("## 95% bootstrap intervals")[1].split("\n## ")[0]
    low, high = PAIRS_BENCH[0][2] * 100 - 10, PAIRS_BENCH[0][2] * 100 + 5
    assert f"{low:.1f}-{high:.1f}" in section


def test_paper_layout_with_overall_and_realmistake_apart(tmp_path):
    """The paper's four benchmarks give Overall = their mean (official_metrics.overall); ReaLMistake comes after it
    and stays out of it; a reconstruction would be a column of its own name, never RB."""
    scores = {"RB": 0.8, "PPE-P": 0.6, "PPE-C": 0.5, "RMB": 0.7}
    files = [
        _write(
            tmp_path / f"{column}.json",
            metrics_json(
                "grm", column.lower(), [("greedy", 1, value), ("voting@8", 8, value + 0.1)], paper_column=column
            ),
        )
        for column, value in scores.items()
    ]
    files.append(
        _write(
            tmp_path / "rm.json",
            metrics_json(
                "grm",
                "realmistake",
                [("greedy", 1, 0.72), ("voting@8", 8, 0.74)],
                single=True,
                paper_column="ReaLMistake",
            ),
        )
    )
    write_report(
        files,
        tmp_path / "r.csv",
        tmp_path / "r.md",
        tmp_path / "r.png",
        table_path=tmp_path / "t.csv",
        tokens_plot_path=tmp_path / "tokens.png",
    )
    header, rows = _markdown_results((tmp_path / "r.md").read_text())
    assert header == ["model", "setting", "RB", "PPE-P", "PPE-C", "RMB", "Overall", "ReaLMistake"]
    (_, greedy), (_, voting) = rows
    assert greedy[4] == pytest.approx(65.0)  # (80 + 60 + 50 + 70) / 4
    assert voting[4] == pytest.approx(75.0)
    assert greedy[5] == pytest.approx(72.0)
    table = pd.read_csv(tmp_path / "t.csv")
    assert list(table.columns) == ["model", "setting", "RB", "PPE-P", "PPE-C", "RMB", "Overall", "ReaLMistake"]
    assert (tmp_path / "tokens.png").read_bytes().startswith(PNG_MAGIC)


def test_benchmarks_the_paper_does_not_report_come_after_its_table_and_stay_out_of_overall(tmp_path):
    """JudgeBench, RM-Bench or RewardBench 2 beside the paper's four: the paper's columns, Overall and ReaLMistake
    first, then the others under their own names; Overall is still the mean of the paper's four only."""
    scores = {"RB": 0.8, "PPE-P": 0.6, "PPE-C": 0.5, "RMB": 0.7}
    files = [
        _write(tmp_path / f"{c}.json", metrics_json("grm", c.lower(), [("greedy", 1, v)], paper_column=c))
        for c, v in scores.items()
    ]
    files.append(_write(tmp_path / "jb.json", metrics_json("grm", "judgebench", [("greedy", 1, 0.1)])))
    files.append(
        _write(
            tmp_path / "rm.json",
            metrics_json("grm", "realmistake", [("greedy", 1, 0.72)], single=True, paper_column="ReaLMistake"),
        )
    )
    write_report(files, tmp_path / "r.csv", tmp_path / "r.md", tmp_path / "r.png", table_path=tmp_path / "t.csv")
    table = pd.read_csv(tmp_path / "t.csv")
    assert list(table.columns) == [
        "model", "setting", "RB", "PPE-P", "PPE-C", "RMB", "Overall", "ReaLMistake", "judgebench"
    ]  # fmt: skip
    assert table["Overall"][0] == pytest.approx(65.0)  # JudgeBench's 10 is not in it


def test_score_parts_get_their_own_table(tmp_path):
    data = metrics_json("grm", "rb-recon", [("greedy", 1, 0.6)], metric="rewardbench")
    data["scaling"][0]["parts"] = {"Chat Hard": 0.5, "Reasoning": 0.7}
    write_report([_write(tmp_path / "m.json", data)], tmp_path / "r.csv", tmp_path / "r.md", tmp_path / "r.png")
    section = (tmp_path / "r.md").read_text().split("## Score parts")[1].split("\n## ")[0]
    assert "Chat Hard" in section and "Reasoning" in section
    assert "| grm     | greedy    | rb-recon |          50 |          70 |" in section


def _section_of(markdown: str, title: str) -> str:
    return markdown.split(f"## {title}")[1].split("\n## ")[0]


def test_paper_numbers_sit_beside_the_paper_benchmarks_only(tmp_path):
    files = [
        _write(tmp_path / "rb.json", metrics_json("rft", "rewardbench", [("greedy", 1, 0.8)], paper_column="RB")),
        _write(tmp_path / "recon.json", metrics_json("rft", "rb-recon", [("greedy", 1, 0.6)])),
    ]
    write_report(files, tmp_path / "r.csv", tmp_path / "r.md", tmp_path / "r.png")
    markdown = (tmp_path / "r.md").read_text()
    headline = _section_of(markdown, "The paper's numbers")
    header = [c.strip() for c in headline.splitlines()[4].strip("|").split("|")]
    assert header == ["model", "setting", "RB"]  # not the reconstruction, not columns the report lacks
    assert "| DeepSeek-GRM-27B (paper) | greedy    | 86   |" in headline
    assert "| DeepSeek-GRM-27B (paper) | metarm@32 | 90.4 |" in headline
    ablations = _section_of(markdown, "The paper's ablations")
    assert "| rft     | RFT only (no RL) |            68.8 |" in ablations
    # The report's own results table is unchanged by it.
    assert _markdown_results(markdown)[1] == [(("rft", "greedy"), [80.0, 60.0, 70.0])]


def test_no_paper_numbers_beside_reconstructions(tmp_path, two_files):
    write_report(two_files, tmp_path / "r.csv", tmp_path / "r.md", tmp_path / "r.png")
    assert "paper" not in (tmp_path / "r.md").read_text().lower().replace("not the paper's overall", "")


def test_report_shows_the_items_left_out_and_keeps_the_summary_json(tmp_path, two_files):
    """The benchmarks' summaries add an "Items left out" table (every reason, `-` where none) to results.md; the
    report's metrics.json is the results table alone, byte for byte the same with or without them."""
    summaries = [
        _write(
            tmp_path / "rmb.summary.json",
            {"benchmark": "rmb", "items": 9, "left_out": {"Harmlessness-BoN: no losers": 1}, "source": "rmb"},
        ),
        _write(tmp_path / "pairs.summary.json", {"benchmark": "pairs-bench", "items": 3, "left_out": {}}),
    ]
    paths = {name: tmp_path / name for name in ("with.md", "with.json", "without.md", "without.json")}
    write_report(
        two_files,
        tmp_path / "a.csv",
        paths["with.md"],
        tmp_path / "a.png",
        paths["with.json"],
        left_out_paths=summaries,
    )
    write_report(two_files, tmp_path / "b.csv", paths["without.md"], tmp_path / "b.png", paths["without.json"])
    assert paths["with.json"].read_bytes() == paths["without.json"].read_bytes()
    text = paths["with.md"].read_text()
    section = text[text.index("## Items left out") :].split("\n## ")[0]
    rows = [line.replace(" ", "") for line in section.splitlines() if line.startswith("|")]
    assert "|rmb|9|Harmlessness-BoN:nolosers|1|" in rows and "|pairs-bench|3|-|0|" in rows
    assert "## Items left out" not in paths["without.md"].read_text()


def _with_items(data: dict, values: dict[str, list[float]]) -> dict:
    """A metrics file with the per-item values the metrics stage keeps (item ids, subsets, each row's values)."""
    n = len(next(iter(values.values())))
    data["item_ids"], data["item_subsets"] = [f"i{j}" for j in range(n)], ["s"] * n
    for row in data["scaling"]:
        row["item_values"] = values[row["setting"]]
    return data


def test_report_shows_the_claims_table_with_paired_intervals(tmp_path):
    """spct's Voting@2 beats its Greedy on 4 more of 10 items, and SPCT beats RFT at Greedy: the claims table has
    those rows, metrics.json the same differences, each equal to the results table's difference of scores."""
    spct = {"greedy": [1.0] * 3 + [0.0] * 7, "voting@2": [1.0] * 7 + [0.0] * 3}
    rft = {"greedy": [1.0] * 2 + [0.0] * 8, "voting@2": [1.0] * 5 + [0.0] * 5}
    files = [
        _write(tmp_path / f"{model}.json", _with_items(metrics_json(model, "pairs-bench", rows), values))
        for model, rows, values in (
            ("spct", [("greedy", 1, 0.3), ("voting@2", 2, 0.7)], spct),
            ("rft", [("greedy", 1, 0.2), ("voting@2", 2, 0.5)], rft),
        )
    ]
    md, summary = tmp_path / "r.md", tmp_path / "m.json"
    table = write_report(files, tmp_path / "r.csv", md, tmp_path / "r.png", summary, metrics_config={"seed": 1})
    section = _section_of(md.read_text(), "The paper's claims: paired differences")
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("|")]
    assert rows[0] == ["claim", "A", "B", "pairs-bench"]
    assert rows[2][:3] == ["1. Voting@k beats Greedy", "spct/voting@2", "spct/greedy"]
    assert rows[2][3].startswith("**+40.0 [") and rows[2][3].endswith("4/10**")  # excludes zero: bold
    paired = json.loads(summary.read_text())["paired_differences"]
    assert {(r["claim"][:2], r["setting_a"], r["setting_b"]) for r in paired} == {
        ("1.", "spct/voting@2", "spct/greedy"),
        ("3.", "spct/greedy", "rft/greedy"),
        ("3.", "spct/voting@2", "rft/voting@2"),
    }
    for row in paired:
        (a_model, a_setting), (b_model, b_setting) = (s.split("/") for s in (row["setting_a"], row["setting_b"]))
        expected = table.loc[(a_model, a_setting), "pairs-bench"] - table.loc[(b_model, b_setting), "pairs-bench"]
        assert row["difference"] == pytest.approx(expected) and row["n_items"] == 10


def test_report_shows_the_training_curves_of_the_targets_trained_models(tmp_path):
    """A trained model folder (training.json with curve_summary, training_curves.png) adds a row per metric and the
    image, linked relative to the report; a folder trained before curves existed adds nothing."""
    from spct.training.curves import CURVES_FILE, curve_fields

    log_history = [
        {"step": s, "reward": r, "accuracy": a} for s, r, a in ((1, -1.0, 0.0), (2, 0.0, 0.5), (3, 1.0, 1.0))
    ]
    fields, png = curve_fields(log_history, [("reward", "reward"), ("accuracy", "accuracy")], "spct")
    spct, old = tmp_path / "models" / "spct", tmp_path / "models" / "rft"
    spct.mkdir(parents=True), old.mkdir()
    (spct / "training.json").write_text(json.dumps(fields))
    (spct / CURVES_FILE).write_bytes(png)
    (old / "training.json").write_text(json.dumps({"train_loss": 1.0}))
    files = [_write(tmp_path / "spct.json", metrics_json("spct", "pairs-bench", [("greedy", 1, 0.3)]))]
    md = tmp_path / "report" / "r.md"
    md.parent.mkdir()
    write_report(files, tmp_path / "r.csv", md, tmp_path / "r.png", trained_dirs=[old, spct])
    section = _section_of(md.read_text(), "Training curves")
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("|")]
    assert rows[2:] == [["spct", "reward", "3", "-1", "1", "2"], ["spct", "accuracy", "3", "0", "1", "1"]]
    assert "](../models/spct/training_curves.png)" in section and "models/rft" not in section

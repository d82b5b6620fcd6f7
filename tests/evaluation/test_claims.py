"""The claims table over main and every ablation: rows for all five claims, verdicts in words, the paper's figures,
and a target not built yet named instead of crashing."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from spct import stages
from spct.evaluation.claims import claims_log_values, verdict, write_claims

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
N = 20
# The main target's models and each ablation's, as workflow/rules/common.smk declares them.
TARGETS = {
    "main": ["base", "rft", "spct"],
    "no_principles": ["spct_no_principles"],
    "hinted_only": ["spct_hinted_only"],
    "nonhinted_only": ["spct_nonhinted_only"],
}


def right(count: int) -> list[float]:
    """The first ``count`` of the N items right: a side with more right items is right on a superset."""
    return [1.0] * count + [0.0] * (N - count)


# model -> setting -> items right. SPCT's Voting@k beats its Greedy on 6 items and loses none (holds); MetaRM@k
# equals Voting@k (undecided); the no-principles model is 6 items behind SPCT (holds); the non-hinted-only model 8
# items ahead (contradicted); RFT, base and hinted-only equal SPCT at Greedy (undecided).
RIGHT = {
    "spct": {"greedy": 10, "voting@2": 14, "voting@8": 16, "metarm@2": 14, "metarm@8": 16},
    "rft": {"greedy": 10, "voting@2": 10, "voting@8": 10},
    "base": {"greedy": 10, "voting@2": 10, "voting@8": 10},
    "spct_no_principles": {"greedy": 4, "voting@2": 4, "voting@8": 4},
    "spct_hinted_only": {"greedy": 10, "voting@2": 14, "voting@8": 16},
    "spct_nonhinted_only": {"greedy": 18, "voting@2": 18, "voting@8": 18},
}
# Two benchmarks: one the paper reports (PPE-P: its figures appear beside it) and a reconstruction (none).
BENCHMARKS = {"ppe-pref": "PPE-P", "pairs-bench": None}


def metrics_file(directory: Path, model: str, benchmark: str) -> Path:
    """The shape spct.stages.metrics writes (as tests/evaluation/test_report.py builds it), with per-item values."""
    scaling = [
        {
            "setting": setting,
            "k": int(setting.partition("@")[2] or 1),
            "score": count / N,
            "score_std": 0.0,
            "score_ci_low": None,
            "score_ci_high": None,
            "accuracy": count / N,
            "tokens_per_item": 40.0,
            "item_values": right(count),
        }
        for setting, count in RIGHT[model].items()
    ]
    data = {
        "model": model,
        "benchmark": benchmark,
        "metric": "accuracy",
        "paper_column": BENCHMARKS[benchmark],
        "items": N,
        "item_ids": [f"{benchmark}-{i}" for i in range(N)],
        "item_subsets": ["s"] * N,
        "scaling": scaling,
        "diagnostics": {"samples": 9 * N, "parse_rate": 1.0},
    }
    path = directory / "metrics" / model / f"{benchmark}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def all_metrics_paths(directory: Path, built: set[str]) -> list[Path]:
    """Every target's metrics paths (as the rule lists them); only the ``built`` targets' files exist."""
    paths = []
    for target, models in TARGETS.items():
        for model in models:
            for benchmark in BENCHMARKS:
                path = directory / "metrics" / model / f"{benchmark}.json"
                paths.append(metrics_file(directory, model, benchmark) if target in built else path)
    return paths


def outputs(directory: Path) -> dict[str, Path]:
    return {"markdown": directory / "claims.md", "json": directory / "claims.json", "plot": directory / "claims.png"}


def by_key(rows) -> dict[tuple[str, str, str], dict]:
    return {(row["setting_a"], row["setting_b"], row["benchmark"]): row for row in rows}


def test_rows_for_all_five_claims_with_their_verdicts_and_the_papers_figures(tmp_path):
    files = outputs(tmp_path)
    rows = write_claims(all_metrics_paths(tmp_path, set(TARGETS)), TARGETS, {"paired_bootstrap_samples": 500}, files)
    assert {row["claim"][:2] for row in rows} == {"1.", "2.", "3.", "4.", "5."}
    assert json.loads(files["json"].read_text()) == rows
    rows = by_key(rows)
    voting = rows["spct/voting@8", "spct/greedy", "ppe-pref"]
    assert (voting["difference"], voting["n_decided"], voting["verdict"]) == (30.0, 6, "holds")
    # The paper's own Voting@8 - Greedy on PPE-P, with its setting named; none beside the reconstruction or for a k
    # below the paper's smallest.
    assert (voting["paper_difference"], voting["paper_setting"]) == (
        0.2,
        "DeepSeek-GRM-27B PPE-P: Voting@8 64.9 - Greedy 64.7",
    )
    assert rows["spct/voting@8", "spct/greedy", "pairs-bench"]["paper_difference"] is None
    assert rows["spct/voting@2", "spct/greedy", "ppe-pref"]["paper_difference"] is None
    assert rows["spct/metarm@8", "spct/voting@8", "overall"]["verdict"] == "undecided"
    assert rows["spct/metarm@8", "spct/voting@8", "overall"]["paper_difference"] == 1.4  # 72.0 - 70.6
    assert rows["spct/greedy", "rft/greedy", "overall"]["verdict"] == "undecided"
    principles = rows["spct/greedy", "spct_no_principles/greedy", "overall"]
    assert (principles["verdict"], principles["paper_difference"]) == ("holds", 2.4)  # 69.9 - 67.5
    assert "without principle generation 67.5" in principles["paper_setting"]
    nonhinted = rows["spct/greedy", "spct_nonhinted_only/greedy", "ppe-pref"]
    assert (nonhinted["difference"], nonhinted["verdict"]) == (-40.0, "contradicted")
    assert rows["spct/greedy", "spct_hinted_only/greedy", "overall"]["verdict"] == "undecided"
    markdown = files["markdown"].read_text()
    assert "| 5. hinted sampling contributes (vs non-hinted-only RFT) | ppe-pref" in markdown
    assert "contradicted" in markdown and "cannot decide" not in markdown
    assert files["plot"].read_bytes().startswith(PNG_MAGIC)


def test_a_run_on_one_unreported_set_gets_the_papers_overall_beside_its_rows(tmp_path, monkeypatch):
    """configs/evidence.yaml judges one reconstructed set: no overall row, so the paper's Overall goes beside it."""
    monkeypatch.delitem(BENCHMARKS, "ppe-pref")
    rows = by_key(write_claims(all_metrics_paths(tmp_path, set(TARGETS)), TARGETS, {}, outputs(tmp_path)))
    assert {key[2] for key in rows} == {"pairs-bench"}
    voting = rows["spct/voting@8", "spct/greedy", "pairs-bench"]
    assert (voting["paper_difference"], voting["paper_setting"]) == (
        0.7,
        "DeepSeek-GRM-27B Overall: Voting@8 70.6 - Greedy 69.9",
    )
    principles = rows["spct/greedy", "spct_no_principles/greedy", "pairs-bench"]
    assert principles["paper_difference"] == 2.4 and "Overall" in principles["paper_setting"]
    assert rows["spct/voting@2", "spct/greedy", "pairs-bench"]["paper_difference"] is None  # k below the paper's


def test_a_target_not_built_leaves_its_claims_out_and_names_it(tmp_path):
    files = outputs(tmp_path)
    rows = write_claims(all_metrics_paths(tmp_path, {"main", "hinted_only"}), TARGETS, {}, files)
    assert {row["claim"][:2] for row in rows} == {"1.", "2.", "3.", "5."}
    assert {row["setting_b"].split("/")[0] for row in rows if row["claim"].startswith("5.")} == {"spct_hinted_only"}
    missing = files["markdown"].read_text().split("## Claims these files cannot decide")[1]
    lines = [line for line in missing.splitlines() if line.startswith("- ")]
    assert lines == [
        "- 4. principles help (vs without principle generation): needs `snakemake no_principles`; "
        "no metrics files of spct_no_principles",
        "- 5. hinted sampling contributes (vs non-hinted-only RFT): needs `snakemake nonhinted_only`; "
        "no metrics files of spct_nonhinted_only",
    ]


def test_no_metrics_file_at_all_still_writes_the_table_saying_so(tmp_path):
    files = outputs(tmp_path)
    assert write_claims(all_metrics_paths(tmp_path, set()), TARGETS, {}, files) == []
    markdown = files["markdown"].read_text()
    assert "No claim has both of its settings" in markdown and "needs `snakemake all`" in markdown
    assert json.loads(files["json"].read_text()) == [] and files["plot"].read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize(
    ("low", "high", "excludes", "word"),
    [(0.5, 3.0, True, "holds"), (-3.0, -0.5, True, "contradicted"), (-1.0, 2.0, False, "undecided")],
)
def test_verdict_is_the_papers_direction_only_when_the_interval_excludes_zero(low, high, excludes, word):
    assert verdict({"ci_low": low, "ci_high": high, "excludes_zero": excludes}) == word


def test_claims_stage_logs_its_own_mlflow_run(tmp_path):
    files = outputs(tmp_path)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    config = {"metrics": {"paired_bootstrap_samples": 300, "seed": 3}}
    paths = all_metrics_paths(tmp_path, set(TARGETS))
    stages.claims(paths, files, TARGETS, {"tracking_uri": uri, "experiment": "t"}, {"ablation": "claims"}, config)
    rows = json.loads(files["json"].read_text())
    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("t").experiment_id])
    assert run.data.tags["stage"] == "claims" and run.info.run_name == "claims"
    logged = {key.replace("@", "_at_"): value for key, value in claims_log_values(rows).items()}  # MLflow keys
    assert run.data.metrics == pytest.approx(logged)
    assert run.data.metrics["claims/contradicted"] == sum(r["verdict"] == "contradicted" for r in rows) > 0
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"claims.md", "claims.json", "claims.png"}

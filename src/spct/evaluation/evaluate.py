"""One model x one benchmark: Greedy, Voting@k and MetaRM@k from one pass of sampled judgments, each scored by the
benchmark's official metric, with the sample diagnostics and position bias (the ``metrics`` stage's result)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spct.evaluation.benchmarks import benchmark_metric, paper_column
from spct.evaluation.scaling import MetaScores, position_bias, sample_diagnostics, scaling_metrics
from spct.grm import kept_by_meta_rm
from spct.records import Record, read_records
from spct.sampling.judgments import read_judgments

# What the metrics stage logs of each scaling row, under ``<setting>/``.
LOGGED_SCALING_KEYS = ("score", "accuracy", "auc", "tie_rate", "tokens_per_item")


def read_meta_scores(path: str | Path) -> MetaScores:
    """The ``meta_scores`` stage's file (``{"meta_rm": dir, "scores": [{item_id, sample, score}]}``) keyed
    ``(item_id, sample)``, as ``scaling_metrics(..., meta_scores=)`` looks them up."""
    rows = json.loads(Path(path).read_text())["scores"]
    return {(row["item_id"], int(row["sample"])): row["score"] for row in rows}


def check_metric_fits(metric: str, records: Sequence[Record], benchmark: str) -> None:
    """ROC-AUC scores single responses; every other metric scores pairs and lists."""
    if (metric == "roc_auc") != all(r.n == 1 for r in records):
        raise ValueError(
            f"benchmarks.{benchmark}.metric: {metric!r} does not fit its items "
            f"({sum(r.n == 1 for r in records)} of {len(records)} are single responses); roc_auc is for single "
            "responses only, the other metrics for pairs and lists"
        )


def evaluate_benchmark(
    records: Sequence[Record],
    judgments: Sequence[dict],
    metrics_config: Mapping[str, Any],
    benchmark_spec: Mapping[str, Any],
    model: str,
    benchmark: str,
    meta_scores: MetaScores | None = None,
) -> dict:
    """The scaling sweep of ``metrics_config`` (``ks``, ``repeats``, ``seed``, ``k_meta``) on one model's judgments
    of one benchmark, scored by the benchmark's metric (``spct.evaluation.benchmarks.benchmark_metric``)."""
    metric = benchmark_metric(benchmark_spec)
    check_metric_fits(metric, records, benchmark)
    scaling = scaling_metrics(
        records,
        judgments,
        metrics_config["ks"],
        repeats=metrics_config.get("repeats", 20),
        seed=metrics_config.get("seed", 0),
        meta_scores=meta_scores,
        k_meta=lambda k: kept_by_meta_rm(k, metrics_config.get("k_meta")),
        metric=metric,
    )
    return {
        "model": model,
        "benchmark": benchmark,
        "metric": metric,
        "paper_column": paper_column(benchmark_spec),
        "items": len(records),
        # The pair / list items in the order of each scaling row's item_values (spct.evaluation.paired).
        "item_ids": [r.id for r in records if r.n >= 2],
        "item_subsets": [r.subset for r in records if r.n >= 2],
        "scaling": scaling,
        "diagnostics": {**sample_diagnostics(judgments), **position_bias(records, judgments)},
    }


def evaluate_files(
    inputs: Mapping[str, str | Path],
    meta_scores_path: str | Path | None,
    metrics_config: Mapping[str, Any],
    benchmark_spec: Mapping[str, Any],
    model: str,
    benchmark: str,
) -> dict:
    """``evaluate_benchmark`` on the files of the metrics stage: ``inputs`` ``items`` and ``judgments``, and (for
    MetaRM@k) the meta RM's scores of those judgments."""
    meta_scores = read_meta_scores(meta_scores_path) if meta_scores_path else None
    records, judgments = read_records(inputs["items"]), read_judgments(inputs["judgments"])
    return evaluate_benchmark(records, judgments, metrics_config, benchmark_spec, model, benchmark, meta_scores)


def metrics_log_values(result: Mapping[str, Any]) -> dict[str, float | None]:
    """The metrics stage's MLflow metrics: each scaling row's ``LOGGED_SCALING_KEYS`` under ``<setting>/``, then
    the sample diagnostics."""
    values = {f"{row['setting']}/{key}": row[key] for row in result["scaling"] for key in LOGGED_SCALING_KEYS}
    return {**values, **result["diagnostics"]}

"""One function per workflow stage: explicit paths and settings in, files and an MLflow run out.

Workflow scripts (workflow/scripts/*.py) and the ``spct`` command call these; nothing here reads config
files or knows about Snakemake, so every stage can be run and tested on its own.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spct import tracking
from spct.records import read_jsonl, read_records, write_json_atomic, write_jsonl_atomic, write_records

log = logging.getLogger(__name__)


def base_model(spec: str, out_dir: Path) -> None:
    from spct.model_import import prepare_base_model

    prepare_base_model(spec, Path(out_dir))


def download(sources: Sequence[str], max_items: int | None, out_dir: Path) -> dict:
    """The paper's preference sources from the hub where reachable (local rule); offline the bundled sets stand in."""
    from spct.data.training_sources import download_sources

    summary = download_sources(list(sources), Path(out_dir), max_items=max_items)
    log.info("download: %s", json.dumps(summary, indent=2))
    return summary


def prepare_data(raw_dir: Path, out_dir: Path, download_summary: Path | None = None) -> None:
    from spct.data.prepare import format_count_table, prepare_all, write_prepared
    from spct.data.training_sources import downloaded_records

    extra = downloaded_records(download_summary) if download_summary is not None else []
    skipped: Counter[str] = Counter()
    records = prepare_all(Path(raw_dir), skipped, extra_train=extra)
    write_prepared(records, Path(out_dir), skipped)
    log.info("prepared records:\n%s\nskipped: %s", format_count_table(records), dict(skipped))


def benchmark_items(eval_path, name, spec: Mapping[str, Any], out_path, summary_path, mlflow_config, tags) -> None:
    """The items of one configured benchmark and its summary: items, left out by reason, source, path
    (``spct.evaluation.loading.selected_items``), logged and in the stage's own MLflow run."""
    from spct.evaluation import left_out, loading

    records, summary = loading.selected_items(name, spec, read_records(eval_path))
    write_records(out_path, records)
    write_json_atomic(Path(summary_path), summary)
    log.info("benchmark %s: %d items; left out by reason: %s", name, len(records), summary["left_out"] or "none")
    with tracking.stage_run("benchmark_items", name, mlflow_config, tags, dict(spec)) as log_to_run:
        log_to_run(left_out.left_out_metrics(summary), [summary_path])


def judge(
    model_path: Path,
    benchmarks: Mapping[str, tuple[Path, Path]],
    cache_dir: Path,
    judge_config: Mapping[str, Any],
    sampler_config: Mapping[str, Any],
    mlflow_config: Mapping[str, Any],
    tags: Mapping[str, str],
    format_check_run: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, int]]:
    """Sample k_max + 1 judgments per item of every benchmark, ``{name: (items_path, out_path)}``, on one sampler
    (an engine starts once per model, not once per benchmark); resumable through the cache in ``cache_dir``.
    Each benchmark gets its own MLflow run. ``format_check_run`` (``benchmark``, ``items_path``, ``out_path``,
    ``check_config``) adds the ``format_check`` of this model on the same engine."""
    from spct.sampling import load_sampler
    from spct.sampling.base import sampler_options

    start = time.perf_counter()
    sampler = load_sampler(str(model_path), **sampler_options(sampler_config))
    startup = {
        "sampler_start_s": time.perf_counter() - start,
        "engine_start_s": getattr(sampler, "engine_start_s", 0.0),
    }
    log.info("sampler %s ready in %.1f s", type(sampler).__name__, startup["sampler_start_s"])
    job = dict(sampler=sampler, model_path=model_path, cache_dir=cache_dir, mlflow_config=mlflow_config)
    if format_check_run is not None:
        check, check_tags = format_check_run, {**tags, "benchmark": format_check_run["benchmark"]}
        paths = dict(items_path=check["items_path"], out_path=check["out_path"], check_config=check["check_config"])
        format_check(**job, **paths, judge_config=judge_config, tags=check_tags)
    return {
        name: judge_benchmark(
            **job,
            items_path=items_path,
            out_path=out_path,
            judge_config=judge_config,
            sampler_config=sampler_config,
            tags={**tags, "benchmark": name},
            startup=startup,
        )
        for name, (items_path, out_path) in benchmarks.items()
    }


def judge_benchmark(
    sampler, model_path, items_path, out_path, cache_dir, judge_config, sampler_config, mlflow_config, tags, startup
) -> dict[str, int]:
    """One benchmark of the judge stage: its judgments, MLflow run and sample diagnostics."""
    from spct.evaluation.scaling import sample_diagnostics
    from spct.sampling.judgments import JudgeSettings, read_judgments, run_judgments

    settings = JudgeSettings.from_config(judge_config)
    cache_path = Path(cache_dir) / f"{Path(out_path).stem}.{settings.fingerprint(model_path)}.jsonl"
    params, inputs = {**judge_config, "sampler": sampler_config}, {"items": items_path}
    name, run_tags = f"{tags.get('model')}/{tags.get('benchmark')}", {"sampler": type(sampler).__name__}
    with tracking.stage_run("judge", name, mlflow_config, tags, params, inputs, run_tags) as log_to_run:
        start = time.perf_counter()
        chunk_size = judge_config.get("cache_every", 64)
        counts = run_judgments(
            read_records(items_path), sampler, settings, judge_config["k_max"], cache_path, Path(out_path), chunk_size
        )
        seconds = time.perf_counter() - start
        log.info("%s: %d judgments sampled in %.1f s", tags.get("benchmark"), counts["sampled"], seconds)
        diagnostics = sample_diagnostics(read_judgments(out_path))
        log_to_run({**counts, **diagnostics, **startup, "sampling_s": seconds})
    return counts


def format_check(
    sampler, model_path, items_path, out_path, cache_dir, judge_config, check_config, mlflow_config, tags
) -> dict:
    """Parse rate of free (unguaranteed) judgments: what the model writes without the score-format guarantee.

    Measured and reported next to the guaranteed results, so a forced format never hides how often the model
    itself fails to write a score line. Runs on the judge's sampler (the judge job calls it).
    """
    from spct.evaluation.scaling import sample_diagnostics
    from spct.sampling.judgments import JudgeSettings, read_judgments, run_judgments

    free_config = {**judge_config, "guarantee_score_format": False, "max_new_tokens": check_config["max_new_tokens"]}
    settings = JudgeSettings.from_config(free_config)
    records = read_records(items_path)[: check_config["max_items"]]
    judgments_path = Path(out_path).with_suffix(".jsonl")
    cache_path = Path(cache_dir) / f"format_check.{settings.fingerprint(model_path)}.jsonl"
    params, inputs = {**free_config, **check_config}, {"items": items_path}
    with tracking.stage_run("format_check", tags.get("model"), mlflow_config, tags, params, inputs) as log_to_run:
        run_judgments(records, sampler, settings, check_config["samples"], cache_path, judgments_path)
        diagnostics = sample_diagnostics(read_judgments(judgments_path))
        result = {"model": tags.get("model"), "items": len(records), **check_config, **diagnostics}
        write_json_atomic(Path(out_path), result)
        log_to_run(diagnostics, [out_path, judgments_path])
    return result


def metrics(
    items_path: Path,
    judgments_path: Path,
    out_path: Path,
    metrics_config: Mapping[str, Any],
    benchmark_spec: Mapping[str, Any],
    mlflow_config: Mapping[str, Any],
    tags: Mapping[str, str],
    meta_scores_path: Path | None = None,
) -> dict:
    """Greedy, Voting@k and (given the meta RM's scores of these judgments) MetaRM@k for one model x benchmark,
    each scored by the benchmark's official metric (``spct.evaluation.evaluate.evaluate_benchmark``)."""
    from spct.evaluation.evaluate import evaluate_files, metrics_log_values

    model, benchmark = tags["model"], tags["benchmark"]
    name, inputs = f"{model}/{benchmark}", {"items": items_path, "judgments": judgments_path}
    result = evaluate_files(inputs, meta_scores_path, metrics_config, benchmark_spec, model, benchmark)
    write_json_atomic(out_path, result)
    run_tags = {"metric": result["metric"]}
    with tracking.stage_run("metrics", name, mlflow_config, tags, metrics_config, inputs, run_tags) as log_to_run:
        log_to_run(metrics_log_values(result), [out_path])
    return result


def report(
    metrics_paths: Sequence[Path],
    outputs: Mapping[str, Path],
    format_check_paths: Sequence[Path],
    mlflow_config: Mapping[str, Any],
    tags: Mapping[str, str],
    params: Mapping[str, Any],
    left_out_paths: Sequence[Path] = (),
    trained_dirs: Sequence[Path] = (),
) -> None:
    """The results report (``spct.evaluation.report.write_report``) and the claims' paired differences; ``outputs``
    names its files: markdown, csv, table, plot, tokens_plot and summary; ``left_out_paths``: the items left out;
    ``trained_dirs``: the target's trained model folders, whose training curves the report shows."""
    from spct.evaluation.report import report_log_values, write_report

    paths = {f"{name}_path": path for name, path in outputs.items()} | {"metrics_config": params.get("metrics", {})}
    inputs = {"format_check_paths": format_check_paths, "left_out_paths": left_out_paths, "trained_dirs": trained_dirs}
    table = write_report(metrics_paths, **inputs, **paths)
    with tracking.stage_run("report", None, mlflow_config, tags, params) as log_to_run:
        log_to_run(report_log_values(table, outputs["summary"]), list(outputs.values()))


def claims(metrics_paths, outputs, targets, mlflow_config, tags, params) -> None:
    """The paper's five claims across main and every ablation (``spct.evaluation.claims.write_claims``)."""
    from spct.evaluation.claims import claims_log_values, write_claims

    rows = write_claims(metrics_paths, targets, params.get("metrics", {}), outputs)
    with tracking.stage_run("claims", None, mlflow_config, tags, params) as log_to_run:
        log_to_run(claims_log_values(rows), list(outputs.values()))


def publish(experiment_dir: Path, remote: str | None = None) -> dict:
    """DVC-track the experiment's output folders and push them (``spct.publish``)."""
    from spct.publish import publish as dvc_publish

    summary = dvc_publish(experiment_dir, remote=remote)
    log.info("published to DVC remote %s:\n%s", summary["remote"], json.dumps(summary["tracked"], indent=2))
    return summary


def finish_pipeline(
    mlflow_config: Mapping[str, Any], reports: Mapping[str, tuple[Path, str]], failed: bool = False
) -> None:
    """Close the invocation's MLflow pipeline runs, each with its target's final results
    (``spct.tracking.finish_pipeline_runs``; ``reports``: target -> (report summary JSON, the target's model))."""
    tracking.finish_pipeline_runs(mlflow_config["tracking_uri"], reports, failed=failed)


def rejective_sampling(
    model_path: Path,
    train_path: Path,
    out_dir: Path,
    cache_dir: Path,
    judge_config: Mapping[str, Any],
    config: Mapping[str, Any],
    sampler_config: Mapping[str, Any],
    mlflow_config: Mapping[str, Any],
    tags: Mapping[str, str],
) -> dict:
    """Sample N_RFT non-hinted + 1 hinted trajectory per training item and apply the RFT rules.

    Writes ``sft.jsonl`` (accepted trajectories as chat examples), ``trajectories.jsonl`` (every non-hinted
    trajectory with its Eq. 10 label: meta-RM data), ``items.jsonl`` (per-item statistics) and ``summary.json``.
    """
    from spct.data.selection import hash_ordered
    from spct.sampling import load_sampler
    from spct.sampling.base import sampler_options
    from spct.sampling.judgments import JudgeSettings
    from spct.training.rejective_sampling import RejectiveSamplingConfig, run_rejective_sampling

    settings = JudgeSettings.for_training(judge_config, config)
    rs_config = RejectiveSamplingConfig(n_rft=config["n_rft"], hinted=config["hinted"])
    records = hash_ordered(read_records(train_path), config.get("max_items"))
    cache_path = Path(cache_dir) / f"rejective.{settings.fingerprint(model_path)}.jsonl"
    params, name = {**config, "judge": judge_config}, tags.get("variant")
    with tracking.stage_run(
        "rejective_sampling", name, mlflow_config, tags, params, {"train": train_path}
    ) as log_to_run:
        sampler = load_sampler(str(model_path), **sampler_options(sampler_config))
        chunk_size = judge_config.get("cache_every", 64)
        summary = run_rejective_sampling(records, sampler, settings, rs_config, cache_path, out_dir, chunk_size)
        log_to_run(summary, [Path(out_dir) / "summary.json", Path(out_dir) / "items.jsonl"])
    log.info("rejective sampling: %s", summary)
    return summary


def rft(
    base_model: Path,
    sft_path: Path,
    out_dir: Path,
    data_kind: str,
    config: Mapping[str, Any],
    mlflow_config: Mapping[str, Any],
    tags: Mapping[str, str],
) -> dict:
    """Rejective fine-tuning on the accepted trajectories (``data_kind``: all, hinted or nonhinted)."""
    from spct.training.curves import CURVES_FILE
    from spct.training.rejective_sampling import filter_sft_rows
    from spct.training.rft import RFTConfig, train_rft

    selected = Path(out_dir).with_name(Path(out_dir).name + ".sft.jsonl")
    write_jsonl_atomic(selected, filter_sft_rows(read_jsonl(sft_path), data_kind))
    params = {"rft_data": data_kind, "rft": config}
    with tracking.stage_run("rft", tags.get("model"), mlflow_config, tags, params, trainer=True) as log_to_run:
        summary = train_rft(base_model, selected, out_dir, RFTConfig(**config), report_to="mlflow")
        log_to_run({"examples": summary["examples"]}, [Path(out_dir) / CURVES_FILE])
    return summary


def grpo(
    init_model: Path,
    train_path: Path,
    item_stats_path: Path,
    out_dir: Path,
    judge_config: Mapping[str, Any],
    training_config: Mapping[str, Any],
    config: Mapping[str, Any],
    mlflow_config: Mapping[str, Any],
    tags: Mapping[str, str],
) -> dict:
    """GRPO with the Eq. 11 reward on training items the base model does not already get right N_RFT/N_RFT."""
    from spct.data.selection import hash_ordered
    from spct.sampling.judgments import JudgeSettings
    from spct.training.curves import CURVES_FILE
    from spct.training.grpo import GRPOStageConfig, rl_dataset_rows, train_grpo

    too_easy = {s["item_id"] for s in read_jsonl(item_stats_path) if s["too_easy"]}
    options = dict(config)
    max_items = options.pop("max_items", None)
    # One switch for the judge and the RL rollouts: a model that needs the guarantee to be judged needs it to learn.
    options.setdefault("guarantee_score_format", judge_config.get("guarantee_score_format", False))
    records = [r for r in hash_ordered(read_records(train_path)) if r.id not in too_easy][:max_items]
    rows = rl_dataset_rows(records, JudgeSettings.for_training(judge_config, training_config))
    params, inputs = {"grpo": config, "too_easy_dropped": len(too_easy)}, {"train": train_path}
    with tracking.stage_run("grpo", tags.get("model"), mlflow_config, tags, params, inputs, trainer=True) as log_run:
        summary = train_grpo(init_model, rows, out_dir, GRPOStageConfig(**options), report_to="mlflow")
        log_run({"prompts": summary["prompts"]}, [Path(out_dir) / CURVES_FILE])
    return summary


def meta_rm_samples(
    grm_path: Path,
    train_path: Path,
    out_path: Path,
    cache_dir: Path,
    judge_config: Mapping[str, Any],
    training_config: Mapping[str, Any],
    max_items: int | None,
    n_samples: int,
    sampler_config: Mapping[str, Any],
) -> dict:
    """N fresh samples per training item from the trained GRM: meta-RM data on the GRM's own policy."""
    from spct.data.selection import hash_ordered
    from spct.sampling import load_sampler
    from spct.sampling.base import sampler_options
    from spct.sampling.judgments import JudgeSettings, run_judgments

    settings = JudgeSettings.for_training(judge_config, training_config)
    records = hash_ordered(read_records(train_path), max_items)
    cache_path = Path(cache_dir) / f"grm_samples.{settings.fingerprint(grm_path)}.jsonl"
    sampler = load_sampler(str(grm_path), **sampler_options(sampler_config))
    chunk_size = judge_config.get("cache_every", 64)
    samples = list(range(n_samples))
    return run_judgments(records, sampler, settings, 0, cache_path, Path(out_path), chunk_size, lambda _: samples)


def meta_rm(
    base_model: Path,
    train_path: Path,
    trajectory_paths: Sequence[Path],
    out_dir: Path,
    config: Mapping[str, Any],
    judge_config: Mapping[str, Any],
    training_config: Mapping[str, Any],
    mlflow_config: Mapping[str, Any],
    tags: Mapping[str, str],
) -> dict:
    """Train the meta RM with BCE on Eq. 10-labelled trajectories; reports held-out ROC-AUC."""
    from spct.sampling.judgments import read_judgments
    from spct.training.curves import CURVES_FILE
    from spct.training.meta_rm import label_trajectories, meta_rm_options, train_meta_rm
    from spct.training.meta_rm_scoring import text_options

    records = {r.id: r for r in read_records(train_path)}
    rows = [row for path in trajectory_paths for row in read_judgments(path)]
    # The meta RM sees each trajectory's own prompt: training prompts score single responses 0/1.
    options = text_options(judge_config, training_config["single_score_range"])
    examples = label_trajectories([records[row["item_id"]] for row in rows], rows, **options)
    with tracking.stage_run("meta_rm", None, mlflow_config, tags, {"meta_rm": config}, trainer=True) as log_to_run:
        result = train_meta_rm(base_model, examples, out_dir, report_to="mlflow", **meta_rm_options(config))
        log_to_run(result, [Path(out_dir) / CURVES_FILE], prefix="meta_rm/")  # its numbers only
    return result


def meta_scores(
    meta_rm_dir: Path,
    benchmarks: Mapping[str, tuple[Path, Path, Path]],
    judge_config: Mapping[str, Any],
    max_length: int,
) -> None:
    """The meta RM's score of every sampled evaluation judgment (MetaRM@k keeps the top k_meta), for every
    benchmark ``{name: (items_path, judgments_path, out_path)}`` on one loaded meta RM."""
    from spct.training.meta_rm_scoring import write_meta_scores

    write_meta_scores(meta_rm_dir, benchmarks, judge_config, max_length)


def policy_rl(policy_model, grm_path, train_path, out_dir, config, judge_config, sampler_config, mlflow_config, tags):
    """A policy trained by GRPO with the GRM as its reward, and its before/after comparison on held-out prompts
    (``spct.training.policy_rl``); its own run, with the results also on the ``policy_rl`` pipeline run."""
    from spct.training.policy_rl import OUTPUT_FILES, PolicyRLConfig, run_policy_rl

    out, settings = Path(out_dir), (PolicyRLConfig(**config), judge_config, sampler_config)
    with tracking.stage_run("policy_rl", None, mlflow_config, tags, {"policy_rl": config}, trainer=True) as log_run:
        metrics = run_policy_rl(policy_model, grm_path, read_records(train_path), out, *settings)
        log_run(metrics, [out / name for name in OUTPUT_FILES])
    tracking.log_to_parent(mlflow_config["tracking_uri"], "policy_rl", metrics)
    return metrics

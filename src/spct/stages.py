"""One function per workflow stage: explicit paths and settings in, files and an MLflow run out.

Workflow scripts (workflow/scripts/*.py) and the ``spct`` command call these; nothing here reads config
files or knows about Snakemake, so every stage can be run and tested on its own.
"""

from __future__ import annotations

import json
import logging
import time
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
    """Fetch the paper's preference sources from the hub where it is reachable (a local rule: compute nodes
    often have no internet). Offline, nothing is fetched and the bundled training sets stand in."""
    from spct.data.training_sources import download_sources

    summary = download_sources(list(sources), Path(out_dir), max_items=max_items)
    log.info("download: %s", json.dumps(summary, indent=2))
    return summary


def prepare_data(raw_dir: Path, out_dir: Path, download_summary: Path | None = None) -> None:
    from collections import Counter

    from spct.data.prepare import format_count_table, prepare_all, write_prepared

    extra = []
    if download_summary is not None:
        summary = json.loads(Path(download_summary).read_text())
        for entry in summary["sources"]:
            if entry["status"] == "ok":
                extra += read_records(Path(download_summary).parent / entry["file"])
    skipped: Counter[str] = Counter()
    records = prepare_all(Path(raw_dir), skipped, extra_train=extra)
    write_prepared(records, Path(out_dir), skipped)
    log.info("prepared records:\n%s\nskipped: %s", format_count_table(records), dict(skipped))


def benchmark_items(eval_path: Path, name: str, spec: Mapping[str, Any], out_path: Path):
    """The items of one configured benchmark: a reconstruction from the eval split, or a published benchmark
    from local files or the hub (``spct.evaluation.benchmarks.load_benchmark_items``)."""
    from spct.evaluation.benchmarks import load_benchmark_items

    records = load_benchmark_items(name, spec, read_records(eval_path))
    write_records(out_path, records)
    log.info("benchmark %s: %d items", name, len(records))


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

    start = time.perf_counter()
    sampler = load_sampler(str(model_path), **sampler_options(sampler_config))
    startup = {
        "sampler_start_s": time.perf_counter() - start,
        "engine_start_s": getattr(sampler, "engine_start_s", 0.0),
    }
    log.info("sampler %s ready in %.1f s", type(sampler).__name__, startup["sampler_start_s"])
    if format_check_run is not None:
        format_check(
            sampler,
            model_path,
            format_check_run["items_path"],
            format_check_run["out_path"],
            cache_dir,
            judge_config,
            format_check_run["check_config"],
            mlflow_config,
            {**tags, "benchmark": format_check_run["benchmark"]},
        )
    return {
        name: judge_benchmark(
            sampler,
            model_path,
            items_path,
            out_path,
            cache_dir,
            judge_config,
            sampler_config,
            mlflow_config,
            {**tags, "benchmark": name},
            startup,
        )
        for name, (items_path, out_path) in benchmarks.items()
    }


def judge_benchmark(
    sampler, model_path, items_path, out_path, cache_dir, judge_config, sampler_config, mlflow_config, tags, startup
) -> dict[str, int]:
    from spct.evaluation.scaling import sample_diagnostics
    from spct.sampling.judgments import read_judgments, run_judgments

    settings = judge_settings(judge_config)
    records = read_records(items_path)
    cache_path = Path(cache_dir) / f"{Path(out_path).stem}.{settings.fingerprint(model_path)}.jsonl"
    with tracking.tracked_run(
        **mlflow_config,
        run_name=f"judge/{tags.get('model')}/{tags.get('benchmark')}",
        tags={"stage": "judge", "sampler": type(sampler).__name__, **tags},
        params={**judge_config, "sampler": sampler_config},
        inputs={"items": items_path},
    ) as mlf:
        start = time.perf_counter()
        counts = run_judgments(
            records,
            sampler,
            settings,
            judge_config["k_max"],
            cache_path,
            Path(out_path),
            chunk_size=judge_config.get("cache_every", 64),
        )
        seconds = time.perf_counter() - start
        log.info("%s: %d judgments sampled in %.1f s", tags.get("benchmark"), counts["sampled"], seconds)
        diagnostics = sample_diagnostics(read_judgments(out_path))
        tracking.log_metrics(mlf, {**counts, **diagnostics, **startup, "sampling_s": seconds})
    return counts


def format_check(
    sampler,
    model_path: Path,
    items_path: Path,
    out_path: Path,
    cache_dir: Path,
    judge_config: Mapping[str, Any],
    check_config: Mapping[str, Any],
    mlflow_config: Mapping[str, Any],
    tags: Mapping[str, str],
) -> dict:
    """Parse rate of free (unguaranteed) judgments: what the model writes without the score-format guarantee.

    Measured and reported next to the guaranteed results, so a forced format never hides how often the model
    itself fails to write a score line. Runs on the judge's sampler (the judge job calls it).
    """
    from spct.evaluation.scaling import sample_diagnostics
    from spct.sampling.judgments import read_judgments, run_judgments

    free_config = {
        **judge_config,
        "guarantee_score_format": False,
        "max_new_tokens": check_config["max_new_tokens"],
    }
    settings = judge_settings(free_config)
    records = read_records(items_path)[: check_config["max_items"]]
    judgments_path = Path(out_path).with_suffix(".jsonl")
    cache_path = Path(cache_dir) / f"format_check.{settings.fingerprint(model_path)}.jsonl"
    with tracking.tracked_run(
        **mlflow_config,
        run_name=f"format_check/{tags.get('model')}",
        tags={"stage": "format_check", **tags},
        params={**free_config, **check_config},
        inputs={"items": items_path},
    ) as mlf:
        run_judgments(records, sampler, settings, check_config["samples"], cache_path, judgments_path)
        diagnostics = sample_diagnostics(read_judgments(judgments_path))
        result = {"model": tags.get("model"), "items": len(records), **check_config, **diagnostics}
        write_json_atomic(Path(out_path), result)
        tracking.log_metrics(mlf, diagnostics)
        tracking.log_artifacts(mlf, [out_path, judgments_path])
    return result


def judge_settings(judge_config: Mapping[str, Any]):
    from spct.sampling.judgments import JudgeSettings

    # k_max and cache_every do not change what a sample looks like, so they stay out of the cache fingerprint.
    fields = {k: v for k, v in judge_config.items() if k not in ("k_max", "cache_every")}
    for key in ("score_range", "single_score_range"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return JudgeSettings(**fields)


def sampler_options(sampler_config: Mapping[str, Any]) -> dict[str, Any]:
    options = dict(sampler_config)
    backend = options.pop("backend", "auto")
    from spct.sampling.base import resolve_backend

    if resolve_backend(backend) == "vllm":
        return {
            "backend": "vllm",
            **{
                k: options[k]
                for k in (
                    "tensor_parallel_size",
                    "gpu_memory_utilization",
                    "max_model_len",
                    "cpu_kv_cache_gb",
                    "dtype",
                )
                if k in options
            },
        }
    return {"backend": "transformers", **{k: options[k] for k in ("batch_size", "max_model_len") if k in options}}


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
    each scored by the benchmark's official metric (``spct.evaluation.benchmarks.benchmark_metric``)."""
    from spct.evaluation.benchmarks import benchmark_metric, paper_column
    from spct.evaluation.scaling import position_bias, sample_diagnostics, scaling_metrics
    from spct.grm import kept_by_meta_rm
    from spct.sampling.judgments import read_judgments

    records = read_records(items_path)
    judgments = read_judgments(judgments_path)
    metric = benchmark_metric(benchmark_spec)
    if (metric == "roc_auc") != all(r.n == 1 for r in records):
        raise ValueError(
            f"benchmarks.{tags['benchmark']}.metric: {metric!r} does not fit its items "
            f"({sum(r.n == 1 for r in records)} of {len(records)} are single responses); roc_auc is for single "
            "responses only, the other metrics for pairs and lists"
        )
    meta_scores = None
    if meta_scores_path:
        rows = json.loads(Path(meta_scores_path).read_text())["scores"]
        meta_scores = {(row["item_id"], int(row["sample"])): row["score"] for row in rows}
    result = {
        "model": tags["model"],
        "benchmark": tags["benchmark"],
        "metric": metric,
        "paper_column": paper_column(benchmark_spec),
        "items": len(records),
        "scaling": scaling_metrics(
            records,
            judgments,
            metrics_config["ks"],
            repeats=metrics_config.get("repeats", 20),
            seed=metrics_config.get("seed", 0),
            meta_scores=meta_scores,
            k_meta=lambda k: kept_by_meta_rm(k, metrics_config.get("k_meta")),
            metric=metric,
        ),
        "diagnostics": {**sample_diagnostics(judgments), **position_bias(records, judgments)},
    }
    write_json_atomic(out_path, result)
    with tracking.tracked_run(
        **mlflow_config,
        run_name=f"metrics/{tags['model']}/{tags['benchmark']}",
        tags={"stage": "metrics", "metric": metric, **tags},
        params=metrics_config,
        inputs={"items": items_path, "judgments": judgments_path},
    ) as mlf:
        for row in result["scaling"]:
            values = {key: row[key] for key in ("score", "accuracy", "auc", "tie_rate", "tokens_per_item")}
            tracking.log_metrics(mlf, values, prefix=f"{row['setting']}/")
        tracking.log_metrics(mlf, result["diagnostics"])
        tracking.log_artifacts(mlf, [out_path])
    return result


def report(
    metrics_paths: Sequence[Path],
    outputs: Mapping[str, Path],
    format_check_paths: Sequence[Path],
    mlflow_config: Mapping[str, Any],
    tags: Mapping[str, str],
    params: Mapping[str, Any],
) -> None:
    """The results report (``spct.evaluation.report.write_report``); ``outputs`` names its files: markdown, csv,
    table, plot, tokens_plot and summary."""
    from spct.evaluation.report import write_report

    table = write_report(
        metrics_paths,
        csv_path=outputs["csv"],
        markdown_path=outputs["markdown"],
        plot_path=outputs["plot"],
        summary_path=outputs["summary"],
        format_check_paths=format_check_paths,
        table_path=outputs["table"],
        tokens_plot_path=outputs["tokens_plot"],
    )
    with tracking.tracked_run(
        **mlflow_config, run_name="report", tags={"stage": "report", **tags}, params=params
    ) as mlf:
        for (model, setting), row in table.iterrows():
            tracking.log_metrics(mlf, {f"{model}/{setting}/{col}": value for col, value in row.items()})
        tracking.log_artifacts(mlf, list(outputs.values()))


def publish(experiment_dir: Path, remote: str | None = None) -> dict:
    """DVC-track the experiment's output folders and push them (``spct.publish``)."""
    from spct.publish import publish as dvc_publish

    summary = dvc_publish(experiment_dir, remote=remote)
    log.info("published to DVC remote %s:\n%s", summary["remote"], json.dumps(summary["tracked"], indent=2))
    return summary


def finish_pipeline(
    mlflow_config: Mapping[str, Any], reports: Mapping[str, tuple[Path, str]], failed: bool = False
) -> None:
    """Close the invocation's MLflow pipeline runs, each with its target's final results.

    ``reports`` maps a target to (its report's summary JSON, the model the target is about). That model's Greedy
    and Voting@k scores go on the pipeline run under keys every target shares (only the main target has a meta RM,
    so MetaRM@k stays in the report run): the runs-compare view then lines the ablations up in one table. Read from
    the report file, so a target whose report was already up to date still gets its numbers.
    """
    for target in tracking.pipeline_parents():
        summary_path, final_model = reports.get(target, (None, None))
        if summary_path is not None and Path(summary_path).exists():
            settings = json.loads(Path(summary_path).read_text()).get(final_model, {})
            final = {
                f"{setting}/{column}": value
                for setting, row in settings.items()
                if not setting.startswith("metarm")
                for column, value in row.items()
            }
            tracking.log_to_parent(mlflow_config["tracking_uri"], target, final, tags={"final_model": final_model})
    tracking.end_pipeline_runs(mlflow_config["tracking_uri"], failed=failed)


def _train_items(train_path: Path, max_items: int | None) -> list:
    """Training items in a stable pseudo-random order (sha256 of the id), capped at ``max_items``."""
    import hashlib

    records = sorted(read_records(train_path), key=lambda r: hashlib.sha256(r.id.encode()).hexdigest())
    return records[:max_items] if max_items else records


def training_judge_settings(judge_config: Mapping[str, Any], training_config: Mapping[str, Any]):
    """Judge settings for training prompts: single responses are scored 0/1 there (paper)."""
    return judge_settings(
        {
            **judge_config,
            "temperature": training_config["temperature"],
            "single_score_range": training_config["single_score_range"],
        }
    )


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
    from spct.sampling import load_sampler
    from spct.sampling.judgments import read_judgments, run_judgments
    from spct.training.rejective_sampling import RejectiveSamplingConfig, sample_plan, select_trajectories, summarise

    out_dir = Path(out_dir)
    settings = training_judge_settings(judge_config, config)
    rs_config = RejectiveSamplingConfig(n_rft=config["n_rft"], hinted=config["hinted"])
    records = _train_items(train_path, config.get("max_items"))
    samples_path = out_dir / "samples.jsonl"
    cache_path = Path(cache_dir) / f"rejective.{settings.fingerprint(model_path)}.jsonl"
    with tracking.tracked_run(
        **mlflow_config,
        run_name=f"rejective_sampling/{tags.get('variant')}",
        tags={"stage": "rejective_sampling", **tags},
        params={**config, "judge": judge_config},
        inputs={"train": train_path},
    ) as mlf:
        sampler = load_sampler(str(model_path), **sampler_options(sampler_config))
        run_judgments(
            records,
            sampler,
            settings,
            0,
            cache_path,
            samples_path,
            chunk_size=judge_config.get("cache_every", 64),
            samples=lambda record: sample_plan(record, rs_config),
        )
        sft_rows, labelled, stats = select_trajectories(records, read_judgments(samples_path), settings)
        summary = summarise(stats)
        write_jsonl_atomic(out_dir / "sft.jsonl", sft_rows)
        write_jsonl_atomic(out_dir / "trajectories.jsonl", labelled)
        write_jsonl_atomic(out_dir / "items.jsonl", stats)
        write_json_atomic(out_dir / "summary.json", summary)
        tracking.log_metrics(mlf, summary)
        tracking.log_artifacts(mlf, [out_dir / "summary.json", out_dir / "items.jsonl"])
    log.info("rejective sampling: %s", summary)
    return summary


def _with_mlflow_env(mlflow_config: Mapping[str, Any]) -> None:
    """Let transformers' MLflow callback log per-step metrics into the run this process has open."""
    import os

    os.environ["MLFLOW_TRACKING_URI"] = mlflow_config["tracking_uri"]
    os.environ["MLFLOW_EXPERIMENT_NAME"] = mlflow_config["experiment"]
    os.environ.pop("MLFLOW_RUN_ID", None)


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
    from spct.training.rejective_sampling import filter_sft_rows
    from spct.training.rft import RFTConfig, train_rft

    rows = read_jsonl(sft_path)
    selected = Path(out_dir).with_name(Path(out_dir).name + ".sft.jsonl")
    write_jsonl_atomic(selected, filter_sft_rows(rows, data_kind))
    _with_mlflow_env(mlflow_config)
    with tracking.tracked_run(
        **mlflow_config,
        run_name=f"rft/{tags.get('model')}",
        tags={"stage": "rft", **tags},
        params={"rft_data": data_kind, "rft": config},
    ) as mlf:
        summary = train_rft(base_model, selected, out_dir, RFTConfig(**config), report_to="mlflow")
        tracking.log_metrics(mlf, {"examples": summary["examples"]})
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
    from spct.training.grpo import GRPOStageConfig, rl_dataset_rows, train_grpo

    too_easy = {s["item_id"] for s in read_jsonl(item_stats_path) if s["too_easy"]}
    options = dict(config)
    max_items = options.pop("max_items", None)
    # One switch for the judge and the RL rollouts: a model that needs the guarantee to be judged needs it to learn.
    options.setdefault("guarantee_score_format", judge_config.get("guarantee_score_format", False))
    records = [r for r in _train_items(train_path, None) if r.id not in too_easy][:max_items]
    rows = rl_dataset_rows(records, training_judge_settings(judge_config, training_config))
    _with_mlflow_env(mlflow_config)
    with tracking.tracked_run(
        **mlflow_config,
        run_name=f"grpo/{tags.get('model')}",
        tags={"stage": "grpo", **tags},
        params={"grpo": config, "too_easy_dropped": len(too_easy)},
        inputs={"train": train_path},
    ) as mlf:
        summary = train_grpo(init_model, rows, out_dir, GRPOStageConfig(**options), report_to="mlflow")
        tracking.log_metrics(mlf, {"prompts": summary["prompts"]})
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
    from spct.sampling import load_sampler
    from spct.sampling.judgments import run_judgments

    settings = training_judge_settings(judge_config, training_config)
    records = _train_items(train_path, max_items)
    cache_path = Path(cache_dir) / f"grm_samples.{settings.fingerprint(grm_path)}.jsonl"
    sampler = load_sampler(str(grm_path), **sampler_options(sampler_config))
    return run_judgments(
        records,
        sampler,
        settings,
        0,
        cache_path,
        Path(out_path),
        chunk_size=judge_config.get("cache_every", 64),
        samples=lambda record: list(range(n_samples)),
    )


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
    from spct.training.meta_rm import label_trajectories, train_meta_rm

    records = {r.id: r for r in read_records(train_path)}
    rows = [row for path in trajectory_paths for row in read_judgments(path)]
    # The meta RM sees each trajectory's own prompt: training prompts score single responses 0/1.
    text_options = {
        "variant": judge_config["prompt_variant"],
        "score_range": tuple(judge_config["score_range"]),
        "single_score_range": tuple(training_config["single_score_range"]),
    }
    examples = label_trajectories([records[row["item_id"]] for row in rows], rows, **text_options)
    options = {k: v for k, v in config.items() if k not in ("n_samples", "per_device_train_batch_size")}
    options["per_device_batch_size"] = config["per_device_train_batch_size"]
    _with_mlflow_env(mlflow_config)
    with tracking.tracked_run(
        **mlflow_config, run_name="meta_rm", tags={"stage": "meta_rm", **tags}, params={"meta_rm": config}
    ) as mlf:
        result = train_meta_rm(base_model, examples, out_dir, report_to="mlflow", **options)
        tracking.log_metrics(mlf, {k: v for k, v in result.items() if isinstance(v, (int, float))}, prefix="meta_rm/")
    return result


def meta_scores(
    meta_rm_dir: Path,
    benchmarks: Mapping[str, tuple[Path, Path, Path]],
    judge_config: Mapping[str, Any],
    max_length: int,
) -> None:
    """The meta RM's score of every sampled evaluation judgment (MetaRM@k keeps the top k_meta), for every
    benchmark ``{name: (items_path, judgments_path, out_path)}`` on one loaded meta RM."""
    from spct.sampling.judgments import read_judgments
    from spct.training.meta_rm import load_meta_rm, score_trajectories

    meta_rm = load_meta_rm(meta_rm_dir)
    for name, (items_path, judgments_path, out_path) in benchmarks.items():
        start = time.perf_counter()
        scores = score_trajectories(
            meta_rm,
            read_records(items_path),
            read_judgments(judgments_path),
            max_length=max_length,
            variant=judge_config["prompt_variant"],
            score_range=tuple(judge_config["score_range"]),
            single_score_range=tuple(judge_config.get("single_score_range", (1, 10))),
        )
        rows = [{"item_id": i, "sample": sample, "score": score} for (i, sample), score in sorted(scores.items())]
        write_json_atomic(Path(out_path), {"meta_rm": str(meta_rm_dir), "scores": rows})
        log.info("%s: %d trajectories scored in %.1f s", name, len(rows), time.perf_counter() - start)

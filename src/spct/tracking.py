"""MLflow tracking: the only module that imports mlflow.

One experiment per config (its ``experiment`` key). Each pipeline invocation opens one PARENT run per target it
builds (``main`` for ``all``, or an ablation), tagged ``spct.kind=pipeline``; every workflow job opens one CHILD run
(tags ``stage``, ``model``, ``ablation``, ``variant``, ``git_commit``, ``config_hash``, ``data.*`` checksums) linked
to the parent of its ablation through the ``mlflow.parentRunId`` tag, and the report job puts the target's final
benchmark metrics on the parent, so the runs-compare view lines the ablations up in one table.

Jobs are separate processes (on a cluster, separate nodes): the parents' ids reach them in the environment variable
``SPCT_MLFLOW_PARENTS`` that ``onstart`` sets and Snakemake's subprocesses and sbatch inherit. Children are linked by
tag rather than ``start_run(parent_run_id=...)``, which can hang across processes.

The sqlite store must exist before jobs run in parallel (its first migration is not safe under concurrent writers),
so the Snakefile's ``onstart`` calls ``init_store`` once.

What ``mlflow ui`` shows first: MLflow 3 opens an experiment on its GenAI traces "Overview" unless told otherwise.
The experiment carries MLflow's own kind tag (``mlflow.experimentKind = custom_model_development``, "Machine
learning"), which the UI reads where its workflow switch is off; in MLflow 3.17 the switch is on, and the view comes
from the browser-wide "GenAI / Model training" toggle (the ``workflowType`` URL parameter, else the browser's
remembered choice, else GenAI), so ``runs_url`` is the link that opens the runs table in any browser.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

PARENTS_ENV = "SPCT_MLFLOW_PARENTS"  # JSON {target: parent run id} of the running pipeline invocation
RUN_TAGS_ENV = "SPCT_MLFLOW_TAGS"  # JSON tags of the invocation (config hash, raw data checksum) for every run
PIPELINE_KIND = "pipeline"
# MLflow's experiment kind tag and its "Machine learning" value (the UI's ExperimentKind.CUSTOM_MODEL_DEVELOPMENT)
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
# the UI's GenAI / Model training switch, as a URL parameter (mlflow/server/js: WorkflowTypeContext)
RUNS_VIEW_QUERY = "workflowType=machine_learning"


def init_store(tracking_uri: str, experiment: str, **_: Any) -> str:
    """Create the store and the experiment if needed, marked as a model-training experiment (``mark_experiment_kind``);
    returns the experiment id."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return client.create_experiment(experiment, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
    mark_experiment_kind(client, found)
    return found.experiment_id


def mark_experiment_kind(client: Any, experiment: Any) -> None:
    """Tag an existing experiment (e.g. one made by an older spct) as model training, so the UI opens it on its runs;
    a kind that is already set, by the user or by MLflow, is kept."""
    if EXPERIMENT_KIND_TAG not in experiment.tags:
        client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)


def runs_url(ui_url: str, experiment_id: str) -> str:
    """The ``mlflow ui`` link that opens the experiment's runs table (the plain experiment link opens MLflow 3.17's
    GenAI traces overview in a browser that has not chosen "Model training" before)."""
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs?{RUNS_VIEW_QUERY}"


def config_hash(config: Mapping[str, Any]) -> str:
    """A short, stable hash of the effective config: runs with equal hashes ran the same settings."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def checksum(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (relative paths and contents, in sorted order)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def data_tags(inputs: Mapping[str, str | Path]) -> dict[str, str]:
    """``data.<name>.sha256`` tags for the data files a job reads (what the run was computed from)."""
    return {f"data.{name}.sha256": checksum(path) for name, path in inputs.items() if Path(path).exists()}


def start_pipeline_runs(
    tracking_uri: str,
    experiment: str,
    targets: Sequence[str],
    tags: Mapping[str, str],
    artifacts: Sequence[str | Path] = (),
    **_: Any,
) -> dict[str, str]:
    """Open one parent run per target of this invocation, each holding ``artifacts`` (the effective config); returns
    ``{target: run id}`` and exports it in ``SPCT_MLFLOW_PARENTS`` for the jobs. All parents of one invocation share
    an ``invocation`` tag."""
    from mlflow import MlflowClient

    experiment_id = init_store(tracking_uri, experiment)
    client = MlflowClient(tracking_uri)
    invocation = uuid.uuid4().hex[:12]
    parents = {}
    for target in targets:
        run = client.create_run(
            experiment_id,
            run_name=f"{target} [{invocation}]",
            tags={
                "spct.kind": PIPELINE_KIND,
                "ablation": target,
                "invocation": invocation,
                "git_commit": git_commit(),
                **tags,
            },
        )
        parents[target] = run.info.run_id
        for path in artifacts:
            client.log_artifact(run.info.run_id, str(path))
    os.environ[PARENTS_ENV] = json.dumps(parents)
    os.environ[RUN_TAGS_ENV] = json.dumps(dict(tags))
    # The plain experiment link opens MLflow's GenAI traces overview (see runs_url), so say which link shows the runs.
    ui = runs_url("http://127.0.0.1:5000", experiment_id)
    print(f"MLflow: compare the runs with `mlflow ui --backend-store-uri {tracking_uri}`, then open {ui}", flush=True)
    return parents


def end_pipeline_runs(tracking_uri: str, failed: bool = False, **_: Any) -> None:
    """Close this invocation's parent runs (FINISHED, or FAILED when the workflow failed)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    for run_id in pipeline_parents().values():
        client.set_terminated(run_id, status="FAILED" if failed else "FINISHED")


def pipeline_parents() -> dict[str, str]:
    return json.loads(os.environ.get(PARENTS_ENV) or "{}")


def parent_run_id(ablation: str | None) -> str | None:
    """The parent run of ``ablation`` in the running invocation; a job shared with a target that is not built in this
    invocation (e.g. the base model when only ``rft_only`` runs) joins the invocation's first target. None outside a
    pipeline (a stage run by hand)."""
    parents = pipeline_parents()
    if not parents:
        return None
    return parents.get(ablation or "", next(iter(parents.values())))


def pipeline_comparison(tracking_uri: str, experiment: str, invocation: str | None = None):
    """The pipeline runs of one invocation (default: the latest) as a table: one row per target, one column per final
    metric, the same view as ticking those runs in ``mlflow ui`` and pressing Compare. Returns a pandas DataFrame."""
    import mlflow
    import pandas as pd

    client = mlflow.MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ValueError(f"no MLflow experiment {experiment!r} in {tracking_uri}")
    runs = client.search_runs([found.experiment_id], filter_string=f"tags.`spct.kind` = '{PIPELINE_KIND}'")
    if not runs:
        raise ValueError(f"experiment {experiment!r} has no pipeline runs yet; run the workflow first")
    if invocation is None:
        invocation = max(runs, key=lambda run: run.info.start_time).data.tags["invocation"]
    rows = {
        run.data.tags["ablation"]: {"status": run.info.status, **run.data.metrics}
        for run in runs
        if run.data.tags.get("invocation") == invocation
    }
    if not rows:
        raise ValueError(f"no pipeline runs with invocation {invocation!r}")
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(f"target [{invocation}]")


def finish_pipeline_runs(tracking_uri: str, reports: Mapping[str, tuple[Path, str]], failed: bool = False) -> None:
    """Close the invocation's pipeline runs, each with its target's final results.

    ``reports`` maps a target to (its report's summary JSON, the model the target is about). That model's Greedy
    and Voting@k scores go on the pipeline run under keys every target shares (only the main target has a meta RM,
    so MetaRM@k stays in the report run): the runs-compare view then lines the ablations up in one table. Read from
    the report file, so a target whose report was already up to date still gets its numbers.
    """
    for target in pipeline_parents():
        summary_path, final_model = reports.get(target, (None, None))
        if summary_path is not None and Path(summary_path).exists():
            settings = json.loads(Path(summary_path).read_text()).get(final_model, {})
            final = {
                f"{setting}/{column}": value
                for setting, row in settings.items()
                if not setting.startswith("metarm")
                for column, value in row.items()
            }
            log_to_parent(tracking_uri, target, final, tags={"final_model": final_model})
    end_pipeline_runs(tracking_uri, failed=failed)


def log_to_parent(
    tracking_uri: str, ablation: str, metrics: Mapping[str, float | None], tags: Mapping[str, str] | None = None
) -> str | None:
    """Log ``metrics`` (and ``tags``) on the parent run of ``ablation``: the target's final results; returns its id
    (None outside a pipeline invocation)."""
    import mlflow

    run_id = pipeline_parents().get(ablation)
    if run_id is None:
        return None
    client = mlflow.MlflowClient(tracking_uri)
    for key, value in _clean(metrics).items():
        client.log_metric(run_id, key, value)
    for key, value in (tags or {}).items():
        client.set_tag(run_id, key, value)
    return run_id


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = str(value)[:6000]  # MLflow's param value limit
    return flat


def is_main_process() -> bool:
    """False on the non-zero ranks of a job run under `accelerate launch` / torchrun (RANK is set there)."""
    return int(os.environ.get("RANK", "0")) == 0


class _NoRun:
    """Stands in for the ``mlflow`` module on non-main ranks: logging calls do nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@contextlib.contextmanager
def tracked_run(
    tracking_uri: str,
    experiment: str,
    run_name: str,
    tags: Mapping[str, str],
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, str | Path] | None = None,
) -> Iterator[Any]:
    """Open an MLflow run for one job, as a child of its ablation's pipeline run; yields the ``mlflow`` module.

    The run carries the invocation's tags (config hash, raw data checksum) and ``inputs``, the data files the job
    reads, as ``data.<name>.sha256`` tags.
    """
    import mlflow

    if not is_main_process():
        yield _NoRun()  # the other ranks of a multi-GPU job: one run per job, opened by rank 0
        return
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment_id=init_store(tracking_uri, experiment))  # a stage run by hand tags it too
    invocation_tags = json.loads(os.environ.get(RUN_TAGS_ENV) or "{}")
    all_tags = {"git_commit": git_commit(), **invocation_tags, **data_tags(inputs or {}), **tags}
    parent = parent_run_id(tags.get("ablation"))
    if parent is not None:
        all_tags["mlflow.parentRunId"] = parent
    with mlflow.start_run(run_name=run_name, tags=all_tags):
        if params:
            mlflow.log_params(_flatten(params, prefix="spct."))
        yield mlflow


def _clean(metrics: Mapping[str, float | None], prefix: str = "") -> dict[str, float]:
    """The numeric entries (no None, no NaN); MLflow keys cannot hold '@', so Voting@8 becomes voting_at_8."""
    clean = {}
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and value is not None and value == value:
            clean[(prefix + key).replace("@", "_at_")] = float(value)
    return clean


def log_metrics(mlflow, metrics: Mapping[str, float | None], prefix: str = "") -> None:
    """Log the numeric entries of ``metrics`` in the open run (see ``_clean``)."""
    mlflow.log_metrics(_clean(metrics, prefix))


def log_artifacts(mlflow, paths: list[str | Path]) -> None:
    for path in paths:
        mlflow.log_artifact(str(path))


@contextlib.contextmanager
def stage_run(
    stage: str,
    name: str | None,
    mlflow_config: Mapping[str, Any],
    tags: Mapping[str, str],
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Path] | None = None,
    run_tags: Mapping[str, str] | None = None,
    trainer: bool = False,
) -> Iterator[Callable[..., None]]:
    """The MLflow run of one workflow stage job (``tracked_run``): named ``<stage>/<name>`` (``<stage>`` when
    ``name`` is None), tagged ``stage`` plus ``run_tags`` and ``tags``. Yields ``log(metrics=None, artifacts=(),
    prefix="")``, which logs the numeric ``metrics`` (keys prefixed) and then the ``artifacts`` files. With
    ``trainer``, transformers' MLflow callback logs its per-step metrics into this run too."""
    if trainer:
        os.environ["MLFLOW_TRACKING_URI"] = mlflow_config["tracking_uri"]
        os.environ["MLFLOW_EXPERIMENT_NAME"] = mlflow_config["experiment"]
        os.environ.pop("MLFLOW_RUN_ID", None)
    run_name = stage if name is None else f"{stage}/{name}"
    run_tags = {"stage": stage, **(run_tags or {}), **tags}
    with tracked_run(**mlflow_config, run_name=run_name, tags=run_tags, params=params, inputs=inputs) as mlf:

        def log_to_run(metrics: Mapping[str, Any] | None = None, artifacts: Sequence[Path] = (), prefix: str = ""):
            if metrics is not None:
                log_metrics(mlf, metrics, prefix=prefix)
            if artifacts:
                log_artifacts(mlf, list(artifacts))

        yield log_to_run

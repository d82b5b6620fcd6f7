"""What `mlflow ui` opens first: experiments made or reused by spct carry MLflow's "Machine learning" kind, a kind the
user chose is kept, and the runs link opens the runs table in a real browser (tools/mlflow_ui_check.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from spct import tracking

ROOT = Path(__file__).resolve().parents[1]
KIND = tracking.EXPERIMENT_KIND_TAG


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One sqlite store for the module (its first migration takes seconds); each test uses its own experiment."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()
    return uri


def kind_of(uri: str, name: str) -> str | None:
    return MlflowClient(uri).get_experiment_by_name(name).tags.get(KIND)


def test_new_experiment_opens_on_its_runs(store):
    experiment_id = tracking.init_store(store, "fresh")
    assert MlflowClient(store).get_experiment(experiment_id).tags[KIND] == "custom_model_development"


def test_existing_experiment_without_a_kind_gets_it(store):
    """An experiment made before spct set the kind (e.g. a run resumed on an older mlflow.db) is tagged on reuse."""
    old_id = MlflowClient(store).create_experiment("made-by-older-spct")
    assert kind_of(store, "made-by-older-spct") is None
    assert tracking.init_store(store, "made-by-older-spct") == old_id
    assert kind_of(store, "made-by-older-spct") == "custom_model_development"


def test_a_kind_the_user_chose_is_kept(store, monkeypatch):
    MlflowClient(store).create_experiment("user-genai", tags={KIND: "genai_development"})
    tracking.init_store(store, "user-genai")
    monkeypatch.delenv(tracking.PARENTS_ENV, raising=False)
    with tracking.tracked_run(store, "user-genai", "stage/by-hand", tags={"stage": "report"}):
        pass
    assert kind_of(store, "user-genai") == "genai_development"


def test_a_stage_run_by_hand_tags_the_experiment_it_creates(store, monkeypatch):
    monkeypatch.delenv(tracking.PARENTS_ENV, raising=False)
    with tracking.tracked_run(store, "by-hand", "report", tags={"stage": "report"}) as mlflow:
        run_id = mlflow.active_run().info.run_id
    assert kind_of(store, "by-hand") == "custom_model_development"
    assert MlflowClient(store).get_run(run_id).info.experiment_id == tracking.init_store(store, "by-hand")


def test_runs_url_asks_for_the_model_training_view():
    url = tracking.runs_url("http://127.0.0.1:5000/", "7")
    assert url == "http://127.0.0.1:5000/#/experiments/7/runs?workflowType=machine_learning"


def tiny_pipeline_store(tmp_path: Path, monkeypatch) -> str:
    """A store written by tracking.py's own functions: one pipeline run with one stage run under it."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.delenv(tracking.PARENTS_ENV, raising=False)
    monkeypatch.delenv(tracking.RUN_TAGS_ENV, raising=False)
    tracking.start_pipeline_runs(uri, "tiny", ["main"], tags={"config_hash": "0"})
    with tracking.tracked_run(uri, "tiny", "report", tags={"stage": "report", "ablation": "main"}) as mlflow:
        mlflow.log_metric("voting_at_4/Mean", 0.5)
    tracking.end_pipeline_runs(uri)
    return uri


def ui_check(uri: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "tools" / "mlflow_ui_check.py"), "--tracking-uri", uri, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium: apt-get install chromium")
def test_browser_opens_the_runs_table(tmp_path, monkeypatch):
    """Headless Chromium on `mlflow server`: the runs link shows the pipeline run; the check fails on a page without
    the runs (the bare link of an experiment the user marked GenAI opens the traces overview in any MLflow 3)."""
    uri = tiny_pipeline_store(tmp_path, monkeypatch)
    shot = tmp_path / "runs.png"
    done = ui_check(uri, "--screenshot", str(shot))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "runs table" in done.stdout and "main [" in done.stdout
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    client = MlflowClient(uri)
    client.set_experiment_tag(client.get_experiment_by_name("tiny").experiment_id, KIND, "genai_development")
    done = ui_check(uri, "--plain-link")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL: run names not in the page: main [" in done.stdout


def test_pipeline_start_prints_the_runs_link(tmp_path, monkeypatch, capsys):
    tiny_pipeline_store(tmp_path, monkeypatch)
    printed = capsys.readouterr().out
    assert "mlflow ui --backend-store-uri sqlite:///" in printed
    assert "/runs?workflowType=machine_learning" in printed


def test_pipeline_runs_hold_the_effective_config(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.delenv(tracking.PARENTS_ENV, raising=False)
    monkeypatch.delenv(tracking.RUN_TAGS_ENV, raising=False)
    effective = tmp_path / "c425b4d0f9065764.yaml"
    effective.write_text("experiment: tiny\n")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    parents = tracking.start_pipeline_runs(uri, "tiny", ["main", "claims"], tags={}, artifacts=[effective])
    tracking.end_pipeline_runs(uri)
    client = MlflowClient(uri)
    for run_id in parents.values():
        assert [a.path for a in client.list_artifacts(run_id)] == [effective.name]

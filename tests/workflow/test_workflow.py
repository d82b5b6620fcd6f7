"""The workflow end to end on a tiny random model: Snakemake rules, resumable judgments, config errors.

These run the real ``snakemake`` command on a tiny config (tests/configs/tiny.yaml, completed here with the
tiny model built by the fixture), in a temporary working directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

pytestmark = pytest.mark.slow


def tiny_config(workdir: Path, model_dir: Path, **judge_overrides) -> Path:
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["model"]["base"] = str(model_dir)
    config["data"]["raw_dir"] = str(REPO / "data" / "raw")
    config["mlflow"]["tracking_uri"] = f"sqlite:///{workdir / 'mlflow.db'}"
    config["judge"].update(judge_overrides)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(workdir: Path, *targets: str, check: bool = True, **popen) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2"]
    cmd += [*targets, "--configfile", str(workdir / "config.yaml")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    tiny_config(workdir, tiny_model_dir)
    snakemake(workdir, "all")
    return workdir


def test_all_trains_evaluates_and_tracks_every_stage(finished_run):
    exp = finished_run / "results" / "tiny"
    table = (exp / "report" / "main" / "results.md").read_text()
    for model, setting in (("base", "greedy"), ("rft", "voting@2"), ("spct", "metarm@2")):
        assert re.search(rf"^\|\s*{model}\s*\|\s*{setting}\s*\|", table, re.MULTILINE), (model, setting)
    assert (exp / "report" / "main" / "results.png").read_bytes().startswith(b"\x89PNG")
    rows = [json.loads(line) for line in (exp / "judgments" / "base" / "pairs.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * (2 + 1)  # items x (k_max + greedy)
    assert all(row["valid"] for row in rows)  # the guarantee is on in tiny.yaml
    metrics = json.loads((exp / "metrics" / "spct" / "pairs.json").read_text())
    settings = [row["setting"] for row in metrics["scaling"]]
    assert settings == ["greedy", "voting@1", "metarm@1", "voting@2", "metarm@2"]
    assert metrics["diagnostics"]["parse_rate"] == 1.0
    summary = json.loads((exp / "rejective" / "principles" / "summary.json").read_text())
    assert summary["items"] == 8 and 0 <= summary["acceptance_rate"] <= 1
    for model in ("rft", "spct", "meta_rm"):
        assert (exp / "models" / model / "config.json").is_file()

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{finished_run / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id])
    stages = sorted(run.data.tags["stage"] for run in runs if "stage" in run.data.tags)
    for stage, count in {"judge": 6, "metrics": 6, "report": 1, "rejective_sampling": 1, "rft": 1, "grpo": 1}.items():
        assert stages.count(stage) == count, stage
    assert all("ablation" in run.data.tags for run in runs)
    grpo_run = next(run for run in runs if run.data.tags.get("stage") == "grpo")
    assert {"reward", "kl", "rewards/parse_rate/mean", "rewards/accuracy/mean"} <= set(grpo_run.data.metrics)
    for stage in ("rft", "grpo", "meta_rm"):  # each training stage's curves, beside its model and in its run
        run = next(run for run in runs if run.data.tags.get("stage") == stage)
        assert "training_curves.png" in {a.path for a in client.list_artifacts(run.info.run_id)}, stage
    report_run = next(run for run in runs if run.data.tags.get("stage") == "report")
    assert any(key.startswith("spct/metarm_at_2/") for key in report_run.data.metrics)


def test_rerun_does_nothing(finished_run):
    result = snakemake(finished_run, "all", "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_snakemake_report_has_the_table_plots_and_captions(finished_run):
    result = snakemake(finished_run, "all", "--report", str(finished_run / "report.zip"))
    import zipfile

    with zipfile.ZipFile(finished_run / "report.zip") as archive:
        names = archive.namelist()
        text = "\n".join(archive.read(n).decode("utf-8", "replace") for n in names if n.endswith((".html", ".js")))
    assert any(n.endswith("table.csv") for n in names), names
    assert any(n.endswith("results.png") for n in names) and any(n.endswith("results_tokens.png") for n in names)
    assert "Results table in the paper" in text and "Inference-time scaling" in text and "against compute" in text
    assert result.returncode == 0


def test_report_table_scores_each_benchmark_by_its_metric(finished_run):
    """tiny.yaml: `pairs` is scored as RewardBench (two sections present), `singles` by ROC-AUC after the Mean."""
    exp = finished_run / "results" / "tiny"
    metrics = json.loads((exp / "metrics" / "base" / "pairs.json").read_text())
    assert metrics["metric"] == "rewardbench" and metrics["paper_column"] is None
    greedy = metrics["scaling"][0]
    assert set(greedy["parts"]) == {"Chat Hard", "Reasoning"}
    assert greedy["score"] == pytest.approx(sum(greedy["parts"].values()) / 2)
    assert greedy["score_ci_low"] <= greedy["score"] <= greedy["score_ci_high"]
    header = (exp / "report" / "main" / "table.csv").read_text().splitlines()[0]
    assert header == "model,setting,pairs,Mean,singles"


def test_larger_k_max_samples_only_the_missing_judgments(finished_run, tmp_path):
    """Raising judge.k_max reruns the judge jobs (and what reads them), never training; each samples only the new
    sample indices, keeping the cached ones."""
    workdir = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(finished_run), str(workdir)], check=True)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["judge"]["k_max"] = 3
    config["metrics"]["ks"] = [1, 2, 3]
    config["mlflow"]["tracking_uri"] = f"sqlite:///{workdir / 'mlflow.db'}"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    jobs = _planned_jobs(workdir, "all")
    assert jobs.get("judge") == 3, jobs  # one per model, covering both benchmarks
    for rule in ("base_model", "prepare_data", "rejective_sampling", "rft", "grpo", "meta_rm", "meta_rm_samples"):
        assert rule not in jobs, (rule, jobs)
    snakemake(workdir, "all")
    log = (workdir / "logs" / "tiny" / "judge" / "base.log").read_text()
    assert "9 judgment samples cached, 3 to sample" in log  # 3 items x (2 + greedy) kept, 3 x 1 new
    metrics = json.loads((workdir / "results" / "tiny" / "metrics" / "spct" / "pairs.json").read_text())
    assert [row["setting"] for row in metrics["scaling"]][-2:] == ["voting@3", "metarm@3"]


def _pipeline_runs(client, experiment_id):
    return client.search_runs([experiment_id], filter_string="tags.`spct.kind` = 'pipeline'")


def test_mlflow_parent_run_links_every_stage_of_the_invocation(finished_run):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{finished_run / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tiny")
    (parent,) = [
        run for run in _pipeline_runs(client, experiment.experiment_id) if run.data.tags["ablation"] == "main"
    ]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["final_model"] == "spct" and len(parent.data.tags["config_hash"]) == 16
    assert len(parent.data.tags["data.raw.sha256"]) == 64
    assert "greedy/pairs" in parent.data.metrics and "voting_at_2/Mean" in parent.data.metrics
    children = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    stages = {run.data.tags["stage"] for run in children}
    assert {"rejective_sampling", "rft", "grpo", "meta_rm", "judge", "metrics", "report"} <= stages
    judge = next(run for run in children if run.data.tags["stage"] == "judge")
    assert judge.data.tags["config_hash"] == parent.data.tags["config_hash"]
    assert len(judge.data.tags["data.items.sha256"]) == 64


def test_every_ablation_target_leaves_a_comparable_parent_run(finished_run, tmp_path):
    """`snakemake ablations` opens one pipeline run per ablation, each closed with the same metric keys (its final
    model's Greedy and Voting@k per benchmark), so MLflow's compare view lines them up."""
    workdir = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(finished_run), str(workdir)], check=True)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["mlflow"]["tracking_uri"] = f"sqlite:///{workdir / 'mlflow.db'}"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "ablations")
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=config["mlflow"]["tracking_uri"])
    experiment = client.get_experiment_by_name("tiny")
    runs = _pipeline_runs(client, experiment.experiment_id)
    latest = max(runs, key=lambda run: run.info.start_time).data.tags["invocation"]
    parents = {run.data.tags["ablation"]: run for run in runs if run.data.tags["invocation"] == latest}
    assert set(parents) == {"main", "no_principles", "rft_only", "hinted_only", "nonhinted_only", "rl_only"}
    keys = {name: set(run.data.metrics) for name, run in parents.items()}
    assert keys["main"] and all(k == keys["main"] for k in keys.values()), keys
    assert parents["rft_only"].data.tags["final_model"] == "rft"
    assert all(run.info.status == "FINISHED" for run in parents.values())
    # `spct compare-runs` shows that invocation's targets side by side.
    result = subprocess.run(
        [str(Path(sys.executable).with_name("spct")), "compare-runs", "--experiment", "tiny"]
        + ["--tracking-uri", config["mlflow"]["tracking_uri"]],
        capture_output=True,
        text=True,
        check=True,
    )
    header = result.stdout.splitlines()[0]
    for target in parents:
        assert target in header
    assert "greedy/pairs" in result.stdout

    # Changing one ablation's own setting reruns only that ablation's jobs: rl_only's GRPO, its evaluation and report.
    config["ablation_overrides"] = {"rl_only": {"grpo": {"beta": 0.02}}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    jobs = _planned_jobs(workdir, "ablations")
    assert jobs.get("grpo") == 1 and jobs.get("report") == 1 and jobs.get("judge") == 1, (
        jobs
    )  # one judge job per model
    assert not {"rft", "rejective_sampling", "meta_rm", "prepare_data"} & set(jobs), jobs


def test_publish_then_clone_pull_touch_reruns_nothing(finished_run, tmp_path):
    """`snakemake publish` DVC-tracks the outputs and pushes them to a local remote; a git clone of the project with
    `dvc pull` and `snakemake --touch` then has nothing to rerun, with identical files."""
    dvc = str(Path(sys.executable).with_name("dvc"))
    project, remote = tmp_path / "project", tmp_path / "remote"
    subprocess.run(["cp", "-a", str(finished_run), str(project)], check=True)
    (project / ".gitignore").write_text((REPO / ".gitignore").read_text())
    (project / ".dvcignore").write_text((REPO / ".dvcignore").read_text())
    (project / "dvc.yaml").write_text((REPO / "dvc.yaml").read_text().replace("embedded-default", "tiny"))

    def run(*cmd, cwd=project):
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)

    run("git", "init", "-q")
    run("git", "config", "user.email", "ci@example.com")
    run("git", "config", "user.name", "ci")
    run(dvc, "init", "-q")
    run(dvc, "config", "core.analytics", "false")
    run(dvc, "remote", "add", "-d", "local", str(remote))
    snakemake(project, "publish")
    dvc_files = sorted(p.relative_to(project).as_posix() for p in (project / "results" / "tiny").glob("*.dvc"))
    assert "results/tiny/models.dvc" in dvc_files and "results/tiny/data.dvc" in dvc_files, dvc_files
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "published results")

    # dvc.yaml's top-level metrics, plots and params work on the published project.
    def dvc_out(*args):
        return subprocess.run([dvc, *args], cwd=project, check=True, capture_output=True, text=True).stdout

    metrics = json.loads(dvc_out("metrics", "show", "--json"))
    assert "results/tiny/report/main/metrics.json" in json.dumps(metrics)
    assert "score_vs_k" in dvc_out("plots", "show", "--json")
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["judge"]["temperature"] = 0.25
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    assert "judge.temperature" in dvc_out("params", "diff")
    run("git", "checkout", "config.yaml")

    clone = tmp_path / "clone"
    run("git", "clone", "-q", str(project), str(clone), cwd=tmp_path)
    assert not (clone / "results" / "tiny" / "models").exists()  # git alone carries only the .dvc files
    run(dvc, "pull", "-q", cwd=clone)
    model = Path("results/tiny/models/spct/model.safetensors")
    assert (clone / model).read_bytes() == (project / model).read_bytes()
    assert not list((clone / "results").rglob("*.checkpoints"))  # resume-only state stays out (.dvcignore)
    snakemake(clone, "all", "--touch")
    result = snakemake(clone, "all", "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]


def test_training_runs_under_accelerate_launch_with_one_process_per_device(tmp_path, tiny_model_dir):
    """training.accelerate_config set: the rft job relaunches itself under `accelerate launch` with world_size
    processes (two CPU processes with gloo here, GPUs on a cluster); both train, one saves, one MLflow run."""
    path = tiny_config(tmp_path, tiny_model_dir)
    config = yaml.safe_load(path.read_text())
    config["training"]["world_size"] = 2
    config["training"]["accelerate_config"] = str(REPO / "tests" / "configs" / "accelerate_cpu.yaml")
    path.write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "results/tiny/models/rft")
    summary = json.loads((tmp_path / "results" / "tiny" / "models" / "rft" / "training.json").read_text())
    assert summary["world_size"] == 2 and summary["global_step"] == config["rft"]["max_steps"]
    assert (tmp_path / "results" / "tiny" / "models" / "rft" / "model.safetensors").is_file()
    log = (tmp_path / "logs" / "tiny" / "rft" / "rft.log").read_text()
    assert "training under:" in log and "--num_processes 2" in log
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=config["mlflow"]["tracking_uri"])
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id], "tags.stage = 'rft'")
    assert len(runs) == 1  # rank 1 opened none


def test_unknown_config_key_stops_the_run_naming_it(tmp_path, tiny_model_dir):
    path = tiny_config(tmp_path, tiny_model_dir)
    config = yaml.safe_load(path.read_text())
    config["judge"]["tempature"] = 0.7
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "all", "--dry-run", check=False)
    assert result.returncode != 0
    assert "judge.tempature" in result.stdout + result.stderr


def test_keys_that_disagree_stop_the_run_naming_key_and_value(tmp_path, tiny_model_dir):
    """The Snakefile runs the same cross-key checks as `spct check-config`: a k above judge.k_max stops the run
    before any job, not in the metrics job hours later."""
    path = tiny_config(tmp_path, tiny_model_dir)
    config = yaml.safe_load(path.read_text())
    config["metrics"]["ks"] = [1, 2, 4]  # tiny.yaml: judge.k_max 2
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "all", "--dry-run", check=False)
    assert result.returncode != 0
    assert "metrics.ks: 4 is above judge.k_max = 2" in result.stdout + result.stderr


def test_malformed_data_line_stops_the_run_naming_file_and_line(tmp_path, tiny_model_dir):
    raw = tmp_path / "raw"
    subprocess.run(["cp", "-r", str(REPO / "data" / "raw"), str(raw)], check=True)
    broken = raw / "math500" / "test.jsonl"
    lines = broken.read_text().splitlines()
    lines[6] = '{"problem": "2+2?", "answer": "4"}'  # line 7 lacks "solution"
    broken.write_text("\n".join(lines) + "\n")
    path = tiny_config(tmp_path, tiny_model_dir)
    config = yaml.safe_load(path.read_text())
    config["data"]["raw_dir"] = str(raw)
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "results/tiny/data/eval.jsonl", check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs" / "tiny" / "prepare_data.log").read_text()
    assert "test.jsonl, line 7" in log and "solution" in log


def _cache_lines(workdir: Path) -> list[dict]:
    files = list((workdir / "results" / "tiny" / "cache" / "judgments" / "base").glob("pairs.*.jsonl"))
    if not files:
        return []
    return [json.loads(line) for line in files[0].read_text().splitlines() if line.strip().endswith("}")]


def test_killed_judge_job_resumes_without_resampling(tmp_path, tiny_model_dir):
    """SIGKILL the judge job once part of its samples are cached; the rerun samples only the rest."""
    tiny_config(tmp_path, tiny_model_dir, k_max=16, max_new_tokens=64, cache_every=4)
    target = "results/tiny/judgments/base/pairs.jsonl"
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "2"]
    cmd += [target, "--configfile", str(tmp_path / "config.yaml")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(_cache_lines(tmp_path)) < 8:
        if proc.poll() is not None:
            pytest.fail("the judge job finished before it could be killed; make the tiny job longer")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {(row["item_id"], str(row["sample"])): row for row in _cache_lines(tmp_path)}
    total = 3 * (16 + 1)
    assert 0 < len(before) < total
    assert not (tmp_path / target).exists()

    subprocess.run(["rm", "-rf", str(tmp_path / ".snakemake" / "locks")], check=True)
    snakemake(tmp_path, target, "--rerun-incomplete")
    after = _cache_lines(tmp_path)
    keys = [(row["item_id"], str(row["sample"])) for row in after]
    assert len(keys) == len(set(keys)) == total  # nothing sampled twice
    for key, row in before.items():  # finished samples kept as they were
        assert next(r for r in after if (r["item_id"], str(r["sample"])) == key)["text"] == row["text"]
    log = (tmp_path / "logs" / "tiny" / "judge" / "base.log").read_text()  # pairs is judged first
    assert f"{len(before)} judgment samples cached, {total - len(before)} to sample" in log


def _planned_jobs(
    workdir: Path, target: str, configfile: Path | None = None, snakefile: Path = REPO / "Snakefile"
) -> dict[str, int]:
    """Rule -> job count of a dry run."""
    cmd = [SNAKEMAKE, "-s", str(snakefile), "--directory", str(workdir), target, "-n", "--quiet", "rules"]
    cmd += ["--configfile", str(configfile or workdir / "config.yaml")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    return jobs


@pytest.mark.parametrize(
    ("target", "present", "absent"),  # judge and meta_scores: one job per model, over every benchmark
    [
        ("all", {"rejective_sampling": 1, "rft": 1, "grpo": 1, "meta_rm": 1, "meta_scores": 1}, []),
        ("rft_only", {"rft": 1, "judge": 1}, ["grpo", "meta_rm"]),
        ("rl_only", {"grpo": 1, "rejective_sampling": 1, "judge": 1}, ["rft", "meta_rm"]),
        ("no_principles", {"rejective_sampling": 1, "rft": 1, "grpo": 1, "judge": 1}, ["meta_rm"]),
        ("hinted_only", {"rft": 1, "grpo": 1}, ["meta_rm"]),
        ("nonhinted_only", {"rft": 1, "grpo": 1}, ["meta_rm"]),
    ],
)
def test_ablation_targets_plan_only_what_they_need(tmp_path, tiny_model_dir, target, present, absent):
    tiny_config(tmp_path, tiny_model_dir)
    jobs = _planned_jobs(tmp_path, target)
    for rule, count in present.items():
        assert jobs.get(rule) == count, (rule, jobs)
    for rule in absent:
        assert rule not in jobs, (rule, jobs)


def _planned_outputs(workdir: Path, target: str) -> dict[str, str]:
    """Output file -> the rule that writes it, for every job a fresh run of ``target`` would run (``--summary``)."""
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), target, "--summary"]
    cmd += ["--configfile", str(workdir / "config.yaml")]
    summary = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    return {line.split("\t")[0]: line.split("\t")[2] for line in summary.splitlines()[1:]}


def test_claims_plans_exactly_the_jobs_of_all_and_ablations(tmp_path):
    """`claims` reads the metrics files of main and every ablation: it plans the jobs `all` and `ablations` plan, the
    same outputs, and only its own job besides (each ablation alone still plans only what it needs, above)."""
    tiny_config(tmp_path, tmp_path / "model")  # a dry run runs no job: no model needed
    jobs = _planned_jobs(tmp_path, "claims")
    expected: dict[str, int] = {}  # rule -> jobs of the union (`ablations` holds main: max is the union's count)
    for target in ("all", "ablations"):
        for rule, count in _planned_jobs(tmp_path, target).items():
            if rule not in (target, "total"):  # the target rule itself
                expected[rule] = max(expected.get(rule, 0), count)
    assert jobs == {**expected, "claims_report": 1, "claims": 1, "total": sum(expected.values()) + 2}
    assert jobs["metrics"] > 12  # more models than main's
    union = _planned_outputs(tmp_path, "all") | _planned_outputs(tmp_path, "ablations")
    claims = _planned_outputs(tmp_path, "claims")
    assert {out: rule for out, rule in claims.items() if rule != "claims_report"} == union
    assert sorted(out for out, rule in claims.items() if rule == "claims_report") == [
        f"results/tiny/report/claims/claims.{ext}" for ext in ("json", "md", "png")
    ]


def test_paper_config_plans_every_target(tmp_path):
    (tmp_path / "data").symlink_to(REPO / "data")  # the paper config reads the bundled data at data/raw
    for target in ("all", "ablations"):
        jobs = _planned_jobs(tmp_path, target, configfile=REPO / "configs" / "paper.yaml")
        assert jobs["grpo"] >= 1 and jobs["download"] == 1


# Rules whose output is a directory(...): their stand-in output must be a directory too.
DIRECTORY_RULES = {"base_model", "rft", "grpo", "meta_rm"}


def _stand_in_outputs(workdir: Path, snakefile: Path, target: str) -> None:
    """An empty stand-in for every output a fresh run of ``target`` would write (listed by ``--summary``); JSON ones
    hold ``{}``, since the onsuccess hook reads the reports' metrics.json."""
    cmd = [SNAKEMAKE, "-s", str(snakefile), "--directory", str(workdir), target, "--summary"]
    cmd += ["--configfile", str(workdir / "config.yaml")]
    summary = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    for line in summary.splitlines()[1:]:
        output, _, rule, *_ = line.split("\t")
        path = workdir / output
        if rule in DIRECTORY_RULES:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}" if path.suffix == ".json" else "")


@pytest.fixture(scope="module")
def touched_run(tmp_path_factory) -> tuple[Path, Path]:
    """A finished tiny `all` run in seconds, with no job run: stand-in outputs marked complete by `snakemake
    --touch`, which records every job's params, code and inputs as a real run does, so later dry runs plan reruns
    as they would after a real run. Runs a copy of the workflow and package, so a test may change a package file's
    mtime without touching the repository. Returns (working directory, Snakefile)."""
    root = tmp_path_factory.mktemp("touched")
    project = root / "project"
    for part in ("workflow", "src", "envs"):
        shutil.copytree(REPO / part, project / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "Snakefile", project / "Snakefile")
    workdir = root / "work"
    workdir.mkdir()
    tiny_config(workdir, root / "model")  # no job runs, so no model is needed
    snakefile = project / "Snakefile"
    _stand_in_outputs(workdir, snakefile, "all")
    cmd = [SNAKEMAKE, "-s", str(snakefile), "--directory", str(workdir), "all", "--touch", "--cores", "1"]
    subprocess.run(cmd + ["--configfile", str(workdir / "config.yaml")], capture_output=True, check=True, timeout=300)
    assert _planned_jobs(workdir, "all", snakefile=snakefile) == {}
    return workdir, snakefile


def _changed_config(workdir: Path, out: Path, dotted: str, value) -> Path:
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    section, key = dotted.split(".")
    config[section][key] = value
    out.write_text(yaml.safe_dump(config))
    return out


@pytest.mark.parametrize(
    ("key", "value"),
    [("judge.cache_every", 7), ("rft.save_steps", 3), ("grpo.save_steps", 3), ("meta_rm.save_steps", 3)],
)
def test_how_often_a_job_saves_its_progress_reruns_nothing(touched_run, tmp_path, key, value):
    """judge.cache_every (how often finished samples reach the cache) and the training stages' save_steps (Trainer
    checkpoints) change no result: they are no rule's params, so changing one plans no job, least of all training
    (rejective_sampling, rft, grpo, meta_rm_samples, meta_rm)."""
    workdir, snakefile = touched_run
    configfile = _changed_config(workdir, tmp_path / "config.yaml", key, value)
    assert _planned_jobs(workdir, "all", configfile, snakefile) == {}


def test_jobs_read_how_often_to_save_from_the_config(monkeypatch):
    """What the rules leave out of their params, the scripts take from the config, with an ablation's overrides."""
    monkeypatch.syspath_prepend(str(REPO / "workflow" / "scripts"))
    from _common import io_settings

    config = {
        "judge": {"cache_every": 7, "k_max": 2},
        "rft": {"save_steps": 3, "max_steps": 4},
        "grpo": {"save_steps": 2, "beta": 0.1},
        "ablation_overrides": {"rl_only": {"grpo": {"save_steps": 5}}},
    }
    smk = SimpleNamespace(config=config)
    assert io_settings(smk, "judge") == {"cache_every": 7}
    assert io_settings(smk, "rft") == {"save_steps": 3}
    assert io_settings(smk, "grpo") == {"save_steps": 2}
    assert io_settings(smk, "grpo", "rl_only") == {"save_steps": 5}


@pytest.mark.parametrize(
    ("key", "value", "planned"),
    [
        # Controls: a setting that changes what is computed does rerun, so the test above can fail.
        ("judge.max_new_tokens", 9, {"judge", "rejective_sampling", "rft", "grpo", "meta_rm_samples", "meta_rm"}),
        ("rft.max_steps", 3, {"rft", "grpo"}),
        # metrics.k_meta: null is what runs did before the key existed; an integer reruns metrics and reports only.
        ("metrics.k_meta", None, set()),
        ("metrics.k_meta", 1, {"metrics", "report"}),
    ],
)
def test_settings_that_change_results_rerun_their_jobs(touched_run, tmp_path, key, value, planned):
    workdir, snakefile = touched_run
    configfile = _changed_config(workdir, tmp_path / "config.yaml", key, value)
    jobs = set(_planned_jobs(workdir, "all", configfile, snakefile)) - {"all", "total"}
    if key == "metrics.k_meta":
        assert jobs == planned
    else:
        assert planned <= jobs, jobs


def _planned_inputs(workdir: Path, target: str, snakefile: Path, *args: str) -> dict[str, set[str]]:
    """Rule -> the declared inputs of its jobs that a dry run plans."""
    cmd = [SNAKEMAKE, "-s", str(snakefile), "--directory", str(workdir), target, "-n", *args]
    cmd += ["--configfile", str(workdir / "config.yaml")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    planned: dict[str, set[str]] = {}
    for job in re.finditer(r"^(?:local)?rule (\w+):\n((?:    .*\n)*)", result.stdout + result.stderr, re.MULTILINE):
        inputs = re.search(r"^    input: (.*)$", job.group(2), re.MULTILINE)
        planned.setdefault(job.group(1), set()).update(inputs.group(1).split(", ") if inputs else [])
    return planned


@contextlib.contextmanager
def _edited(path: Path):
    """``path`` (a file of the touched run's copy of the package) with a line added, then as it was, modification
    time included. A new modification time alone is not an edit: Snakemake compares the checksum it recorded of a
    small input before it reruns a job for a newer one."""
    text, before = path.read_bytes(), path.stat()
    path.write_bytes(text + b"\n# an edit\n")
    try:
        yield path
    finally:
        path.write_bytes(text)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_editing_stages_py_reruns_every_rule_whose_script_calls_it(touched_run):
    """Every rule's script calls spct.stages, so stages.py is a declared input of each: an edit plans them all even
    with modification times as the only trigger. `publish` (no output, so always planned) is the target here
    because it needs every rule of `all` too."""
    workdir, snakefile = touched_run
    scripts = (REPO / "workflow" / "scripts").glob("*.py")
    callers = {script.stem for script in scripts if "from spct import stages" in script.read_text()}
    assert len(callers) == 16  # a script is named after its rule (claims.py: claims_report, the `claims` target's)
    # Targets of their own (the policy trained with the GRM; the claims over every target), not rules of `all`.
    callers -= {"policy_rl", "claims"}
    stages_py = snakefile.parent / "src" / "spct" / "stages.py"
    with _edited(stages_py):
        planned = _planned_inputs(workdir, "publish", snakefile, "--rerun-triggers", "mtime")
    assert set(planned) == callers, planned.keys()
    # Each rule declares it itself, not only inherits a rerun from upstream (a dry run names one reason per job).
    for rule, inputs in planned.items():
        assert str(stages_py) in inputs, rule


@pytest.mark.parametrize(
    ("module", "declared_by", "planned", "unplanned"),
    [
        # Only the report stage imports the report module: an edit reruns the reports and nothing upstream.
        ("evaluation/report.py", {"report"}, {"report", "all"}, None),
        # The GRPO trainer: the GRPO jobs and what reads their models, but no sampling or RFT before them.
        ("training/grpo.py", {"grpo"}, {"grpo", "judge", "report"}, {"rejective_sampling", "rft", "prepare_data"}),
    ],
)
def test_editing_a_package_module_reruns_only_the_stages_that_import_it(
    touched_run, module, declared_by, planned, unplanned
):
    """The code inputs are read from the stages' imports (spct.code_inputs), so an edit to a module reruns the jobs
    whose stage can import it, each declaring it itself, and no job whose stage never does."""
    workdir, snakefile = touched_run
    path = snakefile.parent / "src" / "spct" / module
    with _edited(path):
        jobs = _planned_inputs(workdir, "all", snakefile, "--rerun-triggers", "mtime")
    if unplanned is None:
        assert set(jobs) == planned, jobs.keys()
    else:
        assert planned <= set(jobs) and not unplanned & set(jobs), jobs.keys()
    assert {rule for rule, inputs in jobs.items() if str(path) in inputs} == declared_by


def test_judge_cache_every_reruns_no_job_but_stages_py_reruns_training(touched_run, tmp_path):
    """The issue's acceptance, with Snakemake's default rerun triggers: judge.cache_every plans no job (no training
    least of all), an edit to stages.py plans every training job."""
    workdir, snakefile = touched_run
    configfile = _changed_config(workdir, tmp_path / "config.yaml", "judge.cache_every", 5)
    assert _planned_jobs(workdir, "all", configfile, snakefile) == {}
    with _edited(snakefile.parent / "src" / "spct" / "stages.py"):
        jobs = _planned_jobs(workdir, "all", configfile, snakefile)
    assert {"rejective_sampling", "rft", "grpo", "meta_rm_samples", "meta_rm", "judge", "report"} <= set(jobs), jobs


def test_snakemake_lint_is_clean():
    result = subprocess.run(
        [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(REPO), "--lint"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0 and "workflow is in a good condition" in result.stdout + result.stderr, (
        result.stdout[-3000:] + result.stderr[-3000:]
    )


def test_policy_rl_trains_a_policy_with_the_grm_and_reports_it(tmp_path, tiny_model_dir):
    """`snakemake policy_rl` on the tiny config: the GRM chain (base -> rft -> spct), then GRPO of the base policy
    with the spct GRM as its reward; the report files exist and the stage run sits under a `policy_rl` pipeline run."""
    tiny_config(tmp_path, tiny_model_dir)
    snakemake(tmp_path, "policy_rl")
    out = tmp_path / "results" / "tiny" / "policy_rl"
    assert (out / "reward_curve.png").read_bytes().startswith(b"\x89PNG")
    comparison = json.loads((out / "before_after.json").read_text())
    assert comparison["prompts"] == 2 and 0.0 <= comparison["win_rate"] <= 1.0
    assert "policy_rl" in (out / "report.md").read_text() and (out / "model" / "training.json").is_file()

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    parent = next(run for run in runs if run.data.tags.get("spct.kind") == "pipeline")
    assert parent.data.tags["ablation"] == "policy_rl" and parent.info.status == "FINISHED"
    assert {"mean_reward_before", "mean_reward_after", "win_rate"} <= set(parent.data.metrics)
    stage = next(run for run in runs if run.data.tags.get("stage") == "policy_rl")
    assert stage.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert "rewards/grm/mean" in stage.data.metrics  # TRL's per-step reward, logged into the stage's run

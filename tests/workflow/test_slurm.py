"""The slurm/ profile: `snakemake --profile slurm` plans the workflow, and runs it on a real Slurm cluster.

The cheap tests dry-run the repository's own configs through the profile (no Slurm tools needed). The slow test
starts a single-node Slurm cluster on this machine (tests/slurm/start_cluster.sh: Debian's slurm-wlm, a fake GPU
node), runs a short target of the tiny workflow through real sbatch/srun with the unmodified profile, and checks
the sbatch command lines the plugin wrote, recorded by an `sbatch` shim first on PATH.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SNAKEMAKE = str(VENV_BIN / "snakemake")
PROFILE = REPO / "slurm"
START_CLUSTER = REPO / "tests" / "slurm" / "start_cluster.sh"
TEST_CLUSTER_NAME = "spct-test"  # ClusterName in the slurm.conf that start_cluster.sh writes
# One CPU rule chain and one GPU rule, about two minutes: (base_model), (download), prepare_data, (benchmark_items),
# judge, metrics; the rules in parentheses are local rules and must not reach sbatch.
TARGET = "results/tiny/metrics/base/pairs.json"
USER_VARIABLES = ("SBATCH_ACCOUNT", "SBATCH_PARTITION", "SPCT_GPU_PARTITION")
pytestmark = pytest.mark.slow  # every test here runs snakemake (a dry run of the workflow takes ~10 s)


def tiny_config(workdir: Path, model_dir: Path) -> Path:
    """tests/configs/tiny.yaml completed with the tiny model (as tests/test_workflow.py does)."""
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["model"]["base"] = str(model_dir)
    config["data"]["raw_dir"] = str(REPO / "data" / "raw")
    config["mlflow"]["tracking_uri"] = f"sqlite:///{workdir / 'mlflow.db'}"
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def profile_resources(rule: str) -> dict:
    """The plain resources the profile gives a rule (YTE keys like `<` left out)."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    resources = dict(profile["default-resources"])
    resources.update(profile["set-resources"].get(rule, {}))
    return {k: v for k, v in resources.items() if not k.startswith("<")}


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the user's Slurm settings, with the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SNAKEMAKE_PROFILE"))}
    for name in USER_VARIABLES:
        env.pop(name, None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def dry_run(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [SNAKEMAKE, "--profile", "slurm", "-n", *args],
        cwd=REPO,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    assert not re.search(r"\b\w*(Error|Exception)\b", out), out[-5000:]
    assert "Job stats" in out or "Nothing to be done" in out, out[-3000:]
    return out


def planned_resources(out: str) -> dict[str, str]:
    """Rule -> its `resources:` line in a dry run's job listing (the first job of each rule)."""
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        m = re.match(r"(?:local)?rule (\w+):", block)
        r = re.search(r"^\s*resources: (.*)$", block, re.MULTILINE)
        if m and r:
            found.setdefault(m.group(1), r.group(1))
    return found


# ------------------------------------------------------------------------------------------------ dry runs


def test_profile_plans_all_with_the_repository_config():
    out = dry_run("all", "--forceall")  # --forceall: plan every job even where a finished run is in the checkout
    resources = planned_resources(out)
    judge = profile_resources("judge")
    assert "gpu=1" in resources["judge"] and f"mem_mb={judge['mem_mb']}" in resources["judge"], resources
    assert f"cpus_per_gpu={judge['cpus_per_gpu']}" in resources["judge"], resources
    assert "gpu=" not in resources["metrics"] and "mem_mb=4000" in resources["metrics"], resources
    assert "slurm_account" not in out and "slurm_partition" not in out  # nothing guessed into the plan


def test_profile_plans_all_with_the_paper_config():
    out = dry_run("all", "--forceall", "--configfile", "configs/paper.yaml")
    assert re.search(r"^judge\s+\d+$", out, re.MULTILINE), out[-3000:]
    # The paper config samples with 4-way tensor parallelism: the sampling jobs ask for 4 GPUs, scoring for 1.
    resources = planned_resources(out)
    assert "gpu=4" in resources["judge"] and "gpu=1" in resources["meta_scores"], resources
    # It trains on training.world_size = 8 GPUs (DeepSpeed ZeRO-3 under accelerate launch).
    assert all("gpu=8" in resources[rule] for rule in ("rft", "grpo", "meta_rm")), resources


@pytest.mark.parametrize("target", ["no_principles", "rft_only", "hinted_only", "nonhinted_only", "rl_only"])
def test_each_ablation_target_plans_with_the_paper_config(target):
    out = dry_run(target, "--forceall", "--configfile", "configs/paper.yaml")
    assert re.search(r"^report\s+1$", out, re.MULTILINE), out[-3000:]  # the target's own report, nothing else


def test_account_and_partitions_come_from_the_environment():
    env = clean_env(SBATCH_ACCOUNT="123456", SBATCH_PARTITION="cpu", SPCT_GPU_PARTITION="gpu")
    out = dry_run("all", "--forceall", env=env)
    resources = planned_resources(out)
    for rule in ("judge", "grpo", "meta_rm"):
        assert "slurm_partition=gpu" in resources[rule] and "slurm_account=123456" in resources[rule], resources
    for rule in ("metrics", "prepare_data"):
        assert "slurm_partition=cpu" in resources[rule] and "slurm_account=123456" in resources[rule], resources


# ------------------------------------------------------------------------------------------------ real Slurm


@pytest.fixture(scope="module")
def slurm_cluster() -> str:
    """Starts (or finds) the single-node test cluster; skips with the script's reason when it cannot."""
    try:
        result = subprocess.run(["bash", str(START_CLUSTER)], capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        pytest.skip("tests/slurm/start_cluster.sh did not finish within 15 minutes")
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        reason = next((line for line in reversed(lines) if line.startswith("start_cluster:")), None)
        pytest.skip(f"no Slurm cluster: {reason or (lines[-1] if lines else f'exit {result.returncode}')}")
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=False).stdout
    name = re.search(r"^ClusterName\s*=\s*(\S+)", config, re.MULTILINE)
    if not name or name.group(1) != TEST_CLUSTER_NAME:
        pytest.skip(
            f"the Slurm cluster here is {name.group(1) if name else 'unnamed'}, not the single-node test cluster of "
            "tests/slurm/start_cluster.sh: no test jobs are submitted to it"
        )
    return result.stdout.strip()


def sbatch_shim(directory: Path, log: Path) -> Path:
    """An `sbatch` that appends its argv (shell-quoted, one call per line) to `log`, then runs the real one."""
    real = shutil.which("sbatch")
    assert real, "sbatch not on PATH"
    directory.mkdir()
    shim = directory / "sbatch"
    shim.write_text(f'#!/bin/bash\n{{ printf "%q " "$@"; echo; }} >> {shlex.quote(str(log))}\nexec {real} "$@"\n')
    shim.chmod(0o755)
    return directory


def sbatch_calls(log: Path) -> dict[str, list[list[str]]]:
    """Rule -> the argv of each sbatch call for it (the plugin names the rule in --comment rule_<name>...)."""
    calls: dict[str, list[list[str]]] = {}
    for line in log.read_text().splitlines():
        argv = shlex.split(line)
        comment = argv[argv.index("--comment") + 1]
        rule = re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", comment).group(1)
        calls.setdefault(rule, []).append(argv)
    return calls


def flag(argv: list[str], name: str) -> str | None:
    """The value of `name VALUE` or `name=VALUE` in argv."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def without_wrap(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv if not a.startswith("--wrap"))


@pytest.mark.slow
def test_tiny_workflow_runs_through_real_sbatch(slurm_cluster, tmp_path, tiny_model_dir):
    workdir = tmp_path / "run"
    workdir.mkdir()
    tiny_config(workdir, tiny_model_dir)
    log = tmp_path / "sbatch.log"
    shim = sbatch_shim(tmp_path / "shim", log)
    # Account and partitions the way a user gives them (slurm/config.yaml): any account is accepted on the test
    # cluster (no accounting), and its `gpu` partition is the same node as its default `debug`.
    env = clean_env(SBATCH_ACCOUNT="spct-test-account", SBATCH_PARTITION="debug", SPCT_GPU_PARTITION="gpu")
    env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"  # jobs get this PATH too (sbatch --export=ALL)
    cmd = [SNAKEMAKE, "--profile", str(PROFILE), "-s", str(REPO / "Snakefile"), TARGET]
    cmd += ["--configfile", str(workdir / "config.yaml")]
    # Test-cluster settings, not profile settings: accounting is off there, so job states come from squeue;
    # polling starts after 5 s instead of 40; Slurm logs of successful jobs are kept to find their job ids.
    cmd += ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5"]
    cmd += ["--slurm-keep-successful-logs"]
    start = time.monotonic()
    result = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=1200, check=False)
    elapsed = time.monotonic() - start
    out = result.stdout + result.stderr
    slurm_logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    if result.returncode != 0:
        tails = "\n".join(f"--- {p}\n{p.read_text()[-2000:]}" for p in slurm_logs)
        pytest.fail(f"snakemake --profile slurm failed after {elapsed:.0f}s:\n{out[-6000:]}\n{tails}")

    # The target and what it was made from, as valid JSON.
    metrics = json.loads((workdir / TARGET).read_text())
    assert metrics["scaling"] and metrics["scaling"][0]["setting"] == "greedy", metrics
    judgments = (workdir / "results" / "tiny" / "judgments" / "base" / "pairs.jsonl").read_text().splitlines()
    assert judgments and all(json.loads(line)["valid"] for line in judgments)

    # Every cluster rule went through sbatch once; the local rules did not.
    calls = sbatch_calls(log)
    assert {"prepare_data", "judge", "metrics"} <= set(calls), sorted(calls)
    assert not {"base_model", "download", "benchmark_items"} & set(calls), sorted(calls)
    assert all(len(argvs) == 1 for argvs in calls.values()), calls
    judge, metrics_call = calls["judge"][0], calls["metrics"][0]
    print(f"\nsnakemake --profile slurm {TARGET}: {elapsed:.0f}s")
    print("judge:  ", without_wrap(judge))
    print("metrics:", without_wrap(metrics_call))

    # The GPU rule asks for its GPUs as the config says (sampler.tensor_parallel_size, 1 in tiny.yaml), and for
    # memory, time and CPUs per GPU as the profile says.
    want = profile_resources("judge")
    assert flag(judge, "--gpus") == "1", without_wrap(judge)
    assert flag(judge, "--mem") == str(want["mem_mb"]), without_wrap(judge)
    assert flag(judge, "-t") == str(want["runtime"]), without_wrap(judge)
    assert flag(judge, "--cpus-per-gpu") == str(want["cpus_per_gpu"]), without_wrap(judge)
    # The CPU rule asks for no GPU, the default memory and time, and CPUs from its threads.
    want = profile_resources("metrics")
    assert not any(a.startswith(("--gpus", "--gres", "--cpus-per-gpu")) for a in metrics_call), metrics_call
    assert flag(metrics_call, "--mem") == str(want["mem_mb"]), without_wrap(metrics_call)
    assert flag(metrics_call, "-t") == str(want["runtime"]), without_wrap(metrics_call)
    assert flag(metrics_call, "--cpus-per-task") == "1", without_wrap(metrics_call)
    # Account and partition from the environment, the GPU rule in the GPU partition.
    for rule, argvs in calls.items():
        assert flag(argvs[0], "-A") == "spct-test-account", without_wrap(argvs[0])
        assert flag(argvs[0], "-p") == ("gpu" if rule == "judge" else "debug"), without_wrap(argvs[0])

    # Slurm ran them (.snakemake/slurm_logs/rule_<name>/<wildcards>/<job id>.log): every job completed, and the
    # judge job held a GPU.
    jobs = {p.relative_to(workdir / ".snakemake" / "slurm_logs").parts[0]: p.stem for p in slurm_logs}
    assert sorted(jobs) == [f"rule_{rule}" for rule in sorted(calls)], slurm_logs
    for rule, job_id in jobs.items():
        shown = subprocess.run(["scontrol", "show", "job", "-d", "-o", job_id], capture_output=True, text=True).stdout
        assert "JobState=COMPLETED" in shown and "Account=spct-test-account" in shown, (rule, shown)
        assert ("JOB_GRES=gpu:1" in shown) == (rule == "rule_judge"), (rule, shown)
        assert ("Partition=gpu" in shown) == (rule == "rule_judge"), (rule, shown)

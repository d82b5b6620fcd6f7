"""The files under a benchmark's `path:` are inputs of its `benchmark_items` job (workflow/rules/common.smk
``benchmark_files``): editing or adding one plans the job again, and nothing else changes its plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
ITEMS = "results/tiny/data/benchmarks/rmb.jsonl"

pytestmark = pytest.mark.slow


def rmb_item(uid: str, goal: str) -> dict:
    return {
        "pair_uid": uid,
        "conversation_input": [{"content": f"ask {uid}", "language": "English", "role": "user"}],
        "chosen": {"llm_name": "a", "answer": f"good {uid}", "score": 5.0},
        "reject": {"llm_name": "b", "answer": f"bad {uid}", "score": 1.0},
        "category_path": f"Pairwise_set/{goal}/S1",
    }


def write_items(path: Path, uids: list[str], goal: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([rmb_item(uid, goal) for uid in uids]))


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "1", *args]
    result = subprocess.run(
        cmd + ["--configfile", str(workdir / "config.yaml")], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def planned(workdir: Path) -> set[str]:
    out = snakemake(workdir, ITEMS, "-n", "--quiet", "rules").stdout
    return {parts[0] for line in out.splitlines() if len(parts := line.split()) == 2 and parts[1].isdigit()} - {
        "total"
    }


def test_editing_or_adding_a_file_under_path_reruns_benchmark_items(tmp_path):
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["model"]["base"] = str(tmp_path / "model")  # no model job runs
    config["data"]["raw_dir"] = str(REPO / "data" / "raw")
    config["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config["benchmarks"]["rmb"] = {"source": "rmb", "path": "RMB_dataset"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    help_file = tmp_path / "RMB_dataset" / "Pairwise_set" / "Helpfulness" / "a.json"
    write_items(help_file, ["1", "2"], "Helpfulness")
    snakemake(tmp_path, ITEMS)
    summary = json.loads((tmp_path / "results/tiny/data/benchmarks/rmb.summary.json").read_text())
    assert summary["items"] == 2 and summary["left_out"] == {} and summary["path"] == "RMB_dataset"
    assert planned(tmp_path) == set()

    write_items(help_file, ["1", "2", "3"], "Helpfulness")  # the same file, new content
    stat = help_file.stat()
    os.utime(help_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert planned(tmp_path) == {"benchmark_items"}
    snakemake(tmp_path, ITEMS)
    assert len((tmp_path / ITEMS).read_text().splitlines()) == 3
    assert planned(tmp_path) == set()

    write_items(tmp_path / "RMB_dataset" / "Pairwise_set" / "Harmlessness" / "b.json", ["4"], "Harmlessness")
    assert planned(tmp_path) == {"benchmark_items"}  # a new file: the set of inputs changed

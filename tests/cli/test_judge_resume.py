"""``spct judge`` killed mid-run (SIGKILL, a real process) resumes from its cache: nothing cached is sampled again,
and what a kill loses is bounded by ``--cache-every`` (an item's k samples stay in one chunk)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from spct.cli.judge import DEFAULT_CACHE_EVERY

REPO = Path(__file__).resolve().parents[2]


def test_default_cache_every_is_the_workflows():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert config["judge"]["cache_every"] == DEFAULT_CACHE_EVERY


def spct_judge(model, inp, out, k, cache_every) -> subprocess.Popen:
    argv = ["judge", "--model", str(model), "--input", str(inp), "--output", str(out), "--k", str(k)]
    argv += ["--cache-every", str(cache_every), "--backend", "transformers", "--batch-size", "2"]
    argv += ["--max-new-tokens", "24", "--guarantee-score-format"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "spct.cli", *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.slow
def test_killed_judge_resumes_without_resampling(tiny_model_dir, tmp_path):
    k, cache_every, n_queries = 2, 2, 60
    inp, out = tmp_path / "q.jsonl", tmp_path / "scores.jsonl"
    inp.write_text(
        "".join(json.dumps({"prompt": f"Question {i}?", "responses": ["a", "b"]}) + "\n" for i in range(n_queries))
    )
    proc = spct_judge(tiny_model_dir, inp, out, k, cache_every)
    deadline = time.monotonic() + 300
    cache = None
    while time.monotonic() < deadline and proc.poll() is None:
        cache = next(tmp_path.glob("scores.cache-*.jsonl"), None)
        if cache is not None and complete_lines(cache) >= 6:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be killed: make the run longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cached = complete_lines(cache)
    total = k * n_queries
    assert 6 <= cached < total and not out.exists()
    # Chunks of cache_every samples never split an item: every append is whole items, so what the kill lost is at
    # most the chunk in flight (max(cache_every, k) samples, here 2), none of it already returned by the sampler.
    assert cached % max(cache_every, k) == 0

    proc = spct_judge(tiny_model_dir, inp, out, k, cache_every)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    match = re.search(r"(\d+) judgment samples cached, (\d+) to sample", err)
    assert match and (int(match[1]), int(match[2])) == (cached, total - cached), err
    assert complete_lines(cache) == total
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == n_queries and all(len(r["samples"]) == k for r in rows)

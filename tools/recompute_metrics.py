"""Recompute every ``metrics/<model>/<benchmark>.json`` of a finished run with the current code and compare them
with the run's own (exit 1 if any differs): a change to the evaluation code must leave them identical.

    python tools/recompute_metrics.py results/embedded-default config.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from spct.evaluation.evaluate import evaluate_benchmark, read_meta_scores
from spct.records import read_records
from spct.sampling.judgments import read_judgments


def recompute(run: Path, config: dict, model: str, benchmark: str) -> dict:
    meta_path = run / "meta_scores" / model / f"{benchmark}.json"
    result = evaluate_benchmark(
        read_records(run / "data" / "benchmarks" / f"{benchmark}.jsonl"),
        read_judgments(run / "judgments" / model / f"{benchmark}.jsonl"),
        config["metrics"],
        config["benchmarks"][benchmark],
        model,
        benchmark,
        read_meta_scores(meta_path) if meta_path.exists() else None,
    )
    return json.loads(json.dumps(result))  # as written to disk: tuples become lists


def main(run_dir: str, config_path: str) -> int:
    run, config = Path(run_dir), yaml.safe_load(Path(config_path).read_text())
    differ = []
    paths = sorted((run / "metrics").glob("*/*.json"))
    for path in paths:
        if recompute(run, config, path.parent.name, path.stem) != json.loads(path.read_text()):
            differ.append(f"{path.parent.name}/{path.stem}")
    print(
        f"{len(paths) - len(differ)} of {len(paths)} metrics files identical"
        + (f"; differ: {differ}" if differ else "")
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))

"""Two runs of one commit, compared: are the report's scores the same, and where do the judgments differ?

    spct compare-results results/embedded-default /elsewhere/results/embedded-default

Prints every score of ``report/<target>/metrics.json`` that differs between the two runs (with both values), then,
per model and benchmark, how many judgments have the same text in both runs, then, where both runs kept per-item
values on the same items, each setting's score difference (B minus A) with its paired bootstrap interval. This is
what "two ``make run`` of one commit give the same ``metrics.json``" is checked with, and, where they do not, how
large the remaining nondeterminism is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spct.evaluation.paired import DEFAULT_SAMPLES, paired_difference, read_item_values


def flatten(tree: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(key path, leaf value) of every leaf of nested dicts, in key order."""
    if isinstance(tree, dict):
        for key in sorted(tree):
            yield from flatten(tree[key], (*path, str(key)))
    elif isinstance(tree, list):  # e.g. paired_differences: one leaf per field, keyed by position
        for i, value in enumerate(tree):
            yield from flatten(value, (*path, str(i)))
    else:
        yield path, tree


def score_differences(a: dict, b: dict) -> list[tuple[str, Any, Any]]:
    """Leaves of two metrics.json trees that differ (a leaf missing on one side counts, as ``None``)."""
    left, right = dict(flatten(a)), dict(flatten(b))
    keys = sorted(set(left) | set(right))
    return [("/".join(k), left.get(k), right.get(k)) for k in keys if left.get(k) != right.get(k)]


def judgment_agreement(a_dir: Path, b_dir: Path) -> list[dict]:
    """Per ``judgments/<model>/<benchmark>.jsonl`` present in both runs: rows, rows with identical text, and the
    same for the scores alone (two texts can differ and still give the same scores)."""
    rows = []
    for a_file in sorted(a_dir.glob("judgments/*/*.jsonl")):
        b_file = b_dir / a_file.relative_to(a_dir)
        if not b_file.exists():
            continue
        a_rows, b_rows = _keyed(a_file), _keyed(b_file)
        shared = a_rows.keys() & b_rows.keys()
        rows.append(
            {
                "file": str(a_file.relative_to(a_dir / "judgments")),
                "rows": len(shared),
                "same_text": sum(a_rows[k]["text"] == b_rows[k]["text"] for k in shared),
                "same_scores": sum(a_rows[k]["scores"] == b_rows[k]["scores"] for k in shared),
            }
        )
    return rows


def run_differences(a_dir: Path, b_dir: Path, samples: int = DEFAULT_SAMPLES) -> list[dict]:
    """Per ``metrics/<model>/<benchmark>.json`` of both runs and setting: run B's official score minus run A's, with
    its paired bootstrap interval (``spct.evaluation.paired``), where both kept per-item values on the same items."""
    rows = []
    for a_file in sorted(a_dir.glob("metrics/*/*.json")):
        b_file = b_dir / a_file.relative_to(a_dir)
        if not b_file.exists():
            continue
        a_values, b_values = read_item_values([a_file]), read_item_values([b_file])
        for setting, benchmarks in a_values.items():
            for benchmark, a in benchmarks.items():
                b = b_values.get(setting, {}).get(benchmark)
                if b is None or set(a.ids) != set(b.ids):
                    continue
                d = paired_difference(b, a, ("B", "A"), benchmark, samples)
                low, high = d.interval()
                name = f"{'/'.join(setting)} {benchmark}"
                rows.append(
                    {
                        "setting": name,
                        "difference": d.difference,
                        "low": low,
                        "high": high,
                        "decided": d.n_decided,
                        "items": d.n_items,
                    }
                )
    return rows


def _keyed(path: Path) -> dict[tuple[str, str], dict]:
    with open(path, encoding="utf-8") as f:
        return {(row["item_id"], str(row["sample"])): row for row in map(json.loads, f)}


def main(args) -> int:
    a_dir, b_dir = Path(args.a), Path(args.b)
    identical = True
    for a_file in sorted(a_dir.glob("report/*/metrics.json")):
        b_file = b_dir / a_file.relative_to(a_dir)
        if not b_file.exists():
            print(f"{a_file.relative_to(a_dir)}: missing in {b_dir}")
            identical = False
            continue
        diffs = score_differences(json.loads(a_file.read_text()), json.loads(b_file.read_text()))
        identical &= not diffs
        print(f"{a_file.relative_to(a_dir)}: {'identical' if not diffs else f'{len(diffs)} values differ'}")
        for key, left, right in diffs:
            print(f"  {key}: {left} vs {right}")
    print(f"{'judgments':<48}{'rows':>7}{'same text':>11}{'same scores':>13}")
    for row in judgment_agreement(a_dir, b_dir):
        print(f"{row['file']:<48}{row['rows']:>7}{row['same_text']:>11}{row['same_scores']:>13}")
    differences = run_differences(a_dir, b_dir)
    if differences:
        print(f"{'B minus A, paired over items (%)':<48}{'difference':>11}{'95% interval':>18}{'decided':>9}")
    for row in differences:
        interval = f"[{100 * row['low']:+.1f}, {100 * row['high']:+.1f}]"
        print(f"{row['setting']:<48}{100 * row['difference']:>+11.1f}{interval:>18}{row['decided']:>5}/{row['items']}")
    return 0 if identical else 1

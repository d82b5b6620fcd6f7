"""Wall time of every job of a Snakemake run, from its logs (``.snakemake/log/<time>.snakemake.log``).

    spct job-times .snakemake/log/2026-11-29T101020.478472.snakemake.log
    spct job-times .snakemake/log/*.snakemake.log     # a run resumed over several invocations: one table

Then one line per rule: how many jobs, their total and their range, the figures a per-stage budget needs.

Snakemake writes ``[<date>]`` before each job's ``rule``/``localrule`` block and before each ``Finished jobid``
line; the time between a job's start and its finish is its wall time (jobs that ran side by side overlap).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$")
_START = re.compile(r"^(?:local)?rule (\w+):$")
_JOBID = re.compile(r"^\s+jobid: (\d+)$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")
_FINISHED = re.compile(r"^Finished jobid: (\d+)")


def job_times(log_path: str | Path) -> list[dict]:
    """One row per finished job, in start order: rule, wildcards, start, seconds."""
    stamp, pending, rows = None, None, {}
    for line in Path(log_path).read_text().splitlines():
        if m := _STAMP.match(line):
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif m := _START.match(line):
            pending = {"rule": m.group(1), "wildcards": "", "start": stamp}
        elif pending and (m := _JOBID.match(line)):
            rows[m.group(1)] = pending
        elif pending and (m := _WILDCARDS.match(line)):
            pending["wildcards"] = m.group(1)
        elif (m := _FINISHED.match(line)) and m.group(1) in rows:
            rows[m.group(1)]["seconds"] = (stamp - rows[m.group(1)]["start"]).total_seconds()
    return [row for row in rows.values() if "seconds" in row]


def per_rule(rows: list[dict]) -> dict[str, dict]:
    """rule -> jobs, total seconds, shortest and longest job, in order of first start."""
    out: dict[str, dict] = {}
    for row in rows:
        r = out.setdefault(row["rule"], {"jobs": 0, "seconds": 0.0, "min": row["seconds"], "max": row["seconds"]})
        r["jobs"] += 1
        r["seconds"] += row["seconds"]
        r["min"], r["max"] = min(r["min"], row["seconds"]), max(r["max"], row["seconds"])
    return out


def main(args) -> int:
    logs = [Path(p) for p in args.log]
    for path in logs:
        if not path.is_file():
            raise SystemExit(f"spct job-times: {path}: no such log file")
    # A job a killed invocation started but never finished has no row there; its rerun's log holds it.
    rows = sorted((row for path in logs for row in job_times(path)), key=lambda r: r["start"])
    for row in rows:
        print(f"{row['start']:%m-%d %H:%M:%S}  {row['seconds']:>6.0f} s  {row['rule']:<20} {row['wildcards']}")
    print(f"{len(rows)} jobs from {len(logs)} log(s), {sum(r['seconds'] for r in rows) / 60:.1f} min in jobs")
    print("per rule:")
    for rule, r in per_rule(rows).items():
        spread = f"{r['min']:.0f}-{r['max']:.0f} s each" if r["jobs"] > 1 else ""
        print(f"  {rule:<20} {r['jobs']:>3} jobs  {r['seconds'] / 60:>7.1f} min  {spread}")
    return 0

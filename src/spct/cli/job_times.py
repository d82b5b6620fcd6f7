"""Wall time of every job of a Snakemake run, from its log (``.snakemake/log/<time>.snakemake.log``).

    spct job-times .snakemake/log/2026-11-29T101020.478472.snakemake.log

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


def main(args) -> int:
    rows = job_times(args.log)
    for row in rows:
        print(f"{row['start']:%H:%M:%S}  {row['seconds']:>6.0f} s  {row['rule']:<20} {row['wildcards']}")
    print(f"{len(rows)} jobs, {sum(r['seconds'] for r in rows) / 60:.1f} min in jobs")
    return 0

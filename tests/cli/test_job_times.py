"""`spct job-times`: per-job wall times read back from a Snakemake log."""

from types import SimpleNamespace

import pytest

from spct.cli.job_times import job_times, main

LOG = """\
Job stats:
job      count
-----  -------
judge        1

[Sun Nov 29 10:13:45 2026]
localrule judge:
    input: results/x/models/rft
    jobid: 11
    wildcards: exp=x, model=rft
    resources: tmpdir=/tmp

[Sun Nov 29 10:14:02 2026]
rule metrics:
    jobid: 12
    wildcards: exp=x, model=rft, benchmark=b

[Sun Nov 29 10:14:07 2026]
Finished jobid: 12 (Rule: metrics)
[Sun Nov 29 10:20:02 2026]
Finished jobid: 11 (Rule: judge)

[Sun Nov 29 10:20:03 2026]
localrule report:
    jobid: 13
"""


def test_each_finished_job_gets_its_own_wall_time(tmp_path):
    log = tmp_path / "run.snakemake.log"
    log.write_text(LOG)
    rows = job_times(log)
    assert [(r["rule"], r["seconds"]) for r in rows] == [("judge", 377.0), ("metrics", 5.0)]  # report never finished
    assert rows[0]["wildcards"] == "exp=x, model=rft"


def test_several_logs_make_one_table_with_per_rule_totals(tmp_path, capsys):
    """A run resumed over two invocations: both logs' jobs, in start order, and one line per rule."""
    first, second = tmp_path / "a.snakemake.log", tmp_path / "b.snakemake.log"
    first.write_text(LOG)
    second.write_text(LOG.replace("10:", "11:").replace("model=rft", "model=spct"))
    assert main(SimpleNamespace(log=[str(second), str(first)])) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "model=rft" in lines[0] and "model=spct" in lines[2]  # sorted by start, not by argument order
    assert "4 jobs from 2 log(s)" in out
    assert any(line.split()[:3] == ["judge", "2", "jobs"] and "377-377 s each" in line for line in lines)
    with pytest.raises(SystemExit, match="missing.log: no such log file"):
        main(SimpleNamespace(log=[str(tmp_path / "missing.log")]))

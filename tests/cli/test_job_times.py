"""`spct job-times`: per-job wall times read back from a Snakemake log."""

from spct.cli.job_times import job_times

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

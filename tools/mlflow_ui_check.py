"""Open an experiment in `mlflow ui` with headless Chromium, as a first-time visitor would, and check what it shows.

    python tools/mlflow_ui_check.py --tracking-uri sqlite:///mlflow.db --screenshot docs/img/mlflow_ui_runs.png
    python tools/mlflow_ui_check.py --tracking-uri sqlite:///mlflow.db --plain-link    # the bare experiment link

Starts `mlflow server` on a free localhost port over the store, opens the experiment's runs link
(``spct.tracking.runs_url``; with ``--plain-link`` the bare ``#/experiments/<id>`` link a click in the experiment list
leads to) in a browser profile of its own (empty, so no remembered "GenAI / Model training" choice), dumps the rendered
DOM and takes a screenshot. Exit 0 when the page shows the runs table (the names of the experiment's latest top-level
runs are in the page), 1 when it does not (e.g. MLflow 3's GenAI traces "Overview"), 2 when it cannot check (no
Chromium: `apt-get install chromium`; no such experiment; the server does not start). Needs only the store: the
server reads it, and serves no artifacts.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from mlflow import MlflowClient

from spct.tracking import runs_url

CHROMIUM_FLAGS = [  # what this kind of machine needs: no sandbox, GPU, QUIC or background traffic
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
]


class CheckError(Exception):
    """The check could not run (exit 2)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_experiment(client: MlflowClient, name: str | None):
    """The experiment ``name``, or the only experiment with runs when no name is given."""
    if name is not None:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise CheckError(f"--experiment: no experiment {name!r} in this store")
        return found
    with_runs = [exp for exp in client.search_experiments() if client.search_runs([exp.experiment_id], max_results=1)]
    if len(with_runs) != 1:
        names = ", ".join(exp.name for exp in with_runs) or "none"
        raise CheckError(f"--experiment is needed: experiments with runs: {names}")
    return with_runs[0]


def expected_run_names(client: MlflowClient, experiment_id: str, count: int) -> list[str]:
    """The latest top-level runs' names: the rows the runs table shows first (stage runs are folded under them)."""
    runs = client.search_runs([experiment_id], order_by=["attributes.start_time DESC"], max_results=500)
    top = [run.info.run_name for run in runs if "mlflow.parentRunId" not in run.data.tags and run.info.run_name]
    if not top:
        raise CheckError(f"experiment {experiment_id} has no named top-level runs to look for")
    return top[:count]


def start_server(tracking_uri: str, port: int, workdir: Path) -> subprocess.Popen:
    log = open(workdir / "server.log", "w")
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log_tail = (workdir / "server.log").read_text()[-2000:]
            raise CheckError(f"mlflow server exited ({server.returncode}): {log_tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise CheckError("mlflow server did not answer /health within 120 s")


def chromium(binary: str, url: str, workdir: Path, output: list[str], budget_ms: int) -> str:
    """Run headless Chromium once on ``url`` with a fresh profile; returns its stdout (the DOM for --dump-dom)."""
    profile = Path(tempfile.mkdtemp(prefix="profile-", dir=workdir))
    command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *output]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise CheckError(f"chromium exited {done.returncode}: {done.stderr[-1000:]}")
    return done.stdout


def check(args: argparse.Namespace) -> int:
    binary = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise CheckError("no chromium on PATH: apt-get install chromium (or pass --chromium PATH)")
    client = MlflowClient(args.tracking_uri)
    experiment = find_experiment(client, args.experiment)
    names = expected_run_names(client, experiment.experiment_id, args.runs)
    with tempfile.TemporaryDirectory(prefix="mlflow-ui-check-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        experiment_id = experiment.experiment_id
        url = f"{base}/#/experiments/{experiment_id}" if args.plain_link else runs_url(base, experiment_id)
        server = start_server(args.tracking_uri, port, workdir)
        try:
            dom = chromium(binary, url, workdir, ["--dump-dom"], args.budget_ms)
            if args.screenshot is not None:
                args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                chromium(binary, url, workdir, [f"--screenshot={args.screenshot.resolve()}"], args.budget_ms)
        finally:
            server.terminate()
            server.wait(timeout=30)
    missing = [name for name in names if name not in dom]
    view = "runs table" if not missing else "GenAI traces overview" if ">Overview<" in dom else "another page"
    print(
        f"{url.replace(base, 'http://<ui>')}: {view} (experiment {experiment.name!r}, kind tag "
        f"{experiment.tags.get('mlflow.experimentKind', '<unset>')!r})"
    )
    if missing:
        print(f"FAIL: run names not in the page: {', '.join(missing)}")
        return 1
    print(f"OK: the page lists the runs {', '.join(names)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True, help="e.g. sqlite:///mlflow.db")
    parser.add_argument("--experiment", help="experiment name (default: the only experiment with runs)")
    parser.add_argument("--screenshot", type=Path, help="write a PNG of the page here")
    parser.add_argument("--plain-link", action="store_true", help="open #/experiments/<id> instead of the runs link")
    parser.add_argument("--runs", type=int, default=3, help="how many of the latest top-level run names must show")
    parser.add_argument("--budget-ms", type=int, default=20000, help="Chromium's virtual time budget for the page")
    parser.add_argument("--chromium", help="the Chromium binary (default: chromium on PATH)")
    args = parser.parse_args(argv)
    try:
        return check(args)
    except (CheckError, subprocess.TimeoutExpired) as error:
        print(f"mlflow_ui_check: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Starting a real ``spct serve`` (uvicorn, in a thread, on a free loopback port) from a test."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import uvicorn

from spct.cli.main import make_parser

# The judge settings of the module's server (tests compare it with spct.judging on the same settings).
SERVE_FLAGS = ("--k", "2", "--max-new-tokens", "24", "--temperature", "0.5", "--batch-window-ms", "300")


@contextlib.contextmanager
def running_server(model_dir, *flags: str):
    """Start ``spct serve`` with these flags; yield (base url, batcher); stop it."""
    from spct.cli.serve import build_server

    args = make_parser().parse_args(["serve", "--model", str(model_dir), "--backend", "transformers", *flags])
    app, batcher = build_server(args)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield url, batcher
    finally:
        server.should_exit = True
        thread.join(10)
        batcher.stop()
        sock.close()


def hold_engine(batcher, seconds: float) -> None:
    """Make the server's real engine wait ``seconds`` before each batch, so a test of timeouts or a full queue does
    not depend on how fast the machine judges (the tiny model scores 4 samples in ~60 ms when the cores are free)."""
    score = batcher.engine.score
    batcher.engine.score = lambda jobs: (time.sleep(seconds), score(jobs))[1]

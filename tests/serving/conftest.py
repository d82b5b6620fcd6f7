"""A real ``spct serve`` on the tiny model, shared by the module's tests."""

from __future__ import annotations

import httpx
import pytest
from serve_helpers import SERVE_FLAGS, running_server


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    with running_server(tiny_model_dir, *SERVE_FLAGS) as running:
        yield running


@pytest.fixture
def client(server):
    url, _ = server
    with httpx.Client(base_url=url, timeout=120) as c:
        yield c

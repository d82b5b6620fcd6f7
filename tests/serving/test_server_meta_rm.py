"""``spct serve --meta-rm`` on a real (tiny) meta RM: MetaRM@k through ``/score``, and requests that turn it off."""

from __future__ import annotations

import httpx
import pytest
from serve_helpers import SERVE_FLAGS, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def meta_rm_dir(tiny_model_dir, tmp_path_factory):
    from spct.training.meta_rm import train_meta_rm

    examples = [
        {"item_id": f"toy/{i}", "sample": 0, "text": f"Prompt {i}\nScores: \\boxed{{{9 - i}, {i}}}", "label": i % 2}
        for i in range(6)
    ]
    out = tmp_path_factory.mktemp("meta") / "meta_rm"
    options = dict(max_steps=1, per_device_batch_size=4, max_length=128, eval_fraction=0.2)
    train_meta_rm(tiny_model_dir, examples, out, **options)
    return out


def test_score_with_the_meta_rm_keeps_the_top_k_meta_samples(tiny_model_dir, meta_rm_dir):
    flags = (*SERVE_FLAGS, "--meta-rm", str(meta_rm_dir))
    with running_server(tiny_model_dir, *flags) as (url, _), httpx.Client(base_url=url, timeout=120) as client:
        assert client.get("/health").json()["meta_rm"] == str(meta_rm_dir)
        body = {"prompt": "What is 2 + 2?", "responses": ["4", "5"], "k": 4}
        got = client.post("/score", json=body).json()
        assert got["k_meta"] == 2 and len(got["selected"]) == 2  # default k/2
        assert all(isinstance(s["meta_score"], float) for s in got["samples"])
        kept = [s for s in got["samples"] if s["selected"]]
        dropped = [s for s in got["samples"] if not s["selected"]]
        assert min(s["meta_score"] for s in kept) >= max(s["meta_score"] for s in dropped)
        if got["scores"] is not None:  # Eq. 14 over the kept samples only
            assert got["scores"] == [sum(s["scores"][i] for s in kept if s["valid"]) for i in range(2)]
        plain = client.post("/score", json={**body, "meta_rm": False}).json()
        assert "k_meta" not in plain and "selected" not in plain  # Voting@k when a request turns it off

"""The reward functions against a real ``spct serve`` (the tiny model on uvicorn): TRL's ``GRMReward`` through
``RemoteScorer`` in both modes, and verl's ``compute_score``."""

from __future__ import annotations

import pytest

from spct import reward_verl
from spct.reward import GRMReward, RemoteScorer, rewards_from_result

pytestmark = pytest.mark.slow

PROMPTS = ["What is 2 + 2?"] * 2 + ["Name a colour."] * 2
COMPLETIONS = ["4", "5", "Blue.", "A car."]


@pytest.mark.parametrize("mode", ["pointwise", "joint"])
def test_trl_reward_through_spct_serve(server, mode):
    url, batcher = server
    reward = GRMReward(RemoteScorer(url, k=2), mode=mode, name="grm")
    rewards = reward(prompts=PROMPTS, completions=COMPLETIONS)
    assert len(rewards) == 4 and all(0.0 <= r <= 1.0 for r in rewards)
    # Each reward is the documented mapping of what the server judged: pointwise one query per completion, joint one
    # per prompt (its two completions in one list).
    assert len(reward.last_results) == (4 if mode == "pointwise" else 2)
    if mode == "joint":
        first = reward.last_results[0]
        assert rewards[:2] == pytest.approx(rewards_from_result(first, 2, reward.scorer.score_range))


def test_remote_scorer_reads_the_servers_score_ranges(tiny_model_dir):
    """A server judging on 0..100 tells its clients, so rewards are rescaled by that range, not the default 1..10."""
    from serve_helpers import SERVE_FLAGS, running_server

    with running_server(tiny_model_dir, *SERVE_FLAGS, "--score-range", "0", "100") as (url, _):
        scorer = RemoteScorer(url, k=1)
        reward = GRMReward(scorer, mode="pointwise")
        assert len(reward(prompts=PROMPTS[:1], completions=COMPLETIONS[:1])) == 1
        assert scorer.score_range == scorer.single_score_range == (0, 100)


def test_verl_compute_score_through_spct_serve(server, monkeypatch):
    url, _ = server
    monkeypatch.setenv("SPCT_SERVE_URL", url)
    result = reward_verl.compute_score("gsm8k", "4", "4", extra_info={"question": "What is 2 + 2?"})
    assert 0.0 <= result["score"] <= 1.0 and result["grm_valid_samples"] >= 0

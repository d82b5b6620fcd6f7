"""The reward mapping and grouping of spct.reward, the remote client against spct serve's /score contract (httpx's
mock transport stands in for the server: these are unit tests), and the verl compute_score adapter."""

from __future__ import annotations

import json

import httpx
import pytest

from spct import reward_verl
from spct.reward import GRMReward, RemoteScorer, message_text, prompt_groups, reward_from_scores, rewards_from_result


def test_reward_from_scores_rescales_the_mean_to_0_1():
    assert reward_from_scores(1, (1, 10)) == 0.0
    assert reward_from_scores(10, (1, 10)) == 1.0
    assert reward_from_scores(5.5, (1, 10)) == pytest.approx(0.5)
    assert reward_from_scores(0.5, (0, 1)) == 0.5
    assert reward_from_scores(None, (1, 10)) == 0.0  # no valid sample
    assert reward_from_scores(12, (1, 10)) == 1.0  # clipped
    with pytest.raises(ValueError, match="low < high"):
        reward_from_scores(3, (5, 5))


def test_rewards_from_result_per_response_and_without_valid_samples():
    assert rewards_from_result({"mean_scores": [10, 1, 4]}, 3, (1, 10)) == pytest.approx([1.0, 0.0, 1 / 3])
    assert rewards_from_result({"mean_scores": None}, 2, (1, 10)) == [0.0, 0.0]
    with pytest.raises(ValueError, match="2 mean_scores for 3 responses"):
        rewards_from_result({"id": "q", "mean_scores": [1, 2]}, 3, (1, 10))


def test_message_text_reads_plain_and_conversational_values():
    assert message_text("hi") == "hi"
    assert message_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    assert (
        message_text(
            [{"role": "assistant", "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]}]
        )
        == "xy"
    )
    with pytest.raises(TypeError, match="chat messages"):
        message_text(3)


def test_prompt_groups_keep_first_appearance_order():
    assert prompt_groups(["a", "a", "b", "a", "c", "b"]) == [[0, 1, 3], [2, 5], [4]]


class RecordingScorer:
    """Scores each response by its length (a stand-in GRM: the grouping and mapping are under test here)."""

    score_range = (1, 10)
    single_score_range = (0, 1)

    def __init__(self):
        self.queries = []

    def score(self, queries):
        self.queries.append(list(queries))
        return [
            {"id": q.id, "mean_scores": [min(len(r), 10) if q.n > 1 else len(r) % 2 for r in q.responses]}
            for q in queries
        ]


def test_joint_mode_judges_each_prompts_completions_together_and_maps_back():
    scorer = RecordingScorer()
    reward = GRMReward(scorer, mode="joint", name="grm_joint")
    prompts = [[{"role": "user", "content": p}] for p in ["p1", "p2", "p1", "p2"]]
    completions = [[{"role": "assistant", "content": c}] for c in ["a", "bbbbbbbbbb", "cccc", "d"]]
    rewards = reward(prompts=prompts, completions=completions, completion_ids=None)
    (queries,) = scorer.queries
    assert [(q.prompt, q.responses) for q in queries] == [("p1", ["a", "cccc"]), ("p2", ["bbbbbbbbbb", "d"])]
    assert rewards == pytest.approx([0.0, 1.0, 3 / 9, 0.0])  # (len - 1) / 9 in each completion's own place
    assert reward.__name__ == "grm_joint"


def test_pointwise_mode_judges_each_completion_alone_on_the_single_range():
    scorer = RecordingScorer()
    reward = GRMReward(scorer, mode="pointwise")
    rewards = reward(prompts=["p", "p", "q"], completions=["a", "bb", "ccc"])
    assert [q.n for q in scorer.queries[0]] == [1, 1, 1]
    assert rewards == [1.0, 0.0, 1.0]  # len % 2 on the 0..1 single range
    assert len({q.id for q in scorer.queries[0]}) == 3
    reward(prompts=["p"], completions=["a"])
    assert scorer.queries[1][0].id not in {q.id for q in scorer.queries[0]}  # a fresh id every call


def test_reward_rejects_unknown_mode_and_mismatched_lengths():
    with pytest.raises(ValueError, match="mode must be one of"):
        GRMReward(RecordingScorer(), mode="pairwise")
    with pytest.raises(ValueError, match="2 prompts for 1 completions"):
        GRMReward(RecordingScorer())(prompts=["a", "b"], completions=["x"])


def score_server(requests: list, status: int = 200, health: dict | None = None):
    """httpx transport answering /health and /score by the spct serve contract (the mean score is the response's
    length, capped at 10)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok", "model": "tiny", **(health or {})})
        body = json.loads(request.content)
        requests.append(body)
        if status != 200:
            return httpx.Response(status, json={"detail": "responses: must be a non-empty list"})
        means = [float(min(len(r), 10)) for r in body["responses"]]
        return httpx.Response(200, json={"id": "req-1", "scores": means, "mean_scores": means, "valid_samples": 1})

    return httpx.MockTransport(handle)


def test_remote_scorer_posts_the_contract_and_reads_ranges_from_health():
    sent: list = []
    client = httpx.Client(base_url="http://grm", transport=score_server(sent, health={"single_score_range": [0, 10]}))
    scorer = RemoteScorer("http://grm", k=3, client=client)
    rewards = GRMReward(scorer, mode="pointwise")(prompts=["q", "q"], completions=["aaaaa", "a"])
    assert sorted(sent, key=lambda b: b["responses"]) == [
        {"prompt": "q", "responses": ["a"], "k": 3},
        {"prompt": "q", "responses": ["aaaaa"], "k": 3},
    ]
    assert scorer.single_score_range == (0, 10)
    assert rewards == pytest.approx([0.5, 0.1])


def test_remote_scorer_errors_name_the_status_and_the_url(monkeypatch):
    client = httpx.Client(base_url="http://grm", transport=score_server([], status=422))
    scorer = RemoteScorer("http://grm", client=client)
    with pytest.raises(RuntimeError, match=r"http://grm/score answered 422: .*responses"):
        GRMReward(scorer)(prompts=["q"], completions=["a"])
    monkeypatch.delenv("SPCT_SERVE_URL", raising=False)
    with pytest.raises(ValueError, match="SPCT_SERVE_URL"):
        RemoteScorer()


def test_verl_compute_score_maps_the_single_score_and_sends_prompt_and_reference(monkeypatch):
    sent: list = []
    client = httpx.Client(base_url="http://grm", transport=score_server(sent))
    monkeypatch.setattr(reward_verl, "client_for", lambda url: client)
    monkeypatch.setenv("SPCT_SERVE_URL", "http://grm")
    result = reward_verl.compute_score("gsm8k", "abcd", "4", extra_info={"question": "2+2?", "index": 0})
    assert sent == [{"prompt": "2+2?", "responses": ["abcd"], "reference": "4"}]
    assert result == {"score": pytest.approx(3 / 9), "grm_mean_score": 4.0, "grm_valid_samples": 1}


def test_verl_compute_score_errors(monkeypatch):
    monkeypatch.delenv("SPCT_SERVE_URL", raising=False)
    with pytest.raises(ValueError, match=r"extra_info\['prompt'\]"):
        reward_verl.compute_score("d", "x", None, extra_info={})
    with pytest.raises(ValueError, match="SPCT_SERVE_URL"):
        reward_verl.compute_score("d", "x", None, extra_info={"prompt": "p"})
    client = httpx.Client(base_url="http://grm", transport=score_server([], status=503))
    monkeypatch.setattr(reward_verl, "client_for", lambda url: client)
    with pytest.raises(RuntimeError, match="answered 503"):
        reward_verl.compute_score("d", "x", None, extra_info={"prompt": "p", "spct_url": "http://grm"})

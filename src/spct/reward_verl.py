"""verl custom reward function: the GRM behind ``spct serve`` as verl's ``compute_score``.

verl (``volcengine/verl``, checked at commit 10a6180e1d0078b2d2454369db83482d4de8ac60,
``verl/workers/reward_manager/naive.py`` and ``docs/preparation/reward_function.rst``) calls a custom reward
function once per response as ``compute_score(data_source=, solution_str=, ground_truth=, extra_info=)`` and takes
a float or a dict with a ``"score"`` key (the other keys go to ``reward_extra_info``). Point verl at this file::

    custom_reward_function.path=<site-packages>/spct/reward_verl.py custom_reward_function.name=compute_score

``solution_str`` is the decoded response only; verl does not pass the prompt, so the prompt comes from the data
set's ``extra_info`` column: ``extra_info["prompt"]``, else ``extra_info["question"]`` (verl's example
preprocessors store the question there). A non-empty ``ground_truth`` string is sent as the judge's ``reference``
(the server shows it only with its judge's ``use_reference``). The server is ``extra_info["spct_url"]``, else
``$SPCT_SERVE_URL``. Each response is judged alone (pointwise); the reward is ``spct.reward.reward_from_scores``
(mean valid score rescaled to [0, 1]). A failed request raises: a silent 0 would train the policy on noise.
"""

from __future__ import annotations

import os
from typing import Any

from spct.reward import URL_ENV, reward_from_scores

TIMEOUT_ENV = "SPCT_SERVE_TIMEOUT"  # seconds per request (default 600: k judgments of a long response)
_clients: dict[str, Any] = {}  # one keep-alive client per server and process (verl calls once per response)


def prompt_of(extra_info: dict | None) -> str:
    """The prompt a response answers, from verl's ``extra_info`` (``prompt`` or ``question``)."""
    info = extra_info or {}
    for key in ("prompt", "question"):
        value = info.get(key)
        if isinstance(value, list):  # a chat: the last message's text
            value = value[-1].get("content") if value and isinstance(value[-1], dict) else None
        if isinstance(value, str) and value:
            return value
    raise ValueError("spct compute_score needs the prompt: put it in the data set's extra_info['prompt']")


def server_url(extra_info: dict | None) -> str:
    url = (extra_info or {}).get("spct_url") or os.environ.get(URL_ENV)
    if not url:
        raise ValueError(f"spct compute_score needs the server: set {URL_ENV} or extra_info['spct_url']")
    return str(url).rstrip("/")


def client_for(url: str):
    import httpx

    if url not in _clients:
        _clients[url] = httpx.Client(base_url=url, timeout=float(os.environ.get(TIMEOUT_ENV, 600)))
    return _clients[url]


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any
) -> dict[str, Any]:
    """verl's custom reward function: ``{"score": reward in [0, 1], "grm_mean_score", "grm_valid_samples"}``."""
    info = extra_info or {}
    body: dict[str, Any] = {"prompt": prompt_of(info), "responses": [solution_str]}
    if isinstance(ground_truth, str) and ground_truth:
        body["reference"] = ground_truth
    if info.get("spct_k") is not None:
        body["k"] = int(info["spct_k"])
    url = server_url(info)
    response = client_for(url).post("/score", json=body)
    if response.status_code != 200:
        raise RuntimeError(f"spct serve {url}/score answered {response.status_code}: {response.text[:500]}")
    result = response.json()
    means = result.get("mean_scores")
    mean = None if not means else means[0]
    single_range = info.get("spct_score_range") or (1, 10)  # the server's judge.single_score_range
    return {
        "score": reward_from_scores(mean, single_range),
        "grm_mean_score": float("nan") if mean is None else float(mean),
        "grm_valid_samples": int(result.get("valid_samples", 0)),
    }

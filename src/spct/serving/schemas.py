"""The bodies of ``spct serve``'s endpoints (pydantic, strict: a number is not a string, "3" is not an int).

A bad body is answered 422 by FastAPI with the failing field's location (``body.responses.0``); ``app`` turns the
list into one readable message as well.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

MAX_RESPONSES = 32  # responses judged together in one prompt
MAX_REWARD_QUERIES = 4096  # queries in one /get_reward request (OpenRLHF sends a rollout batch at once)


class ScoreRequest(BaseModel):
    """``POST /score``: the responses to one prompt, judged together (one list prompt; one response: pointwise)."""

    model_config = ConfigDict(extra="forbid")

    prompt: StrictStr = Field(min_length=1, description="the user's query")
    responses: list[StrictStr] = Field(min_length=1, max_length=MAX_RESPONSES, description="responses to judge")
    reference: StrictStr | None = Field(None, description="a reference answer shown to the judge")
    k: StrictInt | None = Field(None, description="sampled judgments (default: the server's --k)")
    meta_rm: StrictBool | None = Field(None, description="MetaRM@k (default: when the server has a meta RM)")


class RewardRequest(BaseModel):
    """``POST /get_reward``, OpenRLHF's remote reward-model request: ``query[i]`` is the chat-templated
    ``prompts[i]`` followed by the policy's response; ``labels[i]`` is the dataset's label (a non-empty string is
    shown to the judge as the reference answer). Other keys (e.g. a fork's ``metas``) are ignored."""

    model_config = ConfigDict(extra="ignore")

    query: list[StrictStr] = Field(min_length=1, max_length=MAX_REWARD_QUERIES)
    prompts: list[StrictStr] = Field(min_length=1, max_length=MAX_REWARD_QUERIES)
    labels: list[Any] | None = None


class RewardResponse(BaseModel):
    """OpenRLHF reads ``rewards`` (training), ``scores`` (logging, dynamic filtering) and every ``extra_logs`` key
    as one value per query (it concatenates and splits them by sample)."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]

"""From GRM judgments to one scalar reward per response, and OpenRLHF's ``query`` strings to (prompt, response).

The mapping, used by ``POST /get_reward`` and by the reward functions for RL (one place, documented here):

* A response judged alone (n = 1, pointwise, the judge's ``single_score_range``) gets the mean of its valid sampled
  scores, rescaled to [0, 1] by the score range: ``(mean - low) / (high - low)``. No valid sample: 0.0.
* Responses judged together for one prompt (a group, one list prompt, the judge's ``score_range``) each get their
  own mean valid score, rescaled the same way.

With a meta RM (MetaRM@k), only the samples the meta RM kept vote, so the mean is over those.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

# End-of-turn markers a policy's decoded sequence may end with (OpenRLHF decodes with skip_special_tokens=False).
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|end_of_text|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "</s>")


def reward_from_scores(sample_scores: Sequence[float | None], score_range: Sequence[int]) -> float:
    """The scalar reward of one response: the mean of its valid sampled scores rescaled to [0, 1].

    Args:
        sample_scores: the response's score in each sampled judgment that votes; None for an invalid sample.
        score_range: (low, high) of the scale the judge scored on (``JudgeSettings.range_for(n)``).

    Returns 0.0 when no sample is valid. The result is clipped to [0, 1].
    """
    low, high = score_range
    if high <= low:
        raise ValueError(f"score_range must be (low, high) with low < high, got {tuple(score_range)}")
    valid = [float(s) for s in sample_scores if s is not None]
    if not valid:
        return 0.0
    mean = sum(valid) / len(valid)
    return min(1.0, max(0.0, (mean - low) / (high - low)))


def rewards_from_result(result: Mapping[str, Any], n: int, score_range: Sequence[int]) -> list[float]:
    """The reward of each of the ``n`` responses of a judged query (``spct.judging.aggregate``'s dict):
    ``reward_from_scores`` over the samples that vote (all of them under Voting@k, the ``selected`` ones under
    MetaRM@k)."""
    samples = result["samples"]
    if "selected" in result:
        samples = [samples[i] for i in result["selected"]]
    per_response: list[list[float | None]] = [[] for _ in range(n)]
    for sample in samples:
        for i in range(n):
            per_response[i].append(None if sample["scores"] is None else sample["scores"][i])
    return [reward_from_scores(scores, score_range) for scores in per_response]


def query_id(prompt: str, responses: Sequence[str], reference: str | None) -> str:
    """The server's id of a query: its content's digest, so the same query is judged the same way (its response
    shuffles are seeded by the id), whichever client sends it and in whatever order."""
    payload = json.dumps([prompt, list(responses), reference], ensure_ascii=False)
    return "q-" + hashlib.sha256(payload.encode()).hexdigest()[:16]


def split_query(query: str, prompt: str) -> tuple[str, bool]:
    """The response inside an OpenRLHF ``query`` (the chat-templated prompt followed by the response) and whether
    ``query`` started with ``prompt``.

    When it does, the response is the rest. When it does not (the policy's tokenizer did not round-trip the prompt
    exactly), the longest common prefix of the two is cut off instead, and the caller reports the mismatch.
    Trailing end-of-turn markers (``END_MARKERS``) and surrounding whitespace are removed.
    """
    if query.startswith(prompt):
        response, matched = query[len(prompt) :], True
    else:
        common = 0
        for a, b in zip(query, prompt):
            if a != b:
                break
            common += 1
        response, matched = query[common:], False
    return strip_end_markers(response), matched


def strip_end_markers(text: str) -> str:
    text = text.strip()
    while True:
        for marker in END_MARKERS:
            if text.endswith(marker):
                text = text[: -len(marker)].rstrip()
                break
        else:
            return text

"""The server's query ids, and OpenRLHF's ``query`` strings split into (prompt, response). The scalar reward of a
response is ``spct.reward.reward_from_scores`` (one mapping for the server and the reward functions)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

# End-of-turn markers a policy's decoded sequence may end with (OpenRLHF decodes with skip_special_tokens=False).
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|end_of_text|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "</s>")


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

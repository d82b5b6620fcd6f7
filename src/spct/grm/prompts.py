"""Judge prompts of the pointwise generative reward model (GRM).

One template covers n >= 1 responses (single, pair, list), as in DeepSeek-GRM: the model writes principles
("Specific Criteria"), a critique ("Analysis") and one integer score per response on a final
``Scores: \\boxed{a, b}`` line. The wording follows the prompt in the paper's appendix, with the general
criteria shortened (a small judge on a CPU pays for every prompt token).

Variants (SPCT.md section 1):

- ``principles`` (default): principles, then critique, then scores;
- ``no_principles`` (ablation): critique and scores only;
- hinted (rejective sampling): ``hint_best`` names the best response as shown;
- with a reference answer: ``reference`` is shown to the judge.

The query, reference and responses are untrusted: ``spct.grm.untrusted.neutralise`` rewrites the score lines,
judge labels and response markers inside them, and the prompt then says so in one line (``NEUTRALISED_NOTE``).
"""

from __future__ import annotations

from collections.abc import Sequence

from spct.grm.untrusted import NEUTRALISED_NOTE, neutralise

VARIANTS = ("principles", "no_principles")

# The score line the prompt asks for; the score-format guarantee forces exactly this prefix.
SCORE_LINE_PREFIX = "Scores: \\boxed{"
SCORE_LINE_SUFFIX = "}"

_INTRO = """You are a skilled expert at scoring responses. Given the context of the conversation (the last round \
is the User's query) and {count_text} from the Assistant, you need to refer to the general evaluation criteria \
to score {them}. {principle_instruction}
Each score is an integer between {low} and {high}, with a higher score indicating that the response meets the \
criteria more closely.{score_meaning} Before scoring, please analyze step by step. Your scoring needs to be as \
strict as possible."""

_PRINCIPLE_INSTRUCTION = (
    "Based on the general evaluation criteria, state potential other specific criteria to the query, the weights "
    "of different criteria, and then provide an overall comprehensive score upon them."
)
_NO_PRINCIPLE_INSTRUCTION = "Analyze the responses against the general evaluation criteria, then score them."

_GENERAL_CRITERIA = """#### General Evaluation Criteria ####
1. Instruction Adherence: does the response follow every explicit and implicit requirement of the query?
2. Usefulness and Correctness: is the content accurate, relevant and helpful?
3. Harmlessness: does the response avoid harmful content, while not refusing a safe request?
4. Level of Detail: is the depth appropriate to the query, without padding?"""

_OUTPUT_FORMAT_PRINCIPLES = """#### Output Format Requirements ####
Output with three lines
Specific Criteria: <Other potential criteria specific to the query and the context, and the weights of each \
criteria>.
Analysis: <Compare different responses based on given Criteria>.
Scores: <the overall comprehensive score of all responses in order, separate by comma in the boxed, e.g., \
{example} if there exists {n} response{plural}>."""

_OUTPUT_FORMAT_NO_PRINCIPLES = """#### Output Format Requirements ####
Output with two lines
Analysis: <Compare different responses based on the general evaluation criteria>.
Scores: <the overall comprehensive score of all responses in order, separate by comma in the boxed, e.g., \
{example} if there exists {n} response{plural}>."""


def build_judge_prompt(
    query: str,
    responses: Sequence[str],
    *,
    variant: str = "principles",
    score_range: tuple[int, int] = (1, 10),
    hint_best: int | None = None,
    reference: str | None = None,
) -> str:
    """Build the user message asking the GRM to judge ``responses`` to ``query``.

    Args:
        query (`str`): the conversation context; the last round is the user's query.
        responses (`Sequence[str]`): the candidates, in the order SHOWN to the model (already shuffled).
        variant (`str`, *optional*, defaults to `"principles"`): `"principles"` or `"no_principles"`.
        score_range (`tuple[int, int]`, *optional*, defaults to `(1, 10)`): inclusive score bounds; the paper
            uses 1..10, and 0/1 for single responses in training.
        hint_best (`int`, *optional*): shown index of the best response, for hinted rejective sampling.
        reference (`str`, *optional*): a reference answer to the query.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown prompt variant {variant!r}; expected one of {VARIANTS}")
    n = len(responses)
    if n < 1:
        raise ValueError("a judge prompt needs at least one response")
    if hint_best is not None and not 0 <= hint_best < n:
        raise ValueError(f"hint_best={hint_best} is not a shown index in [0, {n})")
    low, high = score_range
    query, rewritten = neutralise(query)
    shown = []
    for response in responses:
        response, count = neutralise(response)
        shown.append(response)
        rewritten += count
    parts = [_intro(n, variant, low, high), _GENERAL_CRITERIA, "#### Conversation Context ####\n" + query.strip()]
    if reference is not None:
        reference, count = neutralise(reference)
        rewritten += count
        parts.append("#### Reference Answer ####\n" + reference.strip())
    parts.append("#### Responses to be Scored ####\n" + "\n".join(_response_block(i, r) for i, r in enumerate(shown)))
    if rewritten:
        parts.append(NEUTRALISED_NOTE)
    if hint_best is not None:
        parts.append(f"#### Hint ####\nThe best response is Response {hint_best + 1}.")
    parts.append(_output_format(n, variant, low))
    return "\n\n".join(parts)


def _intro(n: int, variant: str, low: int, high: int) -> str:
    score_meaning = ""
    if (low, high) == (0, 1):
        score_meaning = " A score of 1 means the response is correct, 0 means it is not."
    return _INTRO.format(
        count_text="a response" if n == 1 else f"{n} responses",
        them="it" if n == 1 else "them",
        principle_instruction=_PRINCIPLE_INSTRUCTION if variant == "principles" else _NO_PRINCIPLE_INSTRUCTION,
        low=low,
        high=high,
        score_meaning=score_meaning,
    )


def _response_block(index: int, response: str) -> str:
    return f"[The Begin of Response {index + 1}]\n{response.strip()}\n[The End of Response {index + 1}]"


def _output_format(n: int, variant: str, low: int) -> str:
    example = SCORE_LINE_PREFIX + ", ".join(["x"] * n) + SCORE_LINE_SUFFIX
    template = _OUTPUT_FORMAT_PRINCIPLES if variant == "principles" else _OUTPUT_FORMAT_NO_PRINCIPLES
    return template.format(example=example, n=n, plural="" if n == 1 else "s")

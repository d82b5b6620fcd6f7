"""The score-format guarantee: every sample ends in a valid score line, even from a weak model.

The model writes its principles and critique freely. The free part ends when the model itself starts a line with
``Scores:`` (``SCORE_MARKERS``; an echoed "Scores:" in mid-line, e.g. quoting a response, does not end it), when it
would stop (EOS), or when its token budget runs out. Then we force the rest of the score
template (``Scores: \\boxed{``) and constrain every following token so that the text can only become ``n``
integers in the allowed range, separated by commas, closed by ``}``. The scores still come from the model's own
distribution over the allowed tokens; only the format is guaranteed.

This is what vLLM calls guided or structured decoding; the transformers backend gets it from
``ScoreFormatLogitsProcessor`` below, the vLLM backend from a two-phase request (see ``vllm_backend.py``).
The guarantee is ON for the embedded default (SmolLM2-135M never writes a parseable score line unaided) and
OFF in the paper-faithful config, where parse failures are counted as invalid judgments.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from spct.grm.prompts import SCORE_LINE_PREFIX, SCORE_LINE_SUFFIX

# The free part ends when the model writes this itself at a line start; the remaining template is then forced.
SCORE_MARKER = "Scores:"
# The line starts that count (markdown a chat model adds included). Each ends with SCORE_MARKER's colon, so the
# template continues after any of them with SCORE_LINE_PREFIX[len(SCORE_MARKER):].
SCORE_MARKERS = ("\n" + SCORE_MARKER, "\n**" + SCORE_MARKER, "\nFinal " + SCORE_MARKER, "\n**Final " + SCORE_MARKER)
_SCORE_BODY_CHARS = set("0123456789, " + SCORE_LINE_SUFFIX)


@dataclass(frozen=True)
class ScoreFormat:
    """What a valid score line looks like for one prompt: ``n`` integers in ``[low, high]``."""

    n: int
    low: int = 1
    high: int = 10

    def __post_init__(self) -> None:
        if self.n < 1 or self.low > self.high or self.low < 0:
            raise ValueError(f"invalid score format {self}")

    def is_valid_body_prefix(self, body: str) -> bool:
        """Whether ``body`` (the text after ``\\boxed{``) can still grow into a valid score line."""
        closed = body.endswith(SCORE_LINE_SUFFIX)
        if closed:
            body = body[: -len(SCORE_LINE_SUFFIX)]
        if SCORE_LINE_SUFFIX in body:
            return False
        parts = body.split(",")
        if len(parts) > self.n:
            return False
        *complete, last = parts
        if not all(self._is_score(_strip_one_space(p, i > 0)) for i, p in enumerate(complete)):
            return False
        last = _strip_one_space(last, len(complete) > 0)
        if last is None:
            return False
        if closed:
            return len(parts) == self.n and self._is_score(last)
        if len(parts) == self.n and self._is_score(last) and not self._extends_to_score(last):
            return True  # only the closing brace can follow
        return last == "" or self._extends_to_score(last) or self._is_score(last)

    def max_body_chars(self) -> int:
        """The longest score body (after ``\\boxed{``): ``n`` scores of the range's widest number, ``", "`` between
        them, the closing brace. Every body token has at least one character, so this bounds its tokens too, for
        any range (4-digit bounds included)."""
        width = max(len(str(self.low)), len(str(self.high)))
        return self.n * width + 2 * (self.n - 1) + len(SCORE_LINE_SUFFIX)

    def is_complete_body(self, body: str) -> bool:
        return body.endswith(SCORE_LINE_SUFFIX) and self.is_valid_body_prefix(body)

    def body_regex(self) -> str:
        """A regular expression for the score body, for vLLM's structured outputs."""
        score = "(" + "|".join(str(v) for v in range(self.high, self.low - 1, -1)) + ")"
        return score + "".join([", ?" + score] * (self.n - 1)) + "\\}"

    def _is_score(self, text: str | None) -> bool:
        return text is not None and text.isdigit() and str(int(text)) == text and self.low <= int(text) <= self.high

    def _extends_to_score(self, prefix: str) -> bool:
        """Whether some allowed score strictly extends ``prefix`` (e.g. "1" -> "10"); arithmetic, not a scan of
        the range, so a wide range (0..100000) costs no more than 1..10."""
        if not prefix.isdigit() or (prefix.startswith("0") and prefix != "0") or prefix == "0":
            return prefix == "" and self.high >= 0
        value = int(prefix)
        for extra in range(1, len(str(self.high)) - len(prefix) + 1):
            first, last = value * 10**extra, value * 10**extra + 10**extra - 1
            if first <= self.high and last >= self.low:
                return True
        return False


def _strip_one_space(part: str, after_comma: bool) -> str | None:
    """Allow exactly one optional space after a comma and nowhere else."""
    if after_comma and part.startswith(" "):
        part = part[1:]
    return None if " " in part else part


class ScoreFormatVocab:
    """What the guarantee needs from a tokenizer, computed once per tokenizer (it scans the vocabulary)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.stop_ids = sorted(_stop_token_ids(tokenizer))
        self.eos_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else self.stop_ids[0]
        self.template_after_marker = _encode(tokenizer, SCORE_LINE_PREFIX[len(SCORE_MARKER) :])
        self.template_after_budget = _encode(tokenizer, "\n" + SCORE_LINE_PREFIX)
        self.body_tokens = _score_body_tokens(tokenizer)


# Per-row phases of ScoreFormatLogitsProcessor.
FREE, FORCE, SCORE, END, DONE = range(5)


class ScoreFormatLogitsProcessor:
    """A transformers logits processor that enforces ``ScoreFormat`` per batch row.

    ``max_free_tokens`` bounds the principles + critique written before the score line is forced.
    Rows move through phases: FREE (the model writes; EOS is intercepted), FORCE (template tokens are forced),
    SCORE (only tokens that keep the score body valid are allowed), END (EOS is forced), DONE.

    EOS in the FREE phase: rather than banning it (which would change what the model writes), we draw the
    model's own stop decision with its EOS probability at the sampling temperature; if it stops, the score
    template starts there, otherwise EOS is masked and the rest renormalises. Free text therefore has the
    same distribution as unconstrained sampling up to the point where the template begins.
    """

    def __init__(
        self,
        vocab: ScoreFormatVocab,
        formats: list[ScoreFormat],
        prompt_length: int,
        temperature: float,
        max_free_tokens: int,
        seed: int = 0,
    ):
        self.tokenizer = vocab.tokenizer
        self.formats = formats
        self.prompt_length = prompt_length
        self.temperature = temperature
        self.max_free_tokens = max_free_tokens
        self.rng = random.Random(seed)
        self.stop_ids = vocab.stop_ids
        self.eos_id = vocab.eos_id
        self.template_after_marker = vocab.template_after_marker
        self.template_after_budget = vocab.template_after_budget
        self.body_tokens = vocab.body_tokens
        rows = len(formats)
        self.phase = [FREE] * rows
        self.free_count = [0] * rows
        self.forced = [False] * rows
        self.force_queue: list[list[int]] = [[] for _ in range(rows)]
        self.tail = [""] * rows
        self.body = [""] * rows

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids.shape[1] - self.prompt_length
        for row in range(scores.shape[0]):
            if generated > 0:
                self._advance(row, int(input_ids[row, -1]))
            self._constrain(row, scores[row])
        return scores

    def _advance(self, row: int, token: int) -> None:
        """Update the row's phase with the token that was just chosen."""
        phase = self.phase[row]
        if phase == FREE:
            self.free_count[row] += 1
            self.tail[row] = (self.tail[row] + self.tokenizer.decode([token]))[-32:]
            # "in", not "endswith": a token may join the colon with what follows (e.g. ":**").
            if any(marker in self.tail[row] for marker in SCORE_MARKERS):
                self._start_template(row, self.template_after_marker, forced=False)
            elif self.free_count[row] >= self.max_free_tokens:
                self._start_template(row, self.template_after_budget, forced=True)
        elif phase == FORCE:
            self.force_queue[row].pop(0)
            if not self.force_queue[row]:
                self.phase[row] = SCORE
        elif phase == SCORE:
            self.body[row] += self.body_tokens.get(token, "")
            if self.formats[row].is_complete_body(self.body[row]):
                self.phase[row] = END
        elif phase == END:
            self.phase[row] = DONE

    def _constrain(self, row: int, logits: torch.FloatTensor) -> None:
        """Mask the row's logits for the next token according to its phase."""
        phase = self.phase[row]
        if phase == FREE:
            if self.max_free_tokens == 0 or self._model_stops(logits):
                self._start_template(row, self.template_after_budget, forced=True)
                phase = FORCE
            else:
                logits[self.stop_ids] = -math.inf
        if phase == FORCE:
            _allow_only(logits, [self.force_queue[row][0]])
        elif phase == SCORE:
            fmt, body = self.formats[row], self.body[row]
            allowed = [t for t, s in self.body_tokens.items() if fmt.is_valid_body_prefix(body + s)]
            _allow_only(logits, allowed)
        elif phase in (END, DONE):
            _allow_only(logits, [self.eos_id])

    def _model_stops(self, logits: torch.FloatTensor) -> bool:
        """Draw the model's own decision to stop (EOS) at the sampling temperature."""
        stop_logits = logits[self.stop_ids]
        if self.temperature <= 0:
            return bool(stop_logits.max() >= logits.max())
        p_stop = torch.softmax(logits.float() / self.temperature, dim=-1)[self.stop_ids].sum().item()
        return self.rng.random() < p_stop

    def _start_template(self, row: int, template_ids: list[int], forced: bool) -> None:
        self.phase[row] = FORCE
        self.force_queue[row] = list(template_ids)
        self.forced[row] = forced


def _allow_only(logits: torch.FloatTensor, token_ids: list[int]) -> None:
    keep = logits[token_ids].clone()
    logits.fill_(-math.inf)
    logits[token_ids] = keep
    # A token the model gives -inf itself (rare) must still be choosable when it is the only legal one.
    if torch.isinf(keep).all():
        logits[token_ids] = 0.0


def _encode(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


def _stop_token_ids(tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>"):
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id and tid >= 0:
            ids.add(tid)
    if not ids:
        raise ValueError("the tokenizer has no EOS token; the score-format guarantee needs one")
    return ids


def _score_body_tokens(tokenizer) -> dict[int, str]:
    """Token id -> text for every vocabulary token made only of score-body characters (digits, ',', ' ', '}').

    Decoding a token alone drops leading spaces in some tokenizers, so each token is decoded after an anchor.
    """
    anchor = _encode(tokenizer, "a")
    anchor_text = tokenizer.decode(anchor)
    special = set(tokenizer.all_special_ids)
    out = {}
    for token_id in range(len(tokenizer)):
        if token_id in special:
            continue
        text = tokenizer.decode(anchor + [token_id])[len(anchor_text) :]
        if text and set(text) <= _SCORE_BODY_CHARS:
            out[token_id] = text
    return out

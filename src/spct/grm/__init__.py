"""The pure core of the pointwise generative reward model (GRM): parsing, per-sample shuffles and scoring.

No model code lives here (no torch import), so trainers, evaluators and tests share one definition of Eq. 10,
Eq. 11, Eq. 14 (Voting@k) and MetaRM@k.
"""

from spct.grm.parsing import (
    BINARY_SCORE_RANGE,
    BOXED_PATTERN,
    BRACKET_PATTERN,
    DEFAULT_SCORE_RANGE,
    SCORE_PATTERN,
    InvalidReason,
    Judgment,
    find_score_match,
    format_scores,
    parse_judgment,
    parse_scores,
    split_sections,
)
from spct.grm.scoring import (
    default_k_meta,
    is_correct,
    kept_by_meta_rm,
    metarm_select,
    metarm_vote,
    predict_best,
    rule_reward,
    single_response_score,
    vote,
    voting_correct,
)
from spct.grm.shuffle import (
    apply_permutation,
    check_permutation,
    sample_permutation,
    shown_index,
    unshuffle_scores,
)

__all__ = [
    "BINARY_SCORE_RANGE",
    "BOXED_PATTERN",
    "BRACKET_PATTERN",
    "DEFAULT_SCORE_RANGE",
    "SCORE_PATTERN",
    "InvalidReason",
    "Judgment",
    "apply_permutation",
    "check_permutation",
    "default_k_meta",
    "find_score_match",
    "format_scores",
    "is_correct",
    "kept_by_meta_rm",
    "metarm_select",
    "metarm_vote",
    "parse_judgment",
    "parse_scores",
    "predict_best",
    "rule_reward",
    "sample_permutation",
    "shown_index",
    "single_response_score",
    "split_sections",
    "unshuffle_scores",
    "vote",
    "voting_correct",
]

"""The paper's reported numbers for DeepSeek-GRM-27B, shown beside a report's own rows for comparison.

Source: "Inference-Time Scaling for Generalist Reward Modeling" (arXiv 2504.02495), as summarised in
``SPCT.md`` section 5. Typed in from the paper, never computed here: they are the target a reproduction is read
against, and appear only in columns that score the paper's own benchmarks (``source:`` entries), never next to a
reconstruction, whose items differ.
"""

from __future__ import annotations

import pandas as pd

MODEL = "DeepSeek-GRM-27B (paper)"

# setting -> column -> score (%), the paper's headline table; MetaRM@32 keeps k_meta = 16. ReaLMistake ROC-AUC is
# reported for greedy and Voting@8 only.
HEADLINE: dict[str, dict[str, float]] = {
    "greedy": {"RB": 86.0, "PPE-P": 64.7, "PPE-C": 59.8, "RMB": 69.0, "Overall": 69.9, "ReaLMistake": 72.2},
    "voting@8": {"RB": 87.7, "PPE-P": 64.9, "PPE-C": 60.3, "RMB": 69.5, "Overall": 70.6, "ReaLMistake": 74.4},
    "metarm@8": {"RB": 89.8, "PPE-P": 66.4, "PPE-C": 63.0, "RMB": 68.8, "Overall": 72.0},
    "voting@32": {"RB": 88.5, "PPE-P": 65.3, "PPE-C": 60.4, "RMB": 69.7, "Overall": 71.0},
    "metarm@32": {"RB": 90.4, "PPE-P": 67.2, "PPE-C": 63.2, "RMB": 70.3, "Overall": 72.8},
}

# Our model names (workflow/rules/common.smk) -> the paper's ablation result, Overall (%). The ablation "RFT
# without general instruction data" (63.3) has no target here; "RL without RFT" rose from 66.1 to 68.7.
ABLATION_OVERALL: dict[str, tuple[str, float]] = {
    "rft": ("RFT only (no RL)", 68.8),
    "spct_no_principles": ("without principle generation", 67.5),
    "spct_hinted_only": ("hinted-only RFT", 67.4),
    "spct_nonhinted_only": ("non-hinted-only RFT", 68.0),
    "rl_only": ("RL without RFT", 68.7),
}


def headline_table(columns) -> pd.DataFrame:
    """The paper's rows for those of ``columns`` it reports (empty when none is one of the paper's)."""
    shown = [c for c in HEADLINE["greedy"] if c in set(columns)]  # greedy has every column, in the paper's order
    if not any(c != "Overall" for c in shown):
        return pd.DataFrame()
    rows = [
        {"model": MODEL, "setting": setting, **{c: scores.get(c) for c in shown}}
        for setting, scores in HEADLINE.items()
    ]
    return pd.DataFrame(rows).set_index(["model", "setting"])


def ablation_table(models) -> pd.DataFrame:
    """The paper's Overall for the ablations among ``models`` (empty when none is)."""
    rows = [
        {"model": model, "paper ablation": name, "paper Overall": overall}
        for model, (name, overall) in ABLATION_OVERALL.items()
        if model in set(models)
    ]
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()

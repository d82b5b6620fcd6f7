"""The paper's five claims in one table, across the main target and every ablation: each comparison's paired
difference (``spct.evaluation.paired``), its verdict in words, and the paper's own figure for the same comparison.

A target's report holds only its own models, so claims 4 and 5 (SPCT against its ablations) can only be judged from
the metrics files of several targets together; this is what the ``claims`` target reads. Every claim says A beats B,
so the paper's direction is A - B > 0: a row "holds" only when its 95% interval lies above zero, is "contradicted"
when it lies below, and is "undecided" otherwise. A claim whose two settings are not in the files gets no row: the
markdown names the target that would make the missing model instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes or CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from spct.evaluation import paired, paper_results  # noqa: E402
from spct.evaluation.report import OVERALL_COLUMNS, load_metrics, paired_rows  # noqa: E402

HOLDS, CONTRADICTED, UNDECIDED = "holds", "contradicted", "undecided"
# The k of the paper's headline table (SPCT.md section 5); MetaRM@32 keeps k_meta = 16.
PAPER_KS = (8, 32)
PAPER_MODEL = "DeepSeek-GRM-27B"
# What each claim of paired.claim_pairs needs: its label there and the models both its sides come from.
CLAIM_MODELS = (
    ("1. Voting@k beats Greedy", (paired.HEADLINE_MODEL,)),
    ("2. MetaRM@k beats Voting@k", (paired.HEADLINE_MODEL,)),
    *((claim, (a, b)) for claim, a, b in paired.MODEL_CLAIMS),
)
VERDICT_COLOURS = {HOLDS: "tab:green", CONTRADICTED: "tab:red", UNDECIDED: "tab:grey"}


def verdict(row: Mapping) -> str:
    """The paper's direction is A above B: "holds" only if the interval excludes zero on that side."""
    if not row["excludes_zero"]:
        return UNDECIDED
    return HOLDS if row["ci_low"] + row["ci_high"] > 0 else CONTRADICTED


def _paper_k(k: int) -> int | None:
    """The paper's largest headline k not above ours (none below the paper's smallest): its figure for that k."""
    return max((pk for pk in PAPER_KS if pk <= k), default=None)


def _scheme_difference(column: str, a: str, b: str) -> tuple[float, str]:
    """The paper's headline A - B on ``column``, with the settings named (``a``, ``b``: "voting@8", "greedy"...)."""
    high, low = paper_results.HEADLINE[a][column], paper_results.HEADLINE[b][column]
    names = {s: s.replace("voting", "Voting").replace("metarm", "MetaRM").replace("greedy", "Greedy") for s in (a, b)}
    return round(high - low, 1), f"{PAPER_MODEL} {column}: {names[a]} {high} - {names[b]} {low}"


def paper_figure(row: Mapping, column: str | None) -> tuple[float | None, str | None]:
    """The paper's figure for this row's comparison on ``column`` (a paper column or "Overall"; None: a benchmark the
    paper does not report), with the paper's setting named; (None, None) where SPCT.md gives none."""
    if column is None:
        return None, None
    (model_a, setting_a), (model_b, setting_b) = (s.split("/", 1) for s in (row["setting_a"], row["setting_b"]))
    claim = row["claim"]
    k = int(setting_a.partition("@")[2] or 0)
    if claim == "1. Voting@k grows with k":
        return _scheme_difference(column, "voting@32", "voting@8")
    if claim.startswith(("1.", "2.")):
        pk = _paper_k(k)
        if pk is None:
            return None, None
        low = "greedy" if claim.startswith("1.") else f"voting@{pk}"
        return _scheme_difference(column, f"{setting_a.partition('@')[0]}@{pk}", low)
    ablation = paper_results.ABLATION_OVERALL.get(model_b)
    if column != "Overall" or setting_b != "greedy" or model_a != paired.HEADLINE_MODEL or ablation is None:
        return None, None
    # SPCT.md gives each ablation's Overall without its decoding; it is set against the greedy headline here.
    spct = paper_results.HEADLINE["greedy"]["Overall"]
    return round(spct - ablation[1], 1), f"{PAPER_MODEL} Overall: greedy {spct} - {ablation[0]} {ablation[1]}"


def claim_rows(metrics_paths: Sequence[str | Path], metrics_config: Mapping) -> list[dict]:
    """Every comparison of the paper's claims the files allow (``paired_differences`` rows), each with its
    ``verdict`` and the paper's figure (``paper_difference``, ``paper_setting``). ``overall`` is the Overall of the
    paper's four benchmarks where all four are there, else the Mean of the pair / list sets (as in the reports)."""
    if not metrics_paths:
        return []
    frame = load_metrics(metrics_paths)
    columns = dict(frame.drop_duplicates("benchmark")[["benchmark", "column"]].itertuples(index=False))
    rows = paired_rows(metrics_paths, frame, dict(metrics_config))
    # A run on one set the paper does not report (e.g. configs/evidence.yaml) has no overall row: its rows get the
    # paper's Overall figure, named as such, so the paper's size and direction still stand beside each claim.
    only_unreported = len(columns) == 1 and next(iter(columns.values())) not in OVERALL_COLUMNS
    out = []
    for row in rows:
        column = "Overall" if row["benchmark"] == paired.OVERALL or only_unreported else columns.get(row["benchmark"])
        figure, setting = paper_figure(row, column if column in (*OVERALL_COLUMNS, "Overall") else None)
        out.append({**row, "verdict": verdict(row), "paper_difference": figure, "paper_setting": setting})
    return out


def missing_claims(rows: Sequence[Mapping], models: Sequence[str], targets: Mapping[str, Sequence[str]]) -> list[str]:
    """One line per claim without a row: the models it lacks and the targets (``targets``: target -> its models)
    that make them, or, when its models are all there, that their files lack the settings it compares."""
    have_claims, have_models = {row["claim"] for row in rows}, set(models)
    lines = []
    for claim, needed in CLAIM_MODELS:
        if claim in have_claims:
            continue
        absent = [m for m in needed if m not in have_models]
        makers = list(dict.fromkeys(t for m in absent for t, ms in targets.items() if m in ms))
        if absent:
            how = ", ".join(f"`snakemake {'all' if t == 'main' else t}`" for t in makers) or "no target makes them"
            lines.append(f"{claim}: needs {how}; no metrics files of {', '.join(absent)}")
        else:
            lines.append(f"{claim}: the metrics files of {list(needed)} lack the settings it compares")
    return lines


def claims_markdown(rows: Sequence[Mapping], missing: Sequence[str], samples: int) -> str:
    """The claims table (one line per comparison and benchmark) and the claims the files cannot decide."""
    table = pd.DataFrame(
        [
            {
                "claim": row["claim"],
                "benchmark": row["benchmark"],
                "A": row["setting_a"],
                "B": row["setting_b"],
                "A - B [95% interval]": f"{row['difference']:+.1f} [{row['ci_low']:+.1f}, {row['ci_high']:+.1f}]",
                "decided / items": f"{row['n_decided']}/{row['n_items']}",
                "verdict": row["verdict"],
                "paper": "" if row["paper_difference"] is None else f"{row['paper_difference']:+.1f}",
                "paper setting": row["paper_setting"] or "",
            }
            for row in rows
        ]
    )
    text = (
        "# The paper's claims: paired differences across main and the ablations\n\n"
        "A minus B in points of each official score (%), its 95% interval from a paired bootstrap over items "
        f"({samples} resamples within subsets, the same items for both sides), and the items whose value differs "
        "between A and B / the items. Every claim says A beats B: **holds** only if the interval lies above zero, "
        "**contradicted** if it lies below, **undecided** otherwise. `overall`: the paper's Overall where its four "
        "benchmarks are all here, else the Mean of the pair / list sets (a run on one set the paper does not report: "
        "beside that set's rows, the paper's Overall). Paper: the same comparison in the paper "
        "(arXiv 2504.02495, typed in from SPCT.md section 5), the setting named; beside a Mean over reconstructed "
        "sets it is the size and direction the paper reports, not a like-for-like score.\n\n"
    )
    text += table.to_markdown(index=False) if rows else "No claim has both of its settings in these metrics files."
    if missing:
        text += "\n\n## Claims these files cannot decide\n\n" + "\n".join(f"- {line}" for line in missing)
    return text + "\n"


def plot_claims(rows: Sequence[Mapping], out_path: str | Path) -> None:
    """A forest plot: one line per row, its difference and 95% interval coloured by verdict, the paper's figure as
    a black x, and the zero line."""
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.28 * max(len(rows), 1)))
    for y, row in enumerate(reversed(rows)):
        low, high = row["difference"] - row["ci_low"], row["ci_high"] - row["difference"]
        colour = VERDICT_COLOURS[row["verdict"]]
        ax.errorbar(row["difference"], y, xerr=[[max(low, 0)], [max(high, 0)]], fmt="o", color=colour, capsize=2)
        if row["paper_difference"] is not None:
            ax.plot(row["paper_difference"], y, marker="x", color="black", linestyle="none")
    labels = [f"{r['claim'][:2]} {r['setting_a']} vs {r['setting_b']} | {r['benchmark']}" for r in reversed(rows)]
    ax.set_yticks(range(len(rows)), labels, fontsize=6)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("A - B, points of the official score (95% paired interval); x: the paper's figure")
    if not rows:
        ax.text(0.5, 0.5, "no claim has both of its settings", ha="center", va="center", transform=ax.transAxes)
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="none") for c in VERDICT_COLOURS.values()]
    # Above the axes: inside, it hid the last rows' intervals.
    ax.legend(
        handles,
        list(VERDICT_COLOURS),
        fontsize=7,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=3,
        frameon=False,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)


def write_claims(
    metrics_paths: Sequence[str | Path],
    targets: Mapping[str, Sequence[str]],
    metrics_config: Mapping,
    outputs: Mapping[str, str | Path],
) -> list[dict]:
    """The claims table of every metrics file in ``metrics_paths`` that exists (a target not built yet leaves its
    claims out, named in the markdown with the target that makes them: ``targets``, target -> its models), written to
    ``outputs``: ``markdown``, ``json`` (the rows) and ``plot`` (the forest plot). ``metrics_config``:
    ``paired_bootstrap_samples`` and ``seed``, as the reports use them."""
    found = [Path(p) for p in dict.fromkeys(map(str, metrics_paths)) if Path(p).exists()]
    rows = claim_rows(found, metrics_config)
    models = {json.loads(path.read_text())["model"] for path in found}
    samples = metrics_config.get("paired_bootstrap_samples", paired.DEFAULT_SAMPLES)
    markdown = claims_markdown(rows, missing_claims(rows, sorted(models), targets), samples)
    Path(outputs["markdown"]).write_text(markdown)
    Path(outputs["json"]).write_text(json.dumps(rows, indent=2) + "\n")
    plot_claims(rows, outputs["plot"])
    return rows


def claims_log_values(rows: Sequence[Mapping]) -> dict[str, float]:
    """The rows as MLflow metrics (``paired.mlflow_values``) and how many rows got each verdict."""
    counts = {f"claims/{word}": sum(row["verdict"] == word for row in rows) for word in VERDICT_COLOURS}
    return {**paired.mlflow_values(rows), **counts}

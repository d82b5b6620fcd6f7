"""The results report in the paper's layout: one table, its intervals and diagnostics, and the scaling plots.

Rows are model / setting (Greedy, Voting@k, MetaRM@k); columns are benchmarks, each scored by its official metric
(``spct.evaluation.metrics.official_score``).
The paper's own benchmarks appear under the paper's column names (RB, PPE-P,
PPE-C, RMB, and ReaLMistake apart); reconstructions from bundled data keep their own names. ``Overall`` (mean of RB,
PPE-P, PPE-C and RMB) is shown only when all four are there; otherwise ``Mean`` averages the pair / list columns and
is not the paper's Overall. ROC-AUC columns (single responses) come last and stay out of both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes or CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from spct.evaluation import official as official_metrics  # noqa: E402
from spct.evaluation import paired as paired_metrics
from spct.evaluation import paper_results
from spct.evaluation.left_out import left_out_table
from spct.training.curves import curves_markdown

OVERALL_COLUMNS = ("RB", "PPE-P", "PPE-C", "RMB")
PER_K_DIAGNOSTICS = (
    "tie_rate",
    "invalid_rate",
    "no_valid_rate",
    "tokens_per_item",
    "accuracy_best_shown_first",
    "accuracy_best_shown_last",
)
SAMPLE_DIAGNOSTICS = ("parse_rate", "forced_rate", "mean_tokens")


def load_metrics(paths: Sequence[str | Path]) -> pd.DataFrame:
    """One row per (model, benchmark, setting) from the metrics JSON files the metrics rule writes.

    ``column`` is where the benchmark goes in the table (its paper column, else its own name); the per-sample
    diagnostics of the file are prefixed ``sample_`` so they cannot be confused with the per-setting ones.
    """
    rows = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        for row in data["scaling"]:
            rows.append(
                {
                    "model": data["model"],
                    "benchmark": data["benchmark"],
                    "metric": data["metric"],
                    "column": data.get("paper_column") or data["benchmark"],
                    **{key: value for key, value in row.items() if key not in ("parts", "item_values")},
                    **{f"part:{part}": value for part, value in row.get("parts", {}).items()},
                    **{f"sample_{key}": value for key, value in data["diagnostics"].items()},
                }
            )
    if not rows:
        raise ValueError("no metrics files given to the report")
    return pd.DataFrame(rows)


def _setting_order(setting: str) -> tuple[int, int, int]:
    """The paper's row order: Greedy, then by k, Voting@k before MetaRM@k."""
    name, _, k = setting.partition("@")
    return (0 if name == "greedy" else 1, int(k or 0), 0 if name == "voting" else 1)


def _row_order(index) -> list:
    return sorted(index, key=lambda idx: (idx[0], _setting_order(idx[1])))


def _column_order(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(pair / list columns with the paper's first in its order, ROC-AUC columns)."""
    kinds = frame.drop_duplicates("column").set_index("column")["metric"]
    auc = sorted(c for c, m in kinds.items() if m == "roc_auc")
    paper = [c for c in OVERALL_COLUMNS if c in kinds.index]
    others = sorted(c for c in kinds.index if c not in paper and c not in auc)
    return paper + others, [c for c in ("ReaLMistake",) if c in auc] + [c for c in auc if c != "ReaLMistake"]


def results_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The paper's layout: rows model / setting; columns the benchmarks' official scores (%), Overall or Mean,
    then the ROC-AUC columns."""
    table = frame.assign(value=frame["score"] * 100).pivot_table(
        index=["model", "setting"], columns="column", values="value", aggfunc="first", dropna=False
    )
    pairs, auc = _column_order(frame)
    # Rows that exist for no benchmark (e.g. MetaRM@k of a model without a meta RM) go; columns stay even when
    # undefined everywhere (a ROC-AUC over one label), so a missing score is seen, not hidden.
    table = table.dropna(how="all").reindex(columns=pairs + auc)
    if set(OVERALL_COLUMNS) <= set(pairs):
        # The paper's table first (its four, their Overall, ReaLMistake), then what the paper does not report.
        table.insert(len(OVERALL_COLUMNS), "Overall", [_overall(row) for _, row in table.iterrows()])
        paper = [*OVERALL_COLUMNS, "Overall", *(c for c in ("ReaLMistake",) if c in auc)]
        table = table[paper + [c for c in table.columns if c not in paper]]
    elif pairs:
        table.insert(len(pairs), "Mean", table[pairs].mean(axis=1))
    return table.loc[_row_order(table.index)].round(1)


def _overall(row: pd.Series) -> float | None:
    values = [row[c] for c in OVERALL_COLUMNS]
    if any(pd.isna(v) for v in values):
        return None
    return 100 * official_metrics.overall(*(v / 100 for v in values))


def interval_table(frame: pd.DataFrame) -> pd.DataFrame:
    """``low-high`` (%) per model / setting and column, from the 95% bootstrap intervals of the scores."""
    cells = frame.assign(
        interval=[
            "" if pd.isna(lo) else f"{100 * lo:.1f}-{100 * hi:.1f}"
            for lo, hi in zip(frame["score_ci_low"], frame["score_ci_high"])
        ]
    )
    table = cells.pivot_table(index=["model", "setting"], columns="column", values="interval", aggfunc="first")
    pairs, auc = _column_order(frame)
    return table.reindex(columns=[c for c in pairs + auc if c in table]).loc[_row_order(table.index)]


def parts_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The pieces each official score averages (RewardBench sections, PPE-C domains, RMB parts), in %."""
    part_columns = [c for c in frame if c.startswith("part:")]
    if not part_columns:
        return pd.DataFrame()
    parts = frame.dropna(subset=part_columns, how="all").set_index(["model", "setting", "column"])[part_columns]
    parts = (parts * 100).round(1).dropna(axis=1, how="all")
    parts.columns = [c.removeprefix("part:") for c in parts.columns]
    return parts.loc[sorted(parts.index, key=lambda idx: (idx[0], idx[2], _setting_order(idx[1])))]


def per_k_diagnostics(frame: pd.DataFrame) -> pd.DataFrame:
    table = frame.set_index(["model", "column", "setting"])[[c for c in PER_K_DIAGNOSTICS if c in frame]]
    return table.loc[sorted(table.index, key=lambda idx: (idx[0], idx[1], _setting_order(idx[2])))].round(3)


def sample_diagnostics_table(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [f"sample_{c}" for c in SAMPLE_DIAGNOSTICS if f"sample_{c}" in frame]
    table = frame.groupby(["model", "column"])[columns].first()
    table.columns = [c.removeprefix("sample_") for c in table.columns]
    return table.round(3)


def _scheme(setting: str) -> str:
    return setting.split("@")[0]


# How each scheme is drawn; the colour is the model's, so one model's greedy, voting and MetaRM share a colour.
SCHEME_STYLE = {"voting": {"marker": "o", "linestyle": "-"}, "metarm": {"marker": "s", "linestyle": "--"}}


def plot_scaling(frame: pd.DataFrame, out_path: str | Path, x: str = "k") -> None:
    """Score against ``x`` ("k" or "tokens_per_item") per benchmark: Voting@k and MetaRM@k curves with their
    spread over k-subsets (clipped to 0-100), Greedy as a dotted line (at k) or a diamond (at its tokens); one
    colour per model, one legend for the figure."""
    frame = frame.assign(value=frame["score"] * 100, spread=frame["score_std"] * 100)
    columns = [c for group in _column_order(frame) for c in group]
    colours = {model: f"C{i}" for i, model in enumerate(sorted(frame["model"].unique()))}
    fig, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns) + 1.3, 3.4), squeeze=False)
    for ax, column in zip(axes[0], columns):
        sub = frame[(frame["column"] == column) & frame["value"].notna()]
        ax.set_title(column)
        if sub.empty:  # e.g. ROC-AUC undefined: every single response of the set has the same label
            ax.text(0.5, 0.5, "no defined score", ha="center", va="center", transform=ax.transAxes)
            continue
        for (model, scheme), curve in sub.assign(scheme=sub["setting"].map(_scheme)).groupby(["model", "scheme"]):
            style = {"color": colours[model], "label": f"{model} {scheme}"}
            if scheme == "greedy" and x == "k":
                ax.axhline(curve["value"].iloc[0], linestyle=":", linewidth=1.5, **style)
            elif scheme == "greedy":
                ax.plot(curve[x], curve["value"], marker="D", linestyle="none", **style)
            else:
                curve = curve.sort_values(x)
                value, spread = curve["value"].to_numpy(), curve["spread"].fillna(0).to_numpy()
                yerr = [spread.clip(max=value), spread.clip(max=100 - value)]  # arrays: matplotlib float()s Series
                ax.errorbar(curve[x].to_numpy(), value, yerr=yerr, capsize=3, **SCHEME_STYLE.get(scheme, {}), **style)
        if x == "k":
            _plot_paper_points(ax, column)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (sampled judgments)" if x == "k" else "generated tokens per item")
        metric = sub["metric"].iloc[0]
        ax.set_ylabel("ROC-AUC (%)" if metric == "roc_auc" else f"{metric} score (%)")
        ax.grid(alpha=0.3)
    legend = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.tight_layout(rect=(0, 0, 1 - 1.3 / (4 * len(columns) + 1.3), 1))
    if legend:
        fig.legend(legend.values(), legend.keys(), loc="center right", fontsize=7)
    fig.savefig(out_path, dpi=120)
    plt.close(fig)


def _plot_paper_points(ax, column: str) -> None:
    """The paper's DeepSeek-GRM-27B scores on this column, in grey: Greedy dotted, Voting@k x, MetaRM@k +."""
    labelled = set()
    for setting, scores in paper_results.HEADLINE.items():
        if column not in scores:
            continue
        scheme, _, k = setting.partition("@")
        label = None if scheme in labelled else f"paper {scheme}"
        labelled.add(scheme)
        if scheme == "greedy":
            ax.axhline(scores[column], color="grey", linestyle=":", linewidth=1, label=label)
        else:
            marker = "x" if scheme == "voting" else "+"
            ax.plot([int(k)], [scores[column]], marker=marker, color="grey", linestyle="none", label=label)


def summary_metrics(table: pd.DataFrame) -> dict:
    """``{model: {setting: {column: value}}}``: the table as nested JSON for ``dvc metrics show``."""
    summary: dict = {}
    for (model, setting), row in table.iterrows():
        summary.setdefault(model, {})[setting] = {col: float(v) for col, v in row.items() if pd.notna(v)}
    return summary


def format_check_table(paths: Sequence[str | Path]) -> str:
    """Markdown table of the parse rates measured WITHOUT the score-format guarantee."""
    rows = [json.loads(Path(p).read_text()) for p in paths]
    frame = pd.DataFrame(rows).set_index("model")
    columns = ["items", "samples", "max_new_tokens", "parse_rate"] + sorted(
        c for c in frame if c.startswith("invalid_")
    )
    return frame[[c for c in columns if c in frame]].round(3).to_markdown()


def paired_rows(metrics_paths: Sequence[str | Path], frame: pd.DataFrame, metrics_config: dict) -> list[dict]:
    """The paper's claims as paired differences (``spct.evaluation.paired``); ``overall`` averages the benchmarks
    the results table's Overall (or Mean) does."""
    metric = frame.drop_duplicates("benchmark").set_index("benchmark")[["metric", "column"]]
    pairs = [b for b, (m, _) in metric.iterrows() if m != "roc_auc"]
    paper = [b for b in pairs if metric.loc[b, "column"] in OVERALL_COLUMNS]
    return paired_metrics.paired_differences(
        paired_metrics.read_item_values(metrics_paths),
        paper if len(paper) == len(OVERALL_COLUMNS) else pairs,
        samples=metrics_config.get("paired_bootstrap_samples", paired_metrics.DEFAULT_SAMPLES),
        seed=metrics_config.get("seed", 0),
    )


def report_log_values(table: pd.DataFrame, summary_path: str | Path) -> dict[str, float]:
    """The report's MLflow metrics: ``<model>/<setting>/<column>`` of the table, then the summary JSON's paired
    differences (``spct.evaluation.paired.mlflow_values``)."""
    values = {
        f"{model}/{setting}/{col}": value for (model, setting), row in table.iterrows() for col, value in row.items()
    }
    paired = json.loads(Path(summary_path).read_text()).get("paired_differences", [])
    return {**values, **paired_metrics.mlflow_values(paired)}


def claims_section(frame: pd.DataFrame, table: pd.DataFrame, rows: Sequence[dict], samples: int) -> str:
    """The claims table: one row per comparison, one column per benchmark, then Overall or Mean."""
    if not rows:
        return ""
    columns = dict(frame.drop_duplicates("benchmark")[["benchmark", "column"]].itertuples(index=False))
    total = "Overall" if "Overall" in table else "Mean"
    claims = pd.DataFrame(paired_metrics.claims_table(rows, {**columns, paired_metrics.OVERALL: total})).set_index(
        ["claim", "A", "B"]
    )
    order = [c for group in _column_order(frame) for c in group] + [total]
    return _section(
        "The paper's claims: paired differences",
        "A minus B in points of each official score (%), its 95% interval from a paired bootstrap over items "
        f"({samples} resamples within subsets, the same items for both sides), then the items whose value differs "
        f"between A and B / the items. Bold: the interval excludes zero. {total}: the mean over the benchmarks the "
        "results table averages. A subset of one item cannot vary under resampling.",
        claims[[c for c in order if c in claims]],
    )


def _section(title: str, text: str, table: pd.DataFrame) -> str:
    if table.empty:
        return ""
    return f"\n\n## {title}\n\n{text}\n\n" + table.reset_index().to_markdown(index=False)


def _paper_sections(table: pd.DataFrame) -> str:
    """The paper's own numbers, where this report scores the paper's benchmarks (never beside reconstructions)."""
    headline = paper_results.headline_table(table.columns)
    if headline.empty:
        return ""
    models = table.index.get_level_values("model")
    return _section(
        "The paper's numbers",
        "DeepSeek-GRM-27B as the paper reports it (arXiv 2504.02495), on the columns of this report that are the "
        "paper's benchmarks; typed in from the paper (`spct.evaluation.paper_results`), not computed by this run.",
        headline,
    ) + _section(
        "The paper's ablations",
        "Overall (%) the paper reports for the ablation each of these models reproduces.",
        paper_results.ablation_table(models),
    )


def render_markdown(
    frame: pd.DataFrame,
    table: pd.DataFrame,
    format_check_paths: Sequence[str | Path],
    left_out_paths: Sequence[str | Path] = (),
    claims: str = "",
) -> str:
    benchmarks = frame.drop_duplicates("column").set_index("column")[["benchmark", "metric"]]
    legend = "\n".join(f"- `{c}`: benchmark `{b}`, metric `{m}`" for c, (b, m) in benchmarks.iterrows())
    total = (
        "Overall = mean of RB, PPE-P, PPE-C and RMB (the paper's)."
        if "Overall" in table
        else "Mean = mean of the pair / list columns before it; NOT the paper's Overall (its four benchmarks are "
        "not all here)."
    )
    return (
        "# Results\n\nScores in %: each benchmark by its official metric; ROC-AUC for single-response sets, which "
        f"come last. {total} Voting@k and MetaRM@k are means over random k-subsets of one sampling pass.\n\n"
        + legend
        + "\n\n"
        + table.reset_index().to_markdown(index=False)
        + _paper_sections(table)
        + claims
        + _section(
            "Items left out",
            "Per benchmark: the items it has and every item its loader or its selection left out, by reason "
            "(`<subset>: <reason>`; `-`: none), from `data/benchmarks/<name>.summary.json`.",
            left_out_table(left_out_paths).set_index("benchmark") if left_out_paths else pd.DataFrame(),
        )
        + _section(
            "95% bootstrap intervals",
            "Percentile intervals of each score, items resampled within subsets.",
            interval_table(frame),
        )
        + _section("Score parts", "The pieces each official score averages (%).", parts_table(frame))
        + _section(
            "Diagnostics per setting",
            "Per benchmark and k: items whose top summed score is tied, selected samples without a valid score line, "
            "items with no valid selected sample, generated tokens per item, and accuracy when most selected samples "
            "showed the best response first vs last (position bias).",
            per_k_diagnostics(frame),
        )
        + _section(
            "Judgment diagnostics",
            "Per stored sample (greedy included): parse and forced-template rates and tokens per judgment.",
            sample_diagnostics_table(frame),
        )
        + (
            "\n\n## Parse rate without the score-format guarantee\n\n"
            "Free judgments (greedy + sampled) on the first items of one benchmark; `invalid_<reason>` are shares "
            "of all samples.\n\n" + format_check_table(format_check_paths)
            if format_check_paths
            else ""
        )
        + "\n"
    )


def write_report(
    metrics_paths: Sequence[str | Path],
    csv_path,
    markdown_path,
    plot_path,
    summary_path=None,
    format_check_paths: Sequence[str | Path] = (),
    table_path=None,
    tokens_plot_path=None,
    left_out_paths: Sequence[str | Path] = (),
    metrics_config: dict | None = None,
    trained_dirs: Sequence[str | Path] = (),
) -> pd.DataFrame:
    """Write the long CSV (every row and diagnostic), the markdown report, the plots and the summary JSON.

    ``left_out_paths`` (the benchmarks' ``<name>.summary.json``) add the "Items left out" table to the markdown; the
    summary JSON is the results table plus ``paired_differences`` (the claims, ``paired_rows``), which
    ``metrics_config`` (``paired_bootstrap_samples``, ``seed``) sizes and seeds; ``trained_dirs`` add the training
    curves of those model folders."""
    metrics_config = metrics_config or {}
    frame = load_metrics(metrics_paths)
    frame.to_csv(csv_path, index=False)
    table = results_table(frame)
    paired = paired_rows(metrics_paths, frame, metrics_config)
    samples = metrics_config.get("paired_bootstrap_samples", paired_metrics.DEFAULT_SAMPLES)
    claims = claims_section(frame, table, paired, samples)
    markdown = render_markdown(frame, table, format_check_paths, left_out_paths, claims)
    if trained_dirs:  # the training curves of the target's trained models (spct.training.curves)
        markdown += "\n" + curves_markdown(trained_dirs, Path(markdown_path).parent)
    Path(markdown_path).write_text(markdown)
    plot_scaling(frame, plot_path, x="k")
    if tokens_plot_path is not None:
        plot_scaling(frame, tokens_plot_path, x="tokens_per_item")
    if table_path is not None:
        table.reset_index().to_csv(table_path, index=False)
    if summary_path is not None:
        summary = {**summary_metrics(table), "paired_differences": paired}
        Path(summary_path).write_text(json.dumps(summary, indent=2) + "\n")
    return table

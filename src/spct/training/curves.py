"""Training curves: the per-step history of a Trainer run (RFT, GRPO, the meta RM), a first-vs-last-quarter summary
of its main metrics, and their plot ``training_curves.png``, saved beside the model's summary JSON.

One source: the Trainer's own ``state.log_history``. It holds exactly the rows its MLflow callback logs (TRL's
metrics are merged in by ``GRPOTrainer.log`` / ``SFTTrainer.log`` before the callbacks run), and every checkpoint's
``trainer_state.json`` keeps it, so a run resumed from a checkpoint still has every step from step 1.

A curve spec is a sequence of ``(name, log key)`` pairs, in panel order: ``name`` is what ``curve_summary`` and the
plot call the metric, ``log key`` the Trainer's (and MLflow's) name for it. A metric the run never logged (another
reward, or no KL term) is left out of both, not shown empty.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CURVES_FILE = "training_curves.png"
# The summary JSON beside the model that holds the curves: checkpoints.TRAINING_FILE (RFT, GRPO) and
# meta_rm_scoring.META_RM_FILE (the meta RM), named here so that a report reads them without importing the trainers.
MODEL_SUMMARY_FILES = ("training.json", "meta_rm.json")
Curves = Sequence[tuple[str, str]]

# Keys of the Trainer's end-of-training row (``Trainer._finalize_training``): run totals, not a step.
RUN_TOTAL_KEYS = frozenset({"train_loss", "total_flos"})


def step_history(log_history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One ``{step, <every numeric metric logged at that step>}`` per logged optimisation step, in step order.

    Left out: the end-of-training row (it holds ``train_loss`` / ``total_flos``, totals of the run), evaluation rows
    (``eval_*`` keys), rows without a step, and non-numeric values. NaN and infinities become None (strict JSON).
    Rows logged at the same step are merged, the later value winning.
    """
    by_step: dict[int, dict[str, Any]] = {}
    for row in log_history:
        if "step" not in row or RUN_TOTAL_KEYS & row.keys() or any(key.startswith("eval_") for key in row):
            continue
        step = int(row["step"])
        merged = by_step.setdefault(step, {"step": step})
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                merged[key] = value if math.isfinite(value) else None
            elif key != "step" and value is None:
                merged[key] = None
    return [by_step[step] for step in sorted(by_step)]


def points(history: Sequence[Mapping[str, Any]], key: str) -> list[tuple[int, float]]:
    """(step, value) of every step that logged ``key`` with a number."""
    return [(row["step"], row[key]) for row in history if isinstance(row.get(key), (int, float))]


def curve_summary(history: Sequence[Mapping[str, Any]], curves: Curves) -> dict[str, dict[str, Any]]:
    """Per metric of ``curves`` that was logged: the mean over the first and the last quarter of its logged steps
    (``ceil(steps / 4)`` each), so a reader sees whether training moved it, and ``change`` = last - first."""
    summary = {}
    for name, key in curves:
        values = [value for _, value in points(history, key)]
        if not values:
            continue
        quarter = math.ceil(len(values) / 4)
        first, last = sum(values[:quarter]) / quarter, sum(values[-quarter:]) / quarter
        summary[name] = {
            "key": key,
            "steps": len(values),
            "quarter_steps": quarter,
            "first_quarter_mean": first,
            "last_quarter_mean": last,
            "change": last - first,
        }
    return summary


def rolling_mean(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over the last ``window`` values (fewer at the start)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def smoothing_window(steps: int) -> int:
    """About a tenth of the run, between 1 and 50 steps."""
    return max(1, min(50, steps // 10))


def plot_curves(history: Sequence[Mapping[str, Any]], curves: Curves, title: str) -> bytes:
    """PNG bytes: one panel per logged metric of ``curves`` (raw points and their rolling mean over steps); a run
    that logged none of them gets one panel saying so, so the file always exists for the run's artifacts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(name, key, pts) for name, key in curves if (pts := points(history, key))]
    cols = min(2, max(1, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    for ax, (name, key, pts) in zip(axes.flat, panels):
        steps, values = [s for s, _ in pts], [v for _, v in pts]
        window = smoothing_window(len(values))
        ax.plot(steps, values, ".", alpha=0.35, color="tab:blue", label="per step")
        ax.plot(steps, rolling_mean(values, window), "-", color="tab:orange", label=f"rolling mean ({window})")
        ax.set_title(name if name == key else f"{name} ({key})", fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    if not panels:
        axes.flat[0].text(0.5, 0.5, "no per-step metrics logged", ha="center", va="center")
    fig.suptitle(f"{title}: training curves ({len(history)} logged steps)", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def curve_fields(log_history: Sequence[Mapping[str, Any]], curves: Curves, title: str) -> tuple[dict, bytes]:
    """``({"curve_summary", "history"}, PNG bytes)`` of a run: what its summary JSON and ``CURVES_FILE`` hold."""
    history = step_history(log_history)
    return {"curve_summary": curve_summary(history, curves), "history": history}, plot_curves(history, curves, title)


def curves_markdown(model_dirs: Sequence[str | Path], markdown_dir: str | Path) -> str:
    """A report section: per trained model folder (named by the folder), the ``curve_summary`` rows of its summary
    JSON (``MODEL_SUMMARY_FILES``) and its ``training_curves.png``, linked relative to ``markdown_dir`` (where the
    report is written). A folder trained before curves existed adds no row and no image."""
    lines = ["## Training curves", "", "Mean of the first and the last quarter of the logged steps, per metric.", ""]
    lines += ["| model | metric | steps | first quarter | last quarter | change |", "|---|---|---:|---:|---:|---:|"]
    images = []
    for folder in map(Path, model_dirs):
        path = next((folder / name for name in MODEL_SUMMARY_FILES if (folder / name).is_file()), None)
        summary = json.loads(path.read_text()).get("curve_summary", {}) if path else {}
        for name, row in summary.items():
            means = (row["first_quarter_mean"], row["last_quarter_mean"], row["change"])
            lines.append(
                f"| {folder.name} | {name} | {row['steps']} | " + " | ".join(f"{v:.4g}" for v in means) + " |"
            )
        if summary and (folder / CURVES_FILE).is_file():
            images += [f"![{folder.name} training curves]({os.path.relpath(folder / CURVES_FILE, markdown_dir)})", ""]
    return "\n".join([*lines, "", *images])

"""Training curves from a Trainer's log history: the per-step history, its quarter summary and the plot."""

from __future__ import annotations

import io

import pytest

from spct.training.curves import (
    MODEL_SUMMARY_FILES,
    curve_fields,
    curve_summary,
    curves_markdown,
    plot_curves,
    rolling_mean,
    step_history,
)
from spct.training.grpo import GRPO_CURVES
from spct.training.meta_rm import META_RM_CURVES
from spct.training.rft import RFT_CURVES


def grpo_row(step: int, reward: float, **extra) -> dict:
    """A GRPO log row as TRL writes it (a subset of its keys)."""
    return {
        "loss": 0.01 * step,
        "grad_norm": 0.5,
        "learning_rate": 1e-6,
        "reward": reward,
        "reward_std": 0.9,
        "rewards/eq11_reward/mean": reward,
        "rewards/accuracy/mean": (reward + 1) / 2,
        "frac_reward_zero_std": 0.25,
        "kl": 0.001 * step,
        "epoch": step / 8,
        "step": step,
        **extra,
    }


# Eight steps: the first two with reward -1, the last two with +0.5; step 5 logged no accuracy, parse rate or KL;
# then the Trainer's end-of-training row and an evaluation row, neither of them a step.
LOG_HISTORY = [
    *[grpo_row(s, -1.0, **{"rewards/parse_rate/mean": 0.5}) for s in (1, 2)],
    *[grpo_row(s, 0.0, **{"rewards/parse_rate/mean": 1.0}) for s in (3, 4)],
    {"loss": 0.05, "reward": 0.0, "step": 5},
    *[grpo_row(s, 0.0, **{"rewards/parse_rate/mean": 1.0}) for s in (6,)],
    *[grpo_row(s, 0.5, **{"rewards/parse_rate/mean": 1.0}) for s in (7, 8)],
    {"eval_loss": 0.3, "eval_runtime": 1.0, "step": 8},
    {
        "train_runtime": 12.5,
        "train_samples_per_second": 2.6,
        "train_steps_per_second": 0.64,
        "total_flos": 0.0,
        "train_loss": 0.04,
        "epoch": 1.0,
        "step": 8,
    },
]


def test_history_keeps_every_step_metric_and_leaves_out_the_run_totals_and_evaluations():
    history = step_history(LOG_HISTORY)
    assert [row["step"] for row in history] == list(range(1, 9))
    assert history[0]["rewards/accuracy/mean"] == 0.0 and history[0]["kl"] == 0.001
    assert history[0]["reward_std"] == 0.9 and history[0]["loss"] == 0.01
    assert history[4] == {"step": 5, "loss": 0.05, "reward": 0.0}  # missing keys stay missing
    assert not any(key in row for row in history for key in ("train_loss", "train_runtime", "eval_loss"))
    assert history[-1]["loss"] == 0.08  # the end-of-training row (train_loss 0.04) did not overwrite step 8


def test_history_merges_rows_of_one_step_and_makes_nan_none():
    history = step_history(
        [
            {"loss": float("nan"), "step": 2, "note": "text"},
            {"train_accuracy": 0.75, "step": 2},
            {"loss": 1.0, "step": 1},
            {"loss": 2.0},  # no step: not a step row
        ]
    )
    assert history == [{"step": 1, "loss": 1.0}, {"step": 2, "loss": None, "train_accuracy": 0.75}]


def test_summary_means_the_first_and_last_quarter_of_each_logged_metric():
    summary = curve_summary(step_history(LOG_HISTORY), GRPO_CURVES)
    assert set(summary) == {"reward", "accuracy", "parse_rate", "kl"}
    reward = summary["reward"]
    assert reward["steps"] == 8 and reward["quarter_steps"] == 2
    assert reward["first_quarter_mean"] == -1.0 and reward["last_quarter_mean"] == 0.5
    assert reward["change"] == 1.5 and reward["key"] == "reward"
    # accuracy was logged at 7 steps (not step 5): quarters of ceil(7 / 4) = 2 logged steps
    accuracy = summary["accuracy"]
    assert accuracy["steps"] == 7 and accuracy["first_quarter_mean"] == 0.0 and accuracy["last_quarter_mean"] == 0.75
    assert summary["kl"]["first_quarter_mean"] == pytest.approx(0.0015)


def test_summary_leaves_out_metrics_never_logged_and_handles_one_step():
    summary = curve_summary([{"step": 1, "loss": 2.0}], RFT_CURVES)
    assert summary == {
        "loss": {
            "key": "loss",
            "steps": 1,
            "quarter_steps": 1,
            "first_quarter_mean": 2.0,
            "last_quarter_mean": 2.0,
            "change": 0.0,
        }
    }
    assert curve_summary([], META_RM_CURVES) == {}


def test_rolling_mean_is_trailing_over_the_window():
    assert rolling_mean([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert rolling_mean([1.0, 3.0], 1) == [1.0, 3.0]
    assert rolling_mean([], 3) == []


def _png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_plot_has_one_panel_per_logged_metric():
    history = step_history(LOG_HISTORY)
    four = _png_size(plot_curves(history, GRPO_CURVES, "GRPO"))  # reward, accuracy, parse rate, kl: 2 x 2
    two = _png_size(plot_curves(history, GRPO_CURVES[:2], "GRPO"))  # 1 x 2
    one = _png_size(plot_curves(history, (("loss", "loss"),), "RFT"))
    assert four[0] == two[0] > one[0] and four[1] > two[1] == one[1]


def test_plot_of_a_run_without_metrics_still_writes_a_png():
    assert _png_size(plot_curves([], RFT_CURVES, "RFT"))[0] > 0


def test_curve_fields_are_what_the_summary_json_and_png_hold():
    fields, png = curve_fields(LOG_HISTORY, GRPO_CURVES, "GRPO")
    assert list(fields) == ["curve_summary", "history"]
    assert len(fields["history"]) == 8 and fields["curve_summary"]["reward"]["change"] == 1.5
    assert _png_size(png)[0] > 0


def test_report_section_lists_each_model_s_summary_and_links_its_plot(tmp_path):
    import json

    from spct.training.checkpoints import TRAINING_FILE
    from spct.training.meta_rm_scoring import META_RM_FILE

    assert MODEL_SUMMARY_FILES == (TRAINING_FILE, META_RM_FILE)
    fields, png = curve_fields(LOG_HISTORY, GRPO_CURVES, "GRPO")
    models = tmp_path / "results" / "exp" / "models"
    (models / "spct").mkdir(parents=True)
    (models / "spct" / TRAINING_FILE).write_text(json.dumps({"stage": "grpo", **fields}))
    (models / "spct" / "training_curves.png").write_bytes(png)
    meta_fields, meta_png = curve_fields([{"loss": 0.7, "train_accuracy": 0.5, "step": 1}], META_RM_CURVES, "meta RM")
    (models / "meta_rm").mkdir()
    (models / "meta_rm" / META_RM_FILE).write_text(json.dumps({"metrics": {}, **meta_fields}))
    (models / "meta_rm" / "training_curves.png").write_bytes(meta_png)
    (models / "old").mkdir()
    (models / "old" / TRAINING_FILE).write_text(json.dumps({"stage": "rft"}))  # trained before curves existed
    report_dir = tmp_path / "results" / "exp" / "report" / "main"
    text = curves_markdown([models / "spct", models / "meta_rm", models / "old"], report_dir)
    assert "| spct | reward | 8 | -1 | 0.5 | 1.5 |" in text
    assert "| spct | accuracy | 7 | 0 | 0.75 | 0.75 |" in text
    assert "| meta_rm | accuracy | 1 | 0.5 | 0.5 | 0 |" in text
    assert "![spct training curves](../../models/spct/training_curves.png)" in text
    assert "![meta_rm training curves](../../models/meta_rm/training_curves.png)" in text
    assert "| old |" not in text and "old training curves" not in text

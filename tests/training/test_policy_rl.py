"""The GRM reward inside a real TRL GRPOTrainer on the tiny model, and the before/after comparison."""

from __future__ import annotations

import json

import pytest

from spct.records import Record
from spct.reward import GRMReward, LocalScorer
from spct.sampling.judgments import JudgeSettings
from spct.sampling.transformers_backend import TransformersSampler
from spct.training.policy_rl import PolicyRLConfig, before_after, split_prompts, train_policy, write_outputs

pytestmark = pytest.mark.slow

SETTINGS = JudgeSettings(max_new_tokens=4, guarantee_score_format=True, temperature=1.0)


def test_split_prompts_keeps_the_heldout_set_apart_and_stable():
    records = [
        Record(id=f"r{i}", source="s", subset="s", split="train", prompt=f"question {i}", responses=["a"], label=1)
        for i in range(10)
    ]
    records.append(
        Record(id="dup", source="s", subset="s", split="train", prompt="question 3", responses=["b"], label=0)
    )
    small = split_prompts(records, PolicyRLConfig(num_prompts=2, heldout_prompts=3))
    large = split_prompts(records, PolicyRLConfig(num_prompts=5, heldout_prompts=3))
    assert small[1] == large[1] and not set(large[0]) & set(large[1])
    assert large[0][:2] == small[0] and len(set(large[0] + large[1])) == 8
    with pytest.raises(ValueError, match="num_prompts=20"):
        split_prompts(records, PolicyRLConfig(num_prompts=20, heldout_prompts=3))


def test_grm_reward_in_a_real_grpo_step(tiny_model_dir, tmp_path):
    """Two GRPO steps of the tiny policy with the tiny GRM (joint mode) as its only reward: TRL logs it under its
    name, every reward is in [0, 1], and each call judged whole groups of G completions in one list prompt."""
    scorer = LocalScorer(TransformersSampler(str(tiny_model_dir), batch_size=8), SETTINGS, k=1)
    reward = GRMReward(scorer, mode="joint", name="grm")
    config = PolicyRLConfig(
        num_generations=2, per_device_train_batch_size=4, max_completion_length=6, max_steps=2, save_steps=1
    )
    summary = train_policy(
        str(tiny_model_dir), ["Name a color.", "What is 2 + 2?"], reward, tmp_path / "policy", config, "none"
    )
    assert summary["global_step"] == 2 and len(summary["history"]) == 2
    assert all(0.0 <= step["reward"] <= 1.0 for step in summary["history"])
    assert reward.calls == 2
    assert [len(result["mean_scores"]) for result in reward.last_results] == [2, 2]  # one query per group of G
    history = json.loads((tmp_path / "policy" / "training.json").read_text())
    assert history["prompts"] == 2
    assert (tmp_path / "policy" / "config.json").is_file()
    assert not (tmp_path / "policy.checkpoints").exists()  # removed once the final model is in place
    logged = [entry for entry in history["history"] if "reward" in entry]
    assert all(0.0 <= entry["rewards/grm/mean"] <= 1.0 for entry in logged)  # TRL logs it under its __name__
    assert all(0.0 <= entry["grm/valid_samples"] <= 1.0 for entry in logged)  # through TRL's log_metric


def test_before_after_and_report_files(tiny_model_dir, tmp_path):
    scorer = LocalScorer(TransformersSampler(str(tiny_model_dir), batch_size=4), SETTINGS, k=2)
    comparison = before_after(["p1", "p2"], ["old answer", "x"], ["new answer", "x"], scorer)
    assert comparison["prompts"] == 2
    for row in comparison["rows"]:
        assert row["win"] == (
            1.0
            if row["reward_after"] > row["reward_before"]
            else 0.5
            if row["reward_after"] == row["reward_before"]
            else 0.0
        )
    assert comparison["win_rate"] == pytest.approx(sum(r["win"] for r in comparison["rows"]) / 2)
    # An answer training left unchanged is a tie, whatever the judge's scores of its two copies.
    unchanged = comparison["rows"][1]
    assert unchanged["identical"] and unchanged["win"] == 0.5
    assert unchanged["reward_before"] == unchanged["reward_after"] and comparison["identical_answers"] == 1
    summary = {
        "init_model": "tiny",
        "prompts": 2,
        "global_step": 2,
        "final_reward": 0.4,
        "history": [{"step": 1, "reward": 0.3}, {"step": 2, "reward": 0.4}],
    }
    metrics = write_outputs(tmp_path, summary, comparison, PolicyRLConfig(), "snakemake policy_rl")
    assert metrics["win_rate"] == comparison["win_rate"]
    assert (tmp_path / "reward_curve.png").read_bytes().startswith(b"\x89PNG")
    report = (tmp_path / "report.md").read_text()
    assert "`snakemake policy_rl`" in report and "| 2 | 0.400 |" in report
    assert "1 of 2 answers unchanged by training" in report
    assert json.loads((tmp_path / "before_after.json").read_text())["rows"][0]["prompt"] == "p1"

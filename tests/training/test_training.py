"""SPCT training stages: rejective sampling rules, Eq. 11, and SFT / GRPO steps on a tiny model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from spct.records import Record
from spct.sampling.judgments import HINTED, JudgeSettings, build_sample_prompt
from spct.training.grpo import (
    GRPOStageConfig,
    accuracy,
    eq11_reward,
    parse_rate,
    rl_dataset_rows,
    train_grpo,
    within_context,
)
from spct.training.rejective_sampling import (
    RejectiveSamplingConfig,
    filter_sft_rows,
    sample_plan,
    select_trajectories,
    summarise,
)
from spct.training.rft import RFTConfig, example_length, load_examples, train_rft, within_max_length

SETTINGS = JudgeSettings(single_score_range=(0, 1))


def pair(i: int, best: int = 0) -> Record:
    return Record(id=f"p{i}", source="t", subset="t", split="train", prompt=f"Q{i}?", responses=["a", "b"], best=best)


def single(i: int, label: int) -> Record:
    return Record(id=f"s{i}", source="t", subset="t", split="train", prompt=f"S{i}?", responses=["x"], label=label)


def row(record: Record, sample, scores) -> dict:
    return {
        "item_id": record.id,
        "sample": sample,
        "scores": scores,
        "valid": scores is not None,
        "text": f"t{sample}",
    }


# ---------------------------------------------------------------- rejective sampling rules (table-driven)


@pytest.mark.parametrize(
    ("plain_scores", "hinted_scores", "too_easy", "accepted"),
    [
        # all three non-hinted correct: too easy, nothing kept (not even the correct hinted one)
        ([[9, 1], [8, 2], [7, 3]], [9, 1], True, []),
        # two correct non-hinted + a correct hinted sample: all three kept
        ([[9, 1], [2, 8], [7, 3]], [9, 1], False, ["0", "2", HINTED]),
        # a tie is wrong (Eq. 10 is strict), an invalid sample is wrong, a wrong hinted sample is dropped
        ([[5, 5], None, [9, 1]], [1, 9], False, ["2"]),
        # nothing correct: the item is hard, not too easy, and contributes nothing
        ([[1, 9], [2, 8], None], None, False, []),
    ],
)
def test_rejective_rules_for_pairs(plain_scores, hinted_scores, too_easy, accepted):
    record = pair(0)
    rows = [row(record, i, s) for i, s in enumerate(plain_scores)] + [row(record, HINTED, hinted_scores)]
    sft, labelled, stats = select_trajectories([record], rows, SETTINGS)
    assert [r["sample"] for r in sft] == accepted
    assert stats[0]["too_easy"] is too_easy
    assert [t["label"] for t in labelled] == [float(s is not None and s[0] > s[1]) for s in plain_scores]
    assert all(t["sample"] != HINTED for t in labelled)  # meta-RM data: non-hinted only


@pytest.mark.parametrize(
    ("label", "scores", "accepted"),
    [
        (1, [[1], [0], [0]], ["0"]),
        (0, [[0], [0], [1]], ["0", "1"]),
        (0, [[0], [0], [0]], []),
        (0, [[1], [1], [0]], ["2"]),
    ],
)
def test_rejective_rules_for_single_responses(label, scores, accepted):
    record = single(0, label)
    sft, _, stats = select_trajectories([record], [row(record, i, s) for i, s in enumerate(scores)], SETTINGS)
    assert [r["sample"] for r in sft] == accepted
    assert stats[0]["too_easy"] == all(s == [label] for s in scores)


def test_sample_plan_hints_only_items_with_a_best_response():
    config = RejectiveSamplingConfig(n_rft=3)
    assert sample_plan(pair(0), config) == [0, 1, 2, HINTED]
    assert sample_plan(single(0, 1), config) == [0, 1, 2]
    assert sample_plan(pair(0), RejectiveSamplingConfig(n_rft=2, hinted=False)) == [0, 1]


def test_hinted_trajectory_is_trained_on_the_unhinted_prompt():
    record = pair(0, best=1)
    hinted_prompt, _ = build_sample_prompt(record, HINTED, SETTINGS)
    assert "The best response is Response" in hinted_prompt
    rows = [row(record, i, [1, 9]) for i in range(2)] + [row(record, 2, [9, 1]), row(record, HINTED, [2, 9])]
    sft, _, _ = select_trajectories([record], rows, SETTINGS)
    hinted = next(r for r in sft if r["hinted"])
    assert "The best response" not in hinted["prompt"][0]["content"]
    assert hinted["completion"] == [{"role": "assistant", "content": "thinted"}]


def test_filter_and_summary():
    record = pair(0)
    rows = [row(record, 0, [9, 1]), row(record, 1, [1, 9]), row(record, 2, None), row(record, HINTED, [9, 2])]
    sft, _, stats = select_trajectories([record], rows, SETTINGS)
    assert [r["sample"] for r in filter_sft_rows(sft, "hinted")] == [HINTED]
    assert [r["sample"] for r in filter_sft_rows(sft, "nonhinted")] == ["0"]
    with pytest.raises(ValueError, match="unknown RFT data kind"):
        filter_sft_rows(sft, "some")
    summary = summarise(stats)
    assert summary["acceptance_rate"] == 2 / 4 and summary["parse_rate"] == 3 / 4 and summary["too_easy_rate"] == 0


# ---------------------------------------------------------------- Eq. 11 (table-driven)


@pytest.mark.parametrize(
    ("text", "n", "best", "label", "low", "high", "reward", "valid"),
    [
        ("Analysis: ok\nScores: \\boxed{8, 3}", 2, 0, None, 1, 10, 1.0, True),
        ("Scores: \\boxed{3, 8}", 2, 0, None, 1, 10, -1.0, True),
        ("Scores: \\boxed{5, 5}", 2, 0, None, 1, 10, -1.0, True),  # a tie is wrong
        ("Final Scores: [[2, 9, 4]]", 3, 1, None, 1, 10, 1.0, True),
        ("Scores: \\boxed{9, 9, 4}", 3, 1, None, 1, 10, -1.0, True),
        ("no score line at all", 2, 0, None, 1, 10, -1.0, False),  # unparseable counts as -1
        ("Scores: \\boxed{11, 3}", 2, 0, None, 1, 10, -1.0, False),  # out of range
        ("Scores: \\boxed{1}", 1, None, 1, 0, 1, 1.0, True),
        ("Scores: \\boxed{1}", 1, None, 0, 0, 1, -1.0, True),
    ],
)
def test_eq11_reward(text, n, best, label, low, high, reward, valid):
    completions = [[{"role": "assistant", "content": text}]]
    args = dict(n=[n], score_low=[low], score_high=[high])
    assert eq11_reward(completions, best_shown=[best], label=[label], **args) == [reward]
    assert parse_rate(completions, **args) == [float(valid)]
    assert accuracy(completions, best_shown=[best], label=[label], **args) == [(reward + 1) / 2]


def test_rl_rows_carry_the_best_response_as_shown():
    records = [pair(i, best=i % 2) for i in range(6)]
    for record, rl_row in zip(records, rl_dataset_rows(records, SETTINGS)):
        prompt, perm = build_sample_prompt(record, "rl", SETTINGS)
        assert rl_row["prompt"][0]["content"] == prompt
        assert perm[rl_row["best_shown"]] == record.best


def test_rl_prompts_without_room_for_the_completion_are_left_out(tiny_model_dir):
    from transformers import AutoTokenizer

    from spct.sampling.base import render_chat

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = rl_dataset_rows([pair(0, best=0), pair(1, best=1)], SETTINGS)
    rows[1]["prompt"][0]["content"] += " padding" * 50
    lengths = [len(tokenizer(render_chat(tokenizer, r["prompt"][0]["content"]))["input_ids"]) for r in rows]
    assert lengths[1] > lengths[0] + 40
    assert within_context(rows, tokenizer, lengths[0] + 32, 32) == rows[:1]
    assert within_context(rows, tokenizer, lengths[1] + 32, 32) == rows
    assert within_context(rows, tokenizer, None, 32) == rows


# ---------------------------------------------------------------- real TRL steps on a tiny model


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def _changed(before: dict, after: dict) -> list[str]:
    return [name for name in before if not torch.equal(before[name], after[name])]


@pytest.fixture(scope="module")
def sft_file(tmp_path_factory) -> Path:
    from spct.training.rejective_sampling import sft_example

    records = [pair(i, best=i % 2) for i in range(8)]
    rows = [
        sft_example(
            r,
            {"sample": 0, "text": f"Analysis: fine.\nScores: \\boxed{{{9 - 7 * r.best}, {2 + 7 * r.best}}}"},
            SETTINGS,
        )
        for r in records
    ]
    path = tmp_path_factory.mktemp("sft") / "sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rft_examples_longer_than_max_length_are_left_out_not_cut(tiny_model_dir, sft_file):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = load_examples(sft_file, None)
    lengths = [example_length(tokenizer, ex) for ex in examples]
    # Measured like TRL: the chat template over prompt + completion, so the score line is inside the count.
    text = tokenizer.apply_chat_template(examples[0]["prompt"] + examples[0]["completion"], tokenize=False)
    assert "\\boxed{" in text and lengths[0] == len(tokenizer(text, add_special_tokens=False)["input_ids"])
    longer = {**examples[1], "prompt": [{"role": "user", "content": examples[1]["prompt"][0]["content"] * 3}]}
    mixed = [examples[0], longer]
    assert within_max_length(mixed, tokenizer, max(lengths)) == [examples[0]]
    assert within_max_length(mixed, tokenizer, example_length(tokenizer, longer)) == mixed
    with pytest.raises(ValueError, match="rft.max_length=10"):
        within_max_length(mixed, tokenizer, 10)


@pytest.mark.slow
def test_rft_steps_change_the_weights(tiny_model_dir, sft_file, tmp_path):
    config = RFTConfig(learning_rate=1e-3, max_steps=2, per_device_train_batch_size=4, max_length=2048, save_steps=1)
    summary = train_rft(tiny_model_dir, sft_file, tmp_path / "rft", config)
    assert summary["global_step"] == 2
    assert _changed(_weights(tiny_model_dir), _weights(tmp_path / "rft"))
    trained = json.loads((tmp_path / "rft" / "training.json").read_text())
    assert trained["examples"] == 8 and trained["examples_too_long"] == 0
    # TRL's SFT log history, one row per step (logging_steps=1), without its end-of-training row
    assert [row["step"] for row in trained["history"]] == [1, 2]
    assert all({"loss", "mean_token_accuracy", "entropy", "num_tokens"} <= row.keys() for row in trained["history"])
    assert set(trained["curve_summary"]) == {"loss", "token_accuracy"}
    assert trained["curve_summary"]["loss"]["first_quarter_mean"] == trained["history"][0]["loss"]
    assert (tmp_path / "rft" / "training_curves.png").stat().st_size > 1000
    assert not (tmp_path / "rft.checkpoints").exists()  # removed once the final model is in place


def _killed_before_publish(*args, **kwargs):
    raise RuntimeError("killed before publishing")


@pytest.mark.slow
def test_rft_rerun_with_another_setting_or_data_starts_afresh(tiny_model_dir, sft_file, tmp_path, monkeypatch, caplog):
    """The checkpoint folder is no Snakemake output: a rerun after a changed setting or data finds the old run's
    checkpoints and must not resume them (at max_steps, that would publish the old weights unchanged)."""
    import spct.training.rft as rft

    out, ckpts = tmp_path / "rft", tmp_path / "rft.checkpoints"
    config = RFTConfig(learning_rate=1e-3, max_steps=2, per_device_train_batch_size=4, max_length=2048, save_steps=1)
    monkeypatch.setattr(rft, "publish_trained", _killed_before_publish)
    with pytest.raises(RuntimeError, match="killed"):
        train_rft(tiny_model_dir, sft_file, out, config)
    old = _weights(ckpts / "checkpoint-2")
    other_lr = dataclasses.replace(config, learning_rate=2e-3)
    with pytest.raises(RuntimeError, match="killed"), caplog.at_level("WARNING"):
        train_rft(tiny_model_dir, sft_file, out, other_lr)
    assert "learning_rate changed" in caplog.text
    state = json.loads((ckpts / "checkpoint-2" / "trainer_state.json").read_text())
    assert [(e["step"], e["learning_rate"]) for e in state["log_history"] if "loss" in e] == [(1, 2e-3), (2, 2e-3)]
    second = _weights(ckpts / "checkpoint-2")
    assert _changed(old, second)

    monkeypatch.undo()
    fewer = tmp_path / "fewer.jsonl"
    fewer.write_text("".join(sft_file.read_text().splitlines(keepends=True)[:6]))
    caplog.clear()
    with caplog.at_level("WARNING"):
        summary = train_rft(tiny_model_dir, fewer, out, other_lr)
    assert "examples changed" in caplog.text
    assert summary["examples"] == 6 and [row["step"] for row in summary["history"]] == [1, 2]
    assert _changed(second, _weights(out)) and not ckpts.exists()


@pytest.mark.slow
def test_rft_with_lora_merges_into_a_plain_checkpoint(tiny_model_dir, sft_file, tmp_path):
    config = RFTConfig(
        learning_rate=1e-2,
        max_steps=2,
        per_device_train_batch_size=4,
        max_length=2048,
        save_steps=1,
        lora={"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]},
    )
    train_rft(tiny_model_dir, sft_file, tmp_path / "lora", config)
    after = _weights(tmp_path / "lora")
    assert not any("lora" in name for name in after)  # merged: loadable by the samplers as is
    assert any("q_proj" in name for name in _changed(_weights(tiny_model_dir), after))


def _length_reward(completions, **kwargs) -> list[float]:
    """A reward that varies within every group, so each GRPO step has non-zero advantages on a random model.
    (A random tiny model never writes a score line, so Eq. 11 alone would give -1 to every completion.)"""
    return [float(len(c[-1]["content"])) for c in completions]


@pytest.mark.slow
def test_grpo_steps_change_the_weights_and_resume_after_a_kill(tiny_model_dir, tmp_path, monkeypatch):
    import spct.training.grpo as grpo

    records = [pair(i, best=i % 2) for i in range(8)]
    rows = rl_dataset_rows(records, SETTINGS)
    config = GRPOStageConfig(learning_rate=1e-2, max_steps=2, max_completion_length=16, save_steps=1)
    out, ckpts = tmp_path / "grpo", tmp_path / "grpo.checkpoints"
    monkeypatch.setattr(grpo, "publish_trained", _killed_before_publish)
    with pytest.raises(RuntimeError, match="killed"):
        train_grpo(tiny_model_dir, rows, out, config, reward_funcs=[_length_reward, eq11_reward])
    first = [e for e in json.loads((ckpts / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]]
    assert _changed(_weights(tiny_model_dir), _weights(ckpts / "checkpoint-2")), "GRPO took no effective step"
    monkeypatch.undo()

    # The rerun after the kill, with more steps, continues from the last checkpoint instead of starting over (the
    # same run: max_steps is not part of its key).
    longer = GRPOStageConfig(learning_rate=1e-2, max_steps=3, max_completion_length=16, save_steps=1)
    second = train_grpo(tiny_model_dir, rows, out, longer, reward_funcs=[_length_reward, eq11_reward])
    assert second["global_step"] == 3
    assert not ckpts.exists()  # removed once the final model is in place
    # The resumed run's history holds the steps of both calls (TRL restores log_history from trainer_state.json)
    trained = json.loads((out / "training.json").read_text())
    assert [row["step"] for row in second["history"]] == [row["step"] for row in trained["history"]] == [1, 2, 3]
    assert trained["history"][:2] == [e for e in first if "reward" in e]
    assert all(entry["rewards/eq11_reward/mean"] == -1.0 for entry in trained["history"])
    assert all(
        {"reward", "reward_std", "kl", "loss", "rewards/eq11_reward/mean"} <= r.keys() for r in trained["history"]
    )
    assert trained["curve_summary"]["reward"]["steps"] == 3
    assert (out / "training_curves.png").stat().st_size > 1000


GRPO_RUNNER = """
import json, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_training import _length_reward
from spct.training.grpo import GRPOStageConfig, eq11_reward, train_grpo
rows = json.loads(Path({rows!r}).read_text())
config = GRPOStageConfig(learning_rate=1e-2, max_steps={steps}, max_completion_length=16, save_steps=1)
train_grpo({model!r}, rows, {out!r}, config, reward_funcs=[_length_reward, eq11_reward])
"""


@pytest.mark.slow
def test_grpo_killed_midway_resumes_from_its_checkpoint(tiny_model_dir, tmp_path):
    """SIGKILL a GRPO job once it has saved a checkpoint; the rerun continues from there to max_steps."""
    import subprocess
    import sys
    import time

    rows_path = tmp_path / "rows.json"
    rows_path.write_text(json.dumps(rl_dataset_rows([pair(i, best=i % 2) for i in range(8)], SETTINGS)))
    out = tmp_path / "grpo"
    script = GRPO_RUNNER.format(
        tests=str(Path(__file__).parent), rows=str(rows_path), steps=40, model=str(tiny_model_dir), out=str(out)
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = tmp_path / "grpo.checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not list(ckpts.glob("checkpoint-*/trainer_state.json")):
        assert proc.poll() is None, "the GRPO job ended before it could be killed"
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    assert not out.exists()  # no half-written final model
    killed_at = max(int(p.parent.name.split("-")[1]) for p in ckpts.glob("checkpoint-*/trainer_state.json"))
    assert killed_at < 40

    summary = train_grpo(
        tiny_model_dir,
        json.loads(rows_path.read_text()),
        out,
        GRPOStageConfig(learning_rate=1e-2, max_steps=killed_at + 2, max_completion_length=16, save_steps=1),
        reward_funcs=[_length_reward, eq11_reward],
    )
    assert summary["global_step"] == killed_at + 2
    steps = [entry["step"] for entry in summary["history"] if "reward" in entry]
    assert steps == list(range(1, killed_at + 3))  # the steps before the kill are kept, not redone
    assert not ckpts.exists()


@pytest.mark.slow
def test_grpo_with_guaranteed_rollouts_learns_from_eq11_alone(tiny_model_dir, tmp_path):
    """The embedded default's situation: a model that never writes a score line by itself. With the guarantee,
    every rollout parses, Eq. 11 (the only reward with weight) varies within groups, and the step changes the
    weights; without it (the test above) every Eq. 11 reward is -1 and the policy gradient is zero."""
    records = [pair(i, best=i % 2) for i in range(8)]
    rows = rl_dataset_rows(records, SETTINGS)
    config = GRPOStageConfig(
        learning_rate=1e-2,
        max_steps=2,
        max_completion_length=24,
        per_device_train_batch_size=8,
        save_steps=1,
        guarantee_score_format=True,
    )
    out = tmp_path / "grpo"
    summary = train_grpo(tiny_model_dir, rows, out, config)
    assert summary["rollouts_guaranteed"] and summary["global_step"] == 2
    logged = [entry for entry in summary["history"] if "reward" in entry]
    assert all(entry["rewards/parse_rate/mean"] == 1.0 for entry in logged)
    assert all(entry["completions/max_length"] <= 24 for entry in logged)
    assert summary["steps_with_reward_variance"] >= 1
    history = json.loads((out / "training.json").read_text())["history"]
    assert [row["step"] for row in history] == [1, 2]
    assert all(0.0 <= step["frac_reward_zero_std"] <= 1.0 for step in history)
    assert any(step["loss"] != 0.0 for step in history)
    # Eq. 11 is the only weighted reward, so reward = rewards/eq11_reward/mean = 2 * accuracy - 1
    assert all(step["reward"] == pytest.approx(2 * step["rewards/accuracy/mean"] - 1) for step in history)
    curves = json.loads((out / "training.json").read_text())["curve_summary"]
    assert set(curves) == {"reward", "accuracy", "parse_rate", "kl"} and curves["parse_rate"]["last_quarter_mean"] == 1
    assert _changed(_weights(tiny_model_dir), _weights(out)), "GRPO took no effective step"

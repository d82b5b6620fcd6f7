"""Resume, atomic save and the Trainer settings shared by the training stages (RFT, GRPO, the meta RM).

Training stages write Trainer checkpoints into ``<out_dir>.checkpoints/`` while they run, resume from the last
one when rerun after a kill (preemption is normal on a cluster), and publish the final model by writing it into
``<out_dir>.tmp`` and renaming it to ``out_dir`` (``publish_model_dir``): a reader never sees half a checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spct.training.curves import CURVES_FILE

log = logging.getLogger(__name__)

TRAINING_FILE = "training.json"


def shared_trainer_args(output_dir: str | Path, save_steps: int, seed: int, report_to, **fields: Any) -> dict:
    """Keyword arguments of a ``transformers.TrainingArguments`` (or TRL config) that every training stage shares:
    a checkpoint every ``save_steps`` (the last two kept, so a killed job resumes), the CPU when there is no GPU,
    and bf16 autocast over fp32 weights where bf16 is native (``spct.device.native_bf16``); ``fields`` add the
    stage's own."""
    import torch

    from spct.device import native_bf16

    return dict(
        output_dir=str(output_dir),
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=2,
        seed=seed,
        report_to=report_to,
        use_cpu=not torch.cuda.is_available(),
        bf16=native_bf16(),
        **fields,
    )


def checkpoint_dir(out_dir: str | Path) -> Path:
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + ".checkpoints")


def last_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest ``checkpoint-<step>`` folder that holds a complete trainer state, if any."""
    if not ckpt_dir.is_dir():
        return None
    done = [p for p in ckpt_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    if not done:
        return None
    newest = max(done, key=lambda p: int(p.name.split("-")[-1]))
    log.info("resuming from %s", newest)
    return str(newest)


def replace_dir(tmp_dir: Path, out_dir: Path) -> None:
    """Rename ``tmp_dir`` to ``out_dir``; an old ``out_dir`` is moved aside first and removed after."""
    old = out_dir.with_name(out_dir.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp_dir, out_dir)
    if old.exists():
        shutil.rmtree(old)


def publish_model_dir(trainer, out_dir: str | Path, files: Mapping[str, str | bytes], merged_model=None) -> Path:
    """Save what ``trainer`` trained (model, tokenizer) and ``files`` (name -> text or bytes) into ``<out_dir>.tmp``,
    then put that folder in place of ``out_dir`` (``replace_dir``).

    Every process of a multi-GPU run calls this: under DeepSpeed ZeRO-3 ``trainer.save_model`` gathers the sharded
    weights from all ranks, and only the main process writes and renames. ``merged_model`` (LoRA merged into its
    base) is saved by the main process instead of the trainer's model.
    """
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    main = trainer.is_world_process_zero()
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    if merged_model is None:
        trainer.save_model(str(tmp))  # model + tokenizer (processing_class), written by the main process
    elif main:
        merged_model.save_pretrained(tmp, safe_serialization=True)
        trainer.processing_class.save_pretrained(tmp)
    if main:
        for name, content in files.items():
            (tmp / name).write_bytes(content if isinstance(content, bytes) else content.encode())
        replace_dir(tmp, out_dir)
    trainer.accelerator.wait_for_everyone()
    return out_dir


def publish_trained(
    trainer, out_dir: str | Path, summary: dict[str, Any], curves_png: bytes, merged_model=None
) -> Path:
    """``publish_model_dir`` with the run's ``summary`` as ``training.json`` and its curves (``spct.training.curves``)
    as ``training_curves.png`` (RFT and GRPO)."""
    text = json.dumps(summary, indent=2, default=str) + "\n"
    files = {TRAINING_FILE: text, CURVES_FILE: curves_png}
    return publish_model_dir(trainer, out_dir, files, merged_model=merged_model)

"""Resume, atomic save and the Trainer settings shared by the training stages (RFT, GRPO, the meta RM).

Training stages write Trainer checkpoints into ``<out_dir>.checkpoints/`` while they run, resume from the last
one when rerun after a kill (preemption is normal on a cluster), and publish the final model by writing it into
``<out_dir>.tmp`` and renaming it to ``out_dir`` (``publish_model_dir``): a reader never sees half a checkpoint.

The checkpoint folder is no Snakemake output, so a rerun after a changed setting finds the old run's checkpoints.
``prepare_checkpoints`` keeps them only for the same run (``run_key.json``: settings, init model files, data) and
``publish_model_dir`` removes them once the final model is in place (two checkpoints with optimizer state are
~3 GB for a 135M model): a kill before that keeps them, so resume still works.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from spct.records import write_text_atomic
from spct.sampling.judgments import model_fingerprint
from spct.training.curves import CURVES_FILE

log = logging.getLogger(__name__)

TRAINING_FILE = "training.json"
RUN_KEY_FILE = "run_key.json"
# Settings that only say how long, how often, where to log or on what hardware a run goes: changing one continues
# the same run (a larger max_steps trains further), so they stay out of the run key.
NOT_RUN_SETTINGS = frozenset(
    {"max_steps", "num_train_epochs", "save_steps", "logging_steps", "report_to", "resume", "eval_batch_size"}
    | {"use_vllm", "vllm_tensor_parallel_size"}
)


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


def run_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` without ``NOT_RUN_SETTINGS`` (also inside ``extra``, the pass-through trainer fields)."""
    return {
        key: run_settings(value) if key == "extra" and isinstance(value, Mapping) else value
        for key, value in settings.items()
        if key not in NOT_RUN_SETTINGS
    }


def data_digest(examples: Iterable[Any]) -> str:
    """A digest of the training examples (JSON values), in order: other data make another run."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps(example, sort_keys=True, default=str).encode() + b"\n")
    return digest.hexdigest()[:16]


def run_key(settings: Mapping[str, Any], init_model: str | os.PathLike, data: str) -> dict[str, Any]:
    """What makes a run: the trainer's ``settings`` (``run_settings``), the init model's files
    (``model_fingerprint``: names, sizes, modification times) and the ``data`` digest."""
    return {**settings, "base_model_files": model_fingerprint(init_model), "examples": data}


def prepare_checkpoints(
    ckpt_dir: Path, key: Mapping[str, Any], resume: bool = True, stage: str = "training"
) -> str | None:
    """Keep ``ckpt_dir`` if its ``run_key.json`` equals ``key`` (the same run), else remove it with a warning that
    says why; then record ``key``. Returns the checkpoint to resume from (``last_checkpoint``), if any.

    Every process of a multi-GPU run calls this before training and reaches the same verdict; a removal another
    rank already did is no error.
    """
    key = json.loads(json.dumps(dict(key), default=str))  # as read back from the file (tuples become lists)
    key_file = ckpt_dir / RUN_KEY_FILE
    if ckpt_dir.exists():
        old = json.loads(key_file.read_text()) if key_file.is_file() else None
        why = None
        if not resume:
            why = "resume=False"
        elif old is None:
            why = f"no {RUN_KEY_FILE}: their run is unknown"
        elif old != key:
            changed = sorted(k for k in key.keys() | old.keys() if key.get(k) != old.get(k))
            why = f"they belong to another run: {', '.join(changed)} changed"
        if why:
            log.warning("removing old %s checkpoints in %s (%s); training starts at step 0", stage, ckpt_dir, why)
            shutil.rmtree(ckpt_dir, ignore_errors=True)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(key_file, json.dumps(key, indent=1, sort_keys=True))
    return last_checkpoint(ckpt_dir)


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
    then put that folder in place of ``out_dir`` (``replace_dir``) and remove the run's checkpoints
    (``<out_dir>.checkpoints``): nothing reads them after this, and a kill before the rename keeps them.

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
        shutil.rmtree(checkpoint_dir(out_dir), ignore_errors=True)
        log.info("published %s; removed its checkpoints", out_dir)
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

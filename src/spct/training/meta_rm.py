"""Training the meta reward model: a pointwise scalar model that rates sampled judgment trajectories (SPCT.md 2.3, 3).

The meta RM reads one sampled judgment of the GRM (``spct.training.meta_rm_scoring.meta_rm_text``: the judge
prompt with the responses in the order THAT sample saw them, followed by its principles, critique and score line)
and predicts, with one logit, whether the judgment is correct by Eq. 10. It is a sequence-classification head
(``num_labels=1``) on the same backbone family as the GRM, trained with binary cross-entropy (paper: lr 1e-5,
batch 512). At inference it scores all k trajectories of an item; MetaRM@k keeps the k_meta best and votes over
them (``spct.evaluation.scaling.scaling_metrics`` with ``meta_scores=score_trajectories(...)``).

Steps: ``label_trajectories`` (records + judgment rows -> texts with Eq. 10 labels), ``split_by_item``,
``train_meta_rm`` (transformers ``Trainer``, resumable); scoring is ``spct.training.meta_rm_scoring``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spct.grm import is_correct
from spct.records import Record
from spct.training.checkpoints import (
    checkpoint_dir,
    prepare_checkpoints,
    publish_model_dir,
    run_key,
    shared_trainer_args,
)
from spct.training.curves import CURVES_FILE, curve_fields
from spct.training.meta_rm_scoring import (
    META_RM_FILE,
    batched_logits,
    heldout_metrics,
    load_tokenizer,
    meta_rm_text,
    sampled_trajectories,
)

log = logging.getLogger(__name__)

# meta_rm.json's curve_summary and training_curves.png (spct.training.curves).
META_RM_CURVES = (("loss", "loss"), ("accuracy", "train_accuracy"))


def label_trajectories(
    records: Sequence[Record],
    rows: Sequence[Mapping[str, Any]],
    **text_options: Any,
) -> list[dict[str, Any]]:
    """Training examples ``{item_id, sample, text, label}`` for every sampled judgment row.

    ``label`` is 1.0 when the row's scores are correct by Eq. 10 (the best response strictly above every other
    one; a single response's score equal to its 0/1 label), else 0.0. An invalid (unparseable) row is 0.0.
    Greedy rows (not one of the k samples) and hinted rows (rejective sampling told them the answer; the paper
    uses non-hinted trajectories only) are left out. ``text_options`` go to ``meta_rm_text`` (``variant``,
    ``score_range``, ``single_score_range``, ``use_reference``) and must match how the rows were sampled.
    """
    return [
        {
            "item_id": record.id,
            "sample": int(row["sample"]),
            "text": meta_rm_text(record, row, **text_options),
            "label": 1.0 if is_correct(row["scores"] if row["valid"] else None, record.best, record.label) else 0.0,
        }
        for record, row in sampled_trajectories(records, rows)
    ]


@dataclass(frozen=True)
class MetaRMConfig:
    """The settings of ``train_meta_rm``.

    Args:
        learning_rate (`float`, defaults to `1e-5`): the paper's learning rate.
        per_device_batch_size (`int`, defaults to `8`): the paper's batch is 512 =
            ``per_device_batch_size * gradient_accumulation_steps * devices``.
        gradient_accumulation_steps (`int`, defaults to `1`): see above.
        max_steps (`int`, defaults to `-1`): optimizer steps; -1 trains ``num_train_epochs``.
        num_train_epochs (`float`, defaults to `1.0`): used when ``max_steps`` is -1.
        max_length (`int`, defaults to `4096`): tokens per input; longer inputs lose their start.
        eval_fraction (`float`, defaults to `0.1`): share of ITEMS held out for the metrics.
        seed (`int`, defaults to `0`): seeds the split, the head's initialisation and the data order.
        balance_classes (`bool`, defaults to `True`): BCE ``pos_weight`` (see ``train_meta_rm``).
        save_steps (`int`, defaults to `100`): checkpoint interval in optimizer steps.
        logging_steps (`int`, defaults to `10`): loss logging interval.
        eval_batch_size (`int`, defaults to `8`): batch size of the held-out scoring.
        report_to (`str` or `list[str]`, defaults to `"none"`): Trainer loggers, e.g. `"mlflow"` (configured by the
            ``MLFLOW_*`` environment variables).
        resume (`bool`, defaults to `True`): continue from a checkpoint of the same run.
    """

    learning_rate: float = 1e-5
    per_device_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_steps: int = -1
    num_train_epochs: float = 1.0
    max_length: int = 4096
    eval_fraction: float = 0.1
    seed: int = 0
    balance_classes: bool = True
    save_steps: int = 100
    logging_steps: int = 10
    eval_batch_size: int = 8
    report_to: str | list[str] = "none"
    resume: bool = True

    def run_settings(self, base_model: str | os.PathLike) -> dict[str, Any]:
        """What makes a run: a checkpoint is resumed only under the same settings (and data). The keys are listed
        (not ``checkpoints.run_settings``) so that the run keys of checkpoints written before stay valid."""
        keys = ("learning_rate", "per_device_batch_size", "gradient_accumulation_steps", "max_length")
        keys += ("eval_fraction", "seed", "balance_classes")
        return {"base_model": str(base_model), **{key: asdict(self)[key] for key in keys}}


def split_by_item(
    examples: Sequence[Mapping[str, Any]], eval_fraction: float, seed: int
) -> tuple[list[dict], list[dict]]:
    """Split ``examples`` into (train, held_out) by item, so the samples of one item stay on one side.

    Items are ranked by ``sha256(f"{seed}/{item_id}")`` and the first ``round(eval_fraction * items)`` are held
    out (at least one when ``eval_fraction > 0`` and there are two items or more; never all of them). The
    result depends only on the set of item ids and the seed, not on the order of ``examples``.
    """
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    items = sorted({ex["item_id"] for ex in examples}, key=lambda item: _item_hash(item, seed))
    n_eval = round(eval_fraction * len(items))
    if eval_fraction > 0 and len(items) >= 2:
        n_eval = min(max(n_eval, 1), len(items) - 1)
    held_items = set(items[:n_eval])
    train = [dict(ex) for ex in examples if ex["item_id"] not in held_items]
    held_out = [dict(ex) for ex in examples if ex["item_id"] in held_items]
    return train, held_out


def _item_hash(item_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}/{item_id}".encode()).hexdigest()


def _counts(examples: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    positives = sum(1 for ex in examples if ex["label"] == 1.0)
    return positives, len(examples) - positives


def _make_trainer_class():
    """A ``Trainer`` whose loss is BCE on the single logit, built lazily so importing this module stays cheap."""
    import torch
    from transformers import Trainer

    class MetaRMTrainer(Trainer):
        # Our loss is a per-batch mean: let the Trainer divide it by the accumulation steps. The default (None)
        # would count it as already scaled, because Llama's forward accepts loss kwargs.
        loss_is_scaled_for_ga = False

        def __init__(self, *args, pos_weight: float | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.pos_weight = pos_weight
            # Train examples since the last log: [decided right (logit >= 0 <=> label 1), all].
            self.correct_seen = [0, 0]

        def log(self, logs, *args, **kwargs):
            # The batches' accuracy, logged beside the loss it was computed with (no extra forward pass).
            if "loss" in logs and self.correct_seen[1]:
                logs = {**logs, "train_accuracy": self.correct_seen[0] / self.correct_seen[1]}
                self.correct_seen = [0, 0]
            super().log(logs, *args, **kwargs)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # A custom loss rather than problem_type="multi_label_classification": the built-in BCE has no
            # pos_weight, and keeping labels out of the forward call keeps the loss in one visible place.
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            logits = outputs.logits.squeeze(-1).float()
            pos_weight = None
            if self.pos_weight is not None:
                pos_weight = torch.tensor(self.pos_weight, dtype=logits.dtype, device=logits.device)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels.to(logits.dtype), pos_weight=pos_weight
            )
            if model.training:
                self.correct_seen[0] += int(((logits.detach() >= 0) == (labels == 1.0)).sum())
                self.correct_seen[1] += labels.numel()
            return (loss, outputs) if return_outputs else loss

    return MetaRMTrainer


class _TokenizedExamples:
    """A map-style dataset of tokenized examples; tokenized once, up front (the texts are short-lived)."""

    def __init__(self, tokenizer, examples: Sequence[Mapping[str, Any]], max_length: int):
        encoded = tokenizer([ex["text"] for ex in examples], truncation=True, max_length=max_length)
        self.items = [
            {"input_ids": ids, "attention_mask": mask, "labels": float(ex["label"])}
            for ids, mask, ex in zip(encoded["input_ids"], encoded["attention_mask"], examples)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


def _collate(tokenizer):
    import torch

    def collate(batch: list[dict]) -> dict:
        padded = tokenizer.pad(
            [{"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]} for b in batch], return_tensors="pt"
        )
        padded["labels"] = torch.tensor([b["labels"] for b in batch], dtype=torch.float32)
        return dict(padded)

    return collate


def _check_examples(examples: Sequence[Mapping[str, Any]]) -> None:
    if not examples:
        raise ValueError("no meta RM training examples: label_trajectories found no sampled (non-greedy) rows")
    bad = [ex for ex in examples if ex.get("label") not in (0.0, 1.0) or not isinstance(ex.get("text"), str)]
    if bad:
        raise ValueError(f"{len(bad)} example(s) lack a text or a 0/1 label, e.g. {str(bad[0])[:200]}")


def _examples_digest(examples: Sequence[Mapping[str, Any]]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps([ex["item_id"], ex.get("sample"), ex["label"], ex["text"]]).encode())
    return digest.hexdigest()[:16]


def meta_rm_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """``train_meta_rm`` options from a config's ``meta_rm`` section (``n_samples`` is the sampling stage's;
    ``per_device_train_batch_size`` is ``per_device_batch_size`` here)."""
    options = {k: v for k, v in config.items() if k not in ("n_samples", "per_device_train_batch_size")}
    options["per_device_batch_size"] = config["per_device_train_batch_size"]
    return options


def _class_counts(train: Sequence[Mapping[str, Any]], held_out: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Examples and positives/negatives of each split; a train split with one class only is an error."""
    train_pos, train_neg = _counts(train)
    if train_pos == 0 or train_neg == 0:
        kind = "correct" if train_pos else "wrong"
        raise ValueError(
            f"every one of the {len(train)} training trajectories is {kind}: the meta RM needs both correct and "
            "wrong judgments (sample more items or more judgments per item)"
        )
    held_pos, held_neg = _counts(held_out)
    return {
        "train_examples": len(train),
        "train_positives": train_pos,
        "train_negatives": train_neg,
        "heldout_examples": len(held_out),
        "heldout_positives": held_pos,
        "heldout_negatives": held_neg,
    }


def _build_trainer(base_model, train: Sequence[Mapping[str, Any]], ckpt_dir: Path, config: MetaRMConfig, pos_weight):
    """A BCE ``Trainer`` of a fresh one-logit head on ``base_model``, checkpointing into ``ckpt_dir``."""
    import torch
    from transformers import AutoModelForSequenceClassification, TrainingArguments, set_seed

    set_seed(config.seed)
    tokenizer = load_tokenizer(base_model)
    # fp32 master weights everywhere; the Trainer adds bf16 autocast where bf16 is native (spct.device).
    model = AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id  # Llama has none; the head pools the last non-pad token
    args = TrainingArguments(
        **shared_trainer_args(ckpt_dir, config.save_steps, config.seed, config.report_to),
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.per_device_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        max_steps=config.max_steps,
        num_train_epochs=config.num_train_epochs,
        logging_steps=config.logging_steps,
        remove_unused_columns=False,  # our collator builds exactly the model inputs
        dataloader_num_workers=0,
    )
    return _make_trainer_class()(
        model=model,
        args=args,
        train_dataset=_TokenizedExamples(tokenizer, train, config.max_length),
        data_collator=_collate(tokenizer),
        processing_class=tokenizer,
        pos_weight=pos_weight,
    )


def _train(trainer, last: str | None) -> tuple[float | None, int, int | None]:
    """Train, resuming from checkpoint ``last`` when there is one; returns (train loss, global step, resumed from)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    resumed_from_step = None
    if last is not None:
        last_state = json.loads((Path(last) / "trainer_state.json").read_text())
        resumed_from_step = last_state["global_step"]
        log.info("resuming the meta RM from %s", last)
    target_steps = trainer.set_initial_training_values(trainer.args, trainer.get_train_dataloader())[-1]
    if resumed_from_step is not None and resumed_from_step >= target_steps:
        # Already trained (e.g. killed after the last checkpoint, before the final save). Trainer.train would
        # still take one step past max_steps when resuming at it, so take the checkpoint's weights instead.
        model = AutoModelForSequenceClassification.from_pretrained(last, dtype=torch.float32)
        trainer.model = model.to(trainer.args.device)
        trainer.state.log_history = last_state["log_history"]  # the run's curves (spct.training.curves)
        losses = [entry["loss"] for entry in last_state["log_history"] if "loss" in entry]
        return (sum(losses) / len(losses) if losses else None), resumed_from_step, resumed_from_step
    result = trainer.train(resume_from_checkpoint=last)
    trainer.save_state()
    return result.training_loss, trainer.state.global_step, resumed_from_step


def train_meta_rm(
    base_model: str | os.PathLike, examples: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike, **options: Any
) -> dict[str, Any]:
    """Train the meta RM on labelled trajectories (``label_trajectories``) and save it to ``out_dir``.

    A ``num_labels=1`` sequence-classification head on ``base_model`` (a local folder or hub id, e.g. the GRM's
    base) is trained with binary cross-entropy on the train split of ``split_by_item``; the held-out split gives
    ROC-AUC and accuracy at probability 0.5. ``options`` are the fields of ``MetaRMConfig``.

    Deviation from the paper (which only says BCE): with ``balance_classes`` the positive term is weighted by
    ``pos_weight = negatives / positives`` of the train split, so the rarer class (usually "correct" for a weak
    GRM, "wrong" for a strong one) is not ignored. It shifts the logits by about ``log(pos_weight)``: ranking
    (what MetaRM@k uses) is unaffected in spirit, but the 0.5 threshold of ``heldout_accuracy`` is then a
    balanced rather than a calibrated decision. Pass ``balance_classes=False`` for the plain paper loss.

    Checkpoints go to the sibling folder ``<out_dir>.checkpoints`` every ``save_steps`` steps (the last two are
    kept). With ``resume`` a call after a kill on the same data and settings continues from the last one, also
    with a larger ``max_steps``; different data or settings start afresh (``checkpoints.prepare_checkpoints``).
    The final model, tokenizer and ``meta_rm.json`` (metrics and settings) are written to a temporary sibling
    folder, then renamed to ``out_dir`` and the checkpoints removed (``checkpoints.publish_model_dir``).

    Returns:
        `dict`: ``train_loss``, ``global_step``, ``resumed_from_step``, ``heldout_auc`` (``None`` with a reason in
        ``heldout_auc_note`` when the held-out split is empty or has one class), ``heldout_accuracy``,
        ``train_positives``/``train_negatives``/``heldout_positives``/``heldout_negatives`` and ``pos_weight``.
    """
    config = MetaRMConfig(**options)
    _check_examples(examples)
    out_dir = Path(out_dir)
    train, held_out = split_by_item(examples, config.eval_fraction, config.seed)
    counts = _class_counts(train, held_out)
    pos_weight = counts["train_negatives"] / counts["train_positives"] if config.balance_classes else None
    settings = config.run_settings(base_model)
    key = run_key(settings, base_model, _examples_digest(examples))
    ckpt_dir = checkpoint_dir(out_dir)
    last = prepare_checkpoints(ckpt_dir, key, config.resume, "meta RM")
    trainer = _build_trainer(base_model, train, ckpt_dir, config, pos_weight)
    train_loss, global_step, resumed_from_step = _train(trainer, last)
    texts = [ex["text"] for ex in held_out]
    logits = batched_logits(
        trainer.model, trainer.processing_class, texts, config.eval_batch_size, config.max_length, "held-out"
    )
    metrics = {
        "train_loss": train_loss,
        "global_step": global_step,
        "resumed_from_step": resumed_from_step,
        **heldout_metrics(logits, [ex["label"] for ex in held_out]),
        **counts,
        "pos_weight": pos_weight,
    }
    settings = {**settings, "max_steps": config.max_steps, "num_train_epochs": config.num_train_epochs}
    curves, png = curve_fields(trainer.state.log_history, META_RM_CURVES, "meta RM")
    summary = json.dumps({"metrics": metrics, "settings": settings, **curves}, indent=1)
    publish_model_dir(trainer, out_dir, {META_RM_FILE: summary, CURVES_FILE: png})
    log.info("meta RM saved to %s: %s", out_dir, metrics)
    return metrics

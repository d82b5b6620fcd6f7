"""The meta reward model: a pointwise scalar model that rates sampled judgment trajectories (SPCT.md 2.3, 3).

The meta RM reads one sampled judgment of the GRM (the judge prompt with the responses in the order THAT sample
saw them, followed by its principles, critique and score line) and predicts, with one logit, whether the
judgment is correct by Eq. 10. It is a sequence-classification head (``num_labels=1``) on the same backbone
family as the GRM, trained with binary cross-entropy (paper: lr 1e-5, batch 512). At inference it scores all k
trajectories of an item; MetaRM@k keeps the k_meta best and votes over them
(``spct.evaluation.scaling.scaling_metrics`` with ``meta_scores=score_trajectories(...)``).

Steps: ``label_trajectories`` (records + judgment rows -> texts with Eq. 10 labels), ``split_by_item``,
``train_meta_rm`` (transformers ``Trainer``, resumable), ``score_trajectories``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spct.device import native_bf16
from spct.evaluation.scaling import roc_auc
from spct.grm import DEFAULT_SCORE_RANGE, apply_permutation, is_correct
from spct.grm.prompts import build_judge_prompt
from spct.records import Record
from spct.sampling.judgments import GREEDY, HINTED, model_fingerprint

log = logging.getLogger(__name__)

META_RM_FILE = "meta_rm.json"
JUDGMENT_HEADER = "#### Judgment ####"


def meta_rm_text(
    record: Record,
    row: Mapping[str, Any],
    variant: str = "principles",
    *,
    score_range: tuple[int, int] = DEFAULT_SCORE_RANGE,
    single_score_range: tuple[int, int] = DEFAULT_SCORE_RANGE,
    use_reference: bool = False,
) -> str:
    """The meta RM's input for one trajectory: its judge prompt, then the text it generated.

    The responses appear in the order this trajectory saw them (``row["permutation"]``, ``shown[i] =
    original[perm[i]]``), so "Response 1" in its critique points at the same response as in its prompt. The
    generated text comes LAST: tokenize with ``truncation_side="left"`` (as ``train_meta_rm`` and
    ``score_trajectories`` do) and a long input loses the start of the prompt, never the judgment (unless the
    judgment alone exceeds ``max_length``: then its start goes and the score line stays).

    Args:
        record (`Record`): the judged item.
        row (`Mapping`): one judgment row of ``spct.sampling.judgments`` (``permutation``, ``text``).
        variant (`str`, *optional*, defaults to `"principles"`): the judge prompt variant the samples used.
        score_range (`tuple[int, int]`, *optional*, defaults to `(1, 10)`): the score range the samples' prompt
            showed for pairs and lists (``JudgeSettings.score_range``).
        single_score_range (`tuple[int, int]`, *optional*, defaults to `(1, 10)`): the same for single responses
            (``JudgeSettings.single_score_range``; the paper trains those with 0/1).
        use_reference (`bool`, *optional*, defaults to `False`): show the record's reference answer, as the
            sampling did with ``JudgeSettings.use_reference``.
    """
    if row["item_id"] != record.id:
        raise ValueError(f"row of item {row['item_id']!r} paired with record {record.id!r}")
    prompt = build_judge_prompt(
        record.prompt,
        apply_permutation(record.responses, row["permutation"]),
        variant=variant,
        score_range=tuple(single_score_range if record.n == 1 else score_range),
        reference=record.reference if use_reference else None,
    )
    return f"{prompt}\n\n{JUDGMENT_HEADER}\n{row['text'].strip()}"


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
    by_id = {record.id: record for record in records}
    examples = []
    for row in rows:
        if row["sample"] in (GREEDY, HINTED):
            continue
        record = by_id.get(row["item_id"])
        if record is None:
            raise ValueError(f"judgment row of item {row['item_id']!r} has no record")
        scores = row["scores"] if row["valid"] else None
        examples.append(
            {
                "item_id": record.id,
                "sample": int(row["sample"]),
                "text": meta_rm_text(record, row, **text_options),
                "label": 1.0 if is_correct(scores, record.best, record.label) else 0.0,
            }
        )
    return examples


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


def _load_tokenizer(model_dir: str | os.PathLike):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.truncation_side = "left"  # keep the judgment, drop the start of the prompt
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_meta_rm(model_dir: str | os.PathLike):
    """The trained meta RM and its tokenizer, ready to score.

    Scoring runs in bf16 where the hardware has it (a GPU, or a CPU with AVX-512 BF16 / AMX: 2.4x fp32's rate here,
    1,858 against 789 tokens/s, tools/cpu_speed_settings.py scoring), with the one-logit head kept in fp32 so that
    close scores of the k samples stay distinct when MetaRM@k ranks them (a bf16 logit has 8 bits of mantissa).
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    cuda = torch.cuda.is_available()
    bf16 = native_bf16()
    tokenizer = _load_tokenizer(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, dtype=torch.bfloat16 if bf16 else torch.float32
    )
    if bf16:
        model.score.float()
        model.score.register_forward_pre_hook(lambda _module, args: (args[0].float(), *args[1:]))
    if cuda:
        model = model.to("cuda")
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def batched_logits(model, tokenizer, texts: Sequence[str], batch_size: int, max_length: int, desc: str) -> list[float]:
    """The single logit of each text, batched (longest first, so batches pad little), in the order of ``texts``."""
    import torch
    from tqdm.auto import tqdm

    if not texts:  # e.g. no held-out split (eval_fraction 0)
        return []
    lengths = [len(ids) for ids in tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    out: list[float] = [math.nan] * len(texts)
    model.eval()
    with torch.inference_mode(), tqdm(total=len(texts), desc=desc, unit="traj") as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in idx], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            ).to(model.device)
            logits = model(**batch).logits.squeeze(-1).float().cpu().tolist()
            for i, value in zip(idx, logits):
                out[i] = value
            bar.update(len(idx))
    return out


def _heldout_metrics(logits: Sequence[float], labels: Sequence[float]) -> dict[str, Any]:
    positives = sum(1 for y in labels if y == 1.0)
    metrics: dict[str, Any] = {"heldout_auc": None, "heldout_auc_note": None, "heldout_accuracy": None}
    if not labels:
        metrics["heldout_auc_note"] = "no held-out examples (eval_fraction is 0 or there is a single item)"
        return metrics
    # sigmoid(logit) >= 0.5  <=>  logit >= 0
    metrics["heldout_accuracy"] = sum((x >= 0) == (y == 1.0) for x, y in zip(logits, labels)) / len(labels)
    metrics["heldout_auc"] = roc_auc(list(logits), [int(y) for y in labels])
    if metrics["heldout_auc"] is None:
        kind = "correct" if positives else "wrong"
        metrics["heldout_auc_note"] = f"held-out examples are all {kind}: ROC-AUC needs both classes"
    return metrics


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


def _prepare_checkpoints(ckpt_dir: Path, run_key: dict, resume: bool) -> bool:
    """Keep ``ckpt_dir`` if it belongs to the same run (same data and settings), else empty it.

    Returns whether a checkpoint to resume from exists. ``max_steps``/``num_train_epochs`` are not part of the
    run key: asking for more steps continues the same run.
    """
    from transformers.trainer_utils import get_last_checkpoint

    key_file = ckpt_dir / "run_key.json"
    if ckpt_dir.exists():
        same = key_file.exists() and json.loads(key_file.read_text()) == run_key
        if not resume or not same:
            why = "resume=False" if not resume else "the data or settings changed"
            log.warning("removing old meta RM checkpoints in %s (%s)", ckpt_dir, why)
            shutil.rmtree(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    key_file.write_text(json.dumps(run_key, indent=1, sort_keys=True))
    return get_last_checkpoint(str(ckpt_dir)) is not None


def _replace_dir(tmp_dir: Path, out_dir: Path) -> None:
    """Rename ``tmp_dir`` to ``out_dir``; an old ``out_dir`` is moved aside first and removed after."""
    old = out_dir.with_name(out_dir.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp_dir, out_dir)
    if old.exists():
        shutil.rmtree(old)


def train_meta_rm(
    base_model: str | os.PathLike,
    examples: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike,
    *,
    learning_rate: float = 1e-5,
    per_device_batch_size: int = 8,
    gradient_accumulation_steps: int = 1,
    max_steps: int = -1,
    num_train_epochs: float = 1.0,
    max_length: int = 4096,
    eval_fraction: float = 0.1,
    seed: int = 0,
    balance_classes: bool = True,
    save_steps: int = 100,
    logging_steps: int = 10,
    eval_batch_size: int = 8,
    report_to: str | list[str] = "none",
    resume: bool = True,
) -> dict[str, Any]:
    """Train the meta RM on labelled trajectories (``label_trajectories``) and save it to ``out_dir``.

    A ``num_labels=1`` sequence-classification head on ``base_model`` is trained with binary cross-entropy on
    the train split of ``split_by_item``; the held-out split gives ROC-AUC and accuracy at probability 0.5.

    Deviation from the paper (which only says BCE): with ``balance_classes`` the positive term is weighted by
    ``pos_weight = negatives / positives`` of the train split, so the rarer class (usually "correct" for a weak
    GRM, "wrong" for a strong one) is not ignored. It shifts the logits by about ``log(pos_weight)``: ranking
    (what MetaRM@k uses) is unaffected in spirit, but the 0.5 threshold of ``heldout_accuracy`` is then a
    balanced rather than a calibrated decision. Pass ``balance_classes=False`` for the plain paper loss.

    Checkpoints go to the sibling folder ``<out_dir>.checkpoints`` every ``save_steps`` steps (the last two are
    kept). With ``resume`` a later call on the same data and settings continues from the last one, also to
    train further with a larger ``max_steps``; different data or settings start afresh. The final model,
    tokenizer and ``meta_rm.json`` (metrics and settings) are written to a temporary sibling folder, then
    renamed to ``out_dir``.

    Args:
        base_model (`str` or `os.PathLike`): the backbone (a local folder or hub id), e.g. the GRM's base.
        examples (`Sequence[Mapping]`): ``{item_id, sample, text, label}`` rows from ``label_trajectories``.
        out_dir (`str` or `os.PathLike`): where the final model goes.
        learning_rate (`float`, *optional*, defaults to `1e-5`): the paper's learning rate.
        per_device_batch_size (`int`, *optional*, defaults to `8`): the paper's batch is 512 =
            ``per_device_batch_size * gradient_accumulation_steps * devices``.
        gradient_accumulation_steps (`int`, *optional*, defaults to `1`): see above.
        max_steps (`int`, *optional*, defaults to `-1`): optimizer steps; -1 trains ``num_train_epochs``.
        num_train_epochs (`float`, *optional*, defaults to `1.0`): used when ``max_steps`` is -1.
        max_length (`int`, *optional*, defaults to `4096`): tokens per input; longer inputs lose their start.
        eval_fraction (`float`, *optional*, defaults to `0.1`): share of ITEMS held out for the metrics.
        seed (`int`, *optional*, defaults to `0`): seeds the split, the head's initialisation and the data order.
        balance_classes (`bool`, *optional*, defaults to `True`): BCE ``pos_weight``, see above.
        save_steps (`int`, *optional*, defaults to `100`): checkpoint interval in optimizer steps.
        logging_steps (`int`, *optional*, defaults to `10`): loss logging interval.
        eval_batch_size (`int`, *optional*, defaults to `8`): batch size of the held-out scoring.
        report_to (`str` or `list[str]`, *optional*, defaults to `"none"`): Trainer loggers, e.g. `"mlflow"`
            (configured by the ``MLFLOW_*`` environment variables).
        resume (`bool`, *optional*, defaults to `True`): continue from a checkpoint of the same run.

    Returns:
        `dict`: ``train_loss``, ``global_step``, ``resumed_from_step``, ``heldout_auc`` (``None`` with a reason in
        ``heldout_auc_note`` when the held-out split is empty or has one class), ``heldout_accuracy``,
        ``train_positives``/``train_negatives``/``heldout_positives``/``heldout_negatives`` and ``pos_weight``.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, TrainingArguments, set_seed

    _check_examples(examples)
    out_dir = Path(out_dir)
    train, held_out = split_by_item(examples, eval_fraction, seed)
    train_pos, train_neg = _counts(train)
    if train_pos == 0 or train_neg == 0:
        kind = "correct" if train_pos else "wrong"
        raise ValueError(
            f"every one of the {len(train)} training trajectories is {kind}: the meta RM needs both correct and "
            "wrong judgments (sample more items or more judgments per item)"
        )
    held_pos, held_neg = _counts(held_out)
    pos_weight = train_neg / train_pos if balance_classes else None
    settings = {
        "base_model": str(base_model),
        "learning_rate": learning_rate,
        "per_device_batch_size": per_device_batch_size,
        "gradient_accumulation_steps": gradient_accumulation_steps,
        "max_length": max_length,
        "eval_fraction": eval_fraction,
        "seed": seed,
        "balance_classes": balance_classes,
    }
    run_key = {**settings, "base_model_files": model_fingerprint(base_model), "examples": _examples_digest(examples)}
    ckpt_dir = out_dir.with_name(out_dir.name + ".checkpoints")
    has_checkpoint = _prepare_checkpoints(ckpt_dir, run_key, resume)

    cuda = torch.cuda.is_available()
    set_seed(seed)
    tokenizer = _load_tokenizer(base_model)
    # fp32 master weights everywhere; the Trainer adds bf16 autocast where bf16 is native (spct.device).
    model = AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id  # Llama has none; the head pools the last non-pad token

    args = TrainingArguments(
        output_dir=str(ckpt_dir),
        learning_rate=learning_rate,
        per_device_train_batch_size=per_device_batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        max_steps=max_steps,
        num_train_epochs=num_train_epochs,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=2,
        logging_steps=logging_steps,
        report_to=report_to,
        seed=seed,
        use_cpu=not cuda,
        bf16=native_bf16(),
        remove_unused_columns=False,  # our collator builds exactly the model inputs
        dataloader_num_workers=0,
    )
    trainer = _make_trainer_class()(
        model=model,
        args=args,
        train_dataset=_TokenizedExamples(tokenizer, train, max_length),
        data_collator=_collate(tokenizer),
        processing_class=tokenizer,
        pos_weight=pos_weight,
    )
    resumed_from_step = None
    if has_checkpoint:
        from transformers.trainer_utils import get_last_checkpoint

        last = get_last_checkpoint(str(ckpt_dir))
        last_state = json.loads((Path(last) / "trainer_state.json").read_text())
        resumed_from_step = last_state["global_step"]
        log.info("resuming the meta RM from %s", last)
    target_steps = trainer.set_initial_training_values(args, trainer.get_train_dataloader())[-1]
    if resumed_from_step is not None and resumed_from_step >= target_steps:
        # Already trained (e.g. killed after the last checkpoint, before the final save). Trainer.train would
        # still take one step past max_steps when resuming at it, so take the checkpoint's weights instead.
        trainer.model = AutoModelForSequenceClassification.from_pretrained(last, dtype=torch.float32).to(args.device)
        losses = [entry["loss"] for entry in last_state["log_history"] if "loss" in entry]
        train_loss = sum(losses) / len(losses) if losses else None
        global_step = resumed_from_step
    else:
        result = trainer.train(resume_from_checkpoint=True if has_checkpoint else None)
        trainer.save_state()
        train_loss, global_step = result.training_loss, trainer.state.global_step

    logits = batched_logits(
        trainer.model, tokenizer, [ex["text"] for ex in held_out], eval_batch_size, max_length, "held-out"
    )
    metrics = {
        "train_loss": train_loss,
        "global_step": global_step,
        "resumed_from_step": resumed_from_step,
        **_heldout_metrics(logits, [ex["label"] for ex in held_out]),
        "train_examples": len(train),
        "train_positives": train_pos,
        "train_negatives": train_neg,
        "heldout_examples": len(held_out),
        "heldout_positives": held_pos,
        "heldout_negatives": held_neg,
        "pos_weight": pos_weight,
    }

    tmp_dir = out_dir.with_name(out_dir.name + ".tmp")
    main = trainer.is_world_process_zero()  # several processes under `accelerate launch`: one writes
    if main and tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp_dir))  # model + tokenizer (processing_class); gathers ZeRO-3 shards from every rank
    summary = {
        "metrics": metrics,
        "settings": {**settings, "max_steps": max_steps, "num_train_epochs": num_train_epochs},
    }
    if main:
        (tmp_dir / META_RM_FILE).write_text(json.dumps(summary, indent=1))
        _replace_dir(tmp_dir, out_dir)
    trainer.accelerator.wait_for_everyone()
    log.info("meta RM saved to %s: %s", out_dir, metrics)
    return metrics


def score_trajectories(
    model_dir: str | os.PathLike | tuple,
    records: Sequence[Record],
    rows: Sequence[Mapping[str, Any]],
    batch_size: int = 8,
    max_length: int = 4096,
    **text_options: Any,
) -> dict[tuple[str, int], float]:
    """The meta RM's logit for every sampled (non-greedy, non-hinted) judgment row, keyed ``(item_id, int sample)``.

    ``model_dir`` is the meta RM's directory, or the ``(model, tokenizer)`` of ``load_meta_rm`` to score several
    benchmarks on one loaded model. The keys are what
    ``spct.evaluation.scaling.scaling_metrics(..., meta_scores=...)`` looks up. ``text_options`` are those
    of ``meta_rm_text`` and must describe how these rows were sampled (e.g. ``variant="no_principles"``).
    """
    examples = label_trajectories(records, rows, **text_options)
    if not examples:
        return {}
    model, tokenizer = load_meta_rm(model_dir) if isinstance(model_dir, (str, os.PathLike)) else model_dir
    logits = batched_logits(
        model, tokenizer, [ex["text"] for ex in examples], batch_size, max_length, "meta RM scores"
    )
    return {(ex["item_id"], ex["sample"]): value for ex, value in zip(examples, logits)}

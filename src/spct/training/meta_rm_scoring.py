"""Loading a trained meta RM and scoring judgment trajectories with it (SPCT.md 2.3, 3).

The meta RM reads one sampled judgment of the GRM (``meta_rm_text``: the judge prompt with the responses in the
order THAT sample saw them, followed by its principles, critique and score line) and returns one logit: how
likely the judgment is correct by Eq. 10. ``load_meta_rm`` + ``score_judgments`` is the one scoring path: the
workflow's ``meta_scores`` stage (through ``score_trajectories``, keyed by (item, sample)) and ``spct judge``
(``spct.judging.meta_rm_scores``, on user queries) both go through it. Training lives in
``spct.training.meta_rm``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from spct.device import native_bf16
from spct.grm import DEFAULT_SCORE_RANGE, apply_permutation
from spct.grm.prompts import build_judge_prompt
from spct.records import Record, read_records, write_json_atomic
from spct.sampling.judgments import GREEDY, HINTED, read_judgments

log = logging.getLogger(__name__)

META_RM_FILE = "meta_rm.json"
JUDGMENT_HEADER = "#### Judgment ####"
DEFAULT_MAX_LENGTH = 4096


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


def text_options(judge_config: Mapping[str, Any], single_score_range: Sequence[int]) -> dict[str, Any]:
    """``meta_rm_text``'s options for rows sampled under ``judge_config`` (its prompt variant and score range), with
    single responses scored in ``single_score_range`` (training prompts score them 0/1): the meta RM reads each
    trajectory's own prompt."""
    return {
        "variant": judge_config["prompt_variant"],
        "score_range": tuple(judge_config["score_range"]),
        "single_score_range": tuple(single_score_range),
    }


def sampled_trajectories(
    records: Sequence[Record], rows: Sequence[Mapping[str, Any]]
) -> Iterator[tuple[Record, Mapping[str, Any]]]:
    """``(record, row)`` for every sampled judgment row, in row order: greedy rows (not one of the k samples) and
    hinted rows (rejective sampling told them the answer) are left out; a row without a record is an error."""
    by_id = {record.id: record for record in records}
    for row in rows:
        if row["sample"] in (GREEDY, HINTED):
            continue
        record = by_id.get(row["item_id"])
        if record is None:
            raise ValueError(f"judgment row of item {row['item_id']!r} has no record")
        yield record, row


def load_tokenizer(model_dir: str | os.PathLike):
    """The meta RM's tokenizer: truncates on the left (keeps the judgment) and pads with EOS where it has no pad."""
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
    tokenizer = load_tokenizer(model_dir)
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


def trained_max_length(model_dir: str | os.PathLike) -> int:
    """The ``max_length`` the meta RM in ``model_dir`` was trained with (``meta_rm.json``), else 4096."""
    info = Path(model_dir) / META_RM_FILE
    trained = json.loads(info.read_text()).get("settings", {}) if info.exists() else {}
    return int(trained.get("max_length", DEFAULT_MAX_LENGTH))


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


def score_judgments(
    meta_rm: str | os.PathLike | tuple,
    trajectories: Sequence[tuple[Record, Mapping[str, Any]]],
    batch_size: int = 8,
    max_length: int = DEFAULT_MAX_LENGTH,
    **text_options: Any,
) -> list[float]:
    """The meta RM's logit for each ``(record, row)`` trajectory, in order.

    ``meta_rm`` is the meta RM's directory, or the ``(model, tokenizer)`` of ``load_meta_rm`` to score several
    sets on one loaded model (nothing is loaded when there is nothing to score). ``text_options`` are those of
    ``meta_rm_text`` and must describe how the rows were sampled. A record may be any object with a ``Record``'s
    prompt fields (``spct.judging.Query``).
    """
    if not trajectories:
        return []
    texts = [meta_rm_text(record, row, **text_options) for record, row in trajectories]
    model, tokenizer = load_meta_rm(meta_rm) if isinstance(meta_rm, (str, os.PathLike)) else meta_rm
    return batched_logits(model, tokenizer, texts, batch_size, max_length, "meta RM scores")


def score_trajectories(
    model_dir: str | os.PathLike | tuple,
    records: Sequence[Record],
    rows: Sequence[Mapping[str, Any]],
    batch_size: int = 8,
    max_length: int = DEFAULT_MAX_LENGTH,
    **text_options: Any,
) -> dict[tuple[str, int], float]:
    """The meta RM's logit for every sampled (non-greedy, non-hinted) judgment row, keyed ``(item_id, int sample)``.

    ``model_dir`` is the meta RM's directory, or the ``(model, tokenizer)`` of ``load_meta_rm`` to score several
    benchmarks on one loaded model. The keys are what
    ``spct.evaluation.scaling.scaling_metrics(..., meta_scores=...)`` looks up. ``text_options`` are those
    of ``meta_rm_text`` and must describe how these rows were sampled (e.g. ``variant="no_principles"``).
    """
    trajectories = list(sampled_trajectories(records, rows))
    logits = score_judgments(model_dir, trajectories, batch_size, max_length, **text_options)
    return {(record.id, int(row["sample"])): value for (record, row), value in zip(trajectories, logits)}


def write_meta_scores(
    meta_rm_dir: str | os.PathLike,
    benchmarks: Mapping[str, tuple[Any, Any, Any]],
    judge_config: Mapping[str, Any],
    max_length: int,
) -> None:
    """The meta_scores stage's work: every sampled judgment of every benchmark ``{name: (items_path,
    judgments_path, out_path)}`` scored on one loaded meta RM, one JSON file per benchmark."""
    meta_rm = load_meta_rm(meta_rm_dir)
    for name, (items_path, judgments_path, out_path) in benchmarks.items():
        start = time.perf_counter()
        scores = score_trajectories(
            meta_rm,
            read_records(items_path),
            read_judgments(judgments_path),
            max_length=max_length,
            **text_options(judge_config, judge_config.get("single_score_range", (1, 10))),
        )
        rows = [{"item_id": i, "sample": sample, "score": score} for (i, sample), score in sorted(scores.items())]
        write_json_atomic(Path(out_path), {"meta_rm": str(meta_rm_dir), "scores": rows})
        log.info("%s: %d trajectories scored in %.1f s", name, len(rows), time.perf_counter() - start)


def heldout_metrics(logits: Sequence[float], labels: Sequence[float]) -> dict[str, Any]:
    """Accuracy at probability 0.5 and ROC-AUC of the meta RM's held-out ``logits`` against their 0/1 ``labels``
    (``heldout_auc_note`` says why an AUC is missing)."""
    from spct.evaluation.official import roc_auc  # lazily: scoring alone never needs it

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

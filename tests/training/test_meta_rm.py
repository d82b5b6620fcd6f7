"""Meta RM: Eq. 10 labels, trajectory-ordered inputs, item-level split, training (resumable) and scoring."""

from __future__ import annotations

import json

import pytest

from spct.evaluation.scaling import scaling_metrics
from spct.grm import apply_permutation, format_scores, sample_permutation
from spct.records import Record
from spct.sampling.judgments import GREEDY, HINTED
from spct.training.meta_rm import label_trajectories, split_by_item, train_meta_rm
from spct.training.meta_rm_scoring import META_RM_FILE, meta_rm_text, score_trajectories

K = 4
SEED = 0


def make_records() -> list[Record]:
    def rec(item_id, responses, best=None, label=None):
        return Record(
            id=item_id,
            source="toy",
            subset="toy",
            split="train",
            prompt=f"Question about {item_id}?",
            responses=responses,
            best=best,
            label=label,
        )

    return [
        rec("pair/a", ["alpha one", "beta two"], best=0),
        rec("pair/b", ["gamma three", "delta four"], best=1),
        rec("list/c", ["epsilon five", "zeta six", "eta seven"], best=2),
        rec("pair/f", ["theta eight", "iota nine"], best=0),
        rec("single/d", ["kappa ten"], label=1),
        rec("single/e", ["lambda eleven"], label=0),
    ]


def scores_for(record: Record, kind: str) -> list[int] | None:
    """Scores in ORIGINAL order: "right" (best strictly on top), "wrong", "tie" (best tied on top) or invalid."""
    if kind == "invalid":
        return None
    if record.n == 1:
        return [record.label] if kind in ("right", "tie") else [1 - record.label]
    scores = [3] * record.n
    if kind == "right":
        scores[record.best] = 8
    elif kind == "wrong":
        scores[(record.best + 1) % record.n] = 8
    else:  # tie at the top
        scores[record.best] = 8
        scores[(record.best + 1) % record.n] = 8
    return scores


# sample index -> kind; the greedy row is "right" and must be left out of the meta RM data.
KINDS = {0: "right", 1: "wrong", 2: "tie", 3: "invalid"}


def make_row(record: Record, sample, kind: str) -> dict:
    perm = sample_permutation(record.n, SEED, record.id, sample)
    scores = scores_for(record, kind)
    if scores is None:
        text = "Analysis: the responses ramble and no score line follows"
    else:
        shown = apply_permutation(scores, perm)
        text = (
            "Specific Criteria: accuracy (weight 0.7), clarity (weight 0.3).\n"
            f"Analysis: Response 1 is judged first.\nScores: {format_scores(shown)}"
        )
    return {
        "item_id": record.id,
        "sample": sample,
        "n": record.n,
        "permutation": list(perm),
        "scores": scores,
        "valid": scores is not None,
        "invalid_reason": None if scores is not None else "missing",
        "principles": None,
        "critique": None,
        "text": text,
        "num_tokens": 20,
        "forced": False,
    }


def make_rows(records: list[Record]) -> list[dict]:
    rows = []
    for record in records:
        rows.append(make_row(record, GREEDY, "right"))
        rows += [make_row(record, s, KINDS[s]) for s in range(K)]
    return rows


@pytest.fixture(scope="module")
def data():
    records = make_records()
    rows = make_rows(records)
    return records, rows, label_trajectories(records, rows)


def test_labels_follow_eq10_ties_wrong_invalid_zero(data):
    records, rows, examples = data
    assert len(examples) == len(records) * K  # greedy rows left out
    assert all(ex["sample"] != GREEDY and isinstance(ex["sample"], int) for ex in examples)
    labels = {(ex["item_id"], ex["sample"]): ex["label"] for ex in examples}
    for record in records:
        assert labels[(record.id, 0)] == 1.0  # best strictly on top / single score equals label
        assert labels[(record.id, 1)] == 0.0  # wrong
        # a tie at the top is wrong by Eq. 10; singles have no tie: sample 2 repeats "right" for them
        assert labels[(record.id, 2)] == (1.0 if record.n == 1 else 0.0)
        assert labels[(record.id, 3)] == 0.0  # invalid: never correct


def test_hinted_rows_are_left_out_and_text_options_reach_the_prompt():
    records = make_records()
    single = next(r for r in records if r.n == 1)
    rows = [make_row(single, 0, "right"), make_row(single, HINTED, "right")]
    examples = label_trajectories(records, rows, variant="no_principles", single_score_range=(0, 1))
    assert [ex["sample"] for ex in examples] == [0]
    prompt_part = examples[0]["text"].split(rows[0]["text"])[0]
    assert "between 0 and 1" in prompt_part and "Specific Criteria" not in prompt_part
    pair_text = meta_rm_text(records[0], make_row(records[0], 0, "right"), single_score_range=(0, 1))
    assert "between 1 and 10" in pair_text  # pairs keep score_range


def test_invalid_row_with_leftover_scores_is_still_zero():
    record = make_records()[0]
    row = make_row(record, 0, "right")
    row["valid"] = False  # e.g. scores out of range: the stored list must not count
    assert label_trajectories([record], [row])[0]["label"] == 0.0


def test_unknown_item_is_a_clear_error():
    records = make_records()
    row = make_row(records[0], 0, "right") | {"item_id": "nowhere"}
    with pytest.raises(ValueError, match="no record"):
        label_trajectories(records, [row])


def test_text_shows_the_trajectorys_order_and_ends_with_its_judgment(data, tiny_model_dir):
    from transformers import AutoTokenizer

    records, rows, _ = data
    record = next(r for r in records if r.n == 3)
    row = next(r for r in rows if r["item_id"] == record.id and r["permutation"] != sorted(r["permutation"]))
    text = meta_rm_text(record, row)
    positions = [text.index(response) for response in record.responses]
    shown_order = sorted(range(record.n), key=lambda i: positions[i])
    assert shown_order == row["permutation"]  # shown[i] = original[perm[i]]
    assert text.endswith(row["text"])
    assert "Specific Criteria" in text.split(row["text"])[0]  # the principles prompt variant by default
    assert "Specific Criteria" not in meta_rm_text(record, row, "no_principles").split(row["text"])[0]

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.truncation_side = "left"
    limit = len(tokenizer(row["text"])["input_ids"]) + 8  # room for the judgment and a little prompt
    full = tokenizer(text)["input_ids"]
    ids = tokenizer(text, truncation=True, max_length=limit)["input_ids"]
    assert len(full) > 2 * limit and len(ids) == limit
    decoded = tokenizer.decode(ids)
    assert decoded.endswith(row["text"]) and not text.startswith(decoded[:20])  # the prompt's start went


def test_split_by_item_never_splits_an_item_and_is_deterministic(data):
    _, _, examples = data
    train, held = split_by_item(examples, 0.34, seed=3)
    assert {e["item_id"] for e in train}.isdisjoint({e["item_id"] for e in held})
    assert len(train) + len(held) == len(examples)
    assert len({e["item_id"] for e in held}) == 2  # round(0.34 * 6)
    again = split_by_item(list(reversed(examples)), 0.34, seed=3)
    assert {e["item_id"] for e in again[1]} == {e["item_id"] for e in held}
    others = {frozenset(e["item_id"] for e in split_by_item(examples, 0.34, seed=s)[1]) for s in range(8)}
    assert len(others) > 1  # the seed matters
    assert split_by_item(examples, 0.0, seed=3)[1] == []
    assert len({e["item_id"] for e in split_by_item(examples, 0.01, seed=3)[1]}) == 1  # at least one item
    with pytest.raises(ValueError, match="eval_fraction"):
        split_by_item(examples, 1.0, seed=3)


def test_train_rejects_empty_and_single_class_data(data, tiny_model_dir, tmp_path):
    _, _, examples = data
    with pytest.raises(ValueError, match="no meta RM training examples"):
        train_meta_rm(tiny_model_dir, [], tmp_path / "m")
    wrong_only = [ex for ex in examples if ex["label"] == 0.0]
    with pytest.raises(ValueError, match="all|every one"):
        train_meta_rm(tiny_model_dir, wrong_only, tmp_path / "m", eval_fraction=0.0)


def _tensors(model_dir):
    from safetensors.torch import load_file

    return load_file(str(next(model_dir.glob("*.safetensors"))))


@pytest.fixture(scope="module")
def trained(data, tiny_model_dir, tmp_path_factory):
    """A seq-cls copy of the tiny model (so the head's starting weights are known), trained for 4 steps."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = tmp_path_factory.mktemp("meta-base") / "base"
    torch.manual_seed(1)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1)
    model.save_pretrained(base)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(base)
    out = tmp_path_factory.mktemp("meta-out") / "meta_rm"
    metrics = train_meta_rm(
        base,
        data[2],
        out,
        learning_rate=1e-3,
        per_device_batch_size=4,
        max_steps=4,
        max_length=128,
        eval_fraction=0.34,
        save_steps=2,
        logging_steps=1,
    )
    return base, out, metrics


@pytest.mark.slow
def test_train_changes_parameters_and_writes_the_model(trained):
    base, out, metrics = trained
    before, after = _tensors(base), _tensors(out)
    for name in ("score.weight", "model.layers.0.self_attn.q_proj.weight"):
        assert not before[name].equal(after[name]), f"{name} did not change"
    assert (out / "config.json").exists() and (out / "tokenizer_config.json").exists()
    assert len(json.loads((out / "config.json").read_text())["id2label"]) == 1  # num_labels=1 (not saved in v5)
    saved = json.loads((out / "meta_rm.json").read_text())
    assert saved["metrics"] == metrics and saved["settings"]["learning_rate"] == 1e-3
    assert metrics["global_step"] == 4 and metrics["resumed_from_step"] is None
    assert metrics["train_loss"] > 0
    assert metrics["heldout_auc"] is not None or metrics["heldout_auc_note"]
    assert metrics["heldout_auc"] is None or 0.0 <= metrics["heldout_auc"] <= 1.0
    counts = [metrics[f"{s}_{c}"] for s in ("train", "heldout") for c in ("positives", "negatives")]
    assert sum(counts) == 6 * K
    assert metrics["pos_weight"] == metrics["train_negatives"] / metrics["train_positives"]
    assert not out.with_name("meta_rm.tmp").exists()


@pytest.mark.slow
def test_rerun_after_a_kill_resumes_from_the_checkpoint(data, tiny_model_dir, tmp_path, monkeypatch):
    import spct.training.meta_rm as meta_rm

    published = []

    def killed_before_publish(trainer, out_dir, files):
        published.append(json.loads(files[META_RM_FILE]))
        raise RuntimeError("killed before publishing")

    out = tmp_path / "meta_rm"
    kwargs = dict(per_device_batch_size=4, max_length=96, eval_fraction=0.34, save_steps=1, logging_steps=1)
    monkeypatch.setattr(meta_rm, "publish_model_dir", killed_before_publish)
    for max_steps in (2, 4):
        with pytest.raises(RuntimeError, match="killed"):
            train_meta_rm(tiny_model_dir, data[2], out, max_steps=max_steps, **kwargs)
    ckpts = out.with_name("meta_rm.checkpoints")
    first, second = (run["metrics"] for run in published)
    assert first["global_step"] == 2 and first["resumed_from_step"] is None
    # the rerun with more steps continued the same run (max_steps is not part of its key)
    assert second["resumed_from_step"] == 2 and second["global_step"] == 4
    state = json.loads((ckpts / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    logged = [entry["step"] for entry in state["log_history"] if "loss" in entry]
    assert logged == [1, 2, 3, 4]  # steps 1-2 came from the first call's checkpoint, not a fresh start
    monkeypatch.undo()
    # a checkpoint that already reached max_steps is used as is (the Trainer alone would take a 5th step)
    again = train_meta_rm(tiny_model_dir, data[2], out, max_steps=4, **kwargs)
    assert again["resumed_from_step"] == 4 and again["global_step"] == 4 and again["train_loss"] > 0
    saved = json.loads((out / "meta_rm.json").read_text())
    assert saved["metrics"]["global_step"] == 4
    # the history spans both calls, with the batches' train accuracy beside the loss at every logged step
    assert [row["step"] for row in saved["history"]] == [1, 2, 3, 4]
    assert all(0.0 <= row["train_accuracy"] <= 1.0 and row["loss"] > 0 for row in saved["history"])
    assert set(saved["curve_summary"]) == {"loss", "accuracy"} and (out / "training_curves.png").is_file()
    assert not ckpts.exists()  # removed once the final model is in place: a later call starts afresh
    third = train_meta_rm(tiny_model_dir, data[2][:-1], out, max_steps=1, **kwargs)
    assert third["resumed_from_step"] is None and third["global_step"] == 1


@pytest.mark.slow
def test_held_out_with_one_class_gives_no_auc_and_says_why(data, tiny_model_dir, tmp_path):
    _, _, examples = data
    # relabel the one held-out item's trajectories as all wrong: the held-out split then has a single class
    held_item = split_by_item(examples, 0.01, seed=0)[1][0]["item_id"]
    one_class = [ex | {"label": 0.0} if ex["item_id"] == held_item else ex for ex in examples]
    metrics = train_meta_rm(
        tiny_model_dir,
        one_class,
        tmp_path / "m",
        max_steps=1,
        per_device_batch_size=4,
        max_length=64,
        eval_fraction=0.01,
        balance_classes=False,
    )
    assert metrics["heldout_auc"] is None and "both classes" in metrics["heldout_auc_note"]
    assert metrics["heldout_accuracy"] is not None and metrics["pos_weight"] is None


@pytest.mark.slow
def test_scores_cover_every_sampled_row_repeat_and_feed_metarm(data, trained):
    records, rows, _ = data
    _, out, _ = trained
    scores = score_trajectories(out, records, rows, batch_size=3, max_length=128)
    expected = {(r["item_id"], int(r["sample"])) for r in rows if r["sample"] != GREEDY}
    assert set(scores) == expected
    assert all(isinstance(v, float) for v in scores.values())
    assert score_trajectories(out, records, rows, batch_size=3, max_length=128) == scores

    table = scaling_metrics(records, rows, ks=[2, K], repeats=2, meta_scores=scores)
    settings = {row["setting"] for row in table}
    assert {"metarm@2", f"metarm@{K}", "voting@2", "greedy"} <= settings
    meta_full = next(row for row in table if row["setting"] == f"metarm@{K}")
    assert meta_full["accuracy"] is not None and meta_full["draws"] == 2


@pytest.mark.slow
def test_no_held_out_split_trains_and_reports_no_auc(data, tiny_model_dir, tmp_path):
    _, _, examples = data
    metrics = train_meta_rm(
        tiny_model_dir,
        examples,
        tmp_path / "m",
        max_steps=1,
        per_device_batch_size=4,
        max_length=64,
        eval_fraction=0.0,
    )
    assert metrics["heldout_examples"] == 0 and metrics["heldout_auc"] is None
    assert (tmp_path / "m" / "meta_rm.json").is_file()


@pytest.mark.slow
def test_scoring_model_is_bf16_where_the_hardware_has_it_with_an_fp32_head(data, trained):
    """bf16 scoring (2.4x fp32's rate on this CPU) must rank like fp32: the head stays fp32, logits stay close."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from spct.device import cpu_has_bf16
    from spct.training.meta_rm_scoring import batched_logits, load_meta_rm

    _, out, _ = trained
    model, tokenizer = load_meta_rm(out)
    body = model.model.layers[0].self_attn.q_proj.weight.dtype
    assert body == (torch.bfloat16 if cpu_has_bf16() or torch.cuda.is_available() else torch.float32)
    assert model.score.weight.dtype == torch.float32
    reference = AutoModelForSequenceClassification.from_pretrained(out, dtype=torch.float32)
    reference.config.pad_token_id = tokenizer.pad_token_id
    texts = [f"judgment {i}: " + "the first response is better. " * (i + 1) for i in range(6)]
    fast = batched_logits(model, tokenizer, texts, 3, 128, "bf16")
    exact = batched_logits(reference, tokenizer, texts, 3, 128, "fp32")
    assert max(abs(a - b) for a, b in zip(fast, exact)) < 0.05 * max(1.0, max(abs(b) for b in exact))

"""TRL's fused LM head on a CPU projects only the labelled positions once ``score_labelled_positions_only`` is set,
and gives the same per-token log-probabilities and entropies as TRL's own every-position path and as plain logits."""

from __future__ import annotations

import pytest
import torch

from spct.training.trl_cpu import score_labelled_positions_only

trl_utils = pytest.importorskip("trl.trainer.utils")
# TRL's own switch (trl.trainer.utils imports it from here); the training stages replace the imported name.
trl_default = pytest.importorskip("trl.kernels.chunked_logprob")._use_triton


def fused_outputs(model_dir, monkeypatch, compact: bool):
    """Per-token log-probs and entropies of a prompt + completion batch through TRL's fused head, and the number of
    positions the head projected."""
    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(trl_utils, "_use_triton", trl_default)  # TRL's default, whatever ran before; restored after
    if compact:
        assert score_labelled_positions_only()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    trl_utils.add_fused_lm_head(model, temperature=0.7, outputs=("log_probs", "entropy"))
    projected = []
    original_apply = trl_utils._ChunkedLogProbFunction.apply

    def spy(hidden, *args):
        projected.append(hidden.shape[0])
        return original_apply(hidden, *args)

    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", spy)
    input_ids, attention_mask, labels = batch(model.config.vocab_size)
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True)
    return out.log_probs, out.entropy, projected[0], model, (input_ids, attention_mask, labels)


def batch(vocab_size: int):
    """Two left-padded rows: a 12-token prompt (unlabelled) then a 5-token completion (labelled)."""
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, vocab_size, (2, 17), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :3] = 0  # the second row is shorter: left padding
    labels = torch.full_like(input_ids, -100)
    labels[:, 12:] = input_ids[:, 12:]
    return input_ids, attention_mask, labels


def test_cpu_head_projects_only_labelled_positions_with_the_same_results(tiny_model_dir, monkeypatch):
    every_logp, every_entropy, every_count, _, _ = fused_outputs(tiny_model_dir, monkeypatch, compact=False)
    logp, entropy, count, model, (input_ids, attention_mask, labels) = fused_outputs(
        tiny_model_dir, monkeypatch, compact=True
    )
    assert every_count == 2 * 16  # TRL's CPU default: every shifted position of both rows
    assert count == 2 * 5  # only the completion tokens
    torch.testing.assert_close(logp, every_logp)
    torch.testing.assert_close(entropy, every_entropy)
    # And both are the plain log-softmax of the model's own logits at temperature 0.7.
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1] / 0.7
    reference = torch.log_softmax(logits, -1).gather(-1, labels[:, 1:].clamp(min=0).unsqueeze(-1)).squeeze(-1)
    labelled = labels[:, 1:] != -100
    torch.testing.assert_close(logp[labelled], reference[labelled])
    assert (logp[~labelled] == 0).all()


def test_switch_is_idempotent(monkeypatch):
    monkeypatch.setattr(trl_utils, "_use_triton", trl_default)
    assert not trl_default(torch.device("cpu"))
    assert score_labelled_positions_only()
    first = trl_utils._use_triton
    assert score_labelled_positions_only()
    assert trl_utils._use_triton is first
    assert first(torch.device("cpu"))

"""Batched sampling with transformers: left padding, length-sorted batches, CPU or GPU, a tqdm bar."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, LogitsProcessorList

from spct.sampling.base import TOO_LONG, Generation, fitting_prompts, render_chat
from spct.sampling.score_format import ScoreFormat, ScoreFormatLogitsProcessor, ScoreFormatVocab


class TransformersSampler:
    """``Sampler`` on a transformers causal LM.

    Args:
        model_path (`str`): checkpoint directory or hub id.
        batch_size (`int`, *optional*, defaults to `16`): sequences (prompts x n) decoded together.
        device (`str`, *optional*, defaults to `"auto"`): `"cuda"` when available, else `"cpu"`.
        dtype (`str`, *optional*, defaults to `"auto"`): `"float32"` on CPU, `"bfloat16"` on GPU.
        max_model_len (`int`, *optional*): context length, prompt plus new tokens; defaults to the model's
            `max_position_embeddings`. A prompt that leaves too little room is not sent (``TOO_LONG``).
    """

    def __init__(
        self,
        model_path: str,
        *,
        batch_size: int = 16,
        device: str = "auto",
        dtype: str = "auto",
        max_model_len: int | None = None,
    ):
        device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        tokenizer = AutoTokenizer.from_pretrained(model_path, padding_side="left")
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype)).to(device)
        model.eval()
        self._use(model, tokenizer, batch_size, max_model_len)

    @classmethod
    def from_model(cls, model, tokenizer, *, batch_size: int = 16, max_model_len: int | None = None):
        """A sampler on an already loaded model (e.g. the policy inside a trainer), on the model's device."""
        sampler = cls.__new__(cls)
        sampler._use(model, tokenizer, batch_size, max_model_len)
        return sampler

    def _use(self, model, tokenizer, batch_size: int, max_model_len: int | None) -> None:
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # batched decoding continues every row from its last prompt token
        self.model, self.tokenizer = model, tokenizer
        self.device = str(model.device)
        self.batch_size = batch_size
        self.max_model_len = max_model_len or getattr(model.config, "max_position_embeddings", None)
        self._vocab: ScoreFormatVocab | None = None

    def score_line_budget(self, fmt: ScoreFormat) -> int:
        """Tokens the forced score line of ``fmt`` can take at most (template, scores, brace, EOS)."""
        return _score_line_budget(self.score_vocab, fmt)

    @property
    def score_vocab(self) -> ScoreFormatVocab:
        if self._vocab is None:
            self._vocab = ScoreFormatVocab(self.tokenizer)
        return self._vocab

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        *,
        temperature: float,
        max_new_tokens: int,
        score_formats: Sequence[ScoreFormat] | None = None,
        seed: int = 0,
        desc: str = "generate",
    ) -> list[list[Generation]]:
        if score_formats is not None and len(score_formats) != len(prompts):
            raise ValueError(f"got {len(score_formats)} score formats for {len(prompts)} prompts")
        if temperature <= 0 and n > 1:
            raise ValueError("greedy decoding (temperature 0) gives one sample per prompt; ask for n=1")
        # Identical prompts (e.g. two samples of a pair shown in the same order) share one prefill.
        texts = [render_chat(self.tokenizer, p) for p in prompts]
        slots: dict[tuple[str, ScoreFormat | None], list[int]] = {}
        for i, text in enumerate(texts):
            slots.setdefault((text, None if score_formats is None else score_formats[i]), []).append(i)
        unique = list(slots)
        lengths = [len(ids) for ids in self.tokenizer([t for t, _ in unique], add_special_tokens=False)["input_ids"]]
        results: list[list[Generation]] = [[] for _ in texts]
        fitting = self._fitting(unique, lengths, max_new_tokens)
        for u in set(range(len(unique))) - set(fitting):
            for i in slots[unique[u]]:
                results[i] = [TOO_LONG] * n
        # Longest first: similar lengths share a batch (less padding), and an out-of-memory shows up at once.
        order = sorted(fitting, key=lambda u: -lengths[u])
        with tqdm(total=sum(len(slots[unique[u]]) for u in order) * n, desc=desc, unit="sample") as bar:
            for batch in self._batches(order, [len(slots[unique[u]]) * n for u in range(len(unique))]):
                counts = [len(slots[unique[u]]) * n for u in batch]
                formats = None if score_formats is None else [unique[u][1] for u in batch]
                outputs = self._generate_batch(
                    [unique[u][0] for u in batch], counts, temperature, max_new_tokens, formats, seed + bar.n
                )
                for u, count in zip(batch, counts):
                    mine, outputs = outputs[:count], outputs[count:]
                    for j, i in enumerate(slots[unique[u]]):
                        results[i] = mine[j * n : (j + 1) * n]
                bar.update(sum(counts))
        return results

    def _fitting(self, unique, lengths: list[int], max_new_tokens: int) -> list[int]:
        """Indices of the distinct prompts that leave room in the context for their whole token budget."""
        budgets = [
            max_new_tokens + (0 if fmt is None else _score_line_budget(self.score_vocab, fmt)) for _, fmt in unique
        ]
        return fitting_prompts(lengths, budgets, self.max_model_len)

    def _batches(self, order: list[int], rows: list[int]):
        """Group prompts so that each batch decodes at most ``batch_size`` rows (always at least one prompt)."""
        batch, size = [], 0
        for u in order:
            if batch and size + rows[u] > self.batch_size:
                yield batch
                batch, size = [], 0
            batch.append(u)
            size += rows[u]
        if batch:
            yield batch

    @torch.inference_mode()
    def _generate_batch(
        self,
        texts: list[str],
        counts: list[int],
        temperature: float,
        max_new_tokens: int,
        formats: list[ScoreFormat] | None,
        seed: int,
    ) -> list[Generation]:
        """Prefill each distinct prompt once, copy its KV cache to its ``count`` rows, then decode all rows."""
        torch.manual_seed(seed)
        inputs = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        rows = torch.repeat_interleave(
            torch.arange(len(texts), device=self.device), torch.tensor(counts, device=self.device)
        )
        input_ids, attention_mask = inputs["input_ids"][rows], inputs["attention_mask"][rows]
        prompt_length = input_ids.shape[1]
        cache = self._prefill(inputs["input_ids"], inputs["attention_mask"], rows)

        processors = LogitsProcessorList()
        guarantee = None
        if formats is not None:
            row_formats = [formats[int(r)] for r in rows]
            guarantee = ScoreFormatLogitsProcessor(
                self.score_vocab, row_formats, prompt_length, temperature, max_new_tokens, seed
            )
            processors.append(guarantee)
            max_new_tokens += max(_score_line_budget(self.score_vocab, f) for f in formats)
        sampling = dict(do_sample=True, temperature=temperature, top_p=1.0, top_k=0) if temperature > 0 else {}
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            past_key_values=cache,
            max_new_tokens=max_new_tokens,
            do_sample=temperature > 0,
            logits_processor=processors,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.score_vocab.stop_ids,
            **{k: v for k, v in sampling.items() if k != "do_sample"},
        )
        new_tokens = output[:, prompt_length:]
        generations = []
        for row in range(new_tokens.shape[0]):
            ids = _until_stop(new_tokens[row].tolist(), self.score_vocab.stop_ids)
            generations.append(
                Generation(
                    text=self.tokenizer.decode(ids, skip_special_tokens=True),
                    num_tokens=len(ids),
                    forced=bool(guarantee and guarantee.forced[row]),
                    token_ids=tuple(ids),
                )
            )
        return generations

    def _prefill(self, input_ids, attention_mask, rows) -> DynamicCache:
        """Run the prompts but their last token once; generate() then continues from the copied cache."""
        cache = DynamicCache(config=self.model.config)
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        self.model(
            input_ids=input_ids[:, :-1],
            attention_mask=attention_mask[:, :-1],
            position_ids=position_ids[:, :-1],
            past_key_values=cache,
            use_cache=True,
        )
        cache.reorder_cache(rows)
        return cache


def _score_line_budget(vocab: ScoreFormatVocab, fmt: ScoreFormat) -> int:
    """Tokens the forced template + the score body (``ScoreFormat.max_body_chars``) + EOS can take at most."""
    return len(vocab.template_after_budget) + fmt.max_body_chars() + 1


def _until_stop(ids: list[int], stop_ids: list[int]) -> list[int]:
    """Generated ids up to and including the first stop token (the rest is padding)."""
    stops = set(stop_ids)
    for i, token in enumerate(ids):
        if token in stops:
            return ids[: i + 1]
    return ids

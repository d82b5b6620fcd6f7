"""Judgment sampling: prompts per sample, stored rows in the record's order, and resume after a kill."""

from __future__ import annotations

import json

import pytest

from spct.grm import apply_permutation
from spct.grm.prompts import build_judge_prompt
from spct.records import Record
from spct.sampling import Generation
from spct.sampling.base import TOO_LONG
from spct.sampling.judgments import (
    GREEDY,
    CacheError,
    JudgeSettings,
    build_sample_prompt,
    cache_writer_lock,
    read_cache,
    run_judgments,
    sample_ids,
)


def make_records(count: int = 3) -> list[Record]:
    return [
        Record(
            id=f"toy/{i}",
            source="toy",
            subset="toy",
            split="eval",
            prompt=f"Question {i}?",
            responses=[f"right answer {i}", f"wrong answer {i}", f"other answer {i}"],
            best=0,
        )
        for i in range(count)
    ]


class ScriptedSampler:
    """A sampler that scores every response by a fixed rule: 9 for the text starting with "right", else 2.

    It reads the shown order back from the prompt, so the stored (un-shuffled) scores must come out as
    [9, 2, 2] whatever the shuffle. ``fail_after`` raises after that many calls, like a killed job.
    """

    def __init__(self, fail_after: int | None = None):
        self.calls = 0
        self.prompts: list[str] = []
        self.fail_after = fail_after

    def generate(self, prompts, n=1, *, temperature, max_new_tokens, score_formats=None, seed=0, desc=""):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        self.prompts += prompts
        out = []
        for prompt in prompts:
            shown = [line for line in prompt.splitlines() if "answer" in line and not line.startswith("[")]
            scores = ", ".join("9" if s.startswith("right") else "2" for s in shown)
            out.append([Generation(f"Analysis: t={temperature}\nScores: \\boxed{{{scores}}}", 5, False)] * n)
        return out


def test_sample_prompts_shuffle_per_sample_and_show_all_responses():
    record = make_records(1)[0]
    settings = JudgeSettings()
    perms = set()
    for sample in sample_ids(8):
        prompt, perm = build_sample_prompt(record, sample, settings)
        assert prompt == build_judge_prompt(record.prompt, apply_permutation(record.responses, perm))
        perms.add(perm)
    assert len(perms) > 1  # shuffles differ across samples (position bias)


def test_greedy_shares_sample_zeros_prompt_and_every_sample_has_its_own_shuffle():
    """Greedy reuses sample 0's order, so the engine prefills that prompt once; the k samples stay shuffled apart."""
    records = [
        Record(id=f"list/{i}", source="toy", subset="toy", split="eval", prompt="Q?", responses=list("abcdef"), best=0)
        for i in range(4)
    ]
    settings = JudgeSettings()
    for record in records:
        greedy = build_sample_prompt(record, GREEDY, settings)
        assert greedy == build_sample_prompt(record, 0, settings)
        sampled = {build_sample_prompt(record, i, settings)[1] for i in range(8)}
        assert len(sampled) >= 6  # 720 orders of 6 responses: 8 draws nearly never repeat


@pytest.mark.parametrize(
    ("variant", "expect", "absent"),
    [("principles", "Specific Criteria:", None), ("no_principles", "Analysis:", "Specific Criteria:")],
)
def test_prompt_variant_reaches_the_prompt(variant, expect, absent):
    prompt, _ = build_sample_prompt(make_records(1)[0], 0, JudgeSettings(prompt_variant=variant))
    assert expect in prompt
    if absent:
        assert absent not in prompt


def test_reference_is_shown_only_when_asked():
    record = Record(
        id="r", source="s", subset="s", split="eval", prompt="2+2?", responses=["4"], label=1, reference="4"
    )
    assert "Reference Answer" not in build_sample_prompt(record, 0, JudgeSettings())[0]
    assert "Reference Answer" in build_sample_prompt(record, 0, JudgeSettings(use_reference=True))[0]


def test_rows_hold_unshuffled_scores_and_greedy_at_temperature_zero(tmp_path):
    records = make_records(2)
    counts = run_judgments(records, ScriptedSampler(), JudgeSettings(), 4, tmp_path / "c.jsonl", tmp_path / "o.jsonl")
    assert counts == {"cached": 0, "sampled": 10, "total": 10}
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [(row["item_id"], row["sample"]) for row in rows] == [(r.id, s) for r in records for s in sample_ids(4)]
    assert all(row["scores"] == [9, 2, 2] and row["valid"] for row in rows)
    assert all(("t=0.0" in row["text"]) == (row["sample"] == GREEDY) for row in rows)
    for row in rows:  # best_shown_at is where response 0 (the best) was displayed
        assert row["permutation"][row["best_shown_at"]] == 0


def test_killed_run_resumes_without_resampling(tmp_path):
    records = make_records(6)
    cache, out = tmp_path / "cache.jsonl", tmp_path / "out.jsonl"
    settings = JudgeSettings()
    with pytest.raises(KeyboardInterrupt):
        run_judgments(records, ScriptedSampler(fail_after=2), settings, 3, cache, out, chunk_size=4)
    assert not out.exists()  # the final output appears only when complete
    cached = read_cache(cache)
    assert 0 < len(cached) < 6 * 4

    # A torn last line (killed mid-write) is ignored, not fatal.
    with open(cache, "a") as f:
        f.write('{"item_id": "toy/5", "sam')
    resumed = ScriptedSampler()
    counts = run_judgments(records, resumed, settings, 3, cache, out, chunk_size=4)
    assert counts["cached"] == len(cached)
    assert counts["sampled"] == 6 * 4 - len(cached) == len(resumed.prompts)
    assert len([json.loads(line) for line in out.read_text().splitlines()]) == 6 * 4

    # A larger k_max samples only the new sample indices.
    more = ScriptedSampler()
    counts = run_judgments(records, more, settings, 5, cache, out, chunk_size=4)
    assert counts["sampled"] == 6 * 2 == len(more.prompts)


def test_a_corrupt_line_before_good_rows_is_an_error_not_a_cut(tmp_path):
    """Only a torn LAST line is a kill; a bad line with good rows after it names the file and line, and no good row
    after it is deleted."""
    records = make_records(2)
    cache, out = tmp_path / "cache.jsonl", tmp_path / "out.jsonl"
    run_judgments(records, ScriptedSampler(), JudgeSettings(), 1, cache, out)
    lines = cache.read_text().splitlines(keepends=True)
    lines.insert(1, "garbage\n")
    cache.write_text("".join(lines))
    before = cache.read_bytes()
    with pytest.raises(CacheError, match=r"cache\.jsonl, line 2: not a judgment row .*3 row\(s\) after it"):
        read_cache(cache)
    assert cache.read_bytes() == before  # nothing cut
    with pytest.raises(CacheError, match="line 2"):
        run_judgments(records, ScriptedSampler(), JudgeSettings(), 1, cache, out)


def test_one_writer_per_cache(tmp_path):
    """A second process sampling into the same cache fails at once instead of interleaving appends."""
    records = make_records(1)
    cache, out = tmp_path / "cache.jsonl", tmp_path / "out.jsonl"
    # Another writer holds the lock (flock locks an open file, so a second open in this process counts too).
    held, refused = cache_writer_lock(cache), pytest.raises(CacheError, match="another process is sampling into")
    with held, refused:
        run_judgments(records, ScriptedSampler(), JudgeSettings(), 1, cache, out)
    assert run_judgments(records, ScriptedSampler(), JudgeSettings(), 1, cache, out)["sampled"] == 2  # released


def test_fingerprint_changes_with_settings_that_change_samples(tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    base = JudgeSettings()
    before = base.fingerprint(model)
    assert before == JudgeSettings().fingerprint(model)
    assert before != JudgeSettings(temperature=0.7).fingerprint(model)
    assert before != JudgeSettings(prompt_variant="no_principles").fingerprint(model)
    assert before != JudgeSettings(guarantee_score_format=True).fingerprint(model)
    (model / "model.safetensors").write_text("retrained")  # a new checkpoint in the same place
    assert base.fingerprint(model) != before
    assert base.fingerprint(model) != base.fingerprint(tmp_path / "other-model")


class ContextLimitedSampler(ScriptedSampler):
    """``ScriptedSampler`` that returns ``TOO_LONG`` for prompts holding ``too_long_marker``."""

    def __init__(self, too_long_marker: str | None):
        super().__init__()
        self.marker = too_long_marker

    def generate(self, prompts, n=1, **kwargs):
        out = super().generate(prompts, n, **kwargs)
        return [[TOO_LONG] * n if self.marker and self.marker in p else gens for p, gens in zip(prompts, out)]


def test_too_long_prompts_are_invalid_rows_and_retried_on_the_next_run(tmp_path):
    records = make_records(3)
    cache, out = tmp_path / "cache.jsonl", tmp_path / "out.jsonl"
    run_judgments(records, ContextLimitedSampler("Question 1?"), JudgeSettings(), 2, cache, out)
    rows = {(row["item_id"], row["sample"]): row for row in map(json.loads, out.read_text().splitlines())}
    for (item, _), row in rows.items():
        too_long = item == "toy/1"
        assert row["valid"] is not too_long
        assert row["invalid_reason"] == ("too_long" if too_long else None)
        assert (row["scores"] is None) is too_long

    # A larger context next time: only the too_long rows are sampled again, and they are now valid.
    retry = ContextLimitedSampler(None)
    counts = run_judgments(records, retry, JudgeSettings(), 2, cache, out)
    assert counts["sampled"] == 3 == len(retry.prompts)
    assert all("Question 1?" in p for p in retry.prompts)
    assert all(json.loads(line)["valid"] for line in out.read_text().splitlines())

"""configs/evidence.yaml and configs/gpu-small.yaml are complete on their own and as large as their comments say:
the evidence set holds the items the power calculation asks for, k reaches 16 (CPU) or 32 (GPU), and the CPU run's
budget from measured unit costs stays near 2.5 hours. Nothing runs: the files are read and checked."""

from __future__ import annotations

import math
import re
from pathlib import Path
from statistics import NormalDist

import pytest
import yaml

from spct.config import cross_key_errors, load_config

REPO = Path(__file__).resolve().parents[1]
EVIDENCE_PATH = REPO / "configs" / "evidence.yaml"
GPU_PATH = REPO / "configs" / "gpu-small.yaml"


def paired_n(psi: float, delta: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Items for a paired (McNemar) comparison of two 0/1 outcomes: psi = share of discordant items, delta = the
    difference to detect (Connor 1987), two-sided alpha."""
    z = NormalDist().inv_cdf
    root = z(1 - alpha / 2) * math.sqrt(psi) + z(power) * math.sqrt(psi - delta**2)
    return math.ceil(root**2 / delta**2)


def test_paired_n_matches_the_textbook_values():
    # psi = 0.5, delta = 0.1: (1.96 x 0.7071 + 0.8416 x 0.7)^2 / 0.01 = 390.08
    assert paired_n(0.5, 0.1) == 391
    assert paired_n(0.35, 0.1) == 273
    assert paired_n(0.35, 0.2) < paired_n(0.35, 0.1) < paired_n(0.5, 0.1)


@pytest.mark.parametrize("path", [EVIDENCE_PATH, GPU_PATH], ids=["evidence", "gpu-small"])
def test_config_is_valid_and_complete_on_its_own(path):
    config = load_config(path)  # the schema, with no config.yaml merged under it
    assert cross_key_errors(config) == []
    # Every section of the embedded default is spelled out: a --configfile is not merged over config.yaml.
    default = yaml.safe_load((REPO / "config.yaml").read_text())
    assert set(default) <= set(config), sorted(set(default) - set(config))
    assert config["experiment"] not in {"embedded-default", default["experiment"]}


@pytest.mark.parametrize("path", [EVIDENCE_PATH, GPU_PATH], ids=["evidence", "gpu-small"])
def test_grpo_sees_each_rl_prompt_once(path):
    grpo = load_config(path)["grpo"]
    groups_per_step = grpo["per_device_train_batch_size"] // grpo["num_generations"]
    assert grpo["per_device_train_batch_size"] % grpo["num_generations"] == 0  # whole groups of G
    assert grpo["max_items"] == grpo["max_steps"] * groups_per_step


def test_evidence_set_is_as_large_as_its_power_calculation():
    config = load_config(EVIDENCE_PATH)
    text = EVIDENCE_PATH.read_text()
    needed = paired_n(0.35, 0.10)
    # The comment's arithmetic is the test's.
    assert re.search(rf"->\s+n = {needed}\b", text)
    assert "psi = 0.35" in text and "alpha = 0.05" in text and "power 0.8" in text
    for name, bench in config["benchmarks"].items():
        assert bench["max_items"] >= needed, name
    assert config["judge"]["k_max"] == max(config["metrics"]["ks"]) == 16
    assert config["metrics"]["ks"] == [1, 2, 4, 8, 16]


def test_gpu_small_sizes():
    config = load_config(GPU_PATH)
    assert config["judge"]["k_max"] == max(config["metrics"]["ks"]) == 32
    assert config["sampler"]["backend"] == "vllm"
    assert config["rejective_sampling"]["max_items"] is None  # every bundled training item
    # Its comment: human-preference is above the n of the conservative psi = 0.5.
    assert config["benchmarks"]["human-preference"]["max_items"] >= paired_n(0.5, 0.10)
    assert "UNTESTED ON A GPU" in GPU_PATH.read_text()


# Unit costs on a quiet 2-core machine, the sources named in docs/scaling.md ("The evidence run"): README "Measured"
# (make run of d64d127, benchmark-sampler) and the judge / meta-score logs of a full embedded run.
JUDGMENTS_PER_S = 7.5
JUDGE_JOB_FIXED_S = 40
META_SCORES_PER_S = 4.1
REJECTIVE_SAMPLES_PER_S = 5.15
HINTED_SHARE = 0.7  # hinted samples per item (45 of 64 items in the measured run)
RFT_S_PER_EXAMPLE = 5.5
GRPO_S_PER_STEP_OF_8 = 50  # 64-token rollouts
META_RM_S_PER_EXAMPLE = 1.1
JOBS_JUDGED, RFT_MODELS, GRPO_MODELS, VARIANTS = 7, 4, 5, 2


def evidence_budget_s(config: dict) -> dict[str, float]:
    """The per-stage wall budget of `all ablations` (the table in docs/scaling.md), from the config's sizes."""
    items = sum(b["max_items"] for b in config["benchmarks"].values())
    k = config["judge"]["k_max"]
    n_train = config["rejective_sampling"]["max_items"]
    rft, grpo, meta = config["rft"], config["grpo"], config["meta_rm"]
    samples = n_train * (config["rejective_sampling"]["n_rft"] + HINTED_SHARE)
    grpo_step = GRPO_S_PER_STEP_OF_8 * grpo["per_device_train_batch_size"] / 8
    return {
        "data and base model": 30,
        "rejective_sampling": VARIANTS * (samples / REJECTIVE_SAMPLES_PER_S + 20),
        "rft": RFT_MODELS * (25 + RFT_S_PER_EXAMPLE * rft["max_steps"] * rft["per_device_train_batch_size"]),
        "grpo": GRPO_MODELS * (20 + grpo_step * grpo["max_steps"]),
        "meta_rm_samples": 15 + n_train * meta["n_samples"] / 6.2,
        "meta_rm": 20 + META_RM_S_PER_EXAMPLE * meta["max_steps"] * meta["per_device_train_batch_size"],
        "judge": JOBS_JUDGED * (items * (k + 1) / JUDGMENTS_PER_S + JUDGE_JOB_FIXED_S),
        "meta_scores": 15 + items * k / META_SCORES_PER_S,
        "metrics and reports": JOBS_JUDGED * 15 + 6 * 5,
    }


def test_evidence_budget_is_about_two_and_a_half_hours():
    budget = evidence_budget_s(load_config(EVIDENCE_PATH))
    total_min = sum(budget.values()) / 60
    assert 120 <= total_min <= 160, budget  # "about 2.5 hours", and not a run that could have been larger
    assert max(budget, key=budget.get) == "judge"  # evaluation, sized by the power calculation, is most of it

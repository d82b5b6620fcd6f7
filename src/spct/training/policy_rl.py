"""Policy RL with the trained GRM as the reward: TRL's GRPOTrainer on a policy, ``spct.reward.GRMReward`` as its
only reward, then a before/after comparison on held-out prompts judged by the same GRM.

The prompts are the user queries of the prepared training split (one per distinct prompt, in the stable hash
order of ``spct.data.selection.hash_ordered``): the first ``heldout_prompts`` are kept apart for the comparison, the
next ``num_prompts`` are trained on. The trainer is ``spct.training.grpo.train_grpo`` (checkpoints, resume, atomic
publish) with the GRM reward in place of Eq. 11; the policy generates freely (TRL's own rollouts).

Before/after: the base policy and the trained policy answer every held-out prompt greedily; the GRM judges the two
answers of a prompt together (one pair query, k samples, each showing them in its own order), so each prompt gives
both a reward before and after (``spct.reward.reward_from_scores`` on the pair's mean scores) and a win (1 when the
trained answer scores higher, 0.5 on a tie, 0 when lower).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spct.judging import Query
from spct.records import Record, write_json_atomic
from spct.reward import rewards_from_result

log = logging.getLogger(__name__)

COMMAND = "snakemake --workflow-profile workflow/profiles/default policy_rl"
OUTPUT_FILES = ("report.md", "reward_curve.png", "before_after.json")  # in the stage's folder, beside model/


@dataclass(frozen=True)
class PolicyRLConfig:
    """The ``policy_rl`` config section (CPU-sized on the embedded default; not a paper setting).

    Args:
        policy_model (`str`, *optional*): the policy to train (hub id or folder); None = the pipeline's base model.
        num_prompts (`int`, defaults to `8`): training prompts.
        heldout_prompts (`int`, defaults to `8`): prompts kept apart for the before/after comparison.
        max_prompt_chars (`int`, defaults to `1000`): longer prompts are skipped (CPU time).
        num_generations (`int`, defaults to `4`): GRPO group size G.
        per_device_train_batch_size (`int`, defaults to `8`): completions per step, a multiple of G.
        max_completion_length (`int`, defaults to `48`), max_steps (`int`, defaults to `4`),
        learning_rate (`float`, defaults to `1e-5`), beta (`float`, defaults to `0.04`), temperature (`float`,
        defaults to `1.0`), save_steps (`int`, defaults to `2`), seed (`int`, defaults to `0`).
        reward_mode (`str`, defaults to `"joint"`): ``joint`` judges a group's G completions in one list prompt,
            ``pointwise`` each alone.
        reward_k (`int`, defaults to `1`): sampled judgments per reward query (Voting@k).
        eval_k (`int`, defaults to `2`): sampled judgments per held-out pair.
        reward_url (`str`, *optional*): score through ``spct serve`` at this URL instead of in-process.
        use_vllm (`str`, defaults to `"auto"`): TRL's vLLM rollouts for the policy (on a GPU with vLLM).
    """

    policy_model: str | None = None
    num_prompts: int = 8
    heldout_prompts: int = 8
    max_prompt_chars: int = 1000
    num_generations: int = 4
    per_device_train_batch_size: int = 8
    max_completion_length: int = 48
    max_steps: int = 4
    learning_rate: float = 1e-5
    beta: float = 0.04
    temperature: float = 1.0
    save_steps: int = 2
    seed: int = 0
    reward_mode: str = "joint"
    reward_k: int = 1
    eval_k: int = 2
    reward_url: str | None = None
    use_vllm: str = "auto"


def split_prompts(records: Sequence[Record], config: PolicyRLConfig) -> tuple[list[str], list[str]]:
    """(training prompts, held-out prompts): distinct prompts of the training split, in hash order, the held-out
    ones first, so changing ``num_prompts`` never moves a prompt into the held-out set."""
    from spct.data.selection import hash_ordered

    seen: dict[str, None] = {}
    for record in hash_ordered(records):
        if record.prompt.strip() and len(record.prompt) <= config.max_prompt_chars:
            seen.setdefault(record.prompt, None)
    prompts = list(seen)
    heldout = prompts[: config.heldout_prompts]
    train = prompts[config.heldout_prompts : config.heldout_prompts + config.num_prompts]
    if len(train) < config.num_prompts or len(heldout) < config.heldout_prompts:
        raise ValueError(
            f"policy_rl: {len(prompts)} usable prompts (<= policy_rl.max_prompt_chars={config.max_prompt_chars} "
            f"characters) for heldout_prompts={config.heldout_prompts} + num_prompts={config.num_prompts}"
        )
    return train, heldout


def train_policy(
    policy_model: str,
    prompts: Sequence[str],
    reward,
    out_dir: Path,
    config: PolicyRLConfig,
    report_to,
    reward_key: dict[str, Any] | None = None,
):
    """GRPO on ``prompts`` with ``reward`` (a ``GRMReward``; ``reward_key`` says what defines it) as the only reward;
    resumes from ``<out_dir>.checkpoints``; returns ``train_grpo``'s summary (per-step rewards under ``steps``)."""
    from spct.training.grpo import GRPOStageConfig, train_grpo

    grpo = GRPOStageConfig(
        learning_rate=config.learning_rate,
        beta=config.beta,
        num_generations=config.num_generations,
        temperature=config.temperature,
        max_completion_length=config.max_completion_length,
        per_device_train_batch_size=config.per_device_train_batch_size,
        max_steps=config.max_steps,
        save_steps=config.save_steps,
        use_vllm=config.use_vllm,
        seed=config.seed,
    )
    rows = [{"prompt": [{"role": "user", "content": prompt}]} for prompt in prompts]
    return train_grpo(
        policy_model, rows, out_dir, grpo, report_to=report_to, reward_funcs=[reward], reward_key=reward_key
    )


def policy_answers(model_path: str | Path, prompts: Sequence[str], max_new_tokens: int, seed: int) -> list[str]:
    """Greedy answers of a policy to ``prompts`` (transformers: the policy is small and already on this device)."""
    from spct.sampling.transformers_backend import TransformersSampler

    sampler = TransformersSampler(str(model_path), batch_size=len(prompts))
    generations = sampler.generate(list(prompts), n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=seed)
    return [g[0].text for g in generations]


def before_after(prompts: Sequence[str], before: Sequence[str], after: Sequence[str], scorer) -> dict[str, Any]:
    """Judge each held-out prompt's (before, after) answers together: mean rewards and the trained policy's win
    rate (ties count half), with every prompt's row. Where training left the answer unchanged, the two copies are a
    tie (both get their mean reward): the judge's sampled scores of one text in two positions are noise, not a win."""
    queries = [Query(f"heldout-{i}", p, [b, a]) for i, (p, b, a) in enumerate(zip(prompts, before, after))]
    results = scorer.score(queries)
    rows = []
    for query, result in zip(queries, results):
        reward_before, reward_after = rewards_from_result(result, 2, scorer.score_range)
        identical = query.responses[0] == query.responses[1]
        if identical:  # the same answer: a tie, whatever the sampled scores of its two copies say
            reward_before = reward_after = (reward_before + reward_after) / 2
        win = 1.0 if reward_after > reward_before else 0.5 if reward_after == reward_before else 0.0
        rows.append(
            {
                "prompt": query.prompt,
                "before": query.responses[0],
                "after": query.responses[1],
                "reward_before": reward_before,
                "reward_after": reward_after,
                "win": win,
                "identical": identical,
                "valid_samples": result.get("valid_samples", 0),
            }
        )
    count = max(1, len(rows))
    return {
        "prompts": len(rows),
        "mean_reward_before": sum(r["reward_before"] for r in rows) / count,
        "mean_reward_after": sum(r["reward_after"] for r in rows) / count,
        "win_rate": sum(r["win"] for r in rows) / count,
        "identical_answers": sum(r["identical"] for r in rows),
        "rows": rows,
    }


def plot_reward_curve(steps: Sequence[dict], path: Path) -> None:
    """The policy's mean GRM reward per optimisation step (TRL's log history), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([s["step"] for s in steps], [s["reward"] for s in steps], marker="o")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("mean GRM reward [0, 1]")
    ax.set_title("policy_rl: reward curve")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def report_text(summary: dict[str, Any], comparison: dict[str, Any], command: str) -> str:
    steps = summary.get("history", [])
    lines = [
        "# policy_rl: a policy trained with the GRM as its reward",
        "",
        f"Command: `{command}`",
        "",
        f"Policy `{summary['init_model']}`, {summary['prompts']} training prompts, "
        f"{summary['global_step']} GRPO steps; the GRM is the reward (`spct.reward.GRMReward`).",
        "",
        "![reward curve](reward_curve.png)",
        "",
        "| step | mean GRM reward |",
        "|---:|---:|",
        *[f"| {s['step']} | {s['reward']:.3f} |" for s in steps],
        "",
        f"Held-out prompts: {comparison['prompts']}; the base and trained policies' greedy answers judged together.",
        "",
        "| policy | mean reward |",
        "|---|---:|",
        f"| before (base) | {comparison['mean_reward_before']:.3f} |",
        f"| after (trained) | {comparison['mean_reward_after']:.3f} |",
        "",
        f"Win rate of the trained policy (ties count half): {comparison['win_rate']:.3f}; "
        f"{comparison['identical_answers']} of {comparison['prompts']} answers unchanged by training (each a tie).",
        "",
    ]
    return "\n".join(lines)


def write_outputs(out_dir: Path, summary: dict, comparison: dict, config: PolicyRLConfig, command: str) -> dict:
    """reward_curve.png, before_after.json and report.md in ``out_dir`` (each written atomically); returns the
    metrics for MLflow."""
    plot_reward_curve(summary.get("history", []), out_dir / "reward_curve.png")
    write_json_atomic(out_dir / "before_after.json", {**comparison, "config": asdict(config), "command": command})
    tmp = out_dir / "report.md.tmp"
    tmp.write_text(report_text(summary, comparison, command))
    tmp.replace(out_dir / "report.md")
    log.info("policy_rl: %s", json.dumps({k: v for k, v in comparison.items() if k != "rows"}))
    return {
        "mean_reward_before": comparison["mean_reward_before"],
        "mean_reward_after": comparison["mean_reward_after"],
        "win_rate": comparison["win_rate"],
        "final_reward": summary.get("final_reward"),
        "global_step": summary.get("global_step"),
    }


def reward_scorer(grm_path: str | Path, config: PolicyRLConfig, judge_config: dict, sampler_config: dict):
    """The GRM scorer: ``spct serve`` at ``reward_url``, else the GRM loaded here on the config's sampler (vLLM or
    transformers; the policy trains in this same process, so on a CPU the two take turns on the cores)."""
    from spct.reward import LocalScorer, RemoteScorer
    from spct.sampling import load_sampler
    from spct.sampling.base import sampler_options
    from spct.sampling.judgments import JudgeSettings

    settings = JudgeSettings.from_config(judge_config)
    if config.reward_url:
        return RemoteScorer(
            config.reward_url,
            k=config.reward_k,
            score_range=settings.score_range,
            single_score_range=settings.single_score_range,
        )
    sampler = load_sampler(str(grm_path), **sampler_options(sampler_config))
    return LocalScorer(sampler, settings, k=config.reward_k)


def run_policy_rl(
    policy_model: str | Path,
    grm_path: str | Path,
    records: Sequence[Record],
    out_dir: Path,
    config: PolicyRLConfig,
    judge_config: dict,
    sampler_config: dict,
    command: str = COMMAND,
) -> dict[str, Any]:
    """Train the policy (``<out_dir>/model``) with the GRM reward, compare it with the start on the held-out prompts
    and write the report files; returns the metrics for MLflow."""
    from spct.reward import GRMReward
    from spct.sampling.judgments import model_fingerprint

    out_dir.mkdir(parents=True, exist_ok=True)
    train, heldout = split_prompts(records, config)
    scorer = reward_scorer(grm_path, config, judge_config, sampler_config)
    reward = GRMReward(scorer, mode=config.reward_mode, name="grm")
    # The GRM that gives the reward is part of the run: another GRM must not continue these checkpoints.
    grm = config.reward_url or model_fingerprint(grm_path)
    reward_key = {"grm": grm, "reward_mode": config.reward_mode, "reward_k": config.reward_k, "judge": judge_config}
    summary = train_policy(str(policy_model), train, reward, out_dir / "model", config, "mlflow", reward_key)
    before = policy_answers(policy_model, heldout, config.max_completion_length, config.seed)
    after = policy_answers(out_dir / "model", heldout, config.max_completion_length, config.seed)
    scorer.k = config.eval_k
    comparison = before_after(heldout, before, after, scorer)
    return write_outputs(out_dir, summary, comparison, config, command)

# The trained GRM as the reward of a policy's RL (README "Use the GRM as a reward"): TRL GRPO trains the policy
# (config policy_rl.policy_model, null = the base model) with spct.reward.GRMReward over the SPCT-trained GRM, then
# the GRM judges the policy before and after on held-out prompts. Trainer checkpoints live in
# results/{exp}/policy_rl/model.checkpoints/ (outside the outputs) so a killed job resumes.


rule policy_rl_train:
    input:
        policy=policy_rl_policy,
        grm=f"results/{{exp}}/models/{METARM_MODEL}",
        train="results/{exp}/data/train.jsonl",
        code=stage_code("policy_rl"),
    output:
        report="results/{exp}/policy_rl/report.md",
        curve="results/{exp}/policy_rl/reward_curve.png",
        before_after="results/{exp}/policy_rl/before_after.json",
        model=directory("results/{exp}/policy_rl/model"),
    params:
        policy_rl=policy_rl_config,
        judge=judge_prompt_config(MODEL_SPECS[METARM_MODEL]["variant"]),
        sampler=config["sampler"],
        tags={"model": "policy_rl", "ablation": "policy_rl", "variant": MODEL_SPECS[METARM_MODEL]["variant"]},
    threads: 2
    resources:
        gpu=max(SAMPLING_GPUS, TRAINING_GPUS),
    log:
        "logs/{exp}/policy_rl/train.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/policy_rl.py"


rule policy_rl:
    input:
        expand(
            "results/{exp}/policy_rl/{name}",
            exp=EXPERIMENT,
            name=["report.md", "reward_curve.png", "before_after.json", "model"],
        ),

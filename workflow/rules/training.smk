# SPCT training (SPCT.md section 2): rejective sampling -> rejective fine-tuning (TRL SFT) -> rule-based
# online RL (TRL GRPO). Trainer checkpoints live next to each output (<model>.checkpoints/) so a killed job
# resumes; the final model is renamed into place only when complete.


rule rejective_sampling:
    input:
        model="results/{exp}/models/base",
        train="results/{exp}/data/train.jsonl",
        code=package_files("stages.py", "grm", "sampling", "training/rejective_sampling.py"),
    output:
        sft="results/{exp}/rejective/{variant}/sft.jsonl",
        trajectories="results/{exp}/rejective/{variant}/trajectories.jsonl",
        item_stats="results/{exp}/rejective/{variant}/items.jsonl",
        summary="results/{exp}/rejective/{variant}/summary.json",
    params:
        cache_dir=lambda wc: f"results/{wc.exp}/cache/rejective/{wc.variant}",
        judge=lambda wc: judge_prompt_config(wc.variant),
        training=config["training"],
        rejective=config["rejective_sampling"],
        sampler=config["sampler"],
    threads: 2
    resources:
        gpu=SAMPLING_GPUS,
    log:
        "logs/{exp}/rejective_sampling/{variant}.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/rejective_sampling.py"


rule rft:
    input:
        init=init_model,
        sft=lambda wc: f"{rejective_dir(wc)}/sft.jsonl",
        code=package_files("stages.py", "training/rft.py", "training/checkpoints.py"),
    output:
        directory("results/{exp}/models/{model}"),
    wildcard_constraints:
        model="|".join(models_of_stage("rft")),
    params:
        rft=stage_config("rft"),
        data_kind=lambda wc: MODEL_SPECS[wc.model]["rft_data"],
        tags=model_tags,
    threads: 2
    resources:
        gpu=TRAINING_GPUS,
    log:
        "logs/{exp}/rft/{model}.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/rft.py"


rule grpo:
    input:
        init=init_model,
        train="results/{exp}/data/train.jsonl",
        item_stats=lambda wc: f"{rejective_dir(wc)}/items.jsonl",
        code=package_files("stages.py", "training/grpo.py", "training/checkpoints.py", "grm"),
    output:
        directory("results/{exp}/models/{model}"),
    wildcard_constraints:
        model="|".join(models_of_stage("grpo")),
    params:
        judge=model_prompt_config,
        training=config["training"],
        grpo=stage_config("grpo"),
        tags=model_tags,
    threads: 2
    resources:
        gpu=TRAINING_GPUS,
    log:
        "logs/{exp}/grpo/{model}.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/grpo.py"

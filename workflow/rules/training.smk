# SPCT training (SPCT.md section 2): rejective sampling -> rejective fine-tuning (TRL SFT) -> rule-based
# online RL (TRL GRPO). Trainer checkpoints live next to each output (<model>.checkpoints/) so a killed job
# resumes (the same run only: a changed setting, init model or data starts afresh); the final model is renamed
# into place only when complete, then the checkpoints are removed.


rule rejective_sampling:
    input:
        model="results/{exp}/models/base",
        train="results/{exp}/data/train.jsonl",
        code=stage_code("rejective_sampling"),
    output:
        sft="results/{exp}/rejective/{variant}/sft.jsonl",
        trajectories="results/{exp}/rejective/{variant}/trajectories.jsonl",
        item_stats="results/{exp}/rejective/{variant}/items.jsonl",
        summary="results/{exp}/rejective/{variant}/summary.json",
    params:
        cache_dir="results/{exp}/cache/rejective/{variant}",
        judge=variant_prompt_config,
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
        sft=rejective_sft,
        code=stage_code("rft"),
    output:
        directory("results/{exp}/models/{model}"),
    wildcard_constraints:
        model="|".join(models_of_stage("rft")),
    params:
        rft=stage_config("rft"),
        data_kind=rft_data_kind,
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
        item_stats=rejective_item_stats,
        code=stage_code("grpo"),
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

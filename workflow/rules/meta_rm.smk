# The meta RM (SPCT.md 2.3): a scalar model that predicts whether a sampled judgment is correct (Eq. 10),
# trained with BCE on the non-hinted RFT trajectories plus N fresh samples per item from the trained GRM.
# It scores the GRM's evaluation judgments; MetaRM@k votes over the top k_meta of them.


rule meta_rm_samples:
    input:
        model=f"results/{{exp}}/models/{METARM_MODEL}",
        train="results/{exp}/data/train.jsonl",
        code=stage_code("meta_rm_samples"),
    output:
        "results/{exp}/meta_rm/grm_samples.jsonl",
    params:
        cache_dir="results/{exp}/cache/meta_rm",
        judge=judge_prompt_config(MODEL_SPECS[METARM_MODEL]["variant"]),
        training=config["training"],
        rejective=config["rejective_sampling"],
        n_samples=config["meta_rm"]["n_samples"],
        sampler=config["sampler"],
    threads: 2
    resources:
        gpu=SAMPLING_GPUS,
    log:
        "logs/{exp}/meta_rm/samples.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/meta_rm_samples.py"


rule meta_rm:
    input:
        base="results/{exp}/models/base",
        train="results/{exp}/data/train.jsonl",
        rft_trajectories="results/{exp}/rejective/principles/trajectories.jsonl",
        grm_samples="results/{exp}/meta_rm/grm_samples.jsonl",
        code=stage_code("meta_rm"),
    output:
        directory("results/{exp}/models/meta_rm"),
    params:
        meta_rm=without_io_only("meta_rm", config["meta_rm"]),
        judge=judge_prompt_config(MODEL_SPECS[METARM_MODEL]["variant"]),
        training=config["training"],
    threads: 2
    resources:
        gpu=TRAINING_GPUS,
    log:
        "logs/{exp}/meta_rm/train.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/meta_rm.py"


# One job per model over every benchmark: the meta RM loads once.
rule meta_scores:
    input:
        meta_rm="results/{exp}/models/meta_rm",
        records=expand("results/{{exp}}/data/benchmarks/{benchmark}.jsonl", benchmark=BENCHMARKS),
        judgments=expand("results/{{exp}}/judgments/{{model}}/{benchmark}.jsonl", benchmark=BENCHMARKS),
        code=stage_code("meta_scores"),
    output:
        expand("results/{{exp}}/meta_scores/{{model}}/{benchmark}.json", benchmark=BENCHMARKS),
    params:
        benchmarks=BENCHMARKS,
        judge=model_prompt_config,
        max_length=config["meta_rm"]["max_length"],
    threads: 2
    resources:
        gpu=1,
    log:
        "logs/{exp}/meta_scores/{model}.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/meta_scores.py"

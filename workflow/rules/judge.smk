# Samples judge.k_max judgments (+ one greedy) per item. Finished samples are cached outside the declared
# output (results/{exp}/cache/), so a killed job resumes without redoing them: Snakemake deletes the declared
# output of a failed job, but never the cache.
rule judge:
    input:
        model="results/{exp}/models/{model}",
        records="results/{exp}/data/benchmarks/{benchmark}.jsonl",
        code=package_files("judge.py", "grm", "sampling"),
    output:
        "results/{exp}/judgments/{model}/{benchmark}.jsonl",
    params:
        cache_dir=lambda wc: f"results/{wc.exp}/cache/judgments/{wc.model}",
        judge=judge_config_for,
        sampler=config["sampler"],
        tags=model_tags,
    threads: 2
    resources:
        gpu=SAMPLING_GPUS,
    log:
        "logs/{exp}/judge/{model}/{benchmark}.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/judge.py"


# The same judge with the score-format guarantee OFF on a few items: the parse rate the model achieves by
# itself, reported beside the guaranteed results.
rule format_check:
    input:
        model="results/{exp}/models/{model}",
        records=lambda wc: f"results/{wc.exp}/data/benchmarks/{config['format_check']['benchmark']}.jsonl",
        code=package_files("judge.py", "grm", "sampling"),
    output:
        "results/{exp}/format_check/{model}.json",
    params:
        cache_dir=lambda wc: f"results/{wc.exp}/cache/judgments/{wc.model}",
        judge=model_prompt_config,
        check=config["format_check"],
        sampler=config["sampler"],
        tags=model_tags,
    threads: 2
    resources:
        gpu=SAMPLING_GPUS,
    log:
        "logs/{exp}/format_check/{model}.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/format_check.py"

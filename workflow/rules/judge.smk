# Samples judge.k_max judgments (+ one greedy) per item of EVERY benchmark in one job per model, so the sampler
# (a vLLM engine) starts once per model. Finished samples are cached outside the declared outputs
# (results/{exp}/cache/), so a killed job resumes without redoing them: Snakemake deletes the declared outputs of a
# failed job, but never the cache.
rule judge:
    input:
        model="results/{exp}/models/{model}",
        records=expand("results/{{exp}}/data/benchmarks/{benchmark}.jsonl", benchmark=BENCHMARKS),
        code=package_files("judge.py", "grm", "sampling"),
    output:
        expand("results/{{exp}}/judgments/{{model}}/{benchmark}.jsonl", benchmark=BENCHMARKS),
    params:
        benchmarks=BENCHMARKS,
        cache_dir=lambda wc: f"results/{wc.exp}/cache/judgments/{wc.model}",
        judge=judge_config_for,
        sampler=config["sampler"],
        tags=model_tags,
    threads: 2
    resources:
        gpu=SAMPLING_GPUS,
    log:
        "logs/{exp}/judge/{model}.log",
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

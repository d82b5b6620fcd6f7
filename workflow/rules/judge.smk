# Samples judge.k_max judgments (+ one greedy) per item of EVERY benchmark in one job per model, so the sampler
# (a vLLM engine) starts once per model. Finished samples are cached outside the declared outputs
# (results/{exp}/cache/), so a killed job resumes without redoing them: Snakemake deletes the declared outputs of a
# failed job, but never the cache.
rule judge:
    input:
        model="results/{exp}/models/{model}",
        records=expand("results/{{exp}}/data/benchmarks/{benchmark}.jsonl", benchmark=BENCHMARKS),
        check_records=format_check_items,
        code=stage_code("judge"),
    output:
        judgments=expand("results/{{exp}}/judgments/{{model}}/{benchmark}.jsonl", benchmark=BENCHMARKS),
        # The same judge with the score-format guarantee OFF on a few items: the parse rate the model reaches by
        # itself, reported beside the guaranteed results. In this job, so the engine starts once per model.
        format_check="results/{exp}/format_check/{model}.json",
    params:
        benchmarks=BENCHMARKS,
        cache_dir="results/{exp}/cache/judgments/{model}",
        judge=judge_config_for,
        check=config["format_check"],
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

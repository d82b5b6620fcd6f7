# Greedy, Voting@k and MetaRM@k of one model on one benchmark, scored by the benchmark's official metric.
rule metrics:
    input:
        records="results/{exp}/data/benchmarks/{benchmark}.jsonl",
        judgments="results/{exp}/judgments/{model}/{benchmark}.jsonl",
        meta_scores=meta_scores_input,
        code=stage_code("metrics"),
    output:
        "results/{exp}/metrics/{model}/{benchmark}.json",
    params:
        metrics=metrics_params(),
        benchmark=benchmark_spec,
        tags=model_tags,
    log:
        "logs/{exp}/metrics/{model}/{benchmark}.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/metrics.py"

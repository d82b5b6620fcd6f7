# Data: the paper's preference sources from the hub where reachable, plus the bundled sets, in one schema.
localrules:
    download,
    benchmark_items,


# Downloads need the internet, which cluster compute nodes often lack: a local rule runs on the login node.
rule download:
    input:
        code=stage_code("download"),
    output:
        "results/{exp}/data/hub/download.json",
    params:
        sources=config["data"]["hub_sources"],
        max_items=config["data"]["hub_max_items"],
    log:
        "logs/{exp}/download.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/download.py"


rule prepare_data:
    input:
        raw=config["data"]["raw_dir"],
        hub="results/{exp}/data/hub/download.json",
        code=stage_code("prepare_data"),
    output:
        train="results/{exp}/data/train.jsonl",
        eval="results/{exp}/data/eval.jsonl",
        manifest="results/{exp}/data/manifest.json",
    log:
        "logs/{exp}/prepare_data.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/prepare_data.py"


# The evaluation items of one benchmark: a reconstruction from the eval split, or one of the paper's benchmarks
# from local files or the hub (a local rule for that reason; it is light). The files under the benchmark's `path:`
# are inputs, so replacing or adding one reruns it; the summary counts every item left out, by reason.
rule benchmark_items:
    input:
        eval="results/{exp}/data/eval.jsonl",
        files=benchmark_files,
        code=stage_code("benchmark_items"),
    output:
        records="results/{exp}/data/benchmarks/{benchmark}.jsonl",
        summary="results/{exp}/data/benchmarks/{benchmark}.summary.json",
    params:
        spec=benchmark_spec,
    log:
        "logs/{exp}/benchmark_items/{benchmark}.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/benchmark_items.py"

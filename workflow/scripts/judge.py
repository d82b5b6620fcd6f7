import torch
from _common import log_to, mlflow_config

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    torch.set_num_threads(smk.threads)
    stages.judge(
        model_path=smk.input.model,
        items_path=smk.input.records,
        out_path=smk.output[0],
        cache_dir=smk.params.cache_dir,
        judge_config=smk.params.judge,
        sampler_config=smk.params.sampler,
        mlflow_config=mlflow_config(smk),
        tags={**smk.params.tags, "benchmark": smk.wildcards.benchmark},
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

import torch
from _common import log_to, mlflow_config

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    torch.set_num_threads(smk.threads)
    check = {k: v for k, v in smk.params.check.items() if k != "benchmark"}
    stages.format_check(
        model_path=smk.input.model,
        items_path=smk.input.records,
        out_path=smk.output[0],
        cache_dir=smk.params.cache_dir,
        judge_config=smk.params.judge,
        check_config=check,
        sampler_config=smk.params.sampler,
        mlflow_config=mlflow_config(smk),
        tags={**smk.params.tags, "benchmark": smk.params.check["benchmark"]},
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

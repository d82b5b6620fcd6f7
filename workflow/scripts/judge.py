import torch
from _common import io_settings, log_to, mlflow_config

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    torch.set_num_threads(smk.threads)
    stages.judge(
        model_path=smk.input.model,
        benchmarks={
            name: (items, out)
            for name, items, out in zip(smk.params.benchmarks, smk.input.records, smk.output.judgments)
        },
        cache_dir=smk.params.cache_dir,
        judge_config={**smk.params.judge, **io_settings(smk, "judge")},
        sampler_config=smk.params.sampler,
        mlflow_config=mlflow_config(smk),
        tags=smk.params.tags,
        format_check_run={
            "benchmark": smk.params.check["benchmark"],
            "items_path": smk.input.check_records,
            "out_path": smk.output.format_check,
            "check_config": {k: v for k, v in smk.params.check.items() if k != "benchmark"},
        },
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

from pathlib import Path

import torch
from _common import io_settings, log_to, mlflow_config

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    torch.set_num_threads(smk.threads)
    stages.rejective_sampling(
        model_path=smk.input.model,
        train_path=smk.input.train,
        out_dir=Path(smk.output.sft).parent,
        cache_dir=smk.params.cache_dir,
        judge_config={**smk.params.judge, **io_settings(smk, "judge")},
        config={**smk.params.training, **smk.params.rejective},
        sampler_config=smk.params.sampler,
        mlflow_config=mlflow_config(smk),
        tags={
            "variant": smk.wildcards.variant,
            "ablation": "main" if smk.wildcards.variant == "principles" else "no_principles",
        },
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

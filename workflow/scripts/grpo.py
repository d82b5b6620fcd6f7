import torch
from _common import io_settings, log_to, mlflow_config, relaunched_under_accelerate

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    if relaunched_under_accelerate(smk):
        return
    torch.set_num_threads(smk.threads)
    stages.grpo(
        init_model=smk.input.init,
        train_path=smk.input.train,
        item_stats_path=smk.input.item_stats,
        out_dir=smk.output[0],
        judge_config=smk.params.judge,
        training_config=smk.params.training,
        config={**smk.params.grpo, **io_settings(smk, "grpo", smk.params.tags["ablation"])},
        mlflow_config=mlflow_config(smk),
        tags=smk.params.tags,
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

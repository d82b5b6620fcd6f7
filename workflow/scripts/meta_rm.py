import torch
from _common import io_settings, log_to, mlflow_config, relaunched_under_accelerate

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    if relaunched_under_accelerate(smk):
        return
    torch.set_num_threads(smk.threads)
    stages.meta_rm(
        base_model=smk.input.base,
        train_path=smk.input.train,
        trajectory_paths=[smk.input.rft_trajectories, smk.input.grm_samples],
        out_dir=smk.output[0],
        config={**smk.params.meta_rm, **io_settings(smk, "meta_rm")},
        judge_config=smk.params.judge,
        training_config=smk.params.training,
        mlflow_config=mlflow_config(smk),
        tags={"model": "meta_rm", "ablation": "main"},
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

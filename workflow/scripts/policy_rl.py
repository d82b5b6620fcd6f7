import torch
from _common import io_settings, log_to, mlflow_config

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    torch.set_num_threads(smk.threads)
    config = {**smk.params.policy_rl, **io_settings(smk, "policy_rl")}
    stages.policy_rl(
        policy_model=config.get("policy_model") or smk.input.policy,
        grm_path=smk.input.grm,
        train_path=smk.input.train,
        out_dir=smk.output.report.rsplit("/", 1)[0],
        config=config,
        judge_config=smk.params.judge,
        sampler_config=smk.params.sampler,
        mlflow_config=mlflow_config(smk),
        tags=smk.params.tags,
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

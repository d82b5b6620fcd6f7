import torch
from _common import io_settings, log_to, mlflow_config, relaunched_under_accelerate

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    if relaunched_under_accelerate(smk):
        return
    torch.set_num_threads(smk.threads)
    stages.rft(
        base_model=smk.input.init,
        sft_path=smk.input.sft,
        out_dir=smk.output[0],
        data_kind=smk.params.data_kind,
        config={**smk.params.rft, **io_settings(smk, "rft", smk.params.tags["ablation"])},
        mlflow_config=mlflow_config(smk),
        tags=smk.params.tags,
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

import torch
from _common import io_settings, log_to

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    torch.set_num_threads(smk.threads)
    stages.meta_rm_samples(
        grm_path=smk.input.model,
        train_path=smk.input.train,
        out_path=smk.output[0],
        cache_dir=smk.params.cache_dir,
        judge_config={**smk.params.judge, **io_settings(smk, "judge")},
        training_config=smk.params.training,
        max_items=smk.params.rejective.get("max_items"),
        n_samples=smk.params.n_samples,
        sampler_config=smk.params.sampler,
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

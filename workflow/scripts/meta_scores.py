import torch
from _common import log_to

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    torch.set_num_threads(smk.threads)
    stages.meta_scores(
        meta_rm_dir=smk.input.meta_rm,
        benchmarks={
            name: (items, judgments, out)
            for name, items, judgments, out in zip(
                smk.params.benchmarks, smk.input.records, smk.input.judgments, smk.output
            )
        },
        judge_config=smk.params.judge,
        max_length=smk.params.max_length,
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

from _common import log_to

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    stages.benchmark_items(smk.input.eval, smk.wildcards.benchmark, smk.params.spec, smk.output[0])


main(snakemake)  # noqa: F821 (injected by Snakemake)

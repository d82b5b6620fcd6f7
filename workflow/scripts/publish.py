from _common import log_to

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    stages.publish(f"results/{smk.params.experiment}")


main(snakemake)  # noqa: F821 (injected by Snakemake)

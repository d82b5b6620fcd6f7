from _common import log_to, mlflow_config

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    stages.metrics(
        items_path=smk.input.records,
        judgments_path=smk.input.judgments,
        out_path=smk.output[0],
        metrics_config=smk.params.metrics,
        benchmark_spec=smk.params.benchmark,
        mlflow_config=mlflow_config(smk),
        meta_scores_path=smk.input.meta_scores or None,
        tags={**smk.params.tags, "benchmark": smk.wildcards.benchmark},
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

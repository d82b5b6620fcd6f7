from _common import log_to, mlflow_config

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    stages.benchmark_items(
        eval_path=smk.input.eval,
        name=smk.wildcards.benchmark,
        spec=smk.params.spec,
        out_path=smk.output.records,
        summary_path=smk.output.summary,
        mlflow_config=mlflow_config(smk),
        # Every ablation evaluates on the same sets: their runs sit with the main pipeline's.
        tags={"experiment": smk.wildcards.exp, "benchmark": smk.wildcards.benchmark, "ablation": "main"},
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

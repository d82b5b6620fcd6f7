from _common import log_to, mlflow_config

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    stages.report(
        metrics_paths=smk.input.metrics,
        outputs={name: smk.output[name] for name in ("markdown", "csv", "table", "plot", "tokens_plot", "summary")},
        format_check_paths=smk.input.format_check,
        left_out_paths=smk.input.left_out,
        trained_dirs=smk.input.trained,
        mlflow_config=mlflow_config(smk),
        tags={"experiment": smk.wildcards.exp, "ablation": smk.wildcards.ablation},
        params=smk.config,  # logged as MLflow params; read here, not a rule param, so a config edit reruns no report
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

from _common import log_to, mlflow_config

from spct import stages


def main(smk) -> None:
    log_to(smk.log[0])
    stages.claims(
        metrics_paths=smk.input.metrics,
        outputs={name: smk.output[name] for name in ("markdown", "json", "plot")},
        targets=smk.params.targets,
        mlflow_config=mlflow_config(smk),
        tags={"experiment": smk.wildcards.exp, "ablation": "claims"},
        params=smk.config,  # logged as MLflow params; read here, not a rule param, so a config edit reruns nothing
    )


main(snakemake)  # noqa: F821 (injected by Snakemake)

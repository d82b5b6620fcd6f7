# The results report of one target (main or an ablation): the paper-layout table, intervals, diagnostics and the
# scaling plots. The files marked report(...) go into `snakemake --report report.html` with their captions.
rule report:
    input:
        metrics=metrics_files,
        format_check=format_check_files,
        left_out=benchmark_summary_files,
        trained=trained_model_dirs,
        code=stage_code("report"),
    output:
        markdown="results/{exp}/report/{ablation}/results.md",
        csv="results/{exp}/report/{ablation}/results.csv",
        table=report(
            "results/{exp}/report/{ablation}/table.csv",
            caption="../report/table.rst",
            category="Results",
            subcategory="{ablation}",
            labels={"target": "{ablation}", "figure": "results table"},
        ),
        plot=report(
            "results/{exp}/report/{ablation}/results.png",
            caption="../report/scaling_k.rst",
            category="Results",
            subcategory="{ablation}",
            labels={"target": "{ablation}", "figure": "score vs k"},
        ),
        tokens_plot=report(
            "results/{exp}/report/{ablation}/results_tokens.png",
            caption="../report/scaling_tokens.rst",
            category="Results",
            subcategory="{ablation}",
            labels={"target": "{ablation}", "figure": "score vs tokens"},
        ),
        summary="results/{exp}/report/{ablation}/metrics.json",
    params:
        # Read by the stage from the config; a param too, so changing it recomputes the claims' intervals.
        paired_bootstrap_samples=config["metrics"].get("paired_bootstrap_samples"),
    log:
        "logs/{exp}/report/{ablation}.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/report.py"

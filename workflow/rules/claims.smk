# The paper's five claims in one table across main and every ablation (claims 4 and 5 compare SPCT with ablation
# models, which no single target's report holds): paired differences, verdicts, the paper's figures, a forest plot.
rule claims_report:
    input:
        metrics=claims_metrics_files,
        code=stage_code("claims"),
    output:
        markdown="results/{exp}/report/claims/claims.md",
        json="results/{exp}/report/claims/claims.json",
        plot=report(
            "results/{exp}/report/claims/claims.png",
            caption="../report/claims.rst",
            category="Results",
            subcategory="claims",
            labels={"target": "claims", "figure": "claims forest plot"},
        ),
    params:
        # Which target makes which model: a claim without its models names the target to build.
        targets=ABLATIONS,
        # Read by the stage from the config; a param too, so changing it recomputes the intervals.
        paired_bootstrap_samples=config["metrics"].get("paired_bootstrap_samples"),
    log:
        "logs/{exp}/report/claims.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/claims.py"

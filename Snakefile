# spct: Self-Principled Critique Tuning and DeepSeek-GRM (arXiv 2504.02495) as one Snakemake workflow.
#   snakemake --cores 2 all             base -> RFT -> SPCT (RFT + GRPO) + meta RM, each evaluated (config.yaml)
#   snakemake --configfile configs/paper.yaml ...   that file alone: config.yaml is read only without --configfile
#   snakemake --cores 2 no_principles   one ablation of the paper alone (see ABLATIONS in common.smk)
#   snakemake --cores 2 claims          the paper's five claims as paired differences over main + every ablation
#   snakemake --cores 2 policy_rl       a policy trained by GRPO with the trained GRM as its reward (README)
#   snakemake --cores 2 publish         DVC-track the data and checkpoints and push them to the DVC remote
# The stages live in workflow/rules/, one file each; the code they run lives in the spct package.
from snakemake.utils import min_version

from spct.config import exit_on_config_error, read_config_file

min_version("9.0")


# One config file, complete on its own: config.yaml (the embedded CPU default) is read only when no --configfile is
# given, so none of its keys leaks into a run of configs/paper.yaml or a user's file. --config overrides apply on top
# of either; common.smk checks the result before any job is planned, prints where it came from and stores it.
if not workflow.overwrite_configfiles:
    exit_on_config_error(read_config_file, "config.yaml")  # Snakemake's reader names no file, line or twice-set key

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/meta_rm.smk"
include: "workflow/rules/judge.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/publish.smk"
include: "workflow/rules/policy_rl.smk"


onstart:
    check_run_inputs()
    init_tracking()


onsuccess:
    finish_tracking(failed=False)


onerror:
    finish_tracking(failed=True)


rule all:
    input:
        report_outputs("main"),


rule no_principles:
    input:
        report_outputs("no_principles"),


rule rft_only:
    input:
        report_outputs("rft_only"),


rule hinted_only:
    input:
        report_outputs("hinted_only"),


rule nonhinted_only:
    input:
        report_outputs("nonhinted_only"),


rule rl_only:
    input:
        report_outputs("rl_only"),


rule ablations:
    input:
        [report_outputs(name) for name in ABLATIONS],


# Every target's report too, so that each target's pipeline run gets its results (finish_tracking) as under `ablations`.
rule claims:
    input:
        [report_outputs(name) for name in ABLATIONS],
        expand("results/{exp}/report/claims/claims.{ext}", exp=EXPERIMENT, ext=["md", "json", "png"]),

# Config validation, the model variants and ablations, wildcard constraints and the path helpers.
import os
import sys
from pathlib import Path
from types import SimpleNamespace

from spct.code_inputs import script_code_files
from spct.data.sources import data_files
from spct.config import (
    check_input_paths,
    check_workflow_config,
    config_sources,
    exit_on_config_error,
    input_path_errors,
    shown_path,
    stage_settings,
    store_effective_config,
    without_io_only,
)
from spct.tracking import checksum, config_hash, start_pipeline_runs

# The effective config (the config file, plus --config overrides) is checked before any job is planned: every
# mistake stops here with one line naming the file, line or key, not in a job hours later.
CONFIG_FILES = [shown_path(path) for path in workflow.configfiles]
exit_on_config_error(check_workflow_config, config, CONFIG_FILES, workflow.config_settings.config)
EXPERIMENT = config["experiment"]
CONFIG_HASH = config_hash(config)
CONFIG_SOURCES = config_sources(CONFIG_FILES, workflow.config_settings.config)
if workflow.is_main_process:  # not again in each job's own snakemake process (cluster and remote jobs)
    # A side file that no job reads or writes, so storing it reruns nothing; named by the MLflow runs' config_hash.
    EFFECTIVE_CONFIG = store_effective_config(
        config, f"results/{EXPERIMENT}/effective_config", CONFIG_HASH, CONFIG_SOURCES
    )
    print(
        f"spct: config from {CONFIG_SOURCES}; effective config (config_hash {CONFIG_HASH}): {EFFECTIVE_CONFIG}",
        file=sys.stderr,
    )
    for problem in input_path_errors(config):  # a dry run still plans; a run stops at its start (check_run_inputs)
        print(f"spct: warning: {problem}: a run stops at its start", file=sys.stderr)


def check_run_inputs():
    """onstart, before any job and before the MLflow runs open: the input paths the config names exist."""
    exit_on_config_error(check_input_paths, config, CONFIG_SOURCES)


# Every model variant: the stage that makes it, what it starts from, the prompt variant it is trained and
# evaluated with (SPCT.md), and for RFT models which accepted trajectories it learns from.
# `ablation` is the MLflow tag of the runs that make and evaluate the model.
MODEL_SPECS = {
    "base": dict(stage="base", variant="principles", ablation="main"),
    "rft": dict(stage="rft", init="base", variant="principles", rft_data="all", ablation="main"),
    "spct": dict(stage="grpo", init="rft", variant="principles", ablation="main"),
    "rft_no_principles": dict(
        stage="rft", init="base", variant="no_principles", rft_data="all", ablation="no_principles"
    ),
    "spct_no_principles": dict(stage="grpo", init="rft_no_principles", variant="no_principles", ablation="no_principles"),
    "rft_hinted_only": dict(stage="rft", init="base", variant="principles", rft_data="hinted", ablation="hinted_only"),
    "spct_hinted_only": dict(stage="grpo", init="rft_hinted_only", variant="principles", ablation="hinted_only"),
    "rft_nonhinted_only": dict(
        stage="rft", init="base", variant="principles", rft_data="nonhinted", ablation="nonhinted_only"
    ),
    "spct_nonhinted_only": dict(
        stage="grpo", init="rft_nonhinted_only", variant="principles", ablation="nonhinted_only"
    ),
    "rl_only": dict(stage="grpo", init="base", variant="principles", ablation="rl_only"),
}
# Each target evaluates these models (the paper's ablations, SPCT.md section 5); "main" is `all`.
ABLATIONS = {
    "main": ["base", "rft", "spct"],
    "no_principles": ["spct_no_principles"],
    "rft_only": ["rft"],
    "hinted_only": ["spct_hinted_only"],
    "nonhinted_only": ["spct_nonhinted_only"],
    "rl_only": ["rl_only"],
}
# Targets with a pipeline run of their own beside the ablations: the policy trained with the GRM as its reward, and
# the claims table over main and every ablation.
OWN_PIPELINE_TARGETS = ["policy_rl", "claims"]
# The meta RM guides MetaRM@k for this model (trained on its samples, SPCT.md 2.3).
METARM_MODEL = "spct"
MODELS = list(MODEL_SPECS)
BENCHMARKS = list(config["benchmarks"])
# GPUs per job, from the config so that a cluster profile never disagrees with it: sampling jobs use one vLLM
# replica of sampler.tensor_parallel_size GPUs, training jobs training.world_size data-parallel processes.
SAMPLING_GPUS = config["sampler"].get("tensor_parallel_size", 1)
TRAINING_GPUS = config["training"].get("world_size", 1)
# Package code is declared as an input of the stages that run it (stage_code): Snakemake only notices edits to
# the script file itself, not to the library it imports.
PACKAGE = f"{workflow.basedir}/src/spct"
SCRIPTS = f"{workflow.basedir}/workflow/scripts"


wildcard_constraints:
    exp=EXPERIMENT,
    model="|".join(MODELS),
    benchmark="|".join(BENCHMARKS),
    ablation="|".join(ABLATIONS),
    variant="principles|no_principles",


def mlflow_config():
    """Where the workflow's hooks log. Not a rule param (jobs read it from the config, workflow/scripts/_common.py),
    so moving the tracking server reruns nothing; the config hash and data checksums reach the jobs' runs through
    the environment (spct.tracking)."""
    return {"tracking_uri": config["mlflow"]["tracking_uri"], "experiment": EXPERIMENT}


def invocation_targets(target_rules):
    """The MLflow parent runs of this invocation: `all` builds main, `ablations` every ablation, an ablation target
    itself, `policy_rl` its own, `claims` main, every ablation and its own; file targets (a single stage asked for by
    hand) get one parent named `partial`."""
    targets = []
    for name in sorted(target_rules):
        builds = {"all": ["main"], "ablations": list(ABLATIONS), "claims": [*ABLATIONS, "claims"]}
        names = builds.get(name, [name])
        targets += [n if n in ABLATIONS or n in OWN_PIPELINE_TARGETS else "partial" for n in names]
    return list(dict.fromkeys(targets)) or ["partial"]


def init_tracking():
    """onstart: create the store once (its migration is not safe under parallel writers), then open the parents."""
    raw = config["data"]["raw_dir"]
    tags = {
        "config_hash": CONFIG_HASH,
        "config_file": f"results/{EXPERIMENT}/effective_config/{CONFIG_HASH}.yaml",
        "data.raw.sha256": checksum(raw) if os.path.exists(raw) else "none",
    }
    targets = invocation_targets({job.rule.name for job in workflow.dag.targetjobs})
    start_pipeline_runs(**mlflow_config(), targets=targets, tags=tags, artifacts=[tags["config_file"]])


def finish_tracking(failed):
    """onsuccess / onerror: each target's final results onto its pipeline run, then close the runs."""
    from spct.stages import finish_pipeline

    reports = {
        target: (f"results/{EXPERIMENT}/report/{target}/metrics.json", ABLATIONS[target][-1]) for target in ABLATIONS
    }
    finish_pipeline(mlflow_config(), reports, failed=failed)


def stage_code(script):
    """The package files the job of workflow/scripts/<script>.py runs, as its code input: stages.py and every module
    the spct.stages function(s) the script calls can import, read from the code (spct.code_inputs), so an edit to
    any of them reruns the job as an edit to its script would, and an edit to a module it never imports reruns
    nothing. The script itself is not listed: Snakemake tracks it already."""
    return script_code_files(f"{SCRIPTS}/{script}.py", PACKAGE)


def model_tags(wildcards):
    spec = MODEL_SPECS[wildcards.model]
    return {"model": wildcards.model, "ablation": spec["ablation"], "variant": spec["variant"]}


def models_of_stage(stage):
    return [m for m, spec in MODEL_SPECS.items() if spec["stage"] == stage]


def benchmark_spec(wildcards):
    return config["benchmarks"][wildcards.benchmark]


def benchmark_files(wildcards):
    """The files under the benchmark's `path:` (a file, or every data file of a folder, as the loader reads them:
    spct.data.sources.data_files), so that replacing, editing or adding one reruns benchmark_items; the folder itself
    would not do (its modification time ignores edits to the files in it). None without `path:` (the hub, or a
    reconstruction), and none while the path holds no data files: a dry run still plans the whole workflow before the
    benchmark is downloaded, and the job stops naming `benchmarks.<name>.path` and what is missing."""
    path = config["benchmarks"][wildcards.benchmark].get("path")
    try:
        return [] if path is None else [str(file) for file in data_files(Path(path))]
    except FileNotFoundError:
        return []


def benchmark_summary_files(wildcards):
    """Every benchmark's summary (items and what was left out, by reason): the report's "left out" table."""
    return expand("results/{exp}/data/benchmarks/{benchmark}.summary.json", exp=wildcards.exp, benchmark=BENCHMARKS)


def format_check_items(wildcards):
    """The items of the benchmark the format check samples from (format_check.benchmark)."""
    return f"results/{wildcards.exp}/data/benchmarks/{config['format_check']['benchmark']}.jsonl"


def rft_data_kind(wildcards):
    return MODEL_SPECS[wildcards.model]["rft_data"]


def init_model(wildcards):
    return f"results/{wildcards.exp}/models/{MODEL_SPECS[wildcards.model]['init']}"


def stage_config(stage):
    """Params of a training stage (rft, grpo) for a model: the stage's section with its ablation's overrides
    (config key ablation_overrides), so that changing one ablation's setting reruns only that ablation's jobs.
    Without save_steps (spct.config.IO_ONLY_KEYS: the job reads it from the config), so it retrains nothing."""

    def params(wildcards):
        return without_io_only(stage, stage_settings(config, stage, MODEL_SPECS[wildcards.model]["ablation"]))

    return params


def judge_config_for(wildcards):
    """The judge settings with the model's prompt variant (no_principles models are judged without them), without
    judge.cache_every (the job reads it from the config: how often samples reach the cache changes none)."""
    return without_io_only("judge", {**config["judge"], "prompt_variant": MODEL_SPECS[wildcards.model]["variant"]})


def judge_prompt_config(variant):
    """What a judgment looks like, without judge.k_max: the number of evaluation samples per item is not a param of
    any training or scoring rule, so raising k_max reruns only the judge jobs, which sample just the missing ones.
    Nor judge.cache_every: how often samples reach the cache changes no sample, so it reruns nothing."""
    settings = without_io_only("judge", config["judge"])
    return {**{k: v for k, v in settings.items() if k != "k_max"}, "prompt_variant": variant}


def model_prompt_config(wildcards):
    return judge_prompt_config(MODEL_SPECS[wildcards.model]["variant"])


def variant_prompt_config(wildcards):
    return judge_prompt_config(wildcards.variant)


def rejective_dir(wildcards):
    return f"results/{wildcards.exp}/rejective/{MODEL_SPECS[wildcards.model]['variant']}"


def rejective_sft(wildcards):
    """The accepted trajectories of the model's prompt variant, which its RFT learns from."""
    return f"{rejective_dir(wildcards)}/sft.jsonl"


def rejective_item_stats(wildcards):
    """Per-item rejective-sampling statistics of the model's prompt variant (GRPO drops the too-easy items)."""
    return f"{rejective_dir(wildcards)}/items.jsonl"


def metrics_params():
    """metrics.k_meta: null is the paper's k/2, what every run did before the key existed; it is left out of the
    params then, so adding the key to a config reruns no metrics job. metrics.paired_bootstrap_samples is the
    report's alone (it reads it from the config), so it reruns none either."""
    return {
        k: v
        for k, v in config["metrics"].items()
        if not (k == "k_meta" and v is None) and k != "paired_bootstrap_samples"
    }


def trained_models(model):
    """The trained models a model is made of, in training order (its init chain without the base model)."""
    spec = MODEL_SPECS[model]
    return [] if spec["stage"] == "base" else [*trained_models(spec["init"]), model]


def trained_model_dirs(wildcards):
    """The target's trained model folders (each holds training.json or meta_rm.json and training_curves.png), for the
    report's "Training curves": only models the target builds anyway, so the report plans no extra job."""
    models = [m for evaluated in ABLATIONS[wildcards.ablation] for m in trained_models(evaluated)]
    models += ["meta_rm"] if METARM_MODEL in ABLATIONS[wildcards.ablation] else []
    return expand("results/{exp}/models/{model}", exp=wildcards.exp, model=list(dict.fromkeys(models)))


def report_outputs(ablation):
    names = ["results.md", "results.csv", "table.csv", "results.png", "results_tokens.png", "metrics.json"]
    return expand("results/{exp}/report/{ablation}/{name}", exp=EXPERIMENT, ablation=ablation, name=names)


def metrics_files(wildcards):
    return expand(
        "results/{exp}/metrics/{model}/{benchmark}.json",
        exp=wildcards.exp,
        model=ABLATIONS[wildcards.ablation],
        benchmark=BENCHMARKS,
    )


def claims_metrics_files(wildcards):
    """The metrics files of main and every ablation (each target's own `metrics_files`), each once: claims 4 and 5
    compare SPCT with the ablations' models. No other input, so `claims` plans only what `all` and `ablations` do."""
    files = [metrics_files(SimpleNamespace(exp=wildcards.exp, ablation=target)) for target in ABLATIONS]
    return list(dict.fromkeys(path for paths in files for path in paths))


def meta_scores_input(wildcards):
    """MetaRM@k rows need the meta RM's scores of this model's judgments."""
    if wildcards.model != METARM_MODEL:
        return []
    return f"results/{wildcards.exp}/meta_scores/{wildcards.model}/{wildcards.benchmark}.json"


def format_check_files(wildcards):
    """The parse rate without the guarantee for every model of the target (written by each model's judge job, so
    an ablation's report does not judge the base model just for its parse rate; the main report has it)."""
    return expand("results/{exp}/format_check/{model}.json", exp=wildcards.exp, model=ABLATIONS[wildcards.ablation])


def policy_rl_config(wildcards):
    """The policy_rl section without save_steps (the job reads it from the config); a function, so a config without
    the section (configs/paper.yaml) only fails when the policy_rl target is asked for."""
    if "policy_rl" not in config:
        raise ValueError("the policy_rl target needs a `policy_rl:` section in the config (see config.yaml)")
    return without_io_only("policy_rl", config["policy_rl"])


def policy_rl_policy(wildcards):
    """The base model folder, unless policy_rl.policy_model names another policy (a hub id or folder)."""
    if config.get("policy_rl", {}).get("policy_model"):
        return []
    return f"results/{wildcards.exp}/models/base"

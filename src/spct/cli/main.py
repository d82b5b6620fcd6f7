"""The ``spct`` command: the workflow's stages, callable one at a time.

    spct check-config config.yaml
    spct convert-model embedded:smollm2-135m-instruct resources/models/smollm2
    spct prepare-data --raw-dir data/raw --out-dir results/prepared
    spct judge --model DIR --input queries.jsonl --output scores.jsonl --k 8 [--meta-rm DIR]
    spct serve --model DIR --k 8 --port 8000 [--meta-rm DIR]   # POST /score, /get_reward (OpenRLHF), GET /health
    spct benchmark-sampler --model DIR --records items.jsonl [--backends transformers vllm]
    spct diff-weights results/embedded-default/models/rft results/embedded-default/models/spct
    spct compare-runs --experiment embedded-default   # the targets of the latest invocation, side by side
    spct job-times .snakemake/log/*.snakemake.log   # wall time per job and per rule of a workflow run

The full pipeline runs through Snakemake (``make run`` or ``snakemake all``); these commands are for running
or debugging one stage by hand.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _check_config(args) -> int:
    """The checks a workflow run makes at its start, on this file alone (as `snakemake --configfile FILE` uses it)."""
    from spct.config import load_config

    load_config(args.config, paths_from=None if args.no_paths else args.directory)
    where = "keys only" if args.no_paths else f"input paths read from {Path(args.directory).resolve()}"
    print(f"{args.config}: valid ({where})")
    return 0


def _convert_model(args) -> int:
    from spct.model_import import prepare_base_model

    print(prepare_base_model(args.spec, Path(args.out_dir)))
    return 0


def _prepare_data(args) -> int:
    from spct import stages

    stages.prepare_data(Path(args.raw_dir), Path(args.out_dir))
    return 0


def _judge(args) -> int:
    """Score the responses to each query with k sampled judgments (Voting@k, or MetaRM@k with --meta-rm)."""
    from spct.cli.judge import cache_path_for, check_paths, model_options, read_queries
    from spct.judging import judge_queries
    from spct.records import write_jsonl_atomic
    from spct.sampling import load_sampler
    from spct.sampling.base import SamplerError
    from spct.sampling.judgments import JudgeSettings

    low, high = args.score_range
    if args.k < 1 or args.temperature < 0 or args.max_new_tokens < 1 or low >= high:
        raise ValueError("need --k >= 1, --temperature >= 0, --max-new-tokens >= 1 and --score-range LOW < HIGH")
    if args.cache_every < 1:
        raise ValueError(f"--cache-every must be >= 1, got {args.cache_every}")
    if args.k_meta is not None and (args.meta_rm is None or not 1 <= args.k_meta <= args.k):
        raise ValueError(f"--k-meta needs --meta-rm and must be in 1..--k ({args.k}), got {args.k_meta}")
    if args.meta_rm is not None and not Path(args.meta_rm).is_dir():
        raise FileNotFoundError(f"--meta-rm {args.meta_rm}: no such directory")
    check_paths(args.input, args.output)
    queries = read_queries(args.input)  # before loading any model: a bad line fails at once
    options = model_options(args)  # the model folder and the backend, still before loading anything
    settings = JudgeSettings(
        prompt_variant=args.prompt_variant,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        score_range=(low, high),
        single_score_range=(low, high),  # a single response is scored on the same scale
        guarantee_score_format=args.guarantee_score_format,
        use_reference=True,  # a query's reference answer is shown when it has one
        seed=args.seed,
    )
    cache = cache_path_for(args.output, settings, args.model)
    try:
        sampler = load_sampler(args.model, **options)
    except SamplerError as e:  # e.g. a vLLM engine that cannot start here
        raise SamplerError(f"--backend {args.backend}: {e}") from e
    rows = judge_queries(
        queries,
        sampler,
        settings,
        args.k,
        cache_path=cache,
        meta_rm=args.meta_rm,
        k_meta=args.k_meta,
        meta_batch_size=args.batch_size,
        chunk_size=args.cache_every,
    )
    write_jsonl_atomic(args.output, rows)
    print(f"{len(rows)} queries judged -> {args.output} (samples cached in {cache})")
    return 0


def _diff_weights(args) -> int:
    """How much training moved a checkpoint: changed tensors and the relative L2 change."""
    import torch
    from safetensors.torch import load_file

    before, after = (load_file(str(Path(d) / "model.safetensors")) for d in (args.before, args.after))
    shared = sorted(set(before) & set(after))
    changed = [name for name in shared if not torch.equal(before[name], after[name])]
    num = sum(float((after[n].float() - before[n].float()).norm() ** 2) for n in shared) ** 0.5
    den = sum(float(before[n].float().norm() ** 2) for n in shared) ** 0.5
    print(f"{len(changed)} of {len(shared)} tensors changed; relative L2 change {num / den:.3e}")
    return 0 if changed else 1


def _benchmark_sampler(args) -> int:
    from spct.cli.benchmark_sampler import main as bench_main

    return bench_main(args)


def _compare_runs(args) -> int:
    from spct.tracking import pipeline_comparison

    table = pipeline_comparison(args.tracking_uri, args.experiment, args.invocation)
    print(table.round(1).T.to_markdown())
    return 0


def _compare_results(args) -> int:
    from spct.evaluation.compare import main as compare_main

    return compare_main(args)


def _job_times(args) -> int:
    from spct.cli.job_times import main as job_times_main

    return job_times_main(args)


def _add_stage_parsers(sub) -> None:
    p = sub.add_parser(
        "check-config",
        help="check a config file as a workflow run would at its start: YAML, schema, cross-key rules, input paths",
    )
    p.add_argument("config")
    p.add_argument("--directory", default=".", help="the run's working directory (relative input paths start here)")
    p.add_argument(
        "--no-paths", action="store_true", help="skip the input paths (a config for another machine's files)"
    )
    p.set_defaults(func=_check_config)

    p = sub.add_parser("convert-model", help="materialise a base model (embedded:<name>, hub id or directory)")
    p.add_argument("spec")
    p.add_argument("out_dir")
    p.set_defaults(func=_convert_model)

    p = sub.add_parser("prepare-data", help="convert the bundled raw data into train/eval records")
    p.add_argument("--raw-dir", default="data/raw")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=_prepare_data)


def _add_judge_parser(sub) -> None:
    from spct.cli.judge import DEFAULT_CACHE_EVERY

    p = sub.add_parser(
        "judge",
        help="score the responses to your own queries with a GRM (Voting@k, MetaRM@k; resumable)",
        description='Input JSONL lines: {"id": optional, "prompt": str, "responses": [str, ...], '
        '"reference": optional}. Output JSONL lines: {id, scores (summed over valid samples), mean_scores, best, '
        "valid_samples, samples}. Finished samples are cached next to --output, so a rerun resumes.",
    )
    p.add_argument("--model", required=True, help="GRM checkpoint directory or hub id")
    p.add_argument("--input", required=True, help="queries JSONL")
    p.add_argument("--output", required=True, help="scores JSONL to write (one line per query)")
    p.add_argument("--k", type=int, default=8, help="sampled judgments per query (Voting@k)")
    p.add_argument("--meta-rm", default=None, help="meta RM directory: vote over its k_meta best samples")
    p.add_argument("--k-meta", type=int, default=None, help="samples kept by the meta RM (default k/2)")
    p.add_argument("--temperature", type=float, default=0.5, help="0 is greedy (e.g. --k 1 --temperature 0)")
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--guarantee-score-format", action="store_true", help="force a valid score line")
    p.add_argument("--prompt-variant", choices=("principles", "no_principles"), default="principles")
    p.add_argument("--score-range", type=int, nargs=2, default=[1, 10], metavar=("LOW", "HIGH"))
    p.add_argument("--seed", type=int, default=0, help="seeds the shuffles, the sampler and the tie-break")
    p.add_argument("--backend", choices=("auto", "transformers", "vllm"), default="auto")
    p.add_argument("--batch-size", type=int, default=16, help="sequences per batch (transformers; meta RM)")
    p.add_argument(
        "--max-model-len",
        type=int,
        default=None,
        help="context length (default: the model's); longer prompts: too_long",
    )
    p.add_argument(
        "--cache-every",
        type=int,
        default=DEFAULT_CACHE_EVERY,
        help="append finished samples to the cache every N samples (an item's samples stay together; default "
        f"{DEFAULT_CACHE_EVERY}, the workflow's judge.cache_every); a kill loses at most the unsaved ones",
    )
    p.set_defaults(func=_judge)


def _add_serve_parser(sub) -> None:
    from spct.cli.serve import add_parser

    add_parser(sub)


def _add_inspection_parsers(sub) -> None:
    p = sub.add_parser("diff-weights", help="compare two checkpoints (did training change the weights?)")
    p.add_argument("before")
    p.add_argument("after")
    p.set_defaults(func=_diff_weights)

    p = sub.add_parser(
        "compare-runs", help="the final metrics of every target of one workflow invocation, side by side (MLflow)"
    )
    p.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    p.add_argument("--experiment", default="embedded-default")
    p.add_argument("--invocation", default=None, help="an `invocation` tag; default: the latest invocation")
    p.set_defaults(func=_compare_runs)

    p = sub.add_parser(
        "compare-results", help="two runs' results folders: differing scores, and how many judgments agree"
    )
    p.add_argument("a", help="results/<experiment> of one run")
    p.add_argument("b", help="results/<experiment> of the other")
    p.set_defaults(func=_compare_results)

    p = sub.add_parser("job-times", help="wall time of every job of a Snakemake run, from its log")
    p.add_argument("log", nargs="+", help=".snakemake/log/<time>.snakemake.log (several: one run resumed)")
    p.set_defaults(func=_job_times)


def _add_benchmark_sampler_parser(sub) -> None:
    p = sub.add_parser("benchmark-sampler", help="the vLLM and transformers samplers side by side on one judge pass")
    p.add_argument("--model", required=True)
    p.add_argument("--records", required=True)
    p.add_argument("--backends", nargs="+", choices=["transformers", "vllm"], default=["transformers", "vllm"])
    p.add_argument("--items", type=int, default=16)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--batch-size", type=int, default=16)
    p.set_defaults(func=_benchmark_sampler)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spct", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_stage_parsers(sub)
    _add_judge_parser(sub)
    _add_serve_parser(sub)
    _add_inspection_parsers(sub)
    _add_benchmark_sampler_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:  # our own errors (QueryError, SamplerError, ...) are ValueErrors
        print(f"spct {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

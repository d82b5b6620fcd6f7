"""Config reading and validation: a strict YAML reader (empty files, syntax errors and keys written twice are errors
naming file and line), the schema (workflow/schemas/config.schema.yaml), then the checks that relate keys to each
other and that the input paths exist, with errors that name the bad key and value. `spct check-config` and the
Snakefile both run it; the Snakefile also stores the effective config of each run (``store_effective_config``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from spct.records import write_text_atomic

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    pass


def _duplicate_keys(node: yaml.Node, path: tuple = ()) -> Iterator[str]:
    """Keys written twice in one mapping, at any depth: YAML loaders keep the last value silently, so a section
    written twice would drop every setting of its first copy."""
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, i))
    if not isinstance(node, yaml.MappingNode):
        return
    first_line: dict[Any, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be followed by keys that override it
            continue
        key, line = key_node.value, key_node.start_mark.line + 1
        if isinstance(key, str) and key in first_line:
            yield f"key {_key_path((*path, key))!r} is written twice (lines {first_line[key]} and {line})"
        first_line.setdefault(key, line)
        yield from _duplicate_keys(value_node, (*path, key))


def _parse(parse, text: str, source: str):
    """``parse(text)`` (compose, then load) with YAML's errors as one line naming the file, line and column."""
    try:
        return parse(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{source}{where}: invalid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: invalid YAML: {e}") from None


def read_config_file(path: str | Path) -> dict:
    """A config file as a dict, or ``ConfigError`` naming the file (and line and column where there is one) for what
    Snakemake's own reader lets through or reports without a line: an empty file, a syntax error, a key written
    twice, a top level that is not a mapping of keys."""
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as e:
        raise ConfigError(f"{source}: cannot read the config file: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    root = _parse(lambda t: yaml.compose(t, Loader=yaml.SafeLoader), text, source)
    if root is None:
        raise ConfigError(f"{source}: the config file is empty (no settings)")
    if not isinstance(root, yaml.MappingNode):
        kind = "list" if isinstance(root, yaml.SequenceNode) else "single value"
        raise ConfigError(
            f"{source}, line {root.start_mark.line + 1}: the top level must map keys to settings "
            f"(experiment:, model:, ...), not a {kind}"
        )
    duplicates = list(_duplicate_keys(root))
    if duplicates:
        raise ConfigError(f"{source}: " + "; ".join(duplicates) + ": the later one would silently win")
    return _parse(yaml.safe_load, text, source)  # a tag safe_load refuses, e.g. !!python/object


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    return yaml.safe_load(path.read_text())


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _describe(error: jsonschema.ValidationError, source: str) -> str:
    where = _key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        prefix = "" if where == "<top level>" else where + "."
        keys = ", ".join(repr(prefix + k) for k in extra)
        return f"{source}: unknown key {keys} (allowed here: {', '.join(allowed)})"
    if error.validator == "required":
        return f"{source}: {where}: {error.message}"
    if error.validator == "oneOf" and all(list(sub) == ["required"] for sub in error.validator_value):
        choices = " or ".join(repr(key) for sub in error.validator_value for key in sub["required"])
        return f"{source}: {where}: required: exactly one of {choices}"
    return f"{source}: key '{where}': {error.message}"


def _strict_integers(validator_class):
    """JSON Schema's "integer" also accepts 4.0; a count written as 4.0 (judge.k_max, a k) would only fail hours later
    in a job's range() or slice, so an integer key takes integers only."""
    checker = validator_class.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return jsonschema.validators.extend(validator_class, type_checker=checker)


StrictValidator = _strict_integers(jsonschema.Draft202012Validator)


def _ks_within_k_max(config: Mapping[str, Any]) -> list[str]:
    # One pass of judge.k_max samples per item serves every k (SPCT.md 3): a larger k has no samples to draw from.
    k_max = config["judge"]["k_max"]
    return [f"metrics.ks: {k} is above judge.k_max = {k_max}" for k in config["metrics"]["ks"] if k > k_max]


def _k_meta_within_ks(config: Mapping[str, Any]) -> list[str]:
    # MetaRM@k keeps min(k, k_meta) samples (spct.grm.kept_by_meta_rm): with k_meta above every k in metrics.ks the
    # meta RM would keep all samples of every k, so each MetaRM@k row would just repeat Voting@k.
    k_meta, ks = config["metrics"].get("k_meta"), config["metrics"]["ks"]
    if k_meta is None or k_meta <= max(ks):
        return []
    return [f"metrics.k_meta: {k_meta} is above the largest k in metrics.ks ({max(ks)}): it would keep every sample"]


def _format_check_benchmark_configured(config: Mapping[str, Any]) -> list[str]:
    name = config["format_check"]["benchmark"]
    if name in config["benchmarks"]:
        return []
    return [f"format_check.benchmark: {name!r} is not one of the benchmarks ({', '.join(config['benchmarks'])})"]


SCORE_RANGES = ("judge.score_range", "judge.single_score_range", "training.single_score_range")


def _score_ranges_ordered(config: Mapping[str, Any]) -> list[str]:
    problems = []
    for path in SCORE_RANGES:
        section, key = path.split(".")
        if key in config[section]:  # judge.single_score_range may be left out
            low, high = config[section][key]
            if low >= high:
                problems.append(f"{path}: [{low}, {high}] is not a range: the low score must be below the high one")
    return problems


def cross_key_errors(config: Mapping[str, Any]) -> list[str]:
    """What no single key's schema can say: each message names the key path and the bad value. The jobs that would
    otherwise fail (metrics, judge) run hours into a workflow. Expects a config the schema accepts."""
    return [
        *_ks_within_k_max(config),
        *_k_meta_within_ks(config),
        *_format_check_benchmark_configured(config),
        *_score_ranges_ordered(config),
    ]


def _input_paths(config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(key, path) of every file or folder a job reads that the workflow does not make itself. model.base and
    policy_rl.policy_model are left out: a hub id or an embedded: name is as valid as a folder there."""
    yield "data.raw_dir", config["data"]["raw_dir"]
    for name, spec in config["benchmarks"].items():
        yield f"benchmarks.{name}.path", spec.get("path")
    yield "training.accelerate_config", config["training"].get("accelerate_config")
    yield "rft.general_data", config["rft"].get("general_data")
    for ablation, sections in config.get("ablation_overrides", {}).items():
        yield f"ablation_overrides.{ablation}.rft.general_data", sections.get("rft", {}).get("general_data")


def input_path_errors(
    config: Mapping[str, Any], root: str | Path = ".", keys: Sequence[str] | None = None
) -> list[str]:
    """Input paths that do not exist (of ``keys`` only, if given), read as a job reads them: relative to the
    workflow's working directory ``root``. A job would find out only when it runs (rft: hours into a run)."""
    return [
        f"{key}: {path!r} does not exist (relative paths are read from {Path(root).resolve()})"
        for key, path in _input_paths(config)
        if path is not None and (keys is None or key in keys) and not (Path(root) / path).exists()
    ]


def _raise_problems(problems: Sequence[str]) -> None:
    if len(problems) == 1:  # one line for the usual single mistake
        raise ConfigError(f"invalid configuration: {problems[0]}")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def validate_config(
    config: Mapping[str, Any], source: str = "config", schema: dict | None = None, paths_from: str | Path | None = None
) -> None:
    """Raise ``ConfigError`` listing every problem, each naming its key (e.g. ``judge.temperature``). With
    ``paths_from`` (the working directory of a run), also that every input path exists there."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"invalid configuration: {source}: the top level must map keys to settings")
    validator = StrictValidator(schema or load_schema())
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(map(str, e.absolute_path)))
    # The cross-key checks read values of the types and keys the schema guarantees, so they run once it passes.
    problems = [_describe(e, source) for e in errors]
    if not problems:
        paths = [] if paths_from is None else input_path_errors(config, paths_from)
        problems = [f"{source}: {p}" for p in [*cross_key_errors(config), *paths]]
    _raise_problems(problems)


# Settings that only say how often a job saves what it has done so far (the judge's sample cache, Trainer
# checkpoints), never what it computes. No rule has them as params, so changing one reruns nothing; the jobs read
# them from the config instead (workflow/scripts/_common.py).
IO_ONLY_KEYS = {
    "judge": ("cache_every",),
    "rft": ("save_steps",),
    "grpo": ("save_steps",),
    "meta_rm": ("save_steps",),
    "policy_rl": ("save_steps",),
}


def stage_settings(config: Mapping[str, Any], section: str, ablation: str = "main") -> dict:
    """A config section with one ablation's own overrides of it (config key ``ablation_overrides``: rft, grpo)."""
    return {**config[section], **config.get("ablation_overrides", {}).get(ablation, {}).get(section, {})}


def without_io_only(section: str, settings: Mapping[str, Any]) -> dict:
    return {k: v for k, v in settings.items() if k not in IO_ONLY_KEYS.get(section, ())}


def io_only(section: str, settings: Mapping[str, Any]) -> dict:
    return {k: v for k, v in settings.items() if k in IO_ONLY_KEYS.get(section, ())}


def load_config(path: str | Path, paths_from: str | Path | None = None) -> dict:
    """Read ``path`` strictly (``read_config_file``) and validate it alone, as a run given ``--configfile path``
    uses it; with ``paths_from``, its input paths must also exist relative to that folder."""
    config = read_config_file(path)
    validate_config(config, source=str(path), paths_from=paths_from)
    return config


def config_sources(configfiles: Sequence[str | Path], overrides: Mapping[str, Any]) -> str:
    """Where a run's config came from, e.g. ``configs/paper.yaml + --config experiment=x``."""
    sources = [str(f) for f in configfiles]
    if overrides:
        sources.append("--config " + " ".join(f"{k}={v}" for k, v in overrides.items()))
    return " + ".join(sources)


def check_workflow_config(
    config: Mapping[str, Any], configfiles: Sequence[str | Path], overrides: Mapping[str, Any]
) -> None:
    """The Snakefile's check before any job is planned: each file it was given read again strictly (Snakemake's
    reader keeps the last of two equal keys), then the effective config (files and ``--config`` overrides) as
    `spct check-config` checks one file. data.raw_dir must exist here already (Snakemake cannot plan without it:
    it is an input of prepare_data); the other input paths are checked when a run starts (``check_input_paths``)."""
    for path in configfiles:
        read_config_file(path)
    source = config_sources(configfiles, overrides)
    validate_config(config, source=source)
    _raise_problems([f"{source}: {problem}" for problem in input_path_errors(config, keys=["data.raw_dir"])])


def check_input_paths(config: Mapping[str, Any], source: str = "config", root: str | Path = ".") -> None:
    """Every input path exists, relative to the run's working directory ``root``; the Snakefile checks this when a
    run starts (onstart, before any job), not in a dry run, which may plan a run on a machine without its data."""
    _raise_problems([f"{source}: {problem}" for problem in input_path_errors(config, root)])


def store_effective_config(config: Mapping[str, Any], directory: str | Path, digest: str, sources: str) -> Path:
    """``<directory>/<digest>.yaml``: the effective config of a run, named by its hash (the ``config_hash`` tag of
    its MLflow runs). One file per distinct config, written once: a later run with other settings never overwrites
    the record of an earlier one. No rule reads or makes it, so it reruns nothing."""
    path = Path(directory) / f"{digest}.yaml"
    if not path.exists():
        header = f"# The effective config of spct runs with config_hash {digest}, from: {sources}\n"
        write_text_atomic(path, header + yaml.safe_dump(dict(config), sort_keys=False))
    return path


def exit_on_config_error(check, *args, **kwargs):
    """Run a config check in the Snakefile: a ``ConfigError`` ends snakemake with its message alone (SystemExit),
    instead of the traceback Snakemake prints for any exception raised while it reads a Snakefile."""
    try:
        return check(*args, **kwargs)
    except ConfigError as e:
        raise SystemExit(f"spct: error: {e}") from None


def shown_path(path: str | Path) -> str:
    """A path relative to the working directory where it lies inside it (Snakemake makes --configfile absolute)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)

"""Config validation: the schema (workflow/schemas/config.schema.yaml), then the checks that relate keys to each
other, with errors that name the bad key and value. `spct check-config` and the Snakefile both run it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    pass


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


def validate_config(config: Mapping[str, Any], source: str = "config", schema: dict | None = None) -> None:
    """Raise ``ConfigError`` listing every problem, each naming its key (e.g. ``judge.temperature``)."""
    validator = StrictValidator(schema or load_schema())
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(map(str, e.absolute_path)))
    # The cross-key checks read values of the types and keys the schema guarantees, so they run once it passes.
    problems = [_describe(e, source) for e in errors] or [f"{source}: {p}" for p in cross_key_errors(config)]
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


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


def load_config(path: str | Path) -> dict:
    config = yaml.safe_load(Path(path).read_text())
    validate_config(config, source=str(path))
    return config

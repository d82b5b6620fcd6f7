"""Config validation against workflow/schemas/config.schema.yaml, with errors that name the bad key."""

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


def validate_config(config: Mapping[str, Any], source: str = "config", schema: dict | None = None) -> None:
    """Raise ``ConfigError`` listing every problem, each naming its key (e.g. ``judge.temperature``)."""
    validator = jsonschema.Draft202012Validator(schema or load_schema())
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(_describe(e, source) for e in errors))


def load_config(path: str | Path) -> dict:
    config = yaml.safe_load(Path(path).read_text())
    validate_config(config, source=str(path))
    return config

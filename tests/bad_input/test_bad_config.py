"""Bad configs (issue 15, points 2 and 3): each kind stops `spct check-config` with one message naming the file, line
or key, before anything runs; the slow ones show the same at workflow start, without a traceback."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spct.cli import main
from spct.config import ConfigError, check_workflow_config

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())
RAW = str(REPO / "data" / "raw")


def _config(**changes) -> dict:
    """config.yaml with absolute input paths, and ``changes`` as {"judge.k_max": value}."""
    config = copy.deepcopy(DEFAULT)
    config["data"]["raw_dir"] = RAW
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return config


def _check(path: Path, capsys, *flags: str) -> str:
    """`spct check-config` must fail (exit 2) with one message, no traceback: returns it."""
    assert main(["check-config", str(path), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spct check-config: error: ") and "Traceback" not in err
    return err


VALID = yaml.safe_dump(_config(), sort_keys=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "bad.yaml: the config file is empty (no settings)"),
        ("# nothing but a comment\n", "bad.yaml: the config file is empty"),
        ("experiment: x\nmodel: {base: [1, 2\n", "bad.yaml, line 3, column 1: invalid YAML"),
        ("experiment: x\n\tmodel: 1\n", "bad.yaml, line 2, column 1: invalid YAML: found character '\\t'"),
        ("- experiment\n- model\n", "bad.yaml, line 1: the top level must map keys to settings"),
        ("just words\n", "not a single value"),
        (VALID + "experiment: again\n", "key 'experiment' is written twice (lines 1 and "),
        # A section written twice: YAML keeps the second silently, dropping every setting of the first.
        (VALID + "judge:\n  k_max: 4\n", "key 'judge' is written twice"),
        (VALID.replace("  k_max: 8\n", "  k_max: 8\n  k_max: 4\n"), "key 'judge.k_max' is written twice"),
        ("experiment: x\n---\nmodel: {}\n", "bad.yaml, line 2, column 1: invalid YAML: but found another document"),
        (
            "experiment: !!python/object:os.system x\n",
            "bad.yaml, line 1, column 13: invalid YAML: could not determine",
        ),
    ],
)
def test_unreadable_config_file_is_named_with_its_line(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert expected in _check(path, capsys)


def test_duplicate_key_names_both_lines(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("experiment: x\nmodel:\n  base: a\nmodel:\n  base: b\n")
    assert "key 'model' is written twice (lines 2 and 4)" in _check(path, capsys)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"metrics.ks": [1, 2, 16]}, "metrics.ks: 16 is above judge.k_max = 8"),
        ({"judge.k_max": 4.0}, "judge.k_max': 4.0 is not of type 'integer'"),
        ({"judge.score_range": [10, 1]}, "judge.score_range: [10, 1] is not a range"),
        ({"training.single_score_range": [1, 1]}, "training.single_score_range: [1, 1] is not a range"),
        (
            {"ablation_overrides.no_principles.rft.learning_rat": 1e-5},
            "unknown key 'ablation_overrides.no_principles.rft.learning_rat'",
        ),
        ({"ablation_overrides.rl_only.grpo.beta": "0.02"}, "ablation_overrides.rl_only.grpo.beta'"),
        ({"ablation_overrides.rl_only.dpo": {"beta": 0.1}}, "unknown key 'ablation_overrides.rl_only.dpo'"),
        ({"format_check.benchmark": "rewardbench"}, "format_check.benchmark: 'rewardbench' is not one of"),
        ({"data.raw_dir": "/nowhere/raw"}, "data.raw_dir: '/nowhere/raw' does not exist"),
        (
            {"benchmarks.rmb": {"source": "rmb", "path": "/nowhere/RMB_dataset"}},
            "benchmarks.rmb.path: '/nowhere/RMB_dataset' does not exist",
        ),
        ({"rft.general_data": "/nowhere/general.jsonl"}, "rft.general_data: '/nowhere/general.jsonl' does not exist"),
        ({"training.accelerate_config": "/nowhere/zero3.yaml"}, "training.accelerate_config: '/nowhere/zero3.yaml'"),
    ],
)
def test_bad_setting_is_named_with_its_value(tmp_path, capsys, changes, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_config(**changes)))
    err = _check(path, capsys)
    assert expected in err and "bad.yaml" in err
    assert err.count("\n") == 1  # one mistake, one line


def test_relative_input_path_is_read_from_the_run_directory(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_config(**{"data.raw_dir": "data/raw"})))
    err = _check(path, capsys, "--directory", str(tmp_path))
    assert f"data.raw_dir: 'data/raw' does not exist (relative paths are read from {tmp_path.resolve()})" in err
    assert main(["check-config", str(path), "--directory", str(REPO)]) == 0
    assert main(["check-config", str(path), "--directory", str(tmp_path), "--no-paths"]) == 0


def test_bad_config_override_is_named_like_a_bad_file_value(tmp_path):
    """`--config` values are merged over the file and checked the same way; the message says they took part."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_config()))
    config = _config(**{"judge.k_max": 4})  # the file with the override merged in, as Snakemake hands it over
    with pytest.raises(ConfigError) as info:
        check_workflow_config(config, [str(path)], {"judge": {"k_max": 4}})
    message = str(info.value)
    assert "--config judge=" in message and "metrics.ks: 8 is above judge.k_max = 4" in message


# ---------------------------------------------------------------------------------------------- at workflow start


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "-n", "--cores", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("spct: error: "), result.stderr
    return lines[0]


@pytest.mark.slow
def test_bad_default_config_stops_the_workflow_naming_file_and_line(tmp_path):
    """Without --configfile the Snakefile reads config.yaml of the working directory with our reader first."""
    (tmp_path / "config.yaml").write_text(VALID.replace("  k_max: 8\n", "  k_max: 8\n  k_max: 4\n"))
    line = _one_line_error(_snakemake(tmp_path, "all"))
    assert "config.yaml: key 'judge.k_max' is written twice" in line


@pytest.mark.slow
def test_bad_config_override_stops_the_workflow_naming_the_key(tmp_path):
    """`--config` over a valid file: a nested value arrives as a string (Snakemake reads it with YAML's BaseLoader),
    and the check names the key and the override, in one line."""
    (tmp_path / "mine.yaml").write_text(VALID)
    result = _snakemake(tmp_path, "all", "--configfile", str(tmp_path / "mine.yaml"), "--config", "judge={k_max: 4}")
    line = _one_line_error(result)
    assert "mine.yaml + --config judge=" in line and "judge.k_max': '4' is not of type 'integer'" in line
    assert not (tmp_path / "results").exists()  # nothing stored for a config that failed


@pytest.mark.slow
def test_missing_raw_dir_stops_the_workflow_naming_the_key(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(**{"data.raw_dir": "raw"})))
    line = _one_line_error(_snakemake(tmp_path, "all"))
    assert line == (
        f"spct: error: invalid configuration: config.yaml: data.raw_dir: 'raw' does not exist "
        f"(relative paths are read from {tmp_path.resolve()})"
    )


@pytest.mark.slow
def test_missing_input_path_stops_a_run_before_any_job(tmp_path):
    """A dry run plans, with a warning (it may plan a run for a machine that has the data); a run stops at its
    start, naming the key and the path, before any job and before any MLflow run."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(**{"rft.general_data": "general.jsonl"})))
    planned = _snakemake(tmp_path, "all")
    assert planned.returncode == 0, planned.stdout[-2000:]
    assert "spct: warning: rft.general_data: 'general.jsonl' does not exist" in planned.stderr
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "1", "all"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == (
        f"spct: error: invalid configuration: config.yaml: rft.general_data: 'general.jsonl' does not exist "
        f"(relative paths are read from {tmp_path.resolve()})"
    )
    assert not (tmp_path / "results" / "embedded-default" / "models").exists()
    assert not (tmp_path / "mlflow.db").exists()

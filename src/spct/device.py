"""What the machine can compute in: the one place that decides where bf16 is used."""

from __future__ import annotations


def cpu_has_bf16() -> bool:
    """Whether the CPU has native bf16 instructions (Linux /proc/cpuinfo flags)."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def native_bf16() -> bool:
    """Whether bf16 runs natively here: a GPU that supports it, else a CPU with AVX-512 BF16 / AMX.

    Training stages then use bf16 autocast over fp32 master weights (the Trainer's ``bf16=True``; on this 2-core CPU a
    forward + backward of 8 x 800 tokens of SmolLM2-135M took 14.5-17.7 s against 40.6-43.6 s in fp32,
    tools/cpu_speed_settings.py training), and scoring runs in bf16.
    """
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16()

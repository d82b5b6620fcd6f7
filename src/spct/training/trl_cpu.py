"""One setting of TRL's fused LM head that costs CPU training several times the work it needs.

TRL's trainers (GRPO, SFT) replace the model's LM head with a chunked log-probability kernel. On a device with Triton
(CUDA, XPU) it projects only the positions that have a label (a GRPO batch: the completion tokens); everywhere else
it projects EVERY position, so that a compiled graph (e.g. on Neuron) keeps one tile shape from batch to batch. A CPU
runs that kernel eagerly and has nothing to recompile, but still pays for the prompt positions: in a GRPO step of the
embedded default, 8 rollouts of ~600 prompt and ~50 completion tokens, that is ~12x the LM-head work (a 49,152-word
vocabulary, in fp32), about a quarter of the whole GRPO stage (py-spy profile of the stage, 230 s).

``score_labelled_positions_only`` makes the head project only the labelled positions on a CPU too. The result is the
same per-token log-probabilities and entropies up to float rounding (the kernel treats each position on its own; the
unlabelled ones are zeroed either way; only the GEMM shapes differ), which ``tests/training/test_trl_cpu.py`` checks
against TRL's own path. Rounding is not nothing: over RFT and GRPO it moves the trained weights in their last bits.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def score_labelled_positions_only() -> bool:
    """Make TRL's fused LM head project only labelled positions on a CPU as well (it does on Triton devices).

    Returns whether the setting took: a TRL without the fused head (or that renamed its switch) is left as it is,
    which is correct, only slower.
    """
    try:
        from trl.trainer import utils as trl_utils
    except ImportError:
        return False
    original = getattr(trl_utils, "_use_triton", None)
    if original is None:
        log.info("TRL has no fused-LM-head switch to set (no _use_triton in trl.trainer.utils); left as it is")
        return False
    if getattr(original, "spct_compact_on_cpu", False):
        return True

    def compact(device) -> bool:
        # In trl.trainer.utils this name decides one thing only: whether the head scores just the labelled positions
        # (the kernel's own choice of Triton or torch tiles reads its module's function, not this one).
        return device.type == "cpu" or original(device)

    compact.spct_compact_on_cpu = True
    trl_utils._use_triton = compact
    return True

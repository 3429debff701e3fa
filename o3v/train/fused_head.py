"""trl's fused LM head, made to score only the labelled positions on every device.

trl 1.16 replaces the model's forward with a chunked log-prob head (`trl.trainer.utils.add_fused_lm_head`, used by
`SFTTrainer` and `GRPOTrainer`). On CUDA/XPU it scores only the positions with a label; on any other device it
scores *every* position, to keep tile shapes fixed for ahead-of-time compilers such as Neuron. On a CPU in eager
mode that only costs time: an o3v video row is ~700 tokens of which ~100 are completion, so the head scored 7x
the tokens it needed. Measured on the tiny default, one process, batch 8 video rows: 0.367 -> 0.265 s per SFT
step, with the same loss to the last digit (tests/o3v/train/test_fused_head.py checks loss and gradients).

Log-probs, entropy and the token-accuracy metric are the same either way: trl scatters the compact results back to
the full [batch, length] shape, with zeros on unlabelled positions, in both modes.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class FusedHeadError(RuntimeError):
    """The installed trl no longer has the switch this module sets."""


def _installed() -> Any:
    import trl.trainer.utils as trl_utils

    return trl_utils


def score_labelled_positions_only() -> bool:
    """Make trl's fused head score labelled positions only, on CPUs too. Returns True when it changed something.

    Idempotent. Raises `FusedHeadError` if trl's `_use_triton` switch is gone (a trl upgrade), rather than
    silently training at the old speed or with a different loss.
    """
    trl_utils = _installed()
    current = getattr(trl_utils, "_use_triton", None)
    if current is None:
        raise FusedHeadError(
            "trl.trainer.utils._use_triton is gone: o3v.train.fused_head needs updating for this trl version"
        )
    if getattr(current, "o3v_compact", False):
        return False

    def compact_everywhere(device: Any) -> bool:
        return current(device) or device.type == "cpu"

    compact_everywhere.o3v_compact = True  # type: ignore[attr-defined]
    compact_everywhere.o3v_original = current  # type: ignore[attr-defined]
    trl_utils._use_triton = compact_everywhere
    log.info("trl fused LM head: scoring labelled positions only, CPU included (o3v.train.fused_head)")
    return True


def restore() -> None:
    """Undo `score_labelled_positions_only` (tests compare both modes)."""
    trl_utils = _installed()
    current = trl_utils._use_triton
    if getattr(current, "o3v_compact", False):
        trl_utils._use_triton = current.o3v_original

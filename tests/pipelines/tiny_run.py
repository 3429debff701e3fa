"""The smallest whole DAG (3 videos, 2 SFT steps, 1 GSPO step, 1 sample per benchmark): parameters for tests."""

from __future__ import annotations

from pathlib import Path

TINY = {
    "videos": 3,
    "sft_overrides": {"max_steps": 2, "local_processes": 1},
    "gspo_overrides": {"max_steps": 1},
    "eval_overrides": {"limit": 1},
}


def tiny_params(tmp: Path, **extra) -> dict:
    """TINY with a store and a checkpoint root under `tmp` (and `extra` on top)."""
    return {"store_uri": (tmp / "store").as_uri(), "checkpoint_root": str(tmp / "ckpt"), **TINY, **extra}

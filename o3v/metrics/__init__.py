"""Local `evaluate` metric modules, loaded by path so evaluation works offline.

Each metric lives in `o3v/metrics/<name>/<name>.py` as an `evaluate.Metric` subclass whose maths goes through
`o3v.geometry` (one IoU for rewards, curation and scoring). `evaluate.load("rouge")`-style hub names fail offline
with a misleading message (ml-stack.md §9), so o3v never uses them: `load(name)` resolves the module's folder inside
this package and loads it by path.

    from o3v.metrics import compute
    compute("temporal_iou", predictions=[[0, 4]], references=[[2, 6]], strict=True)
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

METRICS_DIR = Path(__file__).resolve().parent
NAMES = ("temporal_iou", "frame_viou", "mcq_accuracy", "open_answer", "box_iou", "text_match", "grounded_evidence")


def path_of(name: str) -> Path:
    """The folder of metric `name` (raises ValueError for an unknown name, listing the known ones)."""
    if name not in NAMES:
        raise ValueError(f"unknown metric {name!r}; known metrics: {list(NAMES)}")
    return METRICS_DIR / name


@functools.cache
def load(name: str) -> Any:
    """`evaluate.load(<folder of name>)`, in memory, once per process.

    `import evaluate` pulls in torchvision through transformers, so the CPU shim goes first.
    """
    from o3v import torchvision_cpu

    torchvision_cpu.install()
    import evaluate

    return evaluate.load(str(path_of(name)), keep_in_memory=True)


def compute(name: str, **kwargs: Any) -> dict:
    """Load metric `name` by path and run `compute(**kwargs)`."""
    return load(name).compute(**kwargs)

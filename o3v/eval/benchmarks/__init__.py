"""Benchmark adapters, one module each, all with the interface described in `base.py`.

from o3v.eval.benchmarks import get
adapter = get("vstar")
loaded = adapter.load("V_STaR_test.json")
"""

from __future__ import annotations

import importlib
from types import ModuleType

NAMES = ("vstar", "tvgbench", "videomme", "worldsense", "videommmu", "synthetic")


def get(name: str) -> ModuleType:
    """The adapter module of benchmark `name` (ValueError listing the known names otherwise)."""
    if name not in NAMES:
        raise ValueError(f"unknown benchmark {name!r}; expected one of {list(NAMES)}")
    return importlib.import_module(f"o3v.eval.benchmarks.{name}")

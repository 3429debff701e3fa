"""Every example in o3v's docstrings runs: a doctest nobody runs drifts from the code it documents."""

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for p in (ROOT / "o3v").rglob("*.py")
    if ">>>" in p.read_text(encoding="utf-8")
)


def test_the_walk_finds_the_modules_with_examples():
    assert len(MODULES) >= 20 and "o3v.grounded" in MODULES and "o3v.eval.unseen" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"

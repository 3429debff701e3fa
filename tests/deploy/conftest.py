"""Fixtures for the deploy checks: every overlay rendered once per session (helpers in manifest_tools.py)."""

from __future__ import annotations

import sys

import pytest
from manifest_tools import OVERLAYS, ROOT, kustomize_build

# `components` and `pipelines` are imported from the checkout (they are not installed packages).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def built() -> dict[str, list[dict]]:
    """Every overlay rendered once per session: {overlay: [documents]}."""
    return {overlay: kustomize_build(ROOT / "manifests" / "overlays" / overlay) for overlay in OVERLAYS}

"""Fixtures for the artifact-store tests: a fresh bucket in the suite's GCS emulator (`gcs_client`, tests/conftest.py)
and small artifact folders."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def gcs_bucket(gcs_client: object, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test (named after the test)."""
    name = "o3v-" + "".join(c for c in request.node.name.lower() if c.isalnum())[:40]
    gcs_client.create_bucket(name)
    return name


@pytest.fixture
def make_artifact(tmp_path: Path):
    """Write a small folder artifact: `make_artifact("a", {"records.jsonl": "..."})` -> path."""

    def make(name: str, files: dict[str, str]) -> Path:
        root = tmp_path / "src" / name
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        return root

    return make

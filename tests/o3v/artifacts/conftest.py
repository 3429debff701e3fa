"""Fixtures for the artifact-store tests: an in-process GCS emulator on loopback and small artifact folders."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def gcs_client() -> Iterator[object]:
    """A google-cloud-storage client talking to `gcp-storage-emulator` on 127.0.0.1 (in memory, ephemeral port).

    The emulator does NOT enforce generation preconditions (platform.md §4.1): tests that need create-only or
    compare-and-swap semantics wrap the backend in `EnforcingBackend` (test_store_gcs.py).
    """
    from gcp_storage_emulator.server import create_server

    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    old = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    try:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        yield storage.Client(project="o3v-test", credentials=AnonymousCredentials())
    finally:
        server.stop()
        if old is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = old


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

"""Suite-wide fixtures, built once per test run, offline: one synthetic world, one tiny model, one GCS emulator."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def synth_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`o3v synth --videos 6 --seed 0 --faults 0.2 --preset classic`: videos, STGR records, benchmarks, faults.

    The classic world (2-4 objects, long traces) exercises more of the curation rules per record than the
    learnable default; `learnable_world` is the default preset.
    """
    from o3v.synth import generate
    from o3v.synth.world import preset

    out = tmp_path_factory.mktemp("synth")
    generate(out, videos=6, seed=0, faults=0.2, config=preset("classic"))
    return out


@pytest.fixture(scope="session")
def learnable_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`o3v synth --videos 12 --seed 0 --faults 0.2` on the default (learnable) preset."""
    from o3v.synth import generate

    out = tmp_path_factory.mktemp("learnable")
    generate(out, videos=12, seed=0, faults=0.2)
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised tiny Qwen2.5-VL with its processor, saved like a hub checkpoint."""
    from o3v.model import build_tiny

    out = tmp_path_factory.mktemp("tiny-qwen2_5_vl")
    return build_tiny(out, arch="qwen2_5_vl")


@pytest.fixture(scope="session")
def gcs_client() -> Iterator[object]:
    """A google-cloud-storage client talking to `gcp-storage-emulator` on 127.0.0.1 (in memory, ephemeral port).

    One emulator for the whole run: tests create their own buckets. The emulator does NOT enforce generation
    preconditions (platform.md §4.1): tests that need create-only or compare-and-swap semantics wrap the backend
    in `EnforcingBackend` (tests/o3v/artifacts/test_store_gcs.py).
    """
    from gcp_storage_emulator.server import create_server

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
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


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian chromium over CDP (tests/chromium_cdp.py), installed by scripts/install-chromium.sh when
    missing; a clear failure when it cannot be, a skip only with O3V_SKIP_BROWSER_TESTS=1."""
    from chromium_cdp import browser_or_skip

    b = browser_or_skip()
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="session")
def load_bench():
    """Import a script of bench/ (a folder of scripts, not a package) as a module: `load_bench("gpu")`."""
    import importlib.util
    import sys

    def load(name: str):
        path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"bench_{name}"] = module
        spec.loader.exec_module(module)
        return module

    return load

"""Suite-wide fixtures: one synthetic world and one tiny model, each built once per test run, offline."""

from __future__ import annotations

import os

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def synth_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`o3v synth --videos 6 --seed 0 --faults 0.2`: videos, STGR records, benchmark files, fault labels."""
    from o3v.synth import generate

    out = tmp_path_factory.mktemp("synth")
    generate(out, videos=6, seed=0, faults=0.2)
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised tiny Qwen2.5-VL with its processor, saved like a hub checkpoint."""
    from o3v.model import build_tiny

    out = tmp_path_factory.mktemp("tiny-qwen2_5_vl")
    return build_tiny(out, arch="qwen2_5_vl")

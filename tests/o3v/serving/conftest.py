"""A real OpenAI-compatible server for the tests: `transformers serve` on loopback, serving the tiny Qwen3-VL.

Session-scoped: the tiny model (`o3v model tiny --arch qwen3_vl`, ~1 MB) is built once, the server starts
once on a free 127.0.0.1 port with the model folder preloaded (`transformers serve <folder>`, offline: a
local folder needs no hub), the fixture waits for `GET /health`, and the server is stopped at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

STARTUP_S = 180.0


@dataclass(frozen=True)
class Served:
    model_dir: Path  # also the served model's name (the server is pinned to it)
    base_url: str  # http://127.0.0.1:<port>/v1
    log: Path

    @property
    def model(self) -> str:
        return str(self.model_dir)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.is_file() else "(no log)"


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from o3v.model import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny-qwen3_vl"), arch="qwen3_vl")


@pytest.fixture(scope="session")
def served(tiny_qwen3: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`transformers serve` with the tiny Qwen3-VL on 127.0.0.1:<free port>; stopped after the session."""
    exe = Path(sys.executable).with_name("transformers")
    if not exe.is_file():
        pytest.fail(f"{exe} not found: install the 'serving' extra (pip install -e '.[serving]')")
    port = _free_port()
    log = tmp_path_factory.mktemp("transformers-serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [str(exe), "serve", str(tiny_qwen3), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
           "--log-level", "info"]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited with {proc.returncode}:\n{_tail(log)}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not ready after {STARTUP_S:.0f} s:\n{_tail(log)}")
            time.sleep(0.3)
        yield Served(tiny_qwen3, f"http://127.0.0.1:{port}/v1", log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)

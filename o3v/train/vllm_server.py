"""GSPO `rollouts: vllm_server`: a vLLM server in its own pipeline pod, found and released by the GSPO step.

    server pod (components/rollouts.py)              GSPO step (o3v.artifacts.stages.train)
    serve(): start trl's `vllm serve` command        attached(): wait for server.json, check /health,
      wait for GET /health == 200 (readiness)                    claim it, train with vllm_server_base_url,
      publish server.json {base_url}                              release it (done) when training ends, also
      wait for `done` (or no claim in time)                       on failure
      SIGTERM the server, then SIGKILL (shutdown)

The two pods meet at `<root>/vllm-rendezvous/<hash of the SFT model's URI>` (the store bucket on a cluster, a
folder locally), through the same object backends as the artifact store. The server command is trl's own
(`trl.scripts.vllm_serve.build_command`: NCCL weight transfer, processed logprobs), so the trainer's
`VLLMClient` finds the endpoints it expects. vLLM needs a GPU: nothing here starts it on a CPU machine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

SERVER, CLAIMED, DONE = "server.json", "claimed", "done"


class VLLMServerError(RuntimeError):
    """The server did not come up, died, or was never published; the message says which and where."""


def rendezvous(root: str, model_uri: str) -> str:
    """Where the server pod and the GSPO step meet: keyed by the URI of the model both start from (the SFT
    output), not by the run id, so the GSPO step's inputs -- hence its cache key -- stay the same across runs.

    >>> rendezvous("gs://bkt/artifacts/", "gs://bkt/pipeline-root/run/train-sft/model")
    'gs://bkt/artifacts/vllm-rendezvous/1580059c52d3f3e5'
    """
    if not root or not model_uri:
        raise ValueError(f"a vLLM rendezvous needs a root and a model URI, got {root!r}, {model_uri!r}")
    import hashlib

    return f"{root.rstrip('/')}/vllm-rendezvous/{hashlib.sha256(model_uri.encode()).hexdigest()[:16]}"


def _store(location: str) -> Any:
    from o3v.artifacts.backends import open_backend

    return open_backend(location)


def _read(location: str, key: str) -> bytes | None:
    from o3v.artifacts.backends import NotFound

    try:
        return _store(location).read(key)[0]
    except (NotFound, FileNotFoundError):
        return None


def server_command(
    model: str, *, port: int = 8000, gpus: int = 1, gpu_memory_utilization: float = 0.9, max_model_len: int = 0
) -> list[str]:
    """trl's `vllm serve` command line for `model` (what `trl vllm-serve` runs), tensor parallel over `gpus`."""
    from trl.scripts.vllm_serve import ScriptArguments, build_command

    args = ScriptArguments(model=model, host="0.0.0.0", port=port, tensor_parallel_size=gpus,
                           gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len or None,
                           dtype="bfloat16")  # fmt: skip
    return build_command(args)


def healthy(base_url: str, timeout_s: float = 5.0) -> bool:
    """GET <base_url>/health answers 200."""
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=timeout_s) as resp:  # noqa: S310 - our own server
            return resp.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen, grace_s: float) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def serve(
    command: list[str],
    location: str,
    *,
    port: int = 8000,
    ready_timeout_s: float = 1800,
    claim_timeout_s: float = 3 * 3600,
    deadline_s: float = 72 * 3600,
    poll_s: float = 5.0,
    grace_s: float = 60.0,
) -> dict[str, Any]:
    """Run the server `command` until the GSPO step releases it; returns what happened (for the step's log).

    Readiness: /health answers 200 before `ready_timeout_s`, else an error. Shutdown: on `done`, on no claim
    within `claim_timeout_s` after readiness (the GSPO step was cached or never started), or at `deadline_s`.
    """
    store = _store(location)
    for key in (SERVER, CLAIMED, DONE):  # a retried pod starts clean (empty = absent)
        store.write(key, b"")
    env = {**os.environ, "VLLM_SERVER_DEV_MODE": "1"}  # trl's weight-transfer endpoints live behind dev mode
    host = os.environ.get("POD_IP") or "127.0.0.1"  # POD_IP: the pipeline sets it from the pod's status
    base_url = f"http://{host}:{port}"
    t0 = time.monotonic()
    proc = subprocess.Popen(command, env=env)
    try:
        while not healthy(f"http://127.0.0.1:{port}"):
            if proc.poll() is not None:
                raise VLLMServerError(f"vLLM server exited with code {proc.returncode} before it was ready")
            if time.monotonic() - t0 > ready_timeout_s:
                raise VLLMServerError(f"vLLM server not ready after {ready_timeout_s:.0f} s")
            time.sleep(poll_s)
        ready_s = time.monotonic() - t0
        store.write(SERVER, json.dumps({"base_url": base_url, "pid": proc.pid}).encode())
        log.info("vLLM server ready after %.0f s at %s (rendezvous %s)", ready_s, base_url, location)
        stopped_by = _wait_for_release(proc, location, ready_s + t0, claim_timeout_s, deadline_s, poll_s)
    finally:
        code = _stop(proc, grace_s) if proc.poll() is None else proc.returncode
        with contextlib.suppress(Exception):
            store.write(SERVER, b"")  # unpublished: a late reader does not find a dead server
    return {"ready_s": round(ready_s, 1), "served_s": round(time.monotonic() - t0, 1), "stopped_by": stopped_by,
            "exit_code": code}  # fmt: skip


def _wait_for_release(
    proc: subprocess.Popen, location: str, ready_at: float, claim_timeout_s: float, deadline_s: float, poll_s: float
) -> str:
    while True:
        if proc.poll() is not None:
            raise VLLMServerError(f"vLLM server exited with code {proc.returncode} while serving")
        if _read(location, DONE):
            return "released by the GSPO step"
        now = time.monotonic()
        if not _read(location, CLAIMED) and now - ready_at > claim_timeout_s:
            return f"no GSPO step claimed it within {claim_timeout_s:.0f} s"
        if now - ready_at > deadline_s:
            return f"deadline of {deadline_s:.0f} s"
        time.sleep(poll_s)


def await_server(location: str, timeout_s: float = 3600, poll_s: float = 5.0) -> str:
    """The published, healthy server's base URL; raises `VLLMServerError` naming the rendezvous on timeout."""
    t0 = time.monotonic()
    while True:
        raw = _read(location, SERVER)
        if raw:
            base_url = json.loads(raw)["base_url"]
            if healthy(base_url):
                return base_url
        if time.monotonic() - t0 > timeout_s:
            raise VLLMServerError(
                f"no healthy vLLM server published at {location}/{SERVER} within {timeout_s:.0f} s: "
                "rollouts=vllm_server needs the pipeline's vllm_server pod (pipeline parameter vllm_server=true)"
            )
        time.sleep(poll_s)


@contextlib.contextmanager
def attached(location: str, timeout_s: float = 3600) -> Iterator[str]:
    """Claim the run's server for the duration of the block (yields its base URL); always release it after."""
    base_url = await_server(location, timeout_s)
    store = _store(location)
    store.write(CLAIMED, b"1")
    try:
        yield base_url
    finally:
        store.write(DONE, b"1")


@contextlib.contextmanager
def for_run(stage: str, config: str | dict, overrides: dict[str, Any], location: str) -> Iterator[dict[str, Any]]:
    """`overrides`, plus the run's server URL (claimed, released after) when this is GSPO with `rollouts:
    vllm_server` and no `vllm_server_base_url` of its own; anything else passes through untouched."""
    wanted = False
    if stage == "gspo" and location:
        from o3v.train.config import resolve_config

        cfg, _ = resolve_config("gspo", config, overrides)
        wanted = cfg.get("rollouts") == "vllm_server" and not cfg.get("vllm_server_base_url")
    if not wanted:
        yield overrides
        return
    with attached(location) as base_url:
        yield {**overrides, "vllm_server_base_url": base_url}

"""The vLLM rollout server's life cycle (readiness, rendezvous, claim, release, shutdown) with a stand-in HTTP
server in place of vLLM (vLLM needs a GPU), and trl's server command line."""

from __future__ import annotations

import socket
import sys
import threading

import pytest

from o3v.train import vllm_server as vs

# Answers /health with 200 after `delay` seconds; stands in for `vllm serve`.
FAKE = """
import http.server, sys, time
time.sleep(float(sys.argv[2]))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_in_thread(command, location, port, **kw):
    out: dict = {}

    def target():
        try:
            out["result"] = vs.serve(command, location, port=port, poll_s=0.1, grace_s=5, **kw)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def test_server_is_published_when_ready_claimed_and_shut_down_on_release(tmp_path, monkeypatch):
    monkeypatch.setenv("POD_IP", "127.0.0.1")
    port, location = _port(), str(tmp_path / "rdv")
    thread, out = _serve_in_thread([sys.executable, "-c", FAKE, str(port), "0.5"], location, port)
    with vs.attached(location, timeout_s=30) as base_url:
        assert base_url == f"http://127.0.0.1:{port}" and vs.healthy(base_url)
    thread.join(timeout=30)
    assert out["result"]["stopped_by"] == "released by the GSPO step"
    assert out["result"]["exit_code"] != 0 or out["result"]["exit_code"] == -15  # terminated by us
    assert not vs.healthy(base_url), "the server process is gone"
    with pytest.raises(vs.VLLMServerError, match="no healthy vLLM server published"):
        vs.await_server(location, timeout_s=0.3, poll_s=0.1)  # unpublished after shutdown


def test_unclaimed_server_stops_by_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("POD_IP", "127.0.0.1")
    port, location = _port(), str(tmp_path / "rdv")
    thread, out = _serve_in_thread([sys.executable, "-c", FAKE, str(port), "0"], location, port, claim_timeout_s=0.5)
    thread.join(timeout=30)
    assert out["result"]["stopped_by"].startswith("no GSPO step claimed it")


def test_a_server_that_dies_before_ready_is_an_error(tmp_path):
    port = _port()
    thread, out = _serve_in_thread([sys.executable, "-c", "raise SystemExit(3)"], str(tmp_path / "rdv"), port)
    thread.join(timeout=30)
    assert isinstance(out["error"], vs.VLLMServerError) and "exited with code 3 before it was ready" in str(
        out["error"]
    )


def test_await_server_names_the_missing_pod(tmp_path):
    with pytest.raises(vs.VLLMServerError, match="pipeline parameter vllm_server"):
        vs.await_server(str(tmp_path / "rdv"), timeout_s=0.2, poll_s=0.1)


def test_for_run_attaches_only_vllm_server_gspo(tmp_path, monkeypatch):
    calls = []

    class Attached:
        def __enter__(self):
            calls.append("claimed")
            return "http://10.0.0.7:8000"

        def __exit__(self, *exc):
            calls.append("released")

    monkeypatch.setattr(vs, "attached", lambda location: Attached())
    loc = str(tmp_path / "rdv")
    with vs.for_run("gspo", "tiny-cpu", {"max_steps": 1}, loc) as overrides:
        assert overrides == {"max_steps": 1}  # hf rollouts: no server
    with vs.for_run("sft", "tiny-cpu", {}, loc) as overrides:
        assert overrides == {}
    with vs.for_run("gspo", "tiny-cpu", {"rollouts": "vllm_server"}, loc) as overrides:
        assert overrides == {"rollouts": "vllm_server", "vllm_server_base_url": "http://10.0.0.7:8000"}
    assert calls == ["claimed", "released"]


def test_server_command_is_trls_vllm_serve():
    command = vs.server_command("/gcs/b/sft/model", gpus=2, max_model_len=8192)
    assert command[1:5] == ["-m", "vllm.entrypoints.cli.main", "serve", "/gcs/b/sft/model"]
    joined = " ".join(command)
    assert "--tensor-parallel-size 2" in joined and "--max-model-len 8192" in joined
    assert "--weight-transfer-config" in joined and "--logprobs-mode processed_logprobs" in joined

"""A small OpenAI-compatible chat-completions server on loopback that replays recorded responses.

    with ReplayServer({"video v0": [{"status": 429}, {"content": '{"items": []}'}]}) as srv:
        client = ChatClient(OpenAIConfig(base_url=srv.url, ...), cache)

Routing: the first route key found in the request body (e.g. a frame label or an object name) picks
the reply queue; every request takes the next reply, the last one repeats. A reply is
`{"content": text}` (HTTP 200, chat.completion shape), `{"status": code, "body": text, "headers": {...}}`,
`{"raw_body": text}` (HTTP 200, not JSON) or `{"delay": seconds, ...}` (answers late: client timeouts).
The server records every request body it received (`requests`) and when it arrived (`times`, monotonic
seconds: the client's retry waits, measured on the wire), and serves `POST /v1/chat/completions`
only; it binds 127.0.0.1 on an ephemeral port and runs in a daemon thread.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parent / "recordings"


def completion(content: str, model: str = "replay") -> dict[str, Any]:
    """A chat.completion body as OpenAI-compatible servers return it."""
    return {
        "id": "chatcmpl-replay",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def load_recording(name: str) -> Any:
    return json.loads((RECORDINGS / name).read_text(encoding="utf-8"))


class ReplayServer:
    def __init__(self, routes: dict[str, list[dict[str, Any]]], default: list[dict[str, Any]] | None = None):
        self.routes = {k: list(v) for k, v in routes.items()}
        self.default = list(default or [{"status": 404, "body": '{"error": "no route for this request"}'}])
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.times: list[float] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                text = self.rfile.read(length).decode("utf-8")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, b'{"error": "not found"}', {})
                    return
                reply = server._next(text, self.headers.get("Authorization"))
                if reply.get("delay"):
                    time.sleep(reply["delay"])
                if "content" in reply:
                    body = json.dumps(completion(reply["content"])).encode()
                    self._send(200, body, {"Content-Type": "application/json"})
                elif "raw_body" in reply:
                    self._send(200, reply["raw_body"].encode(), {"Content-Type": "application/json"})
                else:
                    body = reply.get("body", json.dumps({"error": {"code": reply["status"]}})).encode()
                    self._send(reply["status"], body, reply.get("headers", {}))

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left: expected in timeout tests

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def _next(self, text: str, auth: str | None) -> dict[str, Any]:
        with self._lock:
            self.requests.append(json.loads(text))
            self.times.append(time.monotonic())
            self.auth.append(auth)
            queue = next((q for key, q in self.routes.items() if key in text), self.default)
            return queue.pop(0) if len(queue) > 1 else queue[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

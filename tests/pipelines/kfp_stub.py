"""A stub of the KFP v2beta1 REST API on loopback: records every request and answers just enough for kfp.Client.

Used to test `make schedule` and the KFP_HOST submit path offline (platform.md §3.6 lists the request
sequence the 2.17 client makes). It accepts whatever the client sends and keeps it for assertions.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse


class KfpStub:
    """`with KfpStub() as stub:` -> `stub.url`; `stub.requests` is a list of (method, path, json body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict | None]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _reply(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                path = urlparse(self.path).path
                stub.requests.append((method, self.path, body))
                self._reply(stub.answer(method, path, body))

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def answer(self, method: str, path: str, body: dict | None) -> dict:
        """Minimal well-formed responses for the endpoints the client uses."""
        if path.endswith("/healthz"):
            return {"commit_sha": "stub", "tag_name": "2.17.0", "multi_user": False}
        if path.endswith("/experiments") and method == "POST":
            return {"experiment_id": "exp-1", "display_name": (body or {}).get("display_name", "o3v")}
        if path.endswith("/experiments"):
            return {"experiments": [{"experiment_id": "exp-1", "display_name": "o3v"}], "total_size": 1}
        if path.endswith("/recurringruns") and method == "POST":
            return {"recurring_run_id": "rr-1", **(body or {})}
        if path.endswith("/runs") and method == "POST":
            return {"run_id": "run-1", "display_name": (body or {}).get("display_name", "")}
        return {}

    def posted(self, suffix: str) -> list[dict]:
        """Bodies of the POST requests whose path ends with `suffix`."""
        return [b for m, p, b in self.requests if m == "POST" and urlparse(p).path.endswith(suffix)]

    def __enter__(self) -> KfpStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

"""Client for OpenAI-compatible chat completions (Gemini's compatible endpoint, vLLM, OpenAI, ...).

What makes it safe to point at a paid endpoint from a pipeline:

- a content-addressed response cache: the key is the sha256 of the canonical request (URL + JSON body,
  never the API key); a successful response is stored before it is used, so a rerun never pays twice,
  even when the teacher's text later fails to parse;
- retries with exponential backoff and jitter on 429, 5xx, timeouts and connection errors (a
  `Retry-After` header is honoured, capped by `backoff_max_s`); other HTTP errors fail at once;
- the API key comes from the environment variable named in the config (`openai.api_key_env`).

Callers bound concurrency themselves (a thread pool of `openai.max_concurrency`); the client keeps one
`requests.Session` per thread.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from o3v.curate.config import ConfigError, OpenAIConfig

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


class ChatError(RuntimeError):
    """A request that failed for good; `reason` is a stable code for the reject line."""

    def __init__(self, reason: str, message: str, *, status: int | None = None, attempts: int = 0):
        super().__init__(message)
        self.reason, self.status, self.attempts = reason, status, attempts


@dataclass(frozen=True)
class ChatResult:
    text: str
    request_sha: str
    cached: bool
    attempts: int


def jpeg_data_url(frame: Any, quality: int = 85) -> str:
    """An RGB uint8 array (H, W, 3) or PIL image as a `data:image/jpeg;base64,...` URL."""
    from PIL import Image

    img = frame if isinstance(frame, Image.Image) else Image.fromarray(frame)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def request_sha(url: str, body: dict[str, Any]) -> str:
    """sha256 of the canonical request: the cache key (the key file name under the cache folder)."""
    canonical = json.dumps({"url": url, "body": body}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def message_text(body: Any) -> str:
    """`choices[0].message.content` of a chat-completions response (string or list of text parts)."""
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ChatError("teacher_bad_response", f"response has no choices[0].message.content: {exc!r}") from exc
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        raise ChatError("teacher_bad_response", f"message content must be text, got {type(content).__name__}")
    return content


class ChatClient:
    """POST `{base_url}/chat/completions` with caching and retries (see the module docstring)."""

    def __init__(
        self,
        cfg: OpenAIConfig,
        cache_dir: Path,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ):
        if not cfg.base_url or not cfg.model:
            raise ConfigError("config keys 'openai.base_url' and 'openai.model' must be set for the openai backend")
        self.cfg = cfg
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self.cache_dir = Path(cache_dir) / "openai"
        self._key = None
        if cfg.api_key_env:
            self._key = os.environ.get(cfg.api_key_env)
            if not self._key:
                raise ConfigError(
                    f"environment variable {cfg.api_key_env} is not set (named by config key 'openai.api_key_env'; "
                    "set it to null for endpoints without a key)"
                )
        self._sleep, self._rng = sleep, rng or random.Random()
        self._local = threading.local()
        self.calls = 0  # HTTP requests actually sent (cache hits excluded)
        self._lock = threading.Lock()

    def body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": messages,
            "temperature": self.cfg.temperature,
            "max_tokens": self.cfg.max_tokens,
        }
        if self.cfg.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def _cache_path(self, sha: str) -> Path:
        return self.cache_dir / sha[:2] / f"{sha}.json"

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        cap = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2**attempt)
        delay = cap / 2 + self._rng.uniform(0, cap / 2)  # "equal jitter": spread out, never a zero wait
        if retry_after:
            try:
                delay = max(delay, min(float(retry_after), self.cfg.backoff_max_s))
            except ValueError:
                pass  # an HTTP-date Retry-After: keep the computed backoff
        return delay

    def complete(self, messages: list[dict[str, Any]]) -> ChatResult:
        """Response text for `messages`, from the cache or the endpoint; raises `ChatError` when it gives up."""
        body = self.body(messages)
        sha = request_sha(self.url, body)
        path = self._cache_path(sha)
        if path.is_file():
            return ChatResult(message_text(json.loads(path.read_text(encoding="utf-8"))["response"]), sha, True, 0)
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        last = ""
        for attempt in range(self.cfg.max_retries + 1):
            retry_after = None
            try:
                with self._lock:
                    self.calls += 1
                resp = self._session().post(self.url, json=body, headers=headers, timeout=self.cfg.timeout_s)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    try:
                        payload = resp.json()
                    except ValueError:
                        last = f"HTTP 200 with a body that is not JSON: {resp.text[:200]!r}"
                    else:
                        text = message_text(payload)
                        self._store(path, sha, payload)
                        return ChatResult(text, sha, False, attempt + 1)
                elif resp.status_code in RETRY_STATUS:
                    last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                    retry_after = resp.headers.get("Retry-After")
                else:
                    raise ChatError(
                        "teacher_http_error",
                        f"{self.url}: HTTP {resp.status_code}: {resp.text[:500]}",
                        status=resp.status_code,
                        attempts=attempt + 1,
                    )
            if attempt < self.cfg.max_retries:
                delay = self._delay(attempt, retry_after)
                log.warning("%s: %s; retry %d/%d in %.2fs", self.url, last, attempt + 1, self.cfg.max_retries, delay)
                self._sleep(delay)
        raise ChatError(
            "teacher_unavailable",
            f"{self.url}: gave up after {self.cfg.max_retries + 1} attempts: {last}",
            attempts=self.cfg.max_retries + 1,
        )

    def _store(self, path: Path, sha: str, payload: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"request_sha": sha, "url": self.url, "response": payload}), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a concurrent reader sees the whole file or none

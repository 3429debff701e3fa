"""Client for OpenAI-compatible chat completions (Gemini's compatible endpoint, vLLM, SGLang, `transformers serve`).

Requests go through the official `openai` client, which owns the transport: timeouts, retries with
exponential backoff and jitter on 408/409/429/5xx, timeouts and connection errors, and the server's
`Retry-After` / `retry-after-ms` headers (honoured up to two minutes). o3v adds what makes it safe to point
at a paid endpoint from a pipeline:

- a content-addressed response cache: the key is the sha256 of the canonical request (URL + JSON body,
  never the API key); a successful response is stored before it is used, so a rerun never pays twice,
  even when the teacher's text later fails to parse;
- a 200 whose body is not JSON (a proxy's error page) is sent again, up to `openai.max_retries` times
  (the `openai` client retries only failed statuses);
- errors with a stable `reason` for the reject line (`teacher_http_error`, `teacher_unavailable`,
  `teacher_bad_response`) and a message naming the URL, the status and the server's own words;
- the API key comes from the environment variable named in the config (`openai.api_key_env`); without
  one, no Authorization header is sent.

Callers bound concurrency themselves (a thread pool of `openai.max_concurrency`); one `openai.OpenAI`
client (thread-safe, one connection pool) serves all threads.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from o3v.curate.config import ConfigError, OpenAIConfig

log = logging.getLogger(__name__)
# the openai client's transport logs every request at INFO; o3v logs retries and failures itself
logging.getLogger("httpx2").setLevel(logging.WARNING)

RETRIED = frozenset({408, 409, 429}) | frozenset(range(500, 600))  # statuses the `openai` client retries


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
    reasoning: str | None = None  # a `reasoning_content` / `reasoning` field the server split off the text


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


def message_reasoning(body: Any) -> str | None:
    """`choices[0].message.reasoning_content` (or vLLM's `reasoning`) when the server split the thinking off."""
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return None
    value = message.get("reasoning_content") or message.get("reasoning")
    return value if isinstance(value, str) and value else None


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


class _Counter:
    """Requests sent on the wire, total and per thread (an httpx request hook: retries included)."""

    def __init__(self) -> None:
        self.total = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def __call__(self, request: Any) -> None:
        with self._lock:
            self.total += 1
        self._local.n = getattr(self._local, "n", 0) + 1

    def mine(self) -> int:
        return getattr(self._local, "n", 0)


class ChatClient:
    """`chat.completions.create` through the `openai` client, with o3v's cache and errors (module docstring)."""

    def __init__(self, cfg: OpenAIConfig, cache_dir: Path | None):
        if not cfg.base_url or not cfg.model:
            raise ConfigError("config keys 'openai.base_url' and 'openai.model' must be set for the openai backend")
        import httpx2
        import openai

        self.cfg = cfg
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self.cache_dir = Path(cache_dir) / "openai" if cache_dir is not None else None  # None: no response cache
        key = None
        if cfg.api_key_env:
            key = os.environ.get(cfg.api_key_env)
            if not key:
                raise ConfigError(
                    f"environment variable {cfg.api_key_env} is not set (named by config key 'openai.api_key_env'; "
                    "set it to null for endpoints without a key)"
                )
        self._sent = _Counter()
        http = openai.DefaultHttpxClient(event_hooks={"request": [self._sent]})
        self._client = openai.OpenAI(
            base_url=cfg.base_url.rstrip("/"),
            api_key=key or "unused",
            max_retries=cfg.max_retries,
            timeout=cfg.timeout_s,
            http_client=http,
        )
        if key is None:  # keyless endpoint: send no Authorization header at all
            self._headers: dict[str, Any] = {"Authorization": openai.Omit()}
        else:
            self._headers = {}
        self._errors = (openai, httpx2)

    @property
    def calls(self) -> int:
        """HTTP requests actually sent (retries included, cache hits excluded)."""
        return self._sent.total

    def body(self, messages: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
        """The request body: the config's model, temperature, max_tokens (and JSON mode); `params` override them
        or add sampling fields (`top_p`, `seed`)."""
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": messages,
            "temperature": self.cfg.temperature,
            "max_tokens": self.cfg.max_tokens,
        }
        if self.cfg.json_mode:
            body["response_format"] = {"type": "json_object"}
        body.update({k: v for k, v in params.items() if v is not None})
        return body

    def _cache_path(self, sha: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / sha[:2] / f"{sha}.json"

    def complete(self, messages: list[dict[str, Any]], **params: Any) -> ChatResult:
        """Response text for `messages`, from the cache or the endpoint; raises `ChatError` when it gives up.

        `params` override body fields for this request (`max_tokens`, `temperature`, `top_p`, `seed`).
        """
        body = self.body(messages, **params)
        sha = request_sha(self.url, body)
        path = self._cache_path(sha) if self.cache_dir is not None else None
        if path is not None and path.is_file():
            payload = json.loads(path.read_text(encoding="utf-8"))["response"]
            return ChatResult(message_text(payload), sha, True, 0, message_reasoning(payload))
        start = self._sent.mine()
        last = ""
        for _ in range(self.cfg.max_retries + 1):
            raw = self._post(body, start)
            try:
                payload = json.loads(raw)
            except ValueError:
                last = f"HTTP 200 with a body that is not JSON: {raw[:200]!r}"
                log.warning("%s: %s; sending it again", self.url, last)
                continue
            text = message_text(payload)
            if path is not None:
                self._store(path, sha, payload)
            return ChatResult(text, sha, False, self._sent.mine() - start, message_reasoning(payload))
        sent = self._sent.mine() - start
        raise ChatError("teacher_unavailable", f"{self.url}: gave up after {sent} attempts: {last}", attempts=sent)

    def _post(self, body: dict[str, Any], start: int) -> str:
        """One logical request (the `openai` client retries inside it); the raw 200 body, or `ChatError`."""
        openai, httpx2 = self._errors
        try:
            resp = self._client.chat.completions.with_raw_response.create(**body, extra_headers=self._headers)
            return resp.http_response.text
        except openai.APIStatusError as exc:
            sent = self._sent.mine() - start
            detail = f"{self.url}: HTTP {exc.status_code}: {exc.response.text[:500]}"
            if exc.status_code in RETRIED:  # the client retried it max_retries times
                raise ChatError(
                    "teacher_unavailable",
                    f"{self.url}: gave up after {sent} attempts: HTTP {exc.status_code}: {exc.response.text[:200]}",
                    status=exc.status_code,
                    attempts=sent,
                ) from exc
            raise ChatError("teacher_http_error", detail, status=exc.status_code, attempts=sent) from exc
        except openai.APIConnectionError as exc:  # timeouts included, after the client's retries
            sent = self._sent.mine() - start
            cause = exc.__cause__ if isinstance(exc.__cause__, httpx2.HTTPError) else exc
            raise ChatError(
                "teacher_unavailable",
                f"{self.url}: gave up after {sent} attempts: {type(exc).__name__}: {cause}",
                attempts=sent,
            ) from exc

    def _store(self, path: Path, sha: str, payload: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"request_sha": sha, "url": self.url, "response": payload}), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a concurrent reader sees the whole file or none

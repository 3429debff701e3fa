"""The OpenAI-compatible client over real HTTP (loopback replay server): retries, backoff, timeouts, cache.

Retries and backoff belong to the `openai` client now; the replay server records when each request
arrived, so the waits are measured on the wire.
"""

from __future__ import annotations

import pytest
from openai_replay import ReplayServer

from o3v.curate.chat_client import ChatClient, ChatError, request_sha
from o3v.curate.config import ConfigError, OpenAIConfig

MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "video v0"}]}]


def _cfg(url: str, **kw) -> OpenAIConfig:
    base = dict(base_url=url, model="replay", api_key_env=None, max_retries=3, timeout_s=2.0)
    return OpenAIConfig(**{**base, **kw})


def _client(url: str, tmp_path, **kw) -> ChatClient:
    return ChatClient(_cfg(url, **kw), tmp_path / "cache")


FAST = {"retry-after-ms": "10"}  # the server asks for a 10 ms wait: keeps the retry tests fast


def _gaps(srv: ReplayServer) -> list[float]:
    return [b - a for a, b in zip(srv.times, srv.times[1:])]


def test_429_and_500_are_retried_then_the_answer_is_returned(tmp_path):
    replies = [{"status": 429, "headers": FAST}, {"status": 500, "headers": FAST}, {"status": 503, "headers": FAST},
               {"content": '{"items": []}'}]  # fmt: skip
    with ReplayServer({"video v0": replies}) as srv:
        res = _client(srv.url, tmp_path).complete(MESSAGES)
    assert res.text == '{"items": []}' and res.attempts == 4 and not res.cached
    gaps = _gaps(srv)
    # each wait happened, and they add up to the server's 3 x 10 ms, not openai's own backoff (>= 3 x 0.375 s); the
    # bound is on the sum so one scheduling stall on a loaded machine does not fail it
    assert len(srv.requests) == 4 and all(g >= 0.01 for g in gaps) and sum(gaps) < 1.0, gaps


def test_without_retry_after_the_client_backs_off_exponentially_with_jitter(tmp_path):
    # openai's schedule: 0.5 s * 2^n, minus up to 25 % jitter
    with ReplayServer({"video v0": [{"status": 503}, {"status": 503}, {"content": "ok"}]}) as srv:
        _client(srv.url, tmp_path).complete(MESSAGES)
    first, second = _gaps(srv)
    assert 0.37 <= first <= 0.7 and 0.74 <= second <= 1.2


def test_retry_after_header_is_honoured(tmp_path):
    replies = [{"status": 429, "headers": {"Retry-After": "0.04"}}, {"content": "ok"}]
    with ReplayServer({"video v0": replies}) as srv:
        _client(srv.url, tmp_path).complete(MESSAGES)
    assert 0.04 <= _gaps(srv)[0] < 0.37  # the server's 40 ms, not the client's own backoff (0.5 s - 25%: >= 0.375)


def test_gives_up_after_max_retries_with_a_reason(tmp_path):
    with ReplayServer({"video v0": [{"status": 500, "headers": FAST}]}) as srv:
        with pytest.raises(ChatError) as err:
            _client(srv.url, tmp_path, max_retries=2).complete(MESSAGES)
    assert err.value.reason == "teacher_unavailable" and err.value.attempts == 3
    assert len(srv.requests) == 3 and "HTTP 500" in str(err.value)


def test_client_errors_are_not_retried(tmp_path):
    with ReplayServer({"video v0": [{"status": 400, "body": '{"error": "bad image"}'}]}) as srv:
        with pytest.raises(ChatError) as err:
            _client(srv.url, tmp_path).complete(MESSAGES)
    assert err.value.reason == "teacher_http_error" and err.value.status == 400 and len(srv.requests) == 1
    assert "bad image" in str(err.value)


def test_timeouts_and_non_json_bodies_are_retried(tmp_path):
    replies = [{"delay": 1.0, "content": "late"}, {"raw_body": "<html>proxy error</html>"}, {"content": "ok"}]
    with ReplayServer({"video v0": replies}) as srv:
        res = _client(srv.url, tmp_path, timeout_s=0.3).complete(MESSAGES)
    assert res.text == "ok" and res.attempts == 3


def test_timeouts_exhaust_the_retries_with_a_clear_reason(tmp_path):
    with ReplayServer({"video v0": [{"delay": 0.6, "content": "late"}]}) as srv:
        with pytest.raises(ChatError) as err:
            _client(srv.url, tmp_path, timeout_s=0.2, max_retries=1).complete(MESSAGES)
    assert err.value.reason == "teacher_unavailable" and err.value.attempts == 2
    assert "Timeout" in str(err.value) and srv.url in str(err.value)


def test_garbage_bodies_exhaust_the_retries_with_a_clear_reason(tmp_path):
    with ReplayServer({"video v0": [{"raw_body": "<html>proxy error</html>"}]}) as srv:
        with pytest.raises(ChatError) as err:
            _client(srv.url, tmp_path, max_retries=1).complete(MESSAGES)
    assert err.value.reason == "teacher_unavailable" and len(srv.requests) == 2
    assert "not JSON" in str(err.value) and "proxy error" in str(err.value)


def test_cache_prevents_a_second_paid_call(tmp_path):
    with ReplayServer({"video v0": [{"content": "first"}, {"content": "second"}]}) as srv:
        client = _client(srv.url, tmp_path)
        a = client.complete(MESSAGES)
        b = _client(srv.url, tmp_path).complete(MESSAGES)  # a rerun: new client, same cache folder
        other = client.complete([{"role": "user", "content": "video v0, another question"}])
    assert (a.text, a.cached) == ("first", False)
    assert (b.text, b.cached) == ("first", True)
    assert other.text == "second" and len(srv.requests) == 2
    sha = request_sha(client.url, client.body(MESSAGES))
    assert (tmp_path / "cache" / "openai" / sha[:2] / f"{sha}.json").is_file()


def test_request_is_strict_json_chat_completions_with_the_key_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("O3V_TEST_KEY", "sk-test")
    with ReplayServer({"video v0": [{"content": "{}"}]}) as srv:
        _client(srv.url, tmp_path, api_key_env="O3V_TEST_KEY").complete(MESSAGES)
    body = srv.requests[0]
    assert body["model"] == "replay" and body["response_format"] == {"type": "json_object"}
    assert body["messages"] == MESSAGES and srv.auth == ["Bearer sk-test"]


def test_keyless_endpoints_get_no_authorization_header(tmp_path):
    with ReplayServer({"video v0": [{"content": "{}"}]}) as srv:
        _client(srv.url, tmp_path).complete(MESSAGES)
    assert srv.auth == [None]


def test_missing_api_key_is_a_clear_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv("O3V_ABSENT_KEY", raising=False)
    with pytest.raises(ConfigError, match="O3V_ABSENT_KEY"):
        _client("http://127.0.0.1:9", tmp_path, api_key_env="O3V_ABSENT_KEY")


def test_response_without_content_is_a_bad_response(tmp_path):
    with ReplayServer({"video v0": [{"raw_body": '{"choices": []}'}]}) as srv:
        with pytest.raises(ChatError) as err:
            _client(srv.url, tmp_path).complete(MESSAGES)
    assert err.value.reason == "teacher_bad_response"

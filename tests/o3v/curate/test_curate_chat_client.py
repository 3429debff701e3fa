"""The OpenAI-compatible client over real HTTP (loopback replay server): retries, backoff, timeouts, cache."""

from __future__ import annotations

import random

import pytest
from openai_replay import ReplayServer

from o3v.curate.chat_client import ChatClient, ChatError, request_sha
from o3v.curate.config import ConfigError, OpenAIConfig

MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "video v0"}]}]


def _cfg(url: str, **kw) -> OpenAIConfig:
    base = dict(base_url=url, model="replay", api_key_env=None, max_retries=3, backoff_base_s=0.01,
                backoff_max_s=0.05, timeout_s=2.0)  # fmt: skip
    return OpenAIConfig(**{**base, **kw})


def _client(url: str, tmp_path, sleeps: list[float] | None = None, **kw) -> ChatClient:
    sleeps = sleeps if sleeps is not None else []
    return ChatClient(_cfg(url, **kw), tmp_path / "cache", sleep=sleeps.append, rng=random.Random(0))


def test_429_and_500_are_retried_then_the_answer_is_returned(tmp_path):
    replies = [{"status": 429}, {"status": 500}, {"status": 503}, {"content": '{"items": []}'}]
    sleeps: list[float] = []
    with ReplayServer({"video v0": replies}) as srv:
        res = _client(srv.url, tmp_path, sleeps).complete(MESSAGES)
    assert res.text == '{"items": []}' and res.attempts == 4 and not res.cached
    assert len(srv.requests) == 4 and len(sleeps) == 3
    # exponential backoff with jitter: each wait lies in [cap/2, cap], cap = min(max, base * 2^attempt)
    for attempt, delay in enumerate(sleeps):
        cap = min(0.05, 0.01 * 2**attempt)
        assert cap / 2 <= delay <= cap


def test_retry_after_header_is_honoured_up_to_the_backoff_cap(tmp_path):
    sleeps: list[float] = []
    replies = [{"status": 429, "headers": {"Retry-After": "0.04"}}, {"content": "ok"}]
    with ReplayServer({"video v0": replies}) as srv:
        _client(srv.url, tmp_path, sleeps, backoff_max_s=1.0).complete(MESSAGES)
    assert sleeps and sleeps[0] >= 0.04


def test_gives_up_after_max_retries_with_a_reason(tmp_path):
    with ReplayServer({"video v0": [{"status": 500}]}) as srv:
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


def test_missing_api_key_is_a_clear_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv("O3V_ABSENT_KEY", raising=False)
    with pytest.raises(ConfigError, match="O3V_ABSENT_KEY"):
        _client("http://127.0.0.1:9", tmp_path, api_key_env="O3V_ABSENT_KEY")


def test_response_without_content_is_a_bad_response(tmp_path):
    with ReplayServer({"video v0": [{"raw_body": '{"choices": []}'}]}) as srv:
        with pytest.raises(ChatError) as err:
            _client(srv.url, tmp_path).complete(MESSAGES)
    assert err.value.reason == "teacher_bad_response"

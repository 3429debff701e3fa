"""The V-STaR judge: backends behind one interface, identity recorded, raw replies cached and reused."""

import importlib.util
import json
from pathlib import Path

import pytest

from o3v.eval.benchmarks import vstar
from o3v.eval.judge import SYSTEM_PROMPT, ExactBackend, Judge, JudgeConfig, make_judge

# The curation area's loopback OpenAI-compatible replay server (one copy in the repo, loaded by path).
_spec = importlib.util.spec_from_file_location(
    "openai_replay", Path(__file__).parents[1] / "curate" / "openai_replay.py"
)
replay = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(replay)


def test_exact_backend_rates_normalized_equality():
    b = ExactBackend()
    assert b.reply([("q", "A red Circle.", "a red circle"), ("q", "red circle", "blue square"), ("q", "", "")]) == [
        "3",
        "0",
        "0",
    ]


def test_judge_cache_is_reused_across_instances(tmp_path):
    cache = tmp_path / "judge.jsonl"
    items = [("q1", "cat", "cat"), ("q2", "dog", "cat")]
    first = make_judge({"backend": "exact"}, cache)
    assert first.rate(items) == ["3", "0"] and first.calls == 2
    second = make_judge({"backend": "exact"}, cache)
    assert second.rate(items) == ["3", "0"] and second.calls == 0  # re-scoring never re-judges
    entry = json.loads(cache.read_text().splitlines()[0])
    assert entry["reply"] == "3" and entry["judge_model"] == "o3v-exact-match" and entry["candidate"] == "cat"


def test_openai_backend_is_greedy_and_records_identity(tmp_path):
    busy = {"status": 503, "headers": {"retry-after-ms": "10"}}  # retried by the openai client after 10 ms
    with replay.ReplayServer(
        {"Candidate answer: a dog": [busy, {"content": "2"}]}, default=[{"content": "not a number"}]
    ) as srv:
        cfg = JudgeConfig(
            backend="openai",
            model="Qwen/Qwen2.5-72B-Instruct",
            revision="abc123",
            base_url=srv.url,
            api_key_env=None,
            cache_dir=str(tmp_path),
        )
        judge = make_judge(cfg, tmp_path / "judge.jsonl")
        replies = judge.rate([("what?", "a dog", "a dog"), ("what?", "a dog", "a cat")])
        body = srv.requests[0]
    assert replies == ["2", "not a number"]
    assert body["temperature"] == 0.0 and body["model"] == "Qwen/Qwen2.5-72B-Instruct"
    assert body["messages"][0]["content"] == SYSTEM_PROMPT and "response_format" not in body
    rows = vstar.judge_rows(
        [
            {"question": "what?", "answer": "a dog", "answer_vqa": "a dog"},
            {"question": "what?", "answer": "a dog", "answer_vqa": "a cat"},
            {"question": "what?", "answer": "a dog", "answer_vqa": ""},
        ],
        judge,
    )
    assert [r.get("judge_score") for r in rows] == [2, -1, None]  # unparsable reply -> -1; empty -> not judged
    assert rows[0]["judge_model"] == "Qwen/Qwen2.5-72B-Instruct" and rows[0]["judge_revision"] == "abc123"
    assert vstar.judge_info(rows[:2])["official"] is True


def test_judge_rows_keep_existing_scores_unless_forced():
    judge = Judge(ExactBackend())
    rows = [{"question": "q", "answer": "x", "answer_vqa": "y", "judge_score": 3}]
    assert vstar.judge_rows(rows, judge)[0]["judge_score"] == 3 and judge.calls == 0
    assert vstar.judge_rows(rows, judge, force=True)[0]["judge_score"] == 0


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"backend": "gpt4"}, "unknown judge backend"),
        ({"backend": "openai"}, "needs judge.base_url"),
        ({"backend": "transformers"}, "needs judge.model"),
        ({"backend": "exact", "temperature": 1}, "unknown judge"),
    ],
)
def test_make_judge_errors(cfg, message):
    with pytest.raises(ValueError, match=message):
        make_judge(cfg)


def test_transformers_backend_runs_a_local_vl_checkpoint_greedily(tiny_model, tmp_path):
    judge = make_judge(
        {"backend": "transformers", "model": str(tiny_model), "batch_size": 2, "max_new_tokens": 8},
        tmp_path / "j.jsonl",
    )
    replies = judge.rate([("what?", "a dog", "a dog"), ("what?", "a dog", "a cat")])
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    assert judge.rate([("what?", "a dog", "a dog")]) == replies[:1]  # greedy + cached: identical on re-rating
    assert judge.identity()["judge_backend"] == "transformers" and judge.identity()["judge_model"] == str(tiny_model)


def test_transformers_backend_runs_a_text_llm(tiny_model, tmp_path):
    """A tiny random text-only Qwen2 causal LM (what Qwen2.5-72B-Instruct is), built from the tiny tokenizer."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_model)
    cfg = Qwen2Config(
        vocab_size=len(tok) + 64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    folder = tmp_path / "text-judge"
    Qwen2ForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    judge = make_judge({"backend": "transformers", "model": str(folder), "max_new_tokens": 8})
    assert not judge.backend.vision
    replies = judge.rate([("what?", "a dog", "a dog")])
    assert len(replies) == 1 and vstar.official_rating(replies[0]) in (-1, 0, 1, 2, 3)

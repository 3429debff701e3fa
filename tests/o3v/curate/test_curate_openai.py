"""The `openai` teacher and verifier over real HTTP against the loopback replay server, on synth videos.

Replies are routed per video by the tail of its first frame's JPEG data URL (what the client sends),
so concurrent requests get their own recorded reply whatever order they arrive in.
"""

from __future__ import annotations

import json
from pathlib import Path

from openai_replay import ReplayServer, load_recording

from o3v.curate.annotate import annotate
from o3v.curate.chat_client import jpeg_data_url
from o3v.curate.config import load_config
from o3v.curate.filter import filter_records
from o3v.curate.teacher import VideoJob, load_frames
from o3v.video import probe

REC = load_recording("teacher_replies.json")


def _cfg(tmp_path: Path, url: str, **annotate_kw) -> dict:
    return {
        "annotate": {"teacher": "openai", "cache_dir": str(tmp_path / "cache"), "num_frames": 4, **annotate_kw},
        "openai": {"base_url": url, "model": "replay", "api_key_env": None, "max_concurrency": 3, "max_retries": 2,
                   "timeout_s": 5.0},
    }  # fmt: skip


def _route_key(video: Path, cfg: dict) -> str:
    c = load_config(cfg)
    info = probe(video)
    job = VideoJob(0, "k", "", video, {"duration": info.duration})
    _, images = load_frames(job, c.annotate.num_frames, c.annotate.max_frame_side)
    return jpeg_data_url(images[0], c.openai.jpeg_quality)[-60:]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_openai_teacher_retries_rejects_bad_output_and_never_pays_twice(synth_world, tmp_path):
    videos = [json.loads(line)["video"] for line in (synth_world / "manifest.jsonl").read_text().splitlines()][:4]
    manifest = tmp_path / "manifest.jsonl"
    lines = [{"id": f"v{i}", "video": v} for i, v in enumerate(videos)] + [{"id": "evil", "video": "../../etc/passwd"}]
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    cfg = _cfg(tmp_path, "http://unused", media_root=str(synth_world))
    keys = [_route_key(synth_world / v, cfg) for v in videos]
    routes = {
        keys[0]: [{"content": REC["valid"]}],
        keys[1]: [{"content": REC["truncated"]}],
        keys[2]: [{"status": 429, "headers": {"Retry-After": "0"}}, {"status": 500}, {"content": REC["fenced"]}],
        keys[3]: [{"status": 503}],
    }
    with ReplayServer(routes) as srv:
        cfg["openai"]["base_url"] = srv.url
        stats = annotate(manifest, tmp_path / "a1", cfg)
        first_calls = len(srv.requests)
        stats2 = annotate(manifest, tmp_path / "a2", cfg)  # the rerun: only the failed call is retried
        second_calls = len(srv.requests) - first_calls

    # units: evil line 1 + v0 4 items + v1 1 (unparseable) + v2 2 items + v3 1 (unavailable)
    assert (stats["in"], stats["kept"], stats["rejected"]) == (9, 4, 5)
    assert stats["by_reason"] == {"teacher_invalid_record": 2, "teacher_unavailable": 1, "teacher_unparseable": 1,
                                  "unsafe_path": 1}  # fmt: skip
    rejects = {(r["id"], r["reason"]): r for r in _lines(tmp_path / "a1" / "rejects.jsonl")}
    assert rejects[("v1", "teacher_unparseable")]["raw"] == REC["truncated"]  # the teacher's text is kept
    assert rejects[("v0-2", "teacher_invalid_record")]["field"] == "items[2].task"
    assert "gave up after 3 attempts" in rejects[("v3", "teacher_unavailable")]["values"]["message"]
    assert rejects[("evil", "unsafe_path")]["values"] == "../../etc/passwd"
    kept = _lines(tmp_path / "a1" / "records.jsonl")
    assert {r["id"] for r in kept} == {"v0-0", "v0-1", "v2-0", "v2-1"}
    assert all(r["source"] == "teacher:openai:replay" and r["media_meta"]["fps"] == 8.0 for r in kept)

    assert first_calls == 1 + 1 + 3 + 3  # v2 needed three attempts, v3 gave up after three
    assert second_calls == 3 and stats2["videos"]["teacher_cached"] == 3  # v0, v1, v2 came from the cache
    assert _lines(tmp_path / "a2" / "records.jsonl") == kept

    # the request: strict JSON mode, system prompt, frames as base64 JPEG data URLs with their time labels
    body = srv.requests[0]
    assert body["response_format"] == {"type": "json_object"} and body["messages"][0]["role"] == "system"
    parts = body["messages"][1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(urls) == 4 and all(u.startswith("data:image/jpeg;base64,") for u in urls)
    assert parts[0]["text"].startswith("Frame 1 at ")


def test_openai_verifier_asks_about_each_cited_box(synth_world, tmp_path):
    stats = annotate(synth_world, tmp_path / "ann")  # synthetic teacher, faults included
    routes = {"Is this a ": [{"content": "Yes."}]}
    with ReplayServer(routes) as srv:
        cfg = _cfg(tmp_path, srv.url)
        cfg["filter"] = {"verifier": "openai"}
        fstats = filter_records(tmp_path / "ann", tmp_path / "filt", cfg)
    assert fstats["in"] == stats["kept"] and fstats["verifier"] == "model:openai:replay"
    questions = [p["text"] for body in srv.requests for p in body["messages"][1]["content"] if p["type"] == "text"]
    assert questions and all(q.startswith("Is this a ") and q.endswith("?") for q in questions)
    crops = [p for body in srv.requests for p in body["messages"][1]["content"] if p["type"] == "image_url"]
    assert len(crops) == len(questions)  # one crop per question
    # the replay said yes to everything: only the rule-based rejects remain
    assert set(fstats["by_reason"]) <= {"box_oversized", "box_inverted", "box_out_of_frame", "box_zero_area",
                                        "claim_box_oversized", "claim_box_inverted", "claim_box_out_of_frame",
                                        "claim_box_zero_area"}  # fmt: skip

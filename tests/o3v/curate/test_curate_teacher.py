"""Teacher output parsing (untrusted text -> records or rejects) on the recorded replies; the prompt parts."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from openai_replay import load_recording

from o3v.curate.teacher import TEACHER_SYSTEM_PROMPT, VideoJob, frame_times, prompt_parts, reply_from_text
from o3v.records import Record, RecordError

REC = load_recording("teacher_replies.json")
META = {"kind": "video", "width": 160, "height": 120, "duration": 6.0, "fps": 8.0, "num_frames": 48}
JOB = VideoJob(3, "vid7", "videos/vid7.mp4", Path("/nonexistent/vid7.mp4"), META)


def test_valid_reply_gives_records_and_item_level_rejects():
    reply = reply_from_text(REC["valid"], JOB, "teacher:test")
    assert reply.error is None and len(reply.items) == 4
    (_, a), (_, b), (raw_c, c), (_, d) = reply.items
    assert isinstance(a, Record) and isinstance(b, Record)
    assert a.id == "vid7-0" and a.video_path == "videos/vid7.mp4" and a.source == "teacher:test"
    assert [kf.time for kf in a.key_frames] == [1.5, 3.0] and a.key_items["1"] == {
        "red circle": [[0.4, 0.2, 0.55, 0.4]]
    }
    assert a.extra["media_meta"] == META and b.options == ["A. red", "B. blue", "C. green"]
    assert isinstance(c, RecordError) and c.field == "items[2].task" and raw_c["task"] == "movie trivia"
    assert isinstance(d, RecordError) and d.field == "key_frames[0].time"


def test_fenced_reply_is_unwrapped_but_prose_and_truncation_are_rejected_with_raw_text():
    assert len(reply_from_text(REC["fenced"], JOB, "t").items) == 2
    for name in ("truncated", "prose"):
        reply = reply_from_text(REC[name], JOB, "t")
        assert reply.items == [] and reply.error.reason == "teacher_unparseable" and reply.raw == REC[name]
    assert reply_from_text('{"answer": 1}', JOB, "t").error.field == "reply.items"


@given(st.text(max_size=200))
def test_reply_parsing_never_raises(text):
    reply = reply_from_text(text, JOB, "t")
    assert reply.error is not None or isinstance(reply.items, list)


def test_prompt_parts_label_frames_with_their_times():
    times = frame_times(6.0, 4)
    assert times == [0.75, 2.25, 3.75, 5.25]
    parts = prompt_parts(times, 6.0, 3)
    assert parts[0] == ("text", "Frame 1 at 0.75s: ") and parts[1] == ("image", 0)
    assert sum(kind == "image" for kind, _ in parts) == 4 and "Write 3 items." in parts[-1][1]
    assert "<obj>name</obj><box>[x1,y1,x2,y2]</box>at<t>seconds</t>s" in TEACHER_SYSTEM_PROMPT

"""Teachers: what turns one video into STGR records, behind one small interface.

    teacher(job: VideoJob) -> TeacherReply      # items (record or RecordError each), or one error

- `synthetic`: the synth world's STGR-SFT records of that video (its ground truth, faults included);
- `openai`: an OpenAI-compatible chat endpoint sees the frames (base64 JPEG data URLs) and answers the
  one teacher prompt below in strict JSON (`o3v.curate.chat_client` caches and retries);
- `local`: a transformers VLM loaded through `o3v.model.load_model`, same prompt, same parser.

Teacher output is untrusted text: `parse_teacher_json` never guesses. A reply that is not one JSON
object with an "items" list becomes a `teacher_unparseable` reject that keeps the raw text; an item that
does not make a valid record becomes a `teacher_invalid_record` reject naming the field.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from o3v.curate.dataset import Problem
from o3v.prompts import frame_label
from o3v.records import VIDEO_TASKS, Record, RecordError, record_from_dict

log = logging.getLogger(__name__)

TEACHER_SYSTEM_PROMPT = """\
You annotate videos for grounded video reasoning. You are shown frames of one video, each preceded by its \
time in seconds. Write question-answer items about the video and reply with ONE JSON object and nothing else:
{"items": [{"task": "...", "question": "...", "options": ["A. ...", "B. ..."], "answer": "...",
            "key_frames": [{"time": 2.5, "objects": {"red circle": [0.12, 0.30, 0.25, 0.48]}}],
            "reasoning": "..."}]}
Rules:
- "task" is one of: "temporal-spatial free-form QA", "temporal QA", "temporal QA (MCQ)", "General video QA MCQ", \
"General video QA Free-form". "options" only for the two MCQ tasks.
- Key frames are frames you were shown (use their times). Each object's box is [x1, y1, x2, y2] normalized to \
[0, 1] (fractions of frame width and height, top-left to bottom-right), tight around the object in that frame.
- The reasoning is step by step and cites every key-frame object exactly as \
<obj>name</obj><box>[x1,y1,x2,y2]</box>at<t>seconds</t>s with the same name, box and time as in key_frames.
- Answers: temporal QA: From <t>start</t>s to <t>end</t>s ; temporal QA (MCQ): From <t>start</t>s to <t>end</t>s.\\n\
Correct Option: X with options like "A. From 1.0s to 3.5s"; General video QA MCQ: only the option letter, and the \
reasoning ends with "so the answer is option X."; free-form tasks: plain text without tags.
- Only describe what is visible. Do not invent objects."""


@dataclass(frozen=True)
class VideoJob:
    """One manifest video that passed pre-flight: where it is and what the probe measured."""

    index: int
    id: str
    rel_path: str
    local_path: Path
    meta: dict[str, Any]


@dataclass
class TeacherReply:
    """Either `items` (raw item, record-or-error) or `error` (the whole video failed), plus the raw text."""

    items: list[tuple[Any, Record | RecordError]] = field(default_factory=list)
    error: Problem | None = None
    raw: str | None = None
    cached: bool = False


Teacher = Callable[[VideoJob], TeacherReply]


def strip_fence(text: str) -> str:
    """Unwrap exactly one ```json ... ``` fence (endpoints add it even in JSON mode); anything else stays."""
    t = text.strip()
    if t.startswith("```") and t.endswith("```") and t.count("```") == 2:
        t = t[3:-3]
        if t.startswith("json"):
            t = t[4:]
    return t.strip()


def parse_teacher_json(text: str) -> list[Any]:
    """The "items" list of a teacher reply; raises `RecordError(field=...)` when the reply is not that shape."""
    try:
        data = json.loads(strip_fence(text))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise RecordError(f"teacher reply is not JSON: {exc}", field="reply") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise RecordError('teacher reply must be an object with an "items" list', field="reply.items")
    return data["items"]


def item_to_raw(item: Any, job: VideoJob, j: int, source: str) -> dict[str, Any]:
    """A teacher item -> an upstream-shaped STGR dict (key_frames with idx, key_items keyed by str(idx))."""
    if not isinstance(item, dict):
        raise RecordError(f"item must be an object, got {type(item).__name__}", field=f"items[{j}]")
    frames = item.get("key_frames") or []
    if not isinstance(frames, list):
        raise RecordError("must be a list", field=f"items[{j}].key_frames")
    key_frames, key_items = [], {}
    for i, kf in enumerate(frames):
        if not isinstance(kf, dict) or not isinstance(kf.get("objects", {}), dict):
            raise RecordError('must be {"time": seconds, "objects": {name: box}}', field=f"items[{j}].key_frames[{i}]")
        key_frames.append({"time": kf.get("time"), "idx": i})
        key_items[str(i)] = {str(name): [box] for name, box in (kf.get("objects") or {}).items()}
    task = item.get("task")
    if task not in VIDEO_TASKS:
        raise RecordError(f"unknown video task {task!r}", field=f"items[{j}].task")
    raw: dict[str, Any] = {
        "id": f"{job.id}-{j}",
        "task": task,
        "source": source,
        "question": item.get("question"),
        "answer": item.get("answer"),
        "reasoning_process": item.get("reasoning"),
        "video_path": job.rel_path,
        "key_frames": key_frames,
        "key_items": key_items or None,
    }
    if item.get("options") is not None:
        raw["options"] = item["options"]
    raw["media_meta"] = job.meta
    return raw


def reply_from_text(text: str, job: VideoJob, source: str, cached: bool = False) -> TeacherReply:
    """Parse a teacher's raw text into records; never raises (bad output becomes reject material)."""
    try:
        items = parse_teacher_json(text)
    except RecordError as exc:
        return TeacherReply(error=Problem("teacher_unparseable", exc.field, str(exc)), raw=text, cached=cached)
    out: list[tuple[Any, Record | RecordError]] = []
    for j, item in enumerate(items):
        try:
            raw = item_to_raw(item, job, j, source)
            out.append((raw, record_from_dict(raw)))
        except RecordError as exc:
            out.append((item, exc))
    return TeacherReply(items=out, raw=text, cached=cached)


def frame_times(duration: float, n: int) -> list[float]:
    """`n` frame times at the centres of equal slices of the clip (never the unreliable last frame)."""
    return [round((k + 0.5) * duration / n, 3) for k in range(n)]


def load_frames(job: VideoJob, n: int, max_side: int) -> tuple[list[float], list[Any]]:
    """Decode `n` frames through `o3v.video` (PIL images, longer side <= max_side) and their true times."""
    from PIL import Image

    from o3v.video import frames_at

    sampled = frames_at(job.local_path, frame_times(float(job.meta["duration"]), n))
    images = []
    for frame in sampled.frames:
        img = Image.fromarray(frame)
        if max(img.size) > max_side:
            img.thumbnail((max_side, max_side))
        images.append(img)
    return list(sampled.times), images


def prompt_parts(times: list[float], duration: float, n_items: int) -> list[tuple[str, Any]]:
    """The teacher's user turn as neutral parts: ("text", str) and ("image", frame index)."""
    parts: list[tuple[str, Any]] = []
    for i, t in enumerate(times):
        parts += [("text", frame_label(i + 1, t) + " "), ("image", i), ("text", "\n")]
    parts.append(("text", f"The video is {round(duration, 2)} seconds long. Write {n_items} items."))
    return parts


class ModelTeacher:
    """The teacher prompt answered by a vision-chat backend (`openai` or `local`)."""

    def __init__(self, chat: Any, num_frames: int, max_frame_side: int, items_per_video: int):
        self.chat, self.name, self.concurrency = chat, chat.name, chat.concurrency
        self.num_frames, self.max_side, self.n_items = num_frames, max_frame_side, items_per_video

    def __call__(self, job: VideoJob) -> TeacherReply:
        from o3v.curate.chat_client import ChatError
        from o3v.video import VideoError

        try:
            times, images = load_frames(job, self.num_frames, self.max_side)
        except VideoError as exc:
            return TeacherReply(error=Problem("video_undecodable", "video", str(exc)))
        parts = prompt_parts(times, float(job.meta["duration"]), self.n_items)
        try:
            text, cached = self.chat.ask(TEACHER_SYSTEM_PROMPT, parts, images)
        except ChatError as exc:
            return TeacherReply(error=Problem(exc.reason, "teacher", {"message": str(exc), "status": exc.status}))
        return reply_from_text(text, job, f"teacher:{self.name}", cached)

"""Hand-written STGR records and dataset folders for the curation tests (no synth world needed).

Every builder returns a clean record of one task that passes filter and check; tests then break one
field at a time. Records carry the `media_meta` that annotate's pre-flight adds.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

META = {"kind": "video", "width": 160, "height": 120, "duration": 10.0, "fps": 8.0, "num_frames": 80}


def spatial(rid: str = "r-st", video: str = "videos/v0.mp4") -> dict[str, Any]:
    return {
        "id": rid,
        "task": "temporal-spatial free-form QA",
        "source": "test",
        "question": "What happens to the red circle after the blue square appears?",
        "answer": "The red circle moves right.",
        "reasoning_process": (
            "The <obj>blue square</obj><box>[0.1,0.2,0.3,0.4]</box>at<t>2</t>s appears, then the "
            "<obj>red circle</obj><box>[0.5,0.5,0.6,0.6]</box>at<t>4.5</t>s moves right."
        ),
        "video_path": video,
        "key_frames": [{"time": 2.0, "idx": 0}, {"time": 4.5, "idx": 1}],
        "key_items": {"0": {"blue square": [[0.1, 0.2, 0.3, 0.4]]}, "1": {"red circle": [[0.5, 0.5, 0.6, 0.6]]}},
        "media_meta": dict(META),
    }


def temporal(rid: str = "r-t", video: str = "videos/v0.mp4") -> dict[str, Any]:
    return {
        "id": rid,
        "task": "temporal QA",
        "source": "test",
        "question": "When is the green triangle visible?",
        "answer": "From <t>2</t>s to <t>5.5</t>s",
        "reasoning_process": "The green triangle is first seen at <t>2</t>s and last seen at <t>5.5</t>s.",
        "video_path": video,
        "media_meta": dict(META),
    }


def temporal_mcq(rid: str = "r-tm", video: str = "videos/v0.mp4") -> dict[str, Any]:
    return {
        "id": rid,
        "task": "temporal QA (MCQ)",
        "source": "test",
        "question": "When is the green triangle visible?",
        "answer": "From <t>2</t>s to <t>5.5</t>s.\nCorrect Option: B",
        "reasoning_process": "It appears at <t>2</t>s and leaves after <t>5.5</t>s, so the answer is option B.",
        "video_path": video,
        "options": ["A. From 0.0s to 1.5s", "B. From 2.0s to 5.5s", "C. From 6.0s to 9.0s"],
        "media_meta": dict(META),
    }


def mcq(rid: str = "r-mcq", video: str = "videos/v0.mp4") -> dict[str, Any]:
    return {
        "id": rid,
        "task": "General video QA MCQ",
        "source": "test",
        "question": "Which object appears first?",
        "answer": "A",
        "reasoning_process": "The <obj>red circle</obj><box>[0.5,0.5,0.6,0.6]</box>at<t>1</t>s comes first, "
        "so the answer is option A.",
        "video_path": video,
        "options": ["A. red circle", "B. blue square"],
        "media_meta": dict(META),
    }


def visual(rid: str = "r-vqa") -> dict[str, Any]:
    return {
        "id": rid,
        "task": "visual QA",
        "source": "test",
        "question": "Where is the red circle?",
        "answer": "<obj>red circle</obj><box>[80,60,96,72]</box>",
        "reasoning_process": "The red circle is at <box>[80,60,96,72]</box>.",
        "image_path": "images/i0.png",
        "image_size": [160, 120],
        "media_meta": {"kind": "image", "width": 160, "height": 120},
    }


def clean_records() -> list[dict[str, Any]]:
    """One clean record per task family, distinct videos so no near-duplicate rule fires."""
    return [spatial("a"), temporal("b", "videos/v1.mp4"), temporal_mcq("c", "videos/v2.mp4"), mcq("d"), visual("e")]


def write_dataset(folder: Path, rows: list[Any], media_root: str = "/media", raw_lines: list[str] = ()) -> Path:
    """A dataset directory holding `rows` (dicts, written as JSON lines) plus `raw_lines` verbatim."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in rows] + list(raw_lines)
    (folder / "records.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (folder / "dataset.json").write_text(json.dumps({"media_root": media_root, "stage": "test"}), encoding="utf-8")
    return folder


def modified(rec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(rec)
    out.update(changes)
    return out

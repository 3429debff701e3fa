"""What reward functions receive: completion text, the ground-truth `reference` column, training progress.

trl calls a reward as `fn(prompts=..., completions=..., completion_ids=..., trainer_state=..., **columns)`,
with one entry per completion in every dataset column. o3v puts the whole ground truth of a record in a
single `reference` column (a JSON string: HF `datasets` would otherwise pad nested dicts with `None`
keys, ml-stack.md key fact 8). A `Reference` holds everything every reward needs, with every box already
in **model-input pixels** of the frames the completion was produced from (open-o3-video.md §3).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from o3v.geometry import rescale_box, to_pixels
from o3v.grounded import map_where
from o3v.records import Record, RecordError, gt_box, gt_option, gt_span

Box4 = tuple[float, float, float, float]


@dataclass(frozen=True)
class KeyFrameTruth:
    """One annotated key frame: its time and, per object name, its GT boxes in model-input pixels."""

    time: float
    objects: dict[str, tuple[Box4, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """The ground truth one completion is scored against (model-input pixel space)."""

    task: str
    answer: str = ""
    option: str | None = None
    span: tuple[float, float] | None = None
    box: Box4 | None = None
    key_frames: tuple[KeyFrameTruth, ...] = ()

    def to_json(self) -> str:
        """Compact JSON for the dataset's `reference` column."""
        return json.dumps(
            {
                "task": self.task,
                "answer": self.answer,
                "option": self.option,
                "span": list(self.span) if self.span else None,
                "box": list(self.box) if self.box else None,
                "key_frames": [
                    {"time": kf.time, "objects": {k: [list(b) for b in v] for k, v in kf.objects.items()}}
                    for kf in self.key_frames
                ],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str | Mapping[str, Any] | Reference) -> Reference:
        """Build from the JSON column (a string) or an equivalent dict; missing fields take their defaults."""
        if isinstance(raw, Reference):
            return raw
        data = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(data, Mapping) or not isinstance(data.get("task"), str):
            raise ValueError(f"reference must be an object with a 'task' string, got {str(raw)[:80]!r}")
        span = data.get("span")
        box = data.get("box")
        return cls(
            task=data["task"],
            answer=data.get("answer") or "",
            option=data.get("option"),
            span=(float(span[0]), float(span[1])) if span else None,
            box=tuple(float(v) for v in box) if box else None,  # type: ignore[arg-type]
            key_frames=tuple(
                KeyFrameTruth(
                    float(kf["time"]),
                    {
                        name: tuple(tuple(float(v) for v in b) for b in boxes)  # type: ignore[misc]
                        for name, boxes in (kf.get("objects") or {}).items()
                        if boxes
                    },
                )
                for kf in data.get("key_frames") or ()
            ),
        )


@functools.lru_cache(maxsize=8192)
def _cached_reference(raw: str) -> Reference:
    return Reference.from_json(raw)


def references(column: Sequence[Any]) -> list[Reference]:
    """Decode a `reference` column (JSON strings are cached: trl repeats each row once per generation)."""
    return [_cached_reference(r) if isinstance(r, str) else Reference.from_json(r) for r in column]


def reference_from_record(record: Record, frame_size: tuple[int, int]) -> Reference:
    """The `Reference` of an STGR record (SFT or RL answer format) for frames of `frame_size` = (W, H).

    Normalized key-item boxes are scaled by (W, H) (upstream `convert_coord_format`); a visual-QA answer box
    in original-image pixels is rescaled from `image_size` to (W, H) (upstream `convert_coord_format_gqa`);
    a where-over-time answer (`o3v.grounded.render_where`, normalized) is scaled by (W, H) like the SFT target.
    """
    width, height = frame_size
    check_truth(record)
    box = gt_box(record) if record.task == "visual QA" else None
    if box is not None:
        if record.box_space() == "image_pixels":
            box = rescale_box(box, record.image_size, frame_size)  # type: ignore[arg-type]
        else:
            box = to_pixels(box, width, height)
    frames: list[KeyFrameTruth] = []
    items = record.key_items or {}
    for kf in record.key_frames:
        objects = items.get(str(kf.idx)) or {}
        frames.append(
            KeyFrameTruth(
                float(kf.time),
                {
                    name: tuple(tuple(to_pixels(b, width, height)) for b in boxes)  # type: ignore[misc]
                    for name, boxes in objects.items()
                    if boxes
                },
            )
        )
    return Reference(
        task=record.task,
        answer=map_where(_plain_answer(record), lambda b: to_pixels(b, width, height)),
        option=gt_option(record) if "MCQ" in record.task else None,
        span=gt_span(record),
        box=tuple(box) if box is not None else None,  # type: ignore[arg-type]
        key_frames=tuple(frames),
    )


def check_truth(record: Record) -> None:
    """Raise `RecordError` (naming the field) when a record lacks the ground truth its task's rewards need."""
    if record.task in ("temporal QA", "temporal QA (MCQ)") and gt_span(record) is None:
        raise RecordError("has no time span ('[s, e]' or 'From <t>s</t>s to <t>e</t>s')", field="answer")
    if "MCQ" in record.task and gt_option(record) is None:
        raise RecordError("has no option letter", field="answer")
    if record.task == "visual QA" and gt_box(record) is None:
        raise RecordError("has no <box>[x1,y1,x2,y2]</box>", field="answer")
    if record.task == "temporal-spatial free-form QA" and not record.key_frames:
        raise RecordError("is empty: the temporal and spatial rewards need key frames", field="key_frames")


def _plain_answer(record: Record) -> str:
    """The answer text ROUGE compares against (upstream compares with the stripped `answer` field)."""
    return record.answer.strip()


def completion_text(completion: Any) -> str:
    """The assistant text of one trl completion: a string, or a conversational `[{"role", "content"}]` list.

    Content given as typed blocks (`[{"type": "text", "text": ...}]`) is joined. Anything else is "" (model
    output is untrusted; a malformed completion simply scores 0).
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        content = completion[-1].get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, Sequence):
            return "".join(p.get("text") or "" for p in content if isinstance(p, Mapping))
    return ""


def training_progress(progress: float | None = None, trainer_state: Any = None) -> float:
    """Training progress ρ in [0, 1]: given directly (`o3v reward --progress`) or from trl's `trainer_state`.

    From a trainer state it is `(global_step + 1) / max_steps`, as upstream's `step_percent`.
    """
    if progress is not None:
        rho = float(progress)
    elif trainer_state is not None and getattr(trainer_state, "max_steps", 0):
        rho = (trainer_state.global_step + 1) / trainer_state.max_steps
    else:
        raise ValueError("training progress is unknown: pass progress= or trl's trainer_state= (with max_steps > 0)")
    if not math.isfinite(rho):
        raise ValueError(f"training progress must be finite, got {progress}")
    return min(1.0, max(0.0, rho))


# Which reward terms apply to which task (open-o3-video.md §9.6). A term that does not apply returns None,
# which trl treats as "not applicable" (NaN, left out of the sum and of that term's logged mean).
TERMS_BY_TASK: dict[str, tuple[str, ...]] = {
    "temporal-spatial free-form QA": ("answer_accuracy", "think_temporal_point", "think_spatial", "format"),
    "temporal QA": ("answer_temporal_iou", "think_temporal_segment", "format"),
    "temporal QA (MCQ)": ("answer_accuracy", "answer_temporal_iou", "think_temporal_segment", "format"),
    "visual QA": ("answer_visual_iou", "think_spatial", "format"),
    "General video QA MCQ": ("answer_accuracy", "format"),
    "General video QA Free-form": ("answer_accuracy", "format"),
}


def applies(term: str, task: str) -> bool:
    """Whether reward `term` scores records of `task`; an unknown task is an error, not a silent 0."""
    if task not in TERMS_BY_TASK:
        raise ValueError(f"unknown task {task!r} in reference; expected one of {sorted(TERMS_BY_TASK)}")
    return term in TERMS_BY_TASK[task]

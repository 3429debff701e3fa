"""STGR records: the reference SFT/RL JSON schema as typed values, read and written losslessly.

Upstream files (open-o3-video.md §2.5) are a JSON list of records; o3v also reads and writes JSONL.
A record keeps every field it was read with (unknown ones in `extra`) and its key order, so
`write_records(read_records(f))` reproduces the file's content exactly.

Boxes: `key_items` values are stored as written upstream. STGR boxes are normalized xyxy in [0, 1];
visual-QA (GQA / TreeVGR) boxes are pixels of the original image (`image_size`). `Record.evidence()`
returns every box in the canonical normalized convention, whatever the source space.

A malformed record raises `RecordError`, which names the file, the record index and the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from o3v.geometry import to_normalized
from o3v.grounded import parse, parse_option, parse_span

Task = Literal[
    "visual QA",
    "temporal-spatial free-form QA",
    "temporal QA",
    "temporal QA (MCQ)",
    "General video QA MCQ",
    "General video QA Free-form",
]
TASKS: tuple[str, ...] = Task.__args__  # type: ignore[attr-defined]
VIDEO_TASKS = tuple(t for t in TASKS if t != "visual QA")
MCQ_TASKS = ("temporal QA (MCQ)", "General video QA MCQ")
FREE_FORM_TASKS = ("temporal-spatial free-form QA", "General video QA Free-form")
TEMPORAL_TASKS = ("temporal QA", "temporal QA (MCQ)")

_KNOWN = (
    "id",
    "task",
    "source",
    "question",
    "answer",
    "reasoning_process",
    "video_path",
    "image_path",
    "image_size",
    "key_frames",
    "key_items",
    "options",
)


class RecordError(ValueError):
    """A record that does not fit the schema; says where (file, record index, field) and why."""

    def __init__(self, message: str, *, file: str | None = None, index: int | None = None, field: str | None = None):
        self.file, self.index, self.field, self.reason = file, index, field, message
        where = ", ".join(
            p
            for p in (
                f"file {file}" if file else "",
                f"record {index}" if index is not None else "",
                f"field '{field}'" if field else "",
            )
            if p
        )
        super().__init__(f"{where}: {message}" if where else message)

    def located(self, file: str | None, index: int | None) -> RecordError:
        """The same error with the file and record index filled in."""
        return RecordError(
            self.reason, file=file or self.file, index=self.index if index is None else index, field=self.field
        )

    def to_json(self) -> dict:
        return {"file": self.file, "index": self.index, "field": self.field, "reason": self.reason}


@dataclass
class KeyFrame:
    """An annotated key frame: its time in seconds, the index that keys `key_items`, an optional image."""

    time: float
    idx: int | str | None = None
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        values = {"time": self.time, "idx": self.idx, "path": self.path, **self.extra}
        order = self.key_order or ("time", "idx", "path", *self.extra)
        return {k: values[k] for k in order if k in values and (values[k] is not None or k in self.key_order)}


@dataclass(frozen=True)
class Evidence:
    """One box of one object at one key frame, in the canonical normalized xyxy convention."""

    time: float
    object: str
    box: tuple[float, float, float, float]


@dataclass
class Record:
    """One STGR sample (SFT and RL share the type; RL has no `reasoning_process`)."""

    task: str
    question: str
    answer: str
    source: str = ""
    id: str | None = None
    reasoning_process: str | None = None
    video_path: str | None = None
    image_path: str | None = None
    image_size: list[int] | None = None
    key_frames: list[KeyFrame] = field(default_factory=list)
    key_items: dict[str, dict[str, list[list[float]] | None]] | None = None
    options: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = ()
    nulls: frozenset[str] = frozenset()  # known fields that were present as JSON null (kept for round trips)

    @property
    def media_path(self) -> str:
        return self.video_path or self.image_path or ""

    @property
    def is_video(self) -> bool:
        return self.video_path is not None

    def box_space(self) -> Literal["normalized", "image_pixels"]:
        """Visual-QA boxes are pixels of the original image; every other record stores normalized boxes."""
        return "image_pixels" if self.task == "visual QA" and self.image_size else "normalized"

    def evidence(self) -> list[Evidence]:
        """Every annotated box as normalized xyxy, ordered by key frame."""
        out: list[Evidence] = []
        items = self.key_items or {}
        times = {str(kf.idx): kf.time for kf in self.key_frames if kf.idx is not None}
        for idx, objects in items.items():
            for name, boxes in (objects or {}).items():
                for box in boxes or []:
                    if self.box_space() == "image_pixels":
                        box = to_normalized(box, *self.image_size)  # type: ignore[misc]
                    out.append(Evidence(times.get(str(idx), math.nan), name, tuple(float(v) for v in box)))
        return sorted(out, key=lambda e: math.inf if math.isnan(e.time) else e.time)

    def to_dict(self) -> dict[str, Any]:
        """The upstream JSON shape, in the key order the record was read with."""
        values: dict[str, Any] = {
            "id": self.id,
            "task": self.task,
            "source": self.source,
            "question": self.question,
            "answer": self.answer,
            "reasoning_process": self.reasoning_process,
            "video_path": self.video_path,
            "image_path": self.image_path,
            "image_size": self.image_size,
            "key_frames": [kf.to_dict() for kf in self.key_frames],
            "key_items": self.key_items,
            "options": self.options,
            **self.extra,
        }
        if self.key_order:
            return {k: None if k in self.nulls else values[k] for k in self.key_order if k in values}
        default_skip = {"key_frames": not self.key_frames}
        return {k: v for k, v in values.items() if v is not None and not default_skip.get(k, False)}


# ----------------------------------------------------------------------------- validation


def _need(d: dict, key: str, types: type | tuple[type, ...], *, optional: bool = False) -> Any:
    if key not in d or d[key] is None:
        if optional:
            return None
        raise RecordError("is missing", field=key)
    val = d[key]
    allowed = types if isinstance(types, tuple) else (types,)
    if not isinstance(val, allowed) or (isinstance(val, bool) and bool not in allowed):
        want = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise RecordError(f"must be {want}, got {type(val).__name__} {_short(val)}", field=key)
    return val


def _short(val: Any) -> str:
    text = json.dumps(val, default=str) if not isinstance(val, str) else repr(val)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(val: Any, field_name: str) -> float:
    if isinstance(val, bool) or not isinstance(val, int | float):
        raise RecordError(f"must be a number, got {_short(val)}", field=field_name)
    if not math.isfinite(float(val)):
        raise RecordError(f"must be finite, got {val}", field=field_name)
    return float(val)


def _key_frame(raw: Any, i: int) -> KeyFrame:
    name = f"key_frames[{i}]"
    if not isinstance(raw, dict):
        raise RecordError(f"must be an object, got {_short(raw)}", field=name)
    if "time" not in raw:
        raise RecordError("is missing", field=f"{name}.time")
    time = _number(raw["time"], f"{name}.time")
    if time < 0:
        raise RecordError(f"must be >= 0, got {time}", field=f"{name}.time")
    idx = raw.get("idx")
    if idx is not None and (isinstance(idx, bool) or not isinstance(idx, int | str)):
        raise RecordError(f"must be an integer or string, got {_short(idx)}", field=f"{name}.idx")
    path = raw.get("path")
    if path is not None and not isinstance(path, str):
        raise RecordError(f"must be a string, got {_short(path)}", field=f"{name}.path")
    extra = {k: v for k, v in raw.items() if k not in ("time", "idx", "path")}
    return KeyFrame(time=raw["time"], idx=idx, path=path, extra=extra, key_order=tuple(raw))


def _key_items(raw: Any) -> dict[str, dict[str, list[list[float]] | None]]:
    if not isinstance(raw, dict):
        raise RecordError(f"must be an object keyed by key-frame idx, got {_short(raw)}", field="key_items")
    for idx, objects in raw.items():
        if objects is None:
            continue
        if not isinstance(objects, dict):
            raise RecordError(f"must map object names to box lists, got {_short(objects)}", field=f"key_items.{idx}")
        for name, boxes in objects.items():
            where = f"key_items.{idx}.{name}"
            if boxes is None:
                continue
            if not isinstance(boxes, list):
                raise RecordError(f"must be a list of boxes, got {_short(boxes)}", field=where)
            for j, box in enumerate(boxes):
                if not isinstance(box, list) or len(box) != 4:
                    raise RecordError(f"must be [x1,y1,x2,y2], got {_short(box)}", field=f"{where}[{j}]")
                for v in box:
                    if isinstance(v, bool) or not isinstance(v, int | float):
                        raise RecordError(f"must hold 4 numbers, got {_short(box)}", field=f"{where}[{j}]")
    return raw


def record_from_dict(raw: Any) -> Record:
    """Validate one upstream-shaped dict and build a `Record` (raises `RecordError` naming the field)."""
    if not isinstance(raw, dict):
        raise RecordError(f"must be a JSON object, got {_short(raw)}")
    task = _need(raw, "task", str)
    if task not in TASKS:
        raise RecordError(f"unknown task {task!r}; expected one of {list(TASKS)}", field="task")
    question = _need(raw, "question", str)
    answer = _need(raw, "answer", str)
    video_path = _need(raw, "video_path", str, optional=True)
    image_path = _need(raw, "image_path", str, optional=True)
    if video_path is None and image_path is None:
        raise RecordError("needs video_path or image_path", field="video_path")
    image_size = _need(raw, "image_size", list, optional=True)
    if image_size is not None and (
        len(image_size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in image_size)
    ):
        raise RecordError(f"must be [W, H] positive integers, got {_short(image_size)}", field="image_size")
    frames_raw = _need(raw, "key_frames", list, optional=True) or []
    key_items = _key_items(raw["key_items"]) if raw.get("key_items") is not None else None
    options = _need(raw, "options", list, optional=True)
    if options is not None and not all(isinstance(o, str) for o in options):
        raise RecordError("must be a list of strings", field="options")
    rid = raw.get("id")
    if rid is not None and not isinstance(rid, str | int):
        raise RecordError(f"must be a string, got {_short(rid)}", field="id")
    return Record(
        task=task,
        question=question,
        answer=answer,
        source=_need(raw, "source", str, optional=True) or "",
        id=rid,
        reasoning_process=_need(raw, "reasoning_process", str, optional=True),
        video_path=video_path,
        image_path=image_path,
        image_size=image_size,
        key_frames=[_key_frame(kf, i) for i, kf in enumerate(frames_raw)],
        key_items=key_items,
        options=options,
        extra={k: v for k, v in raw.items() if k not in _KNOWN},
        key_order=tuple(raw),
        nulls=frozenset(k for k in _KNOWN if k in raw and raw[k] is None),
    )


# ----------------------------------------------------------------------------- files


def _json_error(path: str, exc: json.JSONDecodeError, index: int | None) -> RecordError:
    return RecordError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", file=path, index=index)


def scan_records(path: str | Path) -> Iterator[tuple[int, Record | RecordError, Any]]:
    """Yield `(index, record_or_error, raw)` for every record of a JSON list or JSONL file.

    Never raises for bad content: a malformed line or record comes back as a `RecordError` so that
    callers can put it in a rejects file. A file that is not a list or JSONL at all is one error.
    """
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        yield 0, RecordError(f"cannot read: {exc}", file=path), None
        return
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            yield 0, _json_error(path, exc, None), None
            return
        lines: Iterable[tuple[int, Any, json.JSONDecodeError | None]] = ((i, r, None) for i, r in enumerate(items))
    else:
        lines = _jsonl_items(text)
    for i, raw, err in lines:
        if err is not None:
            yield i, _json_error(path, err, i), None
            continue
        try:
            yield i, record_from_dict(raw), raw
        except RecordError as exc:
            yield i, exc.located(path, i), raw


def _jsonl_items(text: str) -> Iterator[tuple[int, Any, json.JSONDecodeError | None]]:
    index = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            yield index, json.loads(line), None
        except json.JSONDecodeError as exc:
            yield index, None, exc
        index += 1


def read_records(path: str | Path) -> list[Record]:
    """All records of a file; the first malformed one raises `RecordError` (file, index, field)."""
    out = []
    for _, rec, _ in scan_records(path):
        if isinstance(rec, RecordError):
            raise rec
        out.append(rec)
    return out


def write_records(path: str | Path, records: Iterable[Record], *, fmt: Literal["json", "jsonl"] | None = None) -> int:
    """Write records as an upstream JSON list (`.json`) or JSONL (`.jsonl`); returns the count."""
    path = Path(path)
    fmt = fmt or ("jsonl" if path.suffix == ".jsonl" else "json")
    path.parent.mkdir(parents=True, exist_ok=True)
    dicts = [r.to_dict() for r in records]
    with path.open("w", encoding="utf-8") as f:
        if fmt == "jsonl":
            for d in dicts:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        else:
            json.dump(dicts, f, ensure_ascii=False, indent=2)
            f.write("\n")
    return len(dicts)


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Plain JSONL writer for rejects, stats rows and predictions; returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            n += 1
    return n


def read_jsonl(path: str | Path) -> list[dict]:
    """Plain JSONL reader; a malformed line raises `RecordError` naming the file and line index."""
    rows = []
    for i, raw, err in _jsonl_items(Path(path).read_text(encoding="utf-8")):
        if err is not None:
            raise _json_error(str(path), err, i)
        rows.append(raw)
    return rows


# ----------------------------------------------------------------------------- ground truth per task

_RL_SPAN_RE = re.compile(r"\[\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\]")


def gt_span(record: Record) -> tuple[float, float] | None:
    """Ground-truth (start, end) of a temporal record, from either answer format.

    RL files write `"[s, e]"` (temporal QA) or `"B\\n[s, e]"` (temporal MCQ); SFT files write
    `From <t>s</t>s to <t>e</t>s`.
    """
    span = parse_span(record.answer)
    if span is not None:
        return span
    m = _RL_SPAN_RE.search(record.answer)
    return (float(m.group(1)), float(m.group(2))) if m else None


def gt_option(record: Record) -> str | None:
    """Ground-truth option letter: `B`, `B\\n[s, e]` (RL temporal MCQ) or `...Correct Option: B` (SFT)."""
    first = record.answer.strip().split("\n", 1)[0]
    return parse_option(record.answer) or parse_option(first)


def gt_box(record: Record) -> tuple[float, float, float, float] | None:
    """Ground-truth box of a visual-QA record, as written in its answer (original image pixels)."""
    boxes = parse(f"<answer>{record.answer}</answer>").answer_boxes
    return boxes[0] if boxes else None

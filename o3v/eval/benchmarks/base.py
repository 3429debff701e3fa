"""The small interface every benchmark adapter implements, and the values that cross it.

An adapter is a module in `o3v/eval/benchmarks/` exposing:

- `NAME`, `ID_FIELD` (the annotation field that identifies a sample in prediction rows);
- `load(path) -> Loaded`: read the official annotation file; rows that do not fit become `Reject`s;
- `queries(sample, media) -> list[Query]`: what to ask the model (task, question wording, options);
- `predict(sample, outputs, media) -> dict`: one predictions row **in the benchmark's own convention**
  (V-STaR: the official result item; TVGBench: `{"index", "prediction"}`), so the scorer equals the official one;
- `score(samples, rows, **options) -> dict`: metrics as fractions, through the local `evaluate` modules;
- `baselines(samples) -> dict`: the constant baselines that a model must beat (tiny-learning.md);
- `evidence(sample, row) -> Evidence`: predicted vs ground-truth spans and boxes for the report's gallery.

Nothing outside `o3v/eval/benchmarks/` branches on a benchmark's name.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from o3v.geometry import temporal_iou
from o3v.prompts import build_messages


class BenchmarkError(ValueError):
    """An annotation or prediction that does not fit the benchmark's format; names file, row and field."""

    def __init__(
        self, message: str, *, file: str | Path | None = None, row: int | str | None = None, field: str | None = None
    ):
        self.file, self.row, self.field, self.reason = (str(file) if file else None), row, field, message
        where = ", ".join(
            p
            for p in (
                f"file {file}" if file else "",
                f"row {row}" if row is not None else "",
                f"field '{field}'" if field else "",
            )
            if p
        )
        super().__init__(f"{where}: {message}" if where else message)

    def to_json(self) -> dict:
        return {"file": self.file, "row": self.row, "field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class Sample:
    """One benchmark item: a stable id, its position in the file, its media (relative path) and the raw row."""

    id: str
    index: int
    raw: dict
    video: str | None = None
    image: str | None = None


@dataclass(frozen=True)
class Reject:
    """An annotation row that could not be used, with the reason (it goes to rejects.jsonl)."""

    index: int
    reason: str
    field: str | None = None
    id: str | None = None

    def to_json(self) -> dict:
        return {"index": self.index, "id": self.id, "field": self.field, "reason": self.reason}


@dataclass
class Loaded:
    samples: list[Sample]
    rejects: list[Reject] = field(default_factory=list)
    file: str = ""

    def strict(self) -> list[Sample]:
        """The samples, or a `BenchmarkError` for the first reject (scoring must not change its denominator)."""
        if self.rejects:
            r = self.rejects[0]
            raise BenchmarkError(
                f"{r.reason} ({len(self.rejects)} bad row(s) in total)", file=self.file, row=r.index, field=r.field
            )
        return self.samples


@dataclass(frozen=True)
class Media:
    """What the model sees for one sample: frame times (None = one still image) and the two pixel spaces."""

    times: list[float] | None
    duration: float | None
    orig_size: tuple[int, int]
    input_size: tuple[int, int]


@dataclass(frozen=True)
class Query:
    """One model call. `vote` marks multiple-choice calls that test-time voting may repeat."""

    key: str
    task: str
    question: str
    options: list[str] | None = None
    max_new_tokens: int | None = None
    vote: bool = False
    extra_images: tuple[Any, ...] = ()  # e.g. VideoMMMU Adaptation's question image (PIL), appended last


@dataclass(frozen=True)
class Span:
    start: float
    end: float


@dataclass
class Evidence:
    """Gallery view of one prediction: spans and boxes in **original** pixels, plus text to show."""

    question: str
    answer: str
    predicted: str
    correct: bool | None = None
    gt_spans: list[Span] = field(default_factory=list)
    pred_spans: list[Span] = field(default_factory=list)
    gt_boxes: list[tuple[float, list[float]]] = field(default_factory=list)  # (time, xyxy) original pixels
    pred_boxes: list[tuple[float, list[float]]] = field(default_factory=list)
    duration: float | None = None


def answer_row(ids: dict[str, Any], prediction: str, media: Media) -> dict:
    """A predictions row of a single-answer benchmark: its ids, the completion and both pixel sizes.

    The sizes make the row self-contained: boxes in `prediction` are in `input_size` pixels.
    """
    return {**ids, "prediction": prediction, "input_size": list(media.input_size), "orig_size": list(media.orig_size)}


def read_json(path: str | Path, what: str) -> Any:
    """The parsed JSON annotation file `path`; an unreadable or malformed file names itself."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchmarkError(f"cannot read the {what} annotations: {exc}", file=path) from exc


def checked_samples(
    items: list[Any], file: str, check: Callable[[Any], tuple[str, str] | None], video_of: Callable[[dict], str]
) -> Loaded:
    """Samples of the items `check` passes (id = position in the file); the others become rejects.

    `check(item)` returns None or `(field, reason)` of the item's first problem (field "" for the whole item).
    """
    samples, rejects = [], []
    for i, raw in enumerate(items):
        problem = check(raw)
        if problem:
            rejects.append(Reject(i, problem[1], problem[0] or None, str(i)))
        else:
            samples.append(Sample(id=str(i), index=i, raw=raw, video=video_of(raw)))
    return Loaded(samples, rejects, file)


def voted_letter(row: dict | None) -> str | None:
    """The letter test-time voting chose for a row ("" when no vote was valid); None when the row did not vote."""
    vote = (row or {}).get("vote")
    if isinstance(vote, dict) and "letter" in vote:
        return vote["letter"] or ""
    return None


def messages_for(query: Query, media: Media) -> list[dict]:
    """Chat messages of a query through the one prompt builder (plus any extra question image at the end)."""
    messages = build_messages(query.task, query.question, media.times, media.duration, query.options)
    for _ in query.extra_images:
        messages[-1]["content"].append({"type": "image"})
    return messages


def claim_boxes(text: str, row: dict) -> list[tuple[float, list[float]]]:
    """Grounded claims of a completion as (time, box in original pixels), using the row's recorded sizes."""
    from o3v.geometry import rescale_box
    from o3v.grounded import parse

    src, dst = row.get("input_size"), row.get("orig_size")
    if not src or not dst:
        return []
    return [(c.time, rescale_box(b, src, dst)) for c in parse(text).claims for b in c.boxes]


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.fsum(values) / len(values) if values else 0.0


def sd(values: Iterable[float]) -> float | None:
    """Sample standard deviation (n - 1) of per-item scores; None under two items. A metric `m` that is a mean
    over items stores it as `m_sd`, so the report's intervals use the spread the scores really have.

    >>> sd([0.0, 1.0]), sd([0.5, 0.5, 0.5]), sd([0.3])
    (0.7071067811865476, 0.0, None)
    """
    values = list(values)
    return statistics.stdev(values) if len(values) >= 2 else None


def group_by(keys: list[str], values: list[float]) -> dict[str, dict]:
    """Mean of `values` per key, with counts: {key: {"mean": m, "n": k}} (keys sorted)."""
    groups: dict[str, list[float]] = {}
    for k, v in zip(keys, values):
        groups.setdefault(str(k), []).append(v)
    return {k: {"mean": mean(vs), "n": len(vs)} for k, vs in sorted(groups.items())}


def read_rows(path: str | Path) -> list[dict]:
    """A JSON list or JSONL file of prediction rows; malformed JSON names the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BenchmarkError(f"cannot read predictions: {exc}", file=path) from exc
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"malformed JSON at line {exc.lineno}: {exc.msg}", file=path) from exc
    else:
        rows = []
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BenchmarkError(f"malformed JSON: {exc.msg}", file=path, row=i) from exc
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BenchmarkError(f"must be a JSON object, got {type(row).__name__}", file=path, row=i)
    return rows


def match_rows(samples: list[Sample], rows: list[dict], id_field: str, file: str | Path = "") -> dict[str, dict]:
    """Index prediction rows by sample id (the benchmark's id field, else `index` = position in the file).

    A row naming no known sample, or a sample predicted twice, is an error naming the row.
    """
    by_id = {s.id: s for s in samples}
    by_index = {s.index: s for s in samples}
    out: dict[str, dict] = {}
    for i, row in enumerate(rows):
        if id_field in row and str(row[id_field]) in by_id:
            sid = str(row[id_field])
        elif "index" in row and isinstance(row["index"], int) and row["index"] in by_index:
            sid = by_index[row["index"]].id
        else:
            raise BenchmarkError(
                f"names no sample of the annotations ({id_field!r} or 'index')", file=file, row=i, field=id_field
            )
        if sid in out:
            raise BenchmarkError(f"sample {sid!r} is predicted twice", file=file, row=i, field=id_field)
        out[sid] = row
    return out


def best_constant_span(spans: list[tuple[float, float]], durations: list[float], steps: int = 20) -> dict:
    """Best constant prediction `(a*duration, b*duration)` over a grid of fractions, by mean tIoU.

    A model that ignores the video can still learn this constant (tiny-learning.md), so every temporal score
    is shown beside it. Returns {"start_frac", "end_frac", "miou"}.
    """
    best = {"start_frac": 0.0, "end_frac": 1.0, "miou": -1.0}
    grid = [i / steps for i in range(steps + 1)]
    for a in grid:
        for b in grid:
            if b <= a:
                continue
            value = mean(temporal_iou((a * d, b * d), s) for s, d in zip(spans, durations))
            if value > best["miou"] + 1e-12:
                best = {"start_frac": a, "end_frac": b, "miou": value}
    return best


def span_baselines(spans: list[tuple[float, float]], durations: list[float], key: str) -> dict:
    """The two constant-span baselines, their mean tIoU under `key`: the whole video and `best_constant_span`."""
    const = best_constant_span(spans, durations)
    whole = [temporal_iou((0.0, d), sp) for sp, d in zip(spans, durations)]
    best = [temporal_iou((const["start_frac"] * d, const["end_frac"] * d), sp) for sp, d in zip(spans, durations)]
    return {
        "whole_video_span": {key: mean(whole), f"{key}_sd": sd(whole)},
        "best_constant_span": {
            key: const["miou"],
            f"{key}_sd": sd(best),
            "start_frac": const["start_frac"],
            "end_frac": const["end_frac"],
        },
    }

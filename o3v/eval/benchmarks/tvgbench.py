"""TVGBench adapter (Time-R1's temporal video grounding benchmark, as Open-o3 reports it).

Spec: benchmarks.md §6 and open-o3-video.md §10.3. Annotations: `tvgbench.json`, items with `path`,
`question` (the query sentence), `answer` ("start-end" seconds), `duration`, `qsemtype`, `source`, ...

Scoring is Time-R1's: the **last** match of `(\\d+\\.?\\d*) (to|and) (\\d+\\.?\\d*)` in the output is the span
(none -> IoU 0), mIoU and R@{0.3,0.5,0.7} with the **strict** `IoU > m`.

Predictions are JSONL `{"index": i, "prediction": text}` (the contract of `o3v eval score`). o3v's model
answers `From <t>S</t>s to <t>E</t>s`, which that regex cannot read (the space after the first number is
missing: benchmarks.md §6 "Caution"); the runner therefore writes the prediction in the benchmark's own
convention, `"S to E"`, when o3v's parser finds a span, and the raw completion otherwise (kept in `raw`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from o3v.eval.benchmarks.base import (
    BenchmarkError,
    Evidence,
    Loaded,
    Media,
    Query,
    Sample,
    Span,
    checked_samples,
    group_by,
    match_rows,
    mean,
    read_json,
    sd,
    span_baselines,
)
from o3v.grounded import format_number, parse
from o3v.prompts import tvg_query

NAME = "tvgbench"
ID_FIELD = "index"
_SPAN_RE = re.compile(r"(\d+\.?\d*) (to|and) (\d+\.?\d*)")
_GT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")

# What the report shows for this benchmark: metric path, label, the constant baselines it must beat, paper column.
HEADLINE = [
    {
        "metric": "miou",
        "label": "mIoU",
        "baselines": ["best_constant_span.miou", "whole_video_span.miou"],
        "paper": "tvgbench/miou",
    },
    {"metric": "r@0.5", "label": "R@0.5 (strict >)", "baselines": [], "paper": None},
    {"metric": "unparsable", "label": "unparsable answers", "baselines": [], "paper": None, "lower_is_better": True},
]


def gt_span(raw: dict) -> tuple[float, float]:
    """`"13.4-28.1"` -> (13.4, 28.1)."""
    m = _GT_RE.match(str(raw["answer"]))
    if not m:
        raise ValueError(f"answer must be 'start-end' seconds, got {raw['answer']!r}")
    return float(m.group(1)), float(m.group(2))


def _check_row(raw: Any) -> tuple[str, str] | None:
    if not isinstance(raw, dict):
        return "", f"must be a JSON object, got {type(raw).__name__}"
    for name, types in (("path", (str,)), ("question", (str,)), ("answer", (str,)), ("duration", (int, float))):
        if not isinstance(raw.get(name), types) or isinstance(raw.get(name), bool):
            return name, "is missing" if name not in raw else f"must be {types[0].__name__}"
    try:
        start, end = gt_span(raw)
    except ValueError as exc:
        return "answer", str(exc)
    if end < start or raw["duration"] <= 0:
        return "answer", f"span {start}-{end} is inverted or the duration is not positive"
    return None


def load(path: str | Path) -> Loaded:
    """Read `tvgbench.json` (a list of items, or an object of id -> item)."""
    data = read_json(path, "TVGBench")
    items = list(data.values()) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise BenchmarkError("must be a JSON list of TVGBench items", file=path)
    return checked_samples(items, str(path), _check_row, lambda raw: raw["path"])


def queries(sample: Sample, media: Media) -> list[Query]:
    """Open-o3's TVGBench question (issue #8), answered in o3v's temporal format (the system prompt asks it)."""
    return [Query("temporal", "temporal QA", tvg_query(sample.raw["question"]))]


def extract_span(text: str) -> list[float] | None:
    """Time-R1's extractor: the last `S to E` / `S and E` in the text, else None.

    Example:
        >>> extract_span("maybe 1 to 2, no: 3.5 to 7"), extract_span("From <t>3.5</t>s to <t>7</t>s")
        ([3.5, 7.0], None)
    """
    matches = _SPAN_RE.findall(text)
    if not matches:
        return None
    start, _, end = matches[-1]
    return [float(start), float(end)]


def predict(sample: Sample, outputs: dict[str, str], media: Media) -> dict:
    """`{"index", "prediction"}` in Time-R1's convention (`"S to E"`), the raw completion kept in `raw`."""
    raw = outputs["temporal"]
    g = parse(raw)
    span = g.answer_span
    text = f"{format_number(span[0])} to {format_number(span[1])}" if span else raw
    return {"index": sample.index, "prediction": text, "raw": raw}


def score(samples: list[Sample], rows: list[dict], *, file: str = "", **_: Any) -> dict:
    """mIoU and strict R@m over the samples; a sample without a prediction scores 0 (counted in `missing`)."""
    from o3v.metrics import compute

    by_id = match_rows(samples, rows, ID_FIELD, file)
    preds = [extract_span(str(by_id[s.id].get("prediction", ""))) if s.id in by_id else None for s in samples]
    res = compute(
        "temporal_iou",
        predictions=[p or [] for p in preds],
        references=[list(gt_span(s.raw)) for s in samples],
        strict=True,
    )
    n = len(samples)
    out = {k: res[k] for k in ("miou", "r@0.3", "r@0.5", "r@0.7")}
    out["avg"] = mean(out.values())  # Time-R1 also prints the mean of the four
    out["miou_sd"] = sd(res["ious"])
    out["unparsable"] = sum(1 for s, p in zip(samples, preds) if p is None and s.id in by_id) / n if n else 0.0
    out["missing"] = sum(1 for s in samples if s.id not in by_id) / n if n else 0.0
    out["n"] = n
    for name in ("qsemtype", "source"):
        out[f"by_{name}"] = group_by([str(s.raw.get(name, "unknown")) for s in samples], res["ious"])
    return out


def baselines(samples: list[Sample], **_: Any) -> dict:
    """Whole-video span and the best constant span (fractions of the duration), by mIoU."""
    if not samples:
        return {}
    return span_baselines([gt_span(s.raw) for s in samples], [float(s.raw["duration"]) for s in samples], "miou")


def evidence(sample: Sample, row: dict | None) -> Evidence:
    """Gallery view: the GT span against the extracted predicted span on one timeline."""
    pred = extract_span(str(row.get("prediction", ""))) if row else None
    start, end = gt_span(sample.raw)
    return Evidence(
        question=sample.raw["question"],
        answer=f"{format_number(start)}-{format_number(end)}s",
        predicted=(row or {}).get("prediction", "") or "(none)",
        gt_spans=[Span(start, end)],
        pred_spans=[Span(*pred)] if pred else [],
        duration=float(sample.raw["duration"]),
    )

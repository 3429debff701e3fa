"""Synthetic benchmark: o3v's own grounded records (STGR schema), scored on the answer **and** the evidence.

Annotations: a dataset folder (`records.jsonl` + `dataset.json`) or a records file (JSON list / JSONL), e.g.
a curated split of the synthetic world. Every task type is asked with its own system prompt through
`o3v.prompts.build_messages`; the key frames are evidence to be found, so they are **not** shown to the model.

Scores per task, all through the local `evaluate` modules and `o3v.geometry`:
- MCQ tasks: option accuracy (`o3v.grounded.parse(...).option`; unparsable is wrong and counted);
- temporal tasks: tIoU of the `From <t>S</t>s to <t>E</t>s` span, R@m with `>=`;
- free-form tasks: exact match and token F1 of the answer text;
- visual QA: IoU of the answer box, converted from model-input to original-image pixels first;
- evidence (records with `key_items`): claims `<obj>N</obj><box>..</box>at<t>T</t>s`, normalized with the
  model-input size, matched to the annotated boxes by object name and time (`grounded_evidence`);
- `object_named`: of the evidence records whose question names one of its objects, the share with a claim under
  that name. A claim counts for evidence IoU only under the right name, so a model that finds the box but
  writes the wrong name scores 0 there; this says which of the two failed.

Prediction rows: `{"id", "index", "task", "prediction", "input_size", "orig_size"}`; boxes in the text are in
`input_size` pixels, which is what makes the file self-contained for re-scoring.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from o3v.eval.benchmarks.base import (
    BenchmarkError,
    Evidence,
    Loaded,
    Media,
    Query,
    Reject,
    Sample,
    Span,
    answer_row,
    claim_boxes,
    group_by,
    match_rows,
    mean,
    sd,
    span_baselines,
    voted_letter,
)
from o3v.geometry import box_iou, rescale_box, to_normalized, to_pixels
from o3v.grounded import parse
from o3v.records import (
    FREE_FORM_TASKS,
    MCQ_TASKS,
    TEMPORAL_TASKS,
    Record,
    RecordError,
    gt_box,
    gt_option,
    gt_span,
    record_from_dict,
    scan_records,
)

NAME = "synthetic"
ID_FIELD = "id"
BLIND_ABLATION = True  # the runner re-asks every sample with another clip's frames (every adapter unless it opts out)

# What the report shows for this benchmark: metric path, label, the constant baselines it must beat (no paper),
# and the metric holding the number of samples behind it (for the standard error).
HEADLINE = [
    {
        "metric": "option_accuracy",
        "n": "n_option",
        "label": "MCQ option accuracy",
        "baselines": ["majority_option.accuracy"],
    },
    {
        "metric": "temporal_miou",
        "n": "n_temporal",
        "label": "Temporal QA mean tIoU",
        "baselines": ["best_constant_span.temporal_miou", "whole_video_span.temporal_miou"],
    },
    {
        "metric": "free_form_exact",
        "n": "n_free_form",
        "label": "Free-form exact match",
        "baselines": ["majority_free_form.exact"],
    },
    {"metric": "box_miou", "n": "n_box", "label": "Visual QA box IoU", "baselines": ["mean_box_answer.box_miou"]},
    {
        "metric": "evidence_miou",
        "n": "n_evidence",
        "label": "Evidence box IoU (claims vs key frames)",
        "baselines": ["mean_box_evidence.evidence_miou"],
    },
    {"metric": "format_ok", "label": "Well-formed <think>/<answer>", "baselines": []},
]


def load(path: str | Path) -> Loaded:
    """Records of a dataset folder or file; malformed records become rejects naming their field."""
    path = Path(path)
    file = path / "records.jsonl" if path.is_dir() else path
    if not file.exists():
        raise BenchmarkError(
            "no such records file (expected a dataset folder with records.jsonl or a file)", file=file
        )
    samples, rejects = [], []
    for i, rec, raw in scan_records(file):
        if isinstance(rec, RecordError):
            rejects.append(Reject(i, rec.reason, rec.field, str(raw.get("id")) if isinstance(raw, dict) else None))
            continue
        sid = str(rec.id) if rec.id is not None else str(i)
        samples.append(Sample(id=sid, index=i, raw=rec.to_dict(), video=rec.video_path, image=rec.image_path))
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise BenchmarkError("record ids are not unique", file=file, field="id")
    return Loaded(samples, rejects, str(file))


def media_root(path: str | Path) -> str | None:
    """The `media_root` a dataset folder records in its `dataset.json` (None for a bare file)."""
    meta = Path(path) / "dataset.json"
    return json.loads(meta.read_text(encoding="utf-8")).get("media_root") if meta.is_file() else None


def record(sample: Sample) -> Record:
    return record_from_dict(sample.raw)


def queries(sample: Sample, media: Media) -> list[Query]:
    rec = record(sample)
    return [Query("answer", rec.task, rec.question, rec.options, vote=rec.task in MCQ_TASKS)]


def answer_letter(sample: Sample, text: str, mode: str | None = None) -> str | None:
    return parse(text).option


def predict(sample: Sample, outputs: dict[str, str], media: Media) -> dict:
    return answer_row({"id": sample.id, "index": sample.index, "task": sample.raw["task"]}, outputs["answer"], media)


def _claims(text: str, input_size: list[int]) -> list[dict]:
    """Claims of a completion as {object, time, box} with normalized boxes (one entry per box)."""
    return [
        {"object": c.object, "time": c.time, "box": to_normalized(b, *input_size)}
        for c in parse(text).claims
        for b in c.boxes
    ]


def _size(row: dict, key: str, i: int, file: str) -> list[int]:
    size = row.get(key)
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int | float) and v > 0 for v in size)):
        raise BenchmarkError(
            f"must be [W, H] of the frame the boxes refer to, got {size!r}", file=file, row=i, field=key
        )
    return size


def score(samples: list[Sample], rows: list[dict], *, file: str = "", **_: Any) -> dict:
    """Per-task answer scores plus evidence scores; see the module docstring."""
    from o3v.metrics import compute

    by_id = match_rows(samples, rows, ID_FIELD, file)
    recs = {s.id: record(s) for s in samples}
    texts = {s.id: str(by_id[s.id].get("prediction", "")) if s.id in by_id else "" for s in samples}
    parsed = {sid: parse(t) for sid, t in texts.items()}
    out: dict[str, Any] = {"n": len(samples), "missing": sum(1 for s in samples if s.id not in by_id)}
    out["format_ok"] = mean(float(g.think is not None and g.answer is not None) for g in parsed.values())
    per_sample: dict[str, float] = {}

    opt = [s for s in samples if recs[s.id].task in MCQ_TASKS]
    if opt:
        letters = [_letter(by_id.get(s.id), parsed[s.id]) for s in opt]
        res = compute("mcq_accuracy", predictions=letters, references=[gt_option(recs[s.id]) or "" for s in opt])
        out.update(option_accuracy=res["accuracy"], option_unparsable=res["unparsable"], n_option=len(opt))
        per_sample.update({s.id: float(c) for s, c in zip(opt, res["correct"])})
    tmp = [s for s in samples if recs[s.id].task in TEMPORAL_TASKS and gt_span(recs[s.id])]
    if tmp:
        spans = [list(parsed[s.id].answer_span or []) for s in tmp]
        res = compute("temporal_iou", predictions=spans, references=[list(gt_span(recs[s.id])) for s in tmp])
        out.update({f"temporal_{k}": v for k, v in res.items() if k != "ious"}, n_temporal=len(tmp))
        out["temporal_miou_sd"] = sd(res["ious"])
        for s, v in zip(tmp, res["ious"]):
            per_sample[s.id] = v if recs[s.id].task == "temporal QA" else per_sample.get(s.id, 0.0)
    free = [s for s in samples if recs[s.id].task in FREE_FORM_TASKS]
    if free:
        res = compute(
            "text_match",
            predictions=[parsed[s.id].answer or "" for s in free],
            references=[recs[s.id].answer for s in free],
        )
        out.update(free_form_exact=res["exact"], free_form_f1=res["f1"], n_free_form=len(free))
        per_sample.update({s.id: v for s, v in zip(free, res["f1s"])})
    vqa = [s for s in samples if recs[s.id].task == "visual QA" and gt_box(recs[s.id])]
    if vqa:
        preds = [_answer_box(by_id.get(s.id), parsed[s.id], recs[s.id], i, file) for i, s in enumerate(vqa)]
        res = compute("box_iou", predictions=preds, references=[list(gt_box(recs[s.id])) for s in vqa])
        out.update(
            box_miou=res["miou"], **{f"box_{k}": v for k, v in res.items() if k.startswith("acc")}, n_box=len(vqa)
        )
        out["box_miou_sd"] = sd(res["ious"])
        per_sample.update({s.id: v for s, v in zip(vqa, res["ious"])})
    ev = [s for s in samples if recs[s.id].key_items and recs[s.id].task != "visual QA"]
    if ev:
        preds = [
            json.dumps(_claims(texts[s.id], _size(by_id[s.id], "input_size", i, file)) if s.id in by_id else [])
            for i, s in enumerate(ev)
        ]
        refs = [
            json.dumps([{"object": e.object, "time": e.time, "box": list(e.box)} for e in recs[s.id].evidence()])
            for s in ev
        ]
        res = compute("grounded_evidence", predictions=preds, references=refs)
        out.update({k: v for k, v in res.items() if k not in ("n", "per_sample")}, n_evidence=res["n"])
        out["evidence_miou_sd"] = sd(res["per_sample"])
        pairs = [(name, claimed(parsed[s.id])) for s in ev if (name := named_object(recs[s.id]))]
        named = mean(float(name in names) for name, names in pairs) if pairs else None  # None: no question names one
        out.update(object_named=named, n_object_named=len(pairs))
    tasks = [recs[s.id].task for s in samples if s.id in per_sample]
    out["by_task"] = group_by(tasks, [per_sample[s.id] for s in samples if s.id in per_sample])
    out["per_sample"] = per_sample
    return out


def named_object(rec: Record) -> str | None:
    """The evidence object the question names (lower case; the longest when several match), else None."""
    question = rec.question.lower()
    names = sorted({e.object.lower() for e in rec.evidence() if e.object.lower() in question}, key=len)
    return names[-1] if names else None


def claimed(g: Any) -> set[str]:
    """The object names of a parsed answer's grounded claims (lower case)."""
    return {c.object.lower() for c in g.claims}


def _letter(row: dict | None, g: Any) -> str:
    voted = voted_letter(row)
    return voted if voted is not None else g.option or ""


def _answer_box(row: dict | None, g: Any, rec: Record, i: int, file: str) -> list[float]:
    """First answer box, from model-input pixels to the original image's pixels (where the GT lives)."""
    if row is None or not g.answer_boxes:
        return []
    return rescale_box(g.answer_boxes[0], _size(row, "input_size", i, file), rec.image_size or row["orig_size"])


def baselines(samples: list[Sample], durations: dict[str, float] | None = None) -> dict:
    """Constant answers: majority option, majority free-form answer, mean boxes; spans need `durations`."""
    recs = [record(s) for s in samples]
    out: dict[str, Any] = {}
    letters = [gt_option(r) for r in recs if r.task in MCQ_TASKS and gt_option(r)]
    if letters:
        best = max(sorted(set(letters)), key=letters.count)
        out["majority_option"] = {"letter": best, "accuracy": letters.count(best) / len(letters)}
    answers = [r.answer for r in recs if r.task in FREE_FORM_TASKS]
    if answers:
        best_answer = max(sorted(set(answers)), key=answers.count)
        out["majority_free_form"] = {"answer": best_answer, "exact": answers.count(best_answer) / len(answers)}
    items = [e for r in recs if r.key_items and r.task != "visual QA" for e in r.evidence()]
    if items:
        mbox = [mean(e.box[k] for e in items) for k in range(4)]
        per_rec = [
            mean(box_iou(mbox, e.box) for e in r.evidence())
            for r in recs
            if r.key_items and r.task != "visual QA" and r.evidence()
        ]
        out["mean_box_evidence"] = {
            "evidence_miou": mean(per_rec),
            "evidence_miou_sd": sd(per_rec),
            "box_normalized": mbox,
            "note": "object and time given for free; only the box is constant",
        }
    boxes = [
        (to_normalized(gt_box(r), *r.image_size), r)
        for r in recs
        if r.task == "visual QA" and gt_box(r) and r.image_size
    ]
    if boxes:
        mbox = [mean(b[k] for b, _ in boxes) for k in range(4)]
        ious = [box_iou(to_pixels(mbox, *r.image_size), gt_box(r)) for _, r in boxes]
        out["mean_box_answer"] = {
            "box_miou": mean(ious),
            "box_miou_sd": sd(ious),
            "box_normalized": mbox,
        }
    spans = [
        (gt_span(r), durations[s.id])
        for s, r in zip(samples, recs)
        if r.task in TEMPORAL_TASKS and gt_span(r) and durations and s.id in durations
    ]
    if spans:
        out.update(span_baselines([sp for sp, _ in spans], [d for _, d in spans], "temporal_miou"))
    return out


def evidence(sample: Sample, row: dict | None) -> Evidence:
    """Gallery view: GT span/boxes vs the predicted span and claimed boxes (original pixels)."""
    rec = record(sample)
    text = str((row or {}).get("prediction", ""))
    g = parse(text)
    ev = Evidence(
        question=rec.question + ("\n" + "\n".join(rec.options) if rec.options else ""),
        answer=rec.answer,
        predicted=g.answer if g.answer is not None else (text[:200] or "(none)"),
    )
    span = gt_span(rec) if rec.task in TEMPORAL_TASKS else None
    if span:
        ev.gt_spans = [Span(*span)]
    if g.answer_span:
        ev.pred_spans = [Span(*g.answer_span)]
    if row and row.get("orig_size") and rec.task != "visual QA":
        ev.gt_boxes = [(e.time, to_pixels(e.box, *row["orig_size"])) for e in rec.evidence()]
        ev.pred_boxes = claim_boxes(text, row)
    if rec.task in MCQ_TASKS:
        ev.correct = bool(g.option) and g.option == gt_option(rec)
    return ev

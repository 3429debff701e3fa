"""V-STaR adapter: what / when / where in two chains, parsed and scored as the official `eval.py` does.

Spec: benchmarks.md §1 (format §1.2, the five calls §1.3, parsing §1.4, scoring §1.5, the paper-table fixture
§1.6) and open-o3-video.md §10.1. Per sample five calls: what (`answer_vqa`), chain-1 when (`answer_temporal`)
and where (`answer_spatial`, given the GT time range), chain-2 where (`answer_spatial_2`, given the number of GT
boxes) and when (`answer_temporal_2`, given the GT boxes without times).

Where o3v departs from upstream, on purpose:
- the prompts go through `o3v.prompts.build_messages` (one system prompt per task, "Frame i at T s:" lines);
  the wording of each question follows the official one;
- boxes: the model reads and writes model-input pixels, so chain-2's GT boxes are given in those pixels and
  predicted where-answers are rescaled to original-video pixels (`o3v.geometry.rescale_box`) **before** they are
  written; upstream defines `denormalize_bbox` and never calls it. The predictions file is the official result
  format in the official pixel space, so `score` below equals the official scorer;
- "what" is rated by a judge behind `o3v.eval.judge`; the judge's identity is recorded and anything that is
  not Qwen2.5-72B-Instruct is labelled as non-official.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections import Counter
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
    mean,
    read_json,
    sd,
    span_baselines,
)
from o3v.eval.judge import exact_key
from o3v.geometry import rescale_box, round_box
from o3v.grounded import format_number
from o3v.prompts import vstar_what, vstar_when, vstar_when_given_boxes, vstar_where, vstar_where_n

NAME = "vstar"
ID_FIELD = "index"
PAPER_TABLE = "vstar"  # the table of o3v/configs/eval/paper.yaml holding this benchmark's columns
OFFICIAL_JUDGE = "Qwen/Qwen2.5-72B-Instruct"
THRESHOLDS = (0.3, 0.5, 0.7)
AP_THRESHOLDS = (0.1, 0.3, 0.5, 0.7, 0.9)
KEYS = (
    "acc",
    "tiou_chain1",
    "tiou_chain2",
    "viou_chain1",
    "viou_chain2",
    "am_chain1",
    "am_chain2",
    "lgm_chain1",
    "lgm_chain2",
    "mam",
    "mlgm",
)

# What the report shows for this benchmark: metric path, label, the constant baselines it must beat, paper column.
HEADLINE = [
    {"metric": "acc", "label": "What: judge accuracy", "baselines": ["best_constant_answer.acc"], "paper": "acc"},
    {
        "metric": "tiou_chain1",
        "n": "n_judged",
        "label": "When: mean tIoU (chain 1)",
        "baselines": ["best_constant_span.tiou", "whole_video_span.tiou"],
        "paper": "tiou_chain1",
    },
    {
        "metric": "tiou_chain2",
        "n": "n_judged",
        "label": "When: mean tIoU (chain 2)",
        "baselines": ["best_constant_span.tiou", "whole_video_span.tiou"],
        "paper": "tiou_chain2",
    },
    {
        "metric": "viou_chain1",
        "n": "n_judged",
        "label": "Where: mean vIoU (chain 1)",
        "baselines": ["mean_box.viou", "full_frame_box.viou"],
        "paper": "viou_chain1",
    },
    {
        "metric": "viou_chain2",
        "n": "n_judged",
        "label": "Where: mean vIoU (chain 2)",
        "baselines": ["mean_box.viou", "full_frame_box.viou"],
        "paper": "viou_chain2",
    },
    {"metric": "mam", "label": "mAM", "baselines": ["constant_mam.mam"], "paper": "mam"},
    # mLGM is unbounded above, so no per-item spread bounds its gap to a constant; the constant's value is in
    # baselines.constant_mam.mlgm (the ablation table prints it).
    {"metric": "mlgm", "label": "mLGM", "baselines": [], "paper": "mlgm"},
]

_FIELDS: dict[str, tuple[type, ...]] = {
    "vid": (str,),
    "fps": (int, float),
    "width": (int,),
    "height": (int,),
    "frame_count": (int, float),
    "question": (str,),
    "answer": (str,),
    "temporal_question": (str,),
    "timestamps": (list,),
    "spatial_question": (str,),
    "spatial_question_2": (str,),
    "bboxes": (list,),
}


# ----------------------------------------------------------------------------- loading


def _check_row(raw: Any) -> tuple[str, str] | None:
    """(field, reason) of the first problem of an annotation row, or None."""
    if not isinstance(raw, dict):
        return "", f"must be a JSON object, got {type(raw).__name__}"
    for name, types in _FIELDS.items():
        if name not in raw:
            return name, "is missing"
        if not isinstance(raw[name], types) or isinstance(raw[name], bool):
            return name, f"must be {'/'.join(t.__name__ for t in types)}, got {type(raw[name]).__name__}"
    if raw["fps"] <= 0 or raw["frame_count"] <= 0 or raw["width"] <= 0 or raw["height"] <= 0:
        return "fps", "fps, frame_count, width and height must be positive"
    ts = raw["timestamps"]
    if len(ts) != 2 or not all(isinstance(v, int | float) for v in ts) or ts[1] < ts[0]:
        return "timestamps", f"must be [start, end] seconds with start <= end, got {ts}"
    for j, box in enumerate(raw["bboxes"]):
        if not isinstance(box, dict) or not all(k in box for k in ("timestamp", "xmin", "ymin", "xmax", "ymax")):
            return f"bboxes[{j}]", "must be {timestamp, xmin, ymin, xmax, ymax} (the post-July-2025 flat format)"
    return None


def load(path: str | Path) -> Loaded:
    """Read `V_STaR_test.json` (a JSON list); rows that do not fit become rejects naming the field."""
    data = read_json(path, "V-STaR")
    if not isinstance(data, list):
        raise BenchmarkError("must be a JSON list of V-STaR items", file=path)
    return checked_samples(data, str(path), _check_row, lambda raw: f"{raw['vid']}.mp4")


def duration(raw: dict) -> float:
    """Video length as the official scorer computes it: round(frame_count / fps, 2)."""
    return round(raw["frame_count"] / raw["fps"], 2)


def bucket(raw: dict) -> str:
    """Official duration bucket: Short < 60 s <= Medium < 180 s <= Long."""
    d = duration(raw)
    return "Short" if d < 60 else "Medium" if d < 180 else "Long"


def time_range(raw: dict) -> list[int]:
    """The whole seconds chain-1 "where" asks boxes for: ceil(start) .. floor(end)."""
    return list(range(math.ceil(raw["timestamps"][0]), math.floor(raw["timestamps"][1]) + 1))


# ----------------------------------------------------------------------------- prompts


def _gt_boxes_in_input_pixels(raw: dict, media: Media) -> list[list[int]]:
    orig = (raw["width"], raw["height"])
    return [
        round_box(rescale_box([b["xmin"], b["ymin"], b["xmax"], b["ymax"]], orig, media.input_size))
        for b in raw["bboxes"]
    ]


def queries(sample: Sample, media: Media) -> list[Query]:
    """The five official calls, worded as upstream's think-mode prompts, built by `o3v.prompts`."""
    raw = sample.raw
    secs = time_range(raw)
    n = len(raw["bboxes"])
    return [
        Query("vqa", "temporal-spatial free-form QA", vstar_what(raw["question"])),
        Query("temporal", "temporal QA", vstar_when(raw["temporal_question"])),
        Query("spatial", "temporal-spatial free-form QA", vstar_where(raw["spatial_question"], secs)),
        Query("spatial_2", "temporal-spatial free-form QA", vstar_where_n(raw["spatial_question_2"], n)),
        Query(
            "temporal_2",
            "temporal QA",
            vstar_when_given_boxes(raw["temporal_question"], media.input_size, _gt_boxes_in_input_pixels(raw, media)),
        ),
    ]


# ----------------------------------------------------------------------------- official answer parsing

_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_MMSS_RE = re.compile(r"(\d+:\d+)")
_NUMBER_RE = re.compile(r"\b\d+(?:\.\d+)?\b")
_MARKDOWN_JSON_RE = re.compile(r"```json\s*\n(\[.*?\]|\{.*?\})\s*\n```", re.DOTALL)
_BRACKETS_RE = re.compile(r"(\[[\s\S]*\]|\{[\s\S]*\})")


def answer_part(text: str) -> str:
    """The first `<answer>` block's content, stripped; the whole text when there is none (as upstream)."""
    m = _ANSWER_RE.search(text)
    return m.group(1).strip() if m else text


def parse_when(text: str) -> list[float]:
    """Official when-parser: `m:ss` -> seconds, then **exactly two** numbers, else `[]` (IoU 0).

    Example:
        >>> parse_when("<answer>From <t>3.2</t>s to <t>7.5</t>s</answer>"), parse_when("from 3.2s to 7.5s (4.3s)")
        ([3.2, 7.5], [])
    """
    result = answer_part(text)
    for stamp in _MMSS_RE.findall(result):
        minutes, seconds = (int(v) for v in stamp.split(":"))
        result = result.replace(stamp, f"<t>{minutes * 60 + seconds}</t>s")
    numbers = _NUMBER_RE.findall(result)
    return [float(numbers[0]), float(numbers[1])] if len(numbers) == 2 else []


def _balance(text: str) -> str:
    """Upstream's `fix_incomplete_json`: append or prepend missing brackets, square then curly."""
    for opener, closer in (("[", "]"), ("{", "}")):
        diff = text.count(opener) - text.count(closer)
        text = text + closer * diff if diff > 0 else opener * (-diff) + text
    return text


def parse_where(text: str) -> dict | list | None:
    """Official where-parser: a dict second -> box(es); a list only after the repair path (it then scores 0).

    Markdown ```json block first, else first-bracket-to-last-bracket; `'` -> `"`; a list of dicts is merged,
    a list of [key, box] pairs becomes a dict; on a JSON error missing brackets are added and the parse retried.

    Example:
        >>> parse_where('<answer>{"3": [1, 2, 3, 4]}</answer>'), parse_where('[["3", [1, 2, 3, 4]]]')
        ({'3': [1, 2, 3, 4]}, {'3': [1, 2, 3, 4]})
    """
    body = answer_part(text)
    m = _MARKDOWN_JSON_RE.search(body) or _BRACKETS_RE.search(body)
    if not m:
        return None
    raw = m.group(1).strip().replace("'", '"')
    try:
        value = json.loads(raw)
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            merged: dict = {}
            for v in value:
                merged.update(v)
            value = merged
        if isinstance(value, list):
            return {str(item[0]): item[1] for item in value}
        return dict(value) if isinstance(value, dict) else None
    except (ValueError, TypeError, KeyError, IndexError, RecursionError):
        try:
            fixed = json.loads(_balance(raw))
        except (ValueError, RecursionError):
            return None
        return list(fixed) if isinstance(fixed, list) else dict(fixed) if isinstance(fixed, dict) else None


def _is_box(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 4 and all(isinstance(x, int | float) and math.isfinite(x) for x in v)


def to_original(parsed: dict | list | None, src: tuple[int, int], dst: tuple[int, int]) -> dict | list | None:
    """Rescale every well-formed box of a parsed where-answer from model-input to original pixels.

    Values that are not boxes are kept as written so the official scorer treats them exactly as upstream.
    """
    if not isinstance(parsed, dict):
        return parsed
    out: dict = {}
    for key, value in parsed.items():
        if _is_box(value):
            out[key] = [round(v, 2) for v in rescale_box(value, src, dst)]
        elif isinstance(value, list) and value and all(_is_box(b) for b in value):
            out[key] = [[round(v, 2) for v in rescale_box(b, src, dst)] for b in value]
        else:
            out[key] = value
    return out


def predict(sample: Sample, outputs: dict[str, str], media: Media) -> dict:
    """The official result item: annotation fields + parsed answers (original pixels) + raw texts."""
    row = dict(sample.raw)
    row["index"] = sample.index
    row["answer_vqa_raw_output"] = outputs["vqa"]
    row["answer_vqa"] = answer_part(outputs["vqa"])
    row["answer_temporal_pre"] = outputs["temporal"]
    row["answer_temporal"] = parse_when(outputs["temporal"])
    row["answer_spatial_pre"] = outputs["spatial"]
    row["answer_spatial"] = to_original(parse_where(outputs["spatial"]), media.input_size, media.orig_size)
    row["answer_spatial_pre_2"] = outputs["spatial_2"]
    row["answer_spatial_2"] = to_original(parse_where(outputs["spatial_2"]), media.input_size, media.orig_size)
    row["answer_temporal_pre_2"] = outputs["temporal_2"]
    row["answer_temporal_2"] = parse_when(outputs["temporal_2"])
    row["input_shape"] = list(media.input_size)
    return row


# ----------------------------------------------------------------------------- judge


def judge_rows(rows: list[dict], judge: Any, *, force: bool = False) -> list[dict]:
    """Rows with `judge_score` / `judge_reply` / judge identity added where missing (or all, with `force`).

    Rows with an empty `answer_vqa` are not judged: the official scorer skips them.
    """
    todo = [i for i, r in enumerate(rows) if r.get("answer_vqa") and (force or "judge_score" not in r)]
    replies = judge.rate([(rows[i]["question"], rows[i]["answer"], rows[i]["answer_vqa"]) for i in todo])
    out = [dict(r) for r in rows]
    for i, reply in zip(todo, replies):
        out[i].update(judge_score=official_rating(reply), judge_reply=reply, **judge.identity())
    return out


def official_rating(reply: str) -> int:
    """`int(reply)` as upstream; anything else is -1 (counts 0, never correct)."""
    try:
        return int(reply)
    except (ValueError, TypeError):
        return -1


def judge_info(rows: list[dict]) -> dict:
    """Who rated "what": the judge model(s) recorded in the rows, and whether that is the official judge."""
    models = sorted({str(r.get("judge_model", "unknown")) for r in rows if "judge_score" in r})
    revisions = sorted({str(r.get("judge_revision", "unknown")) for r in rows if "judge_score" in r})
    official = models == [OFFICIAL_JUDGE]
    label = (
        f"official judge ({OFFICIAL_JUDGE})"
        if official
        else f"NOT the official judge ({', '.join(models) or 'none'}); acc is not comparable to the paper's"
    )
    return {"models": models, "revisions": revisions, "official": official, "label": label}


# ----------------------------------------------------------------------------- scoring


def _pred_span(value: Any) -> list[float]:
    """Official `calculate_temporal_iou` input checks: a 2-number list (or its string form), else []."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return []
    if not isinstance(value, list | tuple) or len(value) != 2 or not all(isinstance(v, int | float) for v in value):
        return []
    return [float(value[0]), float(value[1])]


def _when(row: dict, chain: int) -> list[float]:
    suffix = "" if chain == 1 else "_2"
    value = row.get(f"answer_temporal{suffix}", [])
    if value == [] and isinstance(row.get(f"answer_temporal_pre{suffix}"), str):
        value = parse_when(row[f"answer_temporal_pre{suffix}"])  # the official scorer re-parses empty answers
    return _pred_span(value) if value else []


def am(acc: float, tiou: float, viou: float) -> float:
    """Arithmetic mean of the three dimensions (fractions)."""
    return (acc + tiou + viou) / 3


def lgm(acc: float, tiou: float, viou: float) -> float | None:
    """Logarithmic geometric mean -mean(ln(1 - x)); None when a term is 1 (upstream crashes there)."""
    if max(acc, tiou, viou) >= 1.0:
        return None
    return -(math.log(1 - acc) + math.log(1 - tiou) + math.log(1 - viou)) / 3


def _summary(entries: list[dict], total: int) -> dict:
    """Official statistics of a set of judged rows; `acc` divides by `total` as upstream."""
    acc = sum(1 for e in entries if e["score"] >= 2) / total if total else 0.0
    out: dict[str, Any] = {"acc": acc}
    for c in (1, 2):
        out[f"tiou_chain{c}"] = mean(e[f"tiou{c}"] for e in entries)
        out[f"viou_chain{c}"] = mean(e[f"viou{c}"] for e in entries)
    for c in (1, 2):
        out[f"am_chain{c}"] = am(acc, out[f"tiou_chain{c}"], out[f"viou_chain{c}"])
        out[f"lgm_chain{c}"] = lgm(acc, out[f"tiou_chain{c}"], out[f"viou_chain{c}"])
    out["mam"] = (out["am_chain1"] + out["am_chain2"]) / 2
    both = out["lgm_chain1"] is not None and out["lgm_chain2"] is not None
    out["mlgm"] = (out["lgm_chain1"] + out["lgm_chain2"]) / 2 if both else None
    out = {k: out[k] for k in KEYS}
    out["avg_rating_all"] = mean(max(e["score"], 0) for e in entries)
    out["avg_rating_valid"] = mean(e["score"] for e in entries if e["score"] != -1)
    for c in (1, 2):
        out[f"recall_chain{c}"] = {
            f"r@{m}": mean(1.0 if e[f"tiou{c}"] >= m else 0.0 for e in entries) for m in THRESHOLDS
        }
        out[f"ap_chain{c}"] = {
            f"ap@{m}": mean(mean(1.0 if v >= m else 0.0 for v in e[f"frames{c}"]) for e in entries)
            for m in AP_THRESHOLDS
        }
    out["combined"] = {
        f"{name}_chain{c}": (sum(1 for e in entries if test(e, c)) / total if total else 0.0)
        for c in (1, 2)
        for name, test in (
            ("vqa_temp", lambda e, c: e["score"] >= 2 and e[f"tiou{c}"] >= 0.3),
            ("vqa_spat", lambda e, c: e["score"] >= 2 and e[f"viou{c}"] >= 0.1),
            ("temp_spat", lambda e, c: e[f"tiou{c}"] >= 0.3 and e[f"viou{c}"] >= 0.1),
            ("vqa_temp_spat", lambda e, c: e["score"] >= 2 and e[f"tiou{c}"] >= 0.3 and e[f"viou{c}"] >= 0.1),
        )
    }
    out["n"] = total
    return out


def _judge_score(row: dict, i: int, file: str) -> int:
    if "judge_score" not in row:
        raise BenchmarkError(
            "has an answer_vqa but no judge_score; run a judge (--judge) or add the scores",
            file=file,
            row=i,
            field="judge_score",
        )
    score = row["judge_score"]
    if isinstance(score, bool) or not isinstance(score, int):
        raise BenchmarkError(f"must be an integer rating, got {score!r}", file=file, row=i, field="judge_score")
    return score


def score(samples: list[Sample], rows: list[dict], *, file: str = "", **_: Any) -> dict:
    """Official V-STaR statistics over the result rows (one per predicted sample).

    The ground truth comes from the annotations (`samples`), matched by `index` or position; a row whose
    `vid`/`question` disagree with its annotation is an error. Rows with an empty `answer_vqa` are skipped
    but stay in the accuracy denominator, exactly as upstream.
    """
    from o3v.metrics import compute

    by_index = {s.index: s for s in samples}
    gts: list[dict] = []
    judged: list[tuple[int, dict, dict]] = []
    for i, row in enumerate(rows):
        idx = row.get("index", row.get("original_index", i))
        sample = by_index.get(idx)
        if (
            sample is None
            or row.get("vid", sample.raw["vid"]) != sample.raw["vid"]
            or row.get("question", sample.raw["question"]) != sample.raw["question"]
        ):
            raise BenchmarkError(
                f"does not match annotation {idx} (vid/question differ or no such index)",
                file=file,
                row=i,
                field="index",
            )
        gts.append(sample.raw)
        if row.get("answer_vqa"):
            judged.append((i, row, sample.raw))
    scores = [_judge_score(row, i, file) for i, row, _ in judged]
    metrics = {}
    for c, suffix in ((1, ""), (2, "_2")):
        metrics[f"t{c}"] = compute(
            "temporal_iou",
            predictions=[_when(r, c) for _, r, _ in judged],
            references=[g["timestamps"] for _, _, g in judged],
        )
        metrics[f"v{c}"] = compute(
            "frame_viou",
            predictions=[json.dumps(r.get(f"answer_spatial{suffix}")) for _, r, _ in judged],
            references=[json.dumps(g["bboxes"]) for _, _, g in judged],
        )
    entries = [
        {
            "score": s,
            "tiou1": metrics["t1"]["ious"][k],
            "tiou2": metrics["t2"]["ious"][k],
            "viou1": metrics["v1"]["vious"][k],
            "viou2": metrics["v2"]["vious"][k],
            "frames1": metrics["v1"]["frame_ious"][k],
            "frames2": metrics["v2"]["frame_ious"][k],
            "bucket": bucket(g),
            "domain": str(g.get("domain", "unknown")),
        }
        for k, (s, (_, _, g)) in enumerate(zip(scores, judged))
    ]
    out = _summary(entries, len(rows))
    for c in (1, 2):  # per-item spread of the headline means, for the report's intervals
        out[f"tiou_chain{c}_sd"] = sd(e[f"tiou{c}"] for e in entries)
        out[f"viou_chain{c}_sd"] = sd(e[f"viou{c}"] for e in entries)
    out["n_judged"] = len(entries)
    out["skipped_empty_vqa"] = len(rows) - len(entries)
    for name in ("bucket", "domain"):
        groups: dict[str, list[dict]] = {}
        for e in entries:
            groups.setdefault(e[name], []).append(e)
        key = "by_duration" if name == "bucket" else "by_domain"
        out[key] = {g: _summary(es, len(es)) for g, es in sorted(groups.items())}
    out["judge"] = judge_info(rows)
    return out


# ----------------------------------------------------------------------------- baselines and gallery


def constant_answer(answers: list[str]) -> dict[str, Any]:
    """The answer a constant would give to every "what" question: the most frequent one, and the share it matches.

    >>> constant_answer(["It is a circle.", "it is a circle", "It is a star."])
    {'answer': 'It is a circle.', 'acc': 0.6666666666666666}
    >>> constant_answer([])
    {'answer': '', 'acc': 0.0}
    """
    keys = [exact_key(a) for a in answers]
    counts = Counter(k for k in keys if k)
    if not counts:
        return {"answer": "", "acc": 0.0}
    top, hits = counts.most_common(1)[0]
    return {"answer": answers[keys.index(top)], "acc": hits / len(answers)}


def baselines(samples: list[Sample], **_: Any) -> dict:
    """Constant predictions scored with the official rules: whole video, best constant span, mean / full box, and
    the most frequent answer to the "what" question.

    The constant answer is scored as the exact-match judge scores it (`o3v.eval.judge.exact_key`); a model judge
    also credits paraphrases, so under one this share is most likely a lower bound. The constant row's
    `mam` / `mlgm` combine the best constant of each of the three.
    """
    from o3v.metrics import compute

    if not samples:
        return {}
    raws = [s.raw for s in samples]
    answer = constant_answer([r["answer"] for r in raws])
    spans = [tuple(r["timestamps"]) for r in raws]
    spans_out = span_baselines(spans, [duration(r) for r in raws], "tiou")
    norm = [
        [b["xmin"] / r["width"], b["ymin"] / r["height"], b["xmax"] / r["width"], b["ymax"] / r["height"]]
        for r in raws
        for b in r["bboxes"]
    ]
    mbox = [mean(b[k] for b in norm) for k in range(4)] if norm else [0.0, 0.0, 1.0, 1.0]

    def constant_box(box_of) -> dict[str, float | None]:
        preds = [json.dumps({str(b["timestamp"]): box_of(r) for b in r["bboxes"]}) for r in raws]
        res = compute("frame_viou", predictions=preds, references=[json.dumps(r["bboxes"]) for r in raws])
        return {"viou": res["mviou"], "viou_sd": sd(res["vious"])}

    mean_box = constant_box(
        lambda r: [mbox[0] * r["width"], mbox[1] * r["height"], mbox[2] * r["width"], mbox[3] * r["height"]]
    )
    full_box = constant_box(lambda r: [0, 0, r["width"], r["height"]])
    parts = (answer["acc"], spans_out["best_constant_span"]["tiou"], max(mean_box["viou"], full_box["viou"]))
    return {
        **spans_out,
        "mean_box": {**mean_box, "box_normalized": mbox},
        "full_frame_box": full_box,
        "best_constant_answer": answer,
        "constant_mam": {
            "mam": am(*parts),
            "mlgm": lgm(*parts),
            "note": "the most frequent answer, the best constant span and the best constant box on both chains",
        },
    }


def evidence(sample: Sample, row: dict | None) -> Evidence:
    """Gallery view: GT span and boxes vs both chains' predicted spans and chain-1 boxes (original pixels)."""
    raw = sample.raw
    ev = Evidence(
        question=raw["question"],
        answer=raw["answer"],
        predicted=(row or {}).get("answer_vqa", ""),
        gt_spans=[Span(*raw["timestamps"])],
        duration=duration(raw),
        gt_boxes=[(float(b["timestamp"]), [b["xmin"], b["ymin"], b["xmax"], b["ymax"]]) for b in raw["bboxes"]],
    )
    if not row:
        return ev
    if isinstance(row.get("judge_score"), int):
        ev.correct = row["judge_score"] >= 2
    ev.pred_spans = [Span(*s) for s in (_when(row, 1), _when(row, 2)) if s]
    where = row.get("answer_spatial")
    if isinstance(where, dict):
        for key, value in where.items():
            boxes = [value] if _is_box(value) else value if isinstance(value, list) else []
            for b in boxes:
                if _is_box(b) and re.fullmatch(r"\d+(\.\d+)?", str(key)):
                    ev.pred_boxes.append((float(key), b))
    ev.predicted = ev.predicted or "(empty)"
    ev.question = f"{raw['question']}  [when: {raw['temporal_question']}]"
    start, end = (format_number(v) for v in raw["timestamps"])
    ev.answer = f"{raw['answer']}  [GT span {start}-{end}s]"
    return ev

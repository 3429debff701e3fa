"""Benchmark files in the official formats (benchmarks.md §1.2, §3, §6) over held-out synthetic videos,
and the constant baselines every results table needs beside it (tiny-learning.md).

Video paths are relative to `OUT/videos/`: V-STaR's `vid` and VideoMME's `videoID` name `<id>.mp4`
there, TVGBench's `path` is `<id>.mp4`.

- V-STaR: one item per object; `timestamps` is the visible span; `bboxes` holds one box per whole
  second inside the span (`timestamp` an int, as V-STaR's scorer looks boxes up by `str(timestamp)`),
  in original-video pixels.
- TVGBench: one query per object; `answer` is `"start-end"` in seconds. `bins` are o3v's own
  (`videolen` 0: all clips are under 60 s; `qcenter`, `qlen`: thirds of the clip); the official
  bin edges are not published and scoring does not use them.
- VideoMME: two four-way MCQs per video (count, and colour or order of appearance), `duration` "short".

Baselines (all IoUs from `o3v.geometry`): whole-video span tIoU; the best constant span (the best
`[a, b]` fraction pair on a 0.05 grid, chosen on the file itself, so an upper bound for any constant);
the mean-box vIoU (mean GT box of the file, V-STaR per-sample mean over GT frames); majority-option
accuracy. A trained model counts as grounded only above these.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from o3v.geometry import box_iou, temporal_iou, to_pixels
from o3v.grounded import format_number
from o3v.synth.tasks import LETTERS, mcq_options
from o3v.synth.world import COLOURS, SHAPES, ObjectTrack, VideoSpec

VSTAR_FILE = "vstar/V_STaR_test.json"
TVG_FILE = "tvgbench/tvgbench.json"
VIDEOMME_FILE = "videomme/videomme/test-00000-of-00001.parquet"
DOMAIN = "Synthetic shapes"


def vstar_questions(o: ObjectTrack) -> dict[str, str]:
    """The four V-STaR question fields about an object (the synthetic training records ask the same)."""
    return {
        "question": f"What shape is the {o.colour} object?",
        "temporal_question": f"When is the {o.name} visible in the video?",
        "spatial_question": f"Where is the {o.name} while it is visible?",
        "spatial_question_2": f"Where is the {o.name} in the video?",
    }


def tvg_event(o: ObjectTrack) -> str:
    """The TVGBench query sentence about an object."""
    return f"the {o.name} moves across the frame."


def vstar_items(spec: VideoSpec) -> list[dict]:
    """V-STaR annotation records, one per object of a video."""
    items = []
    for o in spec.objects:
        start, end = o.span(spec.fps)
        seconds = [s for s in range(math.ceil(start), math.floor(end) + 1) if o.visible(s * spec.fps)]
        bboxes = []
        for s in seconds:
            x0, y0, x1, y1 = spec.clipped_box(o.name, s * spec.fps)
            bboxes.append(
                {"timestamp": s, "frame_index": s * spec.fps, "xmin": x0, "ymin": y0, "xmax": x1, "ymax": y1}
            )
        where = " ".join(
            f"At <t>{b['timestamp']}</t>s it is at [{b['xmin']}, {b['ymin']}, {b['xmax']}, {b['ymax']}]."
            for b in bboxes
        )
        q = vstar_questions(o)
        items.append(
            {
                "vid": spec.id,
                "domain": DOMAIN,
                "fps": float(spec.fps),
                "width": spec.width,
                "height": spec.height,
                "frame_count": spec.num_frames,
                "question": q["question"],
                "chain": f"<think>The {o.colour} object is a {o.shape}. It is visible from "
                f"<t>{format_number(start)}</t>s to <t>{format_number(end)}</t>s. {where}</think>",
                "object": o.name,
                "answer": f"It is a {o.shape}.",
                "temporal_question": q["temporal_question"],
                "timestamps": [start, end],
                "spatial_question": q["spatial_question"],
                "spatial_question_2": q["spatial_question_2"],
                "bboxes": bboxes,
            }
        )
    return items


def tvg_items(spec: VideoSpec) -> list[dict]:
    """TVGBench queries, one per object of a video."""
    items = []
    for o in spec.objects:
        start, end = o.span(spec.fps)
        centre, length = (start + end) / 2 / spec.duration, (end - start) / spec.duration
        items.append(
            {
                "path": f"{spec.id}.mp4",
                "question": tvg_event(o),
                "answer": f"{format_number(start)}-{format_number(end)}",
                "duration": spec.duration,
                "question_type": "video temporal grounding",
                "source": "o3v_synth",
                "dataset_name": "o3v_synth",
                "qsemtype": "Object Existence (Simple)",
                "bins": {"videolen": 0, "qcenter": min(2, int(3 * centre)), "qlen": min(2, int(3 * length))},
            }
        )
    return items


def videomme_rows(spec: VideoSpec, rng: np.random.Generator) -> list[dict]:
    """Two VideoMME-style MCQs for a video: object count, then colour of a shape or the first object."""
    objs = sorted(spec.objects, key=lambda o: o.first)
    k = len(objs)
    rows = []
    options, letter = mcq_options(rng, str(k), [str(x) for x in rng.permutation([v for v in range(1, 6) if v != k])])
    rows.append(("How many different objects appear in the video?", options, letter, "Counting Problem"))
    firsts = sorted(o.first for o in objs)
    if k > 1 and firsts[0] < firsts[1] and rng.random() < 0.5:
        present = {o.name for o in objs}
        absent = [f"{c} {s}" for c in COLOURS for s in SHAPES if f"{c} {s}" not in present]
        others = [o.name for o in objs[1:]] + [str(x) for x in rng.permutation(absent)]
        options, letter = mcq_options(rng, objs[0].name, others)
        rows.append(("Which object is the first to appear?", options, letter, "Temporal Reasoning"))
    else:
        a = objs[int(rng.integers(k))]
        options, letter = mcq_options(rng, a.colour, [c for c in COLOURS if c != a.colour])
        rows.append((f"Which colour does the {a.shape} have?", options, letter, "Attribute Perception"))
    return [
        {
            "videoID": spec.id,
            "question_id": f"{spec.id}-{i + 1}",
            "duration": "short",
            "domain": DOMAIN,
            "sub_category": "Moving shapes",
            "task_type": task_type,
            "question": q,
            "options": opts,
            "answer": ans,
        }
        for i, (q, opts, ans, task_type) in enumerate(rows)
    ]


def write_videomme(path: Path, rows: list[dict]) -> None:
    """VideoMME's parquet (pyarrow): `options` a list of strings, `answer` a letter."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["videoID", "question_id", "duration", "domain", "sub_category", "task_type", "question", "options"]
    pd.DataFrame(rows, columns=[*columns, "answer"]).to_parquet(path, engine="pyarrow", index=False)


# ----------------------------------------------------------------------------- constant baselines

GRID = [round(0.05 * i, 2) for i in range(21)]


def temporal_baselines(spans: list[tuple[float, float]], durations: list[float]) -> dict:
    """Whole-video and best-constant-fraction tIoU over (span, duration) items."""
    if not spans:
        return {"items": 0}
    whole = float(np.mean([temporal_iou((0.0, d), s) for s, d in zip(spans, durations)]))
    best, best_pair = -1.0, (0.0, 1.0)
    for i, a in enumerate(GRID):
        for b in GRID[i + 1 :]:
            score = float(np.mean([temporal_iou((a * d, b * d), s) for s, d in zip(spans, durations)]))
            if score > best + 1e-12:
                best, best_pair = score, (a, b)
    return {
        "items": len(spans),
        "whole_video_tiou": round(whole, 4),
        "best_constant_tiou": round(best, 4),
        "best_constant_fraction": list(best_pair),
    }


def mean_box_viou(items: list[dict]) -> dict:
    """vIoU of always predicting the file's mean normalized GT box, scored V-STaR style (per-sample mean)."""
    norm = [
        [b["xmin"] / it["width"], b["ymin"] / it["height"], b["xmax"] / it["width"], b["ymax"] / it["height"]]
        for it in items
        for b in it["bboxes"]
    ]
    if not norm:
        return {"mean_box_viou": None, "mean_box": None}
    mean_box = np.mean(np.asarray(norm), axis=0).tolist()
    per_sample = []
    for it in items:
        pred = to_pixels(mean_box, it["width"], it["height"])
        gts = [[b["xmin"], b["ymin"], b["xmax"], b["ymax"]] for b in it["bboxes"]]
        per_sample.append(float(np.mean([box_iou(pred, g) for g in gts])) if gts else 0.0)
    return {"mean_box_viou": round(float(np.mean(per_sample)), 4), "mean_box": [round(v, 4) for v in mean_box]}


def majority_option(answers: list[str]) -> dict:
    """Accuracy of always answering the most frequent letter (ties: the first letter)."""
    if not answers:
        return {"items": 0}
    counts = Counter(answers)
    letter = max(LETTERS, key=lambda x: counts.get(x, 0))
    return {
        "items": len(answers),
        "majority_option": letter,
        "majority_option_accuracy": round(counts[letter] / len(answers), 4),
    }


def baselines(vstar: list[dict], tvg: list[dict], videomme: list[dict]) -> dict:
    """Constant baselines for every benchmark file, keyed by path under `OUT/benchmarks/`."""
    v_spans = [tuple(it["timestamps"]) for it in vstar]
    v_durations = [it["frame_count"] / it["fps"] for it in vstar]
    t_spans = [tuple(float(x) for x in it["answer"].split("-")) for it in tvg]
    return {
        VSTAR_FILE: {**temporal_baselines(v_spans, v_durations), **mean_box_viou(vstar)},
        TVG_FILE: temporal_baselines(t_spans, [it["duration"] for it in tvg]),
        VIDEOMME_FILE: majority_option([r["answer"] for r in videomme]),
    }

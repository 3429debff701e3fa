"""Ask a model one question about one video: the answer, its evidence (times, boxes) and a confidence.

    o3v infer --model out/tiny --video clip.mp4 --question "Where is the red circle?" --image answer.png

Evidence boxes are returned in **original-video pixels** (the model writes model-input pixels; they are rescaled
with `o3v.geometry.rescale_box`). The confidence is Open-o3's evidence check (open-o3-video.md §10.4): the boxes
the answer claims are cropped from the frames the model saw and the same model rates their relevance to the
question, 2 -> 1.0, 1 -> 0.6, 0 -> 0.2; no usable evidence or an unreadable rating -> 0.2; no answer -> 0.0.
It is a self-rating, not a calibrated probability, and the output says so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from o3v.eval.config import load_config
from o3v.eval.frames import decode_video, to_pil
from o3v.eval.voting import NO_EVIDENCE_WEIGHT, evidence_crops, rating_messages, relevance_weight
from o3v.geometry import rescale_box
from o3v.grounded import parse
from o3v.prompts import build_messages

log = logging.getLogger(__name__)


def infer(
    model: str | Path | tuple,
    video: str | Path,
    question: str,
    *,
    task: str = "temporal-spatial free-form QA",
    options: list[str] | None = None,
    config: str | Path | dict | None = None,
    image_out: str | Path | None = None,
) -> dict[str, Any]:
    """Answer `question` about `video`; returns the answer, evidence, confidence and raw completion."""
    from o3v.eval.runner import generate_texts, load_handle
    from o3v.model import model_input_size, set_pixel_budget

    cfg = load_config(config)
    handle = load_handle(model, cfg)
    set_pixel_budget(handle.processor, cfg.min_pixels, cfg.max_pixels)
    frames = decode_video(video, cfg.frames)
    size = model_input_size(handle.processor, frames.width, frames.height)
    messages = build_messages(task, question, frames.times, frames.duration, options)
    text = generate_texts(handle, [messages], [to_pil(frames)], cfg.max_new_tokens, cfg, temperature=cfg.temperature)[
        0
    ]
    g = parse(text)
    orig = (frames.width, frames.height)
    evidence = [
        {"object": c.object, "time": c.time, "box": [round(v, 1) for v in rescale_box(b, size, orig)]}
        for c in g.claims
        for b in c.boxes
    ]
    rating, confidence = None, 0.0
    if g.answer:
        crops = evidence_crops(text, list(frames.array), frames.times or [0.0], size)
        confidence = NO_EVIDENCE_WEIGHT
        if crops:
            rating = generate_texts(
                handle, [rating_messages(question, options, len(crops))], [crops], 4, cfg, temperature=0.0
            )[0]
            confidence = relevance_weight(rating)
    result = {
        "video": str(video),
        "question": question,
        "task": task,
        "answer": g.answer,
        "span": list(g.answer_span) if g.answer_span else None,
        "option": g.option,
        "evidence": evidence,
        "confidence": confidence,
        "confidence_note": "self-rated relevance of the cropped evidence (1.0/0.6/0.2), not a probability",
        "rating_reply": rating,
        "video_size": list(orig),
        "input_size": list(size),
        "raw": text,
    }
    if image_out:
        result["image"] = str(annotate(video, result, image_out))
    return result


def annotate(video: str | Path, result: dict, out: str | Path) -> Path:
    """A PNG of the frames at the evidence times with the predicted boxes (red), and the answer span timeline."""
    from o3v.eval.render import boxes_near, draw_boxes, hstack, panel_times, timeline, vstack
    from o3v.video import frames_at, probe

    boxes = [(e["time"], e["box"]) for e in result["evidence"]]
    duration = probe(video).duration
    times = panel_times([], boxes, limit=4) or [duration / 2]
    got = frames_at(video, times)
    panels = [
        draw_boxes(f, [], boxes_near(boxes, float(t), 0.5), f"t={float(t):.1f}s")
        for t, f in zip(got.times, got.frames)
    ]
    parts = [hstack(panels)]
    spans = [tuple(result["span"])] if result.get("span") else []
    parts.append(timeline(duration, [], spans, marks=[b[0] for b in boxes], width=parts[0].width))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    vstack(parts).save(out)
    return out

"""Ask a model one question about one video: the answer, its evidence (times, boxes) and a confidence.

    o3v infer --model out/tiny --video clip.mp4 --question "Where is the red circle?" --image answer.png

Evidence boxes are returned in **original-video pixels** (the model writes model-input pixels; they are rescaled
with `o3v.geometry.rescale_box`). The confidence is Open-o3's evidence check (open-o3-video.md §10.4): the boxes
the answer claims are cropped from the frames the model saw and the same model rates their relevance to the
question, 2 -> 1.0, 1 -> 0.6, 0 -> 0.2; no usable evidence or an unreadable rating -> 0.2; no answer -> 0.0.
It is a self-rating, not a calibrated probability, and the output says so.

When the video (or a visual-QA still) belongs to a synthetic world (a `world.json` next to or up to three
folders above it, or `world=`), `truth` holds the IoUs against the world's exact ground truth
(`o3v.eval.truth`); otherwise it is None. `html_out` writes a one-file evidence page (`o3v.eval.evidence_page`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from o3v.eval.config import load_config
from o3v.eval.frames import decode_image, decode_video, to_pil
from o3v.eval.voting import NO_EVIDENCE_WEIGHT, evidence_crops, rating_messages, relevance_weight
from o3v.geometry import rescale_box
from o3v.grounded import parse
from o3v.prompts import build_messages

log = logging.getLogger(__name__)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def read_completion(text: str, input_size: tuple[int, int], video_size: tuple[int, int]) -> dict[str, Any]:
    """The answer, span, option, evidence and answer boxes of a completion; boxes moved to original-video pixels.

    Example:
        >>> r = read_completion("<think><obj>cat</obj><box>[14,14,28,28]</box>at<t>1</t>s</think>"
        ...                     "<answer>From <t>1</t>s to <t>2</t>s</answer>", (56, 56), (112, 112))
        >>> r["span"], r["evidence"]
        ([1.0, 2.0], [{'object': 'cat', 'time': 1.0, 'box': [28.0, 28.0, 56.0, 56.0]}])
    """
    g = parse(text)

    def orig(b: Any) -> list[float]:
        return [round(v, 1) for v in rescale_box(b, input_size, video_size)]

    return {
        "answer": g.answer,
        "span": list(g.answer_span) if g.answer_span else None,
        "option": g.option,
        "evidence": [{"object": c.object, "time": c.time, "box": orig(b)} for c in g.claims for b in c.boxes],
        "answer_boxes": [orig(b) for b in g.answer_boxes],
    }


def infer(
    model: str | Path | tuple,
    video: str | Path,
    question: str,
    *,
    task: str = "temporal-spatial free-form QA",
    options: list[str] | None = None,
    config: str | Path | dict | None = None,
    image_out: str | Path | None = None,
    world: str | Path | None = None,
    html_out: str | Path | None = None,
) -> dict[str, Any]:
    """Answer `question` about `video` (or a still image); returns the answer, evidence, confidence, raw completion
    and `truth` (IoUs against the synthetic world's ground truth, None when no world holds the video)."""
    from o3v.eval.runner import generate_texts, load_handle
    from o3v.eval.truth import scene_for, score
    from o3v.model import model_input_size, set_pixel_budget

    scene = scene_for(video, world)  # before loading the model: a bad --world fails fast
    cfg = load_config(config)
    handle = load_handle(model, cfg)
    set_pixel_budget(handle.processor, cfg.min_pixels, cfg.max_pixels)
    still = Path(video).suffix.lower() in IMAGE_SUFFIXES
    frames = decode_image(video) if still else decode_video(video, cfg.frames)
    size = model_input_size(handle.processor, frames.width, frames.height)
    messages = build_messages(task, question, frames.times, frames.duration, options)
    log.info("generating (%d frames, %dx%d model input)", len(frames.array), *size)
    text = generate_texts(handle, [messages], [to_pil(frames)], cfg.max_new_tokens, cfg, temperature=cfg.temperature)[
        0
    ]
    orig = (frames.width, frames.height)
    got = read_completion(text, size, orig)
    rating, confidence = None, 0.0
    if got["answer"]:
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
        **got,
        "confidence": confidence,
        "confidence_note": "self-rated relevance of the cropped evidence (1.0/0.6/0.2), not a probability",
        "rating_reply": rating,
        "video_size": list(orig),
        "input_size": list(size),
        "duration": frames.duration,
        "frame_times": frames.times,
        "raw": text,
        "truth": score(scene, question, got["span"], got["evidence"], got["answer_boxes"], orig) if scene else None,
    }
    if scene is None:
        log.info("no synthetic world holds %s: no truth to compare with", video)
    if image_out:
        result["image"] = str(annotate(video, result, image_out, scene))
    if html_out:
        from o3v.eval.evidence_page import write_page

        result["html"] = str(write_page(video, result, html_out, scene))
    return result


def annotate(video: str | Path, result: dict, out: str | Path, scene: Any = None) -> Path:
    """A PNG of the frames at the evidence times with the predicted boxes (red), true boxes (green) when `scene`
    (an `o3v.eval.truth.Scene`) is given, and the answer span timeline."""
    from o3v.eval.evidence_page import pictures
    from o3v.eval.render import hstack, vstack

    panels, bar = pictures(video, result, scene)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    vstack([hstack([p for _, p in panels]), bar]).save(out)
    return out

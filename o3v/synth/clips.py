"""Two-square clips: the smallest temporal-grounding task, as a curated temporal-QA dataset (a check and a bench).

Each clip is 8 frames of 64x64 pixels at 2 fps (4 s) on the world's mid grey; two squares of different colours
sit still, each visible on a run of 1-4 consecutive frames (10-50% of the clip, drawn independently, so the
spans may overlap). The record asks "When is the <colour> square visible?" about one of them (drawn on top, so it
is never hidden) and the target is its visible span in the reference syntax (`o3v.synth.world` conventions:
frames `first..last` are the span `[first / fps, (last + 1) / fps)`):
`<think>The red square is visible from <t>1</t>s to <t>2.5</t>s.</think>` then
`<answer>From <t>1</t>s to <t>2.5</t>s</answer>`. It is the probe task of tiny-learning.md that a tiny Qwen3-VL
learns in a plain loop (held-out tIoU 0.68 after 2,000 steps of 8 clips), so `bench/learning.py` times both of
its training paths on it.

    write_square_clips(out_dir, n=16000, seed=0)   -> out_dir/{records.jsonl, dataset.json, videos/*.mp4}
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from o3v.grounded import format_number, render_span
from o3v.synth.world import COLOURS, ObjectTrack, VideoSpec, render, write_mp4

CLIP_SOURCE = "o3v_clips"
CLIP_FPS, CLIP_FRAMES = 2, 8
CLIP_SIZE = 64  # pixels, square frames: 4 visual tokens per frame for the tiny Qwen3-VL
CLIP_SQUARES = 2
SPAN_FRAMES = (1, 4)  # visible run length in frames, inclusive: 10-50% of the clip
SQUARE_SIDE = 21  # pixels (a third of the frame)


def square_clip(rng: np.random.Generator, clip_id: str) -> VideoSpec:
    """One clip: `CLIP_SQUARES` static squares of distinct colours; the last object is the one asked about."""
    colours = [str(c) for c in rng.permutation(list(COLOURS))[:CLIP_SQUARES]]
    objects = []
    for colour in colours:
        length = int(rng.integers(SPAN_FRAMES[0], SPAN_FRAMES[1] + 1))
        first = int(rng.integers(0, CLIP_FRAMES - length + 1))
        x, y = (float(v) for v in rng.integers(0, CLIP_SIZE - SQUARE_SIDE + 1, size=2))
        last = first + length - 1
        objects.append(
            ObjectTrack(f"{colour} square", colour, "square", (SQUARE_SIDE, SQUARE_SIDE), first, last, (x, y), (x, y))
        )
    return VideoSpec(clip_id, CLIP_FPS, CLIP_SIZE, CLIP_SIZE, CLIP_FRAMES, "grey", 0, tuple(objects))


def clip_record(spec: VideoSpec, video_path: str) -> dict:
    """The temporal-QA record of a clip: the visible span of its last object (see the module docstring)."""
    target = spec.objects[-1]
    start, end = target.span(spec.fps)
    said = f"from <t>{format_number(start)}</t>s to <t>{format_number(end)}</t>s"
    return {
        "id": spec.id,
        "task": "temporal QA",
        "source": CLIP_SOURCE,
        "question": f"When is the {target.name} visible?",
        "answer": render_span(start, end),
        "reasoning_process": f"The {target.name} is visible {said}.",
        "video_path": video_path,
    }


def write_square_clips(out_dir: str | Path, n: int, seed: int) -> Path:
    """Render and encode `n` clips and write their temporal-QA records as a curated dataset folder; returns it."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with (out / "records.jsonl").open("w", encoding="utf-8") as f:
        for i in range(n):
            spec = square_clip(rng, f"clip-{i:05d}")
            rel = f"videos/{spec.id}.mp4"
            write_mp4(render(spec), out / rel, spec.fps)
            f.write(json.dumps(clip_record(spec, rel)) + "\n")
    meta = {"media_root": str(out.resolve()), "stage": "check", "source_kind": "clips", "records": n, "seed": seed}
    (out / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out

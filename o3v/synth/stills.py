"""Single-object stills: the smallest grounding task, as a curated visual-QA dataset (a curriculum start and a check).

Each still is a mid-grey frame with one coloured square; the record asks "Where is the <colour> square?" and the
target is its box in the reference grounded syntax, in image pixels (the think part is the same one claim). It is
what a randomly initialised tiny Qwen3-VL learns first (tiny-learning.md: box IoU 0.45-0.61 in a plain loop), so
the learning regression test and `bench/learning.py` train on it through the real SFT path. A world's warm-up stills
may draw other shapes too (`WorldConfig.warmup_shapes`, presets `learnable-mixed` and `learnable-shapes`): the name
in the target then comes from the question.

    write_square_stills(out_dir, n=4800, seed=0)   -> out_dir/{records.jsonl, dataset.json, images/*.png}
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from o3v.geometry import to_normalized
from o3v.grounded import render_box
from o3v.synth.world import COLOURS, GREY, draw_shape

SQUARE_SIDES = (28, 40)  # pixels, inclusive


def shape_still(
    rng: np.random.Generator, size: tuple[int, int], shapes: tuple[str, ...] = ("square",)
) -> tuple[np.ndarray, str, list[int]]:
    """One still: (RGB array, object name "<colour> <shape>", [x1, y1, x2, y2] box in pixels). With one shape the
    draws are those of the first square-only stills, so their files are unchanged."""
    w, h = size
    colour = str(rng.choice(list(COLOURS)))
    side = int(rng.integers(SQUARE_SIDES[0], SQUARE_SIDES[1] + 1))
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    shape = shapes[0] if len(shapes) == 1 else str(rng.choice(list(shapes)))
    img = Image.new("RGB", (w, h), GREY)
    draw_shape(ImageDraw.Draw(img), shape, colour, (x, y, x + side, y + side))
    return np.asarray(img), f"{colour} {shape}", [x, y, x + side, y + side]


STILL_SOURCE = "o3v_stills"


def still_record(i: int, name: str, box: list[int], size: tuple[int, int], prefix: str = "square") -> dict:
    """The visual-QA record of still `i` showing object `name` (image at `images/<prefix>-<i>.png`)."""
    claim = f"<obj>{name}</obj>{render_box(box)}"
    return {
        "id": f"{prefix}-{i:05d}",
        "task": "visual QA",
        "source": STILL_SOURCE,
        "question": f"Where is the {name}?",
        "answer": claim,
        "reasoning_process": claim,
        "image_path": f"images/{prefix}-{i:05d}.png",
        "image_size": list(size),
    }


def world_entry(record: dict, name: str, box: list[int], size: tuple[int, int]) -> dict:
    """The world.json "images" entry of a still (no source video): its one object, normalized (the oracle
    verifier checks the record against it)."""
    obj = {"name": name, "box": to_normalized(box, *size)}
    where = {"image": record["image_path"], "video": None, "frame": None, "time": None}
    return {**where, "width": size[0], "height": size[1], "objects": [obj]}


def write_stills(
    out: Path,
    n: int,
    rng: np.random.Generator,
    size: tuple[int, int],
    prefix: str,
    shapes: tuple[str, ...] = ("square",),
) -> tuple[list[dict], list[dict]]:
    """Render `n` stills of one object each (shape drawn from `shapes`) into `out/images/`; returns their records
    and their world.json "images" entries."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    records, truth = [], []
    for i in range(n):
        img, name, box = shape_still(rng, size, shapes)
        rec = still_record(i, name, box, size, prefix)
        Image.fromarray(img).save(out / rec["image_path"])
        records.append(rec)
        truth.append(world_entry(rec, name, box, size))
    return records, truth


def write_square_stills(out_dir: str | Path, n: int, seed: int, size: tuple[int, int] = (128, 96)) -> Path:
    """Write `n` stills and their visual-QA records as a curated dataset folder; returns the folder."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    out = Path(out_dir)
    records, _ = write_stills(out, n, np.random.default_rng(seed), size, "square")
    with (out / "records.jsonl").open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    meta = {"media_root": str(out.resolve()), "stage": "check", "source_kind": "stills", "records": n, "seed": seed}
    (out / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out

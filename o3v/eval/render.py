"""Pictures of evidence: boxes drawn on frames, span timelines, and PNG data URIs for a self-contained HTML page.

Everything is drawn with PIL in original-video pixels (the caller converts predicted boxes first).
Ground truth is green, predictions are red; a legend says so on every picture.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

GT_COLOR = (40, 170, 60)
PRED_COLOR = (220, 40, 40)
TimedBox = tuple[float, Sequence[float]]


def _pil(frame: Any):
    from PIL import Image

    return (
        frame.convert("RGB") if isinstance(frame, Image.Image) else Image.fromarray(np.asarray(frame)).convert("RGB")
    )


def draw_boxes(
    frame: Any, gt: Sequence[Sequence[float]], pred: Sequence[Sequence[float]], label: str = "", min_width: int = 240
) -> Any:
    """A copy of `frame` (upscaled to at least `min_width` px wide) with GT boxes in green and predictions in red.

    Every box has a thin white halo; GT lines are thicker so a prediction that matches the truth still shows both.
    """
    from PIL import ImageDraw

    img = _pil(frame)
    scale = max(1.0, min_width / img.width)
    if scale > 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)))
    draw = ImageDraw.Draw(img)
    line = max(2, round(scale))
    # GT lines are 2 px wider (they grow inwards), so a prediction drawn exactly on the truth leaves a green rim;
    # a white halo under every box keeps a red box visible on a red object.
    layers = [(gt, GT_COLOR, line + 2), (pred, PRED_COLOR, line)]
    for halo in (True, False):
        for boxes, color, width in layers:
            for box in boxes:
                x1, y1, x2, y2 = (float(v) * scale for v in box)
                if x2 < x1 or y2 < y1:
                    continue
                if halo:
                    draw.rectangle([x1 - 1, y1 - 1, x2 + 1, y2 + 1], outline=(255, 255, 255), width=width + 2)
                else:
                    draw.rectangle([x1, y1, x2, y2], outline=color, width=width)
    if label:
        draw.rectangle([0, 0, img.width, 14], fill=(0, 0, 0))
        draw.text((3, 1), label, fill=(255, 255, 255))
    return img


def boxes_near(boxes: Sequence[TimedBox], time: float, tolerance: float) -> list[Sequence[float]]:
    """The boxes whose time is within `tolerance` seconds of `time`."""
    return [b for t, b in boxes if abs(float(t) - time) <= tolerance]


def panel_times(gt: Sequence[TimedBox], pred: Sequence[TimedBox], limit: int = 3) -> list[float]:
    """Up to `limit` frame times worth showing: GT box times first, then predicted ones, at least 0.5 s apart."""
    out: list[float] = []
    for t, _ in [*sorted(gt, key=lambda x: x[0]), *sorted(pred, key=lambda x: x[0])]:
        if all(abs(t - u) >= 0.5 for u in out):
            out.append(float(t))
        if len(out) == limit:
            break
    return sorted(out)


def timeline(
    duration: float,
    gt: Sequence[tuple[float, float]],
    pred: Sequence[tuple[float, float]],
    marks: Sequence[float] = (),
    width: int = 480,
) -> Any:
    """A bar per span kind: GT spans on the top row, predicted spans below, ticks every second-ish."""
    from PIL import Image, ImageDraw

    height, pad, left = 46, 6, 34
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    end = max([duration or 0.0, *(e for _, e in [*gt, *pred])] + [1e-6])
    inner = width - left - pad

    def x(t: float) -> float:
        return left + inner * max(0.0, min(float(t), end)) / end

    draw.text((2, 9), "GT", fill=GT_COLOR)
    draw.text((2, 27), "pred", fill=PRED_COLOR)
    draw.rectangle([left, 8, width - pad, 20], outline=(180, 180, 180))
    draw.rectangle([left, 26, width - pad, 38], outline=(180, 180, 180))
    for s, e in gt:
        draw.rectangle([x(s), 8, max(x(e), x(s) + 1), 20], fill=GT_COLOR)
    for s, e in pred:
        if e >= s:
            draw.rectangle([x(s), 26, max(x(e), x(s) + 1), 38], fill=PRED_COLOR)
    for t in marks:
        draw.line([x(t), 40, x(t), 45], fill=(80, 80, 80))
    draw.text((left, 0), "0s", fill=(0, 0, 0))
    draw.text((width - pad - 40, 0), f"{end:.1f}s", fill=(0, 0, 0))
    return img


def hstack(images: Sequence[Any], gap: int = 4) -> Any:
    """Images side by side on white (heights may differ)."""
    from PIL import Image

    if not images:
        return Image.new("RGB", (1, 1), (255, 255, 255))
    w = sum(i.width for i in images) + gap * (len(images) - 1)
    h = max(i.height for i in images)
    out = Image.new("RGB", (w, h), (255, 255, 255))
    x = 0
    for i in images:
        out.paste(i, (x, 0))
        x += i.width + gap
    return out


def vstack(images: Sequence[Any], gap: int = 4) -> Any:
    from PIL import Image

    images = [i for i in images if i is not None]
    w = max(i.width for i in images)
    h = sum(i.height for i in images) + gap * (len(images) - 1)
    out = Image.new("RGB", (w, h), (255, 255, 255))
    y = 0
    for i in images:
        out.paste(i, (0, y))
        y += i.height + gap
    return out


def png_data_uri(image: Any) -> str:
    """`data:image/png;base64,...` of a PIL image (embedded so the HTML page is one file)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

"""Geometry shared by rewards, metrics, curation and the evidence report: one definition each.

Box convention: the canonical box is **normalized xyxy in [0, 1]** relative to the frame it was drawn on.
Two pixel spaces exist around it, and every conversion between them goes through this module:

- *model-input pixels*: the resized frame the model sees (Qwen `smart_resize`, multiples of 28); the
  grounded text the model reads and writes (`<box>[x1,y1,x2,y2]</box>`) is in this space, as upstream;
- *original-video pixels*: the video's native width x height; benchmark files (V-STaR) use this space.

Intervals are `(start, end)` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BoxLike = Sequence[float]
Span = tuple[float, float]


def temporal_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """1-D IoU of two (start, end) intervals, as V-STaR and TVGBench compute it.

    The denominator is the hull length, which equals the union whenever the intervals overlap.
    An inverted interval (end < start) or a non-finite value scores 0; two identical points score 1.

    Example:
        >>> temporal_iou((0.0, 4.0), (2.0, 6.0))
        0.3333333333333333
        >>> temporal_iou((1.0, 2.0), (3.0, 4.0))
        0.0
    """
    s1, e1 = float(a[0]), float(a[1])
    s2, e2 = float(b[0]), float(b[1])
    if not all(math.isfinite(v) for v in (s1, e1, s2, e2)) or e1 < s1 or e2 < s2:
        return 0.0
    hull = max(e1, e2) - min(s1, s2)
    if hull <= 0.0:
        return 1.0 if (s1, e1) == (s2, e2) else 0.0
    inter = max(0.0, min(e1, e2) - max(s1, s2))
    return min(1.0, inter / hull)


def box_area(box: BoxLike) -> float:
    """Area of an xyxy box; inverted or non-finite boxes have area 0."""
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return 0.0
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def box_iou(a: BoxLike, b: BoxLike) -> float:
    """IoU of two xyxy boxes in the same space.

    Inverted or non-finite boxes have no area; two identical zero-area boxes score 1.

    Example:
        >>> box_iou([0, 0, 2, 2], [1, 1, 3, 3])
        0.14285714285714285
    """
    if len(a) != 4 or len(b) != 4:
        return 0.0
    area_a, area_b = box_area(a), box_area(b)
    ix = max(0.0, min(float(a[2]), float(b[2])) - max(float(a[0]), float(b[0])))
    iy = max(0.0, min(float(a[3]), float(b[3])) - max(float(a[1]), float(b[1])))
    inter = ix * iy if math.isfinite(ix * iy) else 0.0
    union = area_a + area_b - inter
    if union <= 0.0:
        same = all(math.isfinite(float(u)) and float(u) == float(v) for u, v in zip(a, b))
        return 1.0 if same else 0.0
    return min(1.0, max(0.0, inter / union))


def box_problem(box: BoxLike, *, normalized: bool = True, width: float = 1.0, height: float = 1.0) -> str | None:
    """Why a box is unusable, or None when it is fine.

    Reason codes (stable; curation and the reports use them): `not_4_numbers`, `non_finite`, `inverted`,
    `zero_area`, `out_of_frame`.
    """
    if len(box) != 4 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in box):
        return "not_4_numbers"
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return "non_finite"
    if x2 < x1 or y2 < y1:
        return "inverted"
    if x2 == x1 or y2 == y1:
        return "zero_area"
    w, h = (1.0, 1.0) if normalized else (float(width), float(height))
    eps = 1e-6 * max(w, h)
    if x1 < -eps or y1 < -eps or x2 > w + eps or y2 > h + eps:
        return "out_of_frame"
    return None


def area_fraction(box: BoxLike, width: float = 1.0, height: float = 1.0) -> float:
    """Fraction of the frame a box covers (normalized boxes: width = height = 1)."""
    return box_area(box) / (float(width) * float(height))


def to_pixels(box: BoxLike, width: float, height: float) -> list[float]:
    """Normalized xyxy -> pixel xyxy in a frame of `width` x `height`."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1 * width, y1 * height, x2 * width, y2 * height]


def to_normalized(box: BoxLike, width: float, height: float) -> list[float]:
    """Pixel xyxy in a `width` x `height` frame -> normalized xyxy."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1 / width, y1 / height, x2 / width, y2 / height]


def rescale_box(box: BoxLike, src_size: Sequence[float], dst_size: Sequence[float]) -> list[float]:
    """Pixel box in a frame of `src_size` (W, H) -> the same box in a frame of `dst_size` (W, H).

    Used to move boxes from model-input pixels to original-video pixels before scoring (upstream skips it).
    """
    sx = float(dst_size[0]) / float(src_size[0])
    sy = float(dst_size[1]) / float(src_size[1])
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1 * sx, y1 * sy, x2 * sx, y2 * sy]


def round_box(box: BoxLike) -> list[int]:
    """Integer pixel box as the SFT targets write it (`[374,67,420,224]`)."""
    return [int(round(float(v))) for v in box]


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = 4 * 28 * 28, max_pixels: int = 128 * 28 * 28
) -> tuple[int, int]:
    """Model-input frame size (height, width) the Qwen-VL image processors resize to.

    Both sides become multiples of `factor` with the aspect ratio kept and the area within
    [min_pixels, max_pixels] (Qwen2-VL's documented rule; o3v re-implements it so boxes can be
    converted without loading a processor).
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    # Round first and apply the pixel budget after, as the transformers processors do (a side under half a
    # patch step rounds to 0 and is then scaled up by the min_pixels rule).
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar

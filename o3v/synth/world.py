"""The synthetic scene: coloured shapes that enter, move in a straight line and leave at known frames.

Everything here is exact ground truth by construction. A video is a `VideoSpec`; rendering it gives
RGB frames, and `ObjectTrack.box(j)` gives each object's box at frame `j`.

Conventions:
- frame `j` is shown at time `j / fps`; an object visible on frames `first..last` is on screen during
  `[first / fps, (last + 1) / fps)`, its *visible span* (the temporal ground truth);
- a box is the object's extent `[x0, y0, x0 + w, y0 + h]` in pixels (continuous coordinates: pixel
  column `x` covers `[x, x + 1)`), clipped to the frame; normalized boxes divide by width/height. An
  object partly occluded by another keeps its full box; the centre of every object stays in frame,
  so a visible object's clipped box always has positive area;
- names are `"<colour> <shape>"`; within a video colours and shapes are both unique, so "the square"
  and "the red object" each name one object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 45, 45),
    "green": (40, 175, 70),
    "blue": (45, 105, 235),
    "yellow": (240, 205, 35),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
# Colours never drawn: names built from them cannot be in any video (the `wrong_category` fault uses them).
ABSENT_COLOURS: tuple[str, ...] = ("purple", "orange", "pink", "cyan")
ABSENT_SHAPES: tuple[str, ...] = ("hexagon", "cross", "diamond", "heart")
BACKGROUNDS: tuple[str, ...] = ("plain", "stripes", "checker", "noise")
# "grey": one fixed mid grey for every video. A random background colour per video (the "plain" style) stopped a
# tiny ViT from learning where an object is (probe: box IoU 0.08 vs 0.50 on grey, same steps), so the learnable
# preset uses it.
GREY = (128, 128, 128)
# Warm-up stills of preset `learnable-mixed`: half squares, the other half circles, triangles and stars.
HALF_SQUARES: tuple[str, ...] = ("square",) * 3 + tuple(s for s in SHAPES if s != "square")


@dataclass(frozen=True)
class WorldConfig:
    """Sizes and ranges of the synthetic world. The defaults are the `learnable` preset (see `PRESETS`)."""

    fps: int = 2
    width: int = 128
    height: int = 96
    min_seconds: int = 4
    max_seconds: int = 4
    min_objects: int = 1
    max_objects: int = 2
    min_span: float = 0.10  # visible span as a fraction of the clip ("whole video" must score low)
    max_span: float = 0.50
    min_span_seconds: float = 1.0  # so every object is visible at a whole second (V-STaR boxes)
    min_size: int = 22  # object box side in pixels
    max_size: int = 34
    min_move: float = 0.0  # distance between start and end centre, as a fraction of the short side
    max_move: float = 0.15
    backgrounds: tuple[str, ...] = ("grey",)
    trace: str = "short"  # reasoning style of the STGR records: "short" (o3v.synth.short) or "long" (tasks)
    warmup_stills_per_video: int = 19  # one-object stills (o3v.synth.stills) per training video: curriculum start
    # Shapes the warm-up stills draw from, uniformly over the entries (repeat a shape to weight it). With all four
    # (presets `learnable-shapes`, `learnable-mixed`) the stills' targets name the shape the question names, and
    # the tiny model learns to copy it (docs/learning.md).
    warmup_shapes: tuple[str, ...] = ("square",)
    qp: int = 18  # x264 constant quantizer: colours stay close to the palette after yuv420p compression


# `learnable`: what a tiny model can learn on a laptop CPU in minutes (tiny-learning.md): 4 s clips at 2 fps (every
# frame is one the model sees), one or two salient objects on a fixed grey background, small motion, short grounded
# traces and several questions per object. `learnable-shapes`: the same world whose warm-up stills draw all four
# shapes, not only squares (the model learns to write the object names; its V-STaR boxes come out weaker:
# docs/learning.md). `learnable-mixed`: half the stills squares, half the other three shapes (names learnt, boxes
# kept). `classic`: the harder first world (textured backgrounds, 2-4 objects moving across the frame,
# 6-12 s at 8 fps, long reasoning traces), kept for stress tests and larger models.
PRESETS: dict[str, WorldConfig] = {
    "learnable": WorldConfig(),
    "learnable-shapes": WorldConfig(warmup_shapes=SHAPES),
    "learnable-mixed": WorldConfig(warmup_shapes=HALF_SQUARES),
    "classic": WorldConfig(
        fps=8,
        width=160,
        height=120,
        min_seconds=6,
        max_seconds=12,
        min_objects=2,
        max_objects=4,
        min_size=18,
        max_size=34,
        min_move=0.3,
        max_move=2.0,
        backgrounds=BACKGROUNDS,
        trace="long",
        warmup_stills_per_video=0,
    ),
}


def preset(name: str) -> WorldConfig:
    """The world config called `name` (a key of `PRESETS`); unknown names are an error listing the choices."""
    if name not in PRESETS:
        raise ValueError(f"unknown world preset {name!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[name]


@dataclass(frozen=True)
class ObjectTrack:
    """One object: its look, its visible frames and its straight-line path (top-left corner, pixels)."""

    name: str
    colour: str
    shape: str
    size: tuple[int, int]  # (w, h) pixels
    first: int  # first visible frame
    last: int  # last visible frame (inclusive)
    start: tuple[float, float]  # top-left (x, y) at `first`
    end: tuple[float, float]  # top-left (x, y) at `last`

    def visible(self, frame: int) -> bool:
        return self.first <= frame <= self.last

    def pixel_box(self, frame: int) -> tuple[int, int, int, int] | None:
        """Unclipped integer pixel box `[x0, y0, x1, y1]` at a frame, or None when not on screen."""
        if not self.visible(frame):
            return None
        f = 0.0 if self.last == self.first else (frame - self.first) / (self.last - self.first)
        x0 = int(math.floor(self.start[0] + f * (self.end[0] - self.start[0]) + 0.5))
        y0 = int(math.floor(self.start[1] + f * (self.end[1] - self.start[1]) + 0.5))
        return x0, y0, x0 + self.size[0], y0 + self.size[1]

    def span(self, fps: float) -> tuple[float, float]:
        """Visible span in seconds, `[first / fps, (last + 1) / fps)`."""
        return self.first / fps, (self.last + 1) / fps


@dataclass(frozen=True)
class VideoSpec:
    """A whole synthetic video: size, length, background and objects."""

    id: str
    fps: int
    width: int
    height: int
    num_frames: int
    background: str
    background_seed: int
    objects: tuple[ObjectTrack, ...]

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def obj(self, name: str) -> ObjectTrack:
        for o in self.objects:
            if o.name == name:
                return o
        raise KeyError(f"video {self.id} has no object {name!r}")

    def clipped_box(self, name: str, frame: int) -> tuple[int, int, int, int] | None:
        """Pixel box clipped to the frame, or None when the object is not visible."""
        box = self.obj(name).pixel_box(frame)
        if box is None:
            return None
        x0, y0, x1, y1 = box
        return max(0, x0), max(0, y0), min(self.width, x1), min(self.height, y1)

    def box(self, name: str, frame: int) -> list[float] | None:
        """Normalized clipped box `[x1, y1, x2, y2]` in [0, 1], or None when not visible."""
        box = self.clipped_box(name, frame)
        if box is None:
            return None
        return [box[0] / self.width, box[1] / self.height, box[2] / self.width, box[3] / self.height]

    def visible_at(self, frame: int) -> list[str]:
        return [o.name for o in self.objects if o.visible(frame)]


# ----------------------------------------------------------------------------- scene sampling


def _span_frames(rng: np.random.Generator, cfg: WorldConfig, n: int) -> tuple[int, int]:
    lo = max(math.ceil(cfg.min_span * n), math.ceil(cfg.min_span_seconds * cfg.fps))
    hi = max(lo, math.floor(cfg.max_span * n))
    length = int(rng.integers(lo, hi + 1))
    first = int(rng.integers(0, n - length + 1))
    return first, first + length - 1


def _path(rng: np.random.Generator, cfg: WorldConfig, w: int, h: int) -> tuple[tuple[float, float], ...]:
    """Start/end top-left corners: centres inside the frame (5% margin), `min_move..max_move` of the short side apart.

    `max_move` is a cap, not a target: when the two centres cannot be that far apart the draw simply repeats.
    """
    short = min(cfg.width, cfg.height)
    lo, hi = cfg.min_move * short, cfg.max_move * short
    box_lo, box_hi = [0.05 * cfg.width, 0.05 * cfg.height], [0.95 * cfg.width, 0.95 * cfg.height]
    while True:
        c0 = rng.uniform(box_lo, box_hi)
        c1 = rng.uniform(box_lo, box_hi) if hi >= short else c0 + rng.uniform(-hi, hi, size=2)
        if not (box_lo[0] <= c1[0] <= box_hi[0] and box_lo[1] <= c1[1] <= box_hi[1]):
            continue
        if lo <= np.hypot(*(c1 - c0)) <= hi:
            break
    return tuple((float(x - w / 2), float(y - h / 2)) for x, y in (c0, c1))  # type: ignore[return-value]


def make_spec(video_id: str, rng: np.random.Generator, cfg: WorldConfig) -> VideoSpec:
    """Sample one video: duration, background, 2-4 objects with unique colours and shapes, spans and paths."""
    n = int(rng.integers(cfg.min_seconds * cfg.fps, cfg.max_seconds * cfg.fps + 1))
    k = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    colours = rng.permutation(list(COLOURS))[:k]
    shapes = rng.permutation(list(SHAPES))[:k]
    objects = []
    for colour, shape in zip(colours, shapes):
        w, h = (int(v) for v in rng.integers(cfg.min_size, cfg.max_size + 1, size=2))
        first, last = _span_frames(rng, cfg, n)
        start, end = _path(rng, cfg, w, h)
        objects.append(ObjectTrack(f"{colour} {shape}", str(colour), str(shape), (w, h), first, last, start, end))
    return VideoSpec(
        id=video_id,
        fps=cfg.fps,
        width=cfg.width,
        height=cfg.height,
        num_frames=n,
        background=str(rng.choice(list(cfg.backgrounds))),
        background_seed=int(rng.integers(0, 2**31 - 1)),
        objects=tuple(objects),
    )


# ----------------------------------------------------------------------------- rendering


def _background(spec: VideoSpec) -> np.ndarray:
    """A static, low-contrast grey-blue background so every palette colour stands out."""
    h, w = spec.height, spec.width
    if spec.background == "grey":
        return np.broadcast_to(np.asarray(GREY, np.uint8), (h, w, 3)).copy()
    rng = np.random.default_rng(spec.background_seed)
    base = rng.integers(55, 110, size=3).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    if spec.background == "plain":
        pattern = np.zeros((h, w), np.float32)
    elif spec.background == "stripes":
        period = int(rng.integers(8, 20))
        pattern = (((xx + yy) // period) % 2).astype(np.float32) * 18 - 9
    elif spec.background == "checker":
        cell = int(rng.integers(10, 24))
        pattern = (((xx // cell) + (yy // cell)) % 2).astype(np.float32) * 16 - 8
    else:  # smooth noise: a coarse random grid upsampled by repetition
        coarse = rng.normal(0, 8, size=(h // 8 + 1, w // 8 + 1)).astype(np.float32)
        pattern = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)[:h, :w]
    return np.clip(base[None, None, :] + pattern[:, :, None], 0, 255).astype(np.uint8)


def _unit_polygon(shape: str) -> list[tuple[float, float]]:
    """Vertices in the unit square, touching all four sides (so the drawn extent equals the box)."""
    if shape == "triangle":
        return [(0.5, 0.0), (1.0, 1.0), (0.0, 1.0)]
    if shape == "star":
        pts = []
        for i in range(10):
            r = 1.0 if i % 2 == 0 else 0.45
            a = -math.pi / 2 + i * math.pi / 5
            pts.append((r * math.cos(a), r * math.sin(a)))
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return [((x - min(xs)) / (max(xs) - min(xs)), (y - min(ys)) / (max(ys) - min(ys))) for x, y in pts]
    raise ValueError(f"no polygon for shape {shape!r}")


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, colour: str, box: tuple[int, int, int, int]) -> None:
    """Draw one `colour` `shape` (names from `COLOURS`, `SHAPES`) filling the pixel box [x1, y1, x2, y2)."""
    x0, y0, x1, y1 = box
    # PIL includes both end pixels, so the last covered pixel is x1 - 1: drawn extent == [x0, x1).
    rect = [x0, y0, x1 - 1, y1 - 1]
    fill = COLOURS[colour]
    if shape == "square":
        draw.rectangle(rect, fill=fill)
    elif shape == "circle":
        draw.ellipse(rect, fill=fill)
    else:
        w, h = x1 - 1 - x0, y1 - 1 - y0
        draw.polygon([(x0 + u * w, y0 + v * h) for u, v in _unit_polygon(shape)], fill=fill)


def render_frame(spec: VideoSpec, frame: int, background: np.ndarray | None = None) -> np.ndarray:
    """RGB frame `frame` of a video, (H, W, 3) uint8; objects are drawn in spec order (later on top)."""
    img = Image.fromarray(_background(spec) if background is None else background)
    draw = ImageDraw.Draw(img)
    for obj in spec.objects:
        box = obj.pixel_box(frame)
        if box is not None:
            draw_shape(draw, obj.shape, obj.colour, box)
    return np.asarray(img)


def render(spec: VideoSpec) -> np.ndarray:
    """All frames of a video, (T, H, W, 3) uint8."""
    bg = _background(spec)
    return np.stack([render_frame(spec, j, bg) for j in range(spec.num_frames)])


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) uint8 -> planar yuv420p (H * 3 / 2, W) uint8, BT.601 limited range, 2x2 chroma means.

    Done here rather than by FFmpeg's swscale so that the encoder input is defined by this code alone
    (part of the determinism recipe in `write_mp4`).
    """
    h, w, _ = rgb.shape
    if h % 4 or w % 2:  # PyAV packs each chroma plane into whole rows of width w
        raise ValueError(f"frames must have a height divisible by 4 and an even width, got {w}x{h}")
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    packed = np.concatenate([y.ravel(), sub(cb).ravel(), sub(cr).ravel()]).reshape(-1, w)
    return np.clip(np.floor(packed + 0.5), 0, 255).astype(np.uint8)


def write_mp4(frames: np.ndarray, path: str | Path, fps: int, qp: int = 18) -> None:
    """H.264 (yuv420p) MP4 with PyAV; the same frames give byte-identical files.

    Determinism needs three settings (measured, 75 of 75 encodes identical, vs ~1 in 10 differing with
    CRF): one encoder thread, constant QP instead of CRF (x264's CRF rate control, mbtree in particular,
    gave a different first IDR slice in some processes), and RGB -> YUV done by `rgb_to_yuv420p`.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"qp": str(qp), "preset": "medium", "threads": "1"}
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(rgb), format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def spec_to_json(spec: VideoSpec, video_path: str) -> dict:
    """The `world.json` entry of a video: its properties and every object's per-frame normalized box."""
    return {
        "id": spec.id,
        "video": video_path,
        "fps": spec.fps,
        "num_frames": spec.num_frames,
        "width": spec.width,
        "height": spec.height,
        "duration": spec.duration,
        "background": spec.background,
        "objects": [
            {
                "name": o.name,
                "colour": o.colour,
                "shape": o.shape,
                "rgb": list(COLOURS[o.colour]),
                "first_frame": o.first,
                "last_frame": o.last,
                "span": list(o.span(spec.fps)),
                "boxes": [spec.box(o.name, j) for j in range(spec.num_frames)],
            }
            for o in spec.objects
        ],
    }

"""What a synthetic world knows about one `o3v infer` answer: the object the question names, and IoUs.

`o3v synth` writes `world.json` (docs/architecture.md): per video its `id`, `video` (path relative to the world
folder), `fps`, `num_frames`, `duration`, `split` and `objects` (each with `name`, visible `span` in seconds and
one normalized `boxes` entry per frame, None where not visible); `images` lists the visual-QA stills (`image`,
`video`, `time`, `objects` with `name` and normalized `box`). Only those documented keys are read here.

Scoring an answer (all boxes in the same space: original-video pixels, as `o3v infer` returns them):

- the question's object is found by name (`named_object`): a full `"<colour> <shape>"` name, else a colour or a
  shape that picks exactly one object; a name the world does not have, or several names, give None;
- `tiou`: `o3v.geometry.temporal_iou` of the answer span and that object's visible span;
- per evidence box: `o3v.geometry.box_iou` against the true box, at the frame shown at the claim's time
  (index `round(t * fps)`, `o3v.video.times_to_indices`), of the object the claim names (else the question's);
  a box claimed while the object is off screen, or at a time outside the video, scores 0;
- `answer_box_iou` (visual-QA answers on a still): the first answer box against the object's box on the still.
  An answer box on a video has no time, so it is not scored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from o3v.geometry import box_iou, temporal_iou, to_pixels

WORLD_FILE = "world.json"
# Words the synthetic world names objects with; colours/shapes it never draws still mark a question as
# naming something else ("the purple square" is not the red square).
_VOCAB_COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "pink", "cyan")
_VOCAB_SHAPES = ("circle", "square", "triangle", "star", "hexagon", "cross", "diamond", "heart")


class TruthError(ValueError):
    """A world.json that cannot be read, or a medium that an explicitly given world does not hold."""


@dataclass(frozen=True)
class Scene:
    """One video or still of a world: per object, its normalized box per frame (a still has one frame)."""

    id: str
    kind: str  # "video" or "image"
    world: str
    split: str | None
    fps: float | None
    duration: float | None
    spans: dict[str, tuple[float, float]]
    boxes: dict[str, list[list[float] | None]]

    @property
    def names(self) -> list[str]:
        return list(self.boxes)

    def frame_at(self, time: float | None) -> int | None:
        """Index of the frame shown at `time` (0 for a still); None for a time outside the video."""
        if self.kind == "image" or time is None or self.fps is None:
            return 0
        if not 0.0 <= float(time) <= (self.duration or 0.0):
            return None
        from o3v.video import times_to_indices

        n = len(next(iter(self.boxes.values()), [None]))
        return int(times_to_indices([float(time)], self.fps, max(1, n))[0])

    def box_at(self, name: str, time: float | None) -> list[float] | None:
        """Normalized box of `name` at `time`, None when it is not on screen (or the time is outside the video)."""
        per_frame = self.boxes.get(name) or [None]
        frame = self.frame_at(time)
        return None if frame is None else per_frame[min(frame, len(per_frame) - 1)]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", str(text).lower())


def named_object(text: str, names: Sequence[str]) -> str | None:
    """The one object of `names` (`"<colour> <shape>"`) that `text` refers to, else None.

    Example:
        >>> names = ["red square", "blue star", "green circle"]
        >>> named_object("When is the red square visible?", names), named_object("Where is the star?", names)
        ('red square', 'blue star')
        >>> named_object("the green object", names), named_object("the red star", names)
        ('green circle', None)
        >>> print(named_object("After the blue star appears, what does the red square do?", names))
        None
    """
    words = _words(text)
    joined = " " + " ".join(words) + " "
    full = [n for n in names if f" {' '.join(_words(n))} " in joined]
    if full:
        return full[0] if len(full) == 1 else None
    parts = {n: (_words(n)[0], _words(n)[-1]) for n in names if _words(n)}
    colours = {w for w in words if w in _VOCAB_COLOURS or w in {c for c, _ in parts.values()}}
    shapes = {w for w in words if w in _VOCAB_SHAPES or w in {s for _, s in parts.values()}}
    if len(colours) > 1 or len(shapes) > 1 or not (colours or shapes):
        return None
    hits = [n for n, (c, s) in parts.items() if (not colours or c in colours) and (not shapes or s in shapes)]
    return hits[0] if len(hits) == 1 else None


# ----------------------------------------------------------------------------- reading world.json


def find_world(media: str | Path, levels: int = 3) -> Path | None:
    """The `world.json` in the medium's folder or up to `levels` folders above it, else None."""
    folder = Path(media).resolve().parent
    for _ in range(levels + 1):
        if (folder / WORLD_FILE).is_file():
            return folder / WORLD_FILE
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def load_world(path: str | Path) -> dict:
    """Read a world.json; TruthError names the file when it is unreadable or lacks `videos`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TruthError(f"{path}: cannot read the world: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("videos"), list):
        raise TruthError(f"{path}: not an o3v world (no 'videos' list)")
    return data


def _need(entry: Any, key: str, where: str) -> Any:
    if not isinstance(entry, dict) or key not in entry:
        raise TruthError(f"{where}: missing field {key!r}")
    return entry[key]


def _video_scene(entry: dict, where: str, world: str) -> Scene:
    boxes, spans = {}, {}
    for k, obj in enumerate(_need(entry, "objects", where)):
        name = str(_need(obj, "name", f"{where}.objects[{k}]"))
        boxes[name] = list(_need(obj, "boxes", f"{where}.objects[{k}]"))
        s, e = _need(obj, "span", f"{where}.objects[{k}]")
        spans[name] = (float(s), float(e))
    return Scene(
        id=str(_need(entry, "id", where)),
        kind="video",
        world=world,
        split=entry.get("split"),
        fps=float(_need(entry, "fps", where)),
        duration=float(_need(entry, "duration", where)),
        spans=spans,
        boxes=boxes,
    )


def _image_scene(entry: dict, where: str, world: str, split: str | None) -> Scene:
    boxes = {
        str(_need(o, "name", f"{where}.objects[{k}]")): [_need(o, "box", f"{where}.objects[{k}]")]
        for k, o in enumerate(_need(entry, "objects", where))
    }
    return Scene(str(_need(entry, "image", where)), "image", world, split, None, None, {}, boxes)


def scene_of(world: dict, world_path: str | Path, media: str | Path) -> Scene | None:
    """The scene of `media` in a loaded world, matched by its path under the world folder.

    Not by file name alone: every world names its videos `videos/vid_000.mp4`, ..., so a name match could score
    a video against another world's truth.
    """
    root, target = Path(world_path).resolve().parent, Path(media).resolve()
    items = [("video", i, v, "video") for i, v in enumerate(world["videos"])]
    items += [("image", i, v, "image") for i, v in enumerate(world.get("images") or [])]

    def path_of(kind: str, i: int, entry: Any) -> Path:
        return root / str(_need(entry, kind, f"{world_path}: {kind}s[{i}]"))

    found = [it for it in items if path_of(it[0], it[1], it[2]).resolve() == target]
    if len(found) != 1:
        return None
    kind, i, entry, _ = found[0]
    where = f"{world_path}: {'videos' if kind == 'video' else 'images'}[{i}]"
    if kind == "video":
        return _video_scene(entry, where, str(world_path))
    source = [v.get("split") for v in world["videos"] if isinstance(v, dict) and v.get("video") == entry.get("video")]
    return _image_scene(entry, where, str(world_path), source[0] if source else None)


def scene_for(media: str | Path, world: str | Path | None = None) -> Scene | None:
    """The world's scene of `media`: from `world` (TruthError when it does not hold `media`), else a found one."""
    path = Path(world) if world else find_world(media)
    if path is None:
        return None
    scene = scene_of(load_world(path), path, media)
    if scene is None and world:
        raise TruthError(f"{path}: holds no video or image {Path(media).name!r}")
    return scene


# ----------------------------------------------------------------------------- scoring


def _px(box: Sequence[float] | None, size: Sequence[float]) -> list[float] | None:
    return None if box is None else [round(v, 1) for v in to_pixels(box, size[0], size[1])]


def score(
    scene: Scene,
    question: str,
    span: Sequence[float] | None,
    evidence: Sequence[dict],
    answer_boxes: Sequence[Sequence[float]],
    size: Sequence[float],
) -> dict:
    """IoUs of an answer against the scene; `evidence` items are `{"object", "time", "box"}` in `size` pixels.

    Example:
        >>> s = Scene("v", "video", "w.json", "eval", 1.0, 4.0, {"red square": (1.0, 3.0)},
        ...           {"red square": [None, [0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0], None]})
        >>> t = score(s, "When is the red square visible?", [1.0, 2.0],
        ...           [{"object": "square", "time": 1.0, "box": [0, 0, 50, 50]}], [], (100, 100))
        >>> t["object"], t["tiou"], t["evidence"][0]["iou"], t["mean_evidence_iou"]
        ('red square', 0.5, 1.0, 1.0)
    """
    obj = named_object(question, scene.names)
    out: dict[str, Any] = {
        "world": scene.world,
        "id": scene.id,
        "kind": scene.kind,
        "split": scene.split,
        "object": obj,
        "objects": scene.names,
        "span": list(scene.spans[obj]) if obj and obj in scene.spans else None,
        "duration": scene.duration,
    }
    if obj is None:
        out["note"] = f"the question names no single object of {scene.id} (objects: {', '.join(scene.names)})"
    out["tiou"] = temporal_iou(span, out["span"]) if span and out["span"] else None
    rows = []
    for ev in evidence:
        name = named_object(str(ev.get("object", "")), scene.names) or obj
        true = scene.box_at(name, ev.get("time")) if name else None
        exact = to_pixels(true, size[0], size[1]) if true else None
        rows.append(
            {
                **ev,
                "truth_object": name,
                "frame": scene.frame_at(ev.get("time")),
                "true_box": _px(true, size),
                "iou": None if name is None else (box_iou(ev["box"], exact) if exact else 0.0),
            }
        )
    out["evidence"] = rows
    ious = [r["iou"] for r in rows if r["iou"] is not None]
    out["mean_evidence_iou"] = sum(ious) / len(ious) if ious else None
    true_answer = scene.box_at(obj, None) if obj and scene.kind == "image" else None
    out["answer_box"] = _px(true_answer, size)
    exact_answer = to_pixels(true_answer, size[0], size[1]) if true_answer else None
    out["answer_box_iou"] = box_iou(answer_boxes[0], exact_answer) if exact_answer and answer_boxes else None
    return out

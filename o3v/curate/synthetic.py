"""Curation against a synth world (`o3v synth`): the synthetic teacher and the oracle category verifier.

- `SyntheticTeacher`: for each manifest video, the world's STGR-SFT records of that video (ground truth,
  with the injected faults), exactly as a teacher would return them. Records of still images cut from a
  video (visual QA) come with that video.
- `OracleVerifier`: an annotated (time, object, box) is confirmed when `world.json` has an object of
  that name in that video whose ground-truth box at that time overlaps the annotated box by at least
  `filter.verifier_iou`. Times map to the nearest frame(s) (`floor`/`ceil` of t * fps, so rounding in
  a written time cannot pick the wrong frame).
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from o3v.curate.dataset import MEDIA_META, set_field
from o3v.curate.teacher import TeacherReply, VideoJob
from o3v.curate.verify import Verdict, VerifyItem
from o3v.geometry import box_iou
from o3v.records import Record, RecordError, scan_records

log = logging.getLogger(__name__)


def world_videos(world_path: Path) -> list[dict[str, Any]]:
    """The per-video entries of a world.json (a list, or an object with a "videos" list)."""
    data = json.loads(Path(world_path).read_text(encoding="utf-8"))
    videos = data.get("videos") if isinstance(data, dict) else data
    if not isinstance(videos, list):
        raise ValueError(f"{world_path}: expected a list of videos or {{'videos': [...]}}")
    return videos


class SyntheticTeacher:
    """The world's own STGR-SFT records, grouped by the manifest video they belong to."""

    name = "synthetic"
    concurrency = 1

    def __init__(self, root: Path):
        self.root = Path(root)
        self.by_video: dict[str, list[tuple[Any, Record | RecordError]]] = defaultdict(list)
        image_video = self._image_sources()
        for _, rec, raw in scan_records(self.root / "stgr" / "STGR-SFT.json"):
            if isinstance(rec, RecordError):
                vid = raw.get("video_path") if isinstance(raw, dict) else None
                self.by_video[vid or ""].append((raw, rec))
            else:
                self.by_video[rec.video_path or image_video.get(rec.image_path or "", "")].append((raw, rec))

    def _image_sources(self) -> dict[str, str]:
        """Still image path -> the video it was cut from (from world.json, when the world records it)."""
        out = {}
        world = self.root / "world.json"
        data = json.loads(world.read_text(encoding="utf-8")) if world.is_file() else {}
        for img in data.get("images", []) if isinstance(data, dict) else []:
            if isinstance(img, dict) and img.get("image") and img.get("video"):
                out[img["image"]] = img["video"]
        return out

    def unclaimed(self, manifest_videos: set[str]) -> list[tuple[Any, Record | RecordError]]:
        """Records that belong to no manifest video (reported as rejects, never dropped)."""
        return [item for vid, items in self.by_video.items() if vid not in manifest_videos for item in items]

    def __call__(self, job: VideoJob) -> TeacherReply:
        items = self.by_video.get(job.rel_path, [])
        for _, rec in items:
            if isinstance(rec, Record) and rec.is_video:
                set_field(rec, MEDIA_META, job.meta)
        return TeacherReply(items=list(items))


class OracleVerifier:
    """Category verification from the world's ground truth (see the module docstring)."""

    name = "oracle"

    def __init__(self, world_path: Path, min_iou: float):
        self.min_iou = min_iou
        self.videos = {v["video"]: v for v in world_videos(world_path)}
        self.images = self._images(world_path)

    @staticmethod
    def _images(world_path: Path) -> dict[str, dict[str, Any]]:
        data = json.loads(Path(world_path).read_text(encoding="utf-8"))
        images = data.get("images", []) if isinstance(data, dict) else []
        return {img["image"]: img for img in images if isinstance(img, dict) and "image" in img}

    def _gt_boxes(self, item: VerifyItem) -> list[list[float]] | None:
        """Ground-truth boxes of the item's object name at its time; None when the media is not in the world."""
        if item.time is None:
            img = self.images.get(item.media)
            if img is None:
                return None
            return [o["box"] for o in img.get("objects", []) if o.get("name") == item.object and o.get("box")]
        video = self.videos.get(item.media)
        if video is None:
            return None
        fps, n = float(video["fps"]), int(video["num_frames"])
        frames = {min(n - 1, max(0, f)) for f in (math.floor(item.time * fps), math.ceil(item.time * fps))}
        return [o["boxes"][f] for o in video["objects"] if o["name"] == item.object for f in frames if o["boxes"][f]]

    def _why(self, item: VerifyItem, gt: list, best: float) -> str:
        if best >= self.min_iou:
            return "matches the ground truth"
        if gt:
            return f"the {item.object} is elsewhere (IoU {best:.2f} < {self.min_iou})"
        if item.time is None:
            names = {o.get("name") for o in self.images[item.media].get("objects", [])}
        else:
            names = {o["name"] for o in self.videos[item.media]["objects"]}
        return f"not visible at {item.time} s" if item.object in names else f"no {item.object} in {item.media}"

    def verify(self, items: list[VerifyItem]) -> list[Verdict]:
        out = []
        for item in items:
            gt = self._gt_boxes(item)
            if gt is None:
                out.append(Verdict("unclear", None, f"{item.media} is not in the synth world"))
                continue
            best = max((box_iou(item.box, b) for b in gt), default=0.0)
            detail = {"best_iou": round(best, 4), "why": self._why(item, gt, best)}
            out.append(Verdict("yes" if best >= self.min_iou else "no", None, detail))
        return out

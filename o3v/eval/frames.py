"""Decoded frames shared across queries and benchmarks: a cache keyed by (video, sampling parameters).

V-STaR asks five questions per video and the synthetic V-STaR, TVGBench and VideoMME files point at the same
clips, so decoding once per (file, sampling) and reusing the frames removes most of the decode time of an
evaluation (measured in `bench/eval.py`). The cache is in memory (LRU, bounded in bytes) with an optional
on-disk layer (`.npz` per key) so that separate processes, e.g. one KFP step per benchmark, can share it too.

Media paths are resolved under a media root: the path as the benchmark names it, then `videos/` and `data/`
sub-folders, then the file name anywhere below the root (V-STaR's own loader walks the folder for `{vid}.mp4`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class MediaNotFound(FileNotFoundError):
    """A benchmark item whose video/image is not under the media root (the message names both)."""


@dataclass(frozen=True)
class Sampling:
    """How frames are sampled from a video: at `sample_fps`, between `min_frames` and `max_frames` frames."""

    sample_fps: float = 1.0
    min_frames: int = 4
    max_frames: int = 16


@dataclass
class Frames:
    """Decoded frames (T, H, W, 3) uint8 with their true times; `duration` None for a still image."""

    array: np.ndarray
    times: list[float] | None
    width: int
    height: int
    duration: float | None

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    disk_hits: int = 0
    decode_seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "disk_hits": self.disk_hits,
            "decode_seconds": round(self.decode_seconds, 4),
        }


def decode_video(path: str | Path, sampling: Sampling) -> Frames:
    """Sample a video with `o3v.video.sample_frames` (exact-time sampling; `VideoError` names the file)."""
    from o3v.video import sample_frames

    s = sample_frames(
        path, sample_fps=sampling.sample_fps, min_frames=sampling.min_frames, max_frames=sampling.max_frames
    )
    return Frames(
        np.asarray(s.frames),
        [float(t) for t in s.times],
        int(s.info.width),
        int(s.info.height),
        float(s.info.duration),
    )


def decode_image(path: str | Path) -> Frames:
    """A still image as a single RGB frame (an unreadable file raises naming it)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"{path}: cannot read image: {exc}") from exc
    return Frames(arr[None], None, arr.shape[1], arr.shape[0], None)


class FrameCache:
    """LRU of decoded frames keyed by (resolved path, file size, mtime, sampling); optional `.npz` disk layer."""

    def __init__(self, max_bytes: int = 2 << 30, disk_dir: str | Path | None = None):
        self.max_bytes = int(max_bytes)
        self.disk_dir = Path(disk_dir) if disk_dir else None
        self._items: OrderedDict[str, Frames] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.stats = CacheStats()

    @staticmethod
    def key(path: str | Path, sampling: Sampling | None) -> str:
        p = Path(path).resolve()
        st = p.stat()
        what = "image" if sampling is None else f"{sampling.sample_fps}:{sampling.min_frames}:{sampling.max_frames}"
        return f"{p}|{st.st_size}|{st.st_mtime_ns}|{what}"

    def get(self, path: str | Path, sampling: Sampling | None) -> Frames:
        """Frames of a video (`sampling` set) or an image (`sampling` None), decoded at most once."""
        key = self.key(path, sampling)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.stats.hits += 1
                return self._items[key]
        frames = self._from_disk(key)
        if frames is None:
            start = time.perf_counter()
            frames = decode_image(path) if sampling is None else decode_video(path, sampling)
            self.stats.decode_seconds += time.perf_counter() - start
            self.stats.misses += 1
            self._to_disk(key, frames)
        else:
            self.stats.disk_hits += 1
        with self._lock:
            self._items[key] = frames
            self._bytes += frames.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes
        return frames

    def _disk_path(self, key: str) -> Path | None:
        if not self.disk_dir:
            return None
        return self.disk_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npz"

    def _from_disk(self, key: str) -> Frames | None:
        path = self._disk_path(key)
        if path is None or not path.is_file():
            return None
        with np.load(path) as z:
            still = bool(z["still"])
            return Frames(
                z["array"],
                None if still else z["times"].tolist(),
                int(z["width"]),
                int(z["height"]),
                None if still else float(z["duration"]),
            )

    def _to_disk(self, key: str, frames: Frames) -> None:
        path = self._disk_path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(
            tmp,
            array=frames.array,
            times=np.asarray(frames.times or [], dtype=float),
            still=frames.times is None,
            width=frames.width,
            height=frames.height,
            duration=frames.duration or 0.0,
        )
        os.replace(tmp, path)


class MediaResolver:
    """Find a benchmark's media under a root: as named, under videos/ or data/, then by file name anywhere."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._index: dict[str, Path] | None = None

    def resolve(self, name: str) -> Path:
        rel = Path(name)
        if rel.is_absolute() and rel.is_file():
            return rel
        for base in (self.root, self.root / "videos", self.root / "data"):
            cand = base / rel
            if cand.is_file():
                return cand
        found = self._by_name().get(rel.name)
        if found is None:
            raise MediaNotFound(
                f"{name}: not found under media root {self.root} (as named, in videos/ or data/, "
                f"or by file name anywhere below it)"
            )
        return found

    def _by_name(self) -> dict[str, Path]:
        if self._index is None:
            self._index = {}
            for dirpath, _, files in os.walk(self.root):
                for f in files:
                    self._index.setdefault(f, Path(dirpath) / f)
        return self._index


def to_pil(frames: Frames) -> list[Any]:
    """The frames as a list of PIL images (what the processor receives, in order)."""
    from PIL import Image

    return [Image.fromarray(f) for f in frames.array]

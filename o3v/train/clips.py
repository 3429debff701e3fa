"""Decoded frame samples kept in memory between reads of the same clip.

Training reads every clip many times (the default SFT run reads each of its 510 training clips about 53 times,
once per record on it and epoch), and decoding is most of the cost of building a row: 5 of 8 ms per row on the
tiny model's 4 s clips, beside a 0.25-0.3 s step of 8 rows. `ClipCache` keeps the decoded `SampledFrames` of the
clips read most recently, up to a byte budget per training process (`clip_cache_mb`; 0 decodes on every read).
The cached frames are read-only, so a row builder cannot change what the next read of the clip gets.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from o3v.video import SampledFrames, sample_frames

Key = tuple[str, float, int, int]


class ClipCache:
    """`sample_frames` results by (path, fps, min_frames, max_frames), least recently read evicted first.

    Example:
        >>> cache = ClipCache(max_bytes=0)
        >>> cache.stats()
        {'reads': 0, 'decodes': 0, 'clips': 0, 'bytes': 0, 'max_bytes': 0}
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"clip cache: max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self._clips: OrderedDict[Key, SampledFrames] = OrderedDict()
        self._bytes = 0
        self.reads = 0
        self.decodes = 0

    def sample(self, path: str | Path, fps: float, min_frames: int, max_frames: int) -> SampledFrames:
        """The clip's frame sample, decoded now or on an earlier read."""
        self.reads += 1
        key = (str(path), float(fps), int(min_frames), int(max_frames))
        hit = self._clips.get(key)
        if hit is not None:
            self._clips.move_to_end(key)
            return hit
        sampled = sample_frames(path, sample_fps=fps, min_frames=min_frames, max_frames=max_frames)
        self.decodes += 1
        size = sampled.frames.nbytes
        if size <= self.max_bytes:
            sampled.frames.flags.writeable = False
            self._clips[key] = sampled
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, old = self._clips.popitem(last=False)
                self._bytes -= old.frames.nbytes
        return sampled

    def stats(self) -> dict[str, int]:
        """Reads, decodes, clips held, bytes held and the budget."""
        return {
            "reads": self.reads,
            "decodes": self.decodes,
            "clips": len(self._clips),
            "bytes": self._bytes,
            "max_bytes": self.max_bytes,
        }

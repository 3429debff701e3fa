"""The decoded-clip cache: same frames as decoding, read-only, bounded by bytes, off at 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from o3v.train.clips import ClipCache
from o3v.video import sample_frames


def clips(world: Path, n: int) -> list[Path]:
    return sorted((world / "videos").glob("*.mp4"))[:n]


def test_a_cached_read_returns_the_decoded_frames_once_and_read_only(learnable_world: Path) -> None:
    path = clips(learnable_world, 1)[0]
    cache = ClipCache(max_bytes=2**20)
    first = cache.sample(path, 2.0, 4, 8)
    second = cache.sample(path, 2.0, 4, 8)
    direct = sample_frames(path, sample_fps=2.0, min_frames=4, max_frames=8)
    assert second is first and np.array_equal(first.frames, direct.frames) and first.times == direct.times
    assert cache.stats()["reads"] == 2 and cache.stats()["decodes"] == 1
    with pytest.raises(ValueError, match="read-only"):
        first.frames[0, 0, 0, 0] = 0
    other = cache.sample(path, 2.0, 4, 6)  # other sampling settings: another entry
    assert len(other.frames) == 6 and cache.stats()["decodes"] == 2


def test_the_budget_evicts_the_least_recently_read_clip(learnable_world: Path) -> None:
    a, b, c = clips(learnable_world, 3)
    size = sample_frames(a, sample_fps=2.0, min_frames=4, max_frames=8).frames.nbytes
    cache = ClipCache(max_bytes=2 * size)
    cache.sample(a, 2.0, 4, 8)
    cache.sample(b, 2.0, 4, 8)
    cache.sample(a, 2.0, 4, 8)  # a is now the most recent
    cache.sample(c, 2.0, 4, 8)  # evicts b
    assert cache.stats() == {"reads": 4, "decodes": 3, "clips": 2, "bytes": 2 * size, "max_bytes": 2 * size}
    cache.sample(a, 2.0, 4, 8)
    cache.sample(b, 2.0, 4, 8)
    assert cache.stats()["decodes"] == 4


def test_budget_zero_decodes_every_read_and_a_negative_one_is_refused(learnable_world: Path) -> None:
    path = clips(learnable_world, 1)[0]
    cache = ClipCache(max_bytes=0)
    one, two = cache.sample(path, 2.0, 4, 8), cache.sample(path, 2.0, 4, 8)
    assert one is not two and one.frames.flags.writeable and cache.stats()["decodes"] == 2
    with pytest.raises(ValueError, match="max_bytes must be >= 0"):
        ClipCache(max_bytes=-1)

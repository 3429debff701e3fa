"""Frame cache and media resolution: decoded once per (file, sampling), shared on disk, clear errors."""

import numpy as np
import pytest

from o3v.eval.frames import FrameCache, MediaNotFound, MediaResolver, Sampling


def test_cache_decodes_once_per_video_and_sampling(synth_world):
    clip = synth_world / "videos" / "vid_000.mp4"
    cache = FrameCache()
    a = cache.get(clip, Sampling(2.0, 4, 8))
    b = cache.get(clip, Sampling(2.0, 4, 8))
    c = cache.get(clip, Sampling(0.5, 4, 16))
    assert a is b and cache.stats.hits == 1 and cache.stats.misses == 2
    assert a.array.shape[0] == len(a.times) and a.array.shape[0] != c.array.shape[0]
    assert (a.width, a.height) == (160, 120) and a.duration > 0


def test_disk_layer_is_shared_between_caches(synth_world, tmp_path):
    clip = synth_world / "videos" / "vid_001.mp4"
    first = FrameCache(disk_dir=tmp_path).get(clip, Sampling())
    other = FrameCache(disk_dir=tmp_path)
    second = other.get(clip, Sampling())
    assert other.stats.disk_hits == 1 and other.stats.misses == 0
    assert np.array_equal(first.array, second.array) and first.times == second.times
    image = synth_world / "images" / "vid_000-vqa.png"
    assert FrameCache(disk_dir=tmp_path).get(image, None).times is None
    assert FrameCache(disk_dir=tmp_path).get(image, None).array.shape[0] == 1


def test_lru_stays_within_its_byte_budget(synth_world):
    cache = FrameCache(max_bytes=1)
    for name in ("vid_000.mp4", "vid_001.mp4"):
        cache.get(synth_world / "videos" / name, Sampling())
    assert len(cache._items) == 1


def test_resolver_finds_media_by_layout_and_name(synth_world):
    r = MediaResolver(synth_world)
    assert r.resolve("videos/vid_000.mp4").name == "vid_000.mp4"
    assert r.resolve("vid_000.mp4") == synth_world / "videos" / "vid_000.mp4"
    assert r.resolve("some/other/dir/vid_002.mp4").name == "vid_002.mp4"  # by file name anywhere below
    with pytest.raises(MediaNotFound, match=r"nope\.mp4: not found under media root"):
        r.resolve("nope.mp4")


def test_broken_video_error_names_the_file(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(ValueError, match="bad.mp4"):
        FrameCache().get(bad, Sampling())

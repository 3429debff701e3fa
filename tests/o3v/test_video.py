"""o3v.video: exact-time sampling (literal tables + properties), decoding the right frames, hostile files."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o3v.video import (
    VideoError,
    coarse_to_fine,
    frame_count,
    frames_at,
    probe,
    sample_frames,
    sample_indices,
    sample_times,
)

FPS = 8
N_FRAMES = 40  # 5 s


def _level(j: int) -> int:
    """Grey level that encodes frame index j (flat frames survive H.264 almost exactly)."""
    return 20 + 5 * j


@pytest.fixture(scope="module")
def indexed_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5 s, 8 fps, 64x48 clip whose frame j is a flat grey of level 20 + 5j."""
    from o3v.synth.world import write_mp4

    frames = np.stack([np.full((48, 64, 3), _level(j), np.uint8) for j in range(N_FRAMES)])
    path = tmp_path_factory.mktemp("video") / "indexed.mp4"
    write_mp4(frames, path, FPS)
    return path


def _decoded_index(frame: np.ndarray) -> int:
    return int(round((float(frame.mean()) - 20) / 5))


# ----------------------------------------------------------------------------- pure sampling


@pytest.mark.parametrize(
    ("num_frames", "fps", "expected"),
    [
        (32, 8.0, [0, 4, 8, 12, 16, 20, 24, 28]),  # 4 s: the 2 fps grid, t = k / 2
        (40, 8.0, [0, 4, 8, 12, 16, 20, 24, 28, 32, 36]),  # 5 s: 10 frames
        (10, 4.0, [0, 2, 4, 6]),  # 2.5 s: grid of 5 floored to even 4, still t = k / 2
        (8, 8.0, [0, 2, 4, 6]),  # 1 s: min_frames 4 > grid 2, so spread: t = k * 1 / 4
        (3, 8.0, [0, 2]),  # only 3 frames: n = 2 (even)
        (1, 8.0, [0, 0]),  # one frame, repeated to make the temporal patch of 2
        (10, 1.0, list(range(10))),  # fps below the sampling rate: every frame, spread
        (73, 8.0, [0, 5, 9, 14, 18, 23, 27, 32, 37, 41, 46, 50, 55, 59, 64, 68]),  # 9.125 s > 16 / 2 fps: spread
        (1800, 30.0, [0, 113, 225, 338, 450, 563, 675, 788, 900, 1013, 1125, 1238, 1350, 1463, 1575, 1688]),
    ],
)
def test_sample_indices_table(num_frames: int, fps: float, expected: list[int]) -> None:
    assert sample_indices(num_frames, fps) == expected


def test_spacing_is_what_the_model_is_told_unlike_linspace() -> None:
    """4 s at 8 fps, 8 frames: o3v frames are 0.5 s apart; upstream linspace puts them 0.554 s apart."""
    ours = np.asarray(sample_indices(32, 8.0)) / 8.0
    upstream = np.round(np.linspace(0, 31, 8)) / 8.0
    assert np.allclose(np.diff(ours), 0.5)
    assert not np.allclose(np.diff(upstream), 0.5)
    assert upstream[-1] == pytest.approx(3.875)  # the frame a linspace sampler labels "3.5 s"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_frames": 0, "fps": 8.0}, "num_frames"),
        ({"num_frames": 10, "fps": 0.0}, "fps"),
        ({"num_frames": 10, "fps": float("nan")}, "fps"),
        ({"num_frames": 10, "fps": 8.0, "sample_fps": -1.0}, "sample_fps"),
        ({"num_frames": 10, "fps": 8.0, "min_frames": 8, "max_frames": 4}, "min_frames"),
    ],
)
def test_sample_indices_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sample_indices(**kwargs)


@settings(max_examples=300, deadline=None)
@given(
    num_frames=st.integers(1, 20_000),
    fps=st.floats(1.0, 120.0),
    sample_fps=st.floats(0.1, 8.0),
    min_frames=st.integers(1, 8),
    extra=st.integers(0, 64),
)
def test_sample_indices_properties(
    num_frames: int, fps: float, sample_fps: float, min_frames: int, extra: int
) -> None:
    max_frames = min_frames + extra
    idx = sample_indices(num_frames, fps, sample_fps, min_frames, max_frames)
    assert len(idx) % 2 == 0 and len(idx) >= 2
    assert len(idx) <= max(2, max_frames)
    assert all(0 <= i < num_frames for i in idx)
    assert idx == sorted(idx)
    duration = num_frames / fps
    n = frame_count(duration, sample_fps, min_frames, max_frames, num_frames)
    if n > 1:
        # every frame is within half a frame (or the clamp at the end) of its nominal time
        nominal = sample_times(duration, sample_fps, n)
        for i, t in zip(idx, nominal):
            assert abs(i / fps - t) <= 0.5 / fps + 1e-9 or i == num_frames - 1
        # nominal spacing is uniform and is either 1 / sample_fps or duration / n
        gaps = np.diff(nominal)
        assert np.allclose(gaps, gaps[0]) if len(gaps) else True
        if len(gaps):
            assert math.isclose(gaps[0], 1 / sample_fps, rel_tol=1e-9) or math.isclose(
                gaps[0], duration / n, rel_tol=1e-9
            )


# ----------------------------------------------------------------------------- decoding


def test_probe_reports_native_properties(indexed_clip: Path) -> None:
    info = probe(indexed_clip)
    assert (info.fps, info.num_frames, info.width, info.height) == (8.0, N_FRAMES, 64, 48)
    assert info.duration == pytest.approx(5.0)
    assert info.path == str(indexed_clip)


def test_sample_frames_decodes_the_frames_it_reports(indexed_clip: Path) -> None:
    s = sample_frames(indexed_clip)
    assert s.indices == [0, 4, 8, 12, 16, 20, 24, 28, 32, 36]
    assert s.times == [i / 8 for i in s.indices]
    assert s.frames.shape == (10, 48, 64, 3) and s.frames.dtype == np.uint8
    assert [_decoded_index(f) for f in s.frames] == s.indices
    assert s.metadata() == {"total_num_frames": 40, "fps": 8.0, "frames_indices": s.indices, "duration": 5.0}


def test_sample_frames_decoder_side_resize_keeps_native_info(indexed_clip: Path) -> None:
    s = sample_frames(indexed_clip, resize=(32, 24))
    assert s.frames.shape[1:] == (24, 32, 3)
    assert (s.info.width, s.info.height) == (64, 48)
    assert [_decoded_index(f) for f in s.frames] == s.indices
    with pytest.raises(VideoError, match="resize"):
        sample_frames(indexed_clip, resize=(0, 24))


def test_frames_at_exact_times_in_the_order_asked(indexed_clip: Path) -> None:
    got = frames_at(indexed_clip, [4.0, 0.5, 2.25, 0.5, 5.0])
    assert got.indices == [32, 4, 18, 4, 39]  # 5.0 s (the end) maps to the last frame
    assert got.times == [4.0, 0.5, 2.25, 0.5, 39 / 8]
    assert [_decoded_index(f) for f in got.frames] == got.indices


@pytest.mark.parametrize("bad", [[-0.5], [5.5], [float("nan")], []])
def test_frames_at_rejects_times_outside_the_video(indexed_clip: Path, bad: list[float]) -> None:
    with pytest.raises(VideoError) as err:
        frames_at(indexed_clip, bad)
    assert str(err.value).startswith(str(indexed_clip))


def test_coarse_to_fine(indexed_clip: Path) -> None:
    c = coarse_to_fine(indexed_clip, (1.0, 2.5), coarse_fps=1.0, fine_fps=4.0)
    assert c.coarse.times == [0.0, 1.0, 2.0, 3.0]  # 5 s at 1 fps: 5 frames, even -> 4
    assert c.fine.times == [1.0, 1.25, 1.5, 1.75, 2.0, 2.25]  # 1.5 s at 4 fps
    assert all(1.0 <= t <= 2.5 for t in c.fine.times)
    assert [_decoded_index(f) for f in c.fine.frames] == c.fine.indices
    merged = c.merged()
    assert merged.indices == sorted(set(c.coarse.indices) | set(c.fine.indices))
    assert [_decoded_index(f) for f in merged.frames] == merged.indices
    assert coarse_to_fine(indexed_clip).fine is None
    with pytest.raises(VideoError, match="window"):
        coarse_to_fine(indexed_clip, (3.0, 2.0))
    with pytest.raises(VideoError, match="outside"):
        coarse_to_fine(indexed_clip, (6.0, 9.0))


# ----------------------------------------------------------------------------- hostile files


def _truncated_faststart(dst: Path) -> None:
    """An MP4 with its index first (faststart) and its last 100 bytes cut: it opens, then fails to decode."""
    import av

    with av.open(str(dst), "w", options={"movflags": "+faststart"}) as c:
        s = c.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"threads": "1"}
        rng = np.random.default_rng(0)
        for _ in range(N_FRAMES):
            rgb = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)  # noise: every frame carries data
            for p in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    dst.write_bytes(dst.read_bytes()[:-100])


def _audio_only(path: Path) -> None:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for i in range(8):
            frame.pts = i * 1024
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, indexed_clip: Path) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile")
    data = indexed_clip.read_bytes()
    files = {
        "missing": d / "missing.mp4",
        "empty": d / "empty.mp4",
        "truncated_tail": d / "truncated_tail.mp4",
        "truncated_faststart": d / "truncated_faststart.mp4",
        "text": d / "notes.mp4",
        "audio_only": d / "audio_only.mp4",
        "directory": d / "folder.mp4",
    }
    files["empty"].write_bytes(b"")
    files["truncated_tail"].write_bytes(data[: len(data) * 6 // 10])  # the MP4 index (moov) is at the end: lost
    _truncated_faststart(files["truncated_faststart"])
    files["text"].write_text("this is a text file, not a video\n")
    _audio_only(files["audio_only"])
    files["directory"].mkdir()
    return files


HOSTILE = {
    "missing": "not found",
    "empty": "empty (0 bytes)",
    "truncated_tail": "truncated or corrupt",
    "truncated_faststart": "truncated or corrupt",
    "text": "not a video file",
    "audio_only": "zero video frames",
    "directory": "not a regular file",
}
READERS = {"probe": probe, "sample_frames": sample_frames, "frames_at": lambda p: frames_at(p, [0.0, 4.875])}
# A 2 fps sample never reads the cut tail of `truncated_faststart` (its frames are fine); `probe` is the check for it.
CASES = [(k, r) for k in HOSTILE for r in READERS if (k, r) != ("truncated_faststart", "sample_frames")]


@pytest.mark.parametrize(("kind", "reader"), CASES)
def test_hostile_files_fail_fast_naming_the_file(hostile: dict[str, Path], kind: str, reader: str) -> None:
    read, reason = READERS[reader], HOSTILE[kind]
    path = hostile[kind]
    started = time.perf_counter()
    with pytest.raises(VideoError) as err:
        read(path)
    assert time.perf_counter() - started < 5.0
    assert str(err.value).startswith(f"{path}: ")
    assert reason in str(err.value)
    assert err.value.path == str(path)
    assert isinstance(err.value, ValueError)

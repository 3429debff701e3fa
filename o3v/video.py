"""Video decoding for o3v: exact-time frame sampling with decord, probing, and errors that name the file.

Every frame o3v shows a model comes from here, together with the **true time** of that frame
(`index / fps`), so the `Frame i at T s:` lines of the prompt (`o3v.prompts`) and the time encoding of
the model agree with what the frames show.

Sampling (`sample_indices`): n = clamp(floor(duration * sample_fps), min_frames, min(max_frames, num_frames)),
floored to an even count (Qwen's temporal patch is 2 frames). When the `k / sample_fps` grid fits in that
budget the frames are taken at exactly those times; otherwise n times are spread uniformly over the clip,
`t_k = k * duration / n`. Either way index = min(round(t * fps), num_frames - 1) and the reported time is
`index / fps` (constant frame rate assumed, as everywhere in upstream).

How this differs from upstream (open-o3-video.md §6.1, ml-stack.md §4.3): upstream samples
`linspace(0, total - 1, n)`, which always includes the last frame and so stretches the spacing to
`(total - 1) / (n - 1)` frames, while Qwen2.5-VL's processor derives the spacing it encodes as
`total / n` frames. For 8 frames of a 4 s clip the frames are 0.554 s apart but the model is told
0.5 s, so the frame labelled 3.5 s shows 3.875 s. Here the spacing is exactly `1 / sample_fps`
(grid case) or `duration / n` (spread case), up to rounding to the nearest frame, and the times we
report are the decoded frames' own times.

Failure handling: `probe` is the curation pre-flight check. It refuses a missing or empty file, a file
that is not a video, a container that claims more frames than it holds (decord spins forever on those,
dmlc/decord#373) and a file whose first or last frame does not decode (truncation). Every failure is a
`VideoError` whose message starts with the file path.

`DECORD_EOF_RETRY_MAX` (read once, when decord's library loads) caps how many empty frames decord
accepts near the end of a file before it gives up. What a valid video needs varies from run to run
with decoder-thread timing, not with the file alone. Measured on this machine (2 shared cores, 2 fps
sampling, x264 GOP 250): 0 for 160x96 clips; up to ~1,170 for 60 s clips at 320x180 and 640x360;
values of 64 or 256 made valid clips fail at random. Truncated files fail within milliseconds at any
value (they fail while indexing or decoding, not in this loop). o3v therefore sets 4096 unless the
variable is already set: below decord's 10240 and upstream's 20480/40960, with ~4x headroom over the
worst valid case measured. Raise it for videos whose keyframes are thousands of frames apart. The
hang that no retry budget bounds (a container that claims more frames than it holds, dmlc/decord#373)
is caught before decoding.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EOF_RETRY_MAX = "4096"
if "decord" in sys.modules and "DECORD_EOF_RETRY_MAX" not in os.environ:
    log.warning("decord was imported before o3v.video; DECORD_EOF_RETRY_MAX=%s will not apply", EOF_RETRY_MAX)
os.environ.setdefault("DECORD_EOF_RETRY_MAX", EOF_RETRY_MAX)

# A few container signatures, only to make error messages say *what* a file is.
_MAGIC = (
    (4, b"ftyp", "an MP4/MOV container"),
    (0, b"\x1a\x45\xdf\xa3", "a Matroska/WebM container"),
    (0, b"RIFF", "a RIFF (AVI) container"),
    (0, b"\x00\x00\x01\xba", "an MPEG program stream"),
)


class VideoError(ValueError):
    """A video that cannot be used; the message always starts with the file path."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """Native properties of a video file (width/height of the original frames, not a resized decode)."""

    path: str
    fps: float
    num_frames: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        """Seconds: `num_frames / fps` (each frame lasts 1/fps)."""
        return self.num_frames / self.fps


@dataclass(frozen=True)
class SampledFrames:
    """Decoded frames and the true time of each: `times[i] == indices[i] / info.fps`."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    times: list[float]
    indices: list[int]
    info: VideoInfo

    def metadata(self) -> dict[str, Any]:
        """The `video_metadata` a transformers video processor needs to encode time (ml-stack.md §4.2).

        Only for the video-token input path (o3v's prompts send frames as images with their times in
        text). Qwen2.5-VL derives the frame spacing as `duration / len(indices)`: exact for the spread
        case; for the `k / sample_fps` grid on a clip whose `duration * sample_fps` is not a whole
        number it is longer than the true spacing by less than `1 / len(indices)` (e.g. 7.3 s: 0.521 s
        encoded for 0.5 s). Qwen3-VL takes times from `frames_indices / fps` and is exact.
        """
        return {
            "total_num_frames": self.info.num_frames,
            "fps": self.info.fps,
            "frames_indices": list(self.indices),
            "duration": self.info.duration,
        }


@dataclass(frozen=True)
class CoarseToFine:
    """A coarse overview of a whole video plus a dense pass inside a window (None when no window was given)."""

    coarse: SampledFrames
    fine: SampledFrames | None
    window: tuple[float, float] | None

    def merged(self) -> SampledFrames:
        """Both passes as one time-ordered sequence, each decoded frame once."""
        if self.fine is None:
            return self.coarse
        idx = np.concatenate([np.asarray(self.coarse.indices), np.asarray(self.fine.indices)])
        frames = np.concatenate([self.coarse.frames, self.fine.frames])
        uniq, first = np.unique(idx, return_index=True)  # sorted by index == sorted by time
        info = self.coarse.info
        return SampledFrames(frames[first], _times(uniq, info.fps), uniq.tolist(), info)


# ----------------------------------------------------------------------------- pure sampling


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def frame_count(duration: float, sample_fps: float, min_frames: int, max_frames: int, available: int) -> int:
    """How many frames to sample: clamp(floor(duration*sample_fps), min, min(max, available)), floored to even.

    Returns 1 only when a single frame is available (callers pad it to 2).
    """
    if min_frames < 1 or max_frames < min_frames:
        raise ValueError(f"need 1 <= min_frames <= max_frames, got min_frames={min_frames}, max_frames={max_frames}")
    if available < 1:
        raise ValueError(f"need at least one frame to sample from, got {available}")
    grid = math.floor(duration * sample_fps + 1e-9)  # epsilon: 4.0 s * 2 fps must give 8, not 7
    n = min(max(grid, min_frames), max_frames, available)
    n -= n % 2
    return max(n, 1)


def sample_times(duration: float, sample_fps: float, n: int) -> np.ndarray:
    """Times (seconds from the start of the span) for `n` frames over `duration`.

    The exact `k / sample_fps` grid when it covers the span with n frames (n is floor(duration*sample_fps)
    or one less, after flooring to even); otherwise n times spread uniformly, `k * duration / n`, so the
    spacing is the `duration / n` that a processor derives from the frame count.
    """
    grid = math.floor(duration * sample_fps + 1e-9)
    if grid - 1 <= n <= grid:
        return np.arange(n, dtype=np.float64) / sample_fps
    return np.arange(n, dtype=np.float64) * (duration / n)


def times_to_indices(times: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    """index = min(round(t * fps), num_frames - 1), rounding halves up (stable across numpy/Python)."""
    idx = np.floor(np.asarray(times, dtype=np.float64) * fps + 0.5).astype(np.int64)
    return np.clip(idx, 0, num_frames - 1)


def sample_indices(
    num_frames: int, fps: float, sample_fps: float = 2.0, min_frames: int = 4, max_frames: int = 16
) -> list[int]:
    """Frame indices for exact-time sampling of a whole clip (see the module docstring for the rule).

    Example:
        >>> sample_indices(32, 8.0)  # 4 s at 8 fps, 2 fps sampling: t = 0, 0.5, ..., 3.5
        [0, 4, 8, 12, 16, 20, 24, 28]
        >>> sample_indices(1, 8.0)  # a single frame is repeated to make an even count
        [0, 0]
    """
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"num_frames must be a positive integer, got {num_frames!r}")
    _check_positive("fps", fps)
    _check_positive("sample_fps", sample_fps)
    duration = num_frames / fps
    n = frame_count(duration, sample_fps, min_frames, max_frames, num_frames)
    idx = times_to_indices(sample_times(duration, sample_fps, n), fps, num_frames).tolist()
    return idx * 2 if len(idx) == 1 else idx


def window_indices(
    info: VideoInfo, window: tuple[float, float], sample_fps: float, min_frames: int, max_frames: int
) -> list[int]:
    """Exact-time sampling restricted to `[start, end]` seconds of a video (the dense pass of `coarse_to_fine`)."""
    start, end = (float(v) for v in window)
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        raise VideoError(info.path, f"window must be [start, end] with start < end, got {list(window)}")
    start, end = max(0.0, start), min(info.duration, end)
    if end <= start:
        raise VideoError(info.path, f"window {list(window)} lies outside the video (0 to {info.duration:g} s)")
    first = int(math.ceil(start * info.fps - 1e-9))
    last = min(info.num_frames - 1, int(math.floor(end * info.fps + 1e-9)))
    available = max(1, last - first + 1)
    n = frame_count(end - start, sample_fps, min_frames, max_frames, available)
    idx = times_to_indices(start + sample_times(end - start, sample_fps, n), info.fps, info.num_frames)
    return np.clip(idx, min(first, info.num_frames - 1), max(last, 0)).tolist()


def _times(indices: np.ndarray | list[int], fps: float) -> list[float]:
    return (np.asarray(indices, dtype=np.float64) / fps).tolist()


# ----------------------------------------------------------------------------- decoding


def _decord():
    """Import decord lazily: the environment above must be set before its library loads."""
    import decord

    return decord


def _describe(path: Path) -> str:
    """What a file that failed to open looks like, for the error message."""
    with path.open("rb") as f:
        head = f.read(16)
    for offset, magic, what in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return f"looks like {what} but cannot be opened: truncated or corrupt"
    return f"not a video file (unrecognised content starting {head[:8]!r})"


def _check_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise VideoError(p, "video file not found")
    if not p.is_file():
        raise VideoError(p, "not a regular file")
    if p.stat().st_size == 0:
        raise VideoError(p, "video file is empty (0 bytes)")
    return p


def _open(path: Path, resize: tuple[int, int] | None = None, num_threads: int = 0):
    """Open a decord VideoReader, turning decord's errors into `VideoError`s naming the file."""
    decord = _decord()
    width, height = (-1, -1) if resize is None else _check_resize(path, resize)
    try:
        vr = decord.VideoReader(str(path), ctx=decord.cpu(0), width=width, height=height, num_threads=num_threads)
    except AssertionError as exc:  # decord asserts frame count > 0 after opening
        raise VideoError(path, f"video has zero frames ({exc})") from None
    except (RuntimeError, decord.DECORDError) as exc:
        text = str(exc)
        if "cannot find video stream" in text:
            raise VideoError(path, _no_video_stream(path)) from None
        raise VideoError(path, f"{_describe(path)} (decord: {_first_line(text)})") from None
    fps = vr.get_avg_fps()
    if not (math.isfinite(fps) and fps > 0):
        raise VideoError(path, f"video reports an unusable frame rate {fps!r}")
    return vr


def _no_video_stream(path: Path) -> str:
    """Why a container has no video stream: an audio-only file, or a truncated index with no usable track."""
    import av

    try:
        with av.open(str(path)) as container:
            kinds = sorted({s.type for s in container.streams})
    except av.FFmpegError as exc:
        return f"{_describe(path)} (ffmpeg: {exc})"
    if {"audio", "subtitle"} & set(kinds):
        return f"has no video stream (zero video frames; streams: {', '.join(kinds)})"
    return f"has no usable video track (streams: {', '.join(kinds) or 'none'}): truncated or corrupt"


def _check_resize(path: Path, resize: tuple[int, int]) -> tuple[int, int]:
    w, h = resize
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h)):
        raise VideoError(path, f"resize must be (width, height) positive integers, got {resize!r}")
    return w, h


_DECORD_PREFIX = re.compile(r"\[\d\d:\d\d:\d\d\] \S+?:\d+: ")


def _first_line(text: str) -> str:
    """decord's message without its timestamp/source-location prefixes, first line, bounded."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = _DECORD_PREFIX.sub("", lines[0] if lines else text)
    return line if len(line) <= 200 else line[:197] + "..."


def _check_frame_count(path: Path, vr) -> None:
    """Refuse containers that claim more frames than they hold packets for (decord would spin on them)."""
    n = len(vr)
    try:
        vr.get_frame_timestamp(n - 1)
    except IndexError:
        raise VideoError(path, f"container claims {n} frames but holds fewer: truncated or corrupt index") from None


def _decode(path: Path, vr, indices: list[int]) -> np.ndarray:
    decord = _decord()
    try:
        return vr.get_batch(indices).asnumpy()
    except (RuntimeError, decord.DECORDError) as exc:
        reason = _first_line(str(exc))
        raise VideoError(path, f"cannot decode frames {_span(indices)}: truncated or corrupt ({reason})") from None


def _span(indices: list[int]) -> str:
    return f"{indices[0]}..{indices[-1]}" if len(indices) > 3 else str(list(indices))


def _native_size(path: Path, vr, resized: bool, frames: np.ndarray) -> tuple[int, int]:
    """Original (width, height): from the decoded frames, or from the stream header when decord resized them."""
    if not resized:
        return int(frames.shape[2]), int(frames.shape[1])
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return int(stream.codec_context.width), int(stream.codec_context.height)
    except (av.FFmpegError, IndexError) as exc:
        raise VideoError(path, f"cannot read the native frame size: {exc}") from None


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open a video and decode its last and first frame; the curation pre-flight check.

    The last frame is decoded first: truncation shows there, and decord needs no end-of-file retries
    in that order (measured), so a bad file fails fast.
    """
    p = _check_file(path)
    vr = _open(p)
    _check_frame_count(p, vr)
    n = len(vr)
    frames = _decode(p, vr, [n - 1, 0])
    info = VideoInfo(str(path), float(vr.get_avg_fps()), n, int(frames.shape[2]), int(frames.shape[1]))
    log.debug("probed %s: %d frames at %.3f fps, %dx%d", path, n, info.fps, info.width, info.height)
    return info


def sample_frames(
    path: str | os.PathLike,
    sample_fps: float = 2.0,
    min_frames: int = 4,
    max_frames: int = 16,
    resize: tuple[int, int] | None = None,
    num_threads: int = 0,
) -> SampledFrames:
    """Decode an exact-time sample of a whole video in one `get_batch` call.

    `resize=(W, H)` makes decord scale while decoding (faster than resizing afterwards); `info` still
    reports the native size, which is the frame of reference for original-video-pixel boxes.
    """
    p = _check_file(path)
    vr = _open(p, resize, num_threads)
    _check_frame_count(p, vr)
    fps = float(vr.get_avg_fps())
    indices = sample_indices(len(vr), fps, sample_fps, min_frames, max_frames)
    frames = _decode(p, vr, indices)
    width, height = _native_size(p, vr, resize is not None, frames)
    info = VideoInfo(str(path), fps, len(vr), width, height)
    return SampledFrames(frames, _times(indices, fps), indices, info)


def frames_at(
    path: str | os.PathLike, times: list[float], resize: tuple[int, int] | None = None, num_threads: int = 0
) -> SampledFrames:
    """Decode the frames shown at given times (key frames), in the order given.

    A time maps to index round(t * fps), so `times` in the result are the decoded frames' exact times.
    Times outside [0, duration] are an error, not clamped: a key frame past the end is a bad annotation.
    """
    p = _check_file(path)
    vr = _open(p, resize, num_threads)
    _check_frame_count(p, vr)
    fps, n = float(vr.get_avg_fps()), len(vr)
    t = np.asarray([float(x) for x in times], dtype=np.float64)
    if t.size == 0:
        raise VideoError(p, "no times given")
    bad = t[~np.isfinite(t) | (t < 0) | (t > n / fps + 1e-9)]
    if bad.size:
        raise VideoError(p, f"times {bad.tolist()} are outside the video (0 to {n / fps:g} s)")
    indices = times_to_indices(t, fps, n)
    order = np.argsort(indices, kind="stable")
    if np.all(order == np.arange(len(order))):
        frames = _decode(p, vr, indices.tolist())
    else:  # decode in file order (no backward seeks), then put the frames back in the order asked for
        frames = _decode(p, vr, indices[order].tolist())[np.argsort(order, kind="stable")]
    width, height = _native_size(p, vr, resize is not None, frames)
    info = VideoInfo(str(path), fps, n, width, height)
    return SampledFrames(frames, _times(indices, fps), indices.tolist(), info)


def coarse_to_fine(
    path: str | os.PathLike,
    question_window: tuple[float, float] | None = None,
    coarse_fps: float = 0.5,
    coarse_max_frames: int = 16,
    fine_fps: float = 2.0,
    fine_max_frames: int = 16,
    resize: tuple[int, int] | None = None,
    num_threads: int = 0,
) -> CoarseToFine:
    """Two-pass sampling for long videos: a coarse pass over the whole video, a dense pass inside a window.

    Intended use: a 16-frame budget at 2 fps covers 8 s, so on a long video (VideoMME "long", a
    3-minute TVGBench clip) the model would see frames tens of seconds apart. Inference then goes in
    two calls: first the model answers "when" from the coarse frames (or the window comes from the
    question itself, e.g. V-STaR's chain-1 "where" prompt gives the ground-truth interval); then this
    function is called again with that span as `question_window`, and the dense frames (true times,
    labelled by `o3v.prompts`) go into the second call. Both passes are decoded in one `get_batch`.
    """
    p = _check_file(path)
    vr = _open(p, resize, num_threads)
    _check_frame_count(p, vr)
    fps, n = float(vr.get_avg_fps()), len(vr)
    coarse_idx = sample_indices(n, fps, coarse_fps, min(4, coarse_max_frames), coarse_max_frames)
    fine_idx: list[int] = []
    provisional = VideoInfo(str(path), fps, n, 0, 0)
    if question_window is not None:
        fine_idx = window_indices(provisional, question_window, fine_fps, min(4, fine_max_frames), fine_max_frames)
    uniq = sorted(set(coarse_idx) | set(fine_idx))
    frames = _decode(p, vr, uniq)
    width, height = _native_size(p, vr, resize is not None, frames)
    info = VideoInfo(str(path), fps, n, width, height)
    pos = {i: k for k, i in enumerate(uniq)}

    def take(indices: list[int]) -> SampledFrames:
        return SampledFrames(frames[[pos[i] for i in indices]], _times(indices, fps), indices, info)

    fine = take(fine_idx) if question_window is not None else None
    window = None if question_window is None else (float(question_window[0]), float(question_window[1]))
    return CoarseToFine(take(coarse_idx), fine, window)

"""Frame sampling speed: o3v.video against raw decord on the same frame indices, and against decoding every frame.

    .venv/bin/python bench/video.py [--seconds 60] [--repeats 7] [--threads 1] [--keep DIR]

Writes a 640x360, 30 fps H.264 clip with PyAV (libx264 defaults: GOP 250, B-frames), then times, best of
`--repeats`, with every variant run once per round so all of them see the same machine load:

- o3v `sample_frames` (open, exact-time indices, one `get_batch`, `asnumpy`) vs raw decord
  (`VideoReader(path)`, `get_batch(same indices).asnumpy()`), for the default 16-frame sample, 2 fps over
  the whole clip, and 2 fps with decord's decoder-side resize to 320x180;
- decoding every frame (`VideoReader.next()` over the clip) as the cost a full decode would have.

Both wall time and this process's CPU time are reported (decoder threads included; `--threads 1` by default
so the two agree on an idle machine): on a shared machine other processes stretch wall time more than
the effect measured. Target: o3v at >= 0.9x the speed of raw decord (o3v adds only index arithmetic and
a frame-count check).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from o3v.video import sample_frames, sample_indices  # noqa: E402  (sets DECORD_EOF_RETRY_MAX before decord loads)

WIDTH, HEIGHT, FPS = 640, 360, 30


def write_clip(path: Path, seconds: int) -> None:
    """Moving coloured rectangles over a drifting gradient: enough motion for realistic P/B frames."""
    import av

    n = seconds * FPS
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for j in range(n):
            frame = np.empty((HEIGHT, WIDTH, 3), np.uint8)
            frame[..., 0] = (xx + 2 * j) % 256
            frame[..., 1] = (yy + j) % 256
            frame[..., 2] = 96
            for k, colour in enumerate(((230, 40, 40), (40, 200, 60), (40, 90, 230))):
                x = int((j * (3 + k) + 150 * k) % (WIDTH - 80))
                y = int((j * (2 + k) + 90 * k) % (HEIGHT - 60))
                frame[y : y + 60, x : x + 80] = colour
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def raw_batch(path: Path, indices: list[int], resize: tuple[int, int] | None, threads: int) -> np.ndarray:
    import decord

    w, h = resize or (-1, -1)
    vr = decord.VideoReader(str(path), ctx=decord.cpu(0), width=w, height=h, num_threads=threads)
    return vr.get_batch(indices).asnumpy()


def all_frames(path: Path, threads: int) -> int:
    import decord

    vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=threads)
    for _ in range(len(vr)):
        vr.next()
    return len(vr)


def best_of(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Best wall-clock and best CPU time (this process, decoder threads included) of each variant.

    Each round runs every variant once, in turn. CPU time is reported beside wall time because on a
    shared machine other processes stretch wall time by more than the effect being measured.
    """
    best = {name: (float("inf"), float("inf")) for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="clip length (default 60)")
    parser.add_argument("--repeats", type=int, default=7, help="rounds; the best time of each variant is kept")
    parser.add_argument(
        "--threads", type=int, default=1, help="decord decoding threads for every variant (0 = decord's auto)"
    )
    parser.add_argument("--keep", help="write the clip here instead of a temporary folder")
    args = parser.parse_args()

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="o3v-bench-video-"))
    folder.mkdir(parents=True, exist_ok=True)
    clip = folder / f"clip_{args.seconds}s_{WIDTH}x{HEIGHT}.mp4"
    if not clip.exists():
        started = time.perf_counter()
        write_clip(clip, args.seconds)
        print(f"wrote {clip} ({clip.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    n = args.seconds * FPS
    total = n  # decode-all reference

    cases = [
        ("16 frames (o3v default)", {}, None),
        ("2 fps, whole clip", {"max_frames": 10_000}, None),
        ("2 fps, decoder resize 320x180", {"max_frames": 10_000}, (320, 180)),
    ]
    t = args.threads
    variants: dict[str, Callable[[], object]] = {"all": lambda: all_frames(clip, t)}
    counts = {}
    for name, kwargs, resize in cases:
        idx = sample_indices(n, float(FPS), **kwargs)
        counts[name] = len(idx)
        variants[f"o3v:{name}"] = lambda kw=kwargs, rs=resize: sample_frames(clip, resize=rs, num_threads=t, **kw)
        variants[f"raw:{name}"] = lambda ix=idx, rs=resize: raw_batch(clip, ix, rs, t)
    # one warm-up round (page cache, library load), then the timed rounds
    best_of(variants, 1)
    best = best_of(variants, args.repeats)

    print(
        f"\nclip: {args.seconds} s, {WIDTH}x{HEIGHT} @ {FPS} fps, {total} frames, x264 defaults; "
        f"best of {args.repeats} rounds, variants interleaved; decord threads {t}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    head = (
        f"{'workload':<32}{'frames':>7}{'o3v s':>8}{'raw s':>8}{'speed o3v/raw':>15}{'  (cpu s o3v/raw':>18}"
        f"{'speed)':>8}{'all-frames s':>14}{'o3v vs all':>12}"
    )
    print(head)
    print("-" * len(head))
    worst_wall = worst_cpu = float("inf")
    for name, _, _ in cases:
        (ours, ours_cpu), (raw, raw_cpu) = best[f"o3v:{name}"], best[f"raw:{name}"]
        worst_wall, worst_cpu = min(worst_wall, raw / ours), min(worst_cpu, raw_cpu / ours_cpu)
        print(
            f"{name:<32}{counts[name]:>7}{ours:>8.3f}{raw:>8.3f}{raw / ours:>14.2f}x"
            f"{ours_cpu:>10.3f}/{raw_cpu:<6.3f}{raw_cpu / ours_cpu:>7.2f}x{best['all'][0]:>14.3f}"
            f"{best['all'][0] / ours:>11.1f}x"
        )
    verdict = "meets" if max(worst_wall, worst_cpu) >= 0.9 else "BELOW"
    print(
        f"\nworst o3v/raw speed ratio: wall {worst_wall:.2f}x, cpu {worst_cpu:.2f}x: {verdict} the >= 0.9x target"
        " (o3v adds index arithmetic and a frame-count check to the same get_batch call)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

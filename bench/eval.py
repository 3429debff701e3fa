"""Evaluation benchmarks: scoring throughput and the frame cache's saving.

    python bench/eval.py [--samples 2000] [--videos 6] [--repeats 3]

1. Scoring: V-STaR (2k official result rows, judge scores given, so the judge is excluded), TVGBench and VideoMME
   rows, scored through the local `evaluate` modules; best of N wall-clock runs after one warm-up (the first call
   also pays `import evaluate` and the module load, printed separately). Target: V-STaR 2k < 2 s.
2. Frame cache: three benchmarks (V-STaR with its five calls per sample, TVGBench, VideoMME) over the same clips,
   decoded (a) once per model call, as a naive harness would, (b) once per sample and benchmark, (c) once per
   (clip, sampling) through one shared `FrameCache`. Clips are written with PyAV (H.264, 8 s, 320x240, 30 fps).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from o3v.eval.benchmarks import tvgbench, videomme, vstar  # noqa: E402
from o3v.eval.benchmarks.base import Sample  # noqa: E402
from o3v.eval.frames import FrameCache, Sampling, decode_video  # noqa: E402


def vstar_rows(n: int, rng: random.Random) -> tuple[list[Sample], list[dict]]:
    samples, rows = [], []
    for i in range(n):
        w, h, fps, dur = 640, 360, 30, rng.uniform(20, 240)
        s = rng.uniform(0, dur * 0.6)
        e = s + rng.uniform(2, dur * 0.3)
        boxes = [
            {"timestamp": t, "frame_index": t * fps, "xmin": 100, "ymin": 80, "xmax": 300, "ymax": 260}
            for t in range(int(s) + 1, int(e) + 1)
        ][:8]
        raw = {
            "vid": f"v{i}",
            "domain": rng.choice(["Sports", "Cooking", "News"]),
            "fps": fps,
            "width": w,
            "height": h,
            "frame_count": int(dur * fps),
            "question": "q?",
            "chain": "",
            "object": "o",
            "answer": "a",
            "temporal_question": "when?",
            "timestamps": [s, e],
            "spatial_question": "where?",
            "spatial_question_2": "where?",
            "bboxes": boxes,
        }
        samples.append(Sample(str(i), i, raw, f"v{i}.mp4"))
        pred = {str(b["timestamp"]): [b["xmin"] + rng.uniform(-40, 40), 80, 300, 260] for b in boxes}
        rows.append(
            {
                **raw,
                "index": i,
                "answer_vqa": "an answer",
                "judge_score": rng.randint(0, 3),
                "answer_temporal": [s + rng.uniform(-5, 5), e + rng.uniform(-5, 5)],
                "answer_temporal_2": [] if i % 7 == 0 else [s, e + 1],
                "answer_temporal_pre_2": "<answer>From <t>1</t>s to <t>9</t>s</answer>",
                "answer_spatial": pred,
                "answer_spatial_2": pred,
            }
        )
    return samples, rows


def tvg_rows(n: int, rng: random.Random) -> tuple[list[Sample], list[dict]]:
    samples = [
        Sample(
            str(i),
            i,
            {
                "path": f"v{i}.mp4",
                "question": "q",
                "answer": "2.5-9.0",
                "duration": 30.0,
                "qsemtype": "x",
                "source": "y",
            },
            f"v{i}.mp4",
        )
        for i in range(n)
    ]
    rows = [{"index": i, "prediction": f"{rng.uniform(0, 5):.1f} to {rng.uniform(6, 12):.1f}"} for i in range(n)]
    return samples, rows


def mme_rows(n: int, rng: random.Random) -> tuple[list[Sample], list[dict]]:
    opts = ["A. a", "B. b", "C. c", "D. d"]
    samples = [
        Sample(
            f"q{i}",
            i,
            {
                "question_id": f"q{i}",
                "videoID": f"v{i}",
                "question": "?",
                "options": opts,
                "answer": rng.choice("ABCD"),
                "duration": "short",
                "domain": "d",
                "sub_category": "s",
                "task_type": "t",
            },
            f"v{i}.mp4",
        )
        for i in range(n)
    ]
    rows = [
        {"question_id": f"q{i}", "prediction": f"<think>..</think><answer>{rng.choice('ABCDX')}</answer>"}
        for i in range(n)
    ]
    return samples, rows


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_scoring(n: int, repeats: int) -> list[tuple[str, float, str]]:
    rng = random.Random(0)
    t0 = time.perf_counter()
    from o3v.metrics import load

    for name in ("temporal_iou", "frame_viou", "mcq_accuracy"):
        load(name)
    first = time.perf_counter() - t0
    out = [("import evaluate + load 3 metric modules (once per process)", first, "")]
    for label, make, adapter in (
        ("V-STaR", vstar_rows, vstar),
        ("TVGBench", tvg_rows, tvgbench),
        ("VideoMME", mme_rows, videomme),
    ):
        samples, rows = make(n, rng)
        adapter.score(samples, rows)  # warm-up
        sec = best_of(lambda s=samples, r=rows, a=adapter: a.score(s, r), repeats)
        target = f"target < 2 s: {'met' if sec < 2 else 'MISSED'}" if label == "V-STaR" else ""
        out.append((f"{label} scoring, {n} samples (best of {repeats})", sec, target))
    return out


def write_clips(folder: Path, n: int) -> list[Path]:
    import av
    import numpy as np

    paths = []
    for v in range(n):
        path = folder / f"clip{v}.mp4"
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=30)
            s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
            for i in range(240):
                a = np.full((240, 320, 3), 20 + 10 * v, np.uint8)
                a[60:120, (i + 20 * v) % 260 : (i + 20 * v) % 260 + 60] = (220, 40, 40)
                for p in s.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        paths.append(path)
    return paths


def bench_cache(videos: int, repeats: int) -> list[tuple[str, float, str]]:
    sampling = Sampling(sample_fps=2.0, min_frames=4, max_frames=16)
    # Per clip: V-STaR makes 5 calls on one sample; TVGBench and VideoMME one call each.
    calls = {"vstar": 5, "tvgbench": 1, "videomme": 1}
    with tempfile.TemporaryDirectory() as tmp:
        clips = write_clips(Path(tmp), videos)

        def naive_per_call() -> None:
            for clip in clips:
                for k in calls.values():
                    for _ in range(k):
                        decode_video(clip, sampling)

        def per_sample() -> None:
            for clip in clips:
                for _ in calls:
                    decode_video(clip, sampling)

        def shared_cache() -> None:
            cache = FrameCache()
            for clip in clips:
                for k in calls.values():
                    for _ in range(k):
                        cache.get(clip, sampling)

        a, b, c = (best_of(f, repeats) for f in (naive_per_call, per_sample, shared_cache))
    n_calls = videos * sum(calls.values())
    return [
        (f"decode per model call ({n_calls} decodes)", a, "1.00x"),
        (f"decode per sample and benchmark ({videos * len(calls)} decodes)", b, f"{a / b:.2f}x faster"),
        (
            f"shared FrameCache ({videos} decodes)",
            c,
            f"{a / c:.2f}x faster than per call, {b / c:.2f}x than per sample",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = bench_scoring(args.samples, args.repeats) + bench_cache(args.videos, args.repeats)
    width = max(len(r[0]) for r in rows)
    print(f"{'case'.ljust(width)}  {'seconds':>8}  note")
    for name, sec, note in rows:
        print(f"{name.ljust(width)}  {sec:8.3f}  {note}")
    print(json.dumps({name: round(sec, 4) for name, sec, _ in rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

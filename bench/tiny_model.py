"""Tiny model costs on this machine: build time, size, prompt tokens, forward and generate latency.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/tiny_model.py [--repeats 5]

Both tiny architectures, a 16-frame 224x224 prompt in the reference's image-sequence format
(`o3v.prompts.build_messages`, "temporal QA"), fp32 on CPU. Times are medians over `--repeats`
runs after one warm-up; the model's own threads are left at torch's default.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: first calls pay lazy initialisation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch

    from o3v.model import build_tiny, encode, generate, load_model
    from o3v.prompts import build_messages

    frames = np.random.default_rng(0).integers(0, 256, (16, 224, 224, 3), dtype=np.uint8)
    messages = build_messages("temporal QA", "When does the red circle appear?", [i / 2 for i in range(16)], 8.0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ("qwen2_5_vl", "qwen3_vl"):
            start = time.perf_counter()
            path = build_tiny(Path(tmp) / arch, arch=arch)
            build_s = time.perf_counter() - start
            model, processor = load_model(path)
            enc = encode(processor, messages, frames)
            image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
            n_tokens = enc["input_ids"].shape[1]
            n_visual = int((enc["input_ids"] == image_pad).sum())

            def forward(model=model, enc=enc):
                with torch.inference_mode():
                    model(**enc)

            def enc16(processor=processor):
                encode(processor, messages, frames)

            def gen32(model=model, processor=processor):
                generate(model, processor, messages, frames, max_new_tokens=32)

            rows.append(
                (
                    arch,
                    f"{build_s:.2f}",
                    sum(p.numel() for p in model.parameters()),
                    f"{sum(f.stat().st_size for f in path.iterdir()) / 1e6:.2f}",
                    n_tokens,
                    n_visual,
                    f"{_median_seconds(enc16, args.repeats) * 1e3:.0f}",
                    f"{_median_seconds(forward, args.repeats) * 1e3:.0f}",
                    f"{_median_seconds(gen32, args.repeats) * 1e3:.0f}",
                )
            )
    header = (
        "arch",
        "build s",
        "params",
        "disk MB",
        "prompt tok",
        "visual tok",
        "encode ms",
        "forward ms",
        "gen32 ms",
    )
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(x) for x in row))


if __name__ == "__main__":
    main()

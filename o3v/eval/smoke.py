"""Evaluation smoke run: synthetic world + tiny model -> V-STaR, TVGBench, VideoMME, synthetic -> HTML report.

    python -m o3v.eval.smoke --out out/eval-smoke [--limit N]      (make eval-smoke)

Everything is built offline on CPU: `o3v.synth.generate` writes the world and its official-format benchmark
files, `o3v.model.build_tiny` the random-init model; the scores land at the constant baselines, and the report
says so. Prints where the report is.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

BENCHMARKS = {
    "vstar": "benchmarks/vstar/V_STaR_test.json",
    "tvgbench": "benchmarks/tvgbench/tvgbench.json",
    "videomme": "benchmarks/videomme/videomme/test-00000-of-00001.parquet",
    "synthetic": "stgr/STGR-RL.json",
}


def run(out: str | Path, *, limit: int | None = None, videos: int = 6, seed: int = 0) -> dict:
    """Build the world and the tiny model under `out` (reused when present), evaluate, write the report."""
    from o3v.eval.config import load_config
    from o3v.eval.frames import FrameCache
    from o3v.eval.report import build_report
    from o3v.eval.runner import evaluate, load_handle
    from o3v.model import build_tiny
    from o3v.synth import generate

    out = Path(out)
    world, tiny = out / "world", out / "tiny"
    if not (world / "synth.json").is_file():
        generate(world, videos=videos, seed=seed, faults=0.0)
    if not (tiny / "config.json").is_file():
        build_tiny(tiny, arch="qwen2_5_vl", seed=seed)
    cfg = load_config("tiny-cpu")
    handle, cache = load_handle(tiny, cfg), FrameCache()
    dirs = []
    for name, rel in BENCHMARKS.items():
        evaluate(handle, name, world / rel, world, out / name, cfg, limit=limit, frame_cache=cache)
        dirs.append(out / name)
    report = build_report(dirs, out / "report", title="o3v evaluation smoke: tiny random-init model")
    return {"report": report["html"], "metrics": report["metrics"], "frame_cache": cache.stats.to_json()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/eval-smoke")
    parser.add_argument("--limit", type=int, default=0, help="samples per benchmark (0 = all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = run(args.out, limit=args.limit or None)
    print(json.dumps(result, indent=2))  # noqa: T201 - entry point
    return 0


if __name__ == "__main__":
    sys.exit(main())

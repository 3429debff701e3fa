"""Compile every o3v pipeline to its IR YAML (PipelineSpec + PlatformSpec): build/pipelines/<pipeline>.yaml.

python -m pipelines.compile --out build/pipelines        # make compile
"""

import argparse
import time
from pathlib import Path

from kfp import compiler

from pipelines.end_to_end import o3v_manifest_pipeline, o3v_pipeline
from pipelines.reproduce import reproduce_pipeline
from pipelines.retrain import retrain_pipeline
from pipelines.stages import RERUNS


def all_pipelines() -> dict:
    """Every pipeline by its KFP name (the YAML file stem)."""
    found = [o3v_pipeline, o3v_manifest_pipeline, retrain_pipeline, reproduce_pipeline, *RERUNS.values()]
    return {p.name: p for p in found}


def compile_pipeline(pipeline, out_dir: Path) -> Path:
    """Write one pipeline's YAML into `out_dir`; returns the file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{pipeline.name}.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compile every o3v pipeline to IR YAML.")
    parser.add_argument("--out", default="build/pipelines", help="output folder (default build/pipelines)")
    parser.add_argument("--only", nargs="*", help="pipeline names to compile (default: all)")
    args = parser.parse_args(argv)
    pipelines = all_pipelines()
    unknown = sorted(set(args.only or []) - set(pipelines))
    if unknown:
        parser.error(f"unknown pipeline(s) {unknown}; known: {sorted(pipelines)}")
    t0 = time.perf_counter()
    for name in args.only or sorted(pipelines):
        print(compile_pipeline(pipelines[name], Path(args.out)))
    print(f"compiled {len(args.only or pipelines)} pipeline(s) in {time.perf_counter() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Pipeline run time: wall time, per-stage times, and kfp.local's orchestration overhead against stage compute.

    .venv/bin/python bench/pipeline.py            # the tiny DAG (3 videos, 2 SFT / 1 GSPO steps, 1 sample/benchmark)
    .venv/bin/python bench/pipeline.py --full     # the embedded default, as `make pipeline-run` runs it

Per task: *wall* is the time kfp.local spent on it (from its own "Executing task" / "finished" log lines),
*compute* is the time inside the o3v stage function (recorded by o3v.artifacts.stages as `compute_s` in the
output's metadata). Orchestration overhead = pipeline wall - sum(compute): subprocess start, Python and
library imports in each task, kfp's executor and artifact bookkeeping, and scheduling gaps; the ratio is
overhead / compute. ParallelFor runs two eval tasks at once, which hides part of it behind compute, so the
per-task overhead (sum of task wall - compute) is printed too: the upper bound. A second, cached run of
the same pipeline is timed as well.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines import run as run_mod  # noqa: E402
from pipelines.end_to_end import o3v_pipeline  # noqa: E402

TINY = {
    "videos": 3,
    "sft_overrides": {"max_steps": 2},
    "gspo_overrides": {"max_steps": 1},
    "eval_overrides": {"limit": 1},
}


def compute_seconds(run_dir: Path) -> dict[str, float]:
    """Sum of `compute_s` per task name, from each task's executor_output.json (loop iterations summed)."""
    out: dict[str, float] = defaultdict(float)
    for path in run_dir.rglob("executor_output.json"):
        data = json.loads(path.read_text())
        values = [
            a.get("metadata", {}).get("compute_s")
            for entry in data.get("artifacts", {}).values()
            for a in entry.get("artifacts", [])
        ]
        values = [v for v in values if isinstance(v, (int, float))]
        if values:
            out[path.parent.name] += max(values)  # a task's outputs share one stage call
    return dict(out)


def table(result: run_mod.RunResult) -> tuple[str, float, float, float]:
    """Markdown table per task name; returns it with total compute, pipeline-level and per-task overhead."""
    walls: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for name, t in result.tasks.items():
        base = name.split("#")[0]
        walls[base] += t["seconds"]
        counts[base] += 1
    compute = compute_seconds(result.run_dir) if result.run_dir else {}
    lines = ["| task | runs | wall s | compute s | wall - compute s |", "|---|---:|---:|---:|---:|"]
    for name, wall in walls.items():
        c = compute.get(name)
        cs = f"{c:.1f}" if c is not None else "–"
        ds = f"{wall - c:.1f}" if c is not None else f"{wall:.1f}"
        lines.append(f"| {name} | {counts[name]} | {wall:.1f} | {cs} | {ds} |")
    total_compute = sum(compute.values())
    per_task = sum(wall - compute.get(name, 0.0) for name, wall in walls.items())
    return "\n".join(lines), total_compute, result.wall_s - total_compute, per_task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the embedded default instead of the tiny DAG")
    parser.add_argument("--root", type=Path, default=None, help="pipeline root (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="o3v-bench-pipeline-") as tmp:
        root = args.root or Path(tmp) / "root"
        params = {"store_uri": (Path(tmp) / "store").as_uri(), "checkpoint_root": str(Path(tmp) / "ckpt")}
        params.update({} if args.full else TINY)
        cold = run_mod.run_local(o3v_pipeline, params, root)
        warm = run_mod.run_local(o3v_pipeline, params, root)
        rows, compute, overhead, per_task = table(cold)  # reads the run folder: before the temporary folder goes
    cached = sum(t["cached"] for t in warm.tasks.values())
    # kfp.local swaps builtins.print for an indenting one while tasks run (and can leave it swapped after a
    # ParallelFor), so the table goes straight to stdout.
    lines = [
        f"\n## o3v pipeline ({'embedded default' if args.full else 'tiny DAG'}), kfp.local SubprocessRunner\n",
        rows,
        "",
        "| measure | value |",
        "|---|---:|",
        f"| pipeline wall (cold) | {cold.wall_s:.1f} s ({cold.status}) |",
        f"| stage compute (sum) | {compute:.1f} s |",
        f"| orchestration overhead = wall - compute | {overhead:.1f} s |",
        f"| overhead / compute | {overhead / compute:.2f} |" if compute else "| overhead / compute | – |",
        f"| per-task overhead = sum(task wall - compute) | {per_task:.1f} s |",
        f"| per-task overhead / compute | {per_task / compute:.2f} |" if compute else "",
        f"| cached rerun wall | {warm.wall_s:.1f} s ({warm.status}; {cached} of {len(warm.tasks)} steps cached) |",
        f"| cached rerun / cold | {warm.wall_s / cold.wall_s:.3f} |",
        "",
        f"os.cpu_count() = {os.cpu_count()}, load average = {os.getloadavg()[0]:.1f} (shared machine); a change to",
        "o3v/ between the two runs (another engineer's commit) rightly invalidates the cache (code fingerprint).",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0 if cold.status == warm.status == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())

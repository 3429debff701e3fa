"""Run the o3v DAG: locally with KFP's SubprocessRunner (default), or on a cluster when KFP_HOST is set.

    python -m pipelines.run                                   # make pipeline-run: whole DAG, embedded default
    python -m pipelines.run --set videos=4 --set sft_overrides='{"max_steps": 10}'
    python -m pipelines.run --stage eval --model <model uri> [--data <world uri>]    # make stage-run
    KFP_HOST=https://kfp.example.com python -m pipelines.run  # compile + submit instead of running here

Locally: `kfp.local.init(SubprocessRunner(use_venv=False), pipeline_root=local_outputs, enable_caching=True)`,
`workspace_root` left unset (kfp deletes it after each run, platform.md §3.1). Caching makes an immediate
second run reuse every deterministic step. Training checkpoints go to `local_outputs/checkpoints` and store
versions to `artifacts/` (file://), so a killed run resumes where it stopped. The run ends with the summary
the report step wrote (counts, gates, losses/rewards, metrics beside baselines) and a per-task time table.
While it runs, the console shows one line per task start and end (status, wall time, its log file under
`<run folder>/logs/`), progress of long steps, and a failed task's log tail (pipelines/console.py);
`--verbose` or O3V_VERBOSE=1 also prints kfp's full output.
"""

import argparse
import builtins
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pipelines.compile import all_pipelines, compile_pipeline
from pipelines.console import TaskClock, TaskRouter, verbose_from_env
from pipelines.stages import RERUNS

ROOT = Path("local_outputs")
STORE = Path("artifacts")


@dataclass
class RunResult:
    """What a local run did: its folder, final status, and per-task wall times from kfp's log."""

    run_dir: Path | None
    status: str
    wall_s: float
    tasks: dict[str, dict] = field(default_factory=dict)  # name -> {"seconds", "status", "cached", "cache_key"}
    root: Path | None = None
    log_dir: Path | None = None  # each task's whole output: <log_dir>/<task>.log, kfp's own lines: run.log

    def output(self, task: str, key: str) -> Path | None:
        """Where output `key` of `task` is: in this run's folder, or, for a cache hit, where the cached run
        wrote it (read from kfp.local's cache entry)."""
        info = self.tasks.get(task, {})
        if info.get("cached") and info.get("cache_key") and self.root is not None:
            for entry in (self.root / ".kfp_cache").glob(f"{info['cache_key']}*.json"):
                uri = json.loads(entry.read_text()).get(key, {}).get("uri")
                return Path(uri) if uri else None
        path = self.run_dir / task / key if self.run_dir else None
        return path if path is not None and path.exists() else None


def parse_sets(pairs: list[str]) -> dict:
    """`key=value` pairs; values parse as JSON when they can (numbers, dicts, lists), else stay strings."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def code_fingerprint(package: Path = Path(__file__).resolve().parents[1] / "o3v") -> str:
    """sha256 over the library's source and config files (read as files: pipelines never import o3v)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml", ".yml", ".json", ".jinja", ".html"):
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def for_local_run(pipeline, code: str):
    """A copy of `pipeline` prepared for kfp.local: no retries, and the library's fingerprint in every step.

    - Retries with backoff are for a cluster's transient failures (preemption, a node going away); locally
      nothing is transient, and kfp.local would wait out the backoff (minutes for GPU steps) before showing
      the error. The compiled YAML keeps them.
    - On a cluster the image tag pins the code. Locally the steps run the checkout, and kfp.local's cache key
      covers the component, its arguments and its environment but not the library behind it, so the code
      fingerprint goes in as an environment variable: editing o3v invalidates the cached steps.
    """
    import copy

    from google.protobuf import json_format

    local_copy = copy.deepcopy(pipeline)
    spec = local_copy.pipeline_spec
    for dag in [spec.root.dag, *(c.dag for c in spec.components.values())]:
        for task in dag.tasks.values():
            task.ClearField("retry_policy")
    deployment = json_format.MessageToDict(spec.deployment_spec)
    for executor in deployment["executors"].values():
        if "container" in executor:
            env = [e for e in executor["container"].get("env", []) if e["name"] != "O3V_CODE"]
            executor["container"]["env"] = [*env, {"name": "O3V_CODE", "value": code}]
    spec.deployment_spec.Clear()
    spec.deployment_spec.update(deployment)
    return local_copy


def run_local(
    pipeline,
    params: dict,
    root: Path = ROOT,
    cache: bool = True,
    *,
    verbose: bool | None = None,
    console: TextIO | None = None,
) -> RunResult:
    """Run a pipeline with kfp.local in this process; returns where it ran and how long each task took.

    The console (default: this process's stdout) gets one line per task start and end (status, wall time,
    log file), progress of long steps, and a failed task's log tail; every task's whole output goes to
    `<run folder>/logs/<task>.log` (pipelines/console.py). `verbose` (default: O3V_VERBOSE) also copies
    kfp's full output to the console.
    """
    from kfp import local

    pipeline = for_local_run(pipeline, code_fingerprint())
    root = root.absolute()
    before = set(root.glob(f"{pipeline.name}-*")) if root.is_dir() else set()
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root),
        enable_caching=cache,
        raise_on_error=False,
    )

    def run_dir() -> Path | None:
        new = sorted(set(root.glob(f"{pipeline.name}-*")) - before)
        return new[-1] if new else None

    console = console or sys.stdout
    staging = root / ".logs" / f"{pipeline.name}-{os.getpid()}-{time.time_ns()}"
    router = TaskRouter(console, staging, run_dir, verbose_from_env() if verbose is None else verbose)
    clock = TaskClock(router.start, router.end)
    rootlog = logging.getLogger()
    level = rootlog.level
    rootlog.addFilter(clock)
    rootlog.setLevel(logging.INFO)  # cache-hit lines are INFO on the root logger
    router.say(f"running {pipeline.name} locally; each task's log goes to <run folder>/logs/ (O3V_VERBOSE=1: all)")
    t0 = time.perf_counter()
    # kfp prints task output and its own lines to sys.stdout; its warnings (settings a local run ignores) and
    # stray log lines go to sys.stderr: both go to the logs for the run.
    streams, sys.stdout, sys.stderr = (sys.stdout, sys.stderr), router, router
    # kfp.local swaps builtins.print for an indenting one around each task and restores it after; two tasks of a
    # ParallelFor that overlap can restore each other's swap, leaving the process printing indented for good.
    printer = builtins.print
    try:
        pipeline(**params)
    finally:
        sys.stdout, sys.stderr = streams
        builtins.print = printer
        rootlog.removeFilter(clock)
        rootlog.setLevel(level)
        router.close_logs()
    wall = time.perf_counter() - t0
    result = RunResult(run_dir(), clock.pipeline_status, wall, clock.tasks, root)
    result.log_dir = router.log_dir
    return result


def latest_local(root: Path, task: str, key: str) -> Path | None:
    """The newest local output `<run>/<task>/<key>` (e.g. the last synth world), or None."""
    found = [p for p in root.absolute().glob(f"*/{task}/{key}") if p.exists()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _local_uri(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


def stage_params(stage: str, model: str, data: str, world: str, root: Path) -> dict:
    """Map --model/--data/--world to a rerun pipeline's URI parameters; errors name what is missing."""
    model, data, world = _local_uri(model), _local_uri(data), _local_uri(world)
    if not world and stage in ("sft", "gspo", "eval", "report"):
        found = latest_local(root, "synth-world", "world")
        world = str(found) if found else ""
        if found and not os.environ.get("KFP_HOST"):
            print(f"using the latest local synthetic world as the media/benchmark folder: {found}")
    need = {
        "synth": {},
        "annotate": {"source_uri": data},
        "validate": {"dataset_uri": data},
        "filter": {"dataset_uri": data},
        "check": {"dataset_uri": data},
        "sft": {"dataset_uri": data, "model_uri": model, "world_uri": world},
        "gspo": {"dataset_uri": data, "model_uri": model, "world_uri": world},
        "eval": {"model_uri": model, "world_uri": data or world},
        "report": {"result_uris": [u for u in data.split(",") if u], "world_uri": world},
    }[stage]
    missing = [k for k, v in need.items() if not v]
    if missing:
        flags = {"model_uri": "MODEL=/--model", "world_uri": "--world (or DATA=/--data for eval)"}
        hint = ", ".join(flags.get(k, "DATA=/--data") + f" for {k}" for k in missing)
        raise SystemExit(f"stage {stage!r} needs {hint}")
    return need


def run_here(pipeline, params: dict, root: Path, cache: bool, verbose: bool) -> RunResult:
    """`run_local` with this machine's checkpoint folder (under `root`) and artifact store (`STORE`) filled in
    where the pipeline takes them and `params` does not set them."""
    accepted = set(pipeline.component_spec.inputs or {})
    local_defaults = {
        "checkpoint_root": str((root / "checkpoints").absolute()),
        "store_uri": (STORE.absolute()).as_uri(),
    }
    params = {**{k: v for k, v in local_defaults.items() if k in accepted}, **params}
    return run_local(pipeline, params, root, cache=cache, verbose=verbose or verbose_from_env())


def summary_text(result: RunResult, store: Path) -> str:
    """The report step's Markdown summary (or the gate-failure report), then where things are and timings."""
    out = [f"\n=== pipeline {result.status} in {result.wall_s:.1f}s; outputs: {result.run_dir}\n"]
    summary = result.output("build-report", "summary")
    stopped = [result.output(t, "report") for t in result.tasks if t.startswith("report-gate-failure")]
    out += [p.read_text() for p in ([summary] if summary else [p for p in stopped if p])]
    if report := result.output("build-report", "report"):
        out.append(f"report (HTML): {report}")
    if final := result.output("build-report", "metrics"):
        out.append(f"lineage: o3v lineage {final}")
    if result.log_dir:
        out.append(f"task logs: {result.log_dir}")
    out.append(f"store: {store.absolute()}  (o3v artifacts list --store {store.absolute().as_uri()})")
    out.append("\n| task | seconds | status |\n|---|---:|---|")
    out += [f"| {name} | {t['seconds']:.1f} | {t['status']} |" for name, t in result.tasks.items()]
    return "\n".join(out) + "\n"


def submit(pipeline, params: dict, host: str) -> int:
    """Compile and submit the run to the KFP API server at `host`."""
    import kfp

    from components import _platform

    path = compile_pipeline(pipeline, Path("build/pipelines"))
    client = kfp.Client(host=host)
    run = client.create_run_from_pipeline_package(
        str(path),
        arguments=params,
        experiment_name="o3v",
        enable_caching=True,
        service_account=_platform.SERVICE_ACCOUNT,
    )
    print(f"submitted {pipeline.name} to {host}: run {run.run_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default="o3v", help="pipeline name (o3v, o3v-manifest, o3v-retrain, ...)")
    parser.add_argument("--stage", default="", help=f"rerun one stage instead: {', '.join(RERUNS)}")
    parser.add_argument("--model", default="", help="model artifact URI (stage reruns)")
    parser.add_argument("--data", default="", help="dataset/world artifact URI (stage reruns; eval: the world)")
    parser.add_argument("--world", default="", help="media/world folder URI (sft/gspo reruns)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="pipeline parameter")
    parser.add_argument("--root", type=Path, default=ROOT, help="local pipeline root (default local_outputs)")
    parser.add_argument("--no-cache", action="store_true", help="run every step again")
    parser.add_argument(
        "--verbose", action="store_true", help="print every task's full output too (default: O3V_VERBOSE)"
    )
    args = parser.parse_args(argv)
    pipelines = all_pipelines()
    if args.stage:
        if args.stage not in RERUNS:
            parser.error(f"unknown stage {args.stage!r}; one of {list(RERUNS)}")
        pipeline = RERUNS[args.stage]
        params = stage_params(args.stage, args.model, args.data, args.world, args.root)
    else:
        if args.pipeline not in pipelines:
            parser.error(f"unknown pipeline {args.pipeline!r}; one of {sorted(pipelines)}")
        pipeline, params = pipelines[args.pipeline], {}
    params.update(parse_sets(args.set))
    host = os.environ.get("KFP_HOST")
    if host:
        return submit(pipeline, params, host)
    result = run_here(pipeline, params, args.root, cache=not args.no_cache, verbose=args.verbose)
    # kfp.local swaps builtins.print for an indenting one while tasks run; write to stdout directly.
    sys.stdout.write(summary_text(result, STORE))
    return 0 if result.status == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())

"""One node, several training processes: `local_processes: N` relaunches a run under torchrun (DDP).

On a laptop the tiny model's ops are too small for intra-op threads to help (two threads on two cores ran
slower than one under any other load), so the tiny CPU recipes train with one process per core instead: the
same `o3v.train.<stage>` entry point under `torch.distributed.run --standalone`, gloo on CPU, one thread each.
On a GPU node the same field starts one process per GPU. Multi-node runs go through Kubeflow Trainer
(`o3v.train.trainjob`), which starts torchrun itself.

    o3v sft --data D --out O --config tiny-cpu      # recipe says local_processes: 2 -> 2 ranks on this machine
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)


def local_processes(stage: str, config: str | os.PathLike | dict, overrides: dict[str, Any] | None) -> int:
    """The run's `local_processes` (overrides, then the recipe; default 1), without building the trl config."""
    from o3v.train.config import ConfigError, config_path

    if "local_processes" in (overrides or {}):
        value = (overrides or {})["local_processes"]
    elif isinstance(config, dict):
        value = config.get("local_processes", 1)
    else:
        data = yaml.safe_load(config_path(stage, config).read_text(encoding="utf-8")) or {}
        value = data.get("local_processes", 1)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"field 'local_processes' must be a positive integer, got {value!r}")
    return value


def under_launcher() -> bool:
    """True inside a process started by torchrun (or any launcher that sets LOCAL_RANK)."""
    return "LOCAL_RANK" in os.environ


def leave_process_group() -> None:
    """After a successful run, every rank: wait for the others, then destroy the process group while the
    interpreter is still whole. Left to interpreter shutdown, a gloo rank can abort ("terminate called without an
    active exception", SIGABRT, pytorch/pytorch#190489), failing a run whose model is already written. Not called
    after an error: a rank that raised would leave the others waiting in the barrier (torchrun stops them instead).
    A no-op without a process group (one process, no launcher)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()
    dist.destroy_process_group()


def command(
    stage: str,
    data_dir: str | Path,
    out_dir: str | Path,
    config: str | os.PathLike,
    overrides: dict[str, Any],
    base_model: str | None,
    resume: bool,
    processes: int,
) -> list[str]:
    """The torchrun command line of a run (same arguments as `o3v <stage>`)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    cmd += ["-m", f"o3v.train.{stage}", "--data", str(data_dir), "--out", str(out_dir), "--config", str(config)]
    cmd += ["--overrides", json.dumps(overrides)]
    if base_model:
        cmd += ["--base-model", str(base_model)]
    if resume:
        cmd.append("--resume")
    return cmd


def relaunch(
    stage: str,
    data_dir: str | Path,
    out_dir: str | Path,
    config: str | os.PathLike | dict,
    overrides: dict[str, Any] | None,
    base_model: str | None,
    resume: bool,
    processes: int,
) -> dict[str, Any]:
    """Run the stage as `processes` ranks under torchrun, wait, and return its metrics.json (rank 0 writes it)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(config, dict):  # a config dict travels as a YAML file
        path = out / "config.launch.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        config = path
    cmd = command(stage, data_dir, out, config, dict(overrides or {}), base_model, resume, processes)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("O3V_THREADS_PER_PROCESS", "1")}
    log.info("%s: %d local processes: %s", stage, processes, " ".join(cmd))
    # the ranks' own result lines go to stderr: stdout carries only the caller's result
    done = subprocess.run(cmd, env=env, check=False, stdout=sys.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"{stage}: torchrun with {processes} processes failed with exit code {done.returncode}")
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))

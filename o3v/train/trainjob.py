"""SFT/GSPO as a Kubeflow Trainer v2 TrainJob (`trainer.kubeflow.org/v1alpha1`), through the Kubeflow SDK.

    o3v trainjob sft --data D --out O --config qwen2.5-vl-7b --num-nodes 2 --gpus-per-node 8   # on a cluster
    o3v trainjob sft --data D --out O --config tiny-cpu --local                                # this machine
    o3v trainjob sft --data D --out O --config qwen2.5-vl-7b --num-nodes 2 --dry-run           # print the TrainJob

Every node runs the same entry point as the single pod: `torchrun -m o3v.train.<stage> --data .. --out ..`.
The torch runtime (ClusterTrainingRuntime `o3v-torch`, manifests/base/trainer-runtime.yaml) sets the PET_*
variables torchrun reads (PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK, PET_MASTER_ADDR, PET_MASTER_PORT), so
the command carries no rank arguments. Data and checkpoints stay where the single-pod path has them: the bucket
is mounted in every node at `/gcs/<bucket>` (Cloud Storage FUSE), the same paths KFP gives its artifacts, and the
training folder is `gs://<bucket>/...` seen as `/gcs/<bucket>/...` (`fuse_path`).

Two SDK backends, one launcher (`submit`, `follow`):
- `kubernetes`: `TrainerClient(KubernetesBackendConfig)`; `CustomTrainerContainer` + the `TrainerCommand`,
  `TrainerArgs`, `Name`, `Labels` options; `render` builds the exact object the SDK submits without a cluster.
- `local`: `TrainerClient(LocalProcessBackendConfig)`, one node, for this machine and CI. That backend cannot
  reuse a project venv: it creates a fresh `python -m venv --without-pip` (no system site-packages) for every
  job and, for a torch runtime, runs `<fresh venv>/bin/torchrun`, which exists only after it pip-installs the
  runtime's packages (`torch`) into that venv -- a full torch download per job. It accepts only `CustomTrainer`
  (a Python function). o3v therefore asks it for the plain-Python entry point (`framework="python"`, no packages)
  and its function hands over to the project's interpreter (`os.execv`) running the same torchrun command.
  The backend also `chdir`s the whole process into its venv while a job runs and gives the job only the
  environment it is handed: every path here is absolute and the caller's environment is passed explicitly.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

API_VERSION = "trainer.kubeflow.org/v1alpha1"
RUNTIME = "o3v-torch"  # ClusterTrainingRuntime in manifests/base/trainer-runtime.yaml
NAMESPACE = "kubeflow"
GPU = "nvidia.com/gpu"
LABELS = {"app.kubernetes.io/part-of": "o3v"}
BACKENDS = ("kubernetes", "local")
LAUNCHERS = ("auto", "pod", "trainjob", "local-trainjob")
ROOT_DIR = "trainjob-checkpoints"  # gs://<bucket>/<ROOT_DIR>/<stage>/<key>: the training folder every node sees
GCS_FUSE_ROOT = "/gcs"  # where KFP v2 and the runtime's Cloud Storage FUSE volume put gs://<bucket>/...


class TrainJobError(RuntimeError):
    """A TrainJob that could not be submitted, failed, or timed out; the message carries the job's reason."""


@dataclass(frozen=True)
class Launch:
    """One training run as a TrainJob: the o3v entry point's arguments plus where and how big it runs."""

    stage: str
    data_dir: str
    out_dir: str
    config: str
    overrides: dict[str, Any] = field(default_factory=dict)
    base_model: str | None = None
    resume: bool = False
    num_nodes: int = 1
    gpus_per_node: int = 1
    image: str | None = None  # None: the runtime's image (kustomize pins it to the o3v-cuda tag)
    runtime: str = RUNTIME
    namespace: str = NAMESPACE

    def __post_init__(self) -> None:
        if self.stage not in ("sft", "gspo"):
            raise ValueError(f"stage must be 'sft' or 'gspo', got {self.stage!r}")
        if self.num_nodes < 1 or self.gpus_per_node < 0:
            raise ValueError(f"num_nodes must be >= 1 and gpus_per_node >= 0, got {self.num_nodes}, "
                             f"{self.gpus_per_node}")  # fmt: skip


def fuse_path(location: str) -> str:
    """`gs://bucket/key` -> `/gcs/bucket/key` (the path every node and KFP step sees); local paths unchanged.

    >>> fuse_path("gs://b/ckpt/sft/k1")
    '/gcs/b/ckpt/sft/k1'
    >>> fuse_path("/mnt/x")
    '/mnt/x'
    """
    if location.startswith("gs://"):
        return f"{GCS_FUSE_ROOT}/{location[len('gs://') :]}"
    return location


def entry_args(launch: Launch) -> list[str]:
    """The o3v module and its arguments, identical to the single-pod run's (`o3v <stage> ...`)."""
    args = ["-m", f"o3v.train.{launch.stage}", "--data", fuse_path(launch.data_dir)]
    args += ["--out", fuse_path(launch.out_dir), "--config", launch.config]
    args += ["--overrides", json.dumps(launch.overrides, sort_keys=True)]
    if launch.base_model:
        args += ["--base-model", fuse_path(launch.base_model)]
    if launch.resume:
        args.append("--resume")
    return args


def node_command(launch: Launch) -> tuple[list[str], list[str]]:
    """(command, args) of every node: torchrun reads nodes, ranks and the master from the runtime's PET_* env."""
    return ["torchrun"], entry_args(launch)


def job_name(launch: Launch) -> str:
    """A DNS-1035 name, unique per submission: `o3v-<stage>-<10 hex>`."""
    return f"o3v-{launch.stage}-{uuid.uuid4().hex[:10]}"


# ----------------------------------------------------------------------------- Kubernetes backend


def _container_trainer(launch: Launch) -> Any:
    from kubeflow.trainer import CustomTrainerContainer

    return CustomTrainerContainer(
        image=launch.image or "",
        num_nodes=launch.num_nodes,
        # a string: the API server takes "8" as a quantity; a JSON 8.0 fails the CRD's int-or-string check
        resources_per_node={GPU: str(launch.gpus_per_node)} if launch.gpus_per_node else None,
        env={"O3V_TRAINJOB": "1"},
    )


def _options(launch: Launch, name: str) -> list[Any]:
    from kubeflow.trainer.options import Labels, Name, TrainerArgs, TrainerCommand

    command, args = node_command(launch)
    return [Name(name), Labels(dict(LABELS)), TrainerCommand(command), TrainerArgs(args)]


def _runtime_ref(launch: Launch) -> Any:
    """The runtime as the SDK's `Runtime`: submission then needs no read of the runtime object itself."""
    from kubeflow.trainer import Runtime, RuntimeKind, RuntimeTrainer, TrainerType

    trainer = RuntimeTrainer(trainer_type=TrainerType.CUSTOM_TRAINER, framework="torch", image=launch.image or "")
    return Runtime(name=launch.runtime, trainer=trainer, kind=RuntimeKind.CLUSTER_TRAINING_RUNTIME)


def kubernetes_client(namespace: str = NAMESPACE) -> Any:
    """`TrainerClient` on the cluster (in-cluster config inside a pod, kube-config elsewhere)."""
    from kubeflow.trainer import KubernetesBackendConfig, TrainerClient

    return TrainerClient(backend_config=KubernetesBackendConfig(namespace=namespace))


class _Recorder:
    """Stands in for the Kubernetes custom-objects API: records what the SDK would create."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def create_namespaced_custom_object(self, group, version, namespace, plural, body, **_):  # noqa: ANN001
        self.created.append(body)
        return body


def render(launch: Launch, name: str | None = None) -> dict[str, Any]:
    """The TrainJob object the SDK's Kubernetes backend submits for `launch`, built by the SDK, without a cluster."""
    from kubeflow.trainer.backends.kubernetes.backend import KubernetesBackend

    backend = KubernetesBackend.__new__(KubernetesBackend)  # skips loading a kube-config; train() only creates
    backend.custom_api, backend.core_api, backend.namespace = _Recorder(), None, launch.namespace
    name = name or job_name(launch)
    backend.train(runtime=_runtime_ref(launch), trainer=_container_trainer(launch), options=_options(launch, name))
    return backend.custom_api.created[0]


# ----------------------------------------------------------------------------- local process backend


def o3v_local_node(params: dict) -> None:
    """Runs inside the SDK's throwaway venv (module docstring): becomes the project's torchrun for this job."""
    import os

    os.execv(params["python"], [params["python"], *params["argv"]])


def local_client() -> Any:
    """`TrainerClient` on this machine (one node, subprocesses)."""
    from kubeflow.trainer import LocalProcessBackendConfig, TrainerClient

    return TrainerClient(backend_config=LocalProcessBackendConfig(cleanup_venv=True))


def _local_runtime_name() -> str:
    from kubeflow.trainer.constants.constants import DEFAULT_TRAINING_RUNTIME

    return DEFAULT_TRAINING_RUNTIME


def _local_runtime(client: Any) -> Any:
    runtime = client.get_runtime(_local_runtime_name())
    return dataclasses.replace(runtime, trainer=dataclasses.replace(runtime.trainer, framework="python"))


def local_argv(launch: Launch) -> list[str]:
    """torchrun through the project's interpreter, one node, one process per GPU (one on a CPU)."""
    nproc = max(1, launch.gpus_per_node)
    command, args = node_command(launch)
    return ["-m", "torch.distributed.run", "--standalone", "--nnodes=1", f"--nproc-per-node={nproc}", *args]


# ----------------------------------------------------------------------------- submit and follow


def submit(client: Any, launch: Launch, backend: str, name: str | None = None) -> str:
    """Create the TrainJob through `client`; returns its name."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    name = name or job_name(launch)
    if backend == "kubernetes":
        return client.train(runtime=_runtime_ref(launch), trainer=_container_trainer(launch),
                            options=_options(launch, name))  # fmt: skip
    if launch.num_nodes != 1:
        raise ValueError(f"the local process backend runs one node, got num_nodes={launch.num_nodes}")
    from kubeflow.trainer import CustomTrainer
    from kubeflow.trainer.options import Name

    env = {**os.environ, "O3V_TRAINJOB": "1"}
    params = {"python": sys.executable, "argv": local_argv(launch)}
    trainer = CustomTrainer(func=o3v_local_node, func_args=params, env=env)
    return client.train(runtime=_local_runtime(client), trainer=trainer, options=[Name(name)])


def failure_reason(client: Any, name: str, tail: list[str]) -> str:
    """Why a TrainJob failed: its Failed condition (cluster) or the last log lines (both)."""
    parts = []
    api = getattr(client.backend, "custom_api", None)
    if api is not None and not isinstance(api, _Recorder):
        try:
            obj = api.get_namespaced_custom_object("trainer.kubeflow.org", "v1alpha1", client.backend.namespace,
                                                   "trainjobs", name)  # fmt: skip
            for cond in (obj.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Failed" and cond.get("status") == "True":
                    parts.append(f"{cond.get('reason')}: {cond.get('message')}")
        except Exception as exc:  # noqa: BLE001 - the reason is best effort; the failure itself is certain
            parts.append(f"(could not read the TrainJob's conditions: {exc})")
    errors = [line.strip() for line in tail if "error:" in line.lower()][:3]  # `o3v sft: error: ...` comes first
    if errors:
        parts.append("errors: " + " | ".join(errors))
    if tail:
        parts.append("last log lines:\n" + "\n".join(tail[-20:]))
    return "; ".join(parts) or "no reason reported"


def _echo(line: str) -> None:
    """One job log line into this process's stdout (the KFP step log)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def follow(
    client: Any,
    name: str,
    *,
    sink: Callable[[str], None] = _echo,
    poll_s: float = 5.0,
    timeout_s: float = 72 * 3600,
) -> str:
    """Stream node 0's log into `sink` until the job completes; raises `TrainJobError` with the job's reason."""
    seen = 0
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        status = client.get_job(name).status
        try:
            lines = [ln for chunk in client.get_job_logs(name, follow=False) for ln in chunk.splitlines()]
        except (RuntimeError, ValueError) as exc:  # a pod not scheduled yet has no log
            log.debug("no log for %s yet: %s", name, exc)
        for line in lines[seen:]:
            sink(line)
        seen = max(seen, len(lines))
        if status == "Complete":
            return status
        if status == "Failed":
            raise TrainJobError(f"TrainJob {name} failed: {failure_reason(client, name, lines)}")
        if time.monotonic() > deadline:
            raise TrainJobError(f"TrainJob {name} did not finish within {timeout_s:.0f} s (last status {status})")
        time.sleep(poll_s)


def run_trainjob(
    launch: Launch, backend: str = "kubernetes", *, client: Any = None, poll_s: float = 5.0
) -> dict[str, Any]:
    """Submit, stream logs, wait; returns the run's metrics.json (written by rank 0 into `out_dir`)."""
    launch = _absolute(launch) if backend == "local" else launch
    client = client or (local_client() if backend == "local" else kubernetes_client(launch.namespace))
    name = submit(client, launch, backend)
    log.info("TrainJob %s submitted (%s backend, %d node(s) x %d GPU, runtime %s)", name, backend,
             launch.num_nodes, launch.gpus_per_node, launch.runtime)  # fmt: skip
    follow(client, name, sink=lambda line: _echo(f"[{name}] {line}"), poll_s=poll_s)
    metrics = _read_metrics(launch.out_dir)
    runtime = launch.runtime if backend == "kubernetes" else f"{_local_runtime_name()} (local process)"
    metrics["trainjob"] = {"name": name, "backend": backend, "runtime": runtime,
                           "num_nodes": launch.num_nodes, "gpus_per_node": launch.gpus_per_node}  # fmt: skip
    return metrics


def _absolute(launch: Launch) -> Launch:
    """The local backend chdirs the process: every local path must be absolute."""

    def fix(p: str | None) -> str | None:
        return p if p is None or "://" in p or not Path(p).exists() else str(Path(p).resolve())

    out = str(Path(launch.out_dir).resolve()) if "://" not in launch.out_dir else launch.out_dir
    return dataclasses.replace(launch, data_dir=fix(launch.data_dir), out_dir=out, base_model=fix(launch.base_model))


def _read_metrics(out_dir: str) -> dict[str, Any]:
    if out_dir.startswith("gs://"):
        from o3v.artifacts.backends import open_backend

        data, _ = open_backend(out_dir).read("metrics.json")
        return json.loads(data)
    path = Path(out_dir) / "metrics.json"
    if not path.is_file():
        raise TrainJobError(f"the TrainJob completed but wrote no {path}")
    return json.loads(path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- the pipeline stage's side


def backend_for(num_nodes: int, launcher: str = "auto") -> str | None:
    """None to train in this pod, else the TrainerClient backend: `auto` submits a TrainJob for num_nodes > 1.

    >>> backend_for(1), backend_for(2), backend_for(1, "local-trainjob")
    (None, 'kubernetes', 'local')
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher must be one of {LAUNCHERS}, got {launcher!r}")
    if num_nodes < 1:
        raise ValueError(f"num_nodes must be >= 1, got {num_nodes}")
    if launcher == "pod" and num_nodes > 1:
        raise ValueError(f"launcher 'pod' trains on one node; num_nodes={num_nodes} needs a TrainJob")
    if launcher == "local-trainjob":
        if num_nodes > 1:
            raise ValueError(f"launcher 'local-trainjob' runs one node, got num_nodes={num_nodes}")
        return "local"
    return "kubernetes" if launcher == "trainjob" or (launcher == "auto" and num_nodes > 1) else None


def step_gpus(num_nodes: int, accelerator_count: int) -> int:
    """GPUs the pipeline step itself requests: all of them when it trains, none when it only follows a TrainJob.

    >>> step_gpus(1, 8), step_gpus(2, 8)
    (8, 0)
    """
    if num_nodes < 1:
        raise ValueError(f"num_nodes must be >= 1, got {num_nodes}")
    return accelerator_count if num_nodes == 1 else 0


def training_root(dataset_uri: str, checkpoint_root: str) -> str:
    """Where a TrainJob trains: `gs://<bucket>/trainjob-checkpoints` when the data is in a bucket (every node mounts
    it; the single pod's checkpoint volume is ReadWriteOnce), else `checkpoint_root` (local runs).

    >>> training_root("gs://bkt/pipeline-root/run/kept", "/mnt/o3v-checkpoints")
    'gs://bkt/trainjob-checkpoints'
    """
    if dataset_uri.startswith("gs://"):
        return f"gs://{dataset_uri[len('gs://') :].split('/', 1)[0]}/{ROOT_DIR}"
    if not checkpoint_root:
        raise ValueError("a TrainJob needs a training folder every node can reach: pass checkpoint_root")
    return checkpoint_root


def has_checkpoints(work: str) -> bool:
    """A previous attempt left checkpoints in `work` (then the job resumes from them)."""
    if work.startswith("gs://"):
        from o3v.artifacts.backends import open_backend

        return bool(open_backend(work).list("checkpoints/"))
    folder = Path(work) / "checkpoints"
    return folder.is_dir() and any(folder.iterdir())


def fetch_model(work: str, dest: str | Path) -> None:
    """Copy the finished model folder (everything but `checkpoints/`) from `work` into `dest`."""
    dest = Path(dest)
    if not work.startswith("gs://"):
        import shutil

        shutil.copytree(work, dest, ignore=shutil.ignore_patterns("checkpoints"), dirs_exist_ok=True)
        return
    from o3v.artifacts.backends import open_backend

    backend = open_backend(work)
    for key in backend.list(""):
        if key.startswith("checkpoints/"):
            continue
        (dest / key).parent.mkdir(parents=True, exist_ok=True)
        backend.download(key, dest / key)


def pod_record(gpus_per_node: int) -> dict[str, Any]:
    """How a model was trained, for provenance: one pod (the same keys as `train_stage`'s record)."""
    return {"launcher": "pod", "backend": None, "num_nodes": 1, "gpus_per_node": gpus_per_node, "runtime": None,
            "trainjob": None}  # fmt: skip


def train_stage(
    launch: Launch, backend: str, dest: str | Path, *, client: Any = None, poll_s: float = 5.0
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The TrainJob counterpart of `o3v.train.<stage>.run` for a pipeline step: run `launch` (resuming when its
    folder holds checkpoints), copy the model into `dest`. Returns (metrics.json, launch record, resumed)."""
    launch = dataclasses.replace(launch, resume=has_checkpoints(launch.out_dir))
    log.info("%s: TrainJob trains in %s (%s)", launch.stage, launch.out_dir, "resuming" if launch.resume else "fresh")
    result = run_trainjob(launch, backend, client=client, poll_s=poll_s)
    job = result.pop("trainjob")
    fetch_model(launch.out_dir, dest)
    record = {"launcher": "trainjob", **{k: job[k] for k in ("backend", "num_nodes", "gpus_per_node", "runtime")},
              "trainjob": job["name"]}  # fmt: skip
    return result, record, launch.resume

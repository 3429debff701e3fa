"""Task options shared by the pipelines: resources, GPUs, retries, timeouts, pod labels, volumes.

Locally (kfp.local) resources are ignored with a warning and kfp-kubernetes settings silently
(platform.md §2); they matter on the cluster and are checked in the compiled YAML by tests/pipelines.
"""

from kfp import kubernetes
from kfp.dsl import PipelineTask

from components import _platform

# Data and report steps: CPU only. Requests are what the scheduler reserves, limits what the pod may use.
CPU_REQUEST, CPU_LIMIT = "2", "4"
MEMORY_REQUEST, MEMORY_LIMIT = "8G", "16G"
GPU_CPU_REQUEST, GPU_MEMORY_REQUEST = "8", "64G"

# Long stages get a deadline so a hung job does not hold GPUs forever (activeDeadlineSeconds on the pod).
TIMEOUTS_S = {"sft": 48 * 3600, "gspo": 72 * 3600, "eval": 12 * 3600, "annotate": 24 * 3600}

# Training resumes from checkpoints kept outside the task's output (o3v.artifacts.stages.train): on a
# cluster a PersistentVolumeClaim mounted into the SFT and GSPO pods (manifests/ must provide it).
CHECKPOINT_PVC = "o3v-checkpoints"
CHECKPOINT_MOUNT = "/mnt/o3v-checkpoints"


def labelled(task: PipelineTask) -> PipelineTask:
    """Pod labels every o3v step carries (the egress NetworkPolicy selects on them)."""
    for key, value in _platform.POD_LABELS.items():
        kubernetes.add_pod_label(task, key, value)
    return task


def on_cpu(task: PipelineTask, *, retries: int = 2) -> PipelineTask:
    """A data step: CPU/memory requests and limits, retries with backoff for transient failures."""
    task.set_cpu_request(CPU_REQUEST).set_cpu_limit(CPU_LIMIT)
    task.set_memory_request(MEMORY_REQUEST).set_memory_limit(MEMORY_LIMIT)
    if retries:
        task.set_retry(num_retries=retries, backoff_duration="5s", backoff_factor=2.0, backoff_max_duration="300s")
    return labelled(task)


def on_gpu(task: PipelineTask, accelerator_type, accelerator_count, *, timeout_s: int) -> PipelineTask:
    """A GPU step: accelerator request (pipeline parameters), GPU node pool, toleration, /dev/shm, deadline."""
    task.set_accelerator_type(accelerator_type).set_accelerator_limit(accelerator_count)
    task.set_cpu_request(GPU_CPU_REQUEST).set_memory_request(GPU_MEMORY_REQUEST)
    task.set_retry(num_retries=2, backoff_duration="60s", backoff_factor=2.0, backoff_max_duration="1800s")
    kubernetes.add_node_selector(task, _platform.GPU_NODE_LABEL, _platform.GPU_ACCELERATOR)
    kubernetes.add_toleration(task, **_platform.GPU_TOLERATION)
    # PyTorch data loaders and NCCL need more shared memory than a container's 64 MB default.
    kubernetes.empty_dir_mount(task, volume_name="dshm", mount_path="/dev/shm", medium="Memory")
    kubernetes.set_timeout(task, timeout_s)
    return labelled(task)


def on_vllm_server(task: PipelineTask, accelerator_type, gpus, *, timeout_s: int) -> PipelineTask:
    """The GSPO rollout server: a GPU step like training, never cached (it serves, it makes nothing), its pod IP in
    POD_IP (published for the GSPO step to connect to), no retries (a restart would strand a running GSPO step)."""
    on_gpu(task, accelerator_type, gpus, timeout_s=timeout_s)
    task.set_retry(num_retries=0)
    kubernetes.use_field_path_as_env(task, "POD_IP", "status.podIP")
    return uncached(task).set_display_name("vLLM rollout server")


def with_timeout(task: PipelineTask, stage: str) -> PipelineTask:
    """A deadline for a long CPU stage (annotation calls a teacher for every video)."""
    return kubernetes.set_timeout(task, TIMEOUTS_S[stage])


def with_checkpoints(task: PipelineTask) -> PipelineTask:
    """Mount the checkpoint volume (pass `CHECKPOINT_MOUNT` as the task's checkpoint_root on a cluster)."""
    kubernetes.mount_pvc(task, pvc_name=CHECKPOINT_PVC, mount_path=CHECKPOINT_MOUNT)
    return task


def with_teacher_secret(task: PipelineTask) -> PipelineTask:
    """Teacher API keys from the cluster Secret as env vars (optional: the synthetic teacher needs none)."""
    return kubernetes.use_secret_as_env(task, _platform.TEACHER_SECRET, _platform.TEACHER_SECRET_ENV, optional=True)


def uncached(task: PipelineTask) -> PipelineTask:
    """Steps whose result depends on the outside world (the store) must run every time."""
    return task.set_caching_options(False)

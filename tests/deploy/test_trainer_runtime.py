"""Multi-node training objects: the ClusterTrainingRuntime in the overlays and the TrainJob the SDK submits both
validate against the Kubeflow Trainer OpenAPI schema (from the SDK's generated models, kubeflow-trainer-api), agree
with each other and with the platform values, and the RBAC lets the pipeline's service account drive them."""

from __future__ import annotations

import copy

import pytest
from manifest_tools import OVERLAYS, find, project_version, read_platform_env

from components import _platform
from o3v.train import trainjob
from o3v.train.trainer_schema import validate


def _runtime(built, overlay):
    return find(built[overlay], "ClusterTrainingRuntime", trainjob.RUNTIME)


def _pod(runtime):
    (node,) = runtime["spec"]["template"]["spec"]["replicatedJobs"]
    assert node["name"] == "node", "the torch runtime's trainer replicated job is 'node' (SDK and controller)"
    return node["template"]["spec"]["template"]


LAUNCH = trainjob.Launch(
    stage="gspo",
    data_dir="gs://bkt/pipeline-root/run/check/kept",
    out_dir="gs://bkt/trainjob-checkpoints/gspo/0123abcd",
    config="qwen2.5-vl-7b",
    overrides={"max_steps": 50},
    base_model="gs://bkt/pipeline-root/run/sft/model",
    resume=True,
    num_nodes=2,
    gpus_per_node=8,
)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_runtime_validates_against_the_trainer_schema(built, overlay):
    assert validate(_runtime(built, overlay)) == []


def test_schema_catches_typos_and_wrong_types(built):
    bad = copy.deepcopy(_runtime(built, "dev"))
    bad["spec"]["mlPolicy"]["numNodez"] = 2
    _pod(bad)["spec"]["containers"][0]["volumeMountz"] = []
    bad["spec"]["template"]["spec"]["replicatedJobs"][0]["replicas"] = "two"
    errors = "\n".join(validate(bad))
    assert "'numNodez' was unexpected" in errors
    assert "'volumeMountz' was unexpected" in errors
    assert "'two' is not of type 'integer'" in errors


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_runtime_carries_the_platform_values(built, overlay):
    env = read_platform_env(overlay)
    runtime = _runtime(built, overlay)
    assert runtime["metadata"]["labels"]["trainer.kubeflow.org/framework"] == "torch"
    assert runtime["spec"]["mlPolicy"]["torch"] == {}
    pod = _pod(runtime)
    assert _platform.POD_LABELS.items() <= pod["metadata"]["labels"].items(), "egress policy must select the nodes"
    spec = pod["spec"]
    assert spec["serviceAccountName"] == _platform.SERVICE_ACCOUNT
    assert spec["priorityClassName"] == _platform.TRAINING_PRIORITY_CLASS
    assert spec["nodeSelector"] == {_platform.GPU_NODE_LABEL: env["O3V_GPU_ACCELERATOR"]}
    assert _platform.GPU_TOLERATION in spec["tolerations"]
    (container,) = spec["containers"]
    assert container["name"] == "node"
    assert container["image"] == f"{env['O3V_REGISTRY']}/o3v-cuda:{project_version()}"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert mounts["dshm"] == "/dev/shm" and volumes["dshm"]["emptyDir"] == {"medium": "Memory"}
    # The bucket where KFP's local artifact paths and trainjob.fuse_path put it.
    assert mounts["bucket"] == trainjob.fuse_path(f"gs://{env['O3V_BUCKET']}")
    assert volumes["bucket"]["csi"]["volumeAttributes"]["bucketName"] == env["O3V_BUCKET"]
    assert pod["metadata"]["annotations"]["gke-gcsfuse/volumes"] == "true"
    assert {e["name"] for e in container["env"]} >= {"NCCL_DEBUG", "NCCL_SOCKET_IFNAME"}


def test_submitted_trainjob_validates_and_references_the_runtime(built):
    job = trainjob.render(LAUNCH, name="o3v-gspo-abc")
    assert validate(job) == []
    runtime = _runtime(built, "gke-prod")
    assert job["spec"]["runtimeRef"] == {"name": runtime["metadata"]["name"], "kind": runtime["kind"]}
    trainer = job["spec"]["trainer"]
    assert trainer["numNodes"] == 2
    assert trainer["resourcesPerNode"]["limits"] == {"nvidia.com/gpu": "8"}
    assert trainer["command"] == ["torchrun"]
    args = trainer["args"]
    assert args[:2] == ["-m", "o3v.train.gspo"]
    assert args[args.index("--data") + 1] == "/gcs/bkt/pipeline-root/run/check/kept"
    assert args[args.index("--out") + 1] == "/gcs/bkt/trainjob-checkpoints/gspo/0123abcd"
    assert args[-1] == "--resume"
    assert job["metadata"]["labels"] == _platform.POD_LABELS


def test_trainjob_schema_rejects_a_bad_trainjob():
    job = trainjob.render(LAUNCH, name="o3v-gspo-abc")
    job["spec"]["trainer"]["numNodes"] = "2"
    job["spec"]["runtimRef"] = job["spec"].pop("runtimeRef")
    errors = "\n".join(validate(job))
    assert "'2' is not of type 'integer'" in errors
    assert "'runtimeRef' is a required property" in errors


def test_the_sdk_reads_the_shipped_runtime(built):
    """The SDK's own lookup (namespaced first, then cluster-scoped) accepts the runtime as a torch custom trainer."""
    from kubeflow.trainer.backends.kubernetes.backend import KubernetesBackend
    from kubernetes.client import ApiException

    runtime = _runtime(built, "gke-prod")

    class Done:
        def __init__(self, value):
            self.value = value

        def get(self, _timeout):
            if isinstance(self.value, Exception):
                raise self.value
            return self.value

    class Api:
        def get_namespaced_custom_object(self, *args, **kwargs):
            return Done(ApiException(status=404))

        def get_cluster_custom_object(self, group, version, plural, name, **kwargs):
            assert (group, version, plural, name) == ("trainer.kubeflow.org", "v1alpha1", "clustertrainingruntimes",
                                                      trainjob.RUNTIME)  # fmt: skip
            return Done(runtime)

    backend = KubernetesBackend.__new__(KubernetesBackend)
    backend.custom_api, backend.namespace = Api(), _platform.NAMESPACE
    got = backend.get_runtime(trainjob.RUNTIME)
    assert (got.name, got.kind.value, got.trainer.framework) == (trainjob.RUNTIME, "ClusterTrainingRuntime", "torch")
    assert got.trainer.image.endswith(f"/o3v-cuda:{project_version()}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rbac_lets_the_pipeline_account_drive_trainjobs(built, overlay):
    docs = built[overlay]
    role = find(docs, "Role", "o3v-trainjob-launcher")
    allowed = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
               for v in rule["verbs"]}  # fmt: skip
    needed = {
        ("trainer.kubeflow.org", "trainjobs", "create"),
        ("trainer.kubeflow.org", "trainjobs", "get"),
        ("trainer.kubeflow.org", "trainjobs", "delete"),
        ("trainer.kubeflow.org", "trainingruntimes", "get"),
        ("", "pods", "list"),
        ("", "pods/log", "get"),
    }
    assert needed <= allowed, needed - allowed
    cluster_role = find(docs, "ClusterRole", "o3v-trainjob-runtime-reader")
    assert cluster_role["rules"] == [
        {"apiGroups": ["trainer.kubeflow.org"], "resources": ["clustertrainingruntimes"], "verbs": ["get", "list"]}
    ]
    subject = {"kind": "ServiceAccount", "name": _platform.SERVICE_ACCOUNT, "namespace": _platform.NAMESPACE}
    for kind, name, ref_kind in (
        ("RoleBinding", "o3v-trainjob-launcher", "Role"),
        ("ClusterRoleBinding", "o3v-trainjob-runtime-reader", "ClusterRole"),
    ):
        binding = find(docs, kind, name)
        assert binding["roleRef"]["kind"] == ref_kind and binding["roleRef"]["name"] == name
        assert binding["subjects"] == [subject]

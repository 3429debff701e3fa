"""The kustomize overlays build offline and their YAML passes the validators; the values that must agree do.

- every overlay builds with `kubectl kustomize`; built-in kinds validate with kubernetes-validate --strict;
- the ScheduledWorkflow validates against its CRD schema subset (tests/deploy/schemas/, jsonschema);
- platform.env is the one place per overlay: bucket, GSA, GPU type and registry reach the objects that need them;
- no Secret values anywhere, only references by name; every o3v object is labelled for `make undeploy`;
- `make -n deploy` / `make -n undeploy` run the intended kubectl commands.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import jsonschema
import kubernetes_validate
import pytest
import yaml
from manifest_tools import OVERLAYS, PLATFORM_KEYS, ROOT, find, kustomize_build, project_version, read_platform_env

from components import _platform

K8S_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())
PART_OF = {"app.kubernetes.io/part-of": "o3v"}
SWF_SCHEMA = json.loads((ROOT / "tests" / "deploy" / "schemas" / "scheduledworkflow.v1beta1.json").read_text())
UNLABELLED = {("Namespace", "kubeflow"), ("PersistentVolumeClaim", "o3v-checkpoints")}
CLUSTER_SCOPED = {"Namespace", "PriorityClass", "ClusterRole", "ClusterRoleBinding", "ClusterTrainingRuntime"}
# Validated against the Trainer schema instead (tests/deploy/test_trainer_runtime.py).
CUSTOM_KINDS = {"ClusterTrainingRuntime"}


def pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    """(workload name, pod spec) for every Job in the build."""
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in docs if d["kind"] == "Job"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_with_the_expected_objects(built, overlay):
    kinds = sorted({d["kind"] for d in built[overlay]})
    assert kinds == sorted(
        {
            "Namespace",
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "ConfigMap",
            "ResourceQuota",
            "PriorityClass",
            "NetworkPolicy",
            "Job",
            "PersistentVolumeClaim",
            "ClusterRole",
            "ClusterRoleBinding",
            "ClusterTrainingRuntime",
        }
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("k8s_version", K8S_VERSIONS)
def test_builtin_kinds_validate_strict(built, overlay, k8s_version):
    for doc in built[overlay]:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, k8s_version, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{overlay}: {doc['kind']}/{doc['metadata']['name']} invalid for k8s {k8s_version}: {err}")


def test_strict_validation_catches_a_typo(built):
    """The validator the test above relies on rejects an unknown field (so passing it means something)."""
    job = copy.deepcopy(find(built["dev"], "Job", "o3v-preflight-storage"))
    job["spec"]["template"]["spec"]["containers"][0]["resourcez"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="resourcez"):
        kubernetes_validate.validate(job, K8S_VERSIONS[0], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lives_in_the_kfp_namespace_and_is_labelled(built, overlay):
    for doc in built[overlay]:
        key = (doc["kind"], doc["metadata"]["name"])
        labels = doc["metadata"].get("labels", {})
        if key in UNLABELLED:
            assert "app.kubernetes.io/part-of" not in labels, f"{key} must survive `make undeploy`"
        else:
            assert PART_OF.items() <= labels.items(), f"{overlay}: {key} lacks the o3v label (undeploy misses it)"
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == _platform.NAMESPACE, f"{overlay}: {key} outside kubeflow"
        else:
            assert "namespace" not in doc["metadata"], f"{overlay}: cluster-scoped {key} must not name a namespace"
    for name, _spec in pod_specs(built[overlay]):
        template_labels = next(d for d in built[overlay] if d["metadata"]["name"] == name)["spec"]["template"]
        assert PART_OF.items() <= template_labels["metadata"]["labels"].items(), f"{name}: pods not selected"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_only_references(built, overlay):
    assert not [d for d in built[overlay] if d["kind"] == "Secret"], "secrets are created by hand, never in Git"
    refs = []
    for _name, spec in pod_specs(built[overlay]):
        for container in spec["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.append((ref["name"], ref["key"], env["name"]))
                else:  # plain values must not look like credentials
                    assert not any(w in env["name"].upper() for w in ("KEY", "TOKEN", "PASSWORD", "SECRET")), env
    expected = [(_platform.TEACHER_SECRET, key, var) for key, var in _platform.TEACHER_SECRET_ENV.items()]
    assert refs == expected


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_platform_env_reaches_every_object(built, overlay):
    env = read_platform_env(overlay)
    assert set(env) == PLATFORM_KEYS
    docs = built[overlay]
    platform_cm = find(docs, "ConfigMap", "o3v-platform")
    assert platform_cm["data"] == env
    # pods that read it point at the generated (hash-suffixed) name, i.e. kustomize resolved the reference
    storage = find(docs, "Job", "o3v-preflight-storage")["spec"]["template"]["spec"]["containers"][0]
    assert storage["envFrom"] == [{"configMapRef": {"name": platform_cm["metadata"]["name"]}}]
    launcher = find(docs, "ConfigMap", "kfp-launcher")
    assert launcher["data"]["defaultPipelineRoot"] == f"gs://{env['O3V_BUCKET']}/pipeline-root"
    providers = yaml.safe_load(launcher["data"]["providers"])
    assert providers == {"gs": {"default": {"credentials": {"fromEnv": True}}}}
    sa = find(docs, "ServiceAccount", _platform.SERVICE_ACCOUNT)
    gsa = sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert gsa == env["O3V_GSA"] and gsa.endswith(f"@{env['O3V_GCP_PROJECT']}.iam.gserviceaccount.com")
    assert env["O3V_REGISTRY"].split("/")[1] == env["O3V_GCP_PROJECT"], "Artifact Registry path names the project"
    # no placeholder survived the replacements
    rendered = yaml.safe_dump_all(docs)
    assert "SET_BY_OVERLAY" not in rendered and "BUCKET_SET" not in rendered


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_follow_the_registry_and_the_package_version(built, overlay):
    env = read_platform_env(overlay)
    images = {c["image"] for _, spec in pod_specs(built[overlay]) for c in spec["containers"]}
    version = project_version()
    assert images == {f"{env['O3V_REGISTRY']}/o3v-cpu:{version}", f"{env['O3V_REGISTRY']}/o3v-cuda:{version}"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gpu_pods_target_the_gpu_pool(built, overlay):
    env = read_platform_env(overlay)
    docs = built[overlay]
    priority_classes = {d["metadata"]["name"] for d in docs if d["kind"] == "PriorityClass"}
    gpu_specs = [
        spec
        for _, spec in pod_specs(docs)
        if any("nvidia.com/gpu" in c["resources"].get("limits", {}) for c in spec["containers"])
    ]
    assert gpu_specs, "the GPU preflight must request a GPU"
    for spec in gpu_specs:
        assert spec["nodeSelector"] == {_platform.GPU_NODE_LABEL: env["O3V_GPU_ACCELERATOR"]}
        assert _platform.GPU_TOLERATION in spec["tolerations"]
        assert spec["priorityClassName"] == _platform.TRAINING_PRIORITY_CLASS in priority_classes
    quota = find(docs, "ResourceQuota", "o3v-gpus")["spec"]["hard"]["requests.nvidia.com/gpu"]
    assert int(quota) >= (8 if overlay == "gke-prod" else 1), "prod must fit one full 8-GPU node"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_as_the_pipeline_service_account_non_root(built, overlay):
    for name, spec in pod_specs(built[overlay]):
        assert spec["serviceAccountName"] == _platform.SERVICE_ACCOUNT, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert "limits" in container["resources"] and "memory" in container["resources"]["limits"], name
    binding = find(built[overlay], "RoleBinding", "o3v-pipeline-runner")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pipeline-runner"}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": _platform.SERVICE_ACCOUNT, "namespace": _platform.NAMESPACE}
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_selects_o3v_pods_and_limits_egress(built, overlay):
    policy = find(built[overlay], "NetworkPolicy", "o3v-egress")["spec"]
    assert policy["podSelector"] == {"matchLabels": _platform.POD_LABELS}
    assert policy["policyTypes"] == ["Egress"]
    rules = policy["egress"]
    # nothing unrestricted: every rule names destinations
    assert all(rule.get("to") for rule in rules)
    open_ports = [r for r in rules if any("ipBlock" in t and t["ipBlock"]["cidr"] == "0.0.0.0/0" for t in r["to"])]
    assert len(open_ports) == 1
    assert open_ports[0]["ports"] == [{"protocol": "TCP", "port": 443}]
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(open_ports[0]["to"][0]["ipBlock"]["except"])
    dns = [r for r in rules if {"protocol": "UDP", "port": 53} in r.get("ports", [])]
    assert dns, "pods cannot resolve names without a DNS rule"


def test_gke_prod_gpu_preflight_waits_to_be_resumed(built):
    assert find(built["gke-prod"], "Job", "o3v-preflight-gpu")["spec"]["suspend"] is True
    assert "suspend" not in find(built["dev"], "Job", "o3v-preflight-gpu")["spec"]


def test_component_defaults_equal_the_gke_prod_overlay():
    """components/_platform.py and _image.py without any O3V_* variable name exactly gke-prod's values."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("O3V_")}
    code = (
        "import json; from components import _image as i, _platform as p; "
        "print(json.dumps({'O3V_GCP_PROJECT': p.GCP_PROJECT, 'O3V_BUCKET': p.BUCKET, 'O3V_REGISTRY': i.REGISTRY, "
        "'O3V_GPU_ACCELERATOR': p.GPU_ACCELERATOR}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    env = read_platform_env("gke-prod")
    assert json.loads(proc.stdout) == {k: env[k] for k in json.loads(proc.stdout)}


def test_platform_env_rejects_shell_syntax(tmp_path, monkeypatch):
    """platform.env stays plain KEY=value, which both kustomize and `set -a; . file` read the same way."""
    import manifest_tools

    overlay = tmp_path / "manifests" / "overlays" / "x"
    overlay.mkdir(parents=True)
    (overlay / "platform.env").write_text("O3V_BUCKET=$(whoami)\n")
    monkeypatch.setattr(manifest_tools, "ROOT", tmp_path)
    with pytest.raises(ValueError, match="platform.env:1"):
        manifest_tools.read_platform_env("x")


# ---- the recurring run ----
def scheduled_workflow() -> dict:
    (doc,) = kustomize_build(ROOT / "manifests" / "schedule")
    return doc


def test_scheduled_workflow_matches_its_crd_schema():
    swf = scheduled_workflow()
    jsonschema.validate(swf, SWF_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert swf["metadata"]["namespace"] == _platform.NAMESPACE
    assert swf["spec"]["serviceAccount"] == _platform.SERVICE_ACCOUNT


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("spec", "maxConcurency"), 1, "Additional properties"),
        (("spec", "maxConcurrency"), 11, "greater than the maximum"),
        (("spec", "trigger", "cronSchedule", "cron"), "0 3 * * 1", "does not match"),
        (("spec", "workflow", "parameters"), [{"name": "model", "value": 7}], "is not of type 'string'"),
        (("kind",), "ScheduledWorkFlow", "was expected"),
    ],
)
def test_scheduled_workflow_schema_rejects(path, value, message):
    swf = scheduled_workflow()
    node = swf
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError, match=message):
        jsonschema.validate(swf, SWF_SCHEMA)


def test_schedule_is_not_deployed_and_cron_matches_the_makefile():
    for overlay in OVERLAYS:
        text = (ROOT / "manifests" / "overlays" / overlay / "kustomization.yaml").read_text()
        assert "schedule" not in text, "the ScheduledWorkflow must come from the API server, not kubectl apply"
    makefile = (ROOT / "Makefile").read_text()
    cron = next(line.split("?=", 1)[1].strip() for line in makefile.splitlines() if line.startswith("CRON ?="))
    assert scheduled_workflow()["spec"]["trigger"]["cronSchedule"]["cron"] == cron


def test_schedule_parameters_equal_the_params_file():
    params = json.loads((ROOT / "manifests" / "schedule" / "retrain-params.json").read_text())
    stored = {p["name"]: json.loads(p["value"]) for p in scheduled_workflow()["spec"]["workflow"]["parameters"]}
    assert stored == params


# ---- make ----
# Under `make test` these run as sub-makes: drop the parent's MAKELEVEL/MAKEFLAGS, or make prints
# "Entering directory" lines around the dry-run output.
_MAKE_ENV = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "O3V_REGISTRY")}


def _make_n(*args: str) -> str:
    proc = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, env=_MAKE_ENV)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_make_deploy_and_undeploy(overlay):
    assert _make_n("deploy", f"OVERLAY={overlay}").strip() == f"kubectl apply -k manifests/overlays/{overlay}"
    assert (
        _make_n("undeploy", f"OVERLAY={overlay}").strip()
        == f"kubectl delete -k manifests/overlays/{overlay} -l app.kubernetes.io/part-of=o3v"
    )


def test_make_images_use_the_pipeline_registry():
    proc = subprocess.run(
        ["make", "-n", "images"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**_MAKE_ENV, "O3V_REGISTRY": "r.example/o3v"},
    )
    assert proc.stdout.strip() == "bash images/build.sh build r.example/o3v"

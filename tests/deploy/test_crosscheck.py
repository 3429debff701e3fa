"""The compiled pipeline and the manifests name the same images, bucket, service account, pod labels, GPU pool,
volume and secret, per overlay.

For each overlay the pipelines are compiled the way docs/deploy.md says (`set -a; . platform.env; make compile`,
here a subprocess with that environment), then compared with the kustomize build of the same overlay. The service
account travels with the run request, not the IR, so it is checked on the request `make schedule` sends (against
the stub KFP API of tests/pipelines) and on the ScheduledWorkflow kept in manifests/schedule/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from manifest_tools import OVERLAYS, ROOT, find, kustomize_build, read_platform_env

pytestmark = pytest.mark.skipif(
    not (ROOT / "pipelines" / "compile.py").exists(), reason="pipelines/ not written yet: nothing to cross-check"
)


def overlay_env(overlay: str) -> dict[str, str]:
    """This process's environment without O3V_* variables, plus the overlay's platform.env."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("O3V_")}
    return {**clean, **read_platform_env(overlay)}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, dict[str, list[dict]]]:
    """{overlay: {pipeline file stem: [PipelineSpec, PlatformSpec?]}} compiled with that overlay's platform.env."""
    result = {}
    for overlay in OVERLAYS:
        out = tmp_path_factory.mktemp(f"ir-{overlay}")
        proc = subprocess.run(
            [sys.executable, "-m", "pipelines.compile", "--out", str(out)],
            cwd=ROOT,
            env=overlay_env(overlay),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, f"make compile failed for {overlay}:\n{proc.stderr[-3000:]}"
        result[overlay] = {
            path.stem: [d for d in yaml.safe_load_all(path.read_text()) if d] for path in sorted(out.glob("*.yaml"))
        }
        assert result[overlay], f"{overlay}: the compiler wrote no pipeline"
    return result


def executors(docs: list[dict]) -> dict[str, dict]:
    return docs[0]["deploymentSpec"]["executors"]


def platform_executors(docs: list[dict]) -> dict[str, dict]:
    if len(docs) < 2:
        return {}
    return docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def manifest_pod_specs(docs: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in docs if d["kind"] == "Job"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_same_images(compiled, built, overlay):
    manifest_images = {c["image"] for spec in manifest_pod_specs(built[overlay]).values() for c in spec["containers"]}
    pipeline_images = set()
    for name, docs in compiled[overlay].items():
        images = {e["container"]["image"] for e in executors(docs).values() if "container" in e}
        assert images <= manifest_images, f"{overlay}/{name}: images {images - manifest_images} not in the manifests"
        pipeline_images |= images
    assert pipeline_images == manifest_images, "both images are used by the pipeline and by the manifests"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_same_bucket(compiled, built, overlay):
    root = find(built[overlay], "ConfigMap", "kfp-launcher")["data"]["defaultPipelineRoot"]
    bucket = re.fullmatch(r"gs://([^/]+)/.*", root).group(1)
    seen = set()
    for name, docs in compiled[overlay].items():
        text = yaml.safe_dump_all(docs)
        buckets = set(re.findall(r"gs://([a-z0-9][a-z0-9._-]*[a-z0-9])", text))
        assert buckets <= {bucket}, f"{overlay}/{name} names bucket(s) {buckets - {bucket}}; kfp-launcher: {bucket}"
        if docs[0].get("defaultPipelineRoot"):
            assert docs[0]["defaultPipelineRoot"] == root, f"{overlay}/{name}: pipeline root differs"
        seen |= buckets
    assert seen == {bucket}, f"{overlay}: no compiled pipeline names the bucket (the artifact store default)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_step_pod_is_covered_by_the_egress_policy(compiled, built, overlay):
    selector = find(built[overlay], "NetworkPolicy", "o3v-egress")["spec"]["podSelector"]["matchLabels"]
    for name, docs in compiled[overlay].items():
        configs = platform_executors(docs)
        for executor, spec in executors(docs).items():
            if "container" not in spec:  # importer: run by KFP's own launcher image, not o3v code
                continue
            labels = configs.get(executor, {}).get("podMetadata", {}).get("labels", {})
            assert selector.items() <= labels.items(), (
                f"{overlay}/{name}/{executor}: pod labels {labels} miss {selector}, so the egress NetworkPolicy does "
                "not apply to this step; wrap the task with pipelines._options.labelled() (or on_cpu/on_gpu)"
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gpu_steps_go_to_the_same_pool_as_the_manifests(compiled, built, overlay):
    gpu_preflight = manifest_pod_specs(built[overlay])["o3v-preflight-gpu"]
    gpu_steps = 0
    for name, docs in compiled[overlay].items():
        configs = platform_executors(docs)
        for executor, spec in executors(docs).items():
            resources = spec.get("container", {}).get("resources", {})
            if "accelerator" not in resources:
                continue
            gpu_steps += 1
            config = configs.get(executor, {})
            assert config.get("nodeSelector", {}).get("labels") == gpu_preflight["nodeSelector"], (
                f"{overlay}/{name}/{executor}: GPU node pool differs from the manifests"
            )
            assert config.get("tolerations") == gpu_preflight["tolerations"], f"{overlay}/{name}/{executor}"
    assert gpu_steps, f"{overlay}: no compiled step requests an accelerator"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_volumes_and_secrets_the_pipeline_mounts_exist_in_the_manifests(compiled, built, overlay):
    pvcs = {d["metadata"]["name"] for d in built[overlay] if d["kind"] == "PersistentVolumeClaim"}
    secret_refs = {
        (env["valueFrom"]["secretKeyRef"]["name"], env["valueFrom"]["secretKeyRef"]["key"])
        for spec in manifest_pod_specs(built[overlay]).values()
        for container in spec["containers"]
        for env in container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    for name, docs in compiled[overlay].items():
        for executor, config in platform_executors(docs).items():
            for mount in config.get("pvcMount", []):
                claim = mount.get("constant") or mount.get("pvcNameParameter", {}).get("runtimeValue", {}).get(
                    "constant"
                )
                assert claim in pvcs, f"{overlay}/{name}/{executor} mounts PVC {claim!r}; manifests have {pvcs}"
            for secret in config.get("secretAsEnv", []):
                secret_name = secret.get("secretName") or secret["secretNameParameter"]["runtimeValue"]["constant"]
                for key in secret["keyToEnv"]:
                    assert (secret_name, key["secretKey"]) in secret_refs, (
                        f"{overlay}/{name}/{executor} reads secret {secret_name}/{key['secretKey']}; "
                        f"the manifests reference {secret_refs}"
                    )


SCHEDULE_SCRIPT = """
import importlib.util, json, sys, tempfile
from pathlib import Path
spec = importlib.util.spec_from_file_location("kfp_stub", "tests/pipelines/kfp_stub.py")
stub_mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(stub_mod)
from pipelines import schedule
params = json.loads(Path("manifests/schedule/retrain-params.json").read_text())
cron = sys.argv[1]
with stub_mod.KfpStub() as stub, tempfile.TemporaryDirectory() as out:
    schedule.create_schedule(stub.url, cron, params=params, out_dir=Path(out))
print(json.dumps(stub.posted("/recurringruns")[0]))
"""


def test_make_schedule_request_matches_the_scheduled_workflow_and_the_service_account(built):
    if not (ROOT / "pipelines" / "schedule.py").exists() or not (ROOT / "tests/pipelines/kfp_stub.py").exists():
        pytest.skip("pipelines/schedule.py or the stub KFP API not written yet")
    (swf,) = kustomize_build(ROOT / "manifests" / "schedule")
    cron = swf["spec"]["trigger"]["cronSchedule"]["cron"]
    proc = subprocess.run(
        [sys.executable, "-c", SCHEDULE_SCRIPT, cron],
        cwd=ROOT,
        env=overlay_env("gke-prod"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    body = json.loads(proc.stdout.strip().splitlines()[-1])
    spec = swf["spec"]
    # the service account: request == ScheduledWorkflow == the ServiceAccount and RoleBinding in the manifests
    sa = find(built["gke-prod"], "ServiceAccount", body["service_account"])
    binding = find(built["gke-prod"], "RoleBinding", "o3v-pipeline-runner")
    assert body["service_account"] == spec["serviceAccount"] == sa["metadata"]["name"]
    assert binding["subjects"][0]["name"] == body["service_account"]
    assert body["trigger"]["cron_schedule"]["cron"] == cron
    assert body["max_concurrency"] in (spec["maxConcurrency"], str(spec["maxConcurrency"]))
    assert body["no_catchup"] == spec["noCatchup"]
    assert (body.get("mode") == "ENABLE") == spec["enabled"]
    stored = {p["name"]: json.loads(p["value"]) for p in spec["workflow"]["parameters"]}
    assert body["runtime_config"]["parameters"] == stored
    # the pipeline the schedule runs is the gke-prod compile: same images as the manifests
    images = {
        e["container"]["image"]
        for e in body["pipeline_spec"]["pipeline_spec"]["deploymentSpec"]["executors"].values()
        if "container" in e
    }
    manifest_images = {
        c["image"] for spec in manifest_pod_specs(built["gke-prod"]).values() for c in spec["containers"]
    }
    assert images and images <= manifest_images


def test_overlay_env_really_changes_the_compile(compiled):
    """Guards the test's own premise: dev and gke-prod compile to different registries and buckets."""
    dev = yaml.safe_dump_all(compiled["dev"]["o3v-retrain"])
    prod = yaml.safe_dump_all(compiled["gke-prod"]["o3v-retrain"])
    assert read_platform_env("dev")["O3V_REGISTRY"] in dev and read_platform_env("dev")["O3V_REGISTRY"] not in prod
    assert Path(ROOT / "manifests" / "overlays" / "dev" / "platform.env").exists()

"""Every pipeline compiles, its YAML parses strictly (PipelineSpec + PlatformSpec protobufs), and the cluster
settings (GPUs, node pool, tolerations, timeouts, resources, retries, caching) are in the compiled spec."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp.kubernetes import kubernetes_executor_config_pb2
from kfp.pipeline_spec import pipeline_spec_pb2

from components import _image, _platform
from pipelines import compile as compile_mod

PIPELINES = sorted(compile_mod.all_pipelines())
GPU_EXECUTORS = {"exec-train-sft", "exec-train-gspo", "exec-evaluate-benchmark", "exec-vllm-server"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("compiled")
    assert compile_mod.main(["--out", str(out)]) == 0
    return {name: out / f"{name}.yaml" for name in PIPELINES}


def _docs(path: Path) -> tuple[dict, dict]:
    docs = list(yaml.safe_load_all(path.read_text()))
    assert len(docs) == 2, f"{path.name}: expected PipelineSpec and PlatformSpec documents"
    return docs[0], docs[1]


def test_every_pipeline_is_compiled(compiled: dict[str, Path]) -> None:
    assert {"o3v", "o3v-manifest", "o3v-retrain", "o3v-rerun-eval", "o3v-rerun-sft"} <= set(compiled)
    assert all(p.is_file() for p in compiled.values())


@pytest.mark.parametrize("name", PIPELINES)
def test_yaml_parses_strictly(compiled: dict[str, Path], name: str) -> None:
    spec, platform = _docs(compiled[name])
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # unknown fields raise ParseError
    json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())
    for executor, cfg in platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].items():
        json_format.ParseDict(cfg, kubernetes_executor_config_pb2.KubernetesExecutorConfig())
        assert cfg["podMetadata"]["labels"] == _platform.POD_LABELS, executor


@pytest.mark.parametrize("name", PIPELINES)
def test_images_and_no_runtime_installs(compiled: dict[str, Path], name: str) -> None:
    spec, _ = _docs(compiled[name])
    for exec_name, executor in spec["deploymentSpec"]["executors"].items():
        if "importer" in executor:
            continue
        container = executor["container"]
        gpu = _base_name(exec_name) in GPU_EXECUTORS or "base-model" in exec_name
        want = _image.O3V_GPU_IMAGE if gpu else _image.O3V_IMAGE
        assert container["image"] == want, exec_name
        assert "pip install" not in " ".join(container["command"]), exec_name


def _base_name(exec_name: str) -> str:
    """`exec-train-gspo-3` -> `exec-train-gspo` (the compiler numbers a component's second and later tasks)."""
    return re.sub(r"-\d+$", "", exec_name)


def _gpu_executors(spec: dict) -> dict[str, dict]:
    return {k: v for k, v in spec["deploymentSpec"]["executors"].items() if _base_name(k) in GPU_EXECUTORS}


@pytest.mark.parametrize(
    "name",
    ["o3v", "o3v-manifest", "o3v-retrain", "o3v-reproduce", "o3v-rerun-sft", "o3v-rerun-gspo", "o3v-rerun-eval"],
)
def test_gpu_stages_request_accelerators_on_the_gpu_pool(compiled: dict[str, Path], name: str) -> None:
    spec, platform = _docs(compiled[name])
    gpu = _gpu_executors(spec)
    assert gpu, f"{name} has no GPU stage"
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for exec_name, executor in gpu.items():
        accel = executor["container"]["resources"]["accelerator"]
        # type and count are pipeline parameters, resolved at run time; a training step asks what step_gpus says
        # (accelerator_count in one pod, 0 when num_nodes > 1 makes it launch a TrainJob)
        launcher = exec_name.startswith("exec-train-") and "rerun" not in name
        count = "step-gpus-Output" if launcher else "accelerator_count"
        count = "vllm_server_gpus" if exec_name == "exec-vllm-server" else count
        assert "accelerator_type" in accel["resourceType"] and count in accel["resourceCount"], exec_name
        cfg = k8s[exec_name]
        assert cfg["nodeSelector"]["labels"] == {_platform.GPU_NODE_LABEL: _platform.GPU_ACCELERATOR}
        assert cfg["tolerations"] == [_platform.GPU_TOLERATION]
        assert int(cfg["activeDeadlineSeconds"]) >= 3600
        assert {m["mountPath"] for m in cfg["emptyDirMounts"]} == {"/dev/shm"}
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["accelerator_type"]["defaultValue"] == "nvidia.com/gpu"
    assert params["accelerator_count"]["defaultValue"] == 1


def test_annotation_has_a_deadline(compiled: dict[str, Path]) -> None:
    _, platform = _docs(compiled["o3v"])
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert int(k8s["exec-annotate"]["activeDeadlineSeconds"]) == 24 * 3600


def test_training_mounts_the_checkpoint_volume(compiled: dict[str, Path]) -> None:
    _, platform = _docs(compiled["o3v"])
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for exec_name in ("exec-train-sft", "exec-train-gspo"):
        (pvc,) = k8s[exec_name]["pvcMount"]
        assert pvc["mountPath"] == "/mnt/o3v-checkpoints" and pvc["constant"] == "o3v-checkpoints"


def test_training_exposes_its_tensorboard_logs_to_the_ui(compiled: dict[str, Path]) -> None:
    # the UI's TensorBoard viewer reads an output artifact named mlpipeline_ui_metadata (type "tensorboard")
    spec, _ = _docs(compiled["o3v"])
    for comp in ("comp-train-sft", "comp-train-gspo"):
        outputs = spec["components"][comp]["outputDefinitions"]["artifacts"]
        assert outputs["mlpipeline_ui_metadata"]["artifactType"]["schemaTitle"] == "system.Artifact"


def test_tensorboard_ui_metadata_points_at_the_models_event_files() -> None:
    from types import SimpleNamespace

    from o3v.artifacts.stages.train import tensorboard_ui_metadata

    model = SimpleNamespace(uri="gs://bucket/run/train-sft/model/")
    source = "gs://bucket/run/train-sft/model/tensorboard"
    assert tensorboard_ui_metadata(model) == {"outputs": [{"type": "tensorboard", "source": source}]}


def _all_tasks(component: dict, components: dict) -> dict[str, dict]:
    """Every task in a DAG, nested condition/loop groups included."""
    out = {}
    for name, task in component.get("dag", {}).get("tasks", {}).items():
        out[name] = task
        child = components.get(task.get("componentRef", {}).get("name", ""), {})
        out.update(_all_tasks(child, components))
    return out


def test_data_stages_request_cpu_and_memory_and_retry(compiled: dict[str, Path]) -> None:
    spec, _ = _docs(compiled["o3v"])
    for exec_name in ("exec-annotate", "exec-filter-records", "exec-check-records", "exec-validate"):
        res = spec["deploymentSpec"]["executors"][exec_name]["container"]["resources"]
        assert res["resourceCpuRequest"] and res["resourceMemoryRequest"] and res["resourceMemoryLimit"]
    tasks = _all_tasks(spec["root"], spec["components"])
    retry = tasks["filter-records"]["retryPolicy"]
    assert retry["maxRetryCount"] == 2 and retry["backoffDuration"] and retry["backoffFactor"] == 2.0
    assert tasks["train-sft"]["retryPolicy"]["maxRetryCount"] == 2


def test_deterministic_stages_cache_and_store_steps_do_not(compiled: dict[str, Path]) -> None:
    spec, _ = _docs(compiled["o3v"])
    tasks = _all_tasks(spec["root"], spec["components"])
    for name in ("synth-world", "annotate", "filter-records", "check-records", "train-sft", "train-gspo"):
        assert tasks[name]["cachingOptions"] == {"enableCache": True}, name
    publishes = [n for n in tasks if n.startswith("publish-version")]
    assert len(publishes) == 3 and all(tasks[n].get("cachingOptions", {}) == {} for n in publishes)


def test_every_result_knob_is_a_pipeline_parameter(compiled: dict[str, Path]) -> None:
    spec, _ = _docs(compiled["o3v"])
    params = set(spec["root"]["inputDefinitions"]["parameters"])
    assert {
        "model",
        "max_frames",
        "fps",
        "min_pixels",
        "max_pixels",
        "seed",
        "synth_seed",
        "videos",
        "faults",
        "sft_config",
        "gspo_config",
        "eval_config",
        "curate_config",
        "benchmarks",
    } <= params


def test_gates_stop_the_run_with_a_report(compiled: dict[str, Path]) -> None:
    spec, _ = _docs(compiled["o3v"])
    tasks = _all_tasks(spec["root"], spec["components"])
    by_label = {t["taskInfo"]["name"]: t for t in tasks.values()}
    for suite in ("raw", "filtered", "consistent"):
        assert by_label[f"gate-{suite}-failed"]["triggerPolicy"]["condition"].endswith("== false")
        assert by_label[f"gate-{suite}-passed"]["triggerPolicy"]["condition"].endswith("== true")
        assert f"stop: gate {suite} failed" in by_label
    assert sum(n.startswith("report-gate-failure") for n in tasks) == 3
    assert sum(n.startswith("stop-run") for n in tasks) == 3


@pytest.mark.parametrize("name", PIPELINES)
def test_every_task_input_resolves_in_its_enclosing_component(compiled: dict[str, Path], name: str) -> None:
    """Each `componentInputParameter`/`componentInputArtifact` a task reads is an input of the DAG around it.

    Guards a KFP 2.17 compiler gap: resource values given as pipeline parameters (accelerator type/count)
    are not routed into nested condition/loop groups unless a task also takes them as an argument, which
    leaves a dangling reference that fails at run time (pipelines pass `hardware=` for that reason).
    """
    spec, _ = _docs(compiled[name])
    comps = {"root": spec["root"], **spec["components"]}
    for comp_name, comp in comps.items():
        defined = comp.get("inputDefinitions", {})
        params, artifacts = set(defined.get("parameters", {})), set(defined.get("artifacts", {}))
        for task_name, task in comp.get("dag", {}).get("tasks", {}).items():
            for key, value in task.get("inputs", {}).get("parameters", {}).items():
                ref = value.get("componentInputParameter")
                assert ref is None or ref in params, f"{comp_name}/{task_name}.{key} reads missing input {ref}"
            for key, value in task.get("inputs", {}).get("artifacts", {}).items():
                ref = value.get("componentInputArtifact")
                assert ref is None or ref in artifacts, f"{comp_name}/{task_name}.{key} reads missing input {ref}"

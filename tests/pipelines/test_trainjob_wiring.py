"""Multi-node wiring: `num_nodes` is a parameter of the training pipelines, reaches the SFT and GSPO steps and
their GPU request, and the compiled SFT step's own body submits a TrainJob (validated against the Trainer schema)
when num_nodes > 1 -- run here against a stand-in cluster that executes the job's nodes as the torch runtime would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import train
from o3v.artifacts import provenance as pv
from o3v.train import trainjob
from o3v.train.trainer_schema import validate
from pipelines import compile as compile_mod

TRAINING_PIPELINES = ("o3v", "o3v-manifest", "o3v-retrain")


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("compiled")
    assert compile_mod.main(["--out", str(out)]) == 0
    return {name: next(yaml.safe_load_all((out / f"{name}.yaml").read_text())) for name in TRAINING_PIPELINES}


def _tasks(component: dict, components: dict) -> dict[str, dict]:
    out = {}
    for name, task in component.get("dag", {}).get("tasks", {}).items():
        out[name] = task
        out.update(_tasks(components.get(task.get("componentRef", {}).get("name", ""), {}), components))
    return out


@pytest.mark.parametrize("name", TRAINING_PIPELINES)
def test_num_nodes_reaches_both_training_steps_and_their_gpu_request(specs, name):
    spec = specs[name]
    assert spec["root"]["inputDefinitions"]["parameters"]["num_nodes"]["defaultValue"] == 1
    tasks = _tasks(spec["root"], spec["components"])
    gpus = tasks["step-gpus"]["inputs"]["parameters"]
    assert gpus["num_nodes"]["componentInputParameter"].endswith("num_nodes")
    assert gpus["accelerator_count"]["componentInputParameter"].endswith("accelerator_count")
    for step in ("train-sft", "train-gspo"):
        assert tasks[step]["inputs"]["parameters"]["num_nodes"]["componentInputParameter"].endswith("num_nodes")
        count = spec["deploymentSpec"]["executors"][f"exec-{step}"]["container"]["resources"]["accelerator"]
        assert "step-gpus-Output" in count["resourceCount"], "a launcher step must not hold the job's GPUs"


def test_step_gpus():
    assert train.step_gpus.python_func(num_nodes=1, accelerator_count=8) == 8
    assert train.step_gpus.python_func(num_nodes=4, accelerator_count=8) == 0


class Plain:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.uri, self.metadata = str(path), str(path), {}

    def log_metric(self, metric: str, value: float) -> None:
        self.metadata[metric] = value


class StandInCluster:
    """A TrainerClient on a pretend cluster: the SDK's own Kubernetes backend builds the TrainJob, and the 'nodes'
    write what rank 0 of `o3v sft` writes, so the step can finish as it would on GKE."""

    def __init__(self) -> None:
        from kubeflow.trainer.backends.kubernetes.backend import KubernetesBackend

        self.backend = KubernetesBackend.__new__(KubernetesBackend)
        self.backend.custom_api, self.backend.core_api, self.backend.namespace = trainjob._Recorder(), None, "kubeflow"
        self.submitted: list[dict[str, Any]] = []

    def train(self, runtime, trainer, options) -> str:
        name = self.backend.train(runtime=runtime, trainer=trainer, options=options)
        job = self.backend.custom_api.created[-1]
        self.submitted.append(job)
        args = job["spec"]["trainer"]["args"]
        out = Path(args[args.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "checkpoints" / "checkpoint-2").mkdir(parents=True)
        (out / "model.safetensors").write_bytes(b"weights")
        (out / "metrics.json").write_text(json.dumps({"stage": "sft", "global_step": 2, "loss_last": 1.5}))
        return name

    def get_job(self, name):
        return type("Job", (), {"status": "Complete"})()

    def get_job_logs(self, name, follow=False):
        return iter(["step 2/2 loss 1.5"])


def test_the_sft_step_submits_a_trainjob_when_num_nodes_is_above_one(tmp_path, monkeypatch):
    cluster = StandInCluster()
    monkeypatch.setattr(trainjob, "kubernetes_client", lambda namespace: cluster)
    data = Plain(tmp_path / "kept")
    Path(data.path).mkdir()
    (Path(data.path) / "records.jsonl").write_text("{}\n")
    start = Plain(tmp_path / "base")
    Path(start.path).mkdir()
    (Path(start.path) / "model_ref.json").write_text(json.dumps({"name_or_path": "Qwen/Qwen2.5-VL-7B-Instruct"}))
    outs = {k: Plain(tmp_path / "out" / k) for k in ("model", "metrics", "curves", "ui")}
    Path(outs["model"].path).mkdir()
    train.train_sft.python_func(
        dataset=data, start=start, config="qwen2.5-vl-7b", overrides={"max_steps": 2}, knobs={"seed": 0},
        hardware={"accelerator_type": "nvidia.com/gpu", "accelerator_count": 8}, checkpoint_root=str(tmp_path / "ck"),
        model=outs["model"], metrics=outs["metrics"], curves=outs["curves"], mlpipeline_ui_metadata=outs["ui"],
        num_nodes=2,
    )  # fmt: skip
    (job,) = cluster.submitted
    assert validate(job) == []
    trainer = job["spec"]["trainer"]
    assert trainer["numNodes"] == 2 and trainer["resourcesPerNode"]["limits"] == {"nvidia.com/gpu": "8"}
    assert trainer["args"][:2] == ["-m", "o3v.train.sft"]
    assert trainer["args"][trainer["args"].index("--base-model") + 1] == "Qwen/Qwen2.5-VL-7B-Instruct"
    model_dir = Path(outs["model"].path)
    assert (model_dir / "model.safetensors").is_file() and not (model_dir / "checkpoints").exists()
    launch = pv.read_local(model_dir).config["launch"]
    assert launch == {"launcher": "trainjob", "backend": "kubernetes", "num_nodes": 2, "gpus_per_node": 8,
                      "runtime": trainjob.RUNTIME, "trainjob": job["metadata"]["name"]}  # fmt: skip


@pytest.mark.parametrize("name", TRAINING_PIPELINES)
def test_vllm_server_pod_runs_beside_gspo_when_asked(specs, name):
    spec = specs[name]
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["vllm_server_gpus"]["defaultValue"] == 0, "no server pod unless a run asks for one"
    tasks = _tasks(spec["root"], spec["components"])
    server, gspo = tasks["vllm-server"], tasks["train-gspo"]
    # the server serves the SFT model GSPO starts from, and both meet at the same place for this run
    assert server["inputs"]["artifacts"]["model"]["componentInputArtifact"] == "pipelinechannel--train-sft-model"
    assert gspo["inputs"]["artifacts"]["start"]["taskOutputArtifact"]["producerTask"] == "train-sft"
    for key in ("rollout_root",):  # the same source (a condition group renames pipeline parameters)
        same = [json.dumps(t["inputs"]["parameters"][key]).replace("pipelinechannel--", "") for t in (server, gspo)]
        assert same[0] == same[1], key
    assert "pipeline_job" not in json.dumps(gspo["inputs"]), "a per-run input would defeat GSPO's cache"
    assert "vllm-server" not in json.dumps(gspo.get("dependentTasks", [])), "GSPO must not wait for the server"
    conditions = [t["triggerPolicy"]["condition"] for t in tasks.values() if "triggerPolicy" in t]
    assert any("vllm_server_gpus" in c and "> 0" in c for c in conditions), conditions
    resources = spec["deploymentSpec"]["executors"]["exec-vllm-server"]["container"]["resources"]["accelerator"]
    assert "vllm_server_gpus" in resources["resourceCount"]
    assert (
        spec["deploymentSpec"]["executors"]["exec-vllm-server"]["container"]["image"]
        .split("/")[-1]
        .startswith("o3v-cuda:")
    )

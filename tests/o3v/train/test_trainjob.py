"""The Kubeflow Trainer launcher: launcher choice, the node command, log following and failure reasons, and one
TrainJob of the tiny SFT run end to end through the Kubeflow SDK's local process backend."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from o3v.artifacts import provenance as pv
from o3v.artifacts.stages import train as stage_train
from o3v.cli import build_parser
from o3v.train import trainjob

FAST = {"max_steps": 1, "save_steps": 1, "logging_steps": 1, "max_frames": 4, "per_device_train_batch_size": 2,
        "tensorboard": False}  # fmt: skip


@pytest.mark.parametrize(
    ("num_nodes", "launcher", "backend"),
    [(1, "auto", None), (2, "auto", "kubernetes"), (1, "trainjob", "kubernetes"), (1, "local-trainjob", "local")],
)
def test_backend_for(num_nodes, launcher, backend):
    assert trainjob.backend_for(num_nodes, launcher) == backend


@pytest.mark.parametrize(
    ("num_nodes", "launcher", "message"),
    [(0, "auto", "num_nodes must be >= 1"), (2, "pod", "needs a TrainJob"), (2, "local-trainjob", "runs one node"),
     (1, "slurm", "launcher must be one of")],
)  # fmt: skip
def test_backend_for_rejects(num_nodes, launcher, message):
    with pytest.raises(ValueError, match=message):
        trainjob.backend_for(num_nodes, launcher)


def test_every_node_runs_the_single_pod_entry_point():
    overrides = {"max_steps": 3, "tasks": ["temporal_qa"]}
    launch = trainjob.Launch("gspo", "gs://b/pr/kept", "gs://b/trainjob-checkpoints/gspo/k", "qwen3-vl-8b",
                             overrides, "gs://b/pr/sft/model", resume=True)  # fmt: skip
    command, args = trainjob.node_command(launch)
    assert command == ["torchrun"] and args[:2] == ["-m", "o3v.train.gspo"]
    parsed = build_parser().parse_args(["gspo", *args[2:]])  # what `o3v gspo` / `-m o3v.train.gspo` parses
    assert (parsed.data, parsed.out, parsed.config) == ("/gcs/b/pr/kept", "/gcs/b/trainjob-checkpoints/gspo/k",
                                                        "qwen3-vl-8b")  # fmt: skip
    assert json.loads(parsed.overrides) == {"max_steps": 3, "tasks": ["temporal_qa"]}
    assert parsed.base_model == "/gcs/b/pr/sft/model" and parsed.resume


def test_training_root_is_the_bucket_for_cluster_data():
    assert trainjob.training_root("gs://bkt/pipeline-root/x/kept", "/mnt/c") == "gs://bkt/trainjob-checkpoints"
    assert trainjob.training_root("/local/kept", "/mnt/c") == "/mnt/c"
    with pytest.raises(ValueError, match="checkpoint_root"):
        trainjob.training_root("/local/kept", "")


@dataclass
class FakeClient:
    """A TrainerClient whose job goes through `statuses` while its log grows by one line per poll."""

    statuses: list[str]
    lines: list[str]
    backend: Any = None
    polls: int = 0

    def get_job(self, name):
        status = self.statuses[min(self.polls, len(self.statuses) - 1)]
        self.polls += 1
        return type("Job", (), {"status": status})()

    def get_job_logs(self, name, follow=False):
        return iter(["\n".join(self.lines[: self.polls])])


def test_follow_streams_each_line_once_until_complete():
    client = FakeClient(["Created", "Running", "Running", "Complete"], ["a", "b", "c", "d"])
    seen: list[str] = []
    assert trainjob.follow(client, "j", sink=seen.append, poll_s=0) == "Complete"
    assert seen == ["a", "b", "c", "d"]


def test_follow_fails_with_the_jobs_reason():
    class Api:  # a cluster TrainJob's Failed condition, as the custom-objects API returns it
        def get_namespaced_custom_object(self, *args):
            cond = {"type": "Failed", "status": "True", "reason": "JobSetFailed", "message": "node-1 OOMKilled"}
            return {"status": {"conditions": [cond]}}

    backend = SimpleNamespace(custom_api=Api(), namespace="kubeflow")  # what the SDK's Kubernetes backend holds
    client = FakeClient(["Running", "Failed"], ["step 1", "Traceback: boom"], backend=backend)
    with pytest.raises(trainjob.TrainJobError, match=r"(?s)JobSetFailed: node-1 OOMKilled.*Traceback: boom"):
        trainjob.follow(client, "j", sink=lambda line: None, poll_s=0)


@dataclass
class Art:
    """Quacks like a KFP artifact (path, uri, metadata, log_metric)."""

    path: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return self.path

    def log_metric(self, metric: str, value: float) -> None:
        self.metadata.setdefault("logged", {})[metric] = value


def _train(stage_dir: Path, data: Path, tiny_model: Path, launcher: str) -> tuple[dict, Art]:
    arts = {name: Art(str(stage_dir / name)) for name in ("model", "metrics", "curves")}
    (stage_dir / "curves").parent.mkdir(parents=True, exist_ok=True)
    result = stage_train.train(
        "sft", Art(str(data)), Art(str(tiny_model)), arts["model"], arts["metrics"], arts["curves"],
        config="tiny-cpu", overrides=FAST, knobs={"seed": 0}, hardware={"accelerator_count": 0},
        checkpoint_root=str(stage_dir / "ckpt"), launcher=launcher,
    )  # fmt: skip
    return result, arts["model"]


def test_a_failing_local_trainjob_fails_with_its_reason(train_data, tiny_model, tmp_path):
    """The SDK's local process backend end to end (venv, entry point, logs, status) on a job that fails fast."""
    launch = trainjob.Launch("sft", str(train_data["sft"]), str(tmp_path / "out"), "no-such-recipe",
                             base_model=str(tiny_model), gpus_per_node=0)  # fmt: skip
    lines: list[str] = []
    client = trainjob.local_client()
    name = trainjob.submit(client, trainjob._absolute(launch), "local")
    with pytest.raises(
        trainjob.TrainJobError, match=r"failed: errors: o3v sft: error: no sft config named 'no-such-recipe'"
    ):
        trainjob.follow(client, name, sink=lines.append, poll_s=0.5)
    assert any("no sft config named" in line for line in lines), "the job's log reached the step log"


@pytest.mark.slow
def test_local_trainjob_trains_the_tiny_sft_like_the_single_pod(train_data, tiny_model, tmp_path, monkeypatch):
    """One TrainJob through `TrainerClient(LocalProcessBackendConfig())`: the model artifact and its provenance
    are what the in-pod path writes, plus which launcher, runtime and job trained it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result, model = _train(tmp_path / "tj", train_data["sft"], tiny_model, "local-trainjob")
    assert result["global_step"] == 1 and result["stage"] == "sft"
    folder = Path(model.path)
    assert {"model.safetensors", "config.json", "metrics.json", "model_card.md", "provenance.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert not (folder / "checkpoints").exists(), "checkpoints stay in the training folder"
    prov = pv.read_local(folder)
    launch = prov.config["launch"]
    assert launch["launcher"] == "trainjob" and launch["backend"] == "local"
    assert launch["num_nodes"] == 1 and launch["runtime"] == "torch-distributed (local process)"
    assert launch["trainjob"].startswith("o3v-sft-")
    assert prov.stage == "sft" and {p.role for p in prov.parents} == {"dataset", "base_model"}
    assert model.metadata["stage"] == "sft"


@pytest.mark.slow
def test_trainjob_and_pod_write_the_same_artifact(train_data, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, pod = _train(tmp_path / "pod", train_data["sft"], tiny_model, "pod")
    _, job = _train(tmp_path / "tj", train_data["sft"], tiny_model, "local-trainjob")
    files = [sorted(str(p.relative_to(a.path)) for p in Path(a.path).rglob("*")) for a in (pod, job)]
    assert files[0] == files[1]
    configs = [pv.read_local(Path(a.path)).config for a in (pod, job)]
    assert configs[0]["launch"].keys() == configs[1]["launch"].keys()
    assert {k: v for k, v in configs[0].items() if k != "launch"} == {
        k: v for k, v in configs[1].items() if k != "launch"
    }


def test_cli_dry_run_prints_a_valid_trainjob(capsys):
    import yaml

    from o3v.cli import main
    from o3v.train.trainer_schema import validate

    argv = ["trainjob", "gspo", "--data", "gs://b/pr/kept", "--out", "gs://b/trainjob-checkpoints/gspo/k",
            "--config", "qwen2.5-vl-7b", "--num-nodes", "2", "--set", "max_steps=50", "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    job = yaml.safe_load(capsys.readouterr().out)
    assert validate(job) == [] and job["spec"]["trainer"]["numNodes"] == 2
    assert json.loads(job["spec"]["trainer"]["args"][job["spec"]["trainer"]["args"].index("--overrides") + 1]) == {
        "max_steps": 50
    }
    assert main([*argv[:-3], "--num-nodes", "0", "--dry-run"]) == 2
    assert "num_nodes must be >= 1" in capsys.readouterr().err

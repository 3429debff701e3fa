"""Model stages for KFP components: the base model, SFT and GSPO (resumable across task restarts).

Resume: a KFP task that is killed and rerun gets a fresh output path, so checkpoints written there would be
lost. Training therefore runs in `checkpoint_root/<stage>/<key>`, a folder that outlives the task (a PVC on
a cluster, a project folder locally), keyed by everything the result depends on (input content hashes,
recipe, overrides, code). A rerun with the same inputs finds the checkpoints and continues from the latest one;
the finished model is then copied (without `checkpoints/`) into the task's output artifact.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from o3v.artifacts.stages.common import (
    ArtifactLike,
    MetricsLike,
    finish,
    parent,
    typed_knobs,
    whole_numbers_as_int,
    write_metrics,
)

log = logging.getLogger(__name__)

MODEL_REF = "model_ref.json"
TINY = {"tiny-qwen2.5-vl": "qwen2_5_vl", "tiny-qwen3-vl": "qwen3_vl"}


def base_model(model: str, out: ArtifactLike, *, seed: int = 0) -> str:
    """The starting checkpoint: a tiny offline model built in place, or a reference to a hub id / path.

    A real checkpoint (`Qwen/Qwen2.5-VL-7B-Instruct`) is not copied into the artifact store: the artifact
    holds `model_ref.json` naming it, and training loads it through `o3v.model.load_model` as usual.
    """
    out_dir = Path(out.path)
    t0 = time.perf_counter()
    if model in TINY:
        from o3v.model import build_tiny

        build_tiny(out_dir, arch=TINY[model], seed=seed)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / MODEL_REF).write_text(json.dumps({"name_or_path": model}) + "\n")
    finish(out, "base-model", {}, {"model": model, "seed": seed}, {"model": model}, time.perf_counter() - t0)
    return model


def model_source(art: ArtifactLike) -> str:
    """What `load_model` should open for a model artifact: its folder, or the id its `model_ref.json` names."""
    ref = Path(art.path) / MODEL_REF
    return json.loads(ref.read_text())["name_or_path"] if ref.is_file() else art.path


# Pipeline knob -> training recipe field (o3v.train.config.O3VFields / TrainingArguments).
KNOB_FIELDS = {
    "seed": "seed",
    "fps": "fps",
    "max_frames": "max_frames",
    "min_pixels": "frame_min_pixels",
    "max_pixels": "frame_max_pixels",
}


def train_overrides(overrides: dict | None, knobs: dict | None) -> dict[str, Any]:
    """Recipe overrides from the pipeline's knobs (0 = keep the recipe's value, except the seed).

    Explicit `overrides` win over knobs; an unknown knob is an error naming it.

    >>> train_overrides({"max_steps": 2}, {"seed": 0, "fps": 0.0, "max_frames": 8})
    {'seed': 0, 'max_frames': 8, 'max_steps': 2}
    """
    out: dict[str, Any] = {}
    for knob, value in typed_knobs(knobs).items():
        if knob not in KNOB_FIELDS:
            raise ValueError(f"unknown training knob {knob!r}; expected one of {sorted(KNOB_FIELDS)}")
        if value or knob == "seed":
            out[KNOB_FIELDS[knob]] = value
    return {**out, **whole_numbers_as_int(dict(overrides or {}))}


def code_identity() -> str:
    """What identifies the training code: the local run's source fingerprint (`O3V_CODE`, set by
    pipelines/run.py), else the git sha (baked into images as `O3V_GIT_SHA`), else the package version."""
    from o3v.artifacts.provenance import code_version

    code = code_version()
    return os.environ.get("O3V_CODE") or code["git_sha"] or str(code["version"])


def work_dir(checkpoint_root: str, stage: str, inputs: dict[str, ArtifactLike], config: str, overrides: dict) -> Path:
    """The resumable training folder for these exact inputs, settings and code (module docstring).

    The code is part of the key: checkpoints written by other code are not resumed (a fixed loss must
    retrain, not pick up the old run's finished checkpoints).
    """
    hashes = {role: parent(role, art).tree_hash for role, art in sorted(inputs.items())}
    key_src = json.dumps(
        {"inputs": hashes, "config": config, "overrides": overrides, "code": code_identity()},
        sort_keys=True,
        default=str,
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    return Path(checkpoint_root) / stage / key


def train(
    stage: str,
    dataset: ArtifactLike,
    start: ArtifactLike,
    model: ArtifactLike,
    metrics: MetricsLike,
    curves: ArtifactLike,
    *,
    config: str,
    overrides: dict[str, Any],
    knobs: dict[str, Any] | None = None,
    hardware: dict[str, Any] | None = None,
    checkpoint_root: str = "",
    extra_inputs: dict[str, ArtifactLike | None] | None = None,
    ui_metadata: ArtifactLike | None = None,
    num_nodes: int = 1,
    launcher: str = "auto",
    rollout_root: str = "",
) -> dict[str, Any]:
    """Run `o3v.train.<stage>.run` resumably and publish its model folder, metrics and curves.

    The model folder carries the run's TensorBoard event files (`tensorboard/`); `ui_metadata` (the KFP
    output `mlpipeline_ui_metadata`) points the Kubeflow Pipelines UI's TensorBoard viewer at them.
    With `num_nodes` > 1 (or `launcher` "trainjob" / "local-trainjob") the same entry point runs as a Kubeflow
    Trainer TrainJob (o3v.train.trainjob) and this step follows it; outputs and provenance are the same.
    GSPO with `rollouts: vllm_server` claims the run's vLLM server pod (under `rollout_root`, vllm_server.py).
    """
    import importlib

    from o3v.train import trainjob, vllm_server

    run = importlib.import_module(f"o3v.train.{stage}").run
    overrides = train_overrides(overrides, knobs)
    inputs = {"dataset": dataset, "base_model": start}
    backend = trainjob.backend_for(num_nodes, launcher)
    server = vllm_server.rendezvous(rollout_root, start.uri) if rollout_root else ""
    gpus = int(typed_knobs(hardware).get("accelerator_count", 0) or 0)
    t0 = time.perf_counter()
    if backend is not None:
        root = trainjob.training_root(dataset.uri, checkpoint_root).rstrip("/")
        work = f"{root}/{work_dir('', stage, inputs, config, overrides).as_posix()}"
        job = trainjob.Launch(stage, dataset.path, work, config, overrides, model_source(start), num_nodes=num_nodes,
                              gpus_per_node=gpus)  # fmt: skip
        with vllm_server.for_run(stage, config, overrides, server) as run_overrides:
            job = dataclasses.replace(job, overrides=run_overrides)
            result, launch, resume = trainjob.train_stage(job, backend, model.path)
        settings = {"config": config, "overrides": overrides, "resumed": resume, "hardware": typed_knobs(hardware),
                    "launch": launch}  # fmt: skip
        return _publish(stage, result, model, metrics, curves, ui_metadata, inputs, extra_inputs, settings, t0)
    launch = trainjob.pod_record(gpus)
    scratch = None
    if checkpoint_root:
        work = work_dir(checkpoint_root, stage, inputs, config, overrides)
    else:
        scratch = tempfile.mkdtemp(prefix=f"o3v-{stage}-")
        work = Path(scratch)
    resume = (work / "checkpoints").is_dir() and any((work / "checkpoints").iterdir())
    log.info("%s: training in %s (%s)", stage, work, "resuming from its checkpoints" if resume else "fresh")
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        with vllm_server.for_run(stage, config, overrides, server) as run_overrides:
            result = run(dataset.path, work, config, run_overrides, model_source(start), resume)
        shutil.copytree(work, model.path, ignore=shutil.ignore_patterns("checkpoints"), dirs_exist_ok=True)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    settings = {"config": config, "overrides": overrides, "resumed": resume, "hardware": typed_knobs(hardware),
                "launch": launch}  # fmt: skip
    return _publish(stage, result, model, metrics, curves, ui_metadata, inputs, extra_inputs, settings, t0)


def _publish(
    stage: str,
    result: dict[str, Any],
    model: ArtifactLike,
    metrics: MetricsLike,
    curves: ArtifactLike,
    ui_metadata: ArtifactLike | None,
    inputs: dict[str, ArtifactLike],
    extra_inputs: dict[str, ArtifactLike | None] | None,
    settings: dict[str, Any],
    t0: float,
) -> dict[str, Any]:
    """Provenance, metrics, curves and the TensorBoard link of a trained model folder (pod or TrainJob)."""
    summary = {k: v for k, v in result.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    finish(model, stage, {**inputs, **(extra_inputs or {})}, settings, summary, time.perf_counter() - t0)
    write_metrics(
        metrics,
        {k: v for k, v in result.items() if k not in ("curves", "environment")},
        stage,
        {"model": model},
        settings,
    )
    Path(curves.path).write_text(curves_html(stage, Path(model.path), result))
    if (Path(model.path) / "tensorboard").is_dir():
        model.metadata["tensorboard"] = tensorboard_uri(model)
        if ui_metadata is not None:
            Path(ui_metadata.path).write_text(json.dumps(tensorboard_ui_metadata(model)), encoding="utf-8")
    return result


def tensorboard_uri(model: ArtifactLike) -> str:
    """The log directory of a model artifact's TensorBoard event files (`<model uri>/tensorboard`)."""
    return model.uri.rstrip("/") + "/tensorboard"


def tensorboard_ui_metadata(model: ArtifactLike) -> dict[str, Any]:
    """KFP UI metadata that opens the TensorBoard viewer on the model's event files (gs:// or a local path)."""
    return {"outputs": [{"type": "tensorboard", "source": tensorboard_uri(model)}]}


def curves_html(stage: str, model_dir: Path, metrics: dict[str, Any]) -> str:
    """One self-contained page: the run's curve PNGs (embedded) above its metrics table."""
    imgs = []
    for name in metrics.get("curves") or []:
        png = model_dir / name
        if png.is_file():
            data = base64.b64encode(png.read_bytes()).decode()
            imgs.append(
                f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(name)}</figcaption></figure>"
            )
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(json.dumps(v, default=str))}</td></tr>"
        for k, v in metrics.items()
        if k not in ("curves",)
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>o3v {stage}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em}img{max-width:640px}td{padding:2px 8px;"
        "border-bottom:1px solid #ddd;font-family:monospace}</style></head><body>"
        f"<h1>o3v {html.escape(stage.upper())} training</h1>{''.join(imgs) or '<p>No curves were written.</p>'}"
        f"<table>{rows}</table></body></html>\n"
    )


def serve_model(
    model: ArtifactLike, root: str, *, gpus: int = 1, gpu_memory_utilization: float = 0.9, max_model_len: int = 0
) -> dict[str, Any]:
    """The pipeline's vLLM server step: serve the model artifact (the SFT model GSPO starts from) for this run,
    until the run's GSPO step releases it (`o3v.train.vllm_server`: readiness, rendezvous, shutdown)."""
    from o3v.train import vllm_server

    command = vllm_server.server_command(
        model_source(model), gpus=gpus, gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len
    )
    return vllm_server.serve(command, vllm_server.rendezvous(root, model.uri))

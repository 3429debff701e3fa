"""Model components: the base checkpoint, SFT and GSPO (GPU image; resumable through `checkpoint_root`).

SFT and GSPO take `num_nodes`: 1 trains in the step's own pod; more makes the step submit and follow a Kubeflow
Trainer TrainJob with the same entry point (o3v.train.trainjob), and `step_gpus` then asks no GPU for the step.
"""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from components._image import O3V_GPU_IMAGE, O3V_IMAGE

GPU = {"base_image": O3V_GPU_IMAGE, "install_kfp_package": False}
CPU = {"base_image": O3V_IMAGE, "install_kfp_package": False}


@dsl.component(**CPU)
def step_gpus(num_nodes: int, accelerator_count: int) -> int:
    """GPUs the SFT/GSPO step pod requests: `accelerator_count` when it trains, 0 when it launches a TrainJob."""
    from o3v.train.trainjob import step_gpus as gpus

    return gpus(num_nodes, accelerator_count)


@dsl.component(**GPU)
def base_model(model: str, seed: int, out: Output[Model]):
    """The starting checkpoint: `tiny-qwen2.5-vl`/`tiny-qwen3-vl` built offline, or a hub id / path reference."""
    from o3v.artifacts.stages import train

    train.base_model(model, out, seed=seed)


@dsl.component(**GPU)
def train_sft(
    dataset: Input[Dataset],
    start: Input[Model],
    config: str,
    overrides: dict,
    knobs: dict,
    hardware: dict,
    checkpoint_root: str,
    model: Output[Model],
    metrics: Output[Metrics],
    curves: Output[HTML],
    mlpipeline_ui_metadata: Output[Artifact],
    gate: Input[Metrics] = None,
    world: Input[Dataset] = None,
    num_nodes: int = 1,
):
    """SFT cold start on the curated records.

    `world` (the videos the records point to) is an input so a cluster pod downloads it next to the data;
    `hardware` (accelerator type and count) is recorded in the model's provenance. The model carries its
    TensorBoard event files (`tensorboard/`); `mlpipeline_ui_metadata` opens them in the UI's TensorBoard viewer.
    """
    from o3v.artifacts.stages import train

    train.train(
        "sft",
        dataset,
        start,
        model,
        metrics,
        curves,
        config=config,
        overrides=overrides,
        knobs=knobs,
        hardware=hardware,
        checkpoint_root=checkpoint_root,
        extra_inputs={"gate": gate, "world": world},
        ui_metadata=mlpipeline_ui_metadata,
        num_nodes=num_nodes,
    )


@dsl.component(**GPU)
def train_gspo(
    dataset: Input[Dataset],
    start: Input[Model],
    config: str,
    overrides: dict,
    knobs: dict,
    hardware: dict,
    checkpoint_root: str,
    model: Output[Model],
    metrics: Output[Metrics],
    curves: Output[HTML],
    mlpipeline_ui_metadata: Output[Artifact],
    world: Input[Dataset] = None,
    num_nodes: int = 1,
    rollout_root: str = "",
):
    """GSPO with the grounded rewards, starting from the SFT model.

    With `rollouts: vllm_server` it uses the run's vLLM server pod, met under `rollout_root`.
    """
    from o3v.artifacts.stages import train

    train.train(
        "gspo",
        dataset,
        start,
        model,
        metrics,
        curves,
        config=config,
        overrides=overrides,
        knobs=knobs,
        hardware=hardware,
        checkpoint_root=checkpoint_root,
        extra_inputs={"world": world},
        ui_metadata=mlpipeline_ui_metadata,
        num_nodes=num_nodes,
        rollout_root=rollout_root,
    )

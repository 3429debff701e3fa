"""Model components: the base checkpoint, SFT and GSPO (GPU image; resumable through `checkpoint_root`)."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from components._image import O3V_GPU_IMAGE

GPU = {"base_image": O3V_GPU_IMAGE, "install_kfp_package": False}


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
):
    """GSPO with the grounded rewards, starting from the SFT model."""
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
    )

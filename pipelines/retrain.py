"""Scheduled retraining: SFT -> GSPO -> eval -> report on the latest published dataset version.

    make schedule CRON="0 0 3 * * 1"      # pipelines/schedule.py creates a recurring run of this pipeline

Each run resolves `stgr-curated@latest` in the o3v store when it starts (the fetch step is never cached), plus
the media version that dataset was published with, so a schedule picks up whatever curation published last;
the fetched copies' provenance names the exact versions, and the new model is the next `o3v-model` version.
"""

from kfp import dsl

from components import _platform as platform
from components import control, evaluate, train
from pipelines._options import TIMEOUTS_S, on_cpu, on_gpu, uncached
from pipelines.end_to_end import (
    CHECKPOINT_MOUNT,
    DEFAULT_BENCHMARKS,
    GPU_RESOURCE,
    hardware_of,
    knobs_of,
    sft_then_gspo,
)


@dsl.pipeline(name="o3v-retrain", description="Retrain SFT -> GSPO from the latest curated dataset version; eval.")
def retrain_pipeline(
    dataset_ref: str = "stgr-curated@latest",
    store_uri: str = platform.ARTIFACT_STORE,
    model: str = "tiny-qwen3-vl",
    sft_config: str = "tiny-cpu",
    sft_overrides: dict = {},  # noqa: B006 - KFP parameter default
    gspo_config: str = "tiny-cpu",
    gspo_overrides: dict = {},  # noqa: B006
    seed: int = 0,
    fps: float = 0.0,
    max_frames: int = 0,
    min_pixels: int = 0,
    max_pixels: int = 0,
    benchmarks: list = DEFAULT_BENCHMARKS,
    eval_config: str = "tiny-cpu",
    eval_overrides: dict = {},  # noqa: B006
    checkpoint_root: str = CHECKPOINT_MOUNT,
    accelerator_type: str = GPU_RESOURCE,
    accelerator_count: int = 1,
    num_nodes: int = 1,
    vllm_server_gpus: int = 0,
):
    p = dict(locals())  # every parameter by name, before any task is created
    fetched = uncached(on_cpu(control.fetch_dataset(ref=dataset_ref, store_uri=store_uri)))
    fetched.set_display_name("dataset@latest")
    dataset, world = fetched.outputs["dataset"], fetched.outputs["media"]
    base = on_cpu(train.base_model(model=model, seed=seed)).set_display_name("base model")
    sft, gspo = sft_then_gspo(dataset, world, base.outputs["out"], p)
    knobs, hardware = knobs_of(p), hardware_of(p)
    uncached(
        on_cpu(
            control.publish_version(
                artifact=gspo.outputs["model"], name="o3v-model", kind="model", store_uri=store_uri
            )
        )
    )
    with dsl.ParallelFor(benchmarks, parallelism=2, name="benchmarks") as bench:
        ev = evaluate.evaluate_benchmark(
            model=gspo.outputs["model"],
            world=world,
            benchmark=bench,
            config=eval_config,
            overrides=eval_overrides,
            knobs=knobs,
            hardware=hardware,
        )
        on_gpu(ev, accelerator_type, accelerator_count, timeout_s=TIMEOUTS_S["eval"])
    on_cpu(
        evaluate.build_report(
            results=dsl.Collected(ev.outputs["results"]),
            world=world,
            sft_metrics=sft.outputs["metrics"],
            gspo_metrics=gspo.outputs["metrics"],
        )
    )

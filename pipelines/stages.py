"""Single-stage rerun pipelines: every stage on its own, inputs taken by artifact URI (`dsl.importer`).

    make stage-run STAGE=eval MODEL=<model uri> [DATA=<world or benchmark folder uri>]
    python -m pipelines.run --stage sft --data <curated dataset uri> --model <base model uri>

Use them from the UI or the CLI to redo one step on existing artifacts: re-evaluate a checkpoint, re-gate a
dataset with new thresholds, continue training from a published model. URIs are what an earlier run wrote
(`gs://...` on a cluster, a local path from `local_outputs/` locally) or a store version's `files/` folder.
"""

from kfp import dsl
from kfp.dsl import Dataset, Model

from components import control, data, evaluate, train
from pipelines._options import TIMEOUTS_S, labelled, on_cpu, on_gpu, with_checkpoints, with_teacher_secret
from pipelines.end_to_end import CHECKPOINT_MOUNT, DEFAULT_BENCHMARKS, GPU_RESOURCE


def _dataset(uri):
    return dsl.importer(artifact_uri=uri, artifact_class=Dataset, reimport=False).output


def _model(uri):
    return dsl.importer(artifact_uri=uri, artifact_class=Model, reimport=False).output


@dsl.pipeline(name="o3v-rerun-annotate", description="Annotate a world or manifest folder given by URI.")
def rerun_annotate(source_uri: str, curate_config: dict = {}):  # noqa: B006 - KFP parameter default
    with_teacher_secret(on_cpu(data.annotate(source=_dataset(source_uri), config=curate_config)))


@dsl.pipeline(name="o3v-rerun-validate", description="Run one Great Expectations gate on a dataset URI.")
def rerun_validate(dataset_uri: str, suite: str = "consistent", curate_config: dict = {}):  # noqa: B006
    g = on_cpu(data.validate(dataset=_dataset(dataset_uri), suite=suite, config=curate_config))
    with dsl.If(g.outputs["Output"] == False, name="gate-failed"):  # noqa: E712 - a KFP condition
        why = on_cpu(control.report_gate_failure(verdict=g.outputs["verdict"]), retries=0)
        labelled(control.stop_run(message=why.outputs["Output"]))


@dsl.pipeline(name="o3v-rerun-filter", description="Filter a dataset given by URI.")
def rerun_filter(dataset_uri: str, curate_config: dict = {}):  # noqa: B006
    on_cpu(data.filter_records(dataset=_dataset(dataset_uri), config=curate_config))


@dsl.pipeline(name="o3v-rerun-check", description="Consistency-check a dataset given by URI.")
def rerun_check(dataset_uri: str, curate_config: dict = {}):  # noqa: B006
    on_cpu(data.check_records(dataset=_dataset(dataset_uri), config=curate_config))


def _knobs(seed, fps, max_frames, min_pixels, max_pixels) -> dict:
    return {"seed": seed, "fps": fps, "max_frames": max_frames, "min_pixels": min_pixels, "max_pixels": max_pixels}


def _train_rerun(stage: str, component):
    """SFT or GSPO on a dataset URI from a model URI (a base model, or the SFT model for GSPO).

    `world_uri` is the folder the records' videos live in (the dataset's media), downloaded into the pod.
    """

    @dsl.pipeline(name=f"o3v-rerun-{stage}", description=f"{stage.upper()} on a dataset URI from a model URI.")
    def rerun(
        dataset_uri: str,
        model_uri: str,
        world_uri: str,
        config: str = "tiny-cpu",
        overrides: dict = {},  # noqa: B006
        seed: int = 0,
        fps: float = 0.0,
        max_frames: int = 0,
        min_pixels: int = 0,
        max_pixels: int = 0,
        checkpoint_root: str = CHECKPOINT_MOUNT,
        accelerator_type: str = GPU_RESOURCE,
        accelerator_count: int = 1,
    ):
        t = component(
            dataset=_dataset(dataset_uri),
            world=_dataset(world_uri),
            start=_model(model_uri),
            config=config,
            overrides=overrides,
            knobs=_knobs(seed, fps, max_frames, min_pixels, max_pixels),
            hardware={"accelerator_type": accelerator_type, "accelerator_count": accelerator_count},
            checkpoint_root=checkpoint_root,
        )
        with_checkpoints(on_gpu(t, accelerator_type, accelerator_count, timeout_s=TIMEOUTS_S[stage]))

    return rerun


rerun_sft = _train_rerun("sft", train.train_sft)
rerun_gspo = _train_rerun("gspo", train.train_gspo)


@dsl.pipeline(name="o3v-rerun-eval", description="Evaluate a model URI on the benchmark files of a world URI.")
def rerun_eval(
    model_uri: str,
    world_uri: str,
    benchmarks: list = DEFAULT_BENCHMARKS,
    eval_config: str = "tiny-cpu",
    eval_overrides: dict = {},  # noqa: B006
    seed: int = 0,
    fps: float = 0.0,
    max_frames: int = 0,
    min_pixels: int = 0,
    max_pixels: int = 0,
    accelerator_type: str = GPU_RESOURCE,
    accelerator_count: int = 1,
):
    knobs = _knobs(seed, fps, max_frames, min_pixels, max_pixels)
    hardware = {"accelerator_type": accelerator_type, "accelerator_count": accelerator_count}
    model, world = _model(model_uri), _dataset(world_uri)
    with dsl.ParallelFor(benchmarks, parallelism=2, name="benchmarks") as bench:
        ev = evaluate.evaluate_benchmark(
            model=model,
            world=world,
            benchmark=bench,
            config=eval_config,
            overrides=eval_overrides,
            knobs=knobs,
            hardware=hardware,
        )
        on_gpu(ev, accelerator_type, accelerator_count, timeout_s=TIMEOUTS_S["eval"])
    on_cpu(evaluate.build_report(results=dsl.Collected(ev.outputs["results"]), world=world))


@dsl.pipeline(name="o3v-rerun-report", description="Rebuild the report from eval result URIs.")
def rerun_report(result_uris: list, world_uri: str):
    with dsl.ParallelFor(result_uris, name="results") as uri:
        res = dsl.importer(artifact_uri=uri, artifact_class=Dataset, reimport=False)
    on_cpu(evaluate.build_report(results=dsl.Collected(res.output), world=_dataset(world_uri)))


@dsl.pipeline(name="o3v-rerun-synth", description="Regenerate the synthetic world (no inputs: parameters only).")
def rerun_synth(videos: int = 8, seed: int = 0, faults: float = 0.2):
    on_cpu(data.synth_world(videos=videos, seed=seed, faults=faults))


# STAGE name (make stage-run STAGE=...) -> its rerun pipeline.
RERUNS = {
    "synth": rerun_synth,
    "annotate": rerun_annotate,
    "validate": rerun_validate,
    "filter": rerun_filter,
    "check": rerun_check,
    "sft": rerun_sft,
    "gspo": rerun_gspo,
    "eval": rerun_eval,
    "report": rerun_report,
}

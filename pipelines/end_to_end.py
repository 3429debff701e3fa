"""The full o3v DAG: source -> annotate -> gate -> filter -> gate -> check -> gate -> SFT -> GSPO -> eval -> report.

    python -m pipelines.run                      # run it locally on the embedded default (make pipeline-run)
    python -m pipelines.compile --out build/pipelines

Two pipelines share every stage: `o3v` (the embedded synthetic world as source) and `o3v-manifest` (your own
videos: a folder with manifest.jsonl + videos, and a benchmark folder, both by URI).

Gates: each Great Expectations gate step returns pass/fail. On a pass the next stage runs inside `dsl.If`; on
a fail, a second `dsl.If` branch writes the stopped-run report (a Markdown artifact naming the gate and its
failed expectations) and a `stop_run` step then fails the run with the gate's summary in its log. The gate
step itself succeeds, so its Data Docs page is kept (a failed step's outputs are not uploaded on a cluster).

Defaults are the embedded CPU setting (tiny model, tiny-cpu recipes); on a cluster pass e.g.
`model=Qwen/Qwen2.5-VL-7B-Instruct sft_config=qwen2.5-vl-7b gspo_config=qwen2.5-vl-7b` -- same code path.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kfp import dsl
from kfp.dsl import Dataset

from components import _platform as platform
from components import control, data, evaluate, rollouts, train
from pipelines._options import (
    CHECKPOINT_MOUNT,
    TIMEOUTS_S,
    labelled,
    on_cpu,
    on_gpu,
    on_vllm_server,
    uncached,
    with_checkpoints,
    with_teacher_secret,
    with_timeout,
)

# Benchmark files inside a synthetic world (docs/architecture.md); a real benchmark folder uses the same paths.
# "eval": the benchmark's own eval config keys, under the run's eval_overrides. The synthetic file mixes six task
# types, so the config's 200 samples would hold only ~50 temporal ones: it gets the first 1,500 of the default
# world's ~1,700 records (whole videos, every task type: 558 temporal, 216 box, 1,284 evidence samples in the run
# of 2026-12-04; generation runs at ~30 samples/s on one core).
# Longest first: the loop runs two at a time in list order, so the two long evals (synthetic ~110 s, V-STaR ~80 s on 2
# cores) start together and the short ones follow V-STaR (2026-12-06, a slow day: the eval phase took 146 s in the
# order vstar, tvgbench, videomme, synthetic, and 126 s in this one).
DEFAULT_BENCHMARKS = [
    {"name": "synthetic", "annotations": "benchmarks/synthetic/records.jsonl", "eval": {"limit": 1500}},
    {"name": "vstar", "annotations": "benchmarks/vstar/V_STaR_test.json"},
    {"name": "tvgbench", "annotations": "benchmarks/tvgbench/tvgbench.json"},
    {"name": "videomme", "annotations": "benchmarks/videomme/videomme/test-00000-of-00001.parquet"},
]
GPU_RESOURCE = "nvidia.com/gpu"
KNOBS = ("seed", "fps", "max_frames", "min_pixels", "max_pixels")


def gate(dataset, suite: str, curate_config):
    """A gate step plus its failure branch; returns the gate task (its "Output" is True when it passed)."""
    g = on_cpu(data.validate(dataset=dataset, suite=suite, config=curate_config)).set_display_name(f"gate: {suite}")
    with dsl.If(g.outputs["Output"] == False, name=f"gate-{suite}-failed"):  # noqa: E712 - a KFP condition
        why = on_cpu(control.report_gate_failure(verdict=g.outputs["verdict"]), retries=0)
        labelled(control.stop_run(message=why.outputs["Output"]).set_display_name(f"stop: gate {suite} failed"))
    return g


def passed(g, suite: str):
    """The condition under which the stages after gate `g` run."""
    return dsl.If(g.outputs["Output"] == True, name=f"gate-{suite}-passed")  # noqa: E712 - a KFP condition


def knobs_of(p: dict) -> dict:
    """The frame and seed knobs every training and eval step records."""
    return {k: p[k] for k in KNOBS}


def hardware_of(p: dict) -> dict:
    """Accelerator type and count, also passed as an argument: it is recorded in provenance, and it makes KFP 2.17
    route these parameters into nested condition/loop groups (resource placeholders alone are not propagated)."""
    return {"accelerator_type": p["accelerator_type"], "accelerator_count": p["accelerator_count"]}


def sft_step(dataset, world, start, p: dict, gate=None) -> tuple:
    """The SFT step on the GPU pool with checkpoints; returns (sft task, GPUs-per-step task, accelerator).

    `num_nodes` > 1: each training step submits a Kubeflow Trainer TrainJob of `num_nodes` x `accelerator_count`
    GPUs and follows it, asking no GPU for itself (`step_gpus`).
    """
    gpus = on_cpu(train.step_gpus(num_nodes=p["num_nodes"], accelerator_count=p["accelerator_count"]))
    accel = (p["accelerator_type"], gpus.set_display_name("GPUs per training step").output)
    gated = {} if gate is None else {"gate": gate}
    sft = train.train_sft(
        start=start, config=p["sft_config"], overrides=p["sft_overrides"], **gated, **_train_inputs(dataset, world, p)
    )
    with_checkpoints(on_gpu(sft, *accel, timeout_s=TIMEOUTS_S["sft"]).set_display_name("SFT")).after(gpus)
    return sft, gpus, accel


def gspo_step(sft, dataset, world, p: dict, gpus, accel, overrides, *, server: bool = True, name: str = "GSPO"):
    """A GSPO step from the SFT task's model; `server`: with the optional vLLM rollout server pod before it."""
    rollout = {"rollout_root": p["store_uri"]}  # both meet under it, keyed by the SFT model (vllm_server.rendezvous)
    if server:
        with dsl.If(p["vllm_server_gpus"] > 0, name="vllm-server"):  # GSPO `rollouts: vllm_server` (its own pod)
            srv = rollouts.vllm_server(
                model=sft.outputs["model"], gpus=p["vllm_server_gpus"], hardware=hardware_of(p), **rollout
            )
            on_vllm_server(srv, p["accelerator_type"], p["vllm_server_gpus"], timeout_s=TIMEOUTS_S["gspo"])
    gspo = train.train_gspo(
        start=sft.outputs["model"], config=p["gspo_config"], overrides=overrides, **rollout,
        **_train_inputs(dataset, world, p),
    )  # fmt: skip
    with_checkpoints(on_gpu(gspo, *accel, timeout_s=TIMEOUTS_S["gspo"]).set_display_name(name)).after(gpus)
    return gspo


def _train_inputs(dataset, world, p: dict) -> dict:
    return {
        "dataset": dataset,
        "world": world,
        "knobs": knobs_of(p),
        "hardware": hardware_of(p),
        "checkpoint_root": p["checkpoint_root"],
        "num_nodes": p["num_nodes"],
    }


def sft_then_gspo(dataset, world, start, p: dict, gate=None) -> tuple:
    """SFT -> GSPO on one dataset, each on the GPU pool with checkpoints; `p` holds the pipeline parameters."""
    sft, gpus, accel = sft_step(dataset, world, start, p, gate)
    return sft, gspo_step(sft, dataset, world, p, gpus, accel, p["gspo_overrides"])


def train_and_evaluate(curated, gate3, media, benchmark_root, p: dict):
    """Base model -> SFT -> GSPO -> eval fan-out; publishes media, curated dataset and model as store versions."""
    knobs, hardware = knobs_of(p), hardware_of(p)
    accel = (p["accelerator_type"], p["accelerator_count"])
    store = p["store_uri"]
    # Versions that scheduled retraining (pipelines/retrain.py) reads back: the dataset links its media version.
    pub_media = uncached(on_cpu(control.publish_version(artifact=media, name="media", kind="world", store_uri=store)))
    uncached(
        on_cpu(
            control.publish_version(
                artifact=curated,
                name="stgr-curated",
                kind="dataset",
                store_uri=store,
                media_version=pub_media.outputs["Output"],
            )
        )
    )
    base = on_cpu(train.base_model(model=p["model"], seed=p["seed"])).set_display_name("base model")
    sft, gspo = sft_then_gspo(curated, media, base.outputs["out"], p, gate=gate3.outputs["verdict"])
    model = gspo.outputs["model"]
    uncached(on_cpu(control.publish_version(artifact=model, name="o3v-model", kind="model", store_uri=store)))
    with dsl.ParallelFor(p["benchmarks"], parallelism=2, name="benchmarks") as bench:
        ev = evaluate.evaluate_benchmark(
            model=model,
            world=benchmark_root,
            benchmark=bench,
            config=p["eval_config"],
            overrides=p["eval_overrides"],
            knobs=knobs,
            hardware=hardware,
        )
        on_gpu(ev, *accel, timeout_s=TIMEOUTS_S["eval"]).set_display_name("eval")
    return sft, gspo, ev


@dataclass(frozen=True)
class Curated:
    """The curation tasks: annotate, filter, check, and the gate after each."""

    annotate: Any
    filter: Any
    check: Any
    gate_raw: Any
    gate_filtered: Any
    gate_consistent: Any


@contextmanager
def curated(source, curate_config):
    """annotate -> gate -> filter -> gate -> check -> gate; the body runs inside the last gate's pass branch."""
    cfg = curate_config
    ann = with_teacher_secret(on_cpu(data.annotate(source=source, config=cfg)).set_display_name("annotate"))
    with_timeout(ann, "annotate")
    g1 = gate(ann.outputs["dataset"], "raw", cfg)
    with passed(g1, "raw"):
        flt = on_cpu(data.filter_records(dataset=ann.outputs["dataset"], gate=g1.outputs["verdict"], config=cfg))
        g2 = gate(flt.outputs["kept"], "filtered", cfg)
        with passed(g2, "filtered"):
            chk = on_cpu(data.check_records(dataset=flt.outputs["kept"], gate=g2.outputs["verdict"], config=cfg))
            g3 = gate(chk.outputs["kept"], "consistent", cfg)
            with passed(g3, "consistent"):
                yield Curated(ann, flt, chk, g1, g2, g3)


def curate_train_evaluate(source, benchmark_root, p: dict) -> None:
    """Every stage after the source step; `p` holds the pipeline parameters by name."""
    with curated(source, p["curate_config"]) as c:
        ann, flt, chk = c.annotate, c.filter, c.check
        g1, g2, g3 = c.gate_raw, c.gate_filtered, c.gate_consistent
        sft, gspo, ev = train_and_evaluate(chk.outputs["kept"], g3, source, benchmark_root, p)
        rep = evaluate.build_report(
            results=dsl.Collected(ev.outputs["results"]), world=benchmark_root,
            annotate_metrics=ann.outputs["metrics"], filter_metrics=flt.outputs["metrics"],
            check_metrics=chk.outputs["metrics"], gate_raw=g1.outputs["verdict"],
            gate_filtered=g2.outputs["verdict"], gate_consistent=g3.outputs["verdict"],
            sft_metrics=sft.outputs["metrics"], gspo_metrics=gspo.outputs["metrics"],
        )  # fmt: skip
        on_cpu(rep).set_display_name("report")


# Parameters shared by both pipelines are repeated in each signature on purpose: KFP reads a pipeline's
# parameters from its signature, and the UI shows them with these defaults.
@dsl.pipeline(name="o3v", description="Open-o3 Video on the synthetic world: curate, gate, SFT, GSPO, eval, report.")
def o3v_pipeline(
    videos: int = 1360,  # with half-square stills: item 5 in 3 of 3 seeds, unseen worlds in docs/learning.md
    synth_seed: int = 0,
    faults: float = 0.2,
    world_preset: str = "learnable-mixed",  # half the stills squares: names learnt, boxes kept ("learnable": squares)
    curate_config: dict = {},  # noqa: B006 - KFP parameter defaults are literals
    model: str = "tiny-qwen3-vl",
    sft_config: str = "tiny-cpu",
    sft_overrides: dict = {},  # noqa: B006
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
    store_uri: str = platform.ARTIFACT_STORE,
    accelerator_type: str = GPU_RESOURCE,
    accelerator_count: int = 1,
    num_nodes: int = 1,
    vllm_server_gpus: int = 0,
):
    params = dict(locals())  # every parameter by name, before any task is created
    task = data.synth_world(videos=videos, seed=synth_seed, faults=faults, preset=world_preset)
    world = on_cpu(task).set_display_name("synth world")
    curate_train_evaluate(world.outputs["world"], world.outputs["world"], params)


@dsl.pipeline(name="o3v-manifest", description="Open-o3 Video on your own videos (manifest and benchmarks by URI).")
def o3v_manifest_pipeline(
    manifest_uri: str,
    benchmark_root_uri: str,
    curate_config: dict = {},  # noqa: B006
    model: str = "tiny-qwen3-vl",
    sft_config: str = "tiny-cpu",
    sft_overrides: dict = {},  # noqa: B006
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
    store_uri: str = platform.ARTIFACT_STORE,
    accelerator_type: str = GPU_RESOURCE,
    accelerator_count: int = 1,
    num_nodes: int = 1,
    vllm_server_gpus: int = 0,
):
    params = dict(locals())
    source = dsl.importer(artifact_uri=manifest_uri, artifact_class=Dataset, reimport=False)
    bench_root = dsl.importer(artifact_uri=benchmark_root_uri, artifact_class=Dataset, reimport=False)
    curate_train_evaluate(source.output, bench_root.output, params)

"""Data components: synthetic world, annotate, the Great Expectations gate, filter, check."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Output

from components._image import O3V_IMAGE

CPU = {"base_image": O3V_IMAGE, "install_kfp_package": False}


@dsl.component(**CPU)
def synth_world(videos: int, seed: int, faults: float, world: Output[Dataset], preset: str = "learnable"):
    """Generates the synthetic grounded-video world: videos, raw manifest, STGR records, benchmark files."""
    from o3v.artifacts.stages import data

    data.synth(world, videos=videos, seed=seed, faults=faults, preset=preset)


@dsl.component(**CPU)
def annotate(source: Input[Dataset], config: dict, dataset: Output[Dataset], metrics: Output[Metrics]):
    """Annotates a world or video manifest into STGR records (teacher from `config`)."""
    from o3v.artifacts.stages import data

    data.annotate(source, dataset, metrics, config=config)


@dsl.component(**CPU)
def validate(dataset: Input[Dataset], suite: str, config: dict, verdict: Output[Metrics], docs: Output[HTML]) -> bool:
    """Great Expectations gate `suite` (raw | filtered | consistent); returns whether it passed."""
    from o3v.artifacts.stages import data

    return data.validate(dataset, verdict, docs, suite=suite, config=config)


@dsl.component(**CPU)
def filter_records(
    dataset: Input[Dataset],
    config: dict,
    kept: Output[Dataset],
    metrics: Output[Metrics],
    gate: Input[Metrics] = None,
):
    """Drops bad boxes, bad times and unverified categories; every drop lands in rejects.jsonl."""
    from o3v.artifacts.stages import data

    data.filter_records(dataset, gate, kept, metrics, config=config)


@dsl.component(**CPU)
def check_records(
    dataset: Input[Dataset],
    config: dict,
    kept: Output[Dataset],
    metrics: Output[Metrics],
    gate: Input[Metrics] = None,
):
    """Rejects records whose reasoning disagrees with their key frames, boxes or answer."""
    from o3v.artifacts.stages import data

    data.check_records(dataset, gate, kept, metrics, config=config)

"""Run-control components: the gate-failure report, stopping a run, publishing and fetching store versions."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Metrics, Output

from components._image import O3V_IMAGE

CPU = {"base_image": O3V_IMAGE, "install_kfp_package": False}


@dsl.component(**CPU)
def report_gate_failure(verdict: Input[Metrics], report: Output[Markdown]) -> str:
    """Writes the stopped run's report naming the failed gate and its failed expectations."""
    from o3v.artifacts.stages import control

    return control.gate_failure_report(verdict, report)


@dsl.component(**CPU)
def stop_run(message: str):
    """Fails the run with the gate's summary (after the report above was saved as an artifact)."""
    from o3v.artifacts.stages import control

    control.stop_run(message)


@dsl.component(**CPU)
def publish_version(artifact: Input[Artifact], name: str, kind: str, store_uri: str, media_version: str = "") -> str:
    """Publishes an artifact as the next immutable version of `name` in the o3v store; returns its URI."""
    from o3v.artifacts.stages import control

    return control.publish(artifact, name=name, kind=kind, store_uri=store_uri, media_version=media_version)


@dsl.component(**CPU)
def fetch_dataset(ref: str, store_uri: str, dataset: Output[Dataset], media: Output[Dataset]) -> str:
    """Materialises a dataset version (`stgr-curated@latest`) and the media version published with it."""
    from o3v.artifacts.stages import control

    return control.fetch_dataset(dataset, media, ref=ref, store_uri=store_uri)

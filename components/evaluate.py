"""Evaluation components: one benchmark per task (fanned out with ParallelFor) and the report."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Markdown, Metrics, Model, Output

from components._image import O3V_GPU_IMAGE, O3V_IMAGE


@dsl.component(base_image=O3V_GPU_IMAGE, install_kfp_package=False)
def evaluate_benchmark(
    model: Input[Model],
    world: Input[Dataset],
    benchmark: dict,
    config: str,
    overrides: dict,
    knobs: dict,
    hardware: dict,
    results: Output[Dataset],
    metrics: Output[Metrics],
):
    """Scores the model on one benchmark: `benchmark` = {"name", "annotations" (relative to the world), "eval"?}.

    `hardware` (accelerator type and count) is recorded in the result's provenance.
    """
    from o3v.artifacts.stages import evaluate

    evaluate.evaluate(
        model,
        world,
        results,
        metrics,
        benchmark=benchmark,
        config=config,
        overrides=overrides,
        knobs=knobs,
        hardware=hardware,
    )


@dsl.component(base_image=O3V_IMAGE, install_kfp_package=False)
def build_report(
    results: Input[list[Dataset]],
    world: Input[Dataset],
    report: Output[HTML],
    metrics: Output[Metrics],
    summary: Output[Markdown],
    annotate_metrics: Input[Metrics] = None,
    filter_metrics: Input[Metrics] = None,
    check_metrics: Input[Metrics] = None,
    gate_raw: Input[Metrics] = None,
    gate_filtered: Input[Metrics] = None,
    gate_consistent: Input[Metrics] = None,
    sft_metrics: Input[Metrics] = None,
    gspo_metrics: Input[Metrics] = None,
):
    """The eval report (HTML, baselines beside every score) and the run summary (Markdown).

    Stage metrics are optional: a retraining run has no curation stages, a rerun of eval has no training.
    """
    from o3v.artifacts.stages import evaluate

    evaluate.report(
        results,
        world,
        report,
        metrics,
        summary,
        annotate=annotate_metrics,
        filter=filter_metrics,
        check=check_metrics,
        gate_raw=gate_raw,
        gate_filtered=gate_filtered,
        gate_consistent=gate_consistent,
        sft=sft_metrics,
        gspo=gspo_metrics,
    )

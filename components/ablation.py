"""Ablation components (pipelines/reproduce.py): row overrides, the per-seed fan-in and the ablation report.

The per-seed step has one input per row and benchmark: KFP collects a list only out of a `ParallelFor`, and the
seeds are that loop (kfp.local cannot run a loop nested in it that reads the outer loop's item, so the six rows'
evals are plain tasks).
"""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Markdown, Metrics, Model, Output

from components._image import O3V_IMAGE

CPU = {"base_image": O3V_IMAGE, "install_kfp_package": False}


@dsl.component(**CPU)
def gspo_variant(variant: str, overrides: dict, max_steps: int) -> dict:
    """The GSPO recipe overrides of one ablation row (the run's overrides, then max_steps when > 0, then the row's)."""
    from o3v.artifacts.stages import ablation

    return ablation.gspo_variant(variant, overrides, max_steps)


@dsl.component(**CPU)
def eval_settings(overrides: dict, limit: int, blind: bool) -> dict:
    """The eval overrides of every eval in the run: `limit` samples per benchmark (> 0), blind-frame run on/off."""
    from o3v.artifacts.stages import ablation

    return ablation.eval_settings(overrides, limit, blind)


@dsl.component(**CPU)
def ablation_seed(
    seed: int,
    base_vstar: Input[Dataset],
    base_tvgbench: Input[Dataset],
    sft_vstar: Input[Dataset],
    sft_tvgbench: Input[Dataset],
    gspo_vstar: Input[Dataset],
    gspo_tvgbench: Input[Dataset],
    gspo_gate_upstream_vstar: Input[Dataset],
    gspo_gate_upstream_tvgbench: Input[Dataset],
    gspo_fixed_sigma_vstar: Input[Dataset],
    gspo_fixed_sigma_tvgbench: Input[Dataset],
    gspo_no_think_vstar: Input[Dataset],
    gspo_no_think_tvgbench: Input[Dataset],
    gspo_model: Input[Model],
    gspo_gate_upstream_model: Input[Model],
    gspo_fixed_sigma_model: Input[Model],
    gspo_no_think_model: Input[Model],
    result: Output[Dataset],
):
    """One seed's eval results per row (V-STaR and TVGBench files) and each GSPO row's trainer log, in one folder."""
    from o3v.artifacts.stages import ablation

    ablation.seed_result(
        seed,
        {
            "base": [base_vstar, base_tvgbench],
            "sft": [sft_vstar, sft_tvgbench],
            "gspo": [gspo_vstar, gspo_tvgbench],
            "gspo-gate-upstream": [gspo_gate_upstream_vstar, gspo_gate_upstream_tvgbench],
            "gspo-fixed-sigma": [gspo_fixed_sigma_vstar, gspo_fixed_sigma_tvgbench],
            "gspo-no-think": [gspo_no_think_vstar, gspo_no_think_tvgbench],
        },
        {
            "gspo": gspo_model,
            "gspo-gate-upstream": gspo_gate_upstream_model,
            "gspo-fixed-sigma": gspo_fixed_sigma_model,
            "gspo-no-think": gspo_no_think_model,
        },
        result,
    )


@dsl.component(**CPU)
def ablation_report(
    seeds: Input[list[Dataset]],
    ablation: Output[Dataset],
    page: Output[HTML],
    table: Output[Markdown],
    metrics: Output[Metrics],
):
    """The ablation over all seeds: Markdown table, plots, self-contained HTML page, metrics (o3v.ablation.page)."""
    from o3v.artifacts.stages import ablation as stages

    stages.report(seeds, ablation, page, table, metrics)

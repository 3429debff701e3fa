"""`make reproduce` (pipelines/reproduce.py): rows match the library, the DAG compiles and fits the time budget, and
(slow) a tiny local run over two seeds writes the ablation table, plot and page."""

from __future__ import annotations

import inspect
import io
import json
from pathlib import Path

import pytest
import yaml

from components import ablation as ablation_components
from pipelines import compile as compile_mod
from pipelines import reproduce


def test_pipeline_rows_are_the_librarys_gspo_rows() -> None:
    from o3v.ablation.variants import GSPO_VARIANTS, VARIANTS

    assert reproduce.GSPO_ROWS == tuple(v.name for v in GSPO_VARIANTS)
    inputs = set(inspect.signature(ablation_components.ablation_seed.python_func).parameters)
    benches = [b["name"] for b in reproduce.BENCHMARKS]
    assert benches == ["vstar", "tvgbench"]
    want = {f"{v.key}_{b}" for v in VARIANTS for b in benches} | {f"{v.key}_model" for v in GSPO_VARIANTS}
    assert inputs == want | {"seed", "result"}


def test_world_and_recipes_are_the_default_pipelines() -> None:
    """The ablation trains on the world `make pipeline-run` trains on, with the same recipes."""
    from pipelines.end_to_end import o3v_pipeline

    ours, default = reproduce.reproduce_pipeline.component_spec.inputs, o3v_pipeline.component_spec.inputs
    for name in ("videos", "faults", "world_preset", "model", "sft_config", "gspo_config", "eval_config"):
        assert ours[name].default == default[name].default, name


def test_defaults_fit_the_hour_with_three_seeds() -> None:
    params = reproduce.reproduce_pipeline.component_spec.inputs
    seeds, limit = params["seeds"].default, params["eval_limit"].default
    assert len(seeds) >= 3
    sft_steps = reproduce.recipe_steps("tiny-cpu")
    assert reproduce.estimate_minutes(len(seeds), sft_steps, params["gspo_steps"].default, limit) <= 55


def test_compiles_with_one_seed_at_a_time(tmp_path: Path) -> None:
    path = compile_mod.compile_pipeline(compile_mod.all_pipelines()["o3v-reproduce"], tmp_path)
    spec = next(yaml.safe_load_all(path.read_text()))
    loops = {}
    for comp in [spec["root"], *spec["components"].values()]:
        for task in comp.get("dag", {}).get("tasks", {}).values():
            if "iteratorPolicy" in task:
                loops[task["taskInfo"]["name"]] = task["iteratorPolicy"]["parallelismLimit"]
    assert loops == {"seeds": 1}  # one SFT (2 DDP processes) at a time
    executors = spec["deploymentSpec"]["executors"]
    assert sum(name.startswith("exec-train-gspo") for name in executors) == 4
    assert sum(name.startswith("exec-evaluate-benchmark") for name in executors) == 12
    assert {"exec-ablation-seed", "exec-ablation-report", "exec-train-sft"} <= set(executors)


def test_main_prints_the_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    assert reproduce.main(["--estimate", "--set", "seeds=[0,1,2,3]", "--set", "eval_limit=50"]) == 0
    out = capsys.readouterr().out
    assert "4 seeds x 6 rows" in out and "eval limit 50" in out and "min on an idle 2-core machine" in out


@pytest.mark.slow
def test_tiny_reproduce_writes_table_plot_and_page(tmp_path: Path) -> None:
    """Two seeds, 4 videos, 2 SFT and 2 GSPO steps, 4 eval samples: the whole ablation DAG on kfp.local."""
    from pipelines.run import run_local

    params = {
        "seeds": [0, 1],
        "videos": 4,
        "sft_overrides": {"max_steps": 2, "local_processes": 1},
        "gspo_steps": 2,
        "eval_limit": 4,
        "checkpoint_root": str(tmp_path / "ckpt"),
        "store_uri": (tmp_path / "store").as_uri(),
    }
    result = run_local(reproduce.reproduce_pipeline, params, tmp_path / "root", verbose=False, console=io.StringIO())
    assert result.status == "SUCCESS", result.tasks
    folder = result.output("ablation-report", "ablation")
    assert folder is not None
    table = (folder / "ablation.md").read_text()
    assert "2 seeds" in table and "| SFT only |" in table and "best constant" in table
    assert "SFT+GSPO, fixed σ = 1 s" in table and "SFT+GSPO, r_acc + r_fmt only" in table
    assert (folder / "ablation.png").stat().st_size > 5000 and (folder / "gspo_diagnostics.png").is_file()
    page = (folder / "ablation.html").read_text()
    assert "SFT+GSPO (o3v default)" in page and "data:image/png;base64," in page
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["seeds"] == [0, 1] and set(metrics["rows"]) == {
        "base", "sft", *reproduce.GSPO_ROWS
    }  # fmt: skip
    assert all(len(metrics["rows"]["sft"][m]["per_seed"]) == 2 for m in metrics["metrics"])
    assert set(metrics["diagnostics"]) == set(reproduce.GSPO_ROWS)
    assert "reward" in metrics["diagnostics"]["gspo"]["curves"]
    sigma = {
        row: metrics["diagnostics"][row]["curves"]["think_temporal_point/sigma"]
        for row in ("gspo", "gspo-fixed-sigma")
    }
    assert {v for _, v in sigma["gspo-fixed-sigma"]} == {1.0} and sigma["gspo"][0][1] > 1.0  # constant vs schedule

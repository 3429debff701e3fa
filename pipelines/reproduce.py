"""`make reproduce`: the paper's SFT vs SFT+GSPO ablation on the synthetic world, over several seeds.

    python -m pipelines.reproduce                                   # make reproduce: 3 seeds, defaults below
    python -m pipelines.reproduce --set 'seeds=[0,1,2,3]' --set eval_limit=200 --set blind=false
    python -m pipelines.reproduce --estimate                        # only print the time estimate

Per seed (a `ParallelFor` over `seeds`, one seed at a time): the main pipeline's data path (synthetic world with
that seed -> annotate -> gate -> filter -> gate -> check -> gate), the base model, one SFT (tiny-cpu recipe, the
seed as its seed), four GSPO runs from that SFT (o3v default, `gate: upstream`, fixed σ, r_acc + r_fmt only),
and the evaluation of all six models on the V-STaR-format and TVGBench-format files (one after another). A
per-seed step gathers the results; the report step writes the table (Markdown), plots and page (HTML):
`local_outputs/o3v-reproduce-<time>/ablation-report/{ablation,page,table}`. Rows and their overrides are defined
in o3v.ablation.variants (GSPO_ROWS below must name the same rows; tests check it).
"""

import argparse
import os
import sys
from pathlib import Path

from kfp import dsl

from components import _platform as platform
from components import ablation, data, evaluate, train
from pipelines._options import TIMEOUTS_S, on_cpu, on_gpu
from pipelines.end_to_end import (
    CHECKPOINT_MOUNT,
    DEFAULT_BENCHMARKS,
    GPU_RESOURCE,
    curated,
    gspo_step,
    hardware_of,
    knobs_of,
    sft_step,
)

GSPO_ROWS = ("gspo", "gspo-gate-upstream", "gspo-fixed-sigma", "gspo-no-think")
BENCHMARKS = [b for b in DEFAULT_BENCHMARKS if b["name"] in ("vstar", "tvgbench")]
SEEDS = [0, 1, 2]
# Seconds on an idle 2-core machine, from the default pipeline's run (tiny-cpu recipes, 1,360 videos): the data path
# (synth world 37 s, annotate, filter, check and three gates), an SFT step (2 DDP ranks, stills and video averaged:
# 555-618 s for 2300 steps; make reproduce's three SFTs took 595-618 s), a GSPO task at 30 steps, V-STaR and
# TVGBench evals at 200 samples (1 thread each).
COST_S = {"data": 66, "sft_step": 0.26, "gspo_30": 22, "gspo_start": 5, "vstar_200": 70, "tvgbench_200": 15, "task": 2}


def estimate_minutes(seeds: int, sft_steps: int, gspo_steps: int, eval_limit: int, blind: bool = True) -> float:
    """Wall minutes of a local run: per seed, data + SFT + 4 GSPO + 6 models' evals (+ each task's start).

    kfp.local runs a seed's tasks one at a time (only loop iterations run side by side), so a model's two evals
    add up; the untrained base model's answers run to max_new_tokens, so its evals are counted twice. Blind off
    saves the blind run's share.

    >>> round(estimate_minutes(3, 2300, 30, 80), 1)
    56.0
    """
    scale = eval_limit / 200 * (1.0 if blind else 0.8)
    per_model = (COST_S["vstar_200"] + COST_S["tvgbench_200"]) * scale
    per_seed = (
        COST_S["data"]
        + COST_S["sft_step"] * sft_steps
        + len(GSPO_ROWS) * (COST_S["gspo_start"] + COST_S["gspo_30"] * gspo_steps / 30)
        + (2 + 2 + len(GSPO_ROWS)) * per_model
        + 35 * COST_S["task"]
    )
    return (seeds * per_seed + 10 * COST_S["task"]) / 60


def _key(row: str) -> str:
    """A row name as a component input prefix: `gspo-fixed-sigma` -> `gspo_fixed_sigma`."""
    return row.replace("-", "_")


@dsl.pipeline(
    name="o3v-reproduce", description="SFT vs SFT+GSPO ablation (4 GSPO variants) over seeds, with baselines."
)
def reproduce_pipeline(
    seeds: list = SEEDS,
    videos: int = 1360,  # the default pipeline's world (a test keeps the two equal)
    faults: float = 0.2,
    world_preset: str = "learnable-mixed",
    curate_config: dict = {},  # noqa: B006 - KFP parameter defaults are literals
    model: str = "tiny-qwen3-vl",
    sft_config: str = "tiny-cpu",
    sft_overrides: dict = {},  # noqa: B006
    gspo_config: str = "tiny-cpu",
    gspo_overrides: dict = {},  # noqa: B006
    gspo_steps: int = 30,
    fps: float = 0.0,
    max_frames: int = 0,
    min_pixels: int = 0,
    max_pixels: int = 0,
    eval_config: str = "tiny-cpu",
    eval_overrides: dict = {},  # noqa: B006
    eval_limit: int = 60,  # cold, 2026-12-06: 60 items 51.2 min, 80 items 58.0; seeds, not items, set the interval
    blind: bool = True,
    checkpoint_root: str = CHECKPOINT_MOUNT,
    store_uri: str = platform.ARTIFACT_STORE,
    accelerator_type: str = GPU_RESOURCE,
    accelerator_count: int = 1,
    num_nodes: int = 1,
):
    p = dict(locals())
    # kfp.local hands a task output made outside a ParallelFor to the tasks inside it wrongly (it got the loop
    # item), and fails a loop nested in it that reads the outer item: every task is made inside the seed loop.
    with dsl.ParallelFor(seeds, parallelism=1, name="seeds") as seed:
        q = {**p, "seed": seed}  # the seed drives the world, the base model, SFT, GSPO and eval sampling
        settings = on_cpu(ablation.eval_settings(overrides=eval_overrides, limit=eval_limit, blind=blind))
        settings.set_display_name("eval settings")
        world = on_cpu(data.synth_world(videos=videos, seed=seed, faults=faults, preset=world_preset))
        world.set_display_name("synth world")
        with curated(world.outputs["world"], curate_config) as c:
            kept, media = c.check.outputs["kept"], world.outputs["world"]
            base = on_cpu(train.base_model(model=model, seed=seed)).set_display_name("base model")
            sft, gpus, accel = sft_step(kept, media, base.outputs["out"], q, gate=c.gate_consistent.outputs["verdict"])
            models = {"base": base.outputs["out"], "sft": sft.outputs["model"]}
            inputs = {}
            for row in GSPO_ROWS:
                ov = on_cpu(ablation.gspo_variant(variant=row, overrides=gspo_overrides, max_steps=gspo_steps))
                ov.set_display_name(f"overrides: {row}")
                g = gspo_step(sft, kept, media, q, gpus, accel, ov.output, server=False, name=f"GSPO: {row}")
                models[row] = inputs[f"{_key(row)}_model"] = g.outputs["model"]
            for row, m in models.items():
                for bench in BENCHMARKS:
                    ev = evaluate.evaluate_benchmark(
                        model=m, world=media, benchmark=bench, config=eval_config, overrides=settings.output,
                        knobs=knobs_of(q), hardware=hardware_of(q),
                    )  # fmt: skip
                    on_gpu(ev, accelerator_type, accelerator_count, timeout_s=TIMEOUTS_S["eval"])
                    ev.set_display_name(f"eval {bench['name']}: {row}")
                    inputs[f"{_key(row)}_{bench['name']}"] = ev.outputs["results"]
            per_seed = on_cpu(ablation.ablation_seed(seed=seed, **inputs)).set_display_name("seed results")
    on_cpu(ablation.ablation_report(seeds=dsl.Collected(per_seed.outputs["result"]))).set_display_name("ablation")


def summary_text(result, params: dict) -> str:
    """Where the table, plot and page are, the table itself, and the per-task times."""
    from pipelines.run import summary_text as run_summary

    out = [f"\n=== o3v-reproduce {result.status} in {result.wall_s / 60:.1f} min; outputs: {result.run_dir}"]
    folder = result.output("ablation-report", "ablation")
    if folder:
        out.append((folder / "ablation.md").read_text())
        out += [
            f"table: {folder / 'ablation.md'}",
            f"plots: {folder / 'ablation.png'}, {folder / 'gspo_diagnostics.png'}",
        ]
        out.append(f"page:  {folder / 'ablation.html'}")
    times = run_summary(result, Path("artifacts")).split("\n| task |", 1)
    out.append("| task |" + times[1] if len(times) > 1 else "")
    return "\n".join(out) + "\n"


def recipe_steps(sft_config: str) -> int:
    """max_steps of the shipped SFT recipe `sft_config`, which every seed's SFT runs unless sft_overrides says
    otherwise (read as a file: pipelines never import o3v)."""
    import yaml

    recipe = Path(__file__).resolve().parents[1] / "o3v" / "configs" / "train" / "sft" / f"{sft_config}.yaml"
    return int(yaml.safe_load(recipe.read_text())["max_steps"])


def main(argv: list[str] | None = None) -> int:
    from pipelines.run import ROOT, parse_sets, run_here, submit

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="pipeline parameter")
    parser.add_argument("--root", type=Path, default=ROOT, help="local pipeline root (default local_outputs)")
    parser.add_argument("--no-cache", action="store_true", help="run every step again")
    parser.add_argument("--verbose", action="store_true", help="print every task's full output too")
    parser.add_argument("--estimate", action="store_true", help="print the time estimate and stop")
    args = parser.parse_args(argv)
    params = parse_sets(args.set)
    unknown = sorted(set(params) - set(reproduce_pipeline.component_spec.inputs or {}))
    if unknown:
        parser.error(f"unknown parameter(s) {unknown}")
    get = lambda k: params.get(k, reproduce_pipeline.component_spec.inputs[k].default)  # noqa: E731
    sft_steps = int(get("sft_overrides").get("max_steps") or recipe_steps(get("sft_config")))
    gspo_steps = int(get("gspo_steps") or params.get("gspo_overrides", {}).get("max_steps", 30))
    minutes = estimate_minutes(len(get("seeds")), sft_steps, gspo_steps, int(get("eval_limit")), bool(get("blind")))
    print(
        f"o3v-reproduce: {len(get('seeds'))} seeds x 6 rows, SFT {sft_steps} steps, GSPO {gspo_steps} steps x 4, "
        f"eval limit {get('eval_limit')} per benchmark (blind {'on' if get('blind') else 'off'}): "
        f"about {minutes:.0f} min on an idle 2-core machine"
    )
    if args.estimate:
        return 0
    host = os.environ.get("KFP_HOST")
    if host:
        return submit(reproduce_pipeline, params, host)
    result = run_here(reproduce_pipeline, params, args.root, cache=not args.no_cache, verbose=args.verbose)
    sys.stdout.write(summary_text(result, params))
    return 0 if result.status == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())

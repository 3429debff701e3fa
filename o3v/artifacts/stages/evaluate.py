"""Evaluation stages for KFP components: one benchmark per task (the fan-out), then the report and run summary."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from o3v.artifacts.stages.common import (
    ArtifactLike,
    MetricsLike,
    finish,
    flat_numbers,
    read_json,
    read_metrics,
    typed_knobs,
    whole_numbers_as_int,
    write_metrics,
)
from o3v.artifacts.stages.train import model_source

log = logging.getLogger(__name__)

# Pipeline knob -> eval config field (o3v.eval.config.EvalConfig); 0 keeps the config's value.
KNOB_FIELDS = {
    "fps": ("frames", "sample_fps"),
    "max_frames": ("frames", "max_frames"),
    "min_pixels": ("min_pixels",),
    "max_pixels": ("max_pixels",),
    "seed": ("voting", "seed"),
}


def eval_overrides(overrides: Mapping[str, Any] | None, knobs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Eval config overrides from the pipeline's knobs (0 = keep, except the seed); explicit overrides win.

    >>> eval_overrides({"limit": 4}, {"seed": 1, "max_frames": 0, "fps": 2.0})
    {'voting': {'seed': 1}, 'frames': {'sample_fps': 2.0}, 'limit': 4}
    """
    out: dict[str, Any] = {}
    for knob, value in typed_knobs(knobs).items():
        if knob not in KNOB_FIELDS:
            raise ValueError(f"unknown eval knob {knob!r}; expected one of {sorted(KNOB_FIELDS)}")
        if not value and knob != "seed":
            continue
        *parents, leaf = KNOB_FIELDS[knob]
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    for key, value in whole_numbers_as_int(dict(overrides or {})).items():
        out[key] = {**out[key], **value} if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def benchmark_overrides(benchmark: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The benchmark entry's own eval keys under the run's overrides (config < benchmark < run).

    >>> benchmark_overrides({"name": "synthetic", "eval": {"limit": 1500}}, {})
    {'limit': 1500}
    >>> benchmark_overrides({"name": "synthetic", "eval": {"limit": 1500}}, {"limit": 1})
    {'limit': 1}
    """
    own = benchmark.get("eval") or {}
    if not isinstance(own, Mapping):
        name = benchmark.get("name")
        raise ValueError(f"benchmark {name!r}: 'eval' must be a mapping of eval config keys, got {own!r}")
    return {**own, **(overrides or {})}


def evaluate(
    model: ArtifactLike,
    world: ArtifactLike,
    results: ArtifactLike,
    metrics: MetricsLike,
    *,
    benchmark: Mapping[str, Any],
    config: str,
    overrides: Mapping[str, Any] | None = None,
    knobs: Mapping[str, Any] | None = None,
    hardware: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score `model` on one benchmark file of `world` (`o3v.eval.runner.evaluate`).

    Args:
        benchmark: {"name": adapter name, "annotations": the file relative to the world/benchmark folder,
            optional "eval": this benchmark's own eval config keys (e.g. {"limit": 1500})}.
        config: an eval config name (`tiny-cpu`, `qwen2.5-vl-7b`) or YAML path.
        overrides: eval config keys to change (e.g. {"limit": 8}); they win over the benchmark's own keys.
        knobs: the pipeline's seed / fps / frames / pixels, mapped onto the eval config.
        hardware: the accelerator the step asked for (recorded in provenance).
    """
    from o3v.eval.config import load_config, to_dict
    from o3v.eval.runner import evaluate as run

    name, annotations = benchmark["name"], benchmark["annotations"]
    cfg = load_config(config, eval_overrides(benchmark_overrides(benchmark, overrides), knobs))
    t0 = time.perf_counter()
    result = run(model_source(model), name, str(Path(world.path) / annotations), world.path, results.path, cfg)
    settings = {
        "benchmark": name,
        "annotations": annotations,
        "config": config,
        "resolved": to_dict(cfg),
        "hardware": dict(hardware or {}),
    }
    inputs = {"model": model, "world": world}
    finish(results, f"eval-{name}", inputs, settings, flat_numbers(result["metrics"]), time.perf_counter() - t0)
    headline = {
        "benchmark": name,
        "n_scored": result.get("n_scored"),
        "metrics": result["metrics"],
        "baselines": result.get("baselines", {}),
    }
    write_metrics(metrics, headline, f"eval-{name}", {"results": results}, {"benchmark": name, "config": config})
    return result


def report(
    results: list[ArtifactLike],
    world: ArtifactLike,
    html_out: ArtifactLike,
    metrics: MetricsLike,
    summary_out: ArtifactLike,
    **stage_metrics: ArtifactLike | None,
) -> str:
    """Build the eval report (HTML + metrics) and the run summary (Markdown); returns the summary text.

    Args:
        results: the per-benchmark result folders (the collected fan-out).
        world: the world / benchmark folder the results were scored on.
        **stage_metrics: metrics files of the earlier stages (annotate, filter, check, gate_raw,
            gate_filtered, gate_consistent, sft, gspo); missing ones (None) show as not run.
    """
    from o3v.eval.report import build_report

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="o3v-report-") as tmp:
        build_report([r.path for r in results], tmp)
        shutil.copyfile(Path(tmp) / "report.html", html_out.path)
        combined = read_json(Path(tmp) / "metrics.json", "report metrics")
    present = {k: v for k, v in stage_metrics.items() if v is not None}
    finish(
        html_out,
        "report",
        {"results": list(results), "world": world, **present},
        {},
        {"benchmarks": sorted(combined.get("benchmarks", {}))},
        compute_s=time.perf_counter() - t0,
    )
    write_metrics(metrics, combined, "report", {"results": list(results), "report": html_out})
    stages = {name.replace("_", "-"): read_metrics(art.path) for name, art in present.items()}
    text = run_summary(stages, combined.get("verdicts", {}), {"report": html_out.path, "metrics": metrics.path})
    Path(summary_out.path).write_text(text)
    summary_out.metadata.update({"stage": "summary"})
    return text


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if value != 0 else "0"  # no "-0"
    return "–" if value is None else str(value)


def _gap(row: Mapping[str, Any]) -> str:
    """`+0.123 [+0.05, +0.19]`, or – without a comparison."""
    if "delta" not in row or "ci95" not in row:
        return "–"
    lo, hi = row["ci95"]
    return f"{row['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def run_summary(
    stages: Mapping[str, Mapping[str, Any]], verdicts: Mapping[str, list], where: Mapping[str, str]
) -> str:
    """The short Markdown summary of a finished run (pure: metrics dicts in, text out).

    Args:
        stages: metrics by stage name (annotate, filter, check, gate-raw, ..., sft, gspo); a section whose
            stages are all absent (e.g. curation in a retraining run) is left out.
        verdicts: the report's headline rows per benchmark (value, baselines, verdict).
        where: named paths or URIs to print at the end (report, metrics, ...).
    """
    lines = ["# o3v run summary"]
    if any(name in stages for name in ("annotate", "filter", "check")):
        lines += ["", "## Curation (kept + rejected = in)", "", "| stage | in | kept | rejected |",
                  "|---|---:|---:|---:|"]  # fmt: skip
        for name in ("annotate", "filter", "check"):
            s = stages.get(name)
            row = [_fmt(s.get(k)) for k in ("in", "kept", "rejected")] if s else ["not run"] * 3
            lines.append(f"| {name} | " + " | ".join(row) + " |")
    if any(name.startswith("gate-") for name in stages):
        lines += ["", "## Gates", "", "| gate | result | expectations met |", "|---|---|---|"]
        for name in ("gate-raw", "gate-filtered", "gate-consistent"):
            g = stages.get(name)
            if not g:
                lines.append(f"| {name[5:]} | not run | – |")
                continue
            st = g.get("statistics", {})
            met = f"{_fmt(st.get('successful_expectations'))}/{_fmt(st.get('evaluated_expectations'))}"
            lines.append(f"| {g.get('gate', name)} | {'passed' if g.get('passed') else 'FAILED'} | {met} |")
    if "sft" in stages or "gspo" in stages:
        lines += ["", "## Training", "", "| stage | steps | loss first → last | reward first → last |",
                  "|---|---:|---|---|"]  # fmt: skip
        for name in ("sft", "gspo"):
            t = stages.get(name)
            if not t:
                lines.append(f"| {name} | not run | – | – |")
                continue
            loss = f"{_fmt(t.get('loss_first'))} → {_fmt(t.get('loss_last'))}"
            reward = f"{_fmt(t.get('reward_first'))} → {_fmt(t.get('reward_last'))}" if "reward_first" in t else "–"
            lines.append(f"| {name} | {_fmt(t.get('global_step'))} | {loss} | {reward} |")
    lines += ["", "## Evaluation beside constant baselines and the blind-frame run", "",
              "Gaps: model minus baseline with their 95% interval; a gain counts only when the interval excludes 0.",
              "", "| benchmark | metric | model | best constant | gap [95%] | blind | gap to blind [95%] | verdict |",
              "|---|---|---:|---|---|---:|---|---|"]  # fmt: skip
    for bench, rows in sorted(verdicts.items()):
        for row in rows:
            best = row.get("best_baseline")
            base = f"{best} = {_fmt(row.get('baseline_value'))}" if best else "–"
            blind = row.get("blind") or {}
            lines.append(
                f"| {bench} | {row.get('metric')} | {_fmt(row.get('value'))} | {base} | {_gap(row)} | "
                f"{_fmt(blind.get('value')) if blind else '–'} | {_gap(blind)} | "
                f"{row.get('grounded', row.get('verdict'))} |"
            )
    lines += ["", "## Where", ""] + [f"- {k}: `{v}`" for k, v in where.items()]
    return "\n".join(lines) + "\n"

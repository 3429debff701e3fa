"""Evaluation stages for KFP components: one benchmark per task (the fan-out), then the report and run summary."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from o3v.artifacts.stages.common import ArtifactLike, MetricsLike, finish, flat_numbers, read_metrics, write_metrics
from o3v.artifacts.stages.data import world_baselines
from o3v.artifacts.stages.train import model_source

log = logging.getLogger(__name__)


def evaluate(
    model: ArtifactLike,
    world: ArtifactLike,
    results: ArtifactLike,
    metrics: MetricsLike,
    *,
    benchmark: Mapping[str, str],
    config: dict,
    knobs: dict | None = None,
) -> dict[str, Any]:
    """Score `model` on one benchmark file of the world (`o3v.eval.runner.evaluate`).

    Args:
        benchmark: {"name": adapter name, "annotations": the benchmark file relative to the world folder}.
        config: eval settings passed through to the runner.
        knobs: the pipeline's seed / frames / pixels (0 = the eval config's value), merged under `config`.
    """
    from o3v.eval.runner import evaluate as run

    name, annotations = benchmark["name"], benchmark["annotations"]
    settings = eval_config(config, knobs)
    ann = Path(world.path) / annotations
    values = run(model_source(model), name, str(ann), world.path, results.path, settings)
    settings = {"benchmark": name, "annotations": annotations, **settings}
    finish(results, f"eval-{name}", {"model": model, "world": world}, settings, flat_numbers(values))
    write_metrics(metrics, {"benchmark": name, **values}, f"eval-{name}", {"results": results}, settings)
    return values


def eval_config(config: Mapping[str, Any] | None, knobs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The runner's config: knobs (non-zero, or the seed) under explicit config keys, which win.

    >>> eval_config({"limit": 4}, {"seed": 1, "max_frames": 0})
    {'seed': 1, 'limit': 4}
    """
    merged = {k: v for k, v in (knobs or {}).items() if v or k == "seed"}
    return {**merged, **dict(config or {})}


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
        world: the synthetic world (its constant baselines go beside every score).
        **stage_metrics: metrics files of the earlier stages (annotate, filter, check, gate_raw,
            gate_filtered, gate_consistent, sft, gspo); missing ones (None) are shown as not run.
    """
    from o3v.eval.report import build_report

    with tempfile.TemporaryDirectory(prefix="o3v-report-") as tmp:
        build_report([r.path for r in results], tmp)
        shutil.copyfile(Path(tmp) / "report.html", html_out.path)
        values = read_json_file(Path(tmp) / "metrics.json")
    evals = {r.metadata.get("config", {}).get("benchmark") or Path(r.path).name: _result_metrics(r) for r in results}
    inputs = {"results": results, "world": world, **{k: v for k, v in stage_metrics.items() if v}}
    finish(html_out, "report", inputs, {}, {"benchmarks": sorted(evals)})
    write_metrics(metrics, values, "report", {"results": results, "report": html_out})
    stages = {name.replace("_", "-"): read_metrics(art.path) for name, art in stage_metrics.items() if art}
    where = {"report": html_out.uri, "metrics": metrics.uri}
    text = run_summary(stages, evals, world_baselines(world), where)
    Path(summary_out.path).write_text(text)
    return text


def read_json_file(path: Path) -> dict[str, Any]:
    """A JSON object from `path` (ValueError naming the file otherwise)."""
    from o3v.artifacts.stages.common import read_json

    return read_json(path, "report metrics")


def _result_metrics(result: ArtifactLike) -> dict[str, Any]:
    path = Path(result.path) / "metrics.json"
    return read_json_file(path) if path.is_file() else {}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "–" if value is None else str(value)


def run_summary(
    stages: Mapping[str, Mapping[str, Any]],
    evals: Mapping[str, Mapping[str, Any]],
    baselines: Mapping[str, Any],
    where: Mapping[str, str],
) -> str:
    """The short Markdown summary of a finished run (pure: metrics dicts in, text out)."""
    lines = [
        "# o3v run summary",
        "",
        "## Curation (kept + rejected = in)",
        "",
        "| stage | in | kept | rejected |",
        "|---|---:|---:|---:|",
    ]
    for name in ("annotate", "filter", "check"):
        s = stages.get(name, {})
        lines.append(f"| {name} | {_fmt(s.get('in'))} | {_fmt(s.get('kept'))} | {_fmt(s.get('rejected'))} |")
    lines += ["", "## Gates", "", "| gate | result | expectations met |", "|---|---|---|"]
    for name in ("gate-raw", "gate-filtered", "gate-consistent"):
        g = stages.get(name, {})
        st = g.get("statistics", {})
        met = f"{_fmt(st.get('successful_expectations'))}/{_fmt(st.get('evaluated_expectations'))}"
        lines.append(f"| {g.get('gate', name)} | {'passed' if g.get('passed') else 'FAILED'} | {met} |")
    lines += [
        "",
        "## Training",
        "",
        "| stage | steps | loss first → last | reward first → last |",
        "|---|---:|---|---|",
    ]
    for name in ("sft", "gspo"):
        t = stages.get(name, {})
        loss = f"{_fmt(t.get('loss_first'))} → {_fmt(t.get('loss_last'))}"
        reward = f"{_fmt(t.get('reward_first'))} → {_fmt(t.get('reward_last'))}" if "reward_first" in t else "–"
        lines.append(f"| {name} | {_fmt(t.get('global_step'))} | {loss} | {reward} |")
    lines += [
        "",
        "## Evaluation beside constant baselines",
        "",
        "| benchmark | metric | model | baselines |",
        "|---|---|---:|---|",
    ]
    for bench, values in sorted(evals.items()):
        base = flat_numbers(baselines.get(bench, {})) if isinstance(baselines.get(bench), Mapping) else {}
        for key, value in sorted(flat_numbers(values).items()):
            if key.endswith(("_s", "seconds", "samples", "count")) or key.startswith(("n_", "time")):
                continue
            beside = ", ".join(f"{b}={_fmt(v)}" for b, v in sorted(base.items()) if b.split(".")[-1] == key)
            lines.append(f"| {bench} | {key} | {_fmt(value)} | {beside or '–'} |")
    lines += ["", "## Where", ""] + [f"- {k}: `{v}`" for k, v in where.items()]
    return "\n".join(lines) + "\n"

"""Data stages for KFP components: synthetic world, annotate, the three gates, filter, check."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from o3v.artifacts.stages.common import (
    ArtifactLike,
    MetricsLike,
    finish,
    read_json,
    whole_numbers_as_int,
    write_metrics,
)

log = logging.getLogger(__name__)


def synth(world: ArtifactLike, *, videos: int, seed: int, faults: float, preset: str = "learnable") -> dict[str, Any]:
    """Generate the synthetic grounded-video world (the embedded default source) into `world`; `preset` names
    its `o3v.synth.world.PRESETS` entry."""
    from o3v.synth import generate
    from o3v.synth.world import preset as world_preset

    t0 = time.perf_counter()
    summary = generate(Path(world.path), videos=videos, seed=seed, faults=faults, config=world_preset(preset))
    config = {"videos": videos, "seed": seed, "faults": faults, "preset": preset}
    finish(world, "synth", {}, config, _headline(summary), compute_s=time.perf_counter() - t0)
    return summary


def annotate(source: ArtifactLike, dataset: ArtifactLike, metrics: MetricsLike, *, config: dict) -> dict[str, Any]:
    """Annotate a world or manifest into STGR records (`o3v.curate.annotate.annotate`)."""
    from o3v.curate.annotate import annotate as run

    return _curation_step("annotate", run, source, None, dataset, metrics, config)


def filter_records(
    dataset: ArtifactLike, gate: ArtifactLike, kept: ArtifactLike, metrics: MetricsLike, *, config: dict
) -> dict[str, Any]:
    """Drop bad boxes/times and unverified categories (`o3v.curate.filter.filter_records`)."""
    from o3v.curate.filter import filter_records as run

    return _curation_step("filter", run, dataset, gate, kept, metrics, config)


def check_records(
    dataset: ArtifactLike, gate: ArtifactLike, kept: ArtifactLike, metrics: MetricsLike, *, config: dict
) -> dict[str, Any]:
    """Reject records whose reasoning disagrees with their evidence (`o3v.curate.check.check_records`)."""
    from o3v.curate.check import check_records as run

    return _curation_step("check", run, dataset, gate, kept, metrics, config)


def _curation_step(
    stage: str,
    run: Any,
    source: ArtifactLike,
    gate: ArtifactLike | None,
    out: ArtifactLike,
    metrics: MetricsLike,
    config: dict,
) -> dict[str, Any]:
    config = whole_numbers_as_int(dict(config or {}))
    t0 = time.perf_counter()
    stats = run(source.path, out.path, config or None)
    compute_s = time.perf_counter() - t0
    inputs = {"dataset" if stage != "annotate" else "source": source, "gate": gate}
    summary = {k: stats.get(k) for k in ("in", "kept", "rejected")}
    finish(out, stage, inputs, config, summary, compute_s=compute_s)
    write_metrics(
        metrics, {k: stats[k] for k in ("in", "kept", "rejected", "by_reason") if k in stats}, stage, {"dataset": out}
    )
    log.info("%s: kept %s of %s (rejected %s)", stage, stats.get("kept"), stats.get("in"), stats.get("rejected"))
    return stats


def validate(dataset: ArtifactLike, verdict: MetricsLike, docs: ArtifactLike, *, suite: str, config: dict) -> bool:
    """Run the Great Expectations gate `suite` on `dataset`; returns whether it passed.

    The Data Docs page goes to `docs` (an HTML artifact) whether the gate passes or not; `verdict` holds the
    statistics, the failed expectations and the readable summary, which is also logged (as an error when the
    gate fails, so the step's log says why the run stopped).
    """
    from o3v.curate.gates import validate as run_gate

    with tempfile.TemporaryDirectory(prefix=f"o3v-gate-{suite}-") as tmp:
        config = whole_numbers_as_int(dict(config or {}))
        t0 = time.perf_counter()
        result = run_gate(dataset.path, suite, tmp, config or None)
        compute_s = time.perf_counter() - t0
        if result.html_path is not None and Path(result.html_path).is_file():
            shutil.copyfile(result.html_path, docs.path)
        else:
            Path(docs.path).write_text(f"<html><body><pre>{_escape(result.summary)}</pre></body></html>\n")
    values = {
        "gate": suite,
        "passed": bool(result.success),
        "summary": result.summary,
        "statistics": result.statistics,
        "failed": result.failed,
    }
    write_metrics(verdict, values, f"gate-{suite}", {"dataset": dataset}, config, compute_s=compute_s)
    docs.metadata.update({"gate": suite, "passed": bool(result.success)})
    (log.info if result.success else log.error)("gate %s:\n%s", suite, result.summary)
    return bool(result.success)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _headline(summary: Any) -> dict[str, Any]:
    """Scalars of a stage summary (for provenance and the UI), without big nested blocks."""
    if not isinstance(summary, dict):
        return {}
    return {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool)) or v is None}


def world_baselines(world: ArtifactLike) -> dict[str, Any]:
    """The constant baselines the synthetic world ships (`benchmarks/baselines.json`)."""
    path = Path(world.path) / "benchmarks" / "baselines.json"
    return read_json(path, "constant baselines") if path.is_file() else {}

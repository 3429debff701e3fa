"""Ablation stages for KFP components (pipelines/reproduce.py): per-variant overrides, the per-seed fan-in, the report.

gspo_variant(name, overrides, max_steps)  -> the GSPO recipe overrides of one ablation row (validated)
eval_settings(overrides, limit, blind)    -> the eval config overrides every eval of the run uses
seed_result(seed, evals, gspo_models, out) -> one seed's eval results and GSPO logs in `out/seed.json`
report(seed_results, folder, page, table, metrics) -> o3v.ablation.page's table, plots and page
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from o3v.artifacts.stages.common import (
    ArtifactLike,
    MetricsLike,
    finish,
    read_json,
    typed_knobs,
    whole_numbers_as_int,
    write_metrics,
)

SEED_FILE = "seed.json"
# What the ablation keeps of an eval result (the rest, e.g. the blind run's sample pairs, stays in the eval output).
RESULT_KEYS = ("benchmark", "model", "n_samples", "n_scored", "metrics", "baselines")


def gspo_variant(name: str, overrides: Mapping[str, Any] | None, max_steps: int | float | str = 0) -> dict[str, Any]:
    """The GSPO overrides of ablation row `name`, checked against the tiny-cpu recipe before any training runs.

    >>> gspo_variant("gspo-gate-upstream", {"seed": 3.0}, "30.0")
    {'seed': 3, 'max_steps': 30, 'gate': 'upstream'}
    """
    from o3v.ablation.variants import gspo_overrides

    steps = typed_knobs({"seed": max_steps})["seed"]  # KFP may hand an int parameter over as text ("30.0")
    return gspo_overrides(name, whole_numbers_as_int(dict(overrides or {})), steps)


def eval_settings(overrides: Mapping[str, Any] | None, limit: int | float | str = 0, blind: Any = True) -> dict:
    """Eval config overrides: the run's own, its sample limit per benchmark, and the blind-frame run on/off.

    >>> eval_settings({}, "4.0", "false")
    {'limit': 4, 'blind_ablation': False}
    """
    from o3v.ablation.variants import eval_overrides

    n = typed_knobs({"seed": limit})["seed"]
    on = blind if isinstance(blind, bool) else str(blind).strip().lower() in ("1", "true", "yes", "on")
    return eval_overrides(whole_numbers_as_int(dict(overrides or {})), n, on)


def _eval_result(art: ArtifactLike) -> dict[str, Any]:
    data = read_json(Path(art.path) / "metrics.json", "eval result")
    out = {k: data.get(k) for k in RESULT_KEYS}
    blind = data.get("blind_frame") or {}
    out["blind_frame"] = {"metrics": blind.get("metrics", {})} if blind else None
    return out


def _train_log(model: ArtifactLike) -> list[dict[str, Any]]:
    path = Path(model.path) / "train_log.jsonl"
    if not path.is_file():
        raise ValueError(f"{model.path}: no train_log.jsonl (is this a GSPO model folder written by o3v gspo?)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def seed_result(
    seed: int | float | str,
    evals: Mapping[str, Sequence[ArtifactLike]],
    gspo_models: Mapping[str, ArtifactLike],
    out: ArtifactLike,
) -> dict[str, Any]:
    """Gather one seed's eval results (per row, one result per benchmark) and each GSPO row's trainer log.

    Writes `out/seed.json`: {"seed", "rows": {row: {benchmark: result}}, "gspo_logs": {row: [log rows]}}.
    """
    t0 = time.perf_counter()
    number = typed_knobs({"seed": seed})["seed"]
    rows: dict[str, dict[str, Any]] = {}
    for name, results in evals.items():
        for art in results:
            res = _eval_result(art)
            rows.setdefault(name, {})[str(res["benchmark"])] = res
    logs = {name: _train_log(model) for name, model in gspo_models.items()}
    folder = Path(out.path)
    folder.mkdir(parents=True, exist_ok=True)
    value = {"seed": number, "rows": rows, "gspo_logs": logs}
    (folder / SEED_FILE).write_text(json.dumps(value, indent=1, default=str), encoding="utf-8")
    inputs: dict[str, Any] = {f"eval_{k}": list(v) for k, v in evals.items()}
    inputs.update({f"model_{k}": v for k, v in gspo_models.items()})
    finish(out, "ablation-seed", inputs, {"seed": number}, {"rows": sorted(rows)}, time.perf_counter() - t0)
    return value


def report(
    seed_results: Sequence[ArtifactLike],
    folder: ArtifactLike,
    page: ArtifactLike,
    table: ArtifactLike,
    metrics: MetricsLike,
) -> dict[str, Any]:
    """The ablation table (Markdown), plots and page (HTML) over all seeds; every file also in `folder`."""
    from o3v.ablation.page import write_outputs

    t0 = time.perf_counter()
    seeds = sorted(
        (read_json(Path(a.path) / SEED_FILE, "ablation seed result") for a in seed_results), key=lambda s: s["seed"]
    )
    summary = write_outputs(seeds, folder.path)
    shutil.copyfile(Path(folder.path) / "ablation.html", page.path)
    shutil.copyfile(Path(folder.path) / "ablation.md", table.path)
    took = time.perf_counter() - t0
    inputs = {"seeds": list(seed_results)}
    finish(folder, "ablation-report", inputs, {}, {"seeds": summary["seeds"]}, took)
    page.metadata.update({"stage": "ablation-report"})
    table.metadata.update({"stage": "ablation-report"})
    headline = {
        "n_seeds": summary["n_seeds"],
        "beats_sft": summary["beats_sft"],
        "deltas": summary["deltas"],
        "means": {row: {k: c["mean"] for k, c in cells.items()} for row, cells in summary["rows"].items()},
    }
    write_metrics(metrics, headline, "ablation-report", {"seeds": list(seed_results)}, compute_s=took)
    return summary

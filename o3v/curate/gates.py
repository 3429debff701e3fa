"""Great Expectations quality gates between curation stages (`o3v validate IN --suite raw|filtered|consistent`).

Each gate builds one pandas frame with a row per record (`records_frame`: schema flags, lengths, task
shares, per-record box and time aggregates) and validates a GX 1.x suite whose thresholds come from the
`gates.<suite>` config section. Per-record aggregates make every box rule exact (a record's largest box
is <= the limit iff all its boxes are) while keeping one frame, one validation and one Data Docs page.

GX is imported inside `validate` only (about 3 s, platform.md §5). Data Docs are built in a temporary
folder (the ephemeral context's own `local_site` is left alone) and the validation page is copied to
`<out_dir>/gate_<suite>.html` as one self-contained file (o3v/curate/datadocs.py: GX's CDN styles, scripts
and logo replaced, so it renders offline and in the Kubeflow UI's iframe); `<out_dir>/gate_<suite>.json`
holds the machine-readable result.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from o3v.curate.config import GATE_SUITES, CurateConfig, GateConfig, load_config
from o3v.curate.datadocs import self_contained_page
from o3v.curate.dataset import MEDIA_META, open_dataset
from o3v.geometry import area_fraction, box_problem, to_normalized
from o3v.records import TASKS, Record, RecordError, gt_box

log = logging.getLogger(__name__)


@dataclass
class GateResult:
    """Outcome of one gate: `summary` is the readable text a failing CLI run prints."""

    success: bool
    summary: str
    html_path: Path | None
    statistics: dict[str, Any] = field(default_factory=dict)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "summary": self.summary,
            "html_path": str(self.html_path) if self.html_path else None,
            "statistics": self.statistics,
            "failed": self.failed,
        }


COLUMNS = [
    "id", "schema_ok", "task", "media_path", "question", "answer", "reasoning_process", "n_key_frames", "n_boxes",
    "n_invalid_boxes", "min_box_coord", "max_box_coord", "max_box_area", "mean_box_area", "max_key_time_frac",
    "mean_key_time_frac", "duration", "error",
]  # fmt: skip


def record_row(rec: Record) -> dict[str, Any]:
    """The gate's view of one record: identity, lengths and per-record box/time aggregates (NaN when absent)."""
    boxes = [e.box for e in rec.evidence()]
    answer_box = gt_box(rec) if rec.task == "visual QA" else None
    if answer_box is not None:  # visual QA: the answer is the evidence (original-image pixels)
        boxes.append(tuple(to_normalized(answer_box, *rec.image_size)) if rec.image_size else answer_box)
    valid = [b for b in boxes if box_problem(b) is None]
    coords = [v for b in boxes for v in b if math.isfinite(v)]
    areas = [area_fraction(b) for b in valid]
    meta = rec.extra.get(MEDIA_META) if isinstance(rec.extra.get(MEDIA_META), dict) else {}
    duration = meta.get("duration") if rec.is_video else None
    fracs = [float(kf.time) / duration for kf in rec.key_frames] if duration else []
    nan = math.nan
    return {
        "id": None if rec.id is None else str(rec.id),
        "schema_ok": True,
        "task": rec.task,
        "media_path": rec.media_path or None,
        "question": rec.question,
        "answer": rec.answer,
        "reasoning_process": rec.reasoning_process,
        "n_key_frames": len(rec.key_frames),
        "n_boxes": len(boxes),
        "n_invalid_boxes": len(boxes) - len(valid),
        "min_box_coord": min(coords) if coords else nan,
        "max_box_coord": max(coords) if coords else nan,
        "max_box_area": max(areas) if areas else nan,
        "mean_box_area": sum(areas) / len(areas) if areas else nan,
        "max_key_time_frac": max(fracs) if fracs else nan,
        "mean_key_time_frac": sum(fracs) / len(fracs) if fracs else nan,
        "duration": float(duration) if duration else nan,
        "error": None,
    }


def records_frame(in_dir: str | Path) -> Any:
    """One row per line of the dataset's records.jsonl; unparseable lines become rows with `schema_ok` False."""
    import pandas as pd

    rows = []
    for index, rec, raw in open_dataset(in_dir).scan():
        if isinstance(rec, RecordError):
            rid = raw.get("id") if isinstance(raw, dict) else None
            rows.append({"id": None if rid is None else str(rid), "schema_ok": False, "error": f"line {index}: {rec}"})
        else:
            rows.append(record_row(rec))
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["schema_ok"] = df["schema_ok"].astype(bool)
    df["task_share"] = df["task"].map(df["task"].value_counts(normalize=True)).astype(float)
    return df


def build_suite(gx: Any, name: str, g: GateConfig, max_box_area: float, filled: frozenset[str] = frozenset()) -> Any:
    """The expectations of one gate; every threshold comes from the config.

    `filled` names the aggregate columns holding at least one value: a mean over a column with no values
    (a dataset of temporal QA only has no boxes) is vacuous, so that expectation is left out.
    """
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=f"o3v_{name}")
    add = suite.add_expectation
    add(gxe.ExpectTableRowCountToBeBetween(min_value=g.min_records))
    add(gxe.ExpectColumnValuesToBeInSet(column="schema_ok", value_set=[True]))
    add(gxe.ExpectColumnValuesToNotBeNull(column="id"))
    add(gxe.ExpectColumnValuesToBeUnique(column="id"))
    add(gxe.ExpectColumnValuesToBeInSet(column="task", value_set=list(TASKS)))
    if g.required_tasks:
        add(gxe.ExpectColumnDistinctValuesToContainSet(column="task", value_set=list(g.required_tasks)))
    add(gxe.ExpectColumnValuesToBeBetween(column="task_share", min_value=g.min_task_share, max_value=g.max_task_share))
    add(gxe.ExpectColumnValuesToNotBeNull(column="media_path"))
    add(gxe.ExpectColumnValueLengthsToBeBetween(column="question", min_value=1))
    add(gxe.ExpectColumnValueLengthsToBeBetween(column="answer", min_value=1))
    add(gxe.ExpectColumnValuesToNotBeNull(column="reasoning_process", mostly=g.reasoning_not_null))
    add(gxe.ExpectColumnValuesToBeBetween(column="n_invalid_boxes", max_value=0, mostly=g.box_in_range))
    add(gxe.ExpectColumnValuesToBeBetween(column="min_box_coord", min_value=0.0, mostly=g.box_in_range))
    add(gxe.ExpectColumnValuesToBeBetween(column="max_box_coord", max_value=1.0, mostly=g.box_in_range))
    add(gxe.ExpectColumnValuesToBeBetween(column="max_box_area", max_value=max_box_area, mostly=g.box_area_ok))
    if "mean_box_area" in filled:
        lo, hi = g.mean_box_area
        add(gxe.ExpectColumnMeanToBeBetween(column="mean_box_area", min_value=lo, max_value=hi))
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="max_key_time_frac", min_value=0.0, max_value=1.0, mostly=g.times_in_video
        )
    )
    if "mean_key_time_frac" in filled:
        lo, hi = g.mean_key_time_frac
        add(gxe.ExpectColumnMeanToBeBetween(column="mean_key_time_frac", min_value=lo, max_value=hi))
    return suite


def _describe(result: Any, ids: list[Any]) -> dict[str, Any]:
    cfg = result.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)}
    res = result.result or {}
    idx = res.get("partial_unexpected_index_list") or []
    return {
        "expectation": cfg.type,
        "kwargs": kwargs,
        "observed_value": res.get("observed_value"),
        "unexpected_count": res.get("unexpected_count"),
        "unexpected_percent": res.get("unexpected_percent"),
        "example_ids": [ids[i] for i in idx[:10] if isinstance(i, int) and i < len(ids)],
        "example_values": (res.get("partial_unexpected_list") or [])[:10],
    }


def _line(f: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v}" for k, v in f["kwargs"].items())
    if f["unexpected_count"] is not None:
        what = f"{f['unexpected_count']} rows ({f['unexpected_percent']:.1f}%) unexpected"
        if f["example_ids"]:
            what += f", e.g. ids {f['example_ids'][:5]}"
    else:
        obs = f["observed_value"]
        what = f"observed {round(obs, 4) if isinstance(obs, float) else obs}"
    return f"  FAIL {f['expectation']}({args}): {what}"


def _run_checkpoint(gx: Any, df: Any, suite: str, cfg: CurateConfig, out: Path) -> tuple[Any, Path | None]:
    """Validate `df` against gate `suite` in an ephemeral GX context; copy its Data Docs page into `out`.

    Returns the checkpoint result and the page (None when GX wrote none).
    """
    from great_expectations.data_context.types.base import ProgressBarsConfig

    with tempfile.TemporaryDirectory(prefix="o3v-gx-") as tmp:
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        batch_def = (
            ctx.data_sources.add_pandas(name="o3v")
            .add_dataframe_asset(name=f"{suite}_records")
            .add_batch_definition_whole_dataframe("all_records")
        )
        filled = frozenset(c for c in ("mean_box_area", "mean_key_time_frac") if df[c].notna().any())
        gx_suite = ctx.suites.add(build_suite(gx, suite, cfg.gates[suite], cfg.filter.max_box_area, filled))
        vd = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=f"gate_{suite}", data=batch_def, suite=gx_suite)
        )
        site = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": tmp},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
        ctx.add_data_docs_site(site_name="o3v_gate", site_config=site)  # not "local_site": it exists already
        cp = ctx.checkpoints.add(
            gx.Checkpoint(
                name=f"gate_{suite}_checkpoint",
                validation_definitions=[vd],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["o3v_gate"])],
                result_format={"result_format": "SUMMARY"},
            )
        )
        res = cp.run(batch_parameters={"dataframe": df})
        pages = sorted(Path(tmp, "validations").rglob("*.html"))
        html = out / f"gate_{suite}.html"
        if pages:  # one file that renders offline (GX links its styles and scripts from CDNs)
            html.write_text(self_contained_page(pages[-1]), encoding="utf-8")
        else:
            html = None
            log.warning("gate %s: GX wrote no validation page under %s", suite, tmp)
    return res, html


def validate(in_dir: str | Path, suite: str, out_dir: str | Path, config: Any = None) -> GateResult:
    """Run gate `suite` on dataset `in_dir`; write `gate_<suite>.html/.json` into `out_dir`."""
    if suite not in GATE_SUITES:
        raise ValueError(f"unknown gate suite {suite!r}; expected one of {list(GATE_SUITES)}")
    cfg: CurateConfig = load_config(config)
    t0 = time.perf_counter()
    df = records_frame(in_dir)
    gx_log = logging.getLogger("great_expectations")
    gx_log.setLevel(max(gx_log.getEffectiveLevel(), logging.WARNING))  # its INFO lines are registration noise
    t_frame = time.perf_counter()
    import great_expectations as gx

    t_import = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    res, html = _run_checkpoint(gx, df, suite, cfg, out)
    ids = [i if isinstance(i, str) else e for i, e in zip(df["id"], df["error"])]
    vr = next(iter(res.run_results.values()))
    failed = [_describe(r, ids) for r in vr.results if not r.success]
    stats = {
        **dict(vr.statistics),
        "records": len(df),
        "seconds_total": round(time.perf_counter() - t0, 3),
        "seconds_frame": round(t_frame - t0, 3),
        "seconds_gx_import": round(t_import - t_frame, 3),
    }
    head = (
        f"gate '{suite}': {'PASSED' if res.success else 'FAILED'} "
        f"({stats['successful_expectations']}/{stats['evaluated_expectations']} expectations met) "
        f"on {len(df)} records from {in_dir}"
    )
    summary = "\n".join([head, *(_line(f) for f in failed)])
    result = GateResult(bool(res.success), summary, html, stats, failed)
    (out / f"gate_{suite}.json").write_text(
        json.dumps(result.to_json(), indent=2, default=str) + "\n", encoding="utf-8"
    )
    (log.info if result.success else log.error)("%s", summary)
    return result

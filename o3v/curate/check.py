"""Consistency-check stage (`o3v check IN --out OUT`): reasoning, evidence and answer must agree.

Each record is screened by the rules of `o3v.curate.consistency` (stable reason codes, listed there); among the
survivors, near-duplicate questions of one video and task are rejected as `near_duplicate_question` (the first
is kept); an optional teacher rewrite of the reasoning follows (`check.rewrite`; see `o3v.curate.rewrite`).
Every rejected record lands in the stage's rejects with its reason.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from o3v.curate.config import CurateConfig, load_config
from o3v.curate.consistency import consistency_problems, find_duplicates
from o3v.curate.dataset import StageOutput, open_dataset, reject_row
from o3v.curate.rewrite import rewrite_reasoning
from o3v.records import Record

log = logging.getLogger(__name__)

STAGE = "check"


def check_records(in_dir: str | Path, out_dir: str | Path, config: Any = None) -> dict[str, Any]:
    """Consistency-check stage: dataset `in_dir` -> dataset `out_dir`; returns the stats dict."""
    cfg: CurateConfig = load_config(config)
    ds = open_dataset(in_dir)
    out = StageOutput(STAGE)
    n_in, survivors = out.screen(ds, lambda rec: consistency_problems(rec, cfg.check), "check")
    dups = find_duplicates([r for _, r in survivors], cfg.check.near_duplicate_similarity)
    unique: list[tuple[int, Record]] = []
    for pos, (index, rec) in enumerate(survivors):
        if pos in dups:
            kept_pos, ratio = dups[pos]
            values = {"duplicate_of": survivors[kept_pos][1].id, "similarity": round(ratio, 4)}
            out.reject(
                reject_row(
                    STAGE,
                    "near_duplicate_question",
                    id=rec.id,
                    index=index,
                    field="question",
                    values=values,
                    record=rec.to_dict(),
                )
            )
        else:
            unique.append((index, rec))
    extra: dict[str, Any] = {}
    if cfg.check.rewrite != "none":
        unique, extra["rewrite"] = rewrite_reasoning(unique, cfg, ds.media_root)
    for _, rec in unique:
        out.keep(rec)
    return out.write(out_dir, n_in, ds.meta, cfg, **extra)

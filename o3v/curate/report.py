"""`o3v curate-report OUT [--json]`: per-stage counts and, for synth worlds, precision/recall per fault type.

Scoring against the injected fault labels (`faults.jsonl`: {"id", "fault", "stage", "detail"}):

- **recall** of fault type F: share of records labelled F that were rejected **by the stage F is designed
  for** (the label's `stage`: `filter` or `check`). A fault that slips through its stage and is caught
  later, or rejected earlier for an unrelated reason, does not count as caught;
- **precision** of F: among the records rejected with a reason code that detects F (`REASON_FAULT`),
  the share labelled F. A clean record rejected by such a rule is a false positive.

The text report also lists clean (unlabelled) records that any stage rejected, by reason.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from o3v.curate.pipeline import STAGES
from o3v.records import read_jsonl

_BOX_CODES = ("inverted", "zero_area", "out_of_frame", "non_finite", "not_4_numbers", "missing")
REASON_FAULT: dict[str, str] = {
    "box_oversized": "oversized_box",
    "claim_box_oversized": "oversized_box",
    **{f"box_{c}": "malformed_box" for c in _BOX_CODES},
    **{f"claim_box_{c}": "malformed_box" for c in _BOX_CODES},
    "category_mismatch": "wrong_category",
    "category_unclear": "wrong_category",
    "claim_time_unmatched": "shifted_time",
    "claim_object_unmatched": "shifted_time",
    "claim_box_mismatch": "shifted_time",
    "answer_outside_evidence": "contradicting_reasoning",
    "answer_contradicts_reasoning": "contradicting_reasoning",
    "option_span_mismatch": "contradicting_reasoning",
    "option_not_in_options": "contradicting_reasoning",
}


def _rejects(out: Path) -> dict[str, tuple[str, str]]:
    """Record id -> (stage, reason) of its rejection (a record is rejected at most once)."""
    got: dict[str, tuple[str, str]] = {}
    for stage in STAGES:
        path = out / stage / "rejects.jsonl"
        if path.is_file():
            for row in read_jsonl(path):
                if row.get("id") is not None:
                    got.setdefault(str(row["id"]), (stage, row["reason"]))
    return got


def fault_scores(labels: list[dict[str, Any]], rejected: dict[str, tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Precision, recall and their counts per fault type (see the module docstring)."""
    by_fault: dict[str, dict[str, str]] = defaultdict(dict)
    for lab in labels:
        by_fault[lab["fault"]][str(lab["id"])] = lab["stage"]
    flagged: dict[str, set[str]] = defaultdict(set)
    for rid, (_, reason) in rejected.items():
        if reason in REASON_FAULT:
            flagged[REASON_FAULT[reason]].add(rid)
    out = {}
    for fault, ids in sorted(by_fault.items()):
        caught = [rid for rid, stage in ids.items() if rid in rejected and rejected[rid][0] == stage]
        tp = len(flagged[fault] & set(ids))
        out[fault] = {
            "precision": round(tp / len(flagged[fault]), 4) if flagged[fault] else 0.0,
            "recall": round(len(caught) / len(ids), 4),
            "support": len(ids),
            "caught": len(caught),
            "flagged": len(flagged[fault]),
            "false_positives": sorted(flagged[fault] - set(ids))[:20],
            "missed": sorted(set(ids) - set(caught))[:20],
        }
    return out


def curation_report(out_dir: str | Path) -> dict[str, Any]:
    """Counts per stage, per-fault scores (when labels exist) and clean records rejected, by reason."""
    out = Path(out_dir)
    counts: dict[str, dict[str, int]] = {}
    for stage in STAGES:
        path = out / stage / "stats.json"
        if path.is_file():
            s = json.loads(path.read_text(encoding="utf-8"))
            counts[stage] = {"in": s["in"], "kept": s["kept"], "rejected": s["rejected"]}
    if not counts:
        raise FileNotFoundError(f"{out}: no stage outputs (expected {', '.join(f'{s}/stats.json' for s in STAGES)})")
    meta_path = out / "annotate" / "dataset.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    labels_path = meta.get("fault_labels")
    labels = read_jsonl(labels_path) if labels_path and Path(labels_path).is_file() else []
    rejected = _rejects(out)
    labelled = {str(lab["id"]) for lab in labels}
    clean_rejected = Counter(reason for rid, (_, reason) in rejected.items() if rid not in labelled)
    return {
        "counts": counts,
        "per_fault": fault_scores(labels, rejected) if labels else {},
        "fault_labels": labels_path,
        "clean_rejected": dict(sorted(clean_rejected.items())) if labels else {},
    }


def contract_json(report: dict[str, Any]) -> dict[str, Any]:
    """The `o3v curate-report --json` contract: counts, and precision/recall per fault type."""
    per_fault = {f: {"precision": v["precision"], "recall": v["recall"]} for f, v in report["per_fault"].items()}
    return {"counts": report["counts"], "per_fault": per_fault}


def format_report(report: dict[str, Any]) -> str:
    """Human-readable tables of `curation_report`."""
    lines = [f"{'stage':<10}{'in':>8}{'kept':>8}{'rejected':>10}"]
    lines += [f"{s:<10}{c['in']:>8}{c['kept']:>8}{c['rejected']:>10}" for s, c in report["counts"].items()]
    if report["per_fault"]:
        lines += ["", f"faults from {report['fault_labels']} (recall: rejected by the designed stage)",
                  f"{'fault':<26}{'precision':>10}{'recall':>8}{'support':>9}{'caught':>8}{'flagged':>9}"]  # fmt: skip
        for f, v in report["per_fault"].items():
            lines.append(
                f"{f:<26}{v['precision']:>10.3f}{v['recall']:>8.3f}{v['support']:>9}{v['caught']:>8}{v['flagged']:>9}"
            )
            if v["missed"]:
                lines.append(f"  missed: {', '.join(v['missed'])}")
            if v["false_positives"]:
                lines.append(f"  false positives: {', '.join(v['false_positives'])}")
    if report["clean_rejected"]:
        lines += [
            "",
            "clean (unlabelled) records rejected: "
            + ", ".join(f"{k} {v}" for k, v in report["clean_rejected"].items()),
        ]
    return "\n".join(lines)

"""Grounded-evidence metric: do the model's `<obj>..<box>..at<t>` claims hit the annotated evidence?

For each annotated evidence item (object, time, normalized box) of a sample, the matching claims are those
naming the same object (case-insensitive) at a time within `time_tolerance` seconds (1 s, the tolerance of the
reference's temporal gate, open-o3-video.md §9.4); the item scores the best `o3v.geometry.box_iou` among them.

Per sample: `evidence_miou` (mean best IoU over items), `evidence_recall` (items with IoU >= threshold),
`time_recall` (items with any same-object claim in time) and `claim_precision` (claims that hit some item at
IoU >= threshold; 0 when the sample has no claims). Means are over samples that carry evidence.
"""

from __future__ import annotations

import json

import datasets
import evaluate

from o3v.geometry import box_iou


def _matches(claim: dict, item: dict, tol: float) -> bool:
    same = str(claim["object"]).strip().lower() == str(item["object"]).strip().lower()
    return same and abs(float(claim["time"]) - float(item["time"])) <= tol


def sample_scores(claims: list[dict], items: list[dict], tol: float = 1.0, thr: float = 0.5) -> dict:
    """Scores of one sample (claims and items: {"object", "time", "box"} with normalized boxes).

    Example:
        >>> item = {"object": "red circle", "time": 2.0, "box": [0.1, 0.1, 0.3, 0.3]}
        >>> sample_scores([dict(item, time=2.5)], [item])["evidence_miou"]
        1.0
    """
    best = []
    timely = 0
    for item in items:
        near = [c for c in claims if _matches(c, item, tol)]
        timely += bool(near)
        best.append(max((box_iou(c["box"], item["box"]) for c in near), default=0.0))
    hits = sum(1 for c in claims if any(_matches(c, i, tol) and box_iou(c["box"], i["box"]) >= thr for i in items))
    n = len(items)
    return {
        "evidence_miou": sum(best) / n if n else 0.0,
        "evidence_recall": sum(1 for b in best if b >= thr) / n if n else 0.0,
        "time_recall": timely / n if n else 0.0,
        "claim_precision": hits / len(claims) if claims else 0.0,
    }


class GroundedEvidence(evaluate.Metric):
    """Evidence IoU / recall / precision of grounded claims against annotated key-frame boxes."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Grounded claims vs annotated evidence: best IoU per item within a time tolerance.",
            citation="",
            inputs_description="predictions/references: JSON lists of {object, time, box (normalized xyxy)}.",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, time_tolerance=1.0, iou_threshold=0.5):
        rows = []
        for p, r in zip(predictions, references):
            items = json.loads(r)
            if items:
                rows.append(sample_scores(json.loads(p), items, time_tolerance, iou_threshold))
        keys = ("evidence_miou", "evidence_recall", "time_recall", "claim_precision")
        out = {k: (sum(row[k] for row in rows) / len(rows) if rows else 0.0) for k in keys}
        out["n"] = len(rows)
        out["per_sample"] = [row["evidence_miou"] for row in rows]
        return out

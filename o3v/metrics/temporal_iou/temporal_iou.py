"""Temporal IoU metric (V-STaR "when", TVGBench): mean tIoU and R@m, as `evaluate.Metric` loaded by path.

Per sample: tIoU of the predicted (start, end) against the ground truth with `o3v.geometry.temporal_iou`
(hull denominator, the formula both official scorers use). An empty prediction (unparsable answer) scores 0.
A zero-length hull also scores 0: both official scorers divide by the hull and guard only `hull > 0`.

Recall at m: V-STaR counts `IoU >= m`; TVGBench (Time-R1's `eval_all.py`) counts the **strict** `IoU > m`
(benchmarks.md §6). `strict` selects the rule; the report never mixes them.
"""

from __future__ import annotations

import datasets
import evaluate

from o3v.geometry import temporal_iou

_DESCRIPTION = "Mean temporal IoU and recall at IoU thresholds (strict > for TVGBench, >= for V-STaR)."
_INPUTS = """
predictions: list of [start, end] in seconds; [] for an unparsable answer.
references: list of [start, end] ground-truth spans.
thresholds: recall thresholds (default 0.3, 0.5, 0.7).
strict: count IoU > m (TVGBench) instead of IoU >= m (V-STaR).
Returns {"miou", "r@0.3", ..., "ious": per-sample IoU}; all fractions in [0, 1].
"""


def span_iou(pred: list[float], ref: list[float]) -> float:
    """tIoU of one prediction; 0 for an empty/malformed prediction or a zero-length hull.

    Example:
        >>> span_iou([0.0, 4.0], [2.0, 6.0])
        0.3333333333333333
        >>> span_iou([], [2.0, 6.0])
        0.0
    """
    if len(pred) != 2 or len(ref) != 2:
        return 0.0
    if max(pred[1], ref[1]) - min(pred[0], ref[0]) <= 0:
        return 0.0
    return temporal_iou(pred, ref)


def recall(ious: list[float], m: float, strict: bool) -> float:
    """Fraction of IoUs above threshold m (`>` when strict, `>=` otherwise)."""
    if not ious:
        return 0.0
    hits = sum(1 for v in ious if (v > m if strict else v >= m))
    return hits / len(ious)


class TemporalIoU(evaluate.Metric):
    """mIoU and R@m over (start, end) spans."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float64")),
                    "references": datasets.Sequence(datasets.Value("float64")),
                }
            ),
        )

    def _compute(self, predictions, references, thresholds=(0.3, 0.5, 0.7), strict=False):
        ious = [span_iou(list(p), list(r)) for p, r in zip(predictions, references)]
        out = {"miou": sum(ious) / len(ious) if ious else 0.0}
        for m in thresholds:
            out[f"r@{m}"] = recall(ious, m, strict)
        out["ious"] = ious
        return out

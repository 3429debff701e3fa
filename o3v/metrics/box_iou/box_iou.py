"""Box IoU metric (visual-QA answer boxes of the synthetic benchmark), as `evaluate.Metric` loaded by path.

Both sides are xyxy boxes in the same space (the caller converts model-input pixels first); an empty
prediction (no parsable box) scores 0. IoU is `o3v.geometry.box_iou`.
"""

from __future__ import annotations

import datasets
import evaluate

from o3v.geometry import box_iou


def sample_iou(pred: list[float], ref: list[float]) -> float:
    """IoU of one predicted box, 0 when the prediction is missing.

    Example:
        >>> sample_iou([0, 0, 2, 2], [1, 1, 3, 3]), sample_iou([], [1, 1, 3, 3])
        (0.14285714285714285, 0.0)
    """
    return box_iou(pred, ref) if len(pred) == 4 and len(ref) == 4 else 0.0


class BoxIoU(evaluate.Metric):
    """Mean box IoU and accuracy at IoU >= 0.5."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Mean IoU of predicted boxes and the fraction with IoU >= threshold.",
            citation="",
            inputs_description="predictions/references: [x1, y1, x2, y2] in one space; [] = no box.",
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float64")),
                    "references": datasets.Sequence(datasets.Value("float64")),
                }
            ),
        )

    def _compute(self, predictions, references, threshold=0.5):
        ious = [sample_iou(list(p), list(r)) for p, r in zip(predictions, references)]
        n = len(ious)
        return {
            "miou": sum(ious) / n if n else 0.0,
            f"acc@{threshold}": sum(1 for v in ious if v >= threshold) / n if n else 0.0,
            "ious": ious,
        }

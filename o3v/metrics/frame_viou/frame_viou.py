"""V-STaR "where" metric: per-frame visual IoU with whole-second keys, as `evaluate.Metric` loaded by path.

The official rule (V-STaR `eval.py`, Open-o3 `eval_vstar.py`; benchmarks.md §1.5):

- the prediction is the parsed answer: a dict `{"<second>": box | [box, ...]}` (anything else scores 0);
- for each ground-truth box, the key is `str(gt["timestamp"])`: an int timestamp 3 matches "3", a float 3.0
  only "3.0"; a present key scores the **max** IoU over the boxes under it, a missing key 0;
- per-sample mIoU = mean over ground-truth frames; predicted frames without ground truth are ignored;
- "AP@m" = fraction of ground-truth frames with IoU >= m (a recall rate, named as upstream), averaged over samples.

Boxes are `[x1, y1, x2, y2]` in original-video pixels on both sides. IoU is `o3v.geometry.box_iou`, except that
a zero union scores 0 as upstream (geometry gives two identical zero-area boxes 1). A box list holding a
non-number spoils the whole frame (upstream's bare `except` around that frame), other malformed boxes score 0.
"""

from __future__ import annotations

import json
import math
from typing import Any

import datasets
import evaluate

from o3v.geometry import box_area, box_iou

THRESHOLDS = (0.1, 0.3, 0.5, 0.7, 0.9)
_INPUTS = """
predictions: JSON strings of the parsed where-answer (dict second -> box or list of boxes; null/list score 0).
references: JSON strings of the ground-truth `bboxes` list ({timestamp, xmin, ymin, xmax, ymax, ...}).
Returns {"mviou", "ap@0.1", ..., "ap@0.9", "vious": per-sample mIoU, "frame_ious": per-sample lists}.
"""


def _number(v: Any) -> bool:
    return isinstance(v, int | float)


def _iou(gt: list[float], pred: Any) -> float:
    if not isinstance(pred, list | tuple) or len(pred) != 4:
        return 0.0
    if not all(_number(v) for v in pred):
        raise TypeError("non-numeric box")
    if box_area(gt) + box_area(pred) <= 0:
        return 0.0
    return box_iou(gt, pred)


def frame_iou(gt: list[float], value: Any) -> float:
    """Max IoU of one ground-truth box against the value under its key (a box or a list of boxes)."""
    try:
        if not value:
            return 0.0
        if isinstance(value, list | tuple) and len(value) == 4 and _number(value[0]):
            value = [value]
        if not isinstance(value, list | tuple):
            return 0.0
        return max(_iou(gt, box) for box in value)
    except (TypeError, ValueError, OverflowError):
        return 0.0


def sample_ious(gt_boxes: list[dict], pred: Any) -> list[float]:
    """Per-ground-truth-frame IoUs of one sample (empty list when the sample has no boxes).

    Example:
        >>> sample_ious([{"timestamp": 3, "xmin": 0, "ymin": 0, "xmax": 2, "ymax": 2}], {"3": [0, 0, 2, 2]})
        [1.0]
    """
    if not pred or not isinstance(pred, dict):
        return [0.0] * len(gt_boxes)
    out = []
    for gt in gt_boxes:
        key = str(gt["timestamp"])
        box = [gt["xmin"], gt["ymin"], gt["xmax"], gt["ymax"]]
        out.append(frame_iou(box, pred[key]) if key in pred else 0.0)
    return out


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


class FrameVIoU(evaluate.Metric):
    """m_vIoU and AP@m over V-STaR where-answers."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="V-STaR per-frame visual IoU (whole-second keys) and AP@0.1..0.9.",
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, thresholds=THRESHOLDS):
        per_sample = [sample_ious(json.loads(r), json.loads(p)) for p, r in zip(predictions, references)]
        out: dict[str, Any] = {"mviou": _mean([_mean(ious) for ious in per_sample])}
        for m in thresholds:
            out[f"ap@{m}"] = _mean([_mean([1.0 if v >= m else 0.0 for v in ious]) for ious in per_sample])
        out["vious"] = [_mean(ious) for ious in per_sample]
        out["frame_ious"] = per_sample
        return out

"""Answer rewards (`r_acc`, open-o3-video.md §9.1): accuracy, temporal IoU, visual IoU of the `<answer>` block.

Each is a trl reward `(completions, reference, **kwargs) -> list[float | None]`: None where the term does
not apply to the record's task (§9.6), a score in [0, 1] otherwise. A completion without an `<answer>` block
scores 0, as upstream (its answer extracts to "").
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from o3v.geometry import box_iou, temporal_iou
from o3v.grounded import Box4, parse, where_boxes
from o3v.rewards.columns import Reference, applies, completion_text, references


@functools.lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge_mean_f1(reference: str, hypothesis: str) -> float:
    """Mean of ROUGE-1, ROUGE-2 and ROUGE-L F-measures (stemmer on), clipped to [0, 1], as upstream.

    Example:
        >>> round(rouge_mean_f1("a red ball rolls left", "the red ball rolled left"), 4)
        0.7833
    """
    scores = _rouge_scorer().score(reference, hypothesis)
    mean = (scores["rouge1"].fmeasure + scores["rouge2"].fmeasure + scores["rougeL"].fmeasure) / 3
    return max(0.0, min(1.0, mean))


def _require(value: Any, ref: Reference, field: str, term: str) -> Any:
    if value is None:
        raise ValueError(f"reward {term}: reference of a {ref.task!r} record has no {field!r}")
    return value


def where_iou(pred: dict[str, Box4] | None, truth: dict[str, Box4]) -> float:
    """Mean over the true keys (whole seconds) of the IoU with the predicted box under the same key, 0 if absent.

    V-STaR's per-sample vIoU rule: predicted seconds without ground truth are ignored.

    Example:
        >>> where_iou({"1": (0, 0, 2, 2), "5": (0, 0, 1, 1)}, {"1": (0, 0, 2, 2), "2": (0, 0, 2, 2)})
        0.5
    """
    if not truth:
        return 0.0
    return sum(box_iou(box, pred[k]) if pred and k in pred else 0.0 for k, box in truth.items()) / len(truth)


def _accuracy(text: str, ref: Reference) -> float | None:
    if not applies("answer_accuracy", ref.task):
        return None
    g = parse(text)
    if "MCQ" in ref.task:
        # `o3v.grounded.parse_option`: `B`, `B.`, `(B)`, `[B]` (upstream's forms) or `Correct Option: B`.
        return 1.0 if g.option is not None and g.option == _require(ref.option, ref, "option", "accuracy") else 0.0
    truth = where_boxes(ref.answer)
    if truth is not None:  # a where-over-time answer (boxes by second): IoU, not ROUGE over digit strings
        return where_iou(where_boxes(g.answer or ""), truth)
    return rouge_mean_f1(ref.answer, g.answer or "")


def answer_accuracy_reward(completions: Sequence[Any], reference: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """Option match for MCQ tasks, `where_iou` for a where-over-time answer (boxes by second, V-STaR's JSON),
    mean ROUGE-1/2/L F1 for other free-form answers.

    Example:
        >>> ref = {"task": "General video QA MCQ", "option": "B"}
        >>> answer_accuracy_reward(["<think>x</think><answer>(B)</answer>", "<answer>C</answer>"], [ref, ref])
        [1.0, 0.0]
    """
    return [_accuracy(completion_text(c), r) for c, r in zip(completions, references(reference), strict=True)]


def _temporal_iou(text: str, ref: Reference) -> float | None:
    if not applies("answer_temporal_iou", ref.task):
        return None
    span = parse(text).answer_span
    return temporal_iou(span, _require(ref.span, ref, "span", "answer_temporal_iou")) if span else 0.0


def answer_temporal_iou_reward(
    completions: Sequence[Any], reference: Sequence[Any], **kwargs: Any
) -> list[float | None]:
    """Temporal IoU of the answer's `From <t>S</t>s to <t>E</t>s` with the GT span; 0 when absent or inverted.

    Example:
        >>> ref = {"task": "temporal QA", "span": [2.0, 6.0]}
        >>> answer_temporal_iou_reward(["<answer>From <t>0</t>s to <t>4</t>s</answer>"], [ref])
        [0.3333333333333333]
    """
    return [_temporal_iou(completion_text(c), r) for c, r in zip(completions, references(reference), strict=True)]


def _visual_iou(text: str, ref: Reference) -> float | None:
    if not applies("answer_visual_iou", ref.task):
        return None
    boxes = parse(text).answer_boxes
    return box_iou(boxes[0], _require(ref.box, ref, "box", "answer_visual_iou")) if boxes else 0.0


def answer_visual_iou_reward(
    completions: Sequence[Any], reference: Sequence[Any], **kwargs: Any
) -> list[float | None]:
    """IoU of the first `<box>` in the answer with the GT box (both in model-input pixels).

    Example:
        >>> ref = {"task": "visual QA", "box": [0, 0, 2, 2]}
        >>> answer_visual_iou_reward(["<answer><obj>cat</obj><box>[1,1,3,3]</box></answer>"], [ref])
        [0.14285714285714285]
    """
    return [_visual_iou(completion_text(c), r) for c, r in zip(completions, references(reference), strict=True)]

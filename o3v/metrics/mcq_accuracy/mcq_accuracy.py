"""Multiple-choice accuracy with unparsable answers counted (never guessed), as `evaluate.Metric` loaded by path.

Upstream Open-o3 turns an answer it cannot parse into "A" (argmax over a zero-initialised letter dict,
benchmarks.md §2, open-o3-video.md §13 pitfall 17): a free 25 % on format failures. Here the caller passes ""
for an unparsable answer; it is wrong and counted in `unparsable`.
"""

from __future__ import annotations

import datasets
import evaluate

_INPUTS = """
predictions: predicted option letters, "" when the answer could not be parsed.
references: ground-truth letters.
Returns {"accuracy", "unparsable" (fraction), "n", "correct": per-sample 0/1}.
"""


def is_correct(pred: str, ref: str) -> bool:
    """Exact letter match; an empty prediction is never correct.

    Example:
        >>> is_correct("B", "B"), is_correct("", "A")
        (True, False)
    """
    return bool(pred) and pred.strip().upper() == ref.strip().upper()


class MCQAccuracy(evaluate.Metric):
    """Accuracy and the unparsable rate of option letters."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Multiple-choice accuracy; unparsable answers are wrong and counted.",
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        correct = [1 if is_correct(p, r) else 0 for p, r in zip(predictions, references)]
        n = len(correct)
        return {
            "accuracy": sum(correct) / n if n else 0.0,
            "unparsable": sum(1 for p in predictions if not p) / n if n else 0.0,
            "n": n,
            "correct": correct,
        }

"""Free-text answer match (synthetic free-form QA), as `evaluate.Metric` loaded by path.

Exact match and token F1 after SQuAD-style normalisation (lower case, punctuation and articles removed,
whitespace collapsed). The synthetic world's free-form answers are short facts ("3", "red circle and blue
square"), so these two are meaningful there; real free-form benchmarks use an LLM judge instead (V-STaR).
"""

from __future__ import annotations

import re
import string
from collections import Counter

import datasets
import evaluate

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> list[str]:
    """Lower-cased tokens without punctuation and articles.

    Example:
        >>> normalize("The Red circle, and a square.")
        ['red', 'circle', 'and', 'square']
    """
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split()


def token_f1(pred: str, ref: str) -> float:
    """Harmonic mean of token precision and recall (1.0 when both are empty)."""
    p, r = normalize(pred), normalize(ref)
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


class TextMatch(evaluate.Metric):
    """Exact match and token F1 of short free-text answers."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Exact match and token F1 after SQuAD-style normalisation.",
            citation="",
            inputs_description="predictions/references: answer strings ('' = no answer).",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        exact = [1 if normalize(p) == normalize(r) and normalize(r) else 0 for p, r in zip(predictions, references)]
        f1 = [token_f1(p, r) if p else 0.0 for p, r in zip(predictions, references)]
        n = len(exact)
        return {"exact": sum(exact) / n if n else 0.0, "f1": sum(f1) / n if n else 0.0, "f1s": f1}

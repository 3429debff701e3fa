"""Open-answer accuracy with MMMU's rules (VideoMMMU open questions), as `evaluate.Metric` loaded by path.

Rules (MMMU `parse_open_response` + `eval_open`, which Open-o3's and lmms-eval's VideoMMMU scorers call;
benchmarks.md §5), re-implemented here:

1. Key sub-responses: lower-case the response, strip it and trailing dots, split on new lines; in each part take
   the shortest tail after one of "could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ",
   "result " (and "=" in the last part); no tail anywhere -> the whole response.
2. Candidates: those tails plus every number found in them (comma-grouped, scientific, plain).
3. Normalise: a number becomes round(float, 2); other text is lower-cased (a single character is padded
   with a space on either side so "a" does not match inside words).
4. Correct iff a numeric candidate equals a numeric gold, or a normalised gold string occurs inside a text
   candidate.
"""

from __future__ import annotations

import json
import re

import datasets
import evaluate

_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_PUNCT = {":", ",", ".", "!", "?", ";", "'"}
_COMMA_NUM = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_SCI_NUM = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_PLAIN_NUM = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+)(?![eE][+-]?\d+)(?![,\d])")


def _as_number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def normalize(text: str) -> list[str | float]:
    """One answer string -> its comparable forms (a rounded number, or lower-cased text)."""
    text = text.strip()
    num = _as_number(text)
    if num is not None:
        return [round(num, 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


def numbers_in(text: str) -> list[str]:
    """Comma-grouped, scientific and plain numbers, in that order."""
    return _COMMA_NUM.findall(text) + _SCI_NUM.findall(text) + _PLAIN_NUM.findall(text)


def key_responses(response: str) -> list[str]:
    """The shortest tail after an answer indicator, per line of the response."""
    response = response.strip().strip(".").lower()
    parts = re.split(r"\.\s(?=[A-Z])|\n", response)  # after lower() only the newline splits, as in MMMU
    keys = []
    for i, part in enumerate(parts):
        indicators = (*_INDICATORS, "=") if i == len(parts) - 1 else _INDICATORS
        tails = [part.split(ind)[-1].strip() for ind in indicators if ind in part]
        if tails:
            shortest = min(tails, key=len)
            if shortest.strip() not in _PUNCT:
                keys.append(shortest)
    return keys or [response]


def candidates(response: str) -> list[str | float]:
    """Every normalised candidate answer of a free-text response (deduplicated)."""
    keys = key_responses(response)
    raw = keys + [n for k in keys for n in numbers_in(k)]
    out: list[str | float] = []
    for item in raw:
        for norm in normalize(item):
            if norm not in out:
                out.append(norm)
    return out


def is_correct(golds: list[str], response: str) -> bool:
    """MMMU `eval_open`: numeric equality or gold-text containment.

    Example:
        >>> is_correct(["42"], "The answer is 42."), is_correct(["paris"], "so it is Paris"), is_correct(["7"], "8")
        (True, True, False)
    """
    norm_golds = [g for gold in golds for g in normalize(str(gold))]
    for cand in candidates(response):
        if isinstance(cand, str):
            if any(isinstance(g, str) and g in cand for g in norm_golds):
                return True
        elif cand in norm_golds:
            return True
    return False


class OpenAnswer(evaluate.Metric):
    """Instance-level accuracy of free-text answers under MMMU's open-answer rules."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="MMMU-style open-answer accuracy (parse_open_response + eval_open).",
            citation="",
            inputs_description="predictions: raw answers; references: JSON lists of gold answers.",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        correct = [1 if is_correct(json.loads(r), p) else 0 for p, r in zip(predictions, references)]
        n = len(correct)
        return {"accuracy": sum(correct) / n if n else 0.0, "n": n, "correct": correct}

"""Test-time scaling for multiple-choice answers: plain majority voting and confidence-aware voting.

Confidence-aware voting (Open-o3 `eval/tts.py`, open-o3-video.md §10.4): sample N answers; for each one with a
valid letter, crop the boxes its reasoning claims (`<obj>..</obj><box>[..]</box>at<t>T</t>s`) from the frame the
model saw at T, and ask the same model how relevant the crops are to the question (0/1/2). The rating becomes a
weight (2 -> 1.0, 1 -> 0.6, 0 -> 0.2; an unreadable rating or no usable crop -> 0.2; more than 10 crops
counts as none); an invalid letter weighs 0. The answer is the letter with the largest summed weight, ties to
the earliest letter. Unlike upstream, no valid letter at all gives **no** answer (unparsable), not "A".

The pure parts (weights, the vote, the crops) live here; the runner calls the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from o3v.grounded import parse

RELEVANCE_WEIGHTS = {2: 1.0, 1: 0.6, 0: 0.2}
NO_EVIDENCE_WEIGHT = 0.2  # no crop, too many crops, or an unreadable rating (upstream's value)
MAX_CROPS = 10
RATING_SYSTEM = "Only reply with a single digit: 0, 1, or 2."
_DIGIT = re.compile(r"^\s*([012])\s*\.?\s*$")


def rating_messages(question: str, options: Sequence[str] | None, n_crops: int) -> list[dict]:
    """The relevance question asked of the model about a set of evidence crops (images first)."""
    content: list[dict] = [{"type": "image"} for _ in range(n_crops)]
    text = question + ("\n" + "\n".join(options) if options else "")
    content.append(
        {
            "type": "text",
            "text": (
                "These image regions were cropped from the video as evidence for answering the question below. "
                "How relevant are they to the question? Reply 2 if clearly relevant, 1 if maybe relevant, "
                "0 if not relevant."
                f"\nQuestion: {text}"
            ),
        }
    )
    return [
        {"role": "system", "content": [{"type": "text", "text": RATING_SYSTEM}]},
        {"role": "user", "content": content},
    ]


def relevance_weight(reply: str | None) -> float:
    """Weight of a 0/1/2 rating reply; anything but a lone digit 0-2 weighs `NO_EVIDENCE_WEIGHT`.

    Example:
        >>> relevance_weight("2"), relevance_weight(" 1\\n"), relevance_weight("very relevant")
        (1.0, 0.6, 0.2)
    """
    m = _DIGIT.match(reply or "")
    return RELEVANCE_WEIGHTS[int(m.group(1))] if m else NO_EVIDENCE_WEIGHT


def vote(letters: Sequence[str | None], weights: Sequence[float], order: str) -> tuple[str | None, dict[str, float]]:
    """Weighted vote: (winner, totals). Letters outside `order` (or None) weigh 0; ties go to the earliest.

    Example:
        >>> vote(["B", "C", "C", None], [1.0, 0.2, 0.2, 1.0], "ABCD")
        ('B', {'B': 1.0, 'C': 0.4})
        >>> vote(["C", "B"], [0.6, 0.6], "ABCD")[0], vote([None, "Z"], [1.0, 1.0], "ABCD")[0]
        ('B', None)
    """
    totals: dict[str, float] = {}
    for letter, weight in zip(letters, weights):
        if letter and letter in order:
            totals[letter] = totals.get(letter, 0.0) + float(weight)
    if not totals:
        return None, totals
    best = max(totals.values())
    winner = next(k for k in order if k in totals and abs(totals[k] - best) < 1e-12)
    return winner, dict(sorted(totals.items()))


def majority_weights(letters: Sequence[str | None]) -> list[float]:
    """Weight 1 per valid answer (validity is checked by `vote`)."""
    return [1.0 for _ in letters]


def evidence_crops(text: str, frames: Sequence[Any], times: Sequence[float], input_size: tuple[int, int]) -> list:
    """Crops of every claimed box, from the sampled frame nearest its time, as PIL images of the frame size.

    Boxes are model-input pixels, so each frame is first resized to `input_size` (what the model saw); a box is
    clamped to the frame; inverted or empty boxes are skipped. More than `MAX_CROPS` crops -> [] (as upstream).
    """
    from PIL import Image

    if not frames:
        return []
    crops = []
    w, h = input_size
    for claim in parse(text).claims:
        k = min(range(len(times)), key=lambda i: abs(times[i] - claim.time))
        frame = Image.fromarray(frames[k]).convert("RGB").resize((w, h))
        for box in claim.boxes:
            x1, y1, x2, y2 = (max(0.0, min(float(v), float(lim))) for v, lim in zip(box, (w, h, w, h)))
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue
            crops.append(frame.crop((int(x1), int(y1), int(round(x2)), int(round(y2)))).resize((w, h)))
    return [] if len(crops) > MAX_CROPS else crops

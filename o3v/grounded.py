"""Grounded text: the one parser and renderer for Open-o3 Video's output syntax.

Syntax (open-o3-video.md §4)::

    <think> ... <obj>NAME</obj><box>[x1,y1,x2,y2]</box>[<box>[...]</box>...]at<t>T</t>s ... </think>
    <answer>From <t>S</t>s to <t>E</t>s.\nCorrect Option: X</answer>

Model output is untrusted: `parse` never raises, runs in linear time on any string (no regex with
nested lazy quantifiers), and drops malformed pieces instead of guessing. Boxes in the text are in
model-input pixels; converting them is `o3v.geometry`'s job.

CLI: `o3v parse < completion.txt` prints the parse as JSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Box4 = tuple[float, float, float, float]

_NUM = r"\d+(?:\.\d+)?"
# Anchored, single-pass patterns; `\d+(?:\.\d+)?` backtracks linearly.
_SPAN_RE = re.compile(rf"<t>\s*({_NUM})\s*</t>\s*s\s+to\s+<t>\s*({_NUM})\s*</t>\s*s")
_TIME_RE = re.compile(rf"<t>\s*({_NUM})\s*</t>\s*s")
_OPTION_AFTER_RE = re.compile(r"Correct Option:\s*[\(\[]?\s*([A-Z])\b")
_BARE_OPTION_RE = re.compile(r"[\(\[]?([A-Z])[\)\]\.]?")
_MAX_BOX_CHARS = 200  # a real box is ~30 characters; bounding the search keeps parsing linear


@dataclass(frozen=True)
class Claim:
    """One grounded mention: an object, its box(es) in model-input pixels, and the time it is seen."""

    object: str
    boxes: tuple[Box4, ...]
    time: float

    def to_json(self) -> dict:
        return {"object": self.object, "boxes": [list(b) for b in self.boxes], "time": self.time}


@dataclass(frozen=True)
class Grounded:
    """A parsed completion. `think`/`answer` are the raw block contents (None when the block is absent)."""

    think: str | None = None
    answer: str | None = None
    claims: tuple[Claim, ...] = ()
    answer_span: tuple[float, float] | None = None
    option: str | None = None
    think_times: tuple[float, ...] = field(default=(), compare=False)
    answer_boxes: tuple[Box4, ...] = field(default=(), compare=False)

    def to_json(self) -> dict:
        """The `o3v parse` CLI contract."""
        return {
            "think": self.think,
            "answer": self.answer,
            "claims": [c.to_json() for c in self.claims],
            "answer_span": list(self.answer_span) if self.answer_span else None,
            "option": self.option,
        }


def _block(text: str, tag: str) -> str | None:
    """Content of the first `<tag>...</tag>` block (upstream: first lazy match), or None."""
    start = text.find(f"<{tag}>")
    if start < 0:
        return None
    start += len(tag) + 2
    end = text.find(f"</{tag}>", start)
    return None if end < 0 else text[start:end]


def _finite(x: float) -> bool:
    return math.isfinite(x)


def _parse_box(raw: str) -> Box4 | None:
    """`[x1,y1,x2,y2]` -> floats; None unless exactly four finite numbers."""
    if len(raw) > _MAX_BOX_CHARS:
        return None
    try:
        vals = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(vals, list) or len(vals) != 4:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        return None
    box = tuple(float(v) for v in vals)
    return box if all(_finite(v) for v in box) else None  # type: ignore[return-value]


def _parse_float(raw: str) -> float | None:
    raw = raw.strip()
    if not raw or len(raw) > 64:
        return None
    try:
        val = float(raw)
    except ValueError:
        return None
    return val if _finite(val) else None


def _boxes_at(text: str, pos: int) -> tuple[list[Box4], int]:
    """Consecutive `<box>[...]</box>` blocks starting exactly at `pos`; returns boxes and the end position."""
    boxes: list[Box4] = []
    while text.startswith("<box>", pos):
        end = text.find("</box>", pos + 5, pos + 5 + _MAX_BOX_CHARS)
        if end < 0:
            return [], pos
        box = _parse_box(text[pos + 5 : end])
        if box is None:
            return [], pos  # one bad box spoils the claim: never guess which box was meant
        boxes.append(box)
        pos = end + 6
    return boxes, pos


def parse_claims(think: str) -> tuple[Claim, ...]:
    """All well-formed `<obj>N</obj><box>[..]</box>...at<t>T</t>s` claims, in order.

    Linear: each `</obj>` is visited once. The object name is the text between the nearest `<obj>`
    before a `</obj>` and that `</obj>`.
    """
    claims: list[Claim] = []
    pos = 0
    while True:
        close = think.find("</obj>", pos)
        if close < 0:
            break
        opener = think.rfind("<obj>", pos, close)
        pos = close + 6
        if opener < 0:
            continue
        boxes, after = _boxes_at(think, pos)
        if not boxes or not think.startswith("at<t>", after):
            continue
        t_end = think.find("</t>", after + 5, after + 5 + 64)
        if t_end < 0 or not think.startswith("s", t_end + 4):
            continue
        time = _parse_float(think[after + 5 : t_end])
        if time is None:
            continue
        claims.append(Claim(think[opener + 5 : close].strip(), tuple(boxes), time))
        pos = t_end + 5
    return tuple(claims)


def _answer_boxes(answer: str) -> tuple[Box4, ...]:
    boxes: list[Box4] = []
    pos = answer.find("<box>")
    while pos >= 0:
        end = answer.find("</box>", pos + 5, pos + 5 + _MAX_BOX_CHARS)
        if end < 0:
            pos = answer.find("<box>", pos + 5)
            continue
        box = _parse_box(answer[pos + 5 : end])
        if box is not None:
            boxes.append(box)
        pos = answer.find("<box>", end + 6)
    return tuple(boxes)


def parse_boxes(text: str) -> tuple[Box4, ...]:
    """Every well-formed `<box>[x1,y1,x2,y2]</box>` in a text, in order (malformed boxes are left out).

    Example:
        >>> parse_boxes("<box>[1,2,3,4]</box> and <box>[oops]</box><box>[5,6,7,8]</box>")
        ((1.0, 2.0, 3.0, 4.0), (5.0, 6.0, 7.0, 8.0))
    """
    return _answer_boxes(text) if isinstance(text, str) else ()


def parse_option(answer: str) -> str | None:
    """Option letter: after `Correct Option:`, else an answer that is only a letter (`B`, `(B)`, `B.`)."""
    m = _OPTION_AFTER_RE.search(answer)
    if m:
        return m.group(1)
    m = _BARE_OPTION_RE.fullmatch(answer.strip())
    return m.group(1) if m else None


def parse_span(answer: str) -> tuple[float, float] | None:
    """`From <t>S</t>s to <t>E</t>s` -> (S, E); None when absent. An inverted span is kept as written."""
    m = _SPAN_RE.search(answer)
    if not m:
        return None
    return float(m.group(1)), float(m.group(2))


def parse_times(text: str) -> tuple[float, ...]:
    """Every `<t>T</t>s` time in a text (upstream `thk_temporal_point` scores all of them)."""
    return tuple(float(m.group(1)) for m in _TIME_RE.finditer(text))


def parse(text: str) -> Grounded:
    """Parse a completion. Never raises; malformed parts become None / are left out.

    Example:
        >>> g = parse("<think><obj>cat</obj><box>[1,2,3,4]</box>at<t>2.5</t>s</think>\\n<answer>B</answer>")
        >>> g.claims[0].object, g.claims[0].time, g.option
        ('cat', 2.5, 'B')
    """
    if not isinstance(text, str):
        return Grounded()
    think = _block(text, "think")
    answer_raw = _block(text, "answer")
    answer = answer_raw.strip() if answer_raw is not None else None
    return Grounded(
        think=think,
        answer=answer,
        claims=parse_claims(think) if think else (),
        answer_span=parse_span(answer) if answer else None,
        option=parse_option(answer) if answer else None,
        think_times=parse_times(think) if think else (),
        answer_boxes=_answer_boxes(answer) if answer else (),
    )


# ----------------------------------------------------------------------------- rendering


def format_number(x: float) -> str:
    """Shortest faithful text for a time or coordinate: `3`, `12.5`, `0.125`."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def render_box(box: tuple[float, ...] | list[float]) -> str:
    return "<box>[" + ",".join(format_number(v) for v in box) + "]</box>"


def render_claim(claim: Claim) -> str:
    """`<obj>N</obj><box>[..]</box>at<t>T</t>s`, with no spaces, as upstream trains it."""
    boxes = "".join(render_box(b) for b in claim.boxes)
    return f"<obj>{claim.object}</obj>{boxes}at<t>{format_number(claim.time)}</t>s"


def render_span(start: float, end: float) -> str:
    return f"From <t>{format_number(start)}</t>s to <t>{format_number(end)}</t>s"


def render_option(letter: str, span: tuple[float, float] | None = None) -> str:
    """`Correct Option: X`, preceded by the span for temporal MCQ (`From ...s.\\nCorrect Option: X`)."""
    return f"{render_span(*span)}.\nCorrect Option: {letter}" if span else letter


def render_completion(think: str | None, answer: str | None) -> str:
    """`<think>..</think>\\n<answer>..</answer>`: the SFT target shape."""
    parts = []
    if think is not None:
        parts.append(f"<think>{think}</think>")
    if answer is not None:
        parts.append(f"<answer>{answer}</answer>")
    return "\n".join(parts)


def map_boxes(text: str, fn: Callable[[Box4], Sequence[float]]) -> str:
    """Rewrite every well-formed `<box>[...]</box>` in `text` through `fn`; malformed boxes stay as written."""
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("<box>", pos)
        if start < 0:
            break
        end = text.find("</box>", start + 5, start + 5 + _MAX_BOX_CHARS)
        box = _parse_box(text[start + 5 : end]) if end >= 0 else None
        if box is None:
            out.append(text[pos : start + 5])
            pos = start + 5
            continue
        out.append(text[pos:start] + render_box(tuple(fn(box))))
        pos = end + 6
    out.append(text[pos:])
    return "".join(out)


def render_where(boxes: dict[str, Sequence[float]]) -> str:
    """A where-answer in V-STaR's JSON format: whole second (a string) -> `[x1, y1, x2, y2]`.

    Example:
        >>> render_where({"1": [10, 20, 30, 40], "2": [0.5, 0.25, 0.75, 1]})
        '{"1": [10, 20, 30, 40], "2": [0.5, 0.25, 0.75, 1]}'
    """
    items = (f'"{k}": [' + ", ".join(format_number(v) for v in box) + "]" for k, box in boxes.items())
    return "{" + ", ".join(items) + "}"


def where_boxes(text: str) -> dict[str, Box4] | None:
    """The boxes of a text that is exactly a `render_where` answer (JSON: key -> box); None for any other text.

    Never raises. Example:
        >>> where_boxes(' {"1": [10, 20, 30, 40]} ')
        {'1': (10.0, 20.0, 30.0, 40.0)}
        >>> [where_boxes(t) for t in ("It is a square.", '{"1": [1, 2]}', "{}", '{"1": [1, 2, 3, 4]')]
        [None, None, None, None]
    """
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")) or len(body) > 100_000:
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not value:
        return None
    boxes = {k: _parse_box(json.dumps(b)) if isinstance(b, list) else None for k, b in value.items()}
    return None if any(b is None for b in boxes.values()) else boxes  # type: ignore[return-value]


def map_where(text: str, fn: Callable[[Box4], Sequence[float]]) -> str:
    """Rewrite the boxes of a text that is exactly a `render_where` answer through `fn`; other text is unchanged.

    Example:
        >>> map_where('{"1": [0.5, 0.5, 1, 1]}', lambda b: [v * 10 for v in b])
        '{"1": [5, 5, 10, 10]}'
        >>> map_where("It is a square.", lambda b: b)
        'It is a square.'
    """
    boxes = where_boxes(text)
    if boxes is None:
        return text
    return render_where({k: tuple(fn(b)) for k, b in boxes.items()})


def render(g: Grounded) -> str:
    """Inverse of `parse` for a consistent `Grounded` (its claims, span and option come from its text)."""
    return render_completion(g.think, g.answer)

"""Format reward (`r_fmt`, open-o3-video.md §9.5): 1 grounded and well-formed, 0.5 well-formed only, 0 broken.

Broken (0): no `<think>..</think>` or no `<answer>..</answer>` block, unbalanced think/answer tags, or
unbalanced `<obj>`, `<t>`, `<box>` tags inside the reasoning. Otherwise 1.0 when grounded for the task,
else 0.5. "Grounded" follows the reference per task:

| task | grounded if |
|---|---|
| temporal-spatial free-form QA | the reasoning has at least one `<obj>`, one `<t>` and one `<box>` |
| temporal QA, temporal QA (MCQ) | the reasoning has at least two `<t>` |
| visual QA | as temporal-spatial, or an `<obj>name</obj><box>[..]</box>` pair anywhere |
| General video QA * | always (upstream asks no grounding of them; §13 pitfall 6, kept for reproduction) |

One deliberate difference: the visual-QA pair accepts multi-word object names (upstream's `\\w+` only took
single words, §13 pitfall 6).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from o3v.grounded import parse
from o3v.rewards.columns import applies, completion_text, references

# Bounded character classes: linear on any input (model output is untrusted).
_OBJ_BOX_RE = re.compile(r"<obj>[^<>]{1,200}</obj><box>\[[^\[\]<>]{1,200}\]</box>")
_TEMPORAL_TASKS = ("temporal QA", "temporal QA (MCQ)")


def _balanced(text: str, tag: str) -> bool:
    return text.count(f"<{tag}>") == text.count(f"</{tag}>")


def format_score(text: str, task: str) -> float:
    """1.0 / 0.5 / 0.0 for one completion of a `task` record (see the module docstring).

    Example:
        >>> format_score("<think>look</think>\\n<answer>B</answer>", "temporal QA")
        0.5
        >>> format_score("<think><t>1</t>s to <t>3</t>s</think>\\n<answer>x</answer>", "temporal QA")
        1.0
    """
    g = parse(text)
    if g.think is None or g.answer is None or not (_balanced(text, "think") and _balanced(text, "answer")):
        return 0.0
    think = g.think
    if not all(_balanced(think, tag) for tag in ("obj", "t", "box")):
        return 0.0
    if task.startswith("General video QA"):
        return 1.0
    if task in _TEMPORAL_TASKS:
        grounded = think.count("<t>") >= 2
    else:
        grounded = all(think.count(f"<{tag}>") > 0 for tag in ("obj", "t", "box"))
        if task == "visual QA":
            grounded = grounded or _OBJ_BOX_RE.search(text) is not None
    return 1.0 if grounded else 0.5


def format_reward(completions: Sequence[Any], reference: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """Format reward for each completion; applies to every task.

    Example:
        >>> ref = {"task": "General video QA MCQ", "option": "A"}
        >>> format_reward(["<think>x</think><answer>A</answer>", "<answer>A</answer>"], [ref, ref])
        [1.0, 0.0]
    """
    out: list[float | None] = []
    for c, ref in zip(completions, references(reference), strict=True):
        out.append(format_score(completion_text(c), ref.task) if applies("format", ref.task) else None)
    return out

"""Grounded rewards of Open-o3 Video as trl reward functions, in a plain dict registry.

Every reward is `(completions, reference, **kwargs) -> list[float | None]`; `reference` is the dataset's
JSON ground-truth column (`o3v.rewards.columns.Reference`, boxes in model-input pixels). None means the term
does not apply to that record's task (open-o3-video.md §9.6); trl then leaves it out of the sum.

| key | function | spec |
|---|---|---|
| `answer_accuracy` | option match (MCQ) or mean ROUGE-1/2/L F1 (free-form) | §9.1 |
| `answer_temporal_iou` | tIoU of the answer span | §9.1 |
| `answer_visual_iou` | IoU of the first answer box | §9.1 |
| `think_temporal_point` | temporal proximity, σ 4 → 1 over 75% of training (`proximity: fixed`: constant σ) | §9.2 |
| `think_temporal_segment` | fraction of reasoning times inside the GT span | §9.3 |
| `think_spatial` | claim-box IoU with temporal gating (`gate`: two-sided or upstream) | §9.4 |
| `think_spatial_named` | the same, a claim scored only against the object of its own name (o3v extension) | §9.4 |
| `format` | 1 / 0.5 / 0 | §9.5 |
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from o3v.rewards.answer import answer_accuracy_reward, answer_temporal_iou_reward, answer_visual_iou_reward
from o3v.rewards.columns import TERMS_BY_TASK, Reference, reference_from_record
from o3v.rewards.format import format_reward
from o3v.rewards.thinking import (
    FIXED_SIGMA,
    GATES,
    PROXIMITIES,
    Gate,
    Proximity,
    get_think_spatial_reward,
    get_think_temporal_point_reward,
    think_temporal_segment_reward,
)

RewardFn = Callable[..., list[float | None]]

# Factories take the reward options (`think_spatial`: its gate; `think_temporal_point`: proximity and fixed_sigma);
# building is lazy, by name.
REWARDS: dict[str, Callable[..., RewardFn]] = {
    "answer_accuracy": lambda **_: answer_accuracy_reward,
    "answer_temporal_iou": lambda **_: answer_temporal_iou_reward,
    "answer_visual_iou": lambda **_: answer_visual_iou_reward,
    "think_temporal_point": lambda proximity="adaptive", fixed_sigma=FIXED_SIGMA, **_: get_think_temporal_point_reward(
        proximity, fixed_sigma
    ),
    "think_temporal_segment": lambda **_: think_temporal_segment_reward,
    "think_spatial": lambda gate="two-sided", **_: get_think_spatial_reward(gate),
    "think_spatial_named": lambda gate="two-sided", **_: get_think_spatial_reward(gate, named=True),
    "format": lambda **_: format_reward,
}
EXTENSIONS: tuple[str, ...] = ("think_spatial_named",)  # o3v's own terms, opt-in by name in a recipe's `rewards`
ALL_TERMS: tuple[str, ...] = tuple(k for k in REWARDS if k not in EXTENSIONS)  # the paper's terms: the default set


def _named(fn: RewardFn, name: str) -> RewardFn:
    """The same reward under its registry key: trl logs `rewards/<__name__>/mean`, so logs match the YAML."""

    @functools.wraps(fn)
    def reward(*args: Any, **kwargs: Any) -> list[float | None]:
        return fn(*args, **kwargs)

    reward.__name__ = reward.__qualname__ = name
    return reward


def get_reward_funcs(
    names: Sequence[str] = ALL_TERMS,
    gate: Gate = "two-sided",
    proximity: Proximity = "adaptive",
    fixed_sigma: float = FIXED_SIGMA,
) -> list[RewardFn]:
    """The reward functions for `names` (registry keys), in order, named by their keys.

    `gate` is the spatial term's temporal gate; `proximity` ("adaptive" σ schedule, or "fixed": `fixed_sigma`
    seconds throughout) sets the temporal-point term's σ.

    Example:
        >>> [f.__name__ for f in get_reward_funcs(["format", "think_spatial"])]
        ['format', 'think_spatial']
    """
    unknown = [n for n in names if n not in REWARDS]
    if unknown:
        raise ValueError(f"unknown reward(s) {unknown}; known: {list(REWARDS)}")
    if gate not in GATES:
        raise ValueError(f"gate must be one of {GATES}, got {gate!r}")
    if proximity not in PROXIMITIES:
        raise ValueError(f"proximity must be one of {PROXIMITIES}, got {proximity!r}")
    options = {"gate": gate, "proximity": proximity, "fixed_sigma": fixed_sigma}
    return [_named(REWARDS[n](**options), n) for n in names]


def score_completion(
    completion: str, reference: Reference, progress: float, gate: Gate = "two-sided"
) -> dict[str, float]:
    """Every applicable reward term for one completion, keyed by registry name (the `o3v reward` audit).

    Example:
        >>> ref = Reference(task="temporal QA", span=(2.0, 6.0))
        >>> score_completion("<think><t>3</t>s, <t>5</t>s</think><answer>From <t>2</t>s to <t>6</t>s</answer>",
        ...                  ref, progress=0.0)
        {'answer_temporal_iou': 1.0, 'think_temporal_segment': 1.0, 'format': 1.0}
    """
    out: dict[str, float] = {}
    for fn in get_reward_funcs(ALL_TERMS, gate=gate):
        value = fn([completion], [reference], progress=progress)[0]
        if value is not None:
            out[fn.__name__] = value
    return out


__all__ = [
    "ALL_TERMS",
    "EXTENSIONS",
    "GATES",
    "PROXIMITIES",
    "REWARDS",
    "TERMS_BY_TASK",
    "Reference",
    "get_reward_funcs",
    "reference_from_record",
    "score_completion",
]

"""Reasoning rewards (`r_thk`, open-o3-video.md §9.2–§9.4): is the evidence in `<think>` at the right time and place?

- `think_temporal_point_reward`: adaptive temporal proximity. Each `<t>T</t>s` in the reasoning scores a
  Gaussian of its distance to the nearest annotated key frame; σ falls from 4 s to 1 s over the first 75%
  of training, so early rollouts get credit for being roughly right and late ones only for being precise.
  `get_think_temporal_point_reward("fixed", sigma)` is the ablation without the schedule: one constant σ
  (o3v's default constant is 1 s, the schedule's end value and the temporal gate's width).
- `think_temporal_segment_reward`: the fraction of reasoning times inside the GT span.
- `get_think_spatial_reward(gate)`: box IoU of each grounded claim against the GT boxes of the key frame
  nearest its time, with **temporal gating**: a claim is only compared with key frames within 1 s of its
  time. `gate="two-sided"` (default) uses |g − τ| < 1 s; `gate="upstream"` reproduces the reference's
  one-sided `g − τ < 1`, which lets any earlier key frame pass however far away (§13 pitfall 1).

A completion without a `<think>` block scores 0 on all three (the spatial term also needs `<answer>`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from o3v.geometry import box_iou
from o3v.grounded import Box4, parse, parse_boxes
from o3v.rewards.columns import KeyFrameTruth, Reference, applies, completion_text, references, training_progress

Gate = Literal["two-sided", "upstream"]
GATES: tuple[str, ...] = ("two-sided", "upstream")
GATE_SECONDS = 1.0
Proximity = Literal["adaptive", "fixed"]
PROXIMITIES: tuple[str, ...] = ("adaptive", "fixed")
FIXED_SIGMA = 1.0  # the ablation's constant σ: the schedule's final value, as wide as the temporal gate


def proximity_sigma(progress: float) -> float:
    """σ of the temporal-proximity Gaussian at training progress ρ: 4(1 − ρ) for ρ < 0.75, else 1.

    Example:
        >>> [proximity_sigma(p) for p in (0.0, 0.5, 0.75, 1.0)]
        [4.0, 2.0, 1.0, 1.0]
    """
    return 4.0 * (1.0 - progress) if progress < 0.75 else 1.0


def temporal_proximity(times: Sequence[float], key_times: Sequence[float], sigma: float) -> float:
    """Mean over `times` of exp(−d²/2σ²), d = distance to the nearest key time; 0 when `times` is empty.

    Example:
        >>> round(temporal_proximity([1.0, 5.0], [1.0, 3.0], sigma=2.0), 4)
        0.8033
    """
    if not times:
        return 0.0
    total = 0.0
    for t in times:
        d = min(abs(t - g) for g in key_times)
        total += math.exp(-(d**2) / (2 * sigma**2))
    return total / len(times)


def _temporal_point(text: str, ref: Reference, sigma: float) -> float | None:
    if not applies("think_temporal_point", ref.task):
        return None
    if not ref.key_frames:
        raise ValueError(f"reward think_temporal_point: reference of a {ref.task!r} record has no key frames")
    g = parse(text)
    if g.think is None:
        return 0.0
    return temporal_proximity(g.think_times, [kf.time for kf in ref.key_frames], sigma)


def think_temporal_point_reward(
    completions: Sequence[Any],
    reference: Sequence[Any],
    progress: float | None = None,
    trainer_state: Any = None,
    sigma: float | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """Adaptive temporal proximity of every `<t>` in the reasoning to the annotated key-frame times.

    `progress` (ρ in [0, 1]) sets σ; under trl it comes from `trainer_state` as `(global_step + 1) / max_steps`.
    A given `sigma` (> 0) replaces the schedule (the fixed-σ ablation); progress is then not needed.

    Example:
        >>> ref = {"task": "temporal-spatial free-form QA", "key_frames": [{"time": 2.0}]}
        >>> out = think_temporal_point_reward(["<think>at <t>4</t>s</think>"], [ref], progress=0.5)
        >>> round(out[0], 4)  # σ = 2, d = 2: exp(-0.5)
        0.6065
        >>> round(think_temporal_point_reward(["<think>at <t>4</t>s</think>"], [ref], sigma=1.0)[0], 4)
        0.1353
    """
    if sigma is None:
        sigma = proximity_sigma(training_progress(progress, trainer_state))
    elif not (isinstance(sigma, int | float) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"reward think_temporal_point: sigma must be a finite number > 0, got {sigma!r}")
    log_metric = kwargs.get("log_metric")
    if callable(log_metric):  # trl's hook: the σ schedule shows up in the training logs next to the rewards
        log_metric("think_temporal_point/sigma", sigma)
    return [
        _temporal_point(completion_text(c), r, sigma) for c, r in zip(completions, references(reference), strict=True)
    ]


def get_think_temporal_point_reward(
    proximity: Proximity = "adaptive", fixed_sigma: float = FIXED_SIGMA
) -> Callable[..., list[float | None]]:
    """The temporal-proximity reward: σ on the adaptive schedule, or `fixed_sigma` throughout (`"fixed"`).

    Example:
        >>> ref = {"task": "temporal-spatial free-form QA", "key_frames": [{"time": 2.0}]}
        >>> text = "<think>at <t>4</t>s</think>"
        >>> [round(get_think_temporal_point_reward(p)([text], [ref], progress=0.0)[0], 4)
        ...  for p in ("adaptive", "fixed")]  # σ = 4 at the start vs the constant σ = 1
        [0.8825, 0.1353]
    """
    if proximity not in PROXIMITIES:
        raise ValueError(f"proximity must be one of {PROXIMITIES}, got {proximity!r}")
    if proximity == "adaptive":
        return think_temporal_point_reward
    if not (isinstance(fixed_sigma, int | float) and math.isfinite(fixed_sigma) and fixed_sigma > 0):
        raise ValueError(f"fixed_sigma must be a finite number > 0, got {fixed_sigma!r}")

    def think_temporal_point_fixed_reward(
        completions: Sequence[Any], reference: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        kwargs.pop("sigma", None)
        return think_temporal_point_reward(completions, reference, sigma=float(fixed_sigma), **kwargs)

    think_temporal_point_fixed_reward.__doc__ = f"Temporal proximity with a constant σ = {fixed_sigma:g} s."
    return think_temporal_point_fixed_reward


def _temporal_segment(text: str, ref: Reference) -> float | None:
    if not applies("think_temporal_segment", ref.task):
        return None
    if ref.span is None:
        raise ValueError(f"reward think_temporal_segment: reference of a {ref.task!r} record has no 'span'")
    times = parse(text).think_times
    if not times:
        return 0.0
    start, end = ref.span
    return sum(1.0 for t in times if start <= t <= end) / len(times)


def think_temporal_segment_reward(
    completions: Sequence[Any], reference: Sequence[Any], **kwargs: Any
) -> list[float | None]:
    """Fraction of the reasoning's `<t>` times that fall inside the GT span [s, e].

    Example:
        >>> ref = {"task": "temporal QA", "span": [2.0, 6.0]}
        >>> think_temporal_segment_reward(["<think><t>1</t>s, <t>3</t>s</think><answer>x</answer>"], [ref])
        [0.5]
    """
    return [_temporal_segment(completion_text(c), r) for c, r in zip(completions, references(reference), strict=True)]


def gated_key_frame(
    key_frames: Sequence[KeyFrameTruth], time: float, gate: Gate = "two-sided"
) -> KeyFrameTruth | None:
    """The key frame nearest `time` among those passing the temporal gate; None when none passes.

    Example:
        >>> frames = [KeyFrameTruth(1.0), KeyFrameTruth(9.0)]
        >>> gated_key_frame(frames, 5.0) is None, gated_key_frame(frames, 5.0, gate="upstream").time
        (True, 1.0)
    """
    best: KeyFrameTruth | None = None
    for kf in key_frames:
        delta = kf.time - time
        passes = abs(delta) < GATE_SECONDS if gate == "two-sided" else delta < GATE_SECONDS
        if passes and (best is None or abs(delta) < abs(best.time - time)):
            best = kf
    return best


def claim_score(claim_boxes: Sequence[Box4], objects: dict[str, tuple[Box4, ...]], name: str | None = None) -> float:
    """Best object in the frame: max over objects of the mean over its GT boxes of the best claim-box IoU.

    Object names are not matched (upstream §9.4): the best-matching object of that key frame counts. With `name`
    (o3v's `think_spatial_named`), only the object of that name counts (case-insensitive), so a right box under the
    wrong name scores 0, as the evidence metric scores it.

    Example:
        >>> objects = {"cat": ((0, 0, 2, 2),), "dog": ((1, 1, 3, 3),)}
        >>> claim_score([(0, 0, 2, 2)], objects), claim_score([(0, 0, 2, 2)], objects, name="Dog")
        (1.0, 0.14285714285714285)
        >>> claim_score([(0, 0, 2, 2)], objects, name="bird")
        0.0
    """
    if name is not None:
        objects = {k: v for k, v in objects.items() if k.lower() == name.lower()}
    best = 0.0
    for gt_boxes in objects.values():
        if gt_boxes:
            score = sum(max(box_iou(gt, c) for c in claim_boxes) for gt in gt_boxes) / len(gt_boxes)
            best = max(best, score)
    return best


def _spatial(text: str, ref: Reference, gate: Gate, named: bool = False) -> float | None:
    if not applies("think_spatial", ref.task):
        return None
    g = parse(text)
    if g.think is None or g.answer is None:
        return 0.0
    if ref.task == "visual QA":
        if ref.box is None:
            raise ValueError("reward think_spatial: reference of a 'visual QA' record has no 'box'")
        return max((box_iou(b, ref.box) for b in parse_boxes(g.think)), default=0.0)
    if not g.claims:
        return 0.0
    total = 0.0
    for claim in g.claims:
        frame = gated_key_frame(ref.key_frames, claim.time, gate)
        if frame is not None:  # a claim failing the gate counts as 0 in the mean
            total += claim_score(claim.boxes, frame.objects, claim.object if named else None)
    return total / len(g.claims)


def get_think_spatial_reward(gate: Gate = "two-sided", named: bool = False) -> Callable[..., list[float | None]]:
    """The spatial reasoning reward with temporal gating `gate` ("two-sided" or "upstream"); with `named`, a claim
    scores only against the key-frame object of its own name (`claim_score`), an o3v extension beyond §9.4.

    Example:
        >>> ref = {"task": "temporal-spatial free-form QA",
        ...        "key_frames": [{"time": 2.0, "objects": {"cat": [[0, 0, 10, 10]]}}]}
        >>> text = "<think><obj>cat</obj><box>[0,0,10,5]</box>at<t>2.5</t>s</think><answer>a cat</answer>"
        >>> get_think_spatial_reward()([text], [ref])
        [0.5]
    """
    if gate not in GATES:
        raise ValueError(f"gate must be one of {GATES}, got {gate!r}")

    def think_spatial_reward(
        completions: Sequence[Any], reference: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        refs = references(reference)
        return [_spatial(completion_text(c), r, gate, named) for c, r in zip(completions, refs, strict=True)]

    matched = ", object names matched" if named else ""
    think_spatial_reward.__doc__ = f"Spatial reasoning reward, temporal gate {gate!r}{matched} (o3v.rewards.thinking)."
    return think_spatial_reward

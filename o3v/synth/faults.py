"""Labelled fault injection: the defects curation must catch, each one planted on purpose and recorded.

A faulted record gets exactly one of the faults below, in its SFT and its RL version (same id), and
one line in `faults.jsonl`: `{"id", "fault", "stage", "detail"}`. The curation detectors are built
from these same definitions:

- `oversized_box` (filter): one key-item box, and the reasoning claim drawn from it, becomes a box
  covering 85-98% of the frame; visual QA: the answer box (and the same box in the reasoning).
- `malformed_box` (filter): one key-item box (and its claim) becomes inverted (x2 < x1), out of frame
  (x2 = 1.3) or zero-area (x2 = x1); visual QA: the answer box, in pixels (x2 = 1.3 * width).
- `wrong_category` (filter): one object's name, in every key frame and every claim, becomes the name of
  an object that is not in the video (e.g. "purple hexagon": colours never drawn).
- `shifted_time` (check): one key frame's time moves 2-4 s (frame-aligned, inside the clip); the claims
  keep the original time, and no other key frame lies within 1 s of it, so the claims no longer refer
  to any annotated key frame within 1 s.
- `contradicting_reasoning` (check): temporal QA / temporal MCQ: the answer span becomes a span disjoint
  from every `<t>` time in the reasoning (the MCQ letter stays); General MCQ: the answer letter becomes
  another option, disagreeing with "so the answer is option X." in the reasoning.

`detail` says which field changed (`field`), its `original` and `faulted` values, and what kind of
change it was where there are several.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import numpy as np

from o3v.grounded import parse_times
from o3v.synth.tasks import LETTERS, ClaimRef, Draft, round3
from o3v.synth.world import ABSENT_COLOURS, ABSENT_SHAPES, SHAPES

STAGES: dict[str, str] = {
    "oversized_box": "filter",
    "malformed_box": "filter",
    "wrong_category": "filter",
    "shifted_time": "check",
    "contradicting_reasoning": "check",
}
FAULTS: tuple[str, ...] = tuple(STAGES)
MALFORMED_KINDS = ("inverted", "out_of_frame", "zero_area")


# ----------------------------------------------------------------------------- applicability


def _has_claims(d: Draft) -> bool:
    return bool(d.key_items) and bool(d.claims())


def _shiftable(d: Draft) -> list[str]:
    """Key frames with no other key frame within 1 s, so a shifted one leaves its claims unanchored."""
    times = d.key_frames
    return [k for k, t in times.items() if all(abs(t - u) > 1.0 for j, u in times.items() if j != k)]


def applies(d: Draft, fault: str) -> bool:
    """Whether a fault type can be planted in this record (see the module table)."""
    if fault in ("oversized_box", "malformed_box"):
        return bool(d.key_items) or d.task == "visual QA"
    if fault == "wrong_category":
        return _has_claims(d)
    if fault == "shifted_time":
        return _has_claims(d) and any(_shift_choices(d, k) for k in _shiftable(d))
    if fault == "contradicting_reasoning":
        return d.task in ("temporal QA", "temporal QA (MCQ)", "General video QA MCQ")
    raise ValueError(f"unknown fault {fault!r}; expected one of {list(FAULTS)}")


# ----------------------------------------------------------------------------- the faults


def _pick_box(d: Draft, rng: np.random.Generator) -> tuple[str, str]:
    kf = str(rng.choice(list(d.key_items)))
    return kf, str(rng.choice(list(d.key_items[kf])))


def _big_box(rng: np.random.Generator, width: float, height: float) -> tuple[list[float], float]:
    """A box covering 85-98% of a `width` x `height` frame (normalized when both are 1)."""
    frac = float(rng.uniform(0.85, 0.98))
    w = float(rng.uniform(frac, 1.0))  # w >= frac keeps h = frac / w <= 1
    h = frac / w
    x1, y1 = float(rng.uniform(0, 1 - w)), float(rng.uniform(0, 1 - h))
    box = [x1, y1, min(1.0, x1 + w), min(1.0, y1 + h)]
    if width == 1.0 and height == 1.0:
        out = [min(1.0, v) for v in round3(box)]
    else:
        out = [
            math.floor(box[0] * width),
            math.floor(box[1] * height),
            math.ceil(box[2] * width),
            math.ceil(box[3] * height),
        ]
        out = [min(out[0], int(width)), min(out[1], int(height)), min(out[2], int(width)), min(out[3], int(height))]
    area = (out[2] - out[0]) * (out[3] - out[1]) / (width * height)
    if not 0.8 < area <= 1.0:
        raise AssertionError(f"oversized box {out} covers {area:.3f} of the frame, outside (0.8, 1]")
    return out, area


def _malformed(box: list[float], kind: str, width: float) -> list[float]:
    x1, y1, x2, y2 = box
    if kind == "inverted":
        return [x2, y1, x1, y2]
    if kind == "out_of_frame":
        return [x1, y1, round(1.3 * width, 3) if width == 1.0 else int(round(1.3 * width)), y2]
    return [x1, y1, x1, y2]  # zero_area


def oversized_box(d: Draft, rng: np.random.Generator) -> dict:
    if d.task == "visual QA":
        original = list(d.answer_box)
        d.answer_box, area = _big_box(rng, d.video.width, d.video.height)
        return {"field": "answer", "original": original, "faulted": list(d.answer_box), "area_fraction": area}
    kf, name = _pick_box(d, rng)
    original = d.key_items[kf][name][0]
    new, area = _big_box(rng, 1.0, 1.0)
    d.key_items[kf][name][0] = new
    return {
        "field": f"key_items.{kf}.{name}[0]",
        "key_frame": kf,
        "object": name,
        "original": original,
        "faulted": new,
        "area_fraction": area,
    }


def malformed_box(d: Draft, rng: np.random.Generator) -> dict:
    kind = str(rng.choice(MALFORMED_KINDS))
    if d.task == "visual QA":
        original = list(d.answer_box)
        d.answer_box = [int(v) for v in _malformed(original, kind, d.video.width)]
        return {"field": "answer", "kind": kind, "original": original, "faulted": list(d.answer_box)}
    kf, name = _pick_box(d, rng)
    original = d.key_items[kf][name][0]
    d.key_items[kf][name][0] = _malformed(original, kind, 1.0)
    return {
        "field": f"key_items.{kf}.{name}[0]",
        "key_frame": kf,
        "object": name,
        "kind": kind,
        "original": original,
        "faulted": d.key_items[kf][name][0],
    }


def wrong_category(d: Draft, rng: np.random.Generator) -> dict:
    names = sorted({n for objs in d.key_items.values() for n in objs})
    old = str(rng.choice(names))
    present = {o.name for o in d.video.objects}
    new = f"{rng.choice(ABSENT_COLOURS)} {rng.choice(SHAPES + ABSENT_SHAPES)}"
    if new in present:  # impossible by construction (absent colours are never drawn); guard the invariant
        raise AssertionError(f"{d.id}: fault name {new!r} is in the video")
    frames = []
    for kf, objs in d.key_items.items():
        if old in objs:
            d.key_items[kf] = {new if n == old else n: b for n, b in objs.items()}  # keep key order
            frames.append(kf)
    d.reasoning = [ClaimRef(new, p.kf, p.time) if isinstance(p, ClaimRef) and p.obj == old else p for p in d.reasoning]
    return {"field": "key_items", "original": old, "faulted": new, "key_frames": frames}


def _shift_choices(d: Draft, kf: str) -> list[float]:
    """Frame-aligned new times 2-4 s away from key frame `kf`, inside the clip."""
    spec = d.video
    t = d.key_frames[kf]
    frame = round(t * spec.fps)
    steps = [s for s in range(2 * spec.fps, 4 * spec.fps + 1)]
    out = [(frame + sign * s) / spec.fps for s in steps for sign in (1, -1)]
    return [x for x in out if 0 <= x <= (spec.num_frames - 1) / spec.fps]


def shifted_time(d: Draft, rng: np.random.Generator) -> dict:
    candidates = [k for k in _shiftable(d) if _shift_choices(d, k)]
    kf = str(rng.choice(candidates))
    original = d.key_frames[kf]
    choices = _shift_choices(d, kf)
    new = float(choices[int(rng.integers(len(choices)))])
    d.key_frames[kf] = new
    return {
        "field": f"key_frames[{kf}].time",
        "key_frame": kf,
        "original": original,
        "faulted": new,
        "shift": new - original,
    }


def _disjoint_span(d: Draft, rng: np.random.Generator) -> tuple[float, float]:
    """A frame-aligned span of >= 0.5 s inside the clip containing no `<t>` time of the reasoning."""
    spec = d.video
    times = parse_times(d.reasoning_text())
    lo_t, hi_t = min(times), max(times)
    step = 1 / spec.fps
    sides = []
    if lo_t - step >= 0.5:  # room before the first time mentioned
        sides.append((0.0, lo_t - step))
    if spec.duration - (hi_t + step) >= 0.5:
        sides.append((hi_t + step, spec.duration))
    if not sides:
        raise AssertionError(f"{d.id}: no room for a span disjoint from the reasoning times {times}")
    lo, hi = sides[int(rng.integers(len(sides)))]
    frames_lo, frames_hi = math.ceil(lo * spec.fps - 1e-9), math.floor(hi * spec.fps + 1e-9)
    length = int(rng.integers(spec.fps // 2, frames_hi - frames_lo + 1))
    start = int(rng.integers(frames_lo, frames_hi - length + 1))
    return start / spec.fps, (start + length) / spec.fps


def contradicting_reasoning(d: Draft, rng: np.random.Generator) -> dict:
    if d.task == "General video QA MCQ":
        original = d.letter
        d.letter = str(rng.choice([x for x in LETTERS[: len(d.options)] if x != original]))
        return {"field": "answer", "original": original, "faulted": d.letter}
    original_span = list(d.span)
    d.span = _disjoint_span(d, rng)
    return {
        "field": "answer",
        "original": original_span,
        "faulted": list(d.span),
        "reasoning_times": list(parse_times(d.reasoning_text())),
    }


INJECTORS: dict[str, Callable[[Draft, np.random.Generator], dict]] = {
    "oversized_box": oversized_box,
    "malformed_box": malformed_box,
    "wrong_category": wrong_category,
    "shifted_time": shifted_time,
    "contradicting_reasoning": contradicting_reasoning,
}


# ----------------------------------------------------------------------------- planning


def inject_faults(drafts: list[Draft], rate: float, rng: np.random.Generator) -> list[dict]:
    """Plant `round(rate * len(drafts))` faults, one per record, in rounds of one fault of each type.

    Each turn picks, among records the type applies to and not yet faulted, one from the task type
    with the fewest faults so far (so faults spread over tasks as well as types). A type that applies
    to no remaining record drops out; if every type drops out before the target, fewer faults are
    planted and the summary says how many.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"fault rate must be in [0, 1], got {rate}")
    target = int(round(rate * len(drafts)))
    labels: list[dict] = []
    faulted: set[str] = set()
    per_task: Counter[str] = Counter()
    types = list(FAULTS)
    # Whether a type applies to a record changes only when that record is faulted (and so leaves every list):
    # test each pair once, then drop the faulted records from a type's list as its turns come.
    eligible = {fault: [d for d in drafts if applies(d, fault)] for fault in types} if target else {}
    while len(labels) < target and types:
        for fault in list(types):  # one round: each type still in play plants one fault
            if len(labels) >= target:
                break
            candidates = eligible[fault] = [d for d in eligible[fault] if d.id not in faulted]
            if not candidates:
                types.remove(fault)
                continue
            fewest = min(per_task[d.task] for d in candidates)
            pool = [d for d in candidates if per_task[d.task] == fewest]
            d = pool[int(rng.integers(len(pool)))]
            detail = INJECTORS[fault](d, rng)
            labels.append({"id": d.id, "fault": fault, "stage": STAGES[fault], "detail": detail})
            faulted.add(d.id)
            per_task[d.task] += 1
    return labels

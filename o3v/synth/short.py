"""Short grounded STGR records: several checkable questions per object, worded as the benchmarks ask them.

The `learnable` world (`o3v.synth.world.PRESETS`) trains a small model in minutes, so its records are short:
one or two grounded claims and a one-line answer, in the reference syntax
(`<think>The <obj>red square</obj><box>[..]</box>at<t>1.5</t>s is visible from <t>1</t>s to <t>2.5</t>s.</think>`
then `<answer>From <t>1</t>s to <t>2.5</t>s</answer>`). Every claim is drawn from an annotated key frame, so the
consistency check verifies it, and the faults of `o3v.synth.faults` apply as to the long records.

Per object: visual QA (locate it on a still), two temporal QAs (its visible span: once in one of three wordings,
plain, V-STaR chain 1 or TVGBench, and once in V-STaR chain 2's, with its boxes given), a where-question
(temporal-spatial free-form QA answered in V-STaR's JSON second -> box format, chain-1 or chain-2 wording) and a
what-question (its shape).
Per video: a VideoMME-style MCQ (count, colour or order), a temporal MCQ and a free-form count or shapes
question. The wordings come from `o3v.prompts`, the builder the eval adapters use, so train and eval agree.
"""

from __future__ import annotations

import math

import numpy as np

from o3v.grounded import format_number
from o3v.prompts import tvg_query, vstar_what, vstar_when, vstar_when_given_boxes, vstar_where, vstar_where_n
from o3v.synth import benchmarks as bench
from o3v.synth.tasks import (
    ANSWER_BOX,
    NUMBER_WORDS,
    ClaimRef,
    Draft,
    add_key_frames,
    distractor_spans,
    mcq_options,
    mid_frame,
    region,
)
from o3v.synth.world import COLOURS, SHAPES, ObjectTrack, VideoSpec, render_frame

WHEN_WORDINGS = ("plain", "vstar", "vstar_boxes", "tvg")
# Chain 2's wording (the object's boxes listed before the question) is far from the three short ones, so every
# object is asked in it as well as in one short wording drawn at random.
CHAIN2_WORDING = "vstar_boxes"
SHORT_WHEN_WORDINGS = tuple(w for w in WHEN_WORDINGS if w != CHAIN2_WORDING)


def _tt(seconds: float) -> str:
    return f"<t>{format_number(seconds)}</t>s"


def _t(frame: int, spec: VideoSpec) -> float:
    return frame / spec.fps


def whole_seconds(spec: VideoSpec, obj: ObjectTrack) -> list[int]:
    """Whole seconds inside the object's visible span at which it is on screen (V-STaR's box times)."""
    start, end = obj.span(spec.fps)
    return [s for s in range(math.ceil(start), math.floor(end) + 1) if obj.visible(s * spec.fps)]


def _seen(spec: VideoSpec, d: Draft, a: ObjectTrack) -> list[str | ClaimRef]:
    """'The <claim at the middle frame>' with its key frame annotated on `d`."""
    m = mid_frame(a)
    idx = add_key_frames(d, [(m, [a.name])])
    return ["The ", ClaimRef(a.name, idx[m], _t(m, spec))]


def locate(spec: VideoSpec, rng: np.random.Generator, rid: str, a: ObjectTrack) -> Draft:
    """Visual QA on a still of the object's middle frame (fully inside the frame when it can be)."""
    inside = [j for j in range(a.first, a.last + 1) if spec.clipped_box(a.name, j) == a.pixel_box(j)]
    frames = inside or list(range(a.first, a.last + 1))
    frame = frames[len(frames) // 2]
    question = str(rng.choice([f"Where is the {a.name} in the image?", f"Locate the {a.name}."]))
    box = list(spec.clipped_box(a.name, frame))  # type: ignore[arg-type]
    d = Draft(rid, "visual QA", spec, question, [], answer_obj=a.name, answer_box=box)
    d.image, d.image_frame = render_frame(spec, frame), frame
    d.reasoning = ["The ", f"<obj>{a.name}</obj>", ANSWER_BOX, f" is in the {region(spec, a, frame)}."]
    return d


def when(spec: VideoSpec, rng: np.random.Generator, rid: str, a: ObjectTrack, wording: str | None = None) -> Draft:
    """Temporal QA: the object's visible span, asked in `wording` (one of `WHEN_WORDINGS`; None: a short one)."""
    wording = str(rng.choice(SHORT_WHEN_WORDINGS)) if wording is None else wording
    if wording not in WHEN_WORDINGS:
        raise ValueError(f"unknown temporal wording {wording!r}; expected one of {WHEN_WORDINGS}")
    asked = bench.vstar_questions(a)["temporal_question"]
    if wording == "plain":
        question = str(
            rng.choice([f"When is the {a.name} visible?", f"During which part of the video is the {a.name} seen?"])
        )
    elif wording == "vstar":
        question = vstar_when(asked)
    elif wording == CHAIN2_WORDING:
        boxes = [list(spec.clipped_box(a.name, s * spec.fps)) for s in whole_seconds(spec, a)]  # type: ignore[arg-type]
        question = vstar_when_given_boxes(asked, (spec.width, spec.height), boxes)
    else:
        question = tvg_query(bench.tvg_event(a))
    start, end = a.span(spec.fps)
    d = Draft(rid, "temporal QA", spec, question, [], span=(start, end))
    d.reasoning = [*_seen(spec, d, a), f" is visible from {_tt(start)} to {_tt(end)}."]
    return d


def where(spec: VideoSpec, rid: str, a: ObjectTrack, chain: int) -> Draft:
    """Where over time: one box per whole second of the span, as V-STaR's JSON answer, in the chain-1 wording
    (the seconds are given) or the chain-2 wording (only their number is)."""
    seconds = whole_seconds(spec, a)
    q = bench.vstar_questions(a)
    if chain == 1:
        question = vstar_where(q["spatial_question"], seconds)
    else:
        question = vstar_where_n(q["spatial_question_2"], len(seconds))
    d = Draft(rid, "temporal-spatial free-form QA", spec, question, [], answer_obj=a.name)
    idx = add_key_frames(d, [(s * spec.fps, [a.name]) for s in seconds])
    d.where_keys = [(s, idx[s * spec.fps]) for s in seconds]
    start, end = a.span(spec.fps)
    first = seconds[0] * spec.fps
    d.reasoning = [
        "The ",
        ClaimRef(a.name, idx[first], float(seconds[0])),
        f" is visible from {_tt(start)} to {_tt(end)}.",
    ]
    return d


def what(spec: VideoSpec, rng: np.random.Generator, rid: str, a: ObjectTrack) -> Draft:
    """V-STaR's what-question: the shape of the object of a colour."""
    d = Draft(rid, "temporal-spatial free-form QA", spec, vstar_what(bench.vstar_questions(a)["question"]), [])
    d.reasoning = [*_seen(spec, d, a), f" is a {a.shape}."]
    d.text_answer = f"It is a {a.shape}."
    return d


def _claims(spec: VideoSpec, d: Draft, objs: list[ObjectTrack]) -> list[str | ClaimRef]:
    """'the <claim> and the <claim>' at each object's middle frame."""
    idx = add_key_frames(d, [(mid_frame(o), [o.name]) for o in objs])
    parts: list[str | ClaimRef] = []
    for i, o in enumerate(objs):
        parts += [" and the " if i else "the ", ClaimRef(o.name, idx[mid_frame(o)], _t(mid_frame(o), spec))]
    return parts


def video_mcq(spec: VideoSpec, rng: np.random.Generator, rid: str) -> Draft:
    """VideoMME-style General MCQ: count, colour of a shape, or the first object to appear."""
    objs = sorted(spec.objects, key=lambda o: o.first)
    k = len(objs)
    kinds = ["count", "colour"] + (["first"] if k > 1 and objs[0].first < objs[1].first else [])
    kind = str(rng.choice(kinds))
    if kind == "count":
        d = Draft(rid, "General video QA MCQ", spec, "How many different objects appear in the video?", [])
        d.options, d.letter = mcq_options(
            rng, str(k), [str(x) for x in rng.permutation([v for v in range(1, 6) if v != k])]
        )
        d.reasoning = ["I see ", *_claims(spec, d, objs), f": {k}, so the answer is option {d.letter}."]
    elif kind == "colour":
        a = objs[int(rng.integers(k))]
        d = Draft(rid, "General video QA MCQ", spec, f"Which colour does the {a.shape} have?", [])
        d.options, d.letter = mcq_options(rng, a.colour, [c for c in COLOURS if c != a.colour])
        d.reasoning = [*_seen(spec, d, a), f" is {a.colour}, so the answer is option {d.letter}."]
    else:
        present = {o.name for o in objs}
        absent = [f"{c} {s}" for c in COLOURS for s in SHAPES if f"{c} {s}" not in present]
        others = [o.name for o in objs[1:]] + [str(x) for x in rng.permutation(absent)]
        d = Draft(rid, "General video QA MCQ", spec, "Which object is the first to appear?", [])
        d.options, d.letter = mcq_options(rng, objs[0].name, others)
        d.reasoning = [*_seen(spec, d, objs[0]), f" appears first, so the answer is option {d.letter}."]
    return d


def span_mcq(spec: VideoSpec, rng: np.random.Generator, rid: str, a: ObjectTrack) -> Draft | None:
    """Temporal MCQ over four spans; None when the clip is too short for three distinct wrong spans."""
    span = a.span(spec.fps)
    try:
        wrong = distractor_spans(rng, spec, span)
    except RuntimeError:
        return None

    def text(s: tuple[float, float]) -> str:
        return f"From {format_number(s[0])}s to {format_number(s[1])}s"

    options, letter = mcq_options(rng, text(span), [text(s) for s in wrong])
    d = Draft(
        rid, "temporal QA (MCQ)", spec, f"When is the {a.name} visible?", [], options=options, span=span, letter=letter
    )
    d.reasoning = [
        *_seen(spec, d, a),
        f" is visible from {_tt(span[0])} to {_tt(span[1])}, so the answer is option {letter}.",
    ]
    return d


def free_form(spec: VideoSpec, rng: np.random.Generator, rid: str) -> Draft:
    """General free-form: how many objects, or which shapes, with a claim per object."""
    objs = sorted(spec.objects, key=lambda o: o.first)
    count = rng.random() < 0.5
    question = "How many objects appear in the video?" if count else "Which shapes appear in the video?"
    d = Draft(rid, "General video QA Free-form", spec, question, [])
    d.reasoning = ["I see ", *_claims(spec, d, objs), "."]
    if count:
        d.text_answer = f"{NUMBER_WORDS[len(objs)]} object{'s' if len(objs) > 1 else ''}."
    else:
        shapes = " and ".join(f"a {o.shape}" for o in objs)
        d.text_answer = shapes[0].upper() + shapes[1:] + "."
    return d


def build_short_drafts(spec: VideoSpec, rng: np.random.Generator) -> list[Draft]:
    """All short records of a video, ids `<video id>-<task>[-<object index>]`."""
    vid = spec.id
    drafts: list[Draft] = []
    for i, a in enumerate(spec.objects):
        drafts += [
            locate(spec, rng, f"{vid}-vqa-{i}", a),
            when(spec, rng, f"{vid}-tqa-{i}", a),
            when(spec, rng, f"{vid}-tqa2-{i}", a, wording=CHAIN2_WORDING),
            where(spec, f"{vid}-where-{i}", a, chain=1 if rng.random() < 0.5 else 2),
            what(spec, rng, f"{vid}-what-{i}", a),
        ]
    drafts.append(video_mcq(spec, rng, f"{vid}-gmcq"))
    a = spec.objects[int(rng.integers(len(spec.objects)))]
    mcq = span_mcq(spec, rng, f"{vid}-tmcq", a)
    drafts += [mcq] if mcq is not None else []
    drafts.append(free_form(spec, rng, f"{vid}-gfree"))
    return drafts

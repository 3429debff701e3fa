"""STGR records for the six task types, built from a `VideoSpec`'s exact ground truth.

Each question becomes a `Draft`: the facts of one record (question, options, answer span or letter,
key frames, key-item boxes) plus its reasoning as a list of text pieces and `ClaimRef`s. A claim is
rendered from `key_items` when the record is written, so a fault that edits a key-item box or renames
an object changes the reasoning claim with it, while a shifted key-frame time leaves the claim's own
time alone (`o3v.synth.faults`). One draft gives both the SFT record (with `reasoning_process`, SFT
answer formats) and the RL record (RL answer formats, no reasoning), under the same id.

Formats (open-o3-video.md §2.5, §2.6): STGR boxes are normalized xyxy rounded to 3 decimals, in both
`key_items` and the reasoning; visual-QA answers are integer pixels of the original image. All
grounded text is rendered with `o3v.grounded`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from o3v.grounded import Claim, format_number, render_box, render_claim, render_option, render_span, render_where
from o3v.records import KeyFrame, Record
from o3v.synth.world import COLOURS, SHAPES, ObjectTrack, VideoSpec, render_frame

SOURCE = "o3v_synth"
LETTERS = "ABCD"
NUMBER_WORDS = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five"}


@dataclass(frozen=True)
class ClaimRef:
    """A grounded mention in the reasoning: object `obj` as annotated at key frame `kf`, said to be seen at `time`."""

    obj: str
    kf: str
    time: float


class AnswerBoxRef:
    """Placeholder for the visual-QA answer box inside the reasoning (rendered from `Draft.answer_box`)."""


ANSWER_BOX = AnswerBoxRef()


@dataclass
class Draft:
    """Everything one SFT/RL record pair is rendered from; faults edit these fields."""

    id: str
    task: str
    video: VideoSpec
    question: str
    reasoning: list[str | ClaimRef | AnswerBoxRef]
    options: list[str] | None = None
    span: tuple[float, float] | None = None  # temporal tasks: the answer span
    letter: str | None = None  # MCQ tasks: the answer letter
    text_answer: str | None = None  # free-form tasks
    answer_obj: str | None = None  # visual QA
    answer_box: list[int] | None = None  # visual QA: original-image pixels
    image: np.ndarray | None = field(default=None, repr=False)  # visual QA still (written as PNG)
    image_frame: int | None = None  # visual QA: the video frame the still was cut from
    key_frames: dict[str, float] = field(default_factory=dict)  # idx -> time, in time order
    key_items: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    # where-answers (V-STaR's JSON format): (whole second, key-frame idx) whose object box the answer gives
    where_keys: list[tuple[int, str]] = field(default_factory=list)

    @property
    def video_path(self) -> str:
        return f"videos/{self.video.id}.mp4"

    @property
    def image_path(self) -> str:
        return f"images/{self.id}.png"

    def claims(self) -> list[ClaimRef]:
        return [p for p in self.reasoning if isinstance(p, ClaimRef)]

    def reasoning_text(self) -> str:
        parts = []
        for p in self.reasoning:
            if isinstance(p, ClaimRef):
                parts.append(render_claim(Claim(p.obj, (tuple(self.key_items[p.kf][p.obj][0]),), p.time)))
            elif isinstance(p, AnswerBoxRef):
                parts.append(render_box(self.answer_box or []))
            else:
                parts.append(p)
        return "".join(parts)

    def answers(self) -> tuple[str, str]:
        """(SFT answer, RL answer) in the upstream per-task formats."""
        if self.task == "temporal QA":
            return render_span(*self.span), _rl_span(self.span)
        if self.task == "temporal QA (MCQ)":
            return render_option(self.letter, self.span), f"{self.letter}\n{_rl_span(self.span)}"
        if self.task == "General video QA MCQ":
            return self.letter, self.letter
        if self.task == "visual QA":
            text = f"<obj>{self.answer_obj}</obj>{render_box(self.answer_box)}"
            return text, text
        if self.where_keys:
            # each where key frame annotates the one asked-about object (whatever a fault renamed it to)
            text = render_where({str(s): next(iter(self.key_items[kf].values()))[0] for s, kf in self.where_keys})
            return text, text
        return self.text_answer, self.text_answer

    def records(self) -> tuple[Record, Record]:
        """The SFT record and the RL record of this draft (independent objects, same id)."""
        sft_answer, rl_answer = self.answers()
        return (
            Record(answer=sft_answer, reasoning_process=self.reasoning_text(), **self._fields()),
            Record(answer=rl_answer, **self._fields()),
        )

    def _fields(self) -> dict[str, Any]:
        """Fields the SFT and RL records share."""
        common: dict[str, Any] = {"task": self.task, "source": SOURCE, "id": self.id, "question": self.question}
        if self.task == "visual QA":
            common.update(image_path=self.image_path, image_size=[self.video.width, self.video.height])
        else:
            common["video_path"] = self.video_path
        if self.key_frames:
            common["key_frames"] = [KeyFrame(time=t, idx=int(i)) for i, t in self.key_frames.items()]
            common["key_items"] = {
                i: {n: [list(b) for b in bs] for n, bs in objs.items()} for i, objs in self.key_items.items()
            }
        if self.options:
            common["options"] = list(self.options)
        return common


def _rl_span(span: tuple[float, float]) -> str:
    return f"[{format_number(span[0])}, {format_number(span[1])}]"


def round3(box: list[float]) -> list[float]:
    """STGR-style normalized box: 3 decimals (`o3v.geometry.round_box` is the integer-pixel one)."""
    return [round(float(v), 3) for v in box]


def _t(frame: int, spec: VideoSpec) -> float:
    return frame / spec.fps


def _tt(seconds: float) -> str:
    """A time as grounded text: `<t>2.5</t>s`."""
    return f"<t>{format_number(seconds)}</t>s"


# ----------------------------------------------------------------------------- words for places and motion


def _centre(obj: ObjectTrack, frame: int) -> tuple[float, float]:
    x0, y0, x1, y1 = obj.pixel_box(frame)  # type: ignore[misc]
    return (x0 + x1) / 2, (y0 + y1) / 2


def region(spec: VideoSpec, obj: ObjectTrack, frame: int) -> str:
    """Which ninth of the frame the object's centre is in: 'upper left part', 'centre', 'right part', ..."""
    x, y = _centre(obj, frame)
    col = min(2, int(3 * x / spec.width)) if x >= 0 else 0
    row = min(2, int(3 * y / spec.height)) if y >= 0 else 0
    names = [
        ["upper left part", "top part", "upper right part"],
        ["left part", "centre", "right part"],
        ["lower left part", "bottom part", "lower right part"],
    ]
    return names[row][col]


def direction(spec: VideoSpec, obj: ObjectTrack, f1: int, f2: int) -> str:
    """Motion between two frames in words: 'down and to the right', 'to the left', 'only a little'."""
    (x1, y1), (x2, y2) = _centre(obj, f1), _centre(obj, f2)
    dx, dy = x2 - x1, y2 - y1
    horiz = "to the right" if dx > 0.12 * spec.width else "to the left" if dx < -0.12 * spec.width else ""
    vert = "down" if dy > 0.12 * spec.height else "up" if dy < -0.12 * spec.height else ""
    if horiz and vert:
        return f"{vert} and {horiz}"
    return horiz or vert or "only a little"


def _moved(spec: VideoSpec, obj: ObjectTrack, f1: int, f2: int) -> str:
    """Reasoning clause: 'has moved down to the centre' / 'has barely moved and is still in the right part'."""
    move, where = direction(spec, obj, f1, f2), region(spec, obj, f2)
    if move == "only a little":
        return f"has barely moved and is still in the {where}"
    return f"has moved {move} to the {where}"


def _moves(spec: VideoSpec, obj: ObjectTrack, f1: int, f2: int) -> str:
    """Answer clause: 'moves down, from the top part to the centre of the frame' / 'barely moves, staying ...'."""
    move, start, end = direction(spec, obj, f1, f2), region(spec, obj, f1), region(spec, obj, f2)
    if move == "only a little":
        return f"barely moves, staying in the {end} of the frame"
    if start == end:
        return f"moves {move} within the {end} of the frame"
    return f"moves {move}, from the {start} to the {end} of the frame"


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def mid_frame(obj: ObjectTrack) -> int:
    return (obj.first + obj.last) // 2


# ----------------------------------------------------------------------------- key frames


def add_key_frames(d: Draft, entries: list[tuple[int, list[str]]]) -> dict[int, str]:
    """Annotate key frames (frame, objects in it) on a draft; returns frame -> key-frame idx.

    Key frames are numbered in time order; an object listed at a frame gets that frame's GT box.
    """
    spec = d.video
    frames = sorted({f for f, _ in entries})
    idx_of = {f: str(i) for i, f in enumerate(frames)}
    for f in frames:
        d.key_frames[idx_of[f]] = _t(f, spec)
        d.key_items[idx_of[f]] = {}
    for f, names in entries:
        for name in names:
            box = spec.box(name, f)
            if box is None:
                raise ValueError(f"{spec.id}: {name} is not visible at frame {f}; cannot annotate it there")
            d.key_items[idx_of[f]][name] = [round3(box)]
    return idx_of


def mcq_options(rng: np.random.Generator, correct: str, distractors: list[str]) -> tuple[list[str], str]:
    """Four options in random order ("A. ..."), and the letter of the correct one."""
    if len(distractors) < 3:
        raise ValueError(f"need 3 distractors for {correct!r}, got {distractors}")
    choices = [correct, *distractors[:3]]
    order = [choices[i] for i in rng.permutation(4)]
    return [f"{letter}. {c}" for letter, c in zip(LETTERS, order)], LETTERS[order.index(correct)]


# ----------------------------------------------------------------------------- the six tasks


def temporal_spatial(spec: VideoSpec, rng: np.random.Generator, rid: str) -> Draft:
    """'What happens to the A after the B appears?' with key frames at B's entry and A's last sighting."""
    objs = spec.objects
    # A must stay visible after B appears: >= 1 s when some pair allows it, else >= 3 frames.
    pairs = [(a, b) for a in objs for b in objs if a is not b and a.last >= max(a.first, b.first) + spec.fps]
    pairs = pairs or [(a, b) for a in objs for b in objs if a is not b and a.last >= max(a.first, b.first) + 3]
    if not pairs:  # every object's span is >= 1 s, so a single object still gives a question about itself
        a = objs[int(rng.integers(len(objs)))]
        d = Draft(rid, "temporal-spatial free-form QA", spec, f"What does the {a.name} do while it is visible?", [])
        idx = add_key_frames(d, [(a.first, [a.name]), (a.last, [a.name])])
        d.reasoning = [
            "The ",
            ClaimRef(a.name, idx[a.first], _t(a.first, spec)),
            f" enters in the {region(spec, a, a.first)} of the frame. By {_tt(_t(a.last, spec))} the ",
            ClaimRef(a.name, idx[a.last], _t(a.last, spec)),
            f" {_moved(spec, a, a.first, a.last)}.",
        ]
        d.text_answer = f"The {a.name} {_moves(spec, a, a.first, a.last)}."
        return d
    a, b = pairs[int(rng.integers(len(pairs)))]
    d = Draft(
        rid, "temporal-spatial free-form QA", spec, f"What happens to the {a.name} after the {b.name} appears?", []
    )
    f_b, f_ref, f_end = b.first, max(a.first, b.first), a.last
    entries = [(f_b, [b.name] + ([a.name] if a.visible(f_b) else []))]
    if f_ref != f_b:
        entries.append((f_ref, [a.name]))
    entries.append((f_end, [a.name]))
    idx = add_key_frames(d, entries)
    d.reasoning = [
        "The ",
        ClaimRef(b.name, idx[f_b], _t(f_b, spec)),
        f" appears in the {region(spec, b, f_b)} of the frame",
    ]
    if a.visible(f_b):
        d.reasoning += [
            ", while the ",
            ClaimRef(a.name, idx[f_b], _t(f_b, spec)),
            f" is already in the {region(spec, a, f_b)}.",
        ]
    else:
        d.reasoning += [
            ". The ",
            ClaimRef(a.name, idx[f_ref], _t(f_ref, spec)),
            f" enters later, in the {region(spec, a, f_ref)}.",
        ]
    t_out = a.span(spec.fps)[1]
    ending = (
        "is still there when the video ends" if a.last == spec.num_frames - 1 else f"leaves the scene at {_tt(t_out)}"
    )
    d.reasoning += [
        f" By {_tt(_t(f_end, spec))} the ",
        ClaimRef(a.name, idx[f_end], _t(f_end, spec)),
        f" {_moved(spec, a, f_ref, f_end)}, and then it {ending}.",
    ]
    ending_text = ending if a.last == spec.num_frames - 1 else f"leaves the scene at {format_number(t_out)} seconds"
    d.text_answer = f"After the {b.name} appears, the {a.name} {_moves(spec, a, f_ref, f_end)}, and {ending_text}."
    return d


def _sighting(spec: VideoSpec, a: ObjectTrack) -> str:
    """Temporal reasoning: first and last sighting and the span, every time inside the visible span."""
    start, end = a.span(spec.fps)
    last = _t(a.last, spec)
    tail = (
        "it is still visible in the last frame" if a.last == spec.num_frames - 1 else "it is gone from the next frame"
    )
    return (
        f"The {a.name} is first seen at {_tt(start)}, in the {region(spec, a, a.first)} of the frame, and last "
        f"seen at {_tt(last)}, in the {region(spec, a, a.last)}; {tail}. "
        f"So it is visible from {_tt(start)} to {_tt(end)}"
    )


def temporal(spec: VideoSpec, rng: np.random.Generator, rid: str, a: ObjectTrack) -> Draft:
    """'When is the X visible?': the answer is the object's visible span."""
    question = str(
        rng.choice([f"When is the {a.name} visible?", f"During which part of the video can the {a.name} be seen?"])
    )
    d = Draft(rid, "temporal QA", spec, question, [_sighting(spec, a) + "."], span=a.span(spec.fps))
    return d


def distractor_spans(rng: np.random.Generator, spec: VideoSpec, gt: tuple[float, float]) -> list[tuple[float, float]]:
    """Three frame-aligned spans inside the clip, each with tIoU < 0.3 to the answer and < 0.5 to each other."""
    from o3v.geometry import temporal_iou

    n, fps = spec.num_frames, spec.fps
    shortest, longest = max(2, round(0.1 * n)), round(0.5 * n)
    # Short clips have few spans and a long answer leaves fewer still, so one draw may repeat thousands of times:
    # each span is tested once per spans found so far (the draws, and so the spans, are the same as without).
    fits: dict[tuple[int, int], bool] = {}
    spans: list[tuple[float, float]] = []
    for _ in range(10_000):
        length = int(rng.integers(shortest, longest + 1))
        first = int(rng.integers(0, n - length + 1))
        cand = (first / fps, (first + length) / fps)
        if (first, length) not in fits:
            fits[first, length] = temporal_iou(cand, gt) < 0.3 and all(temporal_iou(cand, s) < 0.5 for s in spans)
        if fits[first, length]:
            spans.append(cand)
            if len(spans) == 3:
                return spans
            fits.clear()
    raise RuntimeError(f"{spec.id}: could not find 3 distractor spans for {gt}")


def temporal_mcq(spec: VideoSpec, rng: np.random.Generator, rid: str, a: ObjectTrack) -> Draft:
    """Temporal MCQ: four 'From S s to E s' options, one of them the visible span."""
    span = a.span(spec.fps)

    def text(s: tuple[float, float]) -> str:
        return f"From {format_number(s[0])}s to {format_number(s[1])}s"

    options, letter = mcq_options(rng, text(span), [text(s) for s in distractor_spans(rng, spec, span)])
    d = Draft(
        rid, "temporal QA (MCQ)", spec, f"When is the {a.name} visible?", [], options=options, span=span, letter=letter
    )
    d.reasoning = [_sighting(spec, a) + f", the span of option {letter}, so the answer is option {letter}."]
    return d


def general_mcq(spec: VideoSpec, rng: np.random.Generator, rid: str, kind: str) -> Draft:
    """General MCQ about colour, order of appearance or count; reasoning ends 'so the answer is option X.'."""
    objs = sorted(spec.objects, key=lambda o: o.first)
    if kind == "colour":
        a = spec.objects[int(rng.integers(len(spec.objects)))]
        d = Draft(rid, "General video QA MCQ", spec, f"What colour is the {a.shape}?", [])
        idx = add_key_frames(d, [(mid_frame(a), [a.name])])
        d.options, d.letter = mcq_options(rng, a.colour, [c for c in COLOURS if c != a.colour])
        d.reasoning = [
            f"The only {a.shape} in the video is the ",
            ClaimRef(a.name, idx[mid_frame(a)], _t(mid_frame(a), spec)),
            f", and it is {a.colour}, so the answer is option {d.letter}.",
        ]
        return d
    if kind == "first":
        present = {o.name for o in objs}
        absent = [f"{c} {s}" for c in COLOURS for s in SHAPES if f"{c} {s}" not in present]
        others = [o.name for o in objs[1:]] + [str(x) for x in rng.permutation(absent)]
        d = Draft(rid, "General video QA MCQ", spec, "Which object appears first?", [])
        idx = add_key_frames(d, [(o.first, [o.name]) for o in objs])
        d.options, d.letter = mcq_options(rng, objs[0].name, others)
        d.reasoning = [
            "The ",
            ClaimRef(objs[0].name, idx[objs[0].first], _t(objs[0].first, spec)),
            " is the first to appear.",
        ]
        for o in objs[1:]:
            d.reasoning += [" The ", ClaimRef(o.name, idx[o.first], _t(o.first, spec)), " appears later."]
        d.reasoning.append(f" Nothing appears before the {objs[0].name}, so the answer is option {d.letter}.")
        return d
    if kind == "count":
        k = len(objs)
        d = Draft(rid, "General video QA MCQ", spec, "How many objects appear in the video?", [])
        idx = add_key_frames(d, [(mid_frame(o), [o.name]) for o in objs])
        d.options, d.letter = mcq_options(
            rng, str(k), [str(x) for x in rng.permutation([v for v in range(1, 6) if v != k])]
        )
        d.reasoning = ["I can see "] + _claim_list(d, spec, objs, idx)
        d.reasoning.append(f". No other object appears: {k} objects in total, so the answer is option {d.letter}.")
        return d
    raise ValueError(f"unknown General MCQ kind {kind!r}")


def _claim_list(d: Draft, spec: VideoSpec, objs: list[ObjectTrack], idx: dict[int, str]) -> list[str | ClaimRef]:
    """'the <claim>, the <claim> and the <claim>' for each object at its middle frame."""
    parts: list[str | ClaimRef] = []
    for i, o in enumerate(objs):
        if i:
            parts.append(" and the " if i == len(objs) - 1 else ", the ")
        else:
            parts.append("the ")
        parts.append(ClaimRef(o.name, idx[mid_frame(o)], _t(mid_frame(o), spec)))
    return parts


def general_free(spec: VideoSpec, rng: np.random.Generator, rid: str, kind: str) -> Draft:
    """General free-form: how many objects, or which shapes, with a claim per object."""
    objs = sorted(spec.objects, key=lambda o: o.first)
    question = "How many objects appear in the video?" if kind == "count" else "Which shapes appear in the video?"
    d = Draft(rid, "General video QA Free-form", spec, question, [])
    idx = add_key_frames(d, [(mid_frame(o), [o.name]) for o in objs])
    d.reasoning = ["The video shows "] + _claim_list(d, spec, objs, idx) + [". No other object appears."]
    if kind == "count":
        d.text_answer = f"{NUMBER_WORDS[len(objs)]} objects appear: " + _listing([f"a {o.name}" for o in objs]) + "."
    else:
        listing = _listing([f"a {o.shape}" for o in objs])
        d.text_answer = listing[0].upper() + listing[1:] + "."
    return d


def visual(spec: VideoSpec, rng: np.random.Generator, rid: str) -> Draft:
    """Visual QA on a still frame: locate an object; the answer box is in original-image pixels."""
    a = spec.objects[int(rng.integers(len(spec.objects)))]
    inside = [j for j in range(a.first, a.last + 1) if spec.clipped_box(a.name, j) == a.pixel_box(j)]
    frames = inside or list(range(a.first, a.last + 1))
    frame = frames[len(frames) // 2]
    question = str(rng.choice([f"Where is the {a.name} in the image?", f"Locate the {a.name}."]))
    d = Draft(
        rid, "visual QA", spec, question, [], answer_obj=a.name, answer_box=list(spec.clipped_box(a.name, frame))
    )
    d.image, d.image_frame = render_frame(spec, frame), frame
    count = len(spec.visible_at(frame))
    shapes = "one shape" if count == 1 else f"{NUMBER_WORDS[count].lower()} shapes"
    d.reasoning = [
        f"The image shows {shapes}. The ",
        f"<obj>{a.name}</obj>",
        ANSWER_BOX,
        f" is the {a.colour} {a.shape} in the {region(spec, a, frame)} of the image.",
    ]
    return d


def build_drafts(spec: VideoSpec, rng: np.random.Generator) -> list[Draft]:
    """One record of each of the six task types for a video, ids `<video id>-<task>`."""
    objs = list(spec.objects)
    order = rng.permutation(len(objs))
    t_obj, m_obj = objs[order[0]], objs[order[1 % len(objs)]]
    firsts = sorted(o.first for o in objs)
    mcq_kinds = ["colour", "count"] + (["first"] if firsts[0] < firsts[1] else [])
    mcq_kind = str(rng.choice(mcq_kinds))
    free_kind = "shapes" if mcq_kind == "count" else str(rng.choice(["count", "shapes"]))
    vid = spec.id
    return [
        visual(spec, rng, f"{vid}-vqa"),
        temporal_spatial(spec, rng, f"{vid}-tsqa"),
        temporal(spec, rng, f"{vid}-tqa", t_obj),
        temporal_mcq(spec, rng, f"{vid}-tmcq", m_obj),
        general_mcq(spec, rng, f"{vid}-gmcq", mcq_kind),
        general_free(spec, rng, f"{vid}-gfree", free_kind),
    ]

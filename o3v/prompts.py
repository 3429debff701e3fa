"""The one prompt builder: SFT, GSPO and evaluation all build their chat messages here.

Upstream used three different prompt sets (open-o3-video.md §5, §13 pitfall 3): SFT prompts that
do not ask General-QA answers for grounding, a "Question:" prefix in some SFT tasks only, frame lines
`at {t}:` vs `at {t}s:`, a duration line in some stages only, and "You are a helpful assistant." at
eval. Those differences are bugs we do not copy. o3v uses one version everywhere:

- the system prompt is the RL version of each task rule (grounding asked for in every video task);
- the user turn is one `Frame i at T s:` line per image (1-based, T in seconds as sampled), a duration
  line, then the question (no "Question:" prefix) and, for MCQ records that carry them, the options;
- key frames are inserted before the first sampled frame at or after their time, and key frames past
  the last sampled frame are appended instead of dropped (upstream pitfall 9).

Messages use the Hugging Face multimodal chat format, with `{"type": "image"}` placeholders whose
pixels the caller passes to the processor in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from o3v.geometry import round_box, to_pixels
from o3v.grounded import format_number, map_boxes, map_where, render_completion

_PREAMBLE = (
    "You answer questions about a video. First reason step by step inside <think> </think>, then give the "
    "final answer inside <answer> </answer>, i.e. <think> reasoning here </think>\n<answer> answer here </answer>."
)
_GROUNDING = (
    " Ground every step of the reasoning in visual evidence: each time you mention an object, give its box in the "
    "frame where you see it and that frame's time, as <obj>object_name</obj><box>[x1,y1,x2,y2]</box>at<t>seconds</t>s"
    " (pixel coordinates of the frame as you see it)."
)
_TEMPORAL = (
    " Refer to moments of the video as <t>seconds</t>s in the reasoning. The answer must be the time span, written"
    " exactly as From <t>start_seconds</t>s to <t>end_seconds</t>s."
)

SYSTEM_PROMPTS: dict[str, str] = {
    "visual QA": _PREAMBLE
    + " Locate the objects you reason about with <box>[x1,y1,x2,y2]</box> in pixel coordinates of the image. The"
    " answer must be <obj>object_name</obj><box>[x1,y1,x2,y2]</box>.",
    "temporal-spatial free-form QA": _PREAMBLE + _GROUNDING + " The answer is plain text without tags.",
    "General video QA Free-form": _PREAMBLE + _GROUNDING + " The answer is plain text without tags.",
    "General video QA MCQ": _PREAMBLE + _GROUNDING + " The answer is only the letter of the correct option.",
    "temporal QA": _PREAMBLE + _TEMPORAL,
    "temporal QA (MCQ)": _PREAMBLE
    + _TEMPORAL
    + " Then add a new line with Correct Option: followed only by the letter of the correct option.",
}


@dataclass(frozen=True)
class FrameSlot:
    """One image of the prompt: its time (seconds) and whether it was sampled or is an annotated key frame."""

    time: float
    kind: Literal["sampled", "key"] = "sampled"


SAME_FRAME_S = 1e-3  # key and sampled frames closer than this are one frame


def plan_frames(sampled_times: Sequence[float], key_times: Sequence[float] = ()) -> list[FrameSlot]:
    """Merge key frames into the sampled frame sequence.

    Each key frame goes just before the first sampled frame whose time is >= its own; key frames later
    than every sampled frame go at the end (upstream silently dropped them). A key frame at the time of a
    sampled frame (within `SAME_FRAME_S`) is that frame: it is not shown twice. Duplicates would make a
    training prompt differ from the eval prompt of the same clip, which has no key frames.

    Example:
        >>> [(s.time, s.kind) for s in plan_frames([0.0, 1.0, 2.0], [1.5, 9.0])]
        [(0.0, 'sampled'), (1.0, 'sampled'), (1.5, 'key'), (2.0, 'sampled'), (9.0, 'key')]
        >>> [(s.time, s.kind) for s in plan_frames([0.0, 1.0, 2.0], [1.0, 1.5])]
        [(0.0, 'sampled'), (1.0, 'sampled'), (1.5, 'key'), (2.0, 'sampled')]
    """
    sampled = [float(t) for t in sampled_times]
    keys = sorted(float(t) for t in key_times if not any(abs(float(t) - s) < SAME_FRAME_S for s in sampled))
    out: list[FrameSlot] = []
    k = 0
    for t in sampled:
        while k < len(keys) and keys[k] <= t:
            out.append(FrameSlot(keys[k], "key"))
            k += 1
        out.append(FrameSlot(float(t), "sampled"))
    out.extend(FrameSlot(t, "key") for t in keys[k:])
    return out


def frame_label(index: int, time: float) -> str:
    """`Frame 3 at 1.5s:` (1-based index, time rounded to 0.01 s)."""
    return f"Frame {index} at {format_number(round(float(time), 2))}s:"


def user_text(question: str, duration: float | None, options: Sequence[str] | None = None) -> str:
    lines = []
    if duration is not None:
        lines.append(f"The video is {format_number(round(float(duration), 2))} seconds long.")
    lines.append(question)
    if options:
        lines.append("Options:")
        lines.extend(options)
    return "\n".join(lines)


def build_messages(
    task: str,
    question: str,
    frame_times: Sequence[float] | None,
    duration: float | None = None,
    options: Sequence[str] | None = None,
) -> list[dict]:
    """System + user messages. `frame_times=None` means a single still image (visual QA)."""
    if task not in SYSTEM_PROMPTS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(SYSTEM_PROMPTS)}")
    content: list[dict] = []
    if frame_times is None:
        content.append({"type": "image"})
    else:
        for i, t in enumerate(frame_times, start=1):
            content.append({"type": "text", "text": frame_label(i, t) + " "})
            content.append({"type": "image"})
            content.append({"type": "text", "text": "\n"})
    content.append({"type": "text", "text": user_text(question, duration, options)})
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPTS[task]}]},
        {"role": "user", "content": content},
    ]


def normalized_boxes_to_pixels(text: str, width: int, height: int) -> str:
    """Rewrite every normalized `<box>` (and the boxes of a JSON where-answer) into integer model-input pixels."""

    def convert(b: tuple[float, float, float, float]) -> list[int]:
        return round_box(to_pixels(b, width, height))

    return map_where(map_boxes(text, convert), convert)


# ----------------------------------------------------------------------------- benchmark question wordings
# The official wordings of the benchmark calls (benchmarks.md §1.3, §6), in one place: the eval adapters ask them,
# and the synthetic world trains on the same wordings so that a small model meets the benchmark's phrasing.

_WHERE_FORMAT = (
    "In the answer part, output the bounding boxes of the object in JSON format. The keys should be the whole "
    "seconds (as strings), and the values should be the box in [x1, y1, x2, y2] format."
)


def vstar_what(question: str) -> str:
    """V-STaR "what" call."""
    return (
        f"Answer the question about the video: {question} \n(If the answer is a person, you don't need to identify "
        "the person.)"
    )


def vstar_when(question: str) -> str:
    """V-STaR chain-1 "when" call."""
    return f"Answer the question about the video: {question}"


def vstar_where(question: str, seconds: Sequence[int]) -> str:
    """V-STaR chain-1 "where" call: one box for each whole second of the (given) time range."""
    first = seconds[0] if seconds else 0
    return (
        f"Please answer the question about the video: {question} with a series of bounding boxes in [x1, y1, x2, y2]"
        f" format.\nFor each whole second within the time range {list(seconds)} provided (inclusive of the "
        f"boundaries), give one box. {_WHERE_FORMAT}\nExample output of the answer part: "
        f'{{"{first}": [x1, y1, x2, y2],...}}'
    )


def vstar_where_n(question: str, n: int) -> str:
    """V-STaR chain-2 "where" call: `n` boxes at the seconds the model picks."""
    return (
        f"Please answer the question about the video: {question} with a series of bounding boxes in [x1, y1, x2, y2]"
        f" format.\nFor each whole second that may be related to the question, give one box. You only need to "
        f"output {n} bbox(es). {_WHERE_FORMAT}\nExample output of the answer part: "
        f'{{"0": [x1, y1, x2, y2], "1": ...}}'
    )


def vstar_when_given_boxes(question: str, size: tuple[int, int], boxes: Sequence[Sequence[int]]) -> str:
    """V-STaR chain-2 "when" call: the object's boxes (pixels of a `size` frame) are given without their times."""
    w, h = size
    return (
        f"Answer the question about the video: {question}\nThe frames are {w}x{h} pixels (width x height). There "
        f"are {len(boxes)} bounding boxes of the key object related to the question in the video without knowing "
        f"the time, which are: {[list(b) for b in boxes]}."
    )


def tvg_query(event: str) -> str:
    """Open-o3's TVGBench question for an event sentence (its final full stop is dropped)."""
    q = event.strip().rstrip(".")
    return f"To accurately pinpoint the event '{q}' in the video, determine the precise time period of the event."


def build_target(reasoning: str | None, answer: str, input_size: tuple[int, int] | None = None) -> str:
    """The assistant turn SFT trains on: `<think>..</think>\\n<answer>..</answer>`.

    `input_size` (W, H) converts normalized boxes in the reasoning and answer into model-input pixels,
    as upstream does for STGR data; pass None when the text is already in pixels.
    """
    if input_size is not None:
        reasoning = normalized_boxes_to_pixels(reasoning, *input_size) if reasoning is not None else None
        answer = normalized_boxes_to_pixels(answer, *input_size)
    return render_completion(reasoning, answer)

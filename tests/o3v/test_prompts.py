"""The one prompt builder: same system prompt and frame lines for SFT, GSPO and eval."""

import pytest

from o3v.grounded import parse
from o3v.prompts import SYSTEM_PROMPTS, build_messages, build_target, frame_label, plan_frames
from o3v.records import TASKS


def test_every_task_has_one_system_prompt():
    assert set(SYSTEM_PROMPTS) == set(TASKS)
    for task in ("temporal-spatial free-form QA", "General video QA MCQ", "General video QA Free-form"):
        assert "<obj>object_name</obj><box>[x1,y1,x2,y2]</box>at<t>seconds</t>s" in SYSTEM_PROMPTS[task]
    assert "Correct Option:" in SYSTEM_PROMPTS["temporal QA (MCQ)"]


def test_video_messages_have_one_image_per_frame_with_its_time():
    msgs = build_messages("temporal QA", "When does it jump?", [0.0, 0.5, 1.0, 1.5], duration=2.0)
    assert [m["role"] for m in msgs] == ["system", "user"]
    content = msgs[1]["content"]
    assert sum(c["type"] == "image" for c in content) == 4
    texts = [c["text"] for c in content if c["type"] == "text"]
    assert texts[0] == "Frame 1 at 0s: " and texts[2] == "Frame 2 at 0.5s: "
    assert texts[-1] == "The video is 2 seconds long.\nWhen does it jump?"


def test_image_messages_and_options():
    msgs = build_messages("visual QA", "Where is the cat?", None)
    assert msgs[1]["content"][0] == {"type": "image"}
    msgs = build_messages("General video QA MCQ", "Which colour?", [0.0, 1.0], 2.0, options=["A. red", "B. blue"])
    assert msgs[1]["content"][-1]["text"].endswith("Options:\nA. red\nB. blue")


def test_unknown_task_is_rejected():
    with pytest.raises(ValueError, match="unknown task"):
        build_messages("dance", "q", [0.0])


@pytest.mark.parametrize(
    ("sampled", "keys", "expected"),
    [
        ([0, 1, 2], [], [(0, "sampled"), (1, "sampled"), (2, "sampled")]),
        ([0, 1, 2], [1.0], [(0, "sampled"), (1, "sampled"), (2, "sampled")]),  # already a sampled frame
        ([0, 1, 2], [0.9], [(0, "sampled"), (0.9, "key"), (1, "sampled"), (2, "sampled")]),
        ([0, 1, 2], [0.4, 9.0], [(0, "sampled"), (0.4, "key"), (1, "sampled"), (2, "sampled"), (9.0, "key")]),
    ],
)
def test_plan_frames(sampled, keys, expected):
    assert [(s.time, s.kind) for s in plan_frames(sampled, keys)] == expected


def test_frame_label_rounds_to_centiseconds():
    assert frame_label(3, 1.23456) == "Frame 3 at 1.23s:"


def test_sft_target_converts_normalized_boxes_to_input_pixels():
    target = build_target(
        "The <obj>cat</obj><box>[0.1,0.2,0.5,1.0]</box>at<t>2</t>s sits.", "It sits.", input_size=(420, 224)
    )
    g = parse(target)
    assert g.claims[0].boxes == ((42, 45, 210, 224),)
    assert g.answer == "It sits."
    assert target.startswith("<think>") and "</think>\n<answer>" in target

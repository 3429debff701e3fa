"""Reward terms: literal tables hand-computed from the spec formulas (open-o3-video.md §9), plus invariants."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o3v.rewards import ALL_TERMS, EXTENSIONS, REWARDS, TERMS_BY_TASK, Reference, get_reward_funcs, score_completion
from o3v.rewards.answer import (
    answer_accuracy_reward,
    answer_temporal_iou_reward,
    answer_visual_iou_reward,
    rouge_mean_f1,
)
from o3v.rewards.columns import KeyFrameTruth, completion_text, reference_from_record, training_progress
from o3v.rewards.format import format_reward, format_score
from o3v.rewards.thinking import (
    claim_score,
    gated_key_frame,
    get_think_spatial_reward,
    proximity_sigma,
    temporal_proximity,
    think_temporal_point_reward,
    think_temporal_segment_reward,
)

FREE = "temporal-spatial free-form QA"


def _one(fn, text, ref, **kw):
    return fn([text], [ref], **kw)[0]


# ----------------------------------------------------------------------------- answer accuracy


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("B", 1.0),
        ("B.", 1.0),
        ("(B)", 1.0),
        ("[B]", 1.0),
        ("  B  ", 1.0),
        ("C", 0.0),
        ("b", 0.0),
        ("The answer is B", 0.0),
        ("", 0.0),
    ],
)
def test_mcq_accuracy_accepts_the_upstream_option_forms(answer, expected):
    ref = {"task": "General video QA MCQ", "option": "B"}
    assert _one(answer_accuracy_reward, f"<think>x</think><answer>{answer}</answer>", ref) == expected


def test_mcq_accuracy_is_zero_without_an_answer_block():
    assert _one(answer_accuracy_reward, "B", {"task": "General video QA MCQ", "option": "B"}) == 0.0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("From <t>1</t>s to <t>2</t>s.\nCorrect Option: B", 1.0),
        ("From <t>1</t>s to <t>2</t>s.\nCorrect Option: (B)", 1.0),
        ("From <t>1</t>s to <t>2</t>s.\nCorrect Option: A", 0.0),
        ("From <t>1</t>s to <t>2</t>s.", 0.0),
    ],
)
def test_temporal_mcq_accuracy_reads_the_correct_option_line(answer, expected):
    ref = {"task": "temporal QA (MCQ)", "option": "B", "span": [1, 2]}
    assert _one(answer_accuracy_reward, f"<answer>{answer}</answer>", ref) == expected


def test_free_form_accuracy_is_mean_rouge_f1_hand_computed():
    # ROUGE-1 F = 4/5 (a/the differ; "rolls"/"rolled" stem to "roll"), ROUGE-2 F = 3/4, ROUGE-L F = 4/5.
    expected = (0.8 + 0.75 + 0.8) / 3
    assert rouge_mean_f1("a red ball rolls left", "the red ball rolled left") == pytest.approx(expected)
    ref = {"task": FREE, "answer": "a red ball rolls left", "key_frames": [{"time": 1.0}]}
    text = "<think>x</think><answer> the red ball rolled left </answer>"
    assert _one(answer_accuracy_reward, text, ref) == pytest.approx(expected)
    assert _one(answer_accuracy_reward, "<answer>a red ball rolls left</answer>", ref) == pytest.approx(1.0)
    assert _one(answer_accuracy_reward, "no answer block", ref) == 0.0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"1": [0, 0, 10, 10], "2": [0, 0, 10, 10]}', 1.0),
        ('{"1": [0, 0, 10, 10]}', 0.5),  # a missing second scores 0, as V-STaR's vIoU
        ('{"1": [0, 0, 10, 10], "2": [0, 0, 5, 10], "7": [1, 1, 2, 2]}', 0.75),  # extra seconds are ignored
        ('{"1": [0, 0, 10]}', 0.0),  # not a where-answer
        ("It is a square.", 0.0),
    ],
)
def test_where_answer_accuracy_is_vstar_frame_iou_not_rouge(answer, expected):
    ref = {"task": FREE, "answer": '{"1": [0, 0, 10, 10], "2": [0, 0, 10, 10]}', "key_frames": [{"time": 1.0}]}
    assert _one(answer_accuracy_reward, f"<think>x</think><answer>{answer}</answer>", ref) == pytest.approx(expected)


def test_where_reference_is_in_model_input_pixels_like_the_sft_target():
    from o3v.prompts import build_target
    from o3v.records import record_from_dict

    raw = {
        "id": "v-where-0",
        "task": FREE,
        "question": "Where is the red square?",
        "answer": '{"1": [0.5, 0.25, 0.75, 1]}',
        "reasoning_process": "The <obj>red square</obj><box>[0.5,0.25,0.75,1]</box>at<t>1</t>s is here.",
        "video_path": "videos/v.mp4",
        "key_frames": [{"time": 1.0, "idx": 0}],
        "key_items": {"0": {"red square": [[0.5, 0.25, 0.75, 1]]}},
    }
    ref = reference_from_record(record_from_dict(raw), (128, 96))
    assert ref.answer == '{"1": [64, 24, 96, 96]}'
    target = build_target(raw["reasoning_process"], raw["answer"], (128, 96))
    assert _one(answer_accuracy_reward, target, ref.to_json()) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- answer temporal / visual IoU


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("From <t>0</t>s to <t>4</t>s", 2 / 6),
        ("From <t>2</t>s to <t>6</t>s", 1.0),
        ("From <t>2.5</t>s to <t>3.5</t>s", 0.25),
        ("From <t>6</t>s to <t>2</t>s", 0.0),  # inverted: 0, as upstream
        ("From <t>7</t>s to <t>9</t>s", 0.0),
        ("between 2 and 6 seconds", 0.0),
    ],
)
def test_answer_temporal_iou_table(answer, expected):
    ref = {"task": "temporal QA", "span": [2.0, 6.0]}
    assert _one(answer_temporal_iou_reward, f"<answer>{answer}</answer>", ref) == pytest.approx(expected)


def test_answer_visual_iou_uses_the_first_answer_box():
    ref = {"task": "visual QA", "box": [0, 0, 10, 10]}
    text = "<answer><obj>cat</obj><box>[0,0,10,5]</box><box>[0,0,10,10]</box></answer>"
    assert _one(answer_visual_iou_reward, text, ref) == pytest.approx(0.5)
    assert _one(answer_visual_iou_reward, "<answer>cat</answer>", ref) == 0.0


# ----------------------------------------------------------------------------- temporal proximity


@pytest.mark.parametrize(
    ("progress", "sigma"), [(0.0, 4.0), (0.25, 3.0), (0.5, 2.0), (0.7, 1.2), (0.75, 1.0), (0.9, 1.0), (1.0, 1.0)]
)
def test_sigma_schedule_falls_from_4_to_1_over_75_percent(progress, sigma):
    assert proximity_sigma(progress) == pytest.approx(sigma)


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        # times [1, 5], key frames [1, 3]: distances 0 and 2 -> (1 + exp(-4 / 2σ²)) / 2
        (0.0, (1 + math.exp(-4 / 32)) / 2),
        (0.5, (1 + math.exp(-4 / 8)) / 2),
        (0.9, (1 + math.exp(-4 / 2)) / 2),
    ],
)
def test_think_temporal_point_hand_computed(progress, expected):
    ref = {"task": FREE, "key_frames": [{"time": 1.0}, {"time": 3.0}]}
    text = "<think>first <t>1</t>s then <obj>cat</obj><box>[1,2,3,4]</box>at<t>5</t>s</think><answer>a</answer>"
    assert _one(think_temporal_point_reward, text, ref, progress=progress) == pytest.approx(expected)


def test_think_temporal_point_scores_zero_without_times_or_think():
    ref = {"task": FREE, "key_frames": [{"time": 1.0}]}
    assert _one(think_temporal_point_reward, "<think>no times</think>", ref, progress=0) == 0.0
    assert _one(think_temporal_point_reward, "<t>1</t>s", ref, progress=0) == 0.0


class _State:
    def __init__(self, global_step, max_steps):
        self.global_step, self.max_steps = global_step, max_steps


def test_progress_comes_from_trl_trainer_state_like_upstream_step_percent():
    assert training_progress(trainer_state=_State(49, 100)) == pytest.approx(0.5)
    assert training_progress(progress=0.3, trainer_state=_State(99, 100)) == pytest.approx(0.3)
    ref = {"task": FREE, "key_frames": [{"time": 1.0}]}
    text = "<think><t>3</t>s</think>"
    via_state = _one(think_temporal_point_reward, text, ref, trainer_state=_State(49, 100))
    assert via_state == pytest.approx(math.exp(-4 / 8))
    with pytest.raises(ValueError, match="progress"):
        think_temporal_point_reward([text], [ref])


def test_temporal_proximity_is_bounded():
    assert temporal_proximity([], [1.0], 2.0) == 0.0
    assert temporal_proximity([100.0], [0.0], 1.0) == pytest.approx(0.0)


# ----------------------------------------------------------------------------- temporal segment


@pytest.mark.parametrize(
    ("think", "expected"),
    [
        ("<t>3</t>s and <t>5</t>s", 1.0),
        ("<t>1</t>s and <t>3</t>s", 0.5),
        ("<t>2</t>s, <t>6</t>s, <t>7</t>s", 2 / 3),  # bounds are inclusive
        ("no times", 0.0),
    ],
)
def test_think_temporal_segment_table(think, expected):
    ref = {"task": "temporal QA (MCQ)", "span": [2, 6], "option": "A"}
    assert _one(think_temporal_segment_reward, f"<think>{think}</think>", ref) == pytest.approx(expected)


# ----------------------------------------------------------------------------- spatial with temporal gating

SPATIAL_REF = {
    "task": FREE,
    "key_frames": [
        {"time": 2.0, "objects": {"cat": [[0, 0, 10, 10]], "dog": [[20, 20, 30, 30]]}},
        {"time": 6.0, "objects": {"cat": [[0, 0, 4, 4]]}},
    ],
}
# claim 1: near t=2 (0.5 s), IoU 0.5 with the cat. claim 2: t=4 is 2 s from both key frames.
SPATIAL_TEXT = (
    "<think><obj>cat</obj><box>[0,0,10,5]</box>at<t>2.5</t>s then "
    "<obj>dog</obj><box>[20,20,30,30]</box>at<t>4</t>s</think><answer>a cat</answer>"
)


@pytest.mark.parametrize(("gate", "expected"), [("two-sided", (0.5 + 0.0) / 2), ("upstream", (0.5 + 1.0) / 2)])
def test_think_spatial_temporal_gate_hand_computed(gate, expected):
    # upstream's one-sided g - τ < 1 lets the t=2 key frame (2 s *before* the claim) gate the dog claim in.
    assert _one(get_think_spatial_reward(gate), SPATIAL_TEXT, SPATIAL_REF) == pytest.approx(expected)


def test_gated_key_frame_picks_the_nearest_passing_frame():
    frames = [KeyFrameTruth(1.0), KeyFrameTruth(2.2), KeyFrameTruth(9.0)]
    assert gated_key_frame(frames, 2.0).time == 2.2
    assert gated_key_frame(frames, 5.0) is None
    assert gated_key_frame(frames, 5.0, gate="upstream").time == 2.2
    assert gated_key_frame(frames, 8.5, gate="upstream").time == 9.0
    assert gated_key_frame(frames, 3.0).time == 2.2  # |2.2 - 3| = 0.8 < 1


def test_claim_score_means_over_gt_boxes_and_maxes_over_objects():
    objects = {"balls": ((0, 0, 10, 10), (20, 20, 30, 30)), "cat": ((50, 50, 60, 60),)}
    # GT 1 best IoU 1; GT 2 best IoU 50/100 -> mean 0.75; the cat scores 0.
    assert claim_score([(0, 0, 10, 10), (20, 20, 30, 25)], objects) == pytest.approx(0.75)


def test_think_spatial_needs_think_and_answer_blocks():
    fn = get_think_spatial_reward()
    assert _one(fn, SPATIAL_TEXT.replace("<answer>a cat</answer>", ""), SPATIAL_REF) == 0.0
    assert _one(fn, "<think>no claims</think><answer>x</answer>", SPATIAL_REF) == 0.0


def test_think_spatial_visual_qa_takes_the_best_box_in_the_reasoning():
    ref = {"task": "visual QA", "box": [0, 0, 10, 10]}
    text = "<think><box>[0,0,10,5]</box> or <box>[0,0,10,10]</box></think><answer>x</answer>"
    assert _one(get_think_spatial_reward(), text, ref) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- format


@pytest.mark.parametrize(
    ("text", "task", "expected"),
    [
        ("<think>a</think>\n<answer>b</answer>", FREE, 0.5),
        ("<think><obj>cat</obj><box>[1,2,3,4]</box>at<t>1</t>s</think>\n<answer>b</answer>", FREE, 1.0),
        ("<think>a</think>", FREE, 0.0),
        ("<answer>b</answer>", FREE, 0.0),
        ("<think>a</think><think>b</think><answer>c</answer>", FREE, 0.5),  # balanced repeats pass, as upstream
        ("<think><think>a</think><answer>c</answer>", FREE, 0.0),
        ("<think>a</think><answer>c</answer></answer>", FREE, 0.0),
        ("<think><obj>cat<box>[1,2,3,4]</box>at<t>1</t>s</think><answer>b</answer>", FREE, 0.0),
        ("<think><t>1</t>s</think><answer>b</answer>", "temporal QA", 0.5),
        ("<think><t>1</t>s to <t>3</t>s</think><answer>b</answer>", "temporal QA (MCQ)", 1.0),
        ("<think>see</think><answer><obj>red ball</obj><box>[1,2,3,4]</box></answer>", "visual QA", 1.0),
        ("<think>see</think><answer>red ball</answer>", "visual QA", 0.5),
        ("<think>plain</think><answer>A</answer>", "General video QA MCQ", 1.0),
        ("<think>plain</think><answer>x</answer>", "General video QA Free-form", 1.0),
    ],
)
def test_format_table(text, task, expected):
    assert format_score(text, task) == expected
    ref = {"task": task, "option": "A", "span": [0, 1], "box": [0, 0, 1, 1], "key_frames": [{"time": 0}]}
    assert format_reward([text], [ref]) == [expected]


# ----------------------------------------------------------------------------- registry and applicability


def test_registry_keys_resolve_and_every_task_has_its_terms():
    assert set(REWARDS) == set(ALL_TERMS) | set(EXTENSIONS) and not set(ALL_TERMS) & set(EXTENSIONS)
    for terms in TERMS_BY_TASK.values():
        assert set(terms) <= set(REWARDS)
        assert "format" in terms
    assert [f.__name__ for f in get_reward_funcs()] == list(ALL_TERMS)
    with pytest.raises(ValueError, match="unknown reward"):
        get_reward_funcs(["accuracy"])
    with pytest.raises(ValueError, match="gate"):
        get_reward_funcs(gate="both")


@pytest.mark.parametrize("task", sorted(TERMS_BY_TASK))
def test_terms_outside_the_task_table_return_none(task):
    ref = {"task": task, "option": "A", "span": [0, 1], "box": [0, 0, 1, 1], "key_frames": [{"time": 0}]}
    for fn in get_reward_funcs():
        value = fn(["<think>x</think><answer>A</answer>"], [ref], progress=0.5)[0]
        assert (value is not None) == (fn.__name__ in TERMS_BY_TASK[task]), fn.__name__


def test_unknown_task_in_reference_is_an_error():
    with pytest.raises(ValueError, match="unknown task"):
        format_reward(["x"], [{"task": "dance QA"}])


def test_score_completion_sums_to_the_task_maximum_for_a_perfect_answer():
    ref = Reference(
        task=FREE,
        answer="a cat sits",
        key_frames=(KeyFrameTruth(2.0, {"cat": ((0, 0, 10, 10),)}),),
    )
    text = "<think><obj>cat</obj><box>[0,0,10,10]</box>at<t>2</t>s</think>\n<answer>a cat sits</answer>"
    scores = score_completion(text, ref, progress=1.0)
    assert scores == pytest.approx({"answer_accuracy": 1, "think_temporal_point": 1, "think_spatial": 1, "format": 1})


def test_completion_text_accepts_trl_shapes():
    assert completion_text("x") == "x"
    assert completion_text([{"role": "assistant", "content": "y"}]) == "y"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "z"}]}]) == "z"
    assert completion_text(None) == ""


# ----------------------------------------------------------------------------- untrusted output


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/[],.0123456789 thinkswerobjxa")), max_size=120))
def test_rewards_never_raise_and_stay_in_unit_interval_on_arbitrary_text(text):
    for task in TERMS_BY_TASK:
        ref = {
            "task": task,
            "answer": "a cat",
            "option": "A",
            "span": [0, 3],
            "box": [0, 0, 5, 5],
            "key_frames": [{"time": 1.0, "objects": {"cat": [[0, 0, 5, 5]]}}],
        }
        for fn in get_reward_funcs():
            value = fn([text], [ref], progress=0.4)[0]
            assert value is None or 0.0 <= value <= 1.0


def test_think_spatial_named_scores_a_claim_only_under_its_own_name():
    """Upstream's term takes the best-matching object whatever the claim calls it; the named variant (opt-in) gives
    a right box under the wrong name 0, as the evidence metric does, and follows think_spatial's task table."""
    ref = {
        "task": "temporal-spatial free-form QA",
        "answer": "x",
        "key_frames": [{"time": 2.0, "objects": {"red circle": [[0, 0, 10, 10]], "blue square": [[20, 20, 30, 30]]}}],
    }
    right = "<think><obj>red circle</obj><box>[0,0,10,10]</box>at<t>2</t>s</think><answer>x</answer>"
    wrong = "<think><obj>red triangle</obj><box>[0,0,10,10]</box>at<t>2</t>s</think><answer>x</answer>"
    plain, named = get_reward_funcs(["think_spatial", "think_spatial_named"])
    assert [plain([t], [ref])[0] for t in (right, wrong)] == [1.0, 1.0]
    assert [named([t], [ref])[0] for t in (right, wrong)] == [1.0, 0.0]
    assert named([right], [{**ref, "task": "temporal QA"}]) == [None]

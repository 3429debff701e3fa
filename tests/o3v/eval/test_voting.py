"""Test-time voting: weights, the weighted vote (ties, invalid letters, no "A" fallback) and evidence crops."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from o3v.eval.voting import MAX_CROPS, evidence_crops, rating_messages, relevance_weight, vote


@pytest.mark.parametrize(
    ("reply", "weight"),
    [
        ("2", 1.0),
        ("1", 0.6),
        ("0", 0.2),
        (" 2.\n", 1.0),
        ("3", 0.2),
        ("relevant", 0.2),
        ("", 0.2),
        (None, 0.2),
        ("2 because", 0.2),
    ],
)
def test_relevance_weight_table(reply, weight):
    assert relevance_weight(reply) == weight


@pytest.mark.parametrize(
    ("letters", "weights", "winner"),
    [
        (["B", "B", "C"], [1, 1, 1], "B"),
        (["C", "B"], [1, 1], "B"),  # tie -> earliest letter
        (["C", "C", "A"], [0.2, 0.2, 1.0], "A"),  # confidence beats count
        ([None, "Z", ""], [1, 1, 1], None),  # nothing valid: unparsable, never "A"
        (["D", None], [0.6, 1.0], "D"),
    ],
)
def test_vote_table(letters, weights, winner):
    assert vote(letters, weights, "ABCD")[0] == winner


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", "D", None, "X"]), st.floats(0, 1)), max_size=12))
def test_vote_winner_has_the_largest_total(pairs):
    letters, weights = [p[0] for p in pairs], [p[1] for p in pairs]
    winner, totals = vote(letters, weights, "ABCD")
    assert set(totals) <= set("ABCD")
    if winner is not None:
        # Totals within float noise (1e-12) of the best are ties, and ties go to the earliest letter.
        best = max(totals.values())
        assert totals[winner] >= best - 1e-12
        assert all(k >= winner for k, v in totals.items() if v >= best - 1e-12)
    else:
        assert not totals


def test_evidence_crops_use_the_nearest_frame_and_model_input_pixels():
    frames = [np.zeros((40, 80, 3), np.uint8), np.zeros((40, 80, 3), np.uint8)]
    frames[1][:, :, 0] = 255  # the frame at t=1 is red
    text = "<think><obj>ball</obj><box>[0,0,20,10]</box>at<t>0.9</t>s</think><answer>A</answer>"
    crops = evidence_crops(text, frames, [0.0, 1.0], (40, 20))  # the model saw 40x20 frames
    assert len(crops) == 1 and crops[0].size == (40, 20)
    assert np.asarray(crops[0])[..., 0].min() == 255  # cropped from the red frame


def test_evidence_crops_skip_empty_boxes_and_cap_at_max():
    frames = [np.zeros((20, 20, 3), np.uint8)]
    assert evidence_crops("<think><obj>x</obj><box>[5,5,5,9]</box>at<t>0</t>s</think>", frames, [0.0], (20, 20)) == []
    many = "".join(f"<obj>o{i}</obj><box>[0,0,10,10]</box>at<t>0</t>s" for i in range(MAX_CROPS + 1))
    assert evidence_crops(f"<think>{many}</think>", frames, [0.0], (20, 20)) == []


def test_rating_messages_put_one_image_per_crop():
    msgs = rating_messages("What colour?", ["A. red", "B. blue"], 3)
    assert msgs[0]["content"][0]["text"].startswith("Only reply with a single digit")
    assert sum(part["type"] == "image" for part in msgs[1]["content"]) == 3
    assert "B. blue" in msgs[1]["content"][-1]["text"]

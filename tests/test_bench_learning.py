"""bench/learning.py's scorer: one function scores box answers (IoU) and span answers (tIoU), unparsable ones 0."""

from __future__ import annotations

import pytest

CLAIM = "<obj>red square</obj><box>[0,0,20,20]</box>"
BOX = f"<think>{CLAIM}</think>\n<answer>{CLAIM}</answer>"
SPAN = (
    "<think>The red square is seen from <t>1</t>s to <t>2</t>s.</think>\n<answer>From <t>1</t>s to <t>2</t>s</answer>"
)


@pytest.fixture(scope="module")
def learning(load_bench):
    return load_bench("learning")


def test_box_answers_score_their_iou(learning) -> None:
    assert learning.answer_score("box", BOX, BOX) == 1.0
    half = "<answer><obj>red square</obj><box>[0,0,20,10]</box></answer>"
    assert learning.answer_score("box", half, BOX) == pytest.approx(0.5)
    assert learning.answer_score("box", "<answer>somewhere</answer>", BOX) == 0.0


def test_span_answers_score_their_tiou_from_the_answer_not_the_think(learning) -> None:
    assert learning.answer_score("span", SPAN, SPAN) == 1.0
    wide = "<think>from <t>1</t>s to <t>2</t>s</think>\n<answer>From <t>0</t>s to <t>4</t>s</answer>"
    assert learning.answer_score("span", wide, SPAN) == pytest.approx(0.25)
    assert learning.answer_score("span", "<answer>From <t>2</t>s to <t>1</t>s</answer>", SPAN) == 0.0  # inverted
    assert learning.answer_score("span", "From <t>1</t>s to <t>2</t>s", SPAN) == 0.0  # no answer block


def test_the_plain_loop_reads_the_batches_a_sequential_loader_does(learning) -> None:
    """Both paths see the same rows in the same order: each epoch in file order, the last batch short."""
    assert [list(learning.batch_indices(5, 2, s)) for s in range(1, 5)] == [[0, 1], [2, 3], [4], [0, 1]]
    assert [list(learning.batch_indices(6, 3, s)) for s in (1, 2, 3)] == [[0, 1, 2], [3, 4, 5], [0, 1, 2]]

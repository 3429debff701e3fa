"""Geometry: literal tables plus the IoU invariants (symmetric, bounded, iou(a, a) = 1)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from o3v.geometry import (
    area_fraction,
    box_iou,
    box_problem,
    rescale_box,
    round_box,
    smart_resize,
    temporal_iou,
    to_normalized,
    to_pixels,
)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 4), (2, 6), 2 / 6),
        ((0, 10), (0, 10), 1.0),
        ((0, 10), (2, 4), 0.2),
        ((1, 2), (3, 4), 0.0),
        ((1, 2), (2, 3), 0.0),  # touching, no overlap
        ((5, 3), (3, 5), 0.0),  # inverted prediction scores 0 (upstream ans_tiou)
        ((2, 2), (2, 2), 1.0),  # identical points
        ((float("nan"), 1), (0, 1), 0.0),
    ],
)
def test_temporal_iou_table(a, b, expected):
    assert temporal_iou(a, b) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 2, 2], [1, 1, 3, 3], 1 / 7),
        ([0, 0, 1, 1], [0, 0, 1, 1], 1.0),
        ([0, 0, 1, 1], [2, 2, 3, 3], 0.0),
        ([0, 0, 4, 4], [1, 1, 2, 2], 1 / 16),
        ([2, 2, 0, 0], [0, 0, 2, 2], 0.0),  # inverted box has no area
        ([0, 0, float("inf"), 1], [0, 0, 1, 1], 0.0),
    ],
)
def test_box_iou_table(a, b, expected):
    assert box_iou(a, b) == pytest.approx(expected)


_coord = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)
_span = st.tuples(_coord, _coord).map(lambda t: (min(t), max(t)))
_box = st.tuples(_coord, _coord, _coord, _coord).map(
    lambda b: (min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3]))
)


@given(_span, _span)
def test_temporal_iou_is_symmetric_and_bounded(a, b):
    v = temporal_iou(a, b)
    assert 0.0 <= v <= 1.0
    assert v == temporal_iou(b, a)


@given(_span)
def test_temporal_iou_of_itself_is_one(a):
    assert temporal_iou(a, a) == 1.0


@given(_box, _box)
def test_box_iou_is_symmetric_and_bounded(a, b):
    v = box_iou(a, b)
    assert 0.0 <= v <= 1.0
    assert v == pytest.approx(box_iou(b, a))


@given(_box)
def test_box_iou_of_itself_is_one(a):
    assert box_iou(a, a) == 1.0


@pytest.mark.parametrize(
    ("box", "code"),
    [
        ([0.1, 0.1, 0.5, 0.5], None),
        ([0.5, 0.1, 0.1, 0.5], "inverted"),
        ([0.1, 0.1, 0.1, 0.5], "zero_area"),
        ([0.1, 0.1, 1.3, 0.5], "out_of_frame"),
        ([float("nan"), 0.1, 0.2, 0.5], "non_finite"),
        ([0.1, 0.2, 0.3], "not_4_numbers"),
        (["a", 0.2, 0.3, 0.4], "not_4_numbers"),
    ],
)
def test_box_problem_codes(box, code):
    assert box_problem(box) == code


def test_box_problem_in_pixels():
    assert box_problem([10, 10, 50, 50], normalized=False, width=64, height=64) is None
    assert box_problem([10, 10, 70, 50], normalized=False, width=64, height=64) == "out_of_frame"


def test_pixel_round_trips_and_rescale():
    box = [0.25, 0.5, 0.75, 1.0]
    assert to_pixels(box, 200, 100) == [50, 50, 150, 100]
    assert to_normalized(to_pixels(box, 200, 100), 200, 100) == box
    # model-input 420x224 -> original 1280x720
    assert rescale_box([42, 22.4, 420, 224], (420, 224), (1280, 720)) == pytest.approx([128, 72, 1280, 720])
    assert round_box([1.4, 2.6, 3.5, 4.49]) == [1, 3, 4, 4]
    assert area_fraction([0, 0, 0.5, 0.5]) == 0.25


@pytest.mark.parametrize(
    ("hw", "expected"),
    [
        ((720, 1280), (224, 420)),  # open-o3-video.md §3: a 1280x720 video becomes 420x224 input frames
        ((112, 112), (112, 112)),
        ((10, 10), (56, 56)),  # below min_pixels: scaled up
    ],
)
def test_smart_resize(hw, expected):
    h, w = smart_resize(*hw)
    assert (h, w) == expected
    assert h % 28 == 0 and w % 28 == 0


@given(st.integers(1, 4000), st.integers(1, 4000))
def test_smart_resize_respects_budget(h, w):
    if max(h, w) / min(h, w) > 150:
        return  # extreme aspect ratios are rejected by the real processor too
    rh, rw = smart_resize(h, w)
    assert rh % 28 == 0 and rw % 28 == 0
    assert rh * rw <= 128 * 28 * 28 or min(rh, rw) == 28
    assert math.isfinite(rh / rw)

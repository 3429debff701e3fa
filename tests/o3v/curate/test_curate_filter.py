"""Filter rules on hand-written records (literal tables + properties) and the filter stage's bookkeeping."""

from __future__ import annotations

import json

import pytest
from curate_builders import clean_records, modified, spatial, temporal, visual, write_dataset
from hypothesis import given
from hypothesis import strategies as st

from o3v.curate.config import load_config
from o3v.curate.filter import box_check, filter_records, rule_problems
from o3v.records import record_from_dict

CFG = load_config()


@pytest.mark.parametrize(
    "box, expected",
    [
        ([0.1, 0.1, 0.3, 0.4], None),
        ([0.0, 0.0, 1.0, 1.0], "box_oversized"),
        ([0.02, 0.02, 0.95, 0.95], "box_oversized"),  # 0.865 of the frame
        ([0.0, 0.0, 0.89, 0.89], None),  # 0.792: just under 0.8
        ([0.5, 0.1, 0.3, 0.4], "box_inverted"),
        ([0.1, 0.1, 1.3, 0.4], "box_out_of_frame"),
        ([-0.2, 0.1, 0.3, 0.4], "box_out_of_frame"),
        ([0.3, 0.1, 0.3, 0.4], "box_zero_area"),
        ([0.1, float("nan"), 0.3, 0.4], "box_non_finite"),
        ([0.1, 0.2, 0.3], "box_not_4_numbers"),
    ],
)
def test_box_check_table(box, expected):
    assert box_check(box, 0.8) == expected


def test_box_check_pixels_use_the_image_size():
    assert box_check([80, 60, 96, 72], 0.8, 160, 120) is None
    assert box_check([0, 0, 160, 120], 0.8, 160, 120) == "box_oversized"
    assert box_check([0, 0, 170, 100], 0.8, 160, 120) == "box_out_of_frame"


@given(st.lists(st.floats(0, 1), min_size=4, max_size=4), st.floats(0.05, 1.0))
def test_box_check_agrees_with_area_threshold(coords, limit):
    x1, x2 = sorted(coords[:2])
    y1, y2 = sorted(coords[2:])
    code = box_check([x1, y1, x2, y2], limit)
    if x1 == x2 or y1 == y2:
        assert code == "box_zero_area"
    else:
        assert code == ("box_oversized" if (x2 - x1) * (y2 - y1) > limit else None)


def _problems(raw):
    return [(p.reason, p.field) for p in rule_problems(record_from_dict(raw), CFG.filter)]


def test_clean_records_have_no_problems():
    for raw in clean_records():
        assert _problems(raw) == [], raw["task"]


def _with_box(box):
    rec = spatial()
    rec["key_items"]["1"]["red circle"] = [box]
    return rec


@pytest.mark.parametrize(
    "raw, expected",
    [
        (_with_box([0.0, 0.0, 0.97, 0.95]), [("box_oversized", "key_items.1.red circle[0]")]),
        (_with_box([0.6, 0.5, 0.5, 0.6]), [("box_inverted", "key_items.1.red circle[0]")]),
        (_with_box([0.5, 0.5, 1.3, 0.6]), [("box_out_of_frame", "key_items.1.red circle[0]")]),
        (modified(spatial(), key_frames=[{"time": 2.0, "idx": 0}, {"time": 12.5, "idx": 1}]),
         [("time_outside_video", "key_frames[1].time")]),
        (modified(spatial(), key_frames=[{"time": 2.0, "idx": 0}, {"time": 4.5, "idx": 7}]),
         [("key_items_unknown_frame", "key_items.1")]),
        (modified(temporal(), answer="From <t>8</t>s to <t>11</t>s"), [("answer_span_outside_video", "answer")]),
        (modified(temporal(), answer="From <t>5</t>s to <t>2</t>s"), [("answer_span_inverted", "answer")]),
        (modified(visual(), answer="<obj>red circle</obj><box>[0,0,160,120]</box>"), [("box_oversized", "answer")]),
        (modified(visual(), answer="<obj>red circle</obj><box>[90,60,80,72]</box>"), [("box_inverted", "answer")]),
        (modified(visual(), answer="the red circle"), [("box_missing", "answer")]),
        (modified(spatial(), media_meta=None), [("media_meta_missing", "media_meta")]),
    ],
)  # fmt: skip
def test_rule_problem_table(raw, expected):
    assert _problems(raw) == expected


def test_claim_boxes_and_times_in_the_reasoning_are_checked_too():
    rec = spatial()
    rec["reasoning_process"] = "<obj>red circle</obj><box>[0,0,0.99,0.99]</box>at<t>14</t>s"
    reasons = {r for r, _ in _problems(rec)}
    assert reasons == {"claim_box_oversized", "claim_time_outside_video"}


def test_threshold_comes_from_config():
    rec = record_from_dict(_with_box([0.0, 0.0, 0.8, 0.8]))  # 0.64 of the frame
    assert rule_problems(rec, CFG.filter) == []
    strict = load_config({"filter": {"max_box_area": 0.5}})
    assert [p.reason for p in rule_problems(rec, strict.filter)] == ["box_oversized"]


def test_filter_stage_counts_and_rejects(tmp_path):
    bad_box = _with_box([0.0, 0.0, 0.97, 0.95])
    bad_box["id"] = "oversized"
    rows = clean_records() + [bad_box, {"task": "temporal QA", "question": 3}]
    ds = write_dataset(tmp_path / "in", rows, raw_lines=['{"id": "trunc", "task": "temporal QA", "quest'])
    stats = filter_records(ds, tmp_path / "out", {"filter": {"verifier": "none"}})
    assert (stats["in"], stats["kept"], stats["rejected"]) == (8, 5, 3)
    assert stats["by_reason"] == {"box_oversized": 1, "malformed_json": 1, "schema": 1}
    rejects = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    kept = (tmp_path / "out" / "records.jsonl").read_text().splitlines()
    assert len(kept) + len(rejects) == stats["in"]
    by_reason = {r["reason"]: r for r in rejects}
    assert (
        by_reason["box_oversized"]["id"] == "oversized" and by_reason["box_oversized"]["record"]["id"] == "oversized"
    )
    assert by_reason["schema"]["field"] == "question" and "records.jsonl" in by_reason["schema"]["message"]
    assert by_reason["malformed_json"]["index"] == 7 and "malformed JSON" in by_reason["malformed_json"]["message"]
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["stage"] == "filter"
    assert (tmp_path / "out" / "config.resolved.yaml").is_file()

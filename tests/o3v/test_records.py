"""STGR records: lossless round trips, canonical evidence, and errors that say file / record / field."""

import json

import pytest

from o3v.records import (
    TASKS,
    RecordError,
    gt_box,
    gt_option,
    gt_span,
    read_jsonl,
    read_records,
    record_from_dict,
    scan_records,
    write_records,
)

FIXTURE = "tests/fixtures/stgr_upstream_sample.json"


def test_fixture_covers_all_six_tasks():
    assert {r.task for r in read_records(FIXTURE)} == set(TASKS)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_upstream_file_round_trips_exactly(tmp_path, fmt):
    original = json.load(open(FIXTURE))
    out = tmp_path / f"out.{fmt}"
    write_records(out, read_records(FIXTURE))
    again = read_records(out)
    written = [r.to_dict() for r in again]
    assert written == original
    assert [list(d) for d in written] == [list(d) for d in original]  # key order kept too
    # and a second round is byte-identical to the first
    out2 = tmp_path / f"out2.{fmt}"
    write_records(out2, again)
    assert out2.read_bytes() == out.read_bytes()


def test_evidence_is_normalized_for_every_source():
    stgr, gqa = read_records(FIXTURE)[:2]
    ev = stgr.evidence()
    assert [(e.time, e.object) for e in ev] == [(3.2, "man"), (5.0, "mug")]
    assert ev[1].box == (0.51, 0.44, 0.58, 0.52)
    assert gqa.box_space() == "image_pixels" and gqa.evidence() == []
    assert gt_box(gqa) == (120, 88, 301, 240)


def test_ground_truth_per_task():
    recs = {r.task: r for r in read_records(FIXTURE)}
    assert gt_span(recs["temporal QA"]) == (12.0, 17.5)
    assert gt_span(recs["temporal QA (MCQ)"]) == (6.0, 9.0)
    assert gt_option(recs["temporal QA (MCQ)"]) == "B"
    assert gt_option(recs["General video QA MCQ"]) == "C"
    sft = record_from_dict(
        {
            "task": "temporal QA (MCQ)",
            "question": "q",
            "video_path": "v.mp4",
            "answer": "From <t>6</t>s to <t>9</t>s.\nCorrect Option: B",
        }
    )
    assert gt_span(sft) == (6.0, 9.0) and gt_option(sft) == "B"


GOOD = {"task": "temporal QA", "question": "q", "answer": "[1, 2]", "video_path": "v.mp4"}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"task": "dance QA"}, "task"),
        ({"task": None}, "task"),
        ({"question": 3}, "question"),
        ({"video_path": None}, "video_path"),
        ({"image_size": [0, 10]}, "image_size"),
        ({"image_size": "500x333"}, "image_size"),
        ({"key_frames": [{"idx": 0}]}, "key_frames[0].time"),
        ({"key_frames": [{"time": "3s"}]}, "key_frames[0].time"),
        ({"key_frames": [{"time": -1}]}, "key_frames[0].time"),
        ({"key_frames": [{"time": True}]}, "key_frames[0].time"),
        ({"key_items": {"0": {"cat": [[1, 2, 3]]}}}, "key_items.0.cat[0]"),
        ({"key_items": {"0": {"cat": [[1, "a", 3, 4]]}}}, "key_items.0.cat[0]"),
        ({"key_items": {"0": ["cat"]}}, "key_items.0"),
        ({"options": ["A. x", 2]}, "options"),
    ],
)
def test_malformed_record_names_the_field(patch, field):
    raw = {k: v for k, v in {**GOOD, **patch}.items() if v is not None}
    with pytest.raises(RecordError) as err:
        record_from_dict(raw)
    assert err.value.field == field
    assert field in str(err.value)


def test_errors_name_file_and_index(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + "{not json\n" + json.dumps({**GOOD, "question": 5}) + "\n")
    results = list(scan_records(path))
    assert [type(r).__name__ for _, r, _ in results] == ["Record", "RecordError", "RecordError"]
    _, malformed, _ = results[1]
    assert malformed.index == 1 and str(path) in str(malformed) and "malformed JSON" in str(malformed)
    _, wrong_type, raw = results[2]
    assert (wrong_type.index, wrong_type.field) == (2, "question") and raw["question"] == 5
    with pytest.raises(RecordError, match="record 1"):
        read_records(path)


def test_truncated_json_list_is_one_clear_error(tmp_path):
    path = tmp_path / "trunc.json"
    path.write_text(open(FIXTURE).read()[:500])
    [(_, err, _)] = list(scan_records(path))
    assert isinstance(err, RecordError) and str(path) in str(err)


def test_missing_file_is_an_error_not_a_crash(tmp_path):
    [(_, err, _)] = list(scan_records(tmp_path / "nope.json"))
    assert "cannot read" in str(err)


def test_read_jsonl_names_bad_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n[oops\n')
    with pytest.raises(RecordError, match="record 1"):
        read_jsonl(path)

"""`o3v reward`: reference STGR-RL records + completions JSONL -> per-term rewards, hand-computed."""

import json
import math
import os
import subprocess
import sys

import pytest

from o3v.cli import main
from o3v.records import RecordError, record_from_dict
from o3v.rewards.audit import score_file
from o3v.rewards.columns import reference_from_record

# Upstream STGR-RL shapes (open-o3-video.md §2.5, §2.6): normalized key-item boxes, RL answer formats,
# visual-QA boxes in original image pixels with image_size.
RL_RECORDS = [
    {
        "id": "st-0",
        "task": "temporal-spatial free-form QA",
        "source": "STR_plm_rdcap",
        "question": "What does the cat do?",
        "answer": "the cat jumps",
        "video_path": "v0.mp4",
        "key_frames": [{"time": 2.0, "idx": 3, "path": "k3.jpg"}, {"time": 6.0, "idx": 7, "path": "k7.jpg"}],
        "key_items": {"3": {"cat": [[0.0, 0.0, 0.1, 0.2]]}, "7": {"cat": [[0.5, 0.5, 0.6, 0.6]]}},
    },
    {
        "id": "tg-1",
        "task": "temporal QA",
        "source": "timerft",
        "question": "When does it jump?",
        "answer": "[2.0, 6.0]",
        "video_path": "v1.mp4",
    },
    {
        "id": "tm-2",
        "task": "temporal QA (MCQ)",
        "source": "TVG",
        "question": "When and which?",
        "answer": "B\n[2.0, 6.0]",
        "video_path": "v2.mp4",
    },
    {
        "id": "vq-3",
        "task": "visual QA",
        "source": "gqa",
        "question": "Where is the cup?",
        "answer": "<obj>cup</obj><box>[20,40,120,240]</box>",
        "image_path": "i3.jpg",
        "image_size": [400, 800],
    },
]
FRAME = (100, 50)  # model-input W x H


@pytest.fixture()
def files(tmp_path):
    records = tmp_path / "STGR-RL.json"
    records.write_text(json.dumps(RL_RECORDS))
    completions = [
        # free-form: cat box [0,0,10,10] in 100x50 pixels vs GT [0,0,10,10]; one claim at 2.5 s (0.5 s from key frame).
        "<think><obj>cat</obj><box>[0,0,10,10]</box>at<t>2.5</t>s</think>\n<answer>the cat jumps</answer>",
        "<think>it starts at <t>3</t>s and ends at <t>8</t>s</think>\n<answer>From <t>0</t>s to <t>4</t>s</answer>",
        "<think><t>3</t>s, <t>5</t>s</think>\n<answer>From <t>2</t>s to <t>6</t>s.\nCorrect Option: B</answer>",
        # GT cup [20,40,120,240] in 400x800 -> [5,2.5,30,15] in 100x50.
        "<think>the cup <box>[5,2.5,30,15]</box></think>\n<answer><obj>cup</obj><box>[5,2.5,30,8.75]</box></answer>",
    ]
    lines = [json.dumps({"index": i, "completion": c}) for i, c in enumerate(completions)]
    path = tmp_path / "completions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return records, path


def test_reference_scales_boxes_into_model_input_pixels():
    ref = reference_from_record(record_from_dict(RL_RECORDS[0]), FRAME)
    assert ref.key_frames[0].objects == {"cat": ((0.0, 0.0, 10.0, 10.0),)}
    assert [kf.time for kf in ref.key_frames] == [2.0, 6.0]
    vq = reference_from_record(record_from_dict(RL_RECORDS[3]), FRAME)
    assert vq.box == pytest.approx((5, 2.5, 30, 15))
    assert reference_from_record(record_from_dict(RL_RECORDS[2]), FRAME).option == "B"
    assert reference_from_record(record_from_dict(RL_RECORDS[2]), FRAME).span == (2.0, 6.0)


def test_score_file_reproduces_hand_computed_rewards(files):
    rows = list(score_file(*files, frame_size=FRAME, progress=0.5))
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    free, tg, tm, vq = (r["rewards"] for r in rows)
    # σ = 2 at ρ = 0.5; the single <t>2.5</t> is 0.5 s from the key frame at 2 s.
    assert free == pytest.approx(
        {"answer_accuracy": 1.0, "think_temporal_point": math.exp(-0.25 / 8), "think_spatial": 1.0, "format": 1.0}
    )
    assert tg == pytest.approx({"answer_temporal_iou": 2 / 6, "think_temporal_segment": 0.5, "format": 1.0})
    assert tm == pytest.approx(
        {"answer_accuracy": 1.0, "answer_temporal_iou": 1.0, "think_temporal_segment": 1.0, "format": 1.0}
    )
    # answer box [5,2.5,30,8.75] vs GT [5,2.5,30,15]: 156.25 / 312.5 = 0.5; think box equals the GT -> 1.
    # format 1: the answer has the visual-QA <obj>name</obj><box>[..]</box> pair.
    assert vq == pytest.approx({"answer_visual_iou": 0.5, "think_spatial": 1.0, "format": 1.0})
    for row in rows:
        assert row["total"] == pytest.approx(sum(row["rewards"].values()))


def test_cli_contract_prints_one_json_line_per_completion(files, capsys):
    records, completions = files
    argv = ["reward", "--records", str(records), "--completions", str(completions), "--frame-size", "100", "50"]
    assert main([*argv, "--progress", "0.0", "--gate", "upstream"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 4 and set(rows[0]) == {"index", "rewards", "total"}
    assert rows[0]["rewards"]["think_temporal_point"] == pytest.approx(math.exp(-0.25 / 32))


def test_cli_runs_as_a_console_script(files):
    records, completions = files
    exe = os.path.join(os.path.dirname(sys.executable), "o3v")
    cmd = [exe, "reward", "--records", str(records), "--completions", str(completions), "--frame-size", "100", "50"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
    assert len(out.stdout.splitlines()) == 4


def test_bad_completion_rows_name_the_file_line_and_field(files, tmp_path):
    records, _ = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"index": 9, "completion": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"line 1, field 'index': 9 is out of range"):
        list(score_file(records, bad, FRAME))
    bad.write_text(json.dumps({"index": 0, "completion": 3}) + "\n")
    with pytest.raises(ValueError, match="field 'completion'"):
        list(score_file(records, bad, FRAME))


def test_records_without_ground_truth_are_rejected_with_the_field(tmp_path):
    broken = [dict(RL_RECORDS[1], answer="sometime")]
    records = tmp_path / "r.jsonl"
    records.write_text(json.dumps(broken[0]) + "\n")
    completions = tmp_path / "c.jsonl"
    completions.write_text(json.dumps({"index": 0, "completion": "x"}) + "\n")
    with pytest.raises(RecordError, match=r"record 0, field 'answer'"):
        list(score_file(records, completions, FRAME))


def test_cli_reports_bad_input_in_one_line(files, tmp_path, capsys):
    records, _ = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"index": 99, "completion": "x"}) + "\n")
    argv = ["reward", "--records", str(records), "--completions", str(bad), "--frame-size", "100", "50"]
    assert main(argv) == 2
    assert "o3v reward: error:" in capsys.readouterr().err

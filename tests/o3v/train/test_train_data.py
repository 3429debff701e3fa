"""Training rows: frames + key frames + shared prompts, boxes in model-input pixels, bad data caught early."""

import json
import shutil

import pytest

from o3v.grounded import parse
from o3v.model import model_input_size
from o3v.records import read_records, write_records
from o3v.rewards import Reference
from o3v.train.data import FrameSettings, TrainDataError, gspo_row, load_train_data, sft_row

FRAMES = FrameSettings(fps=2.0, min_frames=4, max_frames=8)


def _item(data_dir, task):
    data = load_train_data(data_dir, "sft" if "sft" in data_dir.name else "gspo")
    return next(i for i in data.records if i.record.task == task)


def _image_slots(messages):
    return sum(1 for m in messages for p in m["content"] if p["type"] == "image")


def test_temporal_spatial_row_inserts_key_frames_and_uses_model_input_pixels(train_data, tiny_processor):
    item = _item(train_data["sft"], "temporal-spatial free-form QA")
    row = sft_row(item, tiny_processor, FRAMES)
    user_text = "".join(p.get("text") or "" for p in row["prompt"][1]["content"])
    key_times = [kf.time for kf in item.record.key_frames]
    assert _image_slots(row["prompt"]) == len(row["images"])
    assert len(row["images"]) > len(key_times)  # sampled frames plus the inserted key frames
    for t in key_times:
        assert f"at {round(t, 2):g}s:" in user_text
    size = row["images"][0].size
    assert all(img.size == size for img in row["images"])
    target = row["completion"][0]["content"][0]["text"]
    claims = parse(target).claims
    source_claims = parse(f"<think>{item.record.reasoning_process}</think>").claims
    assert claims and len(claims) == len(source_claims)
    w, h = size
    for mine, src in zip(claims, source_claims):
        expected = [round(v * s) for v, s in zip(src.boxes[0], (w, h, w, h))]
        assert list(mine.boxes[0]) == expected  # normalized -> integer model-input pixels


def test_visual_qa_row_rescales_original_image_boxes(train_data, tiny_processor):
    item = _item(train_data["sft"], "visual QA")
    row = sft_row(item, tiny_processor, FRAMES)
    assert len(row["images"]) == 1 and _image_slots(row["prompt"]) == 1
    w, h = row["images"][0].size
    assert (w, h) == model_input_size(tiny_processor, *item.record.image_size)
    box = parse(row["completion"][0]["content"][0]["text"]).answer_boxes[0]
    ow, oh = item.record.image_size
    src = parse(f"<answer>{item.record.answer}</answer>").answer_boxes[0]
    assert list(box) == [round(v * s) for v, s in zip(src, (w / ow, h / oh, w / ow, h / oh))]


def test_gspo_row_carries_the_reference_in_the_frames_pixel_space(train_data, tiny_processor):
    item = _item(train_data["rl"], "temporal-spatial free-form QA")
    row = gspo_row(item, tiny_processor, FRAMES)
    ref = Reference.from_json(row["reference"])
    w, h = row["images"][0].size
    kf, truth = item.record.key_frames[0], ref.key_frames[0]
    name, boxes = next(iter(item.record.key_items[str(kf.idx)].items()))
    assert truth.time == kf.time
    assert truth.objects[name][0] == pytest.approx(
        [boxes[0][0] * w, boxes[0][1] * h, boxes[0][2] * w, boxes[0][3] * h]
    )


def _copy_dataset(src, dst, edit):
    dst.mkdir()
    shutil.copy(src / "dataset.json", dst / "dataset.json")
    records = read_records(src / "records.jsonl")
    write_records(dst / "records.jsonl", edit(records))
    return dst


def _break_first_video(records):
    first = next(r for r in records if r.is_video)
    first.video_path = "videos/missing.mp4"
    return records


def test_missing_video_fails_before_training_naming_record_and_path(train_data, tmp_path):
    data = _copy_dataset(train_data["sft"], tmp_path / "d", _break_first_video)
    bad = next(r for r in read_records(data / "records.jsonl") if r.video_path == "videos/missing.mp4")
    with pytest.raises(TrainDataError, match=rf"record '{bad.id}' \(index \d+\): video_path not found: .*missing.mp4"):
        load_train_data(data, "sft")


def test_missing_video_can_be_skipped_into_the_rejects_file(train_data, tmp_path, caplog):
    data = _copy_dataset(train_data["sft"], tmp_path / "d", _break_first_video)
    n = len(read_records(data / "records.jsonl"))
    rejects = tmp_path / "rejects.jsonl"
    loaded = load_train_data(data, "sft", on_missing_video="skip", rejects_path=rejects)
    rows = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert loaded.skipped == 1 and len(loaded.records) == n - 1
    assert rows[0]["reason"] == "media_missing" and rows[0]["values"] == "videos/missing.mp4"
    assert "skipped 1 record(s)" in caplog.text


def test_media_path_escaping_the_root_is_refused(train_data, tmp_path):
    def escape(records):
        next(r for r in records if r.is_video).video_path = "../../etc/passwd"
        return records

    data = _copy_dataset(train_data["sft"], tmp_path / "d", escape)
    with pytest.raises(TrainDataError, match="leaves the media root"):
        load_train_data(data, "sft")


def test_tasks_select_task_types_without_rejecting_the_rest(train_data, tmp_path, caplog):
    caplog.set_level("INFO", logger="o3v.train.data")
    everything = load_train_data(train_data["rl"], "gspo")
    rejects = tmp_path / "rejects.jsonl"
    temporal = load_train_data(train_data["rl"], "gspo", tasks=["temporal QA"], rejects_path=rejects)
    assert {i.record.task for i in temporal.records} == {"temporal QA"}
    n_temporal = sum(i.record.task == "temporal QA" for i in everything.records)
    assert 0 < len(temporal.records) == n_temporal < len(everything.records)
    assert rejects.read_text() == "" and temporal.skipped == 0  # a choice of the run, not a data problem
    assert f"left out {len(everything.records) - n_temporal} record(s) of other task types" in caplog.text


def test_empty_dataset_fails(train_data, tmp_path):
    data = _copy_dataset(train_data["sft"], tmp_path / "d", lambda records: [])
    with pytest.raises(TrainDataError, match="no trainable records"):
        load_train_data(data, "sft")


def test_sft_needs_reasoning_and_gspo_needs_ground_truth(train_data, tmp_path):
    with pytest.raises(TrainDataError, match=r"field 'reasoning_process' is missing"):
        load_train_data(train_data["rl"], "sft")

    def drop_span(records):
        rec = next(r for r in records if r.task == "temporal QA")
        rec.answer = "some time"
        return records

    data = _copy_dataset(train_data["rl"], tmp_path / "d", drop_span)
    with pytest.raises(TrainDataError, match=r"field 'answer' has no time span"):
        load_train_data(data, "gspo")


def test_missing_dataset_files_are_named(tmp_path):
    with pytest.raises(TrainDataError, match="records.jsonl: missing"):
        load_train_data(tmp_path, "sft")


def test_cli_fails_before_training_with_one_clear_line(train_data, tmp_path, capsys):
    from o3v.cli import main

    data = _copy_dataset(train_data["sft"], tmp_path / "d", _break_first_video)
    argv = ["sft", "--data", str(data), "--out", str(tmp_path / "o"), "--base-model", "unused", "--set", "max_steps=1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("o3v sft: error:") and "missing.mp4" in err
    assert main([*argv[:-2], "--set", "learning_rate=-1"]) == 2
    assert "field 'learning_rate' must be > 0" in capsys.readouterr().err


def _fake_items(tasks_and_sources):
    from types import SimpleNamespace as R

    return [R(record=R(task=t, source=s)) for t, s in tasks_and_sources]


def test_doctests():
    import doctest

    import o3v.train.data as data

    assert doctest.testmod(data).failed == 0


def test_task_repeats_upweight_task_types_after_the_stills_and_change_nothing_without_them():
    import collections

    import o3v.train.data as data
    from o3v.synth.stills import STILL_SOURCE

    items = _fake_items(
        [("visual QA", STILL_SOURCE)] * 8
        + [("temporal QA", "o3v_synth")] * 10
        + [("General video QA MCQ", "o3v_synth")] * 10
        + [("visual QA", "o3v_synth")] * 10
    )
    lengths = [len(items) - i for i in range(len(items))]
    plain = data.curriculum_order(items, lengths, batch=4, rows=4 * 2 + 400, warm_steps=2, seed=0)
    assert plain == data.curriculum_order(items, lengths, 4, 408, 2, 0, repeats=None)
    assert plain == data.curriculum_order(items, lengths, 4, 408, 2, 0, repeats={})
    up = data.curriculum_order(items, lengths, 4, 408, 2, 0, repeats={"temporal QA": 3, "visual QA": 2})
    assert all(items[i].record.source == STILL_SOURCE for i in up[:8])  # the warm-up stills stay first, once
    count = collections.Counter(items[i].record.task for i in up[8:])
    # per epoch of the planned part: 30 temporal, 10 MCQ, 20 video visual QA rows (stills never come back)
    assert count["temporal QA"] / count["General video QA MCQ"] == pytest.approx(3, rel=0.1)
    assert count["visual QA"] / count["General video QA MCQ"] == pytest.approx(2, rel=0.1)
    assert not any(items[i].record.source == STILL_SOURCE for i in up[8:])
    grouped = data.curriculum_order(items, lengths, 4, 96, 0, 0, repeats={"temporal QA": 2})
    # grouped (no warm-up phase): 2 epochs of 48 rows (8 stills, 20 temporal, 10 MCQ, 10 visual QA)
    assert collections.Counter(items[i].record.task for i in grouped)["temporal QA"] == 40

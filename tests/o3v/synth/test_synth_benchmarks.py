"""o3v.synth benchmark files (official field sets, held-out videos, GT) and their constant baselines."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from o3v.geometry import box_iou, temporal_iou
from o3v.synth.benchmarks import majority_option, mean_box_viou, temporal_baselines

VSTAR_FIELDS = {
    "vid", "domain", "fps", "width", "height", "frame_count", "question", "chain", "object", "answer",
    "temporal_question", "timestamps", "spatial_question", "spatial_question_2", "bboxes",
}  # fmt: skip
TVG_FIELDS = {"path", "question", "answer", "duration", "question_type", "source", "dataset_name", "qsemtype", "bins"}
MME_COLUMNS = [
    "videoID",
    "question_id",
    "duration",
    "domain",
    "sub_category",
    "task_type",
    "question",
    "options",
    "answer",
]


@pytest.fixture(scope="module")
def world(synth_world: Path) -> dict:
    return {v["id"]: v for v in json.loads((synth_world / "world.json").read_text())["videos"]}


@pytest.fixture(scope="module")
def vstar(synth_world: Path) -> list[dict]:
    return json.loads((synth_world / "benchmarks/vstar/V_STaR_test.json").read_text())


@pytest.fixture(scope="module")
def tvg(synth_world: Path) -> list[dict]:
    return json.loads((synth_world / "benchmarks/tvgbench/tvgbench.json").read_text())


@pytest.fixture(scope="module")
def mme(synth_world: Path) -> pd.DataFrame:
    return pd.read_parquet(synth_world / "benchmarks/videomme/videomme/test-00000-of-00001.parquet")


def test_benchmarks_use_only_held_out_videos(synth_world: Path, world: dict, vstar, tvg, mme) -> None:
    held_out = {vid for vid, v in world.items() if v["split"] == "eval"}
    assert held_out == {"vid_004", "vid_005"}
    assert {it["vid"] for it in vstar} == held_out
    assert {it["path"][:-4] for it in tvg} == held_out
    assert set(mme["videoID"]) == held_out
    for vid in held_out:
        assert (synth_world / "videos" / f"{vid}.mp4").is_file()  # resolvable from OUT/videos/


def test_vstar_items(vstar: list[dict], world: dict) -> None:
    assert len(vstar) == sum(len(world[v]["objects"]) for v in ("vid_004", "vid_005"))
    for it in vstar:
        assert set(it) == VSTAR_FIELDS
        v = world[it["vid"]]
        obj = next(o for o in v["objects"] if o["name"] == it["object"])
        assert it["timestamps"] == obj["span"]
        assert (it["fps"], it["width"], it["height"], it["frame_count"]) == (
            v["fps"],
            v["width"],
            v["height"],
            v["num_frames"],
        )
        assert it["chain"].startswith("<think>") and it["chain"].endswith("</think>")
        assert it["bboxes"], "every object is visible at a whole second"
        for b in it["bboxes"]:
            assert isinstance(b["timestamp"], int) and b["frame_index"] == b["timestamp"] * v["fps"]
            assert it["timestamps"][0] <= b["timestamp"] <= it["timestamps"][1]
            gt = obj["boxes"][b["frame_index"]]
            px = [gt[0] * v["width"], gt[1] * v["height"], gt[2] * v["width"], gt[3] * v["height"]]
            assert [b["xmin"], b["ymin"], b["xmax"], b["ymax"]] == [round(x) for x in px]
            assert all(isinstance(b[k], int) for k in ("xmin", "ymin", "xmax", "ymax"))


def test_tvgbench_items(tvg: list[dict], world: dict) -> None:
    for it in tvg:
        assert set(it) == TVG_FIELDS
        start, end = (float(x) for x in it["answer"].split("-"))
        v = world[it["path"][:-4]]
        assert it["duration"] == v["num_frames"] / v["fps"]
        assert [start, end] in [o["span"] for o in v["objects"]]
        assert it["question_type"] == "video temporal grounding"
        assert set(it["bins"]) == {"videolen", "qcenter", "qlen"}


def test_videomme_parquet(mme: pd.DataFrame, world: dict) -> None:
    assert list(mme.columns) == MME_COLUMNS
    assert len(mme) == 4 and mme["question_id"].is_unique
    assert set(mme["duration"]) == {"short"}
    for _, row in mme.iterrows():
        options = list(row["options"])
        assert [o[:3] for o in options] == ["A. ", "B. ", "C. ", "D. "]
        assert row["answer"] in "ABCD"
        correct = options["ABCD".index(row["answer"])][3:]
        v = world[row["videoID"]]
        if row["task_type"] == "Counting Problem":
            assert correct == str(len(v["objects"]))
        elif row["task_type"] == "Attribute Perception":
            shape = row["question"].split("the ")[1].split(" have")[0]
            assert correct == next(o["colour"] for o in v["objects"] if o["shape"] == shape)
        else:
            assert correct == min(v["objects"], key=lambda o: o["first_frame"])["name"]


def test_baselines_recompute_and_leave_headroom(synth_world: Path, vstar, tvg, mme) -> None:
    b = json.loads((synth_world / "benchmarks/baselines.json").read_text())
    assert set(b) == {
        "vstar/V_STaR_test.json",
        "tvgbench/tvgbench.json",
        "videomme/videomme/test-00000-of-00001.parquet",
    }
    whole = sum(temporal_iou((0, it["frame_count"] / it["fps"]), it["timestamps"]) for it in vstar) / len(vstar)
    assert b["vstar/V_STaR_test.json"]["whole_video_tiou"] == pytest.approx(whole, abs=1e-4)
    for name in ("vstar/V_STaR_test.json", "tvgbench/tvgbench.json"):
        assert b[name]["whole_video_tiou"] < 0.5
        assert b[name]["whole_video_tiou"] <= b[name]["best_constant_tiou"] + 1e-9
    assert b["vstar/V_STaR_test.json"]["mean_box_viou"] < 0.3
    share = mme["answer"].value_counts().max() / len(mme)
    assert b["videomme/videomme/test-00000-of-00001.parquet"]["majority_option_accuracy"] == pytest.approx(share)


def test_temporal_baselines_table() -> None:
    spans, durations = [(0.0, 5.0), (5.0, 10.0)], [10.0, 10.0]
    b = temporal_baselines(spans, durations)
    assert b["whole_video_tiou"] == 0.5
    # one constant cannot fit both halves: 0.5 at best (e.g. the whole clip), a centred [0.25, 0.75] gets 1/3
    assert b["best_constant_tiou"] == 0.5
    # the same fraction of two clips of different lengths: a constant fraction fits both exactly
    b = temporal_baselines([(2.0, 4.0), (4.0, 8.0)], [10.0, 20.0])
    assert (b["whole_video_tiou"], b["best_constant_tiou"], b["best_constant_fraction"]) == (0.2, 1.0, [0.2, 0.4])
    assert temporal_baselines([], []) == {"items": 0}


def test_mean_box_and_majority_tables() -> None:
    items = [
        {"width": 100, "height": 100, "bboxes": [{"xmin": 0, "ymin": 0, "xmax": 10, "ymax": 10}]},
        {"width": 100, "height": 100, "bboxes": [{"xmin": 10, "ymin": 10, "xmax": 20, "ymax": 20}]},
    ]
    got = mean_box_viou(items)
    assert got["mean_box"] == [0.05, 0.05, 0.15, 0.15]
    expected = box_iou([5, 5, 15, 15], [0, 0, 10, 10])
    assert got["mean_box_viou"] == pytest.approx(expected, abs=1e-4)
    assert majority_option(["A", "B", "B", "C"]) == {
        "items": 4,
        "majority_option": "B",
        "majority_option_accuracy": 0.5,
    }
    assert math.isclose(majority_option(["D"])["majority_option_accuracy"], 1.0)

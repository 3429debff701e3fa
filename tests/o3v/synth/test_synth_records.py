"""o3v.synth records: six task types in upstream shapes, and every grounded claim matching the world's ground truth."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from o3v.geometry import temporal_iou
from o3v.grounded import parse, parse_times
from o3v.records import MCQ_TASKS, TASKS, Record, gt_option, gt_span, read_jsonl, read_records
from o3v.synth.tasks import build_drafts
from o3v.synth.world import make_spec, preset

TOL = 0.0005 + 1e-9  # boxes are rounded to 3 decimals


@pytest.fixture(scope="module")
def world(synth_world: Path) -> dict:
    data = json.loads((synth_world / "world.json").read_text())
    return {"videos": {v["video"]: v for v in data["videos"]}, "images": {i["image"]: i for i in data["images"]}}


@pytest.fixture(scope="module")
def sft(synth_world: Path) -> list[Record]:
    return read_records(synth_world / "stgr" / "STGR-SFT.json")


@pytest.fixture(scope="module")
def rl(synth_world: Path) -> list[Record]:
    return read_records(synth_world / "stgr" / "STGR-RL.json")


@pytest.fixture(scope="module")
def faulted(synth_world: Path) -> set[str]:
    return {row["id"] for row in read_jsonl(synth_world / "faults.jsonl")}


def _clean(records: list[Record], faulted: set[str]) -> list[Record]:
    return [r for r in records if r.id not in faulted]


def _gt_box(video: dict, name: str, time: float) -> list[float] | None:
    objs = {o["name"]: o for o in video["objects"]}
    if name not in objs:
        return None
    frame = round(time * video["fps"])
    assert abs(frame / video["fps"] - time) < 1e-9, f"{time} is not an exact frame time"
    return objs[name]["boxes"][frame]


def test_all_six_tasks_with_unique_ids_and_matching_rl(sft: list[Record], rl: list[Record]) -> None:
    assert {r.task for r in sft} == set(TASKS)
    assert len({r.id for r in sft}) == len(sft) == 24  # 4 training videos x 6 tasks
    assert [r.id for r in rl] == [r.id for r in sft]
    assert all(r.reasoning_process for r in sft)
    assert all(r.reasoning_process is None for r in rl)
    for s, r in zip(sft, rl):
        assert (s.task, s.question, s.options, s.media_path, s.key_items) == (
            r.task,
            r.question,
            r.options,
            r.media_path,
            r.key_items,
        )
        assert [k.to_dict() for k in s.key_frames] == [k.to_dict() for k in r.key_frames]


def test_media_paths_resolve(synth_world: Path, sft: list[Record]) -> None:
    for r in sft:
        assert (synth_world / r.media_path).is_file(), r.media_path
        if r.task == "visual QA":
            assert Image.open(synth_world / r.image_path).size == tuple(r.image_size) == (160, 120)
        else:
            assert r.video_path.startswith("videos/") and r.image_path is None


def test_answer_formats_sft_and_rl(sft: list[Record], rl: list[Record], faulted: set[str]) -> None:
    for s, r in zip(sft, rl):
        if s.task == "temporal QA":
            assert re.fullmatch(r"From <t>[\d.]+</t>s to <t>[\d.]+</t>s", s.answer)
            assert re.fullmatch(r"\[[\d.]+, [\d.]+\]", r.answer)
            assert gt_span(s) == gt_span(r)
        elif s.task == "temporal QA (MCQ)":
            assert re.fullmatch(r"From <t>[\d.]+</t>s to <t>[\d.]+</t>s\.\nCorrect Option: [A-D]", s.answer)
            assert re.fullmatch(r"[A-D]\n\[[\d.]+, [\d.]+\]", r.answer)
            assert gt_span(s) == gt_span(r) and gt_option(s) == gt_option(r)
        elif s.task == "General video QA MCQ":
            assert re.fullmatch("[A-D]", s.answer) and s.answer == r.answer
        elif s.task == "visual QA":
            assert re.fullmatch(r"<obj>[a-z ]+</obj><box>\[\d+,\d+,\d+,\d+\]</box>", s.answer) and s.answer == r.answer
        else:
            assert "<" not in s.answer and s.answer == r.answer
        if s.task in MCQ_TASKS:
            assert [o[:3] for o in s.options] == ["A. ", "B. ", "C. ", "D. "]
        else:
            assert s.options is None


def test_claims_and_key_items_match_ground_truth(sft: list[Record], world: dict, faulted: set[str]) -> None:
    checked = 0
    for r in _clean(sft, faulted):
        if r.task == "visual QA":
            img = world["images"][r.image_path]
            box = parse(f"<answer>{r.answer}</answer>").answer_boxes[0]
            name = re.match(r"<obj>(.+?)</obj>", r.answer).group(1)
            gt = next(o["box"] for o in img["objects"] if o["name"] == name)
            assert list(box) == [round(gt[0] * 160), round(gt[1] * 120), round(gt[2] * 160), round(gt[3] * 120)]
            continue
        video = world["videos"][r.video_path]
        times = {str(kf.idx): kf.time for kf in r.key_frames}
        for idx, objs in (r.key_items or {}).items():
            for name, boxes in objs.items():
                gt = _gt_box(video, name, times[idx])
                assert gt is not None, f"{r.id}: {name} not visible at key frame {idx}"
                assert np.allclose(boxes[0], gt, atol=TOL)
        claims = parse(f"<think>{r.reasoning_process}</think>").claims
        if r.task in ("temporal-spatial free-form QA", "General video QA MCQ", "General video QA Free-form"):
            assert claims, r.id
        for c in claims:
            gt = _gt_box(video, c.object, c.time)
            assert gt is not None and np.allclose(c.boxes[0], gt, atol=TOL), (r.id, c)
            # every claim is one annotated key-item box at a key frame of the same time
            idx = next(i for i, t in times.items() if t == c.time)
            assert list(c.boxes[0]) == r.key_items[idx][c.object][0]
            checked += 1
    assert checked >= 20


def test_temporal_answers_are_visible_spans(sft: list[Record], world: dict, faulted: set[str]) -> None:
    for r in _clean(sft, faulted):
        if r.task not in ("temporal QA", "temporal QA (MCQ)"):
            continue
        video = world["videos"][r.video_path]
        name = re.search(r"the (\w+ \w+) (?:visible|be seen)", r.question).group(1)
        span = gt_span(r)
        assert list(span) == next(o["span"] for o in video["objects"] if o["name"] == name)
        times = parse_times(r.reasoning_process)
        assert times and all(span[0] <= t <= span[1] for t in times)
        if r.task == "temporal QA (MCQ)":
            letter = gt_option(r)
            start, end = re.findall(r"<t>([\d.]+)</t>", r.answer)
            assert f"{letter}. From {start}s to {end}s" in r.options
            others = [o for o in r.options if not o.startswith(letter)]
            for o in others:
                s, e = (float(x) for x in re.findall(r"[\d.]+(?=s)", o))
                assert temporal_iou((s, e), span) < 0.3


def test_mcq_reasoning_ends_with_the_answer_letter(sft: list[Record], faulted: set[str]) -> None:
    for r in _clean(sft, faulted):
        if r.task in MCQ_TASKS:
            assert r.reasoning_process.endswith(f"so the answer is option {gt_option(r)}.")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_drafts_for_any_scene(seed: int) -> None:
    """Any scene yields the six records, with claims that parse and key frames at exact frame times."""
    spec = make_spec("vid_x", np.random.default_rng(seed), preset("classic"))
    drafts = build_drafts(spec, np.random.default_rng(seed + 1))
    assert [d.task for d in drafts] == list(TASKS)
    for d in drafts:
        sft, rl = d.records()
        assert sft.id == rl.id == d.id
        for kf in sft.key_frames:
            assert abs(kf.time * spec.fps - round(kf.time * spec.fps)) < 1e-9
        claims = parse(f"<think>{sft.reasoning_process}</think>").claims
        assert len(claims) == len(d.claims())

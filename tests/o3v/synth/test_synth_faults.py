"""o3v.synth faults: every label names a real record, and the faulted value differs from the truth as specified."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o3v.geometry import area_fraction, box_problem
from o3v.grounded import parse, parse_times
from o3v.records import Record, gt_option, gt_span, read_jsonl, read_records
from o3v.synth.faults import FAULTS, STAGES, applies, inject_faults
from o3v.synth.tasks import build_drafts
from o3v.synth.world import make_spec, preset


@pytest.fixture(scope="module")
def labels(synth_world: Path) -> list[dict]:
    return read_jsonl(synth_world / "faults.jsonl")


@pytest.fixture(scope="module")
def records(synth_world: Path) -> dict[str, tuple[Record, Record]]:
    sft = read_records(synth_world / "stgr" / "STGR-SFT.json")
    rl = read_records(synth_world / "stgr" / "STGR-RL.json")
    return {s.id: (s, r) for s, r in zip(sft, rl)}


@pytest.fixture(scope="module")
def world(synth_world: Path) -> dict:
    data = json.loads((synth_world / "world.json").read_text())
    return {v["video"]: v for v in data["videos"]}


def test_labels_reference_real_records_one_fault_each(labels: list[dict], records: dict) -> None:
    assert len(labels) == round(0.2 * len(records)) == 5
    assert len({row["id"] for row in labels}) == len(labels)
    assert {row["fault"] for row in labels} == set(FAULTS)  # five faults, one of each type
    for row in labels:
        assert set(row) == {"id", "fault", "stage", "detail"}
        assert row["id"] in records
        assert row["stage"] == STAGES[row["fault"]]


def _claims(rec: Record):
    return parse(f"<think>{rec.reasoning_process}</think>").claims


def _check_box_fault(row: dict, sft: Record, rl: Record) -> list[float]:
    d = row["detail"]
    if d["field"] == "answer":  # visual QA: pixel box in the answer and the reasoning
        for rec in (sft, rl):
            assert list(parse(f"<answer>{rec.answer}</answer>").answer_boxes[0]) == d["faulted"]
        assert f"<box>[{','.join(str(v) for v in d['faulted'])}]</box>" in sft.reasoning_process
        return d["faulted"]
    for rec in (sft, rl):
        assert rec.key_items[d["key_frame"]][d["object"]][0] == d["faulted"]
    time = next(kf.time for kf in sft.key_frames if str(kf.idx) == d["key_frame"])
    claimed = [list(c.boxes[0]) for c in _claims(sft) if c.object == d["object"] and c.time == time]
    assert claimed == [d["faulted"]] * len(claimed) and claimed
    return d["faulted"]


def test_box_faults(labels: list[dict], records: dict) -> None:
    for row in labels:
        sft, rl = records[row["id"]]
        d = row["detail"]
        if row["fault"] == "oversized_box":
            box = _check_box_fault(row, sft, rl)
            w, h = sft.image_size if d["field"] == "answer" else (1, 1)
            assert 0.85 - 0.01 <= area_fraction(box, w, h) <= 1.0
            assert area_fraction(d["original"], w, h) < 0.3
        elif row["fault"] == "malformed_box":
            box = _check_box_fault(row, sft, rl)
            w, h = sft.image_size if d["field"] == "answer" else (1, 1)
            assert box_problem(box, normalized=d["field"] != "answer", width=w, height=h) == d["kind"]
            assert box_problem(d["original"], normalized=d["field"] != "answer", width=w, height=h) is None


def test_wrong_category(labels: list[dict], records: dict, world: dict) -> None:
    row = next(r for r in labels if r["fault"] == "wrong_category")
    sft, rl = records[row["id"]]
    d = row["detail"]
    present = {o["name"] for o in world[sft.video_path]["objects"]}
    assert d["original"] in present and d["faulted"] not in present
    for rec in (sft, rl):
        names = {n for objs in rec.key_items.values() for n in objs}
        assert d["faulted"] in names and d["original"] not in names
    claimed = {c.object for c in _claims(sft)}
    assert d["faulted"] in claimed and d["original"] not in claimed


def test_shifted_time(labels: list[dict], records: dict, world: dict) -> None:
    row = next(r for r in labels if r["fault"] == "shifted_time")
    sft, rl = records[row["id"]]
    d = row["detail"]
    duration = world[sft.video_path]["num_frames"] / world[sft.video_path]["fps"]
    assert 2.0 <= abs(d["faulted"] - d["original"]) <= 4.0 and 0 <= d["faulted"] < duration
    for rec in (sft, rl):
        assert next(kf.time for kf in rec.key_frames if str(kf.idx) == d["key_frame"]) == d["faulted"]
    key_times = [kf.time for kf in sft.key_frames]
    stranded = [c for c in _claims(sft) if c.time == d["original"]]
    assert stranded, "the claims keep the original time"
    assert all(min(abs(c.time - t) for t in key_times) > 1.0 for c in stranded)


def test_contradicting_reasoning(labels: list[dict], records: dict) -> None:
    row = next(r for r in labels if r["fault"] == "contradicting_reasoning")
    sft, rl = records[row["id"]]
    d = row["detail"]
    if sft.task == "General video QA MCQ":
        assert gt_option(sft) == gt_option(rl) == d["faulted"] != d["original"]
        assert sft.reasoning_process.endswith(f"so the answer is option {d['original']}.")
    else:
        span = gt_span(sft)
        assert list(span) == list(gt_span(rl)) == d["faulted"] != d["original"]
        times = parse_times(sft.reasoning_process)
        assert all(not span[0] <= t <= span[1] for t in times)


def test_unfaulted_records_untouched_by_fault_values(labels: list[dict], records: dict) -> None:
    faulted = {row["id"] for row in labels}
    for rid, (sft, _) in records.items():
        if rid in faulted or not sft.key_items:
            continue
        for objs in sft.key_items.values():
            for boxes in objs.values():
                assert box_problem(boxes[0]) is None and area_fraction(boxes[0]) < 0.5


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rate=st.floats(0.0, 1.0))
def test_injection_for_any_scene_and_rate(seed: int, rate: float) -> None:
    """Faults never exceed the target, hit distinct records, apply to them, and spread over types."""
    drafts = []
    for i in range(4):
        spec = make_spec(f"vid_{i:03d}", np.random.default_rng([seed, i]), preset("classic"))
        drafts += build_drafts(spec, np.random.default_rng([seed, i, 1]))
    before = {d.id: d.records()[0].to_dict() for d in drafts}
    applicable = {(d.id, f) for d in drafts for f in FAULTS if applies(d, f)}
    labels = inject_faults(drafts, rate, np.random.default_rng(seed))
    target = round(rate * len(drafts))
    assert len(labels) <= target and len({row["id"] for row in labels}) == len(labels)
    counts = {f: sum(row["fault"] == f for row in labels) for f in FAULTS}
    untouched = [d for d in drafts if d.id not in {row["id"] for row in labels}]
    for f, n in counts.items():  # types are taken in turn: one falls behind only when it has run out of records
        if n < max(counts.values()) - 1:
            assert not any(applies(d, f) for d in untouched), (f, counts)
    by_id = {d.id: d for d in drafts}
    for row in labels:
        after = by_id[row["id"]].records()[0].to_dict()
        assert after != before[row["id"]]
    assert all(d.records()[0].to_dict() == before[d.id] for d in untouched)
    assert all((row["id"], row["fault"]) in applicable for row in labels)

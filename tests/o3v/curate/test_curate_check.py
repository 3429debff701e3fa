"""Consistency rules on hand-written records (literal tables + properties) and the check stage's bookkeeping."""

from __future__ import annotations

import json

import pytest
from curate_builders import clean_records, mcq, modified, spatial, temporal, temporal_mcq, write_dataset
from hypothesis import given
from hypothesis import strategies as st

from o3v.curate.check import check_records
from o3v.curate.config import load_config
from o3v.curate.consistency import (
    consistency_problems,
    find_duplicates,
    lettered_options,
    normalize_question,
    stated_option,
    tag_problems,
)
from o3v.records import record_from_dict

CFG = load_config()


def _reasons(raw, cfg=CFG.check):
    return [p.reason for p in consistency_problems(record_from_dict(raw), cfg)]


def test_clean_records_are_consistent():
    for raw in clean_records():
        assert _reasons(raw) == [], raw["task"]


def _shift(rec, frame, dt):
    rec["key_frames"][frame]["time"] += dt
    return rec


@pytest.mark.parametrize(
    "raw, expected",
    [
        # shifted_time: the key frame moved 3 s, the claim still says 4.5 s
        (_shift(spatial(), 1, 3.0), ["claim_time_unmatched"]),
        (_shift(spatial(), 1, 0.9), []),  # within the 1 s tolerance
        (modified(spatial(), key_items={"0": {"blue square": [[0.1, 0.2, 0.3, 0.4]]},
                                        "1": {"cat": [[0.5, 0.5, 0.6, 0.6]]}}), ["claim_object_unmatched"]),
        (modified(spatial(), key_items={"0": {"blue square": [[0.1, 0.2, 0.3, 0.4]]},
                                        "1": {"red circle": [[0.7, 0.7, 0.8, 0.8]]}}), ["claim_box_mismatch"]),
        # contradicting_reasoning, temporal: answer span disjoint from every cited time
        (modified(temporal(), answer="From <t>6</t>s to <t>8</t>s"), ["answer_outside_evidence"]),
        (modified(temporal(), answer="From <t>3</t>s to <t>4</t>s"), ["answer_outside_evidence"]),
        (modified(temporal(), answer="sometime"), ["answer_unparseable"]),
        (modified(temporal_mcq(), answer="From <t>6</t>s to <t>9</t>s.\nCorrect Option: B"),
         ["answer_outside_evidence", "option_span_mismatch"]),
        (modified(temporal_mcq(), answer="From <t>2</t>s to <t>5.5</t>s.\nCorrect Option: E"),
         ["option_not_in_options", "answer_contradicts_reasoning"]),
        # contradicting_reasoning, MCQ: letter differs from "so the answer is option X."
        (modified(mcq(), answer="B"), ["answer_contradicts_reasoning"]),
        (modified(mcq(), answer="Z"), ["option_not_in_options", "answer_contradicts_reasoning"]),
        (modified(mcq(), reasoning_process="The <obj>red circle</obj> comes first, so the answer is option A."),
         ["malformed_claim"]),
        (modified(mcq(), reasoning_process="<obj>red circle</obj><box>[0.5,0.5,0.6,0.6]</box>at<t>1</t>s <t>2"),
         ["unbalanced_tags"]),
        (modified(temporal(), answer="From <t>2</t>s to <t>5.5</t>s</answer>"), ["unbalanced_tags"]),
    ],
)  # fmt: skip
def test_consistency_table(raw, expected):
    assert _reasons(raw) == expected


def test_claim_without_key_frames_is_not_matched_against_frames():
    raw = mcq()  # General QA: claims but no key frames (upstream shape)
    assert raw.get("key_frames") is None and _reasons(raw) == []


def test_tolerances_come_from_config():
    raw = _shift(spatial(), 1, 1.5)
    assert _reasons(raw) == ["claim_time_unmatched"]
    assert _reasons(raw, load_config({"check": {"time_tolerance_s": 2.0}}).check) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("... so the answer is option B.", "B"),
        ("The answer is C.", "C"),
        ("so the answer is (D)", "D"),
        ("first A, then the answer is option B. Wait, the answer is option C.", "C"),
        ("the answer is a red circle.", None),
        ("the answer is A red circle", None),
        (None, None),
    ],
)
def test_stated_option(text, expected):
    assert stated_option(text) == expected


def test_lettered_options_and_normalize():
    assert lettered_options(["A. x", "(B) y", "no letter", "C: z"]) == {"A": "x", "B": "y", "C": "z"}
    assert normalize_question("When is the  RED circle visible?!") == "when is the red circle visible"


@pytest.mark.parametrize(
    "text, ok",
    [
        ("<obj>a</obj><box>[1,2,3,4]</box>at<t>1</t>s", True),
        ("plain", True),
        ("<obj>a<obj>b</obj>", False),
        ("</t>", False),
        ("<box>[1,2,3,4]", False),
        ("<think>nested</think>", False),
        ("<obj>a<t>1</t></obj>", False),  # the grounded syntax never nests tags
        ("<obj>a</obj><box>[1,2,3,4]</box><box>[1,2,3,5]</box>at<t>1</t>s <t>2</t>s", True),
    ],
)
def test_tag_balance(text, ok):
    assert (tag_problems(text, "reasoning_process") == []) is ok


@given(st.text(alphabet="<>/obxtjk ", max_size=60))
def test_tag_balance_never_raises(text):
    assert isinstance(tag_problems(text, "f"), list)


def test_near_duplicates_per_video_and_task():
    recs = [record_from_dict(r) for r in (
        temporal("a"),
        modified(temporal("b"), question="When is the green triangle visible ?"),  # same question, punctuation
        modified(temporal("c"), question="When is the red circle visible?"),  # different object: kept
        temporal("d", video="videos/other.mp4"),  # same question, other video: kept
        modified(temporal_mcq("e"), question="When is the green triangle visible?"),  # other task: kept
        modified(temporal("f"), question="When is the green triangles visible?"),  # another content word: kept
        modified(temporal("g"), question="When is the green triangle visible in this video?"),  # stopwords only
    )]  # fmt: skip
    dups = find_duplicates(recs, 0.8)
    assert sorted(dups) == [1, 6] and dups[1] == (0, 1.0) and dups[6][0] == 0


@pytest.mark.parametrize(
    "a, b",
    [
        ("What does the yellow man do while it is visible?", "What does the yellow woman do while it is visible?"),
        ("What happens to the red star after the blue circle appears?",
         "What happens to the blue circle after the red star appears?"),
        ("How many objects appear in the first 3 seconds?", "How many objects appear in the first 4 seconds?"),
    ],
)  # fmt: skip
def test_similar_text_about_different_things_is_not_a_duplicate(a, b):
    recs = [
        record_from_dict(modified(temporal("a"), question=a)),
        record_from_dict(modified(temporal("b"), question=b)),
    ]
    assert find_duplicates(recs, CFG.check.near_duplicate_similarity) == {}


def test_check_stage_counts_and_rejects(tmp_path):
    rows = clean_records() + [
        modified(mcq("flip"), answer="B"),
        modified(temporal("dup"), question="when is the green triangle visible", video_path="videos/v1.mp4"),
        {"id": "typed", "task": "temporal QA", "question": "q", "answer": 5, "video_path": "v.mp4"},
    ]
    ds = write_dataset(tmp_path / "in", rows, raw_lines=["[1, 2"])
    stats = check_records(ds, tmp_path / "out")
    assert (stats["in"], stats["kept"], stats["rejected"]) == (9, 5, 4)
    assert stats["by_reason"] == {"answer_contradicts_reasoning": 1, "malformed_json": 1, "near_duplicate_question": 1,
                                  "schema": 1}  # fmt: skip
    rejects = {r["reason"]: r for r in map(json.loads, (tmp_path / "out" / "rejects.jsonl").read_text().splitlines())}
    assert rejects["near_duplicate_question"]["values"]["duplicate_of"] == "b"
    assert rejects["schema"]["field"] == "answer" and rejects["schema"]["id"] == "typed"
    assert rejects["answer_contradicts_reasoning"]["values"] == {"answer": "B", "reasoning": "A"}

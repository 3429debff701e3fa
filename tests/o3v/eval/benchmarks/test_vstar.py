"""V-STaR adapter: official parsing tables, scoring a hand-computed official-format fixture, prompts, loading."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o3v.eval.benchmarks import vstar
from o3v.eval.benchmarks.base import BenchmarkError, Media


def item(vid, domain, fps, frame_count, w, h, ts, bboxes):
    return {
        "vid": vid,
        "domain": domain,
        "fps": fps,
        "frame_count": frame_count,
        "width": w,
        "height": h,
        "question": f"what is in {vid}?",
        "chain": "<think>..</think>",
        "object": "thing",
        "answer": f"thing {vid}",
        "temporal_question": "when?",
        "timestamps": ts,
        "spatial_question": "where?",
        "spatial_question_2": "where 2?",
        "bboxes": [
            {"timestamp": t, "frame_index": int(t * fps), "xmin": b[0], "ymin": b[1], "xmax": b[2], "ymax": b[3]}
            for t, b in bboxes
        ],
    }


ANNOTATIONS = [
    item("v0", "Sports", 10, 300, 200, 100, [2.0, 6.0], [(3, [0, 0, 100, 50]), (4, [100, 50, 200, 100])]),
    item("v1", "Cooking", 25, 2500, 100, 100, [10, 20], [(15, [10, 10, 30, 30])]),
    item("v2", "Sports", 1, 200, 100, 100, [0, 50], [(10, [0, 0, 10, 10])]),
]


def results():
    """Official result items with hand-chosen answers (expected values worked out in the test)."""
    r0 = dict(
        ANNOTATIONS[0],
        answer_vqa="a dog",
        judge_score=3,
        answer_temporal=[4.0, 8.0],
        answer_spatial={"3": [0, 0, 100, 50], "4": [[0, 0, 10, 10], [100, 50, 200, 100]]},
        answer_temporal_2=[],
        answer_temporal_pre_2="<answer>From <t>2</t>s to <t>6</t>s</answer>",
        answer_spatial_2={"3.0": [0, 0, 100, 50]},
    )  # "3.0" never matches the GT key "3"
    r1 = dict(
        ANNOTATIONS[1],
        answer_vqa="a cat",
        judge_score=1,
        answer_temporal="[10, 15]",
        answer_spatial=[[10, 10, 30, 30]],  # a list (repair path) scores 0
        answer_temporal_2=[0, 100],
        answer_spatial_2={"15": [20, 20, 40, 40]},
    )
    r2 = dict(
        ANNOTATIONS[2],
        answer_vqa="",
        answer_temporal=[0, 50],
        answer_spatial={"10": [0, 0, 10, 10]},
        answer_temporal_2=[0, 50],
        answer_spatial_2={},
    )
    return [r0, r1, r2]


@pytest.fixture
def annotations(tmp_path):
    path = tmp_path / "V_STaR_test.json"
    path.write_text(json.dumps(ANNOTATIONS))
    return vstar.load(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>x</think>\n<answer>From <t>3.2</t>s to <t>7.5</t>s</answer>", [3.2, 7.5]),
        ("From 1:05 to 1:10", [65.0, 70.0]),
        ("From 3.2 to 7.5 (about 4.3)", []),  # three numbers: the official rule scores 0
        ("from 3.2s to 7.5s", [3.0, 7.0]),  # upstream quirk: `\\b` after "3.2" fails before "s", decimals drop
        ("The event happens at 5s", []),
        ("", []),
        ("<answer>3 - 9</answer> then 1 2 3", [3.0, 9.0]),  # only the answer block counts
        ("3.5s-7s", []),  # same quirk: only "3" is found
        ("From 9 to 4", [9.0, 4.0]),  # reversed ranges are not fixed (they score 0)
    ],
)
def test_parse_when_official_table(text, expected):
    assert vstar.parse_when(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<answer>{"3": [1,2,3,4]}</answer>', {"3": [1, 2, 3, 4]}),
        ("```json\n{'3': [1, 2, 3, 4]}\n```", {"3": [1, 2, 3, 4]}),
        ('[{"3": [1,2,3,4]}, {"4": [5,6,7,8]}]', {"3": [1, 2, 3, 4], "4": [5, 6, 7, 8]}),
        ('[["3", [1,2,3,4]]]', {"3": [1, 2, 3, 4]}),
        ("[1, 2, 3, 4]", [1, 2, 3, 4]),  # a bare box: dict conversion fails, the repair path keeps a list
        ('{"3": [1,2,3,4]', [1, 2, 3, 4]),  # no closing brace: the first [...] span is what matches
        ("no boxes here", None),
        ('{"3": [1,2,3,4]}} trailing', None),
        ('{"3": [1,2,3,4], "4": [5,6,7,8]', None),  # first [ to last ] spans two boxes: invalid
    ],
)
def test_parse_where_official_table(text, expected):
    assert vstar.parse_where(text) == expected


def test_where_answers_are_rescaled_to_original_pixels():
    parsed = {"3": [10, 10, 20, 20], "4": [[0, 0, 50, 25], [10, 10, 20, 20]], "5": "garbage"}
    out = vstar.to_original(parsed, (100, 50), (200, 100))
    assert out == {"3": [20, 20, 40, 40], "4": [[0, 0, 100, 50], [20, 20, 40, 40]], "5": "garbage"}
    assert vstar.to_original([1, 2, 3, 4], (1, 1), (2, 2)) == [1, 2, 3, 4]  # lists stay lists (they score 0)


def test_score_matches_hand_computed_official_values(annotations):
    m = vstar.score(annotations.samples, results())
    # Item 2 has an empty answer_vqa: skipped, but it stays in the accuracy denominator (3).
    assert m["n"] == 3 and m["n_judged"] == 2 and m["skipped_empty_vqa"] == 1
    assert m["acc"] == pytest.approx(1 / 3)
    assert m["tiou_chain1"] == pytest.approx((1 / 3 + 0.5) / 2)  # [4,8] vs [2,6]; "[10, 15]" vs [10,20]
    assert m["tiou_chain2"] == pytest.approx((1.0 + 0.1) / 2)  # re-parsed [2,6]; [0,100] vs [10,20]
    assert m["viou_chain1"] == pytest.approx((1.0 + 0.0) / 2)  # max over boxes under a key; a list scores 0
    assert m["viou_chain2"] == pytest.approx((0.0 + 1 / 7) / 2)  # "3.0" misses "3"; IoU 100/700
    am1 = (1 / 3 + 5 / 12 + 0.5) / 3
    am2 = (1 / 3 + 0.55 + 1 / 14) / 3
    assert m["am_chain1"] == pytest.approx(am1) and m["am_chain2"] == pytest.approx(am2)
    assert m["mam"] == pytest.approx((am1 + am2) / 2)
    assert set(vstar.KEYS) <= set(m)
    assert m["recall_chain1"] == {"r@0.3": 1.0, "r@0.5": 0.5, "r@0.7": 0.0}
    assert m["combined"]["vqa_temp_chain1"] == pytest.approx(1 / 3)
    assert m["by_duration"]["Short"]["acc"] == 1.0 and m["by_duration"]["Short"]["lgm_chain1"] is None
    assert m["by_duration"]["Medium"]["acc"] == 0.0 and "Long" not in m["by_duration"]
    assert m["by_domain"]["Sports"]["n"] == 1
    assert not m["judge"]["official"] and "NOT the official judge" in m["judge"]["label"]


def test_rating_follows_int_reply_and_threshold_two(annotations):
    rows = results()
    rows[1]["judge_score"] = -1  # an unparsable judge reply: counts 0, never correct
    m = vstar.score(annotations.samples, rows)
    assert m["acc"] == pytest.approx(1 / 3) and m["avg_rating_all"] == pytest.approx(1.5)
    assert vstar.official_rating(" 2\n") == 2 and vstar.official_rating("2/3") == -1


def test_missing_judge_score_is_an_error_naming_the_row(annotations):
    rows = results()
    del rows[1]["judge_score"]
    with pytest.raises(BenchmarkError, match=r"row 1.*judge_score"):
        vstar.score(annotations.samples, rows, file="P.json")


def test_row_that_does_not_match_its_annotation_is_rejected(annotations):
    rows = results()
    rows[0]["vid"] = "other"
    with pytest.raises(BenchmarkError, match="does not match annotation 0"):
        vstar.score(annotations.samples, rows)


def test_load_rejects_bad_rows_with_their_field(tmp_path):
    bad = [
        dict(ANNOTATIONS[0]),
        dict(ANNOTATIONS[1], timestamps=[5]),
        {k: v for k, v in ANNOTATIONS[2].items() if k != "fps"},
    ]
    bad.append(dict(ANNOTATIONS[0], bboxes=[{"3_30": {"xmin": 0}}]))  # the pre-July-2025 dict format
    path = tmp_path / "a.json"
    path.write_text(json.dumps(bad))
    loaded = vstar.load(path)
    assert len(loaded.samples) == 1
    assert [(r.index, r.field) for r in loaded.rejects] == [(1, "timestamps"), (2, "fps"), (3, "bboxes[0]")]
    with pytest.raises(BenchmarkError, match=r"a.json, row 1, field 'timestamps'"):
        loaded.strict()


def test_five_queries_with_gt_boxes_in_model_input_pixels(annotations):
    sample = annotations.samples[0]
    media = Media(times=[0.0, 1.0], duration=30.0, orig_size=(200, 100), input_size=(100, 50))
    qs = vstar.queries(sample, media)
    assert [q.key for q in qs] == ["vqa", "temporal", "spatial", "spatial_2", "temporal_2"]
    assert [q.task for q in qs] == [
        "temporal-spatial free-form QA",
        "temporal QA",
        "temporal-spatial free-form QA",
        "temporal-spatial free-form QA",
        "temporal QA",
    ]
    assert "[2, 3, 4, 5, 6]" in qs[2].question  # ceil(2.0)..floor(6.0)
    assert "You only need to output 2 bbox(es)" in qs[3].question
    assert "[[0, 0, 50, 25], [50, 25, 100, 50]]" in qs[4].question and "100x50" in qs[4].question


def test_predict_writes_the_official_result_item(annotations):
    sample = annotations.samples[0]
    media = Media(times=[0.0], duration=30.0, orig_size=(200, 100), input_size=(100, 50))
    outputs = {
        "vqa": "<think>t</think>\n<answer>a dog</answer>",
        "temporal": "<answer>From <t>2</t>s to <t>6</t>s</answer>",
        "spatial": '<answer>{"3": [0, 0, 50, 25], "4": [50, 25, 100, 50]}</answer>',
        "spatial_2": "<answer>nothing</answer>",
        "temporal_2": "<answer>no idea</answer>",
    }
    row = vstar.predict(sample, outputs, media)
    assert row["answer_vqa"] == "a dog" and row["answer_temporal"] == [2.0, 6.0]
    assert row["answer_spatial"] == {"3": [0, 0, 100, 50], "4": [100, 50, 200, 100]}  # original pixels
    assert row["answer_spatial_2"] is None and row["answer_temporal_2"] == []
    assert row["vid"] == "v0" and row["index"] == 0 and row["input_shape"] == [100, 50]
    row["judge_score"] = 3
    m = vstar.score([sample], [row])
    assert m["tiou_chain1"] == 1.0 and m["viou_chain1"] == 1.0 and m["acc"] == 1.0


def test_baselines_constant_rows(annotations):
    b = vstar.baselines(annotations.samples)
    assert b["whole_video_span"]["tiou"] == pytest.approx((4 / 30 + 10 / 100 + 50 / 200) / 3)
    assert b["best_constant_span"]["tiou"] >= b["whole_video_span"]["tiou"]
    assert 0 <= b["mean_box"]["viou"] <= 1 and 0 <= b["full_frame_box"]["viou"] <= 1


def test_constant_answer_is_the_most_frequent_one_and_enters_the_constant_mam(tmp_path):
    # Two of three items share an answer up to case and punctuation: a constant that says it gets 2/3 right.
    rows = [dict(a, answer=ans) for a, ans in zip(ANNOTATIONS, ["It is a circle.", "it is a circle", "A star"])]
    path = tmp_path / "V_STaR_test.json"
    path.write_text(json.dumps(rows))
    b = vstar.baselines(vstar.load(path).samples)
    assert b["best_constant_answer"] == {"answer": "It is a circle.", "acc": pytest.approx(2 / 3)}
    box = max(b["mean_box"]["viou"], b["full_frame_box"]["viou"])
    parts = (2 / 3, b["best_constant_span"]["tiou"], box)
    assert b["constant_mam"]["mam"] == pytest.approx(vstar.am(*parts))
    assert b["constant_mam"]["mlgm"] == pytest.approx(vstar.lgm(*parts))


def test_constant_answer_of_distinct_answers_matches_one_item(annotations):
    assert vstar.baselines(annotations.samples)["best_constant_answer"]["acc"] == pytest.approx(1 / 3)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("{}[]\"':,0123456789. <>/answrxyz\n`json")), max_size=80))
def test_official_parsers_never_raise_on_model_output(text):
    when = vstar.parse_when(text)
    assert when == [] or len(when) == 2
    assert vstar.parse_where(text) is None or isinstance(vstar.parse_where(text), dict | list)

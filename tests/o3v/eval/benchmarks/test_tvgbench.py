"""TVGBench: Time-R1's extractor, the strict `>` recall, and o3v's span rewritten into the benchmark's convention."""

import json

import pytest

from o3v.eval.benchmarks import tvgbench
from o3v.eval.benchmarks.base import BenchmarkError, Media

ITEMS = [
    {
        "path": "a.mp4",
        "question": "the dog jumps",
        "answer": "2.0-6.0",
        "duration": 10.0,
        "qsemtype": "Human Pose",
        "source": "charades",
    },
    {
        "path": "b.mp4",
        "question": "a cup falls",
        "answer": "0-10",
        "duration": 20.0,
        "qsemtype": "Object Transition",
        "source": "tacos",
    },
    {
        "path": "c.mp4",
        "question": "lights go out",
        "answer": "5-15",
        "duration": 20.0,
        "qsemtype": "Human Pose",
        "source": "tacos",
    },
]


@pytest.fixture
def samples(tmp_path):
    path = tmp_path / "tvgbench.json"
    path.write_text(json.dumps(ITEMS))
    return tvgbench.load(path).strict()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.54 to 17.83", [12.54, 17.83]),
        ("between 3 and 9 seconds", [3.0, 9.0]),
        ("first 1 to 2, then 3.5 to 7", [3.5, 7.0]),  # the last match wins
        ("From 12.5s to 17.8s", None),  # the regex wants a space right after the number (benchmarks.md §6)
        ("From <t>3</t>s to <t>7</t>s", None),
        ("", None),
    ],
)
def test_time_r1_extractor(text, expected):
    assert tvgbench.extract_span(text) == expected


def test_recall_is_strict_and_missing_scores_zero(samples):
    rows = [
        {"index": 0, "prediction": "2.0 to 4.0"},  # IoU 0.5 exactly: not > 0.5
        {"index": 1, "prediction": "garbage"},
    ]  # sample 2 has no row: missing, IoU 0
    m = tvgbench.score(samples, rows)
    assert m["miou"] == pytest.approx(0.5 / 3)
    assert m["r@0.3"] == pytest.approx(1 / 3) and m["r@0.5"] == 0.0
    assert m["unparsable"] == pytest.approx(1 / 3) and m["missing"] == pytest.approx(1 / 3)
    assert m["by_qsemtype"]["Human Pose"] == {"mean": 0.25, "n": 2}


def test_predict_rewrites_o3v_span_for_the_official_extractor(samples):
    media = Media(times=[0.0], duration=10.0, orig_size=(64, 64), input_size=(56, 56))
    row = tvgbench.predict(
        samples[0], {"temporal": "<think>x</think><answer>From <t>2</t>s to <t>6.5</t>s</answer>"}, media
    )
    assert row == {"index": 0, "prediction": "2 to 6.5", "raw": row["raw"]}
    assert tvgbench.score(samples[:1], [row])["miou"] == pytest.approx(4 / 4.5)


def test_row_for_unknown_index_is_an_error(samples):
    with pytest.raises(BenchmarkError, match="row 0"):
        tvgbench.score(samples, [{"index": 7, "prediction": "1 to 2"}], file="p.jsonl")


def test_bad_answer_becomes_a_reject(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps([ITEMS[0], dict(ITEMS[1], answer="soon")]))
    loaded = tvgbench.load(path)
    assert len(loaded.samples) == 1 and loaded.rejects[0].field == "answer"


def test_baselines(samples):
    b = tvgbench.baselines(samples)
    assert b["whole_video_span"]["miou"] == pytest.approx((0.4 + 0.5 + 0.5) / 3)
    assert b["best_constant_span"]["miou"] >= b["whole_video_span"]["miou"]

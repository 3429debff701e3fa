"""MCQ benchmarks: letter parsing (no "A" fallback), VideoMME parquet, WorldSense TSV, VideoMMMU open answers."""

import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from o3v.eval.benchmarks import mcq, videomme, videommmu, worldsense

OPTS = ["A. red", "B. blue", "C. green", "D. yellow"]


@pytest.mark.parametrize(
    ("text", "strict", "mmmu"),
    [
        ("<think>...</think>\n<answer>B</answer>", "B", "B"),
        ("<answer> C </answer>", "C", "C"),
        ("<answer>B.</answer>", None, "B"),
        ("<answer>(D)</answer>", None, "D"),
        ("<answer>E</answer>", None, None),  # not an option
        ("The answer is B", None, "B"),  # no answer block: strict is unparsable
        ("I am not sure", None, None),  # no letter: unparsable, never "A"
        ("Between A. and (C), I pick (C)", None, "C"),  # bracketed form, last occurrence
        ("the colour of the square in the video is clearly blue here", None, "B"),  # option text, > 5 words
        ("blue", None, None),  # option text only used for long responses
        ("", None, None),
    ],
)
def test_letter_parsing_table(text, strict, mmmu):
    assert mcq.parse_letter(text, OPTS, "strict") == strict
    assert mcq.parse_letter(text, OPTS, "mmmu") == mmmu


def test_option_lines_prefix_plain_options():
    assert mcq.option_lines(["x", "y"]) == ["A. x", "B. y"]
    assert mcq.option_texts(OPTS) == ["red", "blue", "green", "yellow"]


def videomme_file(tmp_path):
    rows = [
        {
            "videoID": "v1",
            "question_id": "001-1",
            "duration": "short",
            "domain": "Sports",
            "sub_category": "x",
            "task_type": "Counting",
            "question": "How many?",
            "options": ["A. 1", "B. 2", "C. 3", "D. 4"],
            "answer": "B",
        },
        {
            "videoID": "v2",
            "question_id": "002-1",
            "duration": "long",
            "domain": "News",
            "sub_category": "y",
            "task_type": "OCR",
            "question": "What text?",
            "options": ["A. a", "B. b", "C. c", "D. d"],
            "answer": "A",
        },
        {
            "videoID": "v3",
            "question_id": "003-1",
            "duration": "long",
            "domain": "News",
            "sub_category": "y",
            "task_type": "OCR",
            "question": "Which?",
            "options": ["A. a", "B. b", "C. c", "D. d"],
            "answer": "Z",
        },
    ]
    path = tmp_path / "videomme" / "test-00000-of-00001.parquet"
    path.parent.mkdir()
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_videomme_parquet_scoring_counts_unparsable_as_wrong(tmp_path):
    loaded = videomme.load(videomme_file(tmp_path))
    assert [s.id for s in loaded.samples] == ["001-1", "002-1"] and loaded.rejects[0].field == "answer"
    assert loaded.samples[0].video == "v1.mp4" and loaded.samples[0].raw["options"][1] == "B. 2"
    rows = [
        {"question_id": "001-1", "prediction": "<answer>B</answer>"},
        {"question_id": "002-1", "prediction": "<answer>I cannot tell</answer>"},
    ]
    m = videomme.score(loaded.samples, rows)
    assert m["accuracy"] == 0.5 and m["unparsable"] == 0.5 and m["missing"] == 0.0
    assert m["by_duration"] == {"long": {"mean": 0.0, "n": 1}, "short": {"mean": 1.0, "n": 1}}
    assert videomme.baselines(loaded.samples)["majority_option"]["accuracy"] == 0.5


def test_vote_letter_wins_over_the_parsed_text(tmp_path):
    loaded = videomme.load(videomme_file(tmp_path))
    rows = [{"question_id": "001-1", "prediction": "<answer>A</answer>", "vote": {"letter": "B"}}]
    m = videomme.score(loaded.samples, rows)
    assert m["accuracy"] == 0.5 and m["missing"] == 0.5


def test_worldsense_tsv_uses_mmmu_parsing(tmp_path):
    path = tmp_path / "WorldSense.tsv"
    frame = pd.DataFrame(
        [
            {
                "index": 10,
                "video": "w1",
                "question": "Who?",
                "candidates": str(["A. a man", "B. a dog"]),
                "answer": "B",
                "domain": "d",
                "task_domain": "Recognition",
                "duration": "<1min",
                "task_type": "t",
            },
            {
                "index": 11,
                "video": "w2.mp4",
                "question": "What?",
                "candidates": str(["A. x", "B. y"]),
                "answer": "A",
                "domain": "d",
                "task_domain": "Reasoning",
                "duration": "<1min",
                "task_type": "t",
            },
        ]
    )
    frame.to_csv(path, sep="\t", index=False)
    samples = worldsense.load(path).strict()
    assert [s.video for s in samples] == ["w1.mp4", "w2.mp4"]
    rows = [
        {"index": 10, "prediction": "<answer>(B) a dog</answer>"},
        {"index": 11, "prediction": "<answer>?</answer>"},
    ]
    m = worldsense.score(samples, rows)
    assert m["accuracy"] == 0.5 and m["by_task_domain"]["Recognition"]["mean"] == 1.0


@pytest.mark.parametrize(
    ("golds", "response", "correct"),
    [
        (["42"], "The answer is 42.", True),
        (["42"], "so it is 42.0", True),
        (["3.14159"], "approximately 3.14", True),  # numbers compare rounded to 2 decimals
        (["paris"], "I think the capital is Paris", True),
        (["7"], "8", False),
        (["1,000"], "there are 1000 people", True),
        (["a"], "banana", False),  # single letters are padded so they do not match inside words
    ],
)
def test_mmmu_open_answer_rules(golds, response, correct):
    from o3v.metrics import compute

    res = compute("open_answer", predictions=[response], references=[json.dumps(golds)])
    assert bool(res["correct"][0]) is correct


def test_videommmu_subsets_mcq_and_open(tmp_path):
    for subset, rows in {
        "Perception": [
            {
                "id": "validation_Art_1",
                "question": "Which?",
                "options": ["x", "y", "z"],
                "answer": "C",
                "question_type": "multiple-choice",
                "image": None,
            }
        ],
        "Adaptation": [
            {
                "id": "validation_Math_2",
                "question": "Compute",
                "options": [],
                "answer": "12",
                "question_type": "open",
                "image": None,
            }
        ],
    }.items():
        (tmp_path / subset).mkdir()
        pd.DataFrame(rows).to_parquet(tmp_path / subset / "test-00000-of-00001.parquet")
    samples = videommmu.load(tmp_path).strict()
    assert {s.raw["subset"] for s in samples} == {"Perception", "Adaptation"}
    assert samples[0].raw["subject"] in ("Art", "Math")
    by_id = {s.id: s for s in samples}
    qs = videommmu.queries(by_id["validation_Art_1"], None)
    assert qs[0].options == ["A. x", "B. y", "C. z"] and videommmu.IGNORE_QUIZ in qs[0].question
    assert "Respond with only the final answer" in videommmu.queries(by_id["validation_Math_2"], None)[0].question
    rows = [
        {"id": "validation_Art_1", "prediction": "<answer>C</answer>"},
        {"id": "validation_Math_2", "prediction": "<answer>the result is 12</answer>"},
    ]
    m = videommmu.score(samples, rows)
    assert m["accuracy"] == 1.0 and m["open"]["accuracy"] == 1.0 and m["by_subset"]["Perception"]["mean"] == 1.0


@given(st.text(max_size=120))
def test_letter_parsers_never_raise_and_return_valid_letters(text):
    for mode in ("strict", "mmmu"):
        letter = mcq.parse_letter(text, OPTS, mode)
        assert letter is None or letter in "ABCD"

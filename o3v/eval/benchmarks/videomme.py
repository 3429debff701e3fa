"""VideoMME adapter: 4-way video MCQ from `videomme/test-00000-of-00001.parquet`, no subtitles.

Spec: benchmarks.md §3, open-o3-video.md §10.2. Fields: `videoID`, `question_id`, `duration`
(short/medium/long), `domain`, `sub_category`, `task_type`, `question`, `options` ("A. ..."), `answer`.
Videos at `{videoID}.mp4` under the media root (or its `data/` folder). Open-o3 scores think mode strictly: the
`<answer>` block must be exactly one letter; o3v counts anything else as unparsable (no "A" fallback).
Reported upstream: Overall and Long.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from o3v.eval.benchmarks import mcq
from o3v.eval.benchmarks.base import Evidence, Loaded, Media, Query, Sample, answer_row

NAME = "videomme"
ID_FIELD = "question_id"
PARSE_MODE: mcq.ParseMode = "strict"
BREAKDOWNS = ("duration", "domain", "sub_category", "task_type")

# What the report shows for this benchmark: metric path, label, the constant baselines it must beat, paper column.
HEADLINE = [
    {
        "metric": "accuracy",
        "label": "Accuracy (overall)",
        "baselines": ["majority_option.accuracy", "chance.accuracy"],
        "paper": "videomme/accuracy",
    },
    {
        "metric": "by_duration.long.mean",
        "label": "Accuracy (long videos)",
        "baselines": [],
        "paper": "videomme/accuracy@long",
    },
    {"metric": "unparsable", "label": "unparsable answers", "baselines": [], "paper": None, "lower_is_better": True},
]


def load(path: str | Path) -> Loaded:
    """Read the VideoMME parquet; rows without a question, options or a valid letter become rejects."""
    rows = mcq.read_table(path)
    return mcq.load_mcq(
        rows,
        str(path),
        id_field=ID_FIELD,
        options_field="options",
        video_of=lambda r: f"{r['videoID']}.mp4",
        required=("question", "answer", "videoID"),
    )


def queries(sample: Sample, media: Media) -> list[Query]:
    return [mcq.mcq_query(sample.raw["question"], sample.raw["options"])]


def answer_letter(sample: Sample, text: str, mode: mcq.ParseMode = PARSE_MODE) -> str | None:
    return mcq.parse_letter(text, sample.raw["options"], mode)


def predict(sample: Sample, outputs: dict[str, str], media: Media) -> dict:
    return answer_row({"index": sample.index, ID_FIELD: sample.id}, outputs["answer"], media)


def score(samples: list[Sample], rows: list[dict], *, file: str = "", parse_mode: str | None = None, **_: Any) -> dict:
    return mcq.score_mcq(
        samples, rows, id_field=ID_FIELD, mode=parse_mode or PARSE_MODE, breakdowns=BREAKDOWNS, file=file
    )


def baselines(samples: list[Sample], **_: Any) -> dict:
    return mcq.mcq_baselines(samples)


def evidence(sample: Sample, row: dict | None) -> Evidence:
    return mcq.mcq_evidence(sample, row, PARSE_MODE)
